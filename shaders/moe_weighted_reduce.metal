// moe_weighted_reduce.metal — the end of a mixture-of-experts block: the routing-weighted sum
// of each token's expert outputs, plus an optional sigmoid-gated shared expert (Qwen2/3-Next
// MoE) and an optional residual.
//
// Kernel moe_weighted_reduce_f32
//   Computes   out[t][h] = Σ_k w[t·K + k] · y[t·K + k][h]
//                        + σ(shared_gate[t]) · y_shared[t][h]     (when HAS_SHARED)
//                        + residual[t][h]                         (when ADD_RESIDUAL)
//              σ(g) = 1 / (1 + e^(−g)) of the raw gate logit, precise exp; f32 fma over k in
//              order, then the shared term, then the residual.
//   Bindings   buffer(0) params       constant MoeWeightedReduceParams (setBytes, 16 bytes)
//              buffer(1) w            float[tokens · top_k]  (routing weights)
//              buffer(2) y            float[tokens · top_k · hidden]  (expert outputs, slot-major)
//              buffer(3) shared_gate  float[tokens]  (read only with HAS_SHARED)
//              buffer(4) y_shared     float[tokens · hidden]  (read only with HAS_SHARED)
//              buffer(5) residual     float[tokens · hidden]  (read only with ADD_RESIDUAL)
//              buffer(6) out          float[tokens · hidden]; may be residual or y_shared (each
//                                     element is read and written by one thread)
//              Unused bindings must still be bound (any buffer).
//   Geometry   threads-grid (hidden, tokens, 1), any threadgroup shape; bounds-checked
//              (mlx-native hard-coded a width of 256).

#include <metal_stdlib>
using namespace metal;

// Bits of MoeWeightedReduceParams::flags.
constant constexpr uint MOE_REDUCE_ADD_RESIDUAL = 1;
constant constexpr uint MOE_REDUCE_HAS_SHARED = 2;

struct MoeWeightedReduceParams {
  uint tokens;  // tokens
  uint top_k;   // experts per token
  uint hidden;  // row length
  uint flags;   // MOE_REDUCE_ADD_RESIDUAL | MOE_REDUCE_HAS_SHARED
};

[[kernel]] void moe_weighted_reduce_f32(
    constant MoeWeightedReduceParams& params [[buffer(0)]],
    device const float* w [[buffer(1)]],
    device const float* y [[buffer(2)]],
    device const float* shared_gate [[buffer(3)]],
    device const float* y_shared [[buffer(4)]],
    device const float* residual [[buffer(5)]],
    device float* out [[buffer(6)]],
    uint2 gid [[thread_position_in_grid]]) {
  const uint h = gid.x;
  const uint t = gid.y;
  const uint hidden = params.hidden;
  if (h >= hidden || t >= params.tokens) {
    return;
  }
  const size_t first = size_t(t) * params.top_k;
  float acc = 0.0f;
  for (uint k = 0; k < params.top_k; ++k) {
    acc = fma(w[first + k], y[(first + k) * hidden + h], acc);
  }
  const size_t element = size_t(t) * hidden + h;
  if ((params.flags & MOE_REDUCE_HAS_SHARED) != 0) {
    const float gate = 1.0f / (1.0f + precise::exp(-shared_gate[t]));
    acc = fma(gate, y_shared[element], acc);
  }
  if ((params.flags & MOE_REDUCE_ADD_RESIDUAL) != 0) {
    acc += residual[element];
  }
  out[element] = acc;
}
