// quantized_matmul.metal — out = x · Wᵀ with W in MLX's affine format: 4, 6 or 8-bit codes
// packed LSB first along each row, one bf16 scale s and bias b per group of 32, 64 or 128
// values of a row (formats/affine.ts packs and unpacks it). Weight w[n][k] = s · q + b.
//
// Kernels
//   quantized_matmul                  f32 x, f32 out. The scalar reference path: each weight
//                                     is dequantised and rounded to bf16, each input value
//                                     rounded to bf16, products summed in f32 in increasing k
//                                     (MLX's numerics for a bf16 model, value by value).
//   quantized_matmul_simd             f32 x (each value rounded to bf16), f32 out.
//   quantized_matmul_simd_bf16        bf16 x, bf16 out (the f32 sum rounded once at the store).
//   quantized_matmul_simd_bf16_expert as _simd_bf16, with W, scales and biases of one expert
//                                     found at byte offsets into stacked all-expert buffers.
//   The three SIMD kernels sum s · Σ q·x + b · Σ x per group slice (the weight is not rounded
//   to bf16: MLX's qmv order), in f32.
//   Computes   out[m][n] = sum_k w[n][k] * x[m][k],  m < M, n < N, k < K
//   Bindings   buffer(0) x        float / bfloat [M, K], row-major
//              buffer(1) weights  packed codes [N, K * bits / 8 bytes] (u32-aligned rows)
//              buffer(2) scales   ushort (bf16 bits) [N, K / group_size]
//              buffer(3) biases   ushort (bf16 bits) [N, K / group_size]
//              buffer(4) out      float / bfloat [M, N]; must not overlap x
//              buffer(5) params   constant QuantizedMatmulParams (setBytes, 20 bytes; the seed
//                                 bound a small device buffer)
//              _expert only: buffer(6), (7), (8) constant uint byte offsets of the expert's
//              slice in weights, scales and biases (multiples of 4, 2 and 2).
//   Limits     bits in {4, 6, 8}; group_size in {32, 64, 128}; K a multiple of group_size
//              (so every row is whole u32 words); any M and N. The seed's SIMD kernels took
//              only 4 and 8 bits and K a multiple of 256 or 512; these take every shape the
//              format allows. The op helper (ops/quantized_matmul.ts) checks all of it.
//   Geometry   quantized_matmul: threads-grid (N, M), one thread per output.
//              SIMD kernels: TG-grid (ceil(N / QMV_ROWS_PER_TG), ceil(M / QMV_COLS_PER_TG)),
//              threadgroup (32 * QMV_SIMDGROUPS). SIMD-group g of threadgroup (x, y) owns
//              output rows n = x * 8 + 4g .. +3 for inputs m = y * 4 .. +3. Lane l reads 16
//              consecutive k per 512-wide block (k = 16 l + 512 i): 8, 12 or 16 bytes of codes
//              per weight row as u32 words, and the 16 values of each of its 4 input rows
//              once, which serve all 4 weight rows. So the weights stream once per 4 input rows
//              with wide loads, the decode is shifts and masks of whole words, and per slice
//              a row costs 16 FMAs per input row plus one s · dot + b · Σx. simd_sum folds the
//              32 lanes; lane 0 stores.
//   Why fast   Decode (M = 1) is bound by weight bytes: 2 SIMD-groups × 4 rows per threadgroup
//              keep many independent 8–16 byte loads in flight per lane; scales and biases are
//              read once per 16 values. Small M > 1 reuses each decoded slice 4 times.

#include <metal_stdlib>
using namespace metal;

// Mirrored by QMV_* in ops/quantized_matmul.ts (tests/ops/quantized_matmul_test.ts reads these).
constant constexpr uint QMV_SIMDGROUPS = 2;   // SIMD-groups per threadgroup
constant constexpr uint QMV_ROWS_PER_SG = 4;  // output rows n per SIMD-group
constant constexpr uint QMV_ROWS_PER_TG = 8;  // QMV_SIMDGROUPS * QMV_ROWS_PER_SG
constant constexpr uint QMV_COLS_PER_TG = 4;  // input rows m per threadgroup
constant constexpr uint QMV_VALUES_PER_LANE = 16;
constant constexpr uint QMV_BLOCK = 32 * QMV_VALUES_PER_LANE;

struct QuantizedMatmulParams {
  uint M;           // input rows
  uint K;           // reduction length, a multiple of group_size
  uint N;           // weight rows (outputs per input row)
  uint group_size;  // 32, 64 or 128
  uint bits;        // 4, 6 or 8
};

// bf16 bits → f32 (exact).
static inline float bf16_bits_to_float(ushort bits) {
  return as_type<float>(uint(bits) << 16);
}

// Rounds an f32 to the nearest bf16 (ties to even) and widens it back; no bfloat type needed,
// so the f32 kernels run on devices without MSL 3.1. (Inputs here are finite.)
static inline float round_to_bf16(float x) {
  uint u = as_type<uint>(x);
  u += 0x7fffu + ((u >> 16) & 1u);
  return as_type<float>(u & 0xffff0000u);
}

// Code j of a packed row: a little-endian bit stream, `bits` bits per code.
static inline uint affine_code(device const uchar* row, uint j, uint bits) {
  if (bits == 4) {
    return (uint(row[j >> 1]) >> ((j & 1u) * 4u)) & 0xfu;
  }
  if (bits == 8) {
    return uint(row[j]);
  }
  device const uchar* pack = row + (j >> 2) * 3u;  // 4 codes per 3 bytes
  const uint word = uint(pack[0]) | (uint(pack[1]) << 8) | (uint(pack[2]) << 16);
  return (word >> ((j & 3u) * 6u)) & 0x3fu;
}

[[kernel]] void quantized_matmul(
    device const float* x [[buffer(0)]],
    device const uchar* weights [[buffer(1)]],
    device const ushort* scales [[buffer(2)]],
    device const ushort* biases [[buffer(3)]],
    device float* out [[buffer(4)]],
    constant QuantizedMatmulParams& params [[buffer(5)]],
    uint2 position [[thread_position_in_grid]]) {
  const uint n = position.x;
  const uint m = position.y;
  if (n >= params.N || m >= params.M) {
    return;
  }
  const uint K = params.K;
  const uint group_size = params.group_size;
  const uint groups = K / group_size;
  device const uchar* row = weights + size_t(n) * (K * params.bits / 8u);
  device const float* xm = x + size_t(m) * K;
  float acc = 0.0f;
  for (uint g = 0; g < groups; ++g) {
    const float s = bf16_bits_to_float(scales[size_t(n) * groups + g]);
    const float b = bf16_bits_to_float(biases[size_t(n) * groups + g]);
    for (uint k = g * group_size; k < (g + 1) * group_size; ++k) {
      // s · q is exact in f32 (q < 256, s has 8 significant bits): one rounding, then bf16.
      const float w = round_to_bf16(fma(float(affine_code(row, k, params.bits)), s, b));
      acc = fma(w, round_to_bf16(xm[k]), acc);  // bf16 × bf16 is exact in f32
    }
  }
  out[size_t(m) * params.N + n] = acc;
}

// Reads the WORDS u32 words holding a lane's 16 codes and widens the codes to floats.
template <uint BITS>
static inline void decode_slice(device const uchar* slice, thread float* q) {
  constexpr uint WORDS = QMV_VALUES_PER_LANE * BITS / 32u;  // 2, 3 or 4
  device const uint* words = reinterpret_cast<device const uint*>(slice);
  uint w[WORDS];
#pragma clang loop unroll(full)
  for (uint i = 0; i < WORDS; ++i) {
    w[i] = words[i];
  }
#pragma clang loop unroll(full)
  for (uint i = 0; i < QMV_VALUES_PER_LANE; ++i) {
    const uint bit = i * BITS;
    uint v = w[bit / 32u] >> (bit % 32u);
    if (bit % 32u + BITS > 32u) {
      v |= w[bit / 32u + 1u] << (32u - bit % 32u);
    }
    q[i] = float(v & ((1u << BITS) - 1u));
  }
}

// Loads x[m][k .. k + 15] as floats: f32 inputs are rounded to bf16, bfloat ones widen exactly.
static inline void load_inputs(device const float* x, thread float* v) {
#pragma clang loop unroll(full)
  for (uint i = 0; i < QMV_VALUES_PER_LANE; i += 4) {
    const float4 four = *reinterpret_cast<device const float4*>(x + i);
    v[i] = round_to_bf16(four.x);
    v[i + 1] = round_to_bf16(four.y);
    v[i + 2] = round_to_bf16(four.z);
    v[i + 3] = round_to_bf16(four.w);
  }
}

#if defined(__HAVE_BFLOAT__)
static inline void load_inputs(device const bfloat* x, thread float* v) {
#pragma clang loop unroll(full)
  for (uint i = 0; i < QMV_VALUES_PER_LANE; i += 4) {
    const bfloat4 four = *reinterpret_cast<device const bfloat4*>(x + i);
    v[i] = float(four.x);
    v[i + 1] = float(four.y);
    v[i + 2] = float(four.z);
    v[i + 3] = float(four.w);
  }
}
#endif

// The SIMD kernels' body for one bit width (see the header for the geometry).
template <uint BITS, typename InT, typename OutT>
static inline void qmv_rows(
    device const InT* x,
    device const uchar* weights,
    device const ushort* scales,
    device const ushort* biases,
    device OutT* out,
    constant QuantizedMatmulParams& params,
    uint2 group,
    uint simdgroup,
    uint lane) {
  const uint K = params.K;
  const uint N = params.N;
  const uint groups = K / params.group_size;
  const uint row_bytes = K * BITS / 8u;
  const uint n0 = group.x * QMV_ROWS_PER_TG + simdgroup * QMV_ROWS_PER_SG;
  const uint m0 = group.y * QMV_COLS_PER_TG;
  const uint rows = min(QMV_ROWS_PER_SG, N > n0 ? N - n0 : 0u);  // same for all lanes
  const uint cols = min(QMV_COLS_PER_TG, params.M - m0);
  if (rows == 0) {
    return;
  }

  float acc[QMV_ROWS_PER_SG][QMV_COLS_PER_TG] = {};
  for (uint k = lane * QMV_VALUES_PER_LANE; k < K; k += QMV_BLOCK) {
    // The 16 inputs of each input row, and their sum (the bias term's factor).
    float xv[QMV_COLS_PER_TG][QMV_VALUES_PER_LANE];
    float xsum[QMV_COLS_PER_TG];
#pragma clang loop unroll(full)
    for (uint c = 0; c < QMV_COLS_PER_TG; ++c) {
      xsum[c] = 0.0f;
      if (c < cols) {
        load_inputs(x + size_t(m0 + c) * K + k, xv[c]);
#pragma clang loop unroll(full)
        for (uint i = 0; i < QMV_VALUES_PER_LANE; ++i) {
          xsum[c] += xv[c][i];
        }
      }
    }
    const uint g = k / params.group_size;  // 16 consecutive k never straddle a group
#pragma clang loop unroll(full)
    for (uint r = 0; r < QMV_ROWS_PER_SG; ++r) {
      if (r < rows) {
        const size_t n = n0 + r;
        float q[QMV_VALUES_PER_LANE];
        decode_slice<BITS>(weights + n * row_bytes + k * BITS / 8u, q);
        const float s = bf16_bits_to_float(scales[n * groups + g]);
        const float b = bf16_bits_to_float(biases[n * groups + g]);
#pragma clang loop unroll(full)
        for (uint c = 0; c < QMV_COLS_PER_TG; ++c) {
          if (c < cols) {
            float dot = 0.0f;
#pragma clang loop unroll(full)
            for (uint i = 0; i < QMV_VALUES_PER_LANE; ++i) {
              dot = fma(q[i], xv[c][i], dot);
            }
            acc[r][c] += fma(s, dot, b * xsum[c]);
          }
        }
      }
    }
  }
  // rows and cols are the same for every lane, so no lane skips a simd_sum another runs (a
  // decode step, cols = 1, folds 4 sums instead of 16).
#pragma clang loop unroll(full)
  for (uint r = 0; r < QMV_ROWS_PER_SG; ++r) {
#pragma clang loop unroll(full)
    for (uint c = 0; c < QMV_COLS_PER_TG; ++c) {
      if (r < rows && c < cols) {
        const float total = simd_sum(acc[r][c]);
        if (lane == 0) {
          out[size_t(m0 + c) * N + n0 + r] = OutT(total);
        }
      }
    }
  }
}

// Picks the body for params.bits (uniform over the dispatch).
template <typename InT, typename OutT>
static inline void qmv(
    device const InT* x,
    device const uchar* weights,
    device const ushort* scales,
    device const ushort* biases,
    device OutT* out,
    constant QuantizedMatmulParams& params,
    uint2 group,
    uint simdgroup,
    uint lane) {
  if (params.bits == 4) {
    qmv_rows<4>(x, weights, scales, biases, out, params, group, simdgroup, lane);
  } else if (params.bits == 6) {
    qmv_rows<6>(x, weights, scales, biases, out, params, group, simdgroup, lane);
  } else {
    qmv_rows<8>(x, weights, scales, biases, out, params, group, simdgroup, lane);
  }
}

[[kernel]] void quantized_matmul_simd(
    device const float* x [[buffer(0)]],
    device const uchar* weights [[buffer(1)]],
    device const ushort* scales [[buffer(2)]],
    device const ushort* biases [[buffer(3)]],
    device float* out [[buffer(4)]],
    constant QuantizedMatmulParams& params [[buffer(5)]],
    uint2 group [[threadgroup_position_in_grid]],
    uint simdgroup [[simdgroup_index_in_threadgroup]],
    uint lane [[thread_index_in_simdgroup]]) {
  qmv(x, weights, scales, biases, out, params, group, simdgroup, lane);
}

#if defined(__HAVE_BFLOAT__)
[[kernel]] void quantized_matmul_simd_bf16(
    device const bfloat* x [[buffer(0)]],
    device const uchar* weights [[buffer(1)]],
    device const ushort* scales [[buffer(2)]],
    device const ushort* biases [[buffer(3)]],
    device bfloat* out [[buffer(4)]],
    constant QuantizedMatmulParams& params [[buffer(5)]],
    uint2 group [[threadgroup_position_in_grid]],
    uint simdgroup [[simdgroup_index_in_threadgroup]],
    uint lane [[thread_index_in_simdgroup]]) {
  qmv(x, weights, scales, biases, out, params, group, simdgroup, lane);
}

[[kernel]] void quantized_matmul_simd_bf16_expert(
    device const bfloat* x [[buffer(0)]],
    device const uchar* weights [[buffer(1)]],
    device const uchar* scales [[buffer(2)]],
    device const uchar* biases [[buffer(3)]],
    device bfloat* out [[buffer(4)]],
    constant QuantizedMatmulParams& params [[buffer(5)]],
    constant uint& weights_offset [[buffer(6)]],
    constant uint& scales_offset [[buffer(7)]],
    constant uint& biases_offset [[buffer(8)]],
    uint2 group [[threadgroup_position_in_grid]],
    uint simdgroup [[simdgroup_index_in_threadgroup]],
    uint lane [[thread_index_in_simdgroup]]) {
  qmv(x,
      weights + weights_offset,
      reinterpret_cast<device const ushort*>(scales + scales_offset),
      reinterpret_cast<device const ushort*>(biases + biases_offset),
      out,
      params,
      group,
      simdgroup,
      lane);
}
#endif
