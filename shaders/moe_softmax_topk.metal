// moe_softmax_topk.metal — MoE routing from router logits: a softmax over all experts, then the
// k most probable experts, optionally renormalised to sum to 1 (Qwen3-MoE's norm_topk_prob;
// Qwen2-MoE leaves them unnormalised).
//
// Kernel moe_softmax_topk_f32
//   Computes   for each token t with logits ℓ[0..n_experts):
//                p_e = exp(ℓ_e − max ℓ) / Σ_e' exp(ℓ_e' − max ℓ)        (all experts)
//                e_1..e_k: the k largest ℓ (equivalently p), descending, ties to the lower index
//                w_j = p_{e_j} / Σ_j' p_{e_j'}   when renormalize and that sum > 1e-9
//                w_j = p_{e_j}                   otherwise
//              f32 arithmetic, precise exp. With renormalisation this equals a softmax over
//              the k selected logits (moe_gate.metal's rule) up to rounding. NaN logits are
//              never selected.
//   Bindings   buffer(0) params   constant MoeSoftmaxTopkParams (setBytes, 16 bytes)
//              buffer(1) logits   float[n_tokens · n_experts]
//              buffer(2) ids      uint[n_tokens · top_k]   (out)
//              buffer(3) weights  float[n_tokens · top_k]  (out)
//              threadgroup(0)     float[n_experts] (rounded up to 16 bytes)
//   Geometry   TG-grid (n_tokens, 1, 1), threadgroup (32, 1, 1): one SIMD-group per token.
//              Lane l owns experts l, l + 32, ...: max and sum by simd_max / simd_sum; per
//              pick a simd_max of the lanes' best and a simd_min of the indices reaching it;
//              the owner marks its winner taken (NaN), so no barrier is needed.
//   Limits     any n_experts with n_experts · 4 bytes of threadgroup memory (the host allows
//              up to 4096), any top_k ≤ n_experts (mlx-native: ≤ 64, power-of-two widths).

#include <metal_stdlib>
using namespace metal;

// The index of "no expert yet" in the top-k scans (above any expert index).
constant constexpr uint NO_EXPERT = 0xffffffffu;

struct MoeSoftmaxTopkParams {
  uint n_tokens;     // rows of logits
  uint n_experts;    // logits per token
  uint top_k;        // experts kept per token, ≤ n_experts
  uint renormalize;  // 1: the kept probabilities are scaled to sum to 1
};

[[kernel]] void moe_softmax_topk_f32(
    constant MoeSoftmaxTopkParams& params [[buffer(0)]],
    device const float* logits_all [[buffer(1)]],
    device uint* ids_all [[buffer(2)]],
    device float* weights_all [[buffer(3)]],
    threadgroup float* scratch [[threadgroup(0)]],
    uint token [[threadgroup_position_in_grid]],
    uint lane [[thread_index_in_simdgroup]]) {
  if (token >= params.n_tokens) {
    return;
  }
  const uint n_experts = params.n_experts;
  const uint top_k = params.top_k;
  device const float* logits = logits_all + size_t(token) * n_experts;
  device uint* ids = ids_all + size_t(token) * top_k;
  device float* weights = weights_all + size_t(token) * top_k;

  float high = -INFINITY;
  for (uint e = lane; e < n_experts; e += 32) {
    const float v = logits[e];
    scratch[e] = v;
    high = max(high, v);
  }
  high = simd_max(high);
  float sum = 0.0f;
  for (uint e = lane; e < n_experts; e += 32) {
    sum += precise::exp(scratch[e] - high);
  }
  sum = simd_sum(sum);

  for (uint j = 0; j < top_k; ++j) {
    float best = -INFINITY;
    uint index = NO_EXPERT;
    for (uint e = lane; e < n_experts; e += 32) {
      const float v = scratch[e];
      if (v > best || (v == best && e < index)) {
        best = v;
        index = e;
      }
    }
    const float top = simd_max(best);
    const uint winner = simd_min(best == top ? index : NO_EXPERT);
    if (winner == index && index != NO_EXPERT) {
      scratch[winner] = NAN;  // taken: NaN never compares greater or equal
    }
    if (lane == 0) {
      ids[j] = winner;
      weights[j] = precise::exp(top - high) / sum;
    }
  }

  if (lane == 0 && params.renormalize != 0) {
    float kept = 0.0f;
    for (uint j = 0; j < top_k; ++j) {
      kept += weights[j];
    }
    if (kept > 1e-9f) {
      for (uint j = 0; j < top_k; ++j) {
        weights[j] /= kept;
      }
    }
  }
}
