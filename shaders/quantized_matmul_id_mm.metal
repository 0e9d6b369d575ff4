// quantized_matmul_id_mm.metal — expert-routed (MoE) prefill products with GGUF
// block-quantised weights, in two passes: group the (token, slot) rows by expert, then one
// SIMD-group-matrix mat-mat per expert over the rows routed to it.
//
// Pass 1: kernel_mul_mm_id_map0_ne20_1, kernel_mul_mm_id_map0_ne20_8 (top_k = 1, 8)
//   Computes   for each expert e < experts, the rows r = t * top_k + s whose id ids[r] is e,
//              in increasing r: lists[e][0 .. counts[e] - 1], and counts[e]. Entries past the
//              count are not written. A list holds at most `tokens` rows (a token naming one
//              expert in two slots could overflow it: those extra rows are dropped; the op helper
//              refuses such ids).
//   Bindings   buffer(0) ids     uint[tokens * top_k]
//              buffer(1) counts  uint[experts] (out)
//              buffer(2) lists   uint[experts * tokens] (out), expert e's list from e * tokens
//              buffer(3) params  constant GgmlMapParams { uint tokens; uint experts; }
//   Geometry   one threadgroup of at least `experts` threads (a multiple of 32, at most 1024):
//              thread e collects expert e. The ids are staged GGML_MAP_CHUNK tokens at a time
//              in threadgroup memory (as ushort: ids past 65535 are not experts anyway), loaded
//              by all threads together; then each thread scans the chunk in order.
//
// Pass 2: kernel_mul_mm_id_q4_0_f32, kernel_mul_mm_id_q8_0_f32, kernel_mul_mm_id_q6_K_f32
//   Computes   for each expert e and each row r in its list (token t = r / top_k):
//              out[r][n] = sum_k half(W_e[n][k]) * x[t][k], as quantized_matmul_mm.metal (weights
//              dequantised in f32 and rounded to half as they are staged, f32 input, f32
//              accumulation). Rows of experts nobody chose, and rows whose id is not an expert,
//              are not written. K is a multiple of the block.
//   Bindings   buffer(0) w       uchar[]: expert e's [N][K] blocks from byte e * expert_stride
//              buffer(1) x       float[tokens * K]
//              buffer(2) out     float[tokens * top_k * N]
//              buffer(3) counts  uint[experts], from pass 1
//              buffer(4) lists   uint[experts * tokens], from pass 1
//              buffer(5) params  constant GgmlMmIdParams { uint K; uint N; uint tokens;
//                                uint top_k; uint experts; uint expert_stride; }  (setBytes)
//   Geometry   TG-grid (ceil(tokens / 32), ceil(N / 64), experts), threadgroup (128, 1, 1): the
//              tile of quantized_matmul_mm.metal, whose 32 rows of x are the rows 32x .. of
//              expert z's list. A threadgroup past its expert's count returns at once (before
//              any barrier); each staged tile of W_e serves up to 32 routed rows. The result
//              always goes through threadgroup memory and is scattered to the rows' places.
//   The passes must run in order with pass 1's writes visible to pass 2: two dispatches of one
//   (serial) compute encoder do that.
//   mlx-native (after llama.cpp) uses the same two passes; this file is written from the format
//   definitions.

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

// ---- pass 1: the token lists ----------------------------------------------------------------

// Tokens whose ids are staged per pass (mirrored by GGML_MAP_CHUNK in ops/_ggml.ts).
constant constexpr uint GGML_MAP_CHUNK = 256;

struct GgmlMapParams {
  uint tokens;   // rows of ids (each top_k wide); also each list's capacity
  uint experts;  // experts to collect (at most the threadgroup's width)
};

template <uint TOP_K>
[[kernel]] void ggml_mm_id_map(
    device const uint* ids [[buffer(0)]],
    device uint* counts [[buffer(1)]],
    device uint* lists [[buffer(2)]],
    constant GgmlMapParams& params [[buffer(3)]],
    uint tid [[thread_position_in_threadgroup]],
    uint width [[threads_per_threadgroup]]) {
  threadgroup ushort staged[GGML_MAP_CHUNK * TOP_K];
  const uint tokens = params.tokens;
  const uint expert = tid;
  const bool collects = expert < params.experts;
  device uint* list = lists + size_t(collects ? expert : 0) * tokens;
  uint count = 0;
  for (uint t0 = 0; t0 < tokens; t0 += GGML_MAP_CHUNK) {
    const uint entries = min(GGML_MAP_CHUNK, tokens - t0) * TOP_K;
    threadgroup_barrier(mem_flags::mem_threadgroup);  // the previous chunk is scanned
    for (uint i = tid; i < entries; i += width) {
      staged[i] = ushort(min(ids[size_t(t0) * TOP_K + i], 0xffffu));
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
    if (collects) {
      for (uint i = 0; i < entries; ++i) {
        if (uint(staged[i]) == expert) {
          if (count < tokens) {
            list[count] = t0 * TOP_K + i;  // = token * top_k + slot
          }
          ++count;
        }
      }
    }
  }
  if (collects) {
    counts[expert] = min(count, tokens);
  }
}

template [[host_name("kernel_mul_mm_id_map0_ne20_1")]] [[kernel]] decltype(ggml_mm_id_map<1>) ggml_mm_id_map<1>;
template [[host_name("kernel_mul_mm_id_map0_ne20_8")]] [[kernel]] decltype(ggml_mm_id_map<8>) ggml_mm_id_map<8>;

// ---- pass 2: one mat-mat per expert -----------------------------------------------------------

struct GgmlMmIdParams {
  uint K;              // values per row of W and of x (a multiple of the block)
  uint N;              // rows of each expert's W = columns of out
  uint tokens;         // rows of x; each list's capacity
  uint top_k;          // slots per token
  uint experts;        // experts in w (the grid's depth)
  uint expert_stride;  // bytes from one expert's weights to the next
};

template <typename Block, uint VALUES>
[[kernel]] void ggml_mul_mm_id(
    device const uchar* w [[buffer(0)]],
    device const float* x [[buffer(1)]],
    device float* out [[buffer(2)]],
    device const uint* counts [[buffer(3)]],
    device const uint* lists [[buffer(4)]],
    constant GgmlMmIdParams& params [[buffer(5)]],
    uint3 group [[threadgroup_position_in_grid]],
    uint tid [[thread_index_in_threadgroup]],
    uint simdgroup [[simdgroup_index_in_threadgroup]]) {
  threadgroup GgmlMmScratch scratch;
  const uint expert = group.z;
  const uint count = min(counts[expert], params.tokens);
  const uint m0 = group.x * GGML_MM_TILE_M;
  if (m0 >= count) {
    return;  // this expert has no rows here (uniform over the threadgroup)
  }
  const uint K = params.K;
  const uint N = params.N;
  const uint n0 = group.y * GGML_MM_TILE_N;
  device const uint* rows = lists + size_t(expert) * params.tokens + m0;
  const uint valid = min(GGML_MM_TILE_M, count - m0);
  const uint x_local = tid / 4;
  device const float* x_row =
      x_local < valid ? x + size_t(rows[x_local] / params.top_k) * K : nullptr;
  GgmlMmAcc acc;
  ggml_mm_tile<Block, VALUES>(w + size_t(expert) * params.expert_stride, K, N, n0, x_row, scratch,
                              acc, tid, simdgroup);
  ggml_mm_stage_out(scratch, acc, simdgroup);
  for (uint e = tid; e < GGML_MM_TILE_M * GGML_MM_TILE_N; e += GGML_MM_THREADS) {
    const uint j = e / GGML_MM_TILE_N;
    const uint n = n0 + e % GGML_MM_TILE_N;
    if (j < valid && n < N) {
      out[size_t(rows[j]) * N + n] = scratch.data[e];
    }
  }
}

// <block, values per block>
template [[host_name("kernel_mul_mm_id_q4_0_f32")]] [[kernel]] decltype(ggml_mul_mm_id<GgmlBlockQ4_0, 32>) ggml_mul_mm_id<GgmlBlockQ4_0, 32>;
template [[host_name("kernel_mul_mm_id_q8_0_f32")]] [[kernel]] decltype(ggml_mul_mm_id<GgmlBlockQ8_0, 32>) ggml_mul_mm_id<GgmlBlockQ8_0, 32>;
template [[host_name("kernel_mul_mm_id_q6_K_f32")]] [[kernel]] decltype(ggml_mul_mm_id<GgmlBlockQ6_K, 256>) ggml_mul_mm_id<GgmlBlockQ6_K, 256>;
