// quantized_matmul_id_ggml.metal — expert-routed (MoE) decode products with GGUF
// block-quantised weights: each (token, slot) row multiplies its token's input with the
// weights of the expert the router chose for that slot.
//
// Kernels kernel_mul_mv_id_q4_0_f32, kernel_mul_mv_id_q8_0_f32, kernel_mul_mv_id_q5_K_f32,
//         kernel_mul_mv_id_q6_K_f32
//   Computes   for row r = t * top_k + s (token t, slot s) with expert e = ids[r] < experts:
//              out[r][n] = sum_k W_e[n][k] * x[t][k], W_e dequantised exactly by its block format
//              (formats/ggml.ts), f32 accumulation. A row whose id is not an expert
//              (e >= experts) is skipped: its output row is not written. K is a multiple of the
//              block (32 for Q4_0 / Q8_0, 256 for Q5_K / Q6_K).
//   Bindings   buffer(0) w       uchar[]: expert e's [N][K] blocks from byte e * expert_stride
//              buffer(1) x       float[tokens * K], one row per token (shared by its slots)
//              buffer(2) out     float[tokens * top_k * N], row r = t * top_k + s
//              buffer(3) ids     uint[tokens * top_k], the router's expert per (token, slot)
//              buffer(4) params  constant GgmlMvIdParams { uint K; uint N; uint tokens;
//                                uint top_k; uint experts; uint expert_stride; }  (setBytes)
//   Geometry   TG-grid (ceil(N / rows_per_threadgroup), tokens * top_k, 1), threadgroup
//              (32 * GGML_MV_SIMDGROUPS, 1, 1): the mat-vec of quantized_matmul_ggml.metal (same
//              lane split, rows_per_threadgroup 8 for Q4_0 / Q8_0, 4 for Q5_K / Q6_K), with the
//              row of x and the expert's weights chosen by the group's y. A threadgroup whose id
//              is out of range returns before reading anything.
//   Q5_K: 16 lanes per 256-value block, each taking 8 values of a 64-value chunk from the low
//   nibbles and 8 from the high, with the two sub-block scales and mins.
//   mlx-native (after llama.cpp) routes the same way; this file is written from the format
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

struct GgmlMvIdParams {
  uint K;              // values per row of W and of x (a multiple of the block)
  uint N;              // rows of each expert's W = columns of out
  uint tokens;         // rows of x
  uint top_k;          // slots (experts) per token
  uint experts;        // experts in w; ids at or past this are skipped
  uint expert_stride;  // bytes from one expert's weights to the next
};

template <typename Block, typename Format, uint VALUES, uint LANES, uint ROWS, uint NX>
[[kernel]] void ggml_mul_mv_id(
    device const uchar* w [[buffer(0)]],
    device const float* x [[buffer(1)]],
    device float* out [[buffer(2)]],
    device const uint* ids [[buffer(3)]],
    constant GgmlMvIdParams& params [[buffer(4)]],
    uint2 group [[threadgroup_position_in_grid]],
    uint lane [[thread_index_in_simdgroup]],
    uint simdgroup [[simdgroup_index_in_threadgroup]]) {
  const uint row = group.y;  // token * top_k + slot
  const uint expert = ids[row];
  if (expert >= params.experts) {
    return;  // not an expert: the row is skipped (uniform over the threadgroup)
  }
  const uint token = row / params.top_k;
  const uint first_row = (group.x * GGML_MV_SIMDGROUPS + simdgroup) * ROWS;
  ggml_mv_rows<Block, Format, VALUES, LANES, ROWS, NX>(
      w + size_t(expert) * params.expert_stride, x + size_t(token) * params.K,
      out + size_t(row) * params.N, params.K, params.N, first_row, lane);
}

// <block, format, values per block, lanes per block, rows per SIMD-group, x floats per lane>
template [[host_name("kernel_mul_mv_id_q4_0_f32")]] [[kernel]] decltype(ggml_mul_mv_id<GgmlBlockQ4_0, GgmlMvQ4_0, 32, 2, 4, 17>) ggml_mul_mv_id<GgmlBlockQ4_0, GgmlMvQ4_0, 32, 2, 4, 17>;
template [[host_name("kernel_mul_mv_id_q8_0_f32")]] [[kernel]] decltype(ggml_mul_mv_id<GgmlBlockQ8_0, GgmlMvQ8_0, 32, 4, 4, 8>) ggml_mul_mv_id<GgmlBlockQ8_0, GgmlMvQ8_0, 32, 4, 4, 8>;
template [[host_name("kernel_mul_mv_id_q5_K_f32")]] [[kernel]] decltype(ggml_mul_mv_id<GgmlBlockQ5_K, GgmlMvQ5_K, 256, 16, 2, 18>) ggml_mul_mv_id<GgmlBlockQ5_K, GgmlMvQ5_K, 256, 16, 2, 18>;
template [[host_name("kernel_mul_mv_id_q6_K_f32")]] [[kernel]] decltype(ggml_mul_mv_id<GgmlBlockQ6_K, GgmlMvQ6_K, 256, 16, 2, 16>) ggml_mul_mv_id<GgmlBlockQ6_K, GgmlMvQ6_K, 256, 16, 2, 16>;
