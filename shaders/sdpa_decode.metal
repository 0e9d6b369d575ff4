// sdpa_decode.metal — single-token decode attention, the keys split over the SIMD-groups of
// one threadgroup per head, merged with the log-sum-exp rule in threadgroup memory.
//
// Kernel  sdpa_decode   f32 Q/K/V/O
//   Computes  for query head h (one query token, no mask: every cached key is visible),
//             with kv_head = ⌊h · n_kv_heads / n_heads⌋:
//               O[h] = Σ_{j < kv_len} softmax_j(scale · Q[h] · K[kv_head][j]) · V[kv_head][j]
//             SIMD-group s scans keys [s·c, (s+1)·c), c = ceil(kv_len / n_sg), with its own
//             running max m_s, sum d_s and accumulator a_s (a dot product is a simd_sum over
//             the lanes, lane l owning dims l, l + 32, …). The group then merges:
//             M = max_s m_s over non-empty ranges, O = Σ_s e^{m_s−M} a_s / Σ_s e^{m_s−M} d_s.
//   Bindings  buffer(0) Q       float[n_heads · head_dim]
//             buffer(1) K       float[n_kv_heads · kv_capacity · head_dim]
//             buffer(2) V       float[same as K]
//             buffer(3) O       float[n_heads · head_dim]
//             buffer(4) params  constant SdpaDecodeParams (setBytes)
//             threadgroup(0)    float[n_sg · (head_dim + 2)]: per SIMD-group (m, d) and a_s
//   Geometry  TG-grid (n_heads, 1, 1), 32 · n_sg threads (the host picks n_sg from kv_len).
//   Limits    head_dim a multiple of 32, at most SDPA_DECODE_MAX_HEAD_DIM (checked by the host).

#include <metal_stdlib>
using namespace metal;

// Largest head_dim: lanes hold head_dim / 32 accumulators each. Mirrored by
// SDPA_DECODE_MAX_HEAD_DIM in ops/_defines.ts (a test reads this line).
constant constexpr uint SDPA_DECODE_MAX_HEAD_DIM = 512;

struct SdpaDecodeParams {
  uint n_heads;      // query heads
  uint n_kv_heads;   // key/value heads; divides n_heads
  uint head_dim;     // D: a multiple of 32, ≤ SDPA_DECODE_MAX_HEAD_DIM
  uint kv_len;       // valid keys per KV head (≥ 1)
  uint kv_capacity;  // positions per KV head in K and V
  float scale;       // multiplies q · k
  uint n_sg;         // SIMD-groups per threadgroup (the key range is split n_sg ways)
};

[[kernel]] void sdpa_decode(
    device const float* q [[buffer(0)]],
    device const float* k [[buffer(1)]],
    device const float* v [[buffer(2)]],
    device float* o [[buffer(3)]],
    constant SdpaDecodeParams& p [[buffer(4)]],
    threadgroup float* scratch [[threadgroup(0)]],
    uint h [[threadgroup_position_in_grid]],
    uint tid [[thread_position_in_threadgroup]],
    uint lane [[thread_index_in_simdgroup]],
    uint sg [[simdgroup_index_in_threadgroup]]) {
  const uint D = p.head_dim;
  const uint per_lane = D / 32;
  const uint kv_head = h * p.n_kv_heads / p.n_heads;
  const size_t kv_base = size_t(kv_head) * p.kv_capacity * D;

  float qv[SDPA_DECODE_MAX_HEAD_DIM / 32];
  float acc[SDPA_DECODE_MAX_HEAD_DIM / 32];
  for (uint e = 0; e < per_lane; ++e) {
    qv[e] = q[size_t(h) * D + lane + 32 * e];
    acc[e] = 0.0f;
  }
  const uint chunk = (p.kv_len + p.n_sg - 1) / p.n_sg;
  const uint begin = sg * chunk;
  const uint end = min(begin + chunk, p.kv_len);
  float m = -FLT_MAX;  // finite: the first rescale is exp(-huge) = 0
  float d = 0.0f;
  for (uint j = begin; j < end; ++j) {
    device const float* kj = k + kv_base + size_t(j) * D;
    float partial = 0.0f;
    for (uint e = 0; e < per_lane; ++e) {
      partial = fma(qv[e], kj[lane + 32 * e], partial);
    }
    const float s = simd_sum(partial) * p.scale;
    const float new_m = max(m, s);
    const float rescale = exp(m - new_m);
    const float w = exp(s - new_m);
    d = d * rescale + w;
    device const float* vj = v + kv_base + size_t(j) * D;
    for (uint e = 0; e < per_lane; ++e) {
      acc[e] = fma(w, vj[lane + 32 * e], acc[e] * rescale);
    }
    m = new_m;
  }

  // Layout: (m_s, d_s) pairs first, then the n_sg accumulators of D floats.
  threadgroup float* stats = scratch;
  threadgroup float* partials = scratch + 2 * p.n_sg;
  if (lane == 0) {
    stats[2 * sg] = m;
    stats[2 * sg + 1] = d;
  }
  for (uint e = 0; e < per_lane; ++e) {
    partials[sg * D + lane + 32 * e] = acc[e];
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);

  float top = -FLT_MAX;
  for (uint s = 0; s < p.n_sg; ++s) {
    if (stats[2 * s + 1] > 0.0f) {
      top = max(top, stats[2 * s]);
    }
  }
  float total = 0.0f;
  for (uint s = 0; s < p.n_sg; ++s) {
    const float ds = stats[2 * s + 1];
    total += ds > 0.0f ? ds * exp(stats[2 * s] - top) : 0.0f;
  }
  const float inv_total = total > 0.0f ? 1.0f / total : 0.0f;
  for (uint i = tid; i < D; i += 32 * p.n_sg) {
    float sum = 0.0f;
    for (uint s = 0; s < p.n_sg; ++s) {
      const float ds = stats[2 * s + 1];
      sum += ds > 0.0f ? partials[s * D + i] * exp(stats[2 * s] - top) : 0.0f;
    }
    o[size_t(h) * D + i] = sum * inv_total;
  }
}
