// fused_head_norm_rope_bf16.metal — per-head RMSNorm followed by NeoX RoPE on bf16 rows
// (f32 arithmetic), for the query/key heads of Qwen3 / Gemma 3 / Gemma 4 style attention.
//
// Kernels fused_head_norm_rope_bf16        one token; its position is a params field
//         fused_head_norm_rope_batch_bf16  seq_len tokens; positions from a buffer
//   Computes   for token t, head h, row x = in[t][h][0..D) (widened to f32):
//                r = 1 / sqrt(mean_j x[j]² + eps),   n[j] = x[j] · r · (has_weight ? w[j] : 1)
//              then NeoX RoPE of n (rope.metal, "Pairs" and "Angles"): rotated pairs
//              (p, p + pair_offset), p < n_pairs, θ = pos · ω_p with ω_p from the host's f64
//              table; unrotated elements are copied. One rounding to bf16 on store.
//              Or, with has_cos_sin, the host gives (cos θ, sin θ) itself for every token and
//              pair, in cos_sin[t · n_pairs + p]: any angle schedule (YaRN's scaled and
//              ramped frequencies with its attention factor folded into cos and sin, or
//              another custom RoPE), positions and frequencies then unused.
//              Either partial layout is a params choice (ops/_rope_freqs.ts, PartialRotary).
//   Bindings   buffer(0) in         bfloat[seq_len · n_heads · head_dim]
//              buffer(1) out        bfloat[same]; may be `in`
//              buffer(2) norm_w     bfloat[head_dim] (read only when has_weight)
//              buffer(3) params     constant HeadNormRopeParams (setBytes, 48 bytes;
//                                   extra_outputs is ignored; position used by the
//                                   single-token kernel only)
//              buffer(4) positions  uint[seq_len] (batch kernel only; each < 2^24)
//              buffer(5) freqs      constant float4[n_pairs] (setBytes; unused with has_cos_sin)
//              buffer(6) cos_sin    float2[seq_len · n_pairs] (read only when has_cos_sin)
//              threadgroup(0)       float[HNR_MAX_SIMDGROUPS] (128 bytes)
//   Geometry   TG-grid (n_heads, seq_len, 1) (seq_len = 1 for the single-token kernel);
//              the host uses a multiple of 32 threads near head_dim / 2.
//   Dtypes     Only where the compiler has bfloat (__HAVE_BFLOAT__: MSL 3.1, macOS 14+).

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
  uint has_cos_sin;   // nonzero: angles from cos_sin (bf16 kernels), not from freqs
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

#if defined(__HAVE_BFLOAT__)

// Normalises, rotates and stores one (token, head) row.
static inline void hnr_row_bf16(
    device const bfloat* in, device bfloat* out, device const bfloat* norm_w,
    constant HeadNormRopeParams& params, constant float4* freqs, device const float2* cos_sin,
    uint pos, uint h, uint t,
    threadgroup float* scratch, uint tid, uint width, uint lane, uint simdgroup, uint simdgroups) {
  const size_t row = (size_t(t) * params.n_heads + h) * params.head_dim;
  const float r = hnr_inv_rms(in + row, params, scratch, tid, width, lane, simdgroup, simdgroups);
  for (uint s = tid; s < params.head_dim / 2; s += width) {
    const uint2 i = hnr_slot(params, s);
    float y0 = float(in[row + i.x]) * r;
    float y1 = float(in[row + i.y]) * r;
    if (params.has_weight != 0) {
      y0 *= float(norm_w[i.x]);
      y1 *= float(norm_w[i.y]);
    }
    if (s < params.n_pairs) {
      const float2 cs = params.has_cos_sin != 0 ? cos_sin[size_t(t) * params.n_pairs + s]
                                                : hnr_cos_sin(pos, freqs[s]);
      const float n0 = y0;
      y0 = n0 * cs.x - y1 * cs.y;
      y1 = n0 * cs.y + y1 * cs.x;
    }
    out[row + i.x] = bfloat(y0);
    out[row + i.y] = bfloat(y1);
  }
}

[[kernel]] void fused_head_norm_rope_bf16(
    device const bfloat* in [[buffer(0)]],
    device bfloat* out [[buffer(1)]],
    device const bfloat* norm_w [[buffer(2)]],
    constant HeadNormRopeParams& params [[buffer(3)]],
    constant float4* freqs [[buffer(5)]],
    device const float2* cos_sin [[buffer(6)]],
    threadgroup float* scratch [[threadgroup(0)]],
    uint2 group [[threadgroup_position_in_grid]],
    uint tid [[thread_position_in_threadgroup]],
    uint width [[threads_per_threadgroup]],
    uint lane [[thread_index_in_simdgroup]],
    uint simdgroup [[simdgroup_index_in_threadgroup]],
    uint simdgroups [[simdgroups_per_threadgroup]]) {
  hnr_row_bf16(in, out, norm_w, params, freqs, cos_sin, params.position, group.x, 0, scratch, tid,
               width, lane, simdgroup, simdgroups);
}

[[kernel]] void fused_head_norm_rope_batch_bf16(
    device const bfloat* in [[buffer(0)]],
    device bfloat* out [[buffer(1)]],
    device const bfloat* norm_w [[buffer(2)]],
    constant HeadNormRopeParams& params [[buffer(3)]],
    device const uint* positions [[buffer(4)]],
    constant float4* freqs [[buffer(5)]],
    device const float2* cos_sin [[buffer(6)]],
    threadgroup float* scratch [[threadgroup(0)]],
    uint2 group [[threadgroup_position_in_grid]],
    uint tid [[thread_position_in_threadgroup]],
    uint width [[threads_per_threadgroup]],
    uint lane [[thread_index_in_simdgroup]],
    uint simdgroup [[simdgroup_index_in_threadgroup]],
    uint simdgroups [[simdgroups_per_threadgroup]]) {
  const uint pos = params.has_cos_sin != 0 ? 0 : positions[group.y];
  hnr_row_bf16(in, out, norm_w, params, freqs, cos_sin, pos, group.x, group.y, scratch, tid,
               width, lane, simdgroup, simdgroups);
}

#endif
