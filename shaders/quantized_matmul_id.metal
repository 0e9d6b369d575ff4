// quantized_matmul_id.metal — the expert-routed (mixture-of-experts) twin of quantized_matmul:
// each routed row multiplies its token's activations by the weights of the expert the router
// chose for it, all experts' MLX-affine weights stacked in one set of buffers (formats/affine.ts
// packs them; an MLX model's `switch_mlp` weights bind as they are).
//
// Kernel quantized_matmul_id
//   Computes   out[t][s][n] = sum_k w_e[n][k] * bf16(x[t][k]),  e = ids[t * top_k + s]
//              t < M (tokens), s < top_k, n < N, k < K; w_e[n][k] = s · q + b of expert e
//              (4, 6 or 8-bit codes, a bf16 scale and bias per group of 32, 64 or 128).
//              Summed as s · Σ q·x + b · Σ x per 16-value slice in f32 (quantized_matmul_simd's
//              order: the weight is not rounded to bf16; mlx-native's kernel here was the
//              scalar one, one thread per output). A row whose id is not below num_experts is
//              not written (ids live on the device: the host cannot check them).
//   Bindings   buffer(0) x        float [M, K]
//              buffer(1) weights  packed codes, expert e's [N, K * bits / 8] at byte
//                                 e * expert_weight_stride
//              buffer(2) scales   ushort (bf16 bits), expert e's [N, K / group_size] at element
//                                 e * expert_scales_stride
//              buffer(3) biases   likewise, at e * expert_biases_stride
//              buffer(4) ids      uint [M, top_k]
//              buffer(5) out      float [M, top_k, N]; must not overlap x
//              buffer(6) params   constant QuantizedMatmulIdParams (setBytes, 40 bytes; the seed
//                                 bound a small device buffer with the same fields)
//   Limits     as quantized_matmul.metal: bits 4, 6, 8; group_size 32, 64, 128; K a multiple
//              of group_size; strides multiples of 4 bytes / 2 elements.
//   Geometry   TG-grid (ceil(N / QMV_ID_ROWS_PER_TG), M * top_k), threadgroup (64): SIMD-group g
//              of threadgroup (x, r) owns rows n = 8x + 4g .. +3 of routed row r. Lane l reads
//              16 consecutive k per 512-wide block as 2-4 u32 words per weight row, and its 16
//              inputs once for the 4 rows; simd_sum folds the lanes, lane 0 stores.

#include <metal_stdlib>
using namespace metal;

// Mirrored by ops/quantized_matmul_id.ts (its test reads these lines).
constant constexpr uint QMV_ID_SIMDGROUPS = 2;
constant constexpr uint QMV_ID_ROWS_PER_SG = 4;
constant constexpr uint QMV_ID_ROWS_PER_TG = 8;
constant constexpr uint QMV_ID_VALUES_PER_LANE = 16;

struct QuantizedMatmulIdParams {
  uint M;                      // tokens
  uint K;                      // reduction length, a multiple of group_size
  uint N;                      // weight rows per expert
  uint group_size;             // 32, 64 or 128
  uint bits;                   // 4, 6 or 8
  uint n_expert_used;          // top_k: routed rows per token
  uint num_experts;            // experts stacked in the weight buffers
  uint expert_weight_stride;   // bytes between experts' packed weights
  uint expert_scales_stride;   // ushort elements between experts' scales
  uint expert_biases_stride;   // ushort elements between experts' biases
};

static inline float bf16_bits_to_float(ushort bits) {
  return as_type<float>(uint(bits) << 16);
}

static inline float round_to_bf16(float x) {
  uint u = as_type<uint>(x);
  u += 0x7fffu + ((u >> 16) & 1u);
  return as_type<float>(u & 0xffff0000u);
}

template <uint BITS>
static inline void qmv_id_rows(
    device const float* x,
    device const uchar* weights,
    device const ushort* scales,
    device const ushort* biases,
    device float* out,
    constant QuantizedMatmulIdParams& params,
    uint n0,
    uint lane) {
  const uint K = params.K;
  const uint groups = K / params.group_size;
  const uint row_bytes = K * BITS / 8u;
  constexpr uint WORDS = QMV_ID_VALUES_PER_LANE * BITS / 32u;
  const uint rows = min(QMV_ID_ROWS_PER_SG, params.N - n0);
  float acc[QMV_ID_ROWS_PER_SG] = {};
  for (uint k = lane * QMV_ID_VALUES_PER_LANE; k < K; k += 32u * QMV_ID_VALUES_PER_LANE) {
    float xv[QMV_ID_VALUES_PER_LANE];
    float xsum = 0.0f;
    for (uint i = 0; i < QMV_ID_VALUES_PER_LANE; i += 4) {
      const float4 four = *reinterpret_cast<device const float4*>(x + k + i);
      xv[i] = round_to_bf16(four.x);
      xv[i + 1] = round_to_bf16(four.y);
      xv[i + 2] = round_to_bf16(four.z);
      xv[i + 3] = round_to_bf16(four.w);
      xsum += (xv[i] + xv[i + 1]) + (xv[i + 2] + xv[i + 3]);
    }
    const uint g = k / params.group_size;
    for (uint r = 0; r < QMV_ID_ROWS_PER_SG; ++r) {
      if (r >= rows) break;
      const size_t n = n0 + r;
      device const uint* words =
          reinterpret_cast<device const uint*>(weights + n * row_bytes + k * BITS / 8u);
      uint w[WORDS];
      for (uint i = 0; i < WORDS; ++i) w[i] = words[i];
      float dot = 0.0f;
      for (uint i = 0; i < QMV_ID_VALUES_PER_LANE; ++i) {
        const uint bit = i * BITS;
        uint v = w[bit / 32u] >> (bit % 32u);
        if (bit % 32u + BITS > 32u) v |= w[bit / 32u + 1u] << (32u - bit % 32u);
        dot = fma(float(v & ((1u << BITS) - 1u)), xv[i], dot);
      }
      const float s = bf16_bits_to_float(scales[n * groups + g]);
      const float b = bf16_bits_to_float(biases[n * groups + g]);
      acc[r] += fma(s, dot, b * xsum);
    }
  }
  for (uint r = 0; r < QMV_ID_ROWS_PER_SG; ++r) {
    const float total = simd_sum(acc[r]);
    if (lane == 0 && r < rows) out[n0 + r] = total;
  }
}

[[kernel]] void quantized_matmul_id(
    device const float* x [[buffer(0)]],
    device const uchar* weights [[buffer(1)]],
    device const ushort* scales [[buffer(2)]],
    device const ushort* biases [[buffer(3)]],
    device const uint* ids [[buffer(4)]],
    device float* out [[buffer(5)]],
    constant QuantizedMatmulIdParams& params [[buffer(6)]],
    uint2 group [[threadgroup_position_in_grid]],
    uint simdgroup [[simdgroup_index_in_threadgroup]],
    uint lane [[thread_index_in_simdgroup]]) {
  const uint routed = group.y;  // t * top_k + s
  const uint e = ids[routed];
  const uint n0 = group.x * QMV_ID_ROWS_PER_TG + simdgroup * QMV_ID_ROWS_PER_SG;
  if (e >= params.num_experts || n0 >= params.N) {
    return;  // uniform over the SIMD-group: no collective is skipped by part of it
  }
  const uint token = routed / params.n_expert_used;
  device const float* xt = x + size_t(token) * params.K;
  device const uchar* we = weights + size_t(e) * params.expert_weight_stride;
  device const ushort* se = scales + size_t(e) * params.expert_scales_stride;
  device const ushort* be = biases + size_t(e) * params.expert_biases_stride;
  device float* row = out + size_t(routed) * params.N;
  if (params.bits == 4) {
    qmv_id_rows<4>(xt, we, se, be, row, params, n0, lane);
  } else if (params.bits == 6) {
    qmv_id_rows<6>(xt, we, se, be, row, params, n0, lane);
  } else {
    qmv_id_rows<8>(xt, we, se, be, row, params, n0, lane);
  }
}
