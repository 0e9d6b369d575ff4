// moe_gate.metal — the router of a mixture-of-experts block in one kernel per token: RMS-norm
// the hidden state, score every expert, keep the top k, and turn their scores into weights.
//
// Kernel moe_gate
//   Computes   for each token t, with x = hidden[t] (bf16, widened to f32):
//                r      = rsqrt(mean_d x_d² + eps)
//                ℓ_e    = r · Σ_d x_d · norm_w[d] · router[e][d]      (= Σ_d h_d · router[e][d],
//                                                                     h = x · r · norm_w)
//                e_1..e_k: the k largest ℓ, in descending order, ties to the lower expert index
//                p_j    = exp(ℓ_{e_j} − ℓ_{e_1}) / Σ_j' exp(ℓ_{e_j'} − ℓ_{e_1})   (softmax over the
//                         k selected logits only)
//                w_j    = p_j · scale[e_j] / Σ_j' p_j' · scale[e_j']   (per-expert scale, then
//                         renormalised; a zero sum leaves the scaled p unnormalised)
//              f32 arithmetic (fma), precise exp. NaN logits are never selected.
//   Bindings   buffer(0) hidden   bfloat[tokens · hidden_dim]
//              buffer(1) router   float[n_experts · hidden_dim]  (one row per expert)
//              buffer(2) norm_w   float[hidden_dim]
//              buffer(3) scale    float[n_experts]  (per-expert output scale; ones for none)
//              buffer(4) ids      uint[tokens · top_k]   (out)
//              buffer(5) weights  float[tokens · top_k]  (out; also holds the selected logits
//                                 between the two steps of its own thread)
//              buffer(6) params   constant MoeGateParams (setBytes, 16 bytes; mlx-native bound
//                                 four scalars at 6..9)
//              threadgroup(0)     float[n_experts] (rounded up to 16 bytes): the logits
//   Geometry   TG-grid (tokens, 1, 1), threadgroup (32·S, 1, 1) for any S ≥ 1 (at most
//              MOE_GATE_MAX_SIMDGROUPS). 1. Sum of squares: per thread, simd_sum, partials
//              in threadgroup memory, one barrier. 2. SIMD-group g scores experts g, g + S, ...
//              (lanes stride over hidden_dim, one simd_sum per expert). One barrier. 3. SIMD-
//              group 0 picks the k winners: lane l owns experts l, l + 32, ...; per pick a
//              simd_max of the lanes' best and a simd_min of the indices that reach it; the
//              owner marks its winner taken (NaN). 4. Lane 0 computes the k weights.
//   Limits     any n_experts with n_experts · 4 bytes of threadgroup memory (the host allows
//              up to 4096), any top_k ≤ n_experts, any hidden_dim. mlx-native's kernel needed
//              exactly 128 experts and top_k ≤ 8.
//   The kernel uses bfloat: it exists only where the compiler has it (__HAVE_BFLOAT__).

#include <metal_stdlib>
using namespace metal;

// The index of "no expert yet" in the top-k scans (above any expert index).
constant constexpr uint NO_EXPERT = 0xffffffffu;

// Upper bound on SIMD-groups per threadgroup; sizes the norm partials.
constant constexpr uint MOE_GATE_MAX_SIMDGROUPS = 32;

struct MoeGateParams {
  uint hidden_dim;  // length of each hidden state and router row
  uint n_experts;   // router rows
  uint top_k;       // experts kept per token, ≤ n_experts
  float eps;        // added to the mean of squares inside the root
};

#if defined(__HAVE_BFLOAT__)
[[kernel]] void moe_gate(
    device const bfloat* hidden [[buffer(0)]],
    device const float* router [[buffer(1)]],
    device const float* norm_w [[buffer(2)]],
    device const float* scale [[buffer(3)]],
    device uint* ids [[buffer(4)]],
    device float* weights [[buffer(5)]],
    constant MoeGateParams& params [[buffer(6)]],
    threadgroup float* logits [[threadgroup(0)]],
    uint token [[threadgroup_position_in_grid]],
    uint tid [[thread_position_in_threadgroup]],
    uint width [[threads_per_threadgroup]],
    uint lane [[thread_index_in_simdgroup]],
    uint simdgroup [[simdgroup_index_in_threadgroup]],
    uint simdgroups [[simdgroups_per_threadgroup]]) {
  threadgroup float partials[MOE_GATE_MAX_SIMDGROUPS];
  const uint dim = params.hidden_dim;
  const uint n_experts = params.n_experts;
  const uint top_k = params.top_k;
  device const bfloat* x = hidden + size_t(token) * dim;

  // 1. r = rsqrt(mean(x²) + eps).
  float squares = 0.0f;
  for (uint d = tid; d < dim; d += width) {
    const float v = float(x[d]);
    squares = fma(v, v, squares);
  }
  squares = simd_sum(squares);
  if (lane == 0) {
    partials[simdgroup] = squares;
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  const float total = simd_sum(lane < simdgroups ? partials[lane] : 0.0f);
  const float r = rsqrt(total / float(dim) + params.eps);

  // 2. Every expert's logit.
  for (uint e = simdgroup; e < n_experts; e += simdgroups) {
    device const float* row = router + size_t(e) * dim;
    float acc = 0.0f;
    for (uint d = lane; d < dim; d += 32) {
      acc = fma(float(x[d]) * norm_w[d], row[d], acc);
    }
    acc = simd_sum(acc);
    if (lane == 0) {
      logits[e] = acc * r;
    }
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (simdgroup != 0) {
    return;
  }

  // 3. The top k, best first; each lane only reads and marks its own experts.
  device uint* out_ids = ids + size_t(token) * top_k;
  device float* out_w = weights + size_t(token) * top_k;
  for (uint j = 0; j < top_k; ++j) {
    float best = -INFINITY;
    uint index = NO_EXPERT;
    for (uint e = lane; e < n_experts; e += 32) {
      const float v = logits[e];
      if (v > best || (v == best && e < index)) {
        best = v;
        index = e;
      }
    }
    const float top = simd_max(best);
    const uint winner = simd_min(best == top ? index : NO_EXPERT);
    if (winner == index && index != NO_EXPERT) {
      logits[winner] = NAN;  // taken: NaN never compares greater or equal
    }
    if (lane == 0) {
      out_ids[j] = winner;
      out_w[j] = top;
    }
  }

  // 4. Softmax over the k selected logits, per-expert scale, renormalisation.
  if (lane == 0) {
    const float first = out_w[0];
    float sum = 0.0f;
    for (uint j = 0; j < top_k; ++j) {
      const float p = precise::exp(out_w[j] - first);
      out_w[j] = p;
      sum += p;
    }
    float scaled_sum = 0.0f;
    for (uint j = 0; j < top_k; ++j) {
      const float w = out_w[j] / sum * scale[out_ids[j]];
      out_w[j] = w;
      scaled_sum += w;
    }
    if (scaled_sum != 0.0f) {
      for (uint j = 0; j < top_k; ++j) {
        out_w[j] /= scaled_sum;
      }
    }
  }
}
#endif
