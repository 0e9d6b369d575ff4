// quantized_matmul_mm.metal — prefill-shaped products with GGUF block-quantised weights:
// out = x · Wᵀ with W stored as the GGML blocks of a GGUF file, for many rows of x, on
// SIMD-group matrix (8x8 MMA) tiles.
//
// Kernels kernel_mul_mm_q4_0_f32, kernel_mul_mm_q8_0_f32, kernel_mul_mm_q6_K_f32
//   Computes   out[m][n] = sum_k half(W[n][k]) * x[m][k]: each weight is dequantised in f32
//              (formats/ggml.ts gives the layouts), rounded once to half as it is staged, and
//              multiplied with the f32 input; f32 accumulation. K is a multiple of the block
//              (32 for Q4_0 / Q8_0, 256 for Q6_K); any N >= 1 and M >= 1.
//   Bindings   buffer(0) w       uchar[N * K / block_values * block_bytes], the GGUF rows
//              buffer(1) x       float[M * K], row-major
//              buffer(2) out     float[M * N], row-major (must not overlap w or x)
//              buffer(3) params  constant GgmlMmParams { uint K; uint N; uint M; }  (setBytes)
//   Geometry   TG-grid (ceil(M / 32), ceil(N / 64), 1), threadgroup (128, 1, 1) = 4 SIMD-groups
//              for a 32 (M) x 64 (N) tile of out. Per K step of 32 the threadgroup stages
//              x[32][32] as float and Wᵀ[32 k][64 n] as half in threadgroup memory (8 KB,
//              declared here): thread t dequantises the 16-value slice (t % 2) of weight row
//              n0 + t / 2 and loads 8 floats of row m0 + t / 4 of x. Then SIMD-group s
//              multiplies its 16 (M) x 32 (N) quarter of the tile as 2 x 4 accumulators of
//              8x8 (float) with four k steps of 8: float x-fragments times half W-fragments.
//              Rows of x past M stage as zeros; rows of W past N read row N - 1 and are not
//              stored. A full tile stores straight from the accumulators; an edge tile goes
//              through threadgroup memory and every thread copies the valid part.
//   Why this shape  Each weight is dequantised once per 32 rows of x, and each staged value
//              feeds 8 MMAs: the MMA units do the arithmetic, threadgroup memory the reuse.
//   mlx-native (after llama.cpp) uses the same tile sizes with another staging layout; this
//   file is written from the format definitions.

#include <metal_stdlib>
using namespace metal;

// ---- begin shared: ggml block structs -------------------------------------------------------
// The GGUF block layouts (formats/ggml.ts); identical in every quantized_matmul_*ggml*/mm file
// (tests/ops/quantized_matmul_ggml_test.ts compares the copies).
struct GgmlBlockQ4_0 {  // 32 values, 18 bytes: value = d * (q - 8)
  half d;
  uchar qs[16];  // value j < 16: low nibble of qs[j]; value j >= 16: high nibble of qs[j - 16]
};
struct GgmlBlockQ8_0 {  // 32 values, 34 bytes: value = d * q
  half d;
  char qs[32];
};
struct GgmlBlockQ5_K {  // 256 values, 176 bytes: value = d * sc_j * q - dmin * m_j
  half d;
  half dmin;
  uchar scales[12];  // eight 6-bit (sc_j, m_j) pairs, see ggml_q5_K_scale_min
  uchar qh[32];      // fifth bits
  uchar qs[128];     // low nibbles
};
struct GgmlBlockQ6_K {  // 256 values, 210 bytes: value = d * scales[e / 16] * (q - 32)
  uchar ql[128];     // low 4 bits
  uchar qh[64];      // high 2 bits
  char scales[16];   // one per 16 values
  half d;
};
static_assert(sizeof(GgmlBlockQ4_0) == 18, "Q4_0 block is 18 bytes");
static_assert(sizeof(GgmlBlockQ8_0) == 34, "Q8_0 block is 34 bytes");
static_assert(sizeof(GgmlBlockQ5_K) == 176, "Q5_K block is 176 bytes");
static_assert(sizeof(GgmlBlockQ6_K) == 210, "Q6_K block is 210 bytes");

// The 6-bit scale and min of Q5_K sub-block j (0..7).
inline float2 ggml_q5_K_scale_min(device const uchar* s, uint j) {
  if (j < 4) {
    return float2(float(s[j] & 63), float(s[j + 4] & 63));
  }
  return float2(float((s[j + 4] & 15) | ((s[j - 4] >> 6) << 4)),
                float((s[j + 4] >> 4) | ((s[j] >> 6) << 4)));
}
// ---- end shared: ggml block structs ---------------------------------------------------------

// ---- begin shared: ggml mat-mat -------------------------------------------------------------
// Identical in quantized_matmul_mm.metal and quantized_matmul_id_mm.metal.

// Tile sizes (mirrored by GGML_MM_TILE_M / GGML_MM_TILE_N / GGML_MM_THREADS in ops/_ggml.ts).
constant constexpr uint GGML_MM_TILE_M = 32;
constant constexpr uint GGML_MM_TILE_N = 64;
constant constexpr uint GGML_MM_TILE_K = 32;
constant constexpr uint GGML_MM_THREADS = 128;

// The 16-value slice `slice` of a block (values 16 * slice ...), dequantised in f32.
inline void ggml_dequantize_16(device const GgmlBlockQ4_0* block, uint slice, thread float* v) {
  const float d = float(block->d);
  for (uint i = 0; i < 16; ++i) {
    const uchar byte = block->qs[i];
    v[i] = d * float(int(slice == 0 ? (byte & 15) : (byte >> 4)) - 8);
  }
}
inline void ggml_dequantize_16(device const GgmlBlockQ8_0* block, uint slice, thread float* v) {
  const float d = float(block->d);
  for (uint i = 0; i < 16; ++i) {
    v[i] = d * float(block->qs[16 * slice + i]);
  }
}
inline void ggml_dequantize_16(device const GgmlBlockQ6_K* block, uint slice, thread float* v) {
  // Values 16s .. 16s + 15 lie in half h, quarter q, at l = 16 (s % 2) + i.
  const uint h = slice / 8;
  const uint q = (slice / 2) % 4;
  const uint l0 = 16 * (slice % 2);
  const float scale = float(block->d) * float(block->scales[slice]);
  device const uchar* ql = block->ql + 64 * h + 32 * (q & 1) + l0;
  device const uchar* qh = block->qh + 32 * h + l0;
  for (uint i = 0; i < 16; ++i) {
    const uint nibble = (q & 2) ? uint(ql[i] >> 4) : uint(ql[i] & 15);
    const uint top = (uint(qh[i]) >> (2 * q)) & 3;
    v[i] = scale * float(int(nibble | (top << 4)) - 32);
  }
}

// Threadgroup scratch of one tile: Wᵀ as half [32 k][64 n] then x as float [32 m][32 k];
// reused for the edge store as float [32 m][64 n]. 8 KB.
struct GgmlMmScratch {
  float data[GGML_MM_TILE_M * GGML_MM_TILE_N];
};

// One SIMD-group's 16 (M) x 32 (N) quarter of the output tile: 2 x 4 fragments of 8x8.
struct GgmlMmAcc {
  simdgroup_float8x8 m[2][4];
};

// Accumulates the 32 x 64 tile of x · Wᵀ into acc; x_row is this thread's row of x (null: a zero row).
// `w` points at the weight rows of this matrix (or expert), `n0` is the tile's first row of W.
template <typename Block, uint VALUES>
inline void ggml_mm_tile(device const uchar* w, uint K, uint N, uint n0,
                         device const float* x_row, threadgroup GgmlMmScratch& scratch,
                         thread GgmlMmAcc& acc, uint tid, uint simdgroup) {
  threadgroup half* sw = (threadgroup half*)scratch.data;                     // [k][n]
  threadgroup float* sx = scratch.data + GGML_MM_TILE_K * GGML_MM_TILE_N / 2;  // [m][k]
  const size_t row_bytes = size_t(K / VALUES) * sizeof(Block);
  // This thread's weight row and slice, and its x row and 8 columns.
  const uint w_local = tid / 2;
  const uint w_half = tid % 2;  // which 16 of the 32 k
  device const uchar* w_row = w + size_t(min(n0 + w_local, N - 1)) * row_bytes;
  const uint x_local = tid / 4;
  const uint x_col = 8 * (tid % 4);
  const uint m_base = 16 * (simdgroup / 2);
  const uint n_base = 32 * (simdgroup % 2);
  for (uint i = 0; i < 2; ++i) {
    for (uint j = 0; j < 4; ++j) {
      acc.m[i][j] = make_filled_simdgroup_matrix<float, 8, 8>(0.0f);
    }
  }
  for (uint k0 = 0; k0 < K; k0 += GGML_MM_TILE_K) {
    threadgroup_barrier(mem_flags::mem_threadgroup);  // the previous step is done reading
    {
      const uint k = k0 + 16 * w_half;
      float v[16];
      ggml_dequantize_16((device const Block*)w_row + k / VALUES, (k % VALUES) / 16, v);
      for (uint i = 0; i < 16; ++i) {
        sw[(16 * w_half + i) * GGML_MM_TILE_N + w_local] = half(v[i]);
      }
    }
    {
      float4 a = 0.0f;
      float4 b = 0.0f;
      if (x_row != nullptr) {
        a = *(device const float4*)(x_row + k0 + x_col);
        b = *(device const float4*)(x_row + k0 + x_col + 4);
      }
      threadgroup float* dst = sx + x_local * GGML_MM_TILE_K + x_col;
      for (uint i = 0; i < 4; ++i) {
        dst[i] = a[i];
        dst[4 + i] = b[i];
      }
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
    for (uint kk = 0; kk < GGML_MM_TILE_K; kk += 8) {
      simdgroup_float8x8 xa[2];
      simdgroup_half8x8 wb[4];
      for (uint i = 0; i < 2; ++i) {
        simdgroup_load(xa[i], sx + (m_base + 8 * i) * GGML_MM_TILE_K + kk, GGML_MM_TILE_K);
      }
      for (uint j = 0; j < 4; ++j) {
        simdgroup_load(wb[j], sw + kk * GGML_MM_TILE_N + n_base + 8 * j, GGML_MM_TILE_N);
      }
      for (uint i = 0; i < 2; ++i) {
        for (uint j = 0; j < 4; ++j) {
          simdgroup_multiply_accumulate(acc.m[i][j], xa[i], wb[j], acc.m[i][j]);
        }
      }
    }
  }
}

// Stores the accumulators into the scratch as float [32 m][64 n] (after a barrier).
inline void ggml_mm_stage_out(threadgroup GgmlMmScratch& scratch,
                              thread GgmlMmAcc& acc, uint simdgroup) {
  threadgroup_barrier(mem_flags::mem_threadgroup);  // everyone is done reading the inputs
  const uint m_base = 16 * (simdgroup / 2);
  const uint n_base = 32 * (simdgroup % 2);
  for (uint i = 0; i < 2; ++i) {
    for (uint j = 0; j < 4; ++j) {
      simdgroup_store(acc.m[i][j], scratch.data + (m_base + 8 * i) * GGML_MM_TILE_N + n_base + 8 * j,
                      GGML_MM_TILE_N);
    }
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
}
// ---- end shared: ggml mat-mat ---------------------------------------------------------------

struct GgmlMmParams {
  uint K;  // values per row of W and of x (a multiple of the block)
  uint N;  // rows of W = columns of out
  uint M;  // rows of x and of out
};

template <typename Block, uint VALUES>
[[kernel]] void ggml_mul_mm(
    device const uchar* w [[buffer(0)]],
    device const float* x [[buffer(1)]],
    device float* out [[buffer(2)]],
    constant GgmlMmParams& params [[buffer(3)]],
    uint2 group [[threadgroup_position_in_grid]],
    uint tid [[thread_index_in_threadgroup]],
    uint simdgroup [[simdgroup_index_in_threadgroup]]) {
  threadgroup GgmlMmScratch scratch;
  const uint K = params.K;
  const uint N = params.N;
  const uint M = params.M;
  const uint m0 = group.x * GGML_MM_TILE_M;
  const uint n0 = group.y * GGML_MM_TILE_N;
  const uint x_local = tid / 4;
  device const float* x_row = m0 + x_local < M ? x + size_t(m0 + x_local) * K : nullptr;
  GgmlMmAcc acc;
  ggml_mm_tile<Block, VALUES>(w, K, N, n0, x_row, scratch, acc, tid, simdgroup);

  if (m0 + GGML_MM_TILE_M <= M && n0 + GGML_MM_TILE_N <= N) {
    const uint m_base = m0 + 16 * (simdgroup / 2);
    const uint n_base = n0 + 32 * (simdgroup % 2);
    for (uint i = 0; i < 2; ++i) {
      for (uint j = 0; j < 4; ++j) {
        simdgroup_store(acc.m[i][j], out + size_t(m_base + 8 * i) * N + n_base + 8 * j, N);
      }
    }
    return;
  }
  ggml_mm_stage_out(scratch, acc, simdgroup);
  for (uint e = tid; e < GGML_MM_TILE_M * GGML_MM_TILE_N; e += GGML_MM_THREADS) {
    const uint m = m0 + e / GGML_MM_TILE_N;
    const uint n = n0 + e % GGML_MM_TILE_N;
    if (m < M && n < N) {
      out[size_t(m) * N + n] = scratch.data[e];
    }
  }
}

// <block, values per block>
template [[host_name("kernel_mul_mm_q4_0_f32")]] [[kernel]] decltype(ggml_mul_mm<GgmlBlockQ4_0, 32>) ggml_mul_mm<GgmlBlockQ4_0, 32>;
template [[host_name("kernel_mul_mm_q8_0_f32")]] [[kernel]] decltype(ggml_mul_mm<GgmlBlockQ8_0, 32>) ggml_mul_mm<GgmlBlockQ8_0, 32>;
template [[host_name("kernel_mul_mm_q6_K_f32")]] [[kernel]] decltype(ggml_mul_mm<GgmlBlockQ6_K, 256>) ggml_mul_mm<GgmlBlockQ6_K, 256>;
