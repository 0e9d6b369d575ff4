// quantized_matmul_ggml.metal — decode-shaped products with GGUF block-quantised weights:
// out = x · Wᵀ with W stored as the GGML blocks of a GGUF file, for a few rows of x.
//
// Kernels kernel_mul_mv_q4_0_f32, kernel_mul_mv_q8_0_f32, kernel_mul_mv_q6_K_f32
//   Computes   out[m][n] = sum_k W[n][k] * x[m][k], W dequantised exactly by its block format
//              (formats/ggml.ts documents Q4_0, Q8_0 and Q6_K byte by byte), x and out f32,
//              f32 accumulation. K is a multiple of the block (32 values for Q4_0 / Q8_0,
//              256 for Q6_K); any N >= 1 and M >= 1.
//   Bindings   buffer(0) w       uchar[N * K / block_values * block_bytes]: N rows of K / values
//                                blocks each, row-major, as in the GGUF tensor data
//              buffer(1) x       float[M * K], row-major
//              buffer(2) out     float[M * N], row-major (must not overlap w or x)
//              buffer(3) params  constant GgmlMvParams { uint K; uint N; uint M; }  (setBytes)
//   Geometry   TG-grid (ceil(N / rows_per_threadgroup), M, 1), threadgroup (32 * GGML_MV_SIMDGROUPS,
//              1, 1). A threadgroup reads one row m of x; each SIMD-group owns ROWS consecutive
//              weight rows (4 for Q4_0 / Q8_0, 2 for Q6_K: rows_per_threadgroup = 8 / 4).
//              The 32 lanes split each block between LANES lanes (2 for Q4_0, 4 for Q8_0, 16 of
//              a 256-value Q6_K block) and stride over the row's blocks, so one pass reads every
//              weight byte once; each lane loads its slice of x once per block and uses it for
//              all ROWS rows. A lane's partial per row is folded by simd_sum, lane 0 stores it.
//              Rows past N read row N - 1 and are not stored, so every lane reaches every
//              simd_sum.
//   Why this shape  A mat-vec is bound by the weight bytes it reads: lanes of a SIMD-group read
//              neighbouring bytes of one block, partial dot products stay in registers, and the
//              only cross-lane step is one simd_sum per row at the end. Q4_0 folds its −8 offset
//              as d·(Σ q·x − 8·Σ x); Q6_K applies each 16-value sub-block scale to a partial sum.
//   mlx-native (after llama.cpp) uses the same grid with other lane splits; this file is written
//   from the format definitions.

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

// ---- begin shared: ggml mat-vec -------------------------------------------------------------
// Identical in quantized_matmul_ggml.metal and quantized_matmul_id_ggml.metal.

// SIMD-groups per mat-vec threadgroup (mirrored by GGML_MV_SIMDGROUPS in ops/_ggml.ts).
constant constexpr uint GGML_MV_SIMDGROUPS = 2;

// Each format: load_x reads the lane's slice of x for one block (NX floats), dot multiplies it
// with the lane's slice of one block of W. `part` is the lane's index within its block (0 to
// LANES - 1).

// Q4_0, 2 lanes per block: part p takes qs[8p .. 8p + 7], i.e. values 8p + i (low nibbles) and
// 16 + 8p + i (high nibbles); xs[16] holds the sum of the 16 x values (the -8 offset term).
struct GgmlMvQ4_0 {
  static void load_x(device const float* xb, uint part, thread float* xs) {
    const float4 a = *(device const float4*)(xb + 8 * part);
    const float4 b = *(device const float4*)(xb + 8 * part + 4);
    const float4 c = *(device const float4*)(xb + 16 + 8 * part);
    const float4 e = *(device const float4*)(xb + 16 + 8 * part + 4);
    for (uint i = 0; i < 4; ++i) {
      xs[i] = a[i];
      xs[4 + i] = b[i];
      xs[8 + i] = c[i];
      xs[12 + i] = e[i];
    }
    const float4 sum = (a + b) + (c + e);
    xs[16] = (sum.x + sum.y) + (sum.z + sum.w);
  }
  static float dot(device const GgmlBlockQ4_0* block, uint part, thread const float* xs) {
    device const uchar* q = block->qs + 8 * part;
    float acc = 0.0f;
    for (uint i = 0; i < 8; ++i) {
      const uchar byte = q[i];
      acc = fma(xs[i], float(byte & 15), acc);
      acc = fma(xs[8 + i], float(byte >> 4), acc);
    }
    return float(block->d) * (acc - 8.0f * xs[16]);
  }
};

// Q8_0, 4 lanes per block: part p takes values 8p .. 8p + 7.
struct GgmlMvQ8_0 {
  static void load_x(device const float* xb, uint part, thread float* xs) {
    const float4 a = *(device const float4*)(xb + 8 * part);
    const float4 b = *(device const float4*)(xb + 8 * part + 4);
    for (uint i = 0; i < 4; ++i) {
      xs[i] = a[i];
      xs[4 + i] = b[i];
    }
  }
  static float dot(device const GgmlBlockQ8_0* block, uint part, thread const float* xs) {
    device const char* q = block->qs + 8 * part;
    float acc = 0.0f;
    for (uint i = 0; i < 8; ++i) {
      acc = fma(xs[i], float(q[i]), acc);
    }
    return float(block->d) * acc;
  }
};

// Q5_K, 16 lanes per block: part t takes chunk c = t / 4 (64 values) and l = 8 (t % 4) + i,
// i < 8: values 64c + l (low nibbles, sub-block 2c) and 64c + 32 + l (high, sub-block 2c + 1).
// xs[16], xs[17] hold the two x sums (the min terms).
struct GgmlMvQ5_K {
  static void load_x(device const float* xb, uint part, thread float* xs) {
    device const float* lo = xb + 64 * (part / 4) + 8 * (part % 4);
    const float4 a = *(device const float4*)(lo);
    const float4 b = *(device const float4*)(lo + 4);
    const float4 c = *(device const float4*)(lo + 32);
    const float4 e = *(device const float4*)(lo + 36);
    for (uint i = 0; i < 4; ++i) {
      xs[i] = a[i];
      xs[4 + i] = b[i];
      xs[8 + i] = c[i];
      xs[12 + i] = e[i];
    }
    const float4 s0 = a + b;
    const float4 s1 = c + e;
    xs[16] = (s0.x + s0.y) + (s0.z + s0.w);
    xs[17] = (s1.x + s1.y) + (s1.z + s1.w);
  }
  static float dot(device const GgmlBlockQ5_K* block, uint part, thread const float* xs) {
    const uint c = part / 4;
    const uint l = 8 * (part % 4);
    device const uchar* q = block->qs + 32 * c + l;
    device const uchar* qh = block->qh + l;
    float lo = 0.0f;
    float hi = 0.0f;
    for (uint i = 0; i < 8; ++i) {
      const uchar byte = q[i];
      const uchar high = qh[i] >> (2 * c);
      lo = fma(xs[i], float((byte & 15) | ((high & 1) << 4)), lo);
      hi = fma(xs[8 + i], float((byte >> 4) | ((high & 2) << 3)), hi);
    }
    const float2 sm0 = ggml_q5_K_scale_min(block->scales, 2 * c);
    const float2 sm1 = ggml_q5_K_scale_min(block->scales, 2 * c + 1);
    return float(block->d) * (sm0.x * lo + sm1.x * hi) -
           float(block->dmin) * (sm0.y * xs[16] + sm1.y * xs[17]);
  }
};

// Q6_K, 16 lanes per block: part t takes half h = t / 8 and l = 4 (t % 8) + i, i < 4, in each
// of the four quarters q: value 128h + 32q + l (xs[4q + i]).
struct GgmlMvQ6_K {
  static void load_x(device const float* xb, uint part, thread float* xs) {
    device const float* base = xb + 128 * (part / 8) + 4 * (part % 8);
    for (uint q = 0; q < 4; ++q) {
      const float4 v = *(device const float4*)(base + 32 * q);
      for (uint i = 0; i < 4; ++i) {
        xs[4 * q + i] = v[i];
      }
    }
  }
  static float dot(device const GgmlBlockQ6_K* block, uint part, thread const float* xs) {
    const uint h = part / 8;
    const uint l = 4 * (part % 8);
    device const uchar* ql = block->ql + 64 * h + l;
    device const uchar* qh = block->qh + 32 * h + l;
    device const char* scales = block->scales + 8 * h + l / 16;
    float acc = 0.0f;
    for (uint q = 0; q < 4; ++q) {
      float partial = 0.0f;
      for (uint i = 0; i < 4; ++i) {
        const uchar low = (q & 1) ? ql[32 + i] : ql[i];
        const uint nibble = (q & 2) ? uint(low >> 4) : uint(low & 15);
        const uint top = (uint(qh[i]) >> (2 * q)) & 3;
        partial = fma(xs[4 * q + i], float(int(nibble | (top << 4)) - 32), partial);
      }
      acc = fma(float(scales[2 * q]), partial, acc);
    }
    return float(block->d) * acc;
  }
};

// ROWS weight rows (first_row ...) of `w` against one row of x: out[r] for each row r < N.
template <typename Block, typename Format, uint VALUES, uint LANES, uint ROWS, uint NX>
inline void ggml_mv_rows(device const uchar* w, device const float* x, device float* out,
                         uint K, uint N, uint first_row, uint lane) {
  const uint blocks = K / VALUES;
  const size_t row_bytes = size_t(blocks) * sizeof(Block);
  device const Block* rows[ROWS];
  float acc[ROWS];
  for (uint r = 0; r < ROWS; ++r) {
    rows[r] = (device const Block*)(w + size_t(min(first_row + r, N - 1)) * row_bytes);
    acc[r] = 0.0f;
  }
  const uint part = lane % LANES;
  for (uint b = lane / LANES; b < blocks; b += 32 / LANES) {
    float xs[NX];
    Format::load_x(x + size_t(b) * VALUES, part, xs);
    for (uint r = 0; r < ROWS; ++r) {
      acc[r] += Format::dot(rows[r] + b, part, xs);
    }
  }
  for (uint r = 0; r < ROWS; ++r) {
    const float sum = simd_sum(acc[r]);
    if (lane == 0 && first_row + r < N) {
      out[first_row + r] = sum;
    }
  }
}
// ---- end shared: ggml mat-vec ---------------------------------------------------------------

struct GgmlMvParams {
  uint K;  // values per row of W and of x (a multiple of the block)
  uint N;  // rows of W = columns of out
  uint M;  // rows of x and of out
};

template <typename Block, typename Format, uint VALUES, uint LANES, uint ROWS, uint NX>
[[kernel]] void ggml_mul_mv(
    device const uchar* w [[buffer(0)]],
    device const float* x [[buffer(1)]],
    device float* out [[buffer(2)]],
    constant GgmlMvParams& params [[buffer(3)]],
    uint2 group [[threadgroup_position_in_grid]],
    uint lane [[thread_index_in_simdgroup]],
    uint simdgroup [[simdgroup_index_in_threadgroup]]) {
  const uint first_row = (group.x * GGML_MV_SIMDGROUPS + simdgroup) * ROWS;
  const uint m = group.y;
  ggml_mv_rows<Block, Format, VALUES, LANES, ROWS, NX>(
      w, x + size_t(m) * params.K, out + size_t(m) * params.N, params.K, params.N, first_row,
      lane);
}

// <block, format, values per block, lanes per block, rows per SIMD-group, x floats per lane>
template [[host_name("kernel_mul_mv_q4_0_f32")]] [[kernel]] decltype(ggml_mul_mv<GgmlBlockQ4_0, GgmlMvQ4_0, 32, 2, 4, 17>) ggml_mul_mv<GgmlBlockQ4_0, GgmlMvQ4_0, 32, 2, 4, 17>;
template [[host_name("kernel_mul_mv_q8_0_f32")]] [[kernel]] decltype(ggml_mul_mv<GgmlBlockQ8_0, GgmlMvQ8_0, 32, 4, 4, 8>) ggml_mul_mv<GgmlBlockQ8_0, GgmlMvQ8_0, 32, 4, 4, 8>;
template [[host_name("kernel_mul_mv_q6_K_f32")]] [[kernel]] decltype(ggml_mul_mv<GgmlBlockQ6_K, GgmlMvQ6_K, 256, 16, 2, 16>) ggml_mul_mv<GgmlBlockQ6_K, GgmlMvQ6_K, 256, 16, 2, 16>;
