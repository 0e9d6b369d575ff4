// fused_head_norm_rope_f32.metal — per-head RMSNorm followed by NeoX RoPE, in f32, for the
// query/key heads of Qwen3 / Gemma 3 / Gemma 4 style attention (q_norm / k_norm before RoPE).
//
// Kernel fused_head_norm_rope_f32
//   Computes   for token t, head h, row x = in[t][h][0..D):
//                r = 1 / sqrt(mean_j x[j]² + eps),   n[j] = x[j] · r · (has_weight ? w[j] : 1)
//              then NeoX RoPE of n (rope.metal, "Pairs" and "Angles"): for rotated pairs
//              (i0, i1) = (p, p + pair_offset), p < n_pairs,
//                y[i0] = n[i0]·cos θ − n[i1]·sin θ,   y[i1] = n[i0]·sin θ + n[i1]·cos θ,
//                θ = positions[t] · ω_p
//              and y[j] = n[j] for the unrotated elements (partial rotary). ω_p comes from the
//              host's f64 table (ops/_rope_freqs.ts): freq_scale · base^(−2p/freq_dim) / ff[p].
//              A Gemma-style (1 + w) weight is the caller's to pre-add.
//   Extra      extra_outputs bit 0: also write y rounded to bf16 (round to nearest even, NaN kept
//   outputs    quiet) to buffer(6), at [t][h][j], or at [h][t][j] when bit 1 is set (the head-major
//              layout attention kernels read); bit 2: also write y in f32 at [h][t][j] to buffer(7).
//              Unused extra bindings may be any buffer (they are never touched).
//   Bindings   buffer(0) in         float[seq_len · n_heads · head_dim]
//              buffer(1) out        float[same]; may be `in` (each element is read before the
//                                   barrier and rewritten only by the thread that owns it)
//              buffer(2) norm_w     float[head_dim] (read only when has_weight)
//              buffer(3) params     constant HeadNormRopeParams (setBytes, 44 bytes)
//              buffer(4) positions  uint[seq_len] (each < 2^24)
//              buffer(5) freqs      constant float4[n_pairs] (setBytes)
//              buffer(6) out_bf16   ushort[seq_len · n_heads · head_dim] (bf16 bits; optional)
//              buffer(7) out_perm   float[n_heads · seq_len · head_dim] (optional)
//              threadgroup(0)       float[HNR_MAX_SIMDGROUPS] (128 bytes)
//   Geometry   TG-grid (n_heads, seq_len, 1); the host uses a multiple of 32 threads near
//              head_dim / 2 (at most 32 · HNR_MAX_SIMDGROUPS); any width works.
//   Why bits   The bf16 copy is stored as raw bits with an explicit rounding so this f32 kernel
//              does not need bfloat (__HAVE_BFLOAT__).

#include <metal_stdlib>
using namespace metal;

// Upper bound on SIMD-groups per threadgroup. Mirrored by HNR_MAX_SIMDGROUPS in
// ops/_defines.ts (a test reads this line).
constant constexpr uint HNR_MAX_SIMDGROUPS = 32;

// Per-(token, head) RMSNorm followed by NeoX RoPE. One threadgroup per (head, token); thread t
// owns slots t, t + width, ... of the head_dim / 2 slots (see "Pairs").
struct HeadNormRopeParams {
  uint head_dim;      // D, even
  uint n_heads;       // heads per token
  uint seq_len;       // tokens
  float eps;          // RMSNorm epsilon
  uint has_weight;    // nonzero: multiply by norm_w
  uint n_pairs;       // rotated pairs = rope_dim / 2
  uint pair_offset;   // partner distance of a rotated element
  uint copy_start;    // first unrotated element
  uint copy_gap;      // distance between the two unrotated elements of a slot
  uint position;      // fused_head_norm_rope_bf16 only: the token's position
  uint extra_outputs; // fused_head_norm_rope_f32 only: bit 0 bf16 copy, bit 1 bf16 copy permuted,
                      // bit 2 permuted f32 copy
};

// cos θ, sin θ for θ = pos · ω, with freq = (g_head, g_tail, f_head, f_tail) in turns
// (the reduction of rope.metal, "Angles").
static inline float2 hnr_cos_sin(uint pos, float4 freq) {
  const float ph = float(pos >> 12);
  const float pl = float(pos & 4095u);
  float a = fract(ph * freq.x);
  float b = fract(pl * freq.z);
  a -= select(0.0f, 1.0f, a >= 0.5f);
  b -= select(0.0f, 1.0f, b >= 0.5f);
  float turns = a + b + fma(ph, freq.y, pl * freq.w);
  turns -= rint(turns);
  const float theta = turns * 6.28318530717958647692f;
  return float2(precise::cos(theta), precise::sin(theta));
}

// The two elements slot s owns, and whether they rotate.
static inline uint2 hnr_slot(constant HeadNormRopeParams& p, uint s) {
  return s < p.n_pairs ? uint2(s, s + p.pair_offset)
                       : uint2(p.copy_start + (s - p.n_pairs), p.copy_start + (s - p.n_pairs) + p.copy_gap);
}

// 1 / rms of the row, reduced over the threadgroup (every thread gets it).
template <typename T>
static inline float hnr_inv_rms(
    device const T* x, constant HeadNormRopeParams& p, threadgroup float* scratch,
    uint tid, uint width, uint lane, uint simdgroup, uint simdgroups) {
  float ss = 0.0f;
  for (uint s = tid; s < p.head_dim / 2; s += width) {
    const uint2 i = hnr_slot(p, s);
    const float x0 = float(x[i.x]);
    const float x1 = float(x[i.y]);
    ss = fma(x0, x0, fma(x1, x1, ss));
  }
  ss = simd_sum(ss);
  if (lane == 0) {
    scratch[simdgroup] = ss;
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  const float total = simd_sum(lane < simdgroups ? scratch[lane] : 0.0f);
  return rsqrt(total / float(p.head_dim) + p.eps);
}

// f32 -> bf16 bits, round to nearest even; NaN stays a quiet NaN.
static inline ushort f32_to_bf16_bits(float v) {
  const uint bits = as_type<uint>(v);
  if ((bits & 0x7fffffffu) > 0x7f800000u) {
    return ushort((bits >> 16) | 0x40u);
  }
  return ushort((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

[[kernel]] void fused_head_norm_rope_f32(
    device const float* in [[buffer(0)]],
    device float* out [[buffer(1)]],
    device const float* norm_w [[buffer(2)]],
    constant HeadNormRopeParams& params [[buffer(3)]],
    device const uint* positions [[buffer(4)]],
    constant float4* freqs [[buffer(5)]],
    device ushort* out_bf16 [[buffer(6)]],
    device float* out_perm [[buffer(7)]],
    threadgroup float* scratch [[threadgroup(0)]],
    uint2 group [[threadgroup_position_in_grid]],
    uint tid [[thread_position_in_threadgroup]],
    uint width [[threads_per_threadgroup]],
    uint lane [[thread_index_in_simdgroup]],
    uint simdgroup [[simdgroup_index_in_threadgroup]],
    uint simdgroups [[simdgroups_per_threadgroup]]) {
  const uint h = group.x;
  const uint t = group.y;
  const uint d = params.head_dim;
  const size_t row = (size_t(t) * params.n_heads + h) * d;
  const size_t perm_row = (size_t(h) * params.seq_len + t) * d;
  const float r = hnr_inv_rms(in + row, params, scratch, tid, width, lane, simdgroup, simdgroups);
  const uint pos = positions[t];
  const bool want_bf16 = (params.extra_outputs & 1u) != 0;
  const size_t bf16_row = (params.extra_outputs & 2u) != 0 ? perm_row : row;
  const bool want_perm = (params.extra_outputs & 4u) != 0;
  for (uint s = tid; s < d / 2; s += width) {
    const uint2 i = hnr_slot(params, s);
    float y0 = float(in[row + i.x]) * r;
    float y1 = float(in[row + i.y]) * r;
    if (params.has_weight != 0) {
      y0 *= norm_w[i.x];
      y1 *= norm_w[i.y];
    }
    if (s < params.n_pairs) {
      const float2 cs = hnr_cos_sin(pos, freqs[s]);
      const float n0 = y0;
      y0 = n0 * cs.x - y1 * cs.y;
      y1 = n0 * cs.y + y1 * cs.x;
    }
    out[row + i.x] = y0;
    out[row + i.y] = y1;
    if (want_bf16) {
      out_bf16[bf16_row + i.x] = f32_to_bf16_bits(y0);
      out_bf16[bf16_row + i.y] = f32_to_bf16_bits(y1);
    }
    if (want_perm) {
      out_perm[perm_row + i.x] = y0;
      out_perm[perm_row + i.y] = y1;
    }
  }
}
