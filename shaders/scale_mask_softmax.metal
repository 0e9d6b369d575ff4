// scale_mask_softmax.metal — attention-score softmax: scale, add a [seq_q, seq_k] mask shared
// by every head, softmax over the keys.
//
// Kernel scale_mask_softmax_f32
//   Computes   for row r = h · seq_q + q of the scores [n_heads · seq_q, seq_k] (any number of
//              heads, batch items fold into heads):
//                t[k] = in[r][k] · scale + mask[q][k]        (mask term 0 when has_mask = 0)
//                out[r][k] = exp(t[k] − m) / Σ_j exp(t[j] − m),  m = max_k t[k]
//              Mask entries of −inf (causal or padding) get probability 0; a row whose every
//              t is −inf is written as zeros (no NaN). Any finite additive mask (ALiBi-style
//              biases) also works. The running max starts at −FLT_MAX, so no inf − inf forms.
//   Bindings   buffer(0) in      float[rows · seq_k]
//              buffer(1) out     float[rows · seq_k]; may be `in` (each element is read and
//                                written by one thread after the row's reduction read it)
//              buffer(2) mask    ushort[seq_q · seq_k]: bf16 bits (−inf = 0xff80), widened
//                                exactly by a shift, so the kernel needs no bfloat support;
//                                unread when has_mask = 0 (bind any buffer)
//              buffer(3) params  constant ScaleMaskSoftmaxParams { uint cols, seq_q; float scale;
//                                uint has_mask; } (setBytes, 16 bytes)
//              threadgroup(0)    float[2 · SMS_MAX_SIMDGROUPS] (256 bytes)
//   Geometry   TG-grid (rows, 1, 1): one threadgroup per row, a multiple of 32 threads near
//              cols / 4 chosen by the host (ops/attention_prep.ts), at most 1024.
//   Passes     As softmax.metal: per-thread online (max, sum), simd_max / simd_sum, one
//              threadgroup exchange, then every thread normalises its columns.

#include <metal_stdlib>
using namespace metal;

// Upper bound on SIMD-groups per threadgroup. Mirrored by SMS_MAX_SIMDGROUPS in
// ops/_defines.ts (a test reads this line).
constant constexpr uint SMS_MAX_SIMDGROUPS = 32;

struct ScaleMaskSoftmaxParams {
  uint cols;      // seq_k: row length
  uint seq_q;     // query rows per head: row r uses mask row r % seq_q
  float scale;    // multiplies the scores (1 / sqrt(head_dim), or a model's query scale)
  uint has_mask;  // nonzero: add the mask
};

static inline float bf16_bits_to_float(ushort bits) {
  return as_type<float>(uint(bits) << 16);
}

[[kernel]] void scale_mask_softmax_f32(
    device const float* in [[buffer(0)]],
    device float* out [[buffer(1)]],
    device const ushort* mask [[buffer(2)]],
    constant ScaleMaskSoftmaxParams& params [[buffer(3)]],
    threadgroup float* scratch [[threadgroup(0)]],
    uint row [[threadgroup_position_in_grid]],
    uint tid [[thread_position_in_threadgroup]],
    uint width [[threads_per_threadgroup]],
    uint lane [[thread_index_in_simdgroup]],
    uint simdgroup [[simdgroup_index_in_threadgroup]],
    uint simdgroups [[simdgroups_per_threadgroup]]) {
  const uint cols = params.cols;
  const float scale = params.scale;
  const bool has_mask = params.has_mask != 0;
  device const float* x = in + size_t(row) * cols;
  device float* y = out + size_t(row) * cols;
  device const ushort* mrow = mask + size_t(row % params.seq_q) * cols;

  // 1. Online max and sum over this thread's columns.
  float m = -FLT_MAX;
  float s = 0.0f;
  for (uint j = tid; j < cols; j += width) {
    const float v = x[j] * scale + (has_mask ? bf16_bits_to_float(mrow[j]) : 0.0f);
    if (v > m) {
      s = s * exp(m - v) + 1.0f;
      m = v;
    } else {
      s += exp(v - m);  // exp(-inf) = 0 for masked entries
    }
  }

  // 2. Combine the lanes of this SIMD-group.
  const float sg_max = simd_max(m);
  const float sg_sum = simd_sum(s * exp(m - sg_max));

  // 3. Combine the SIMD-groups through threadgroup memory.
  if (lane == 0) {
    scratch[simdgroup] = sg_max;
    scratch[SMS_MAX_SIMDGROUPS + simdgroup] = sg_sum;
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  const float part_max = lane < simdgroups ? scratch[lane] : -FLT_MAX;
  const float part_sum = lane < simdgroups ? scratch[SMS_MAX_SIMDGROUPS + lane] : 0.0f;
  const float row_max = simd_max(part_max);
  const float row_sum = simd_sum(part_sum * exp(part_max - row_max));
  const float inv_sum = row_sum > 0.0f ? 1.0f / row_sum : 0.0f;  // fully masked row -> zeros

  // 4. Normalise.
  for (uint j = tid; j < cols; j += width) {
    const float v = x[j] * scale + (has_mask ? bf16_bits_to_float(mrow[j]) : 0.0f);
    y[j] = exp(v - row_max) * inv_sum;
  }
}
