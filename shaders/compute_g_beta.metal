// compute_g_beta.metal — the per-token, per-head gates of a Gated DeltaNet layer: the decay
// rate g and the write strength beta, from the projections a and b.
//
// Kernel compute_g_beta_f32
//   Computes   for t < n_tokens, h < n_heads, i = t * n_heads + h:
//                g[i]    = softplus(a[i] + dt_bias[h]) * (-ssm_a[h])
//                beta[i] = sigmoid(b[i]) = 1 / (1 + exp(-b[i]))
//              ssm_a holds -exp(A_log) as checkpoints store it (negative), so g >= 0 is a
//              decay RATE: the delta rule later scales its state by exp(-g).
//              softplus(x) = x for x > 20, 0 for x < -20, else log(1 + e^x) (the clamp the
//              models use). log(1 + u) of a small u = e^x loses u's digits in 1 + u, so below
//              u = 1/32 the kernel sums the series u - u^2/2 + u^3/3 - u^4/4 + u^5/5 (relative
//              error < 1e-8 there) instead; above it log(1 + u) is within a few f32 ulps.
//   Bindings   buffer(0) a        float[n_tokens * n_heads], token-major ([t][h])
//              buffer(1) b        float[n_tokens * n_heads]
//              buffer(2) dt_bias  float[n_heads]
//              buffer(3) ssm_a    float[n_heads]
//              buffer(4) g        float[n_tokens * n_heads]; may be the buffer of a
//              buffer(5) beta     float[n_tokens * n_heads]; may be the buffer of b; not g's
//              buffer(6) params   constant GBetaParams { uint n_heads; uint n; }  (setBytes,
//                                 8 bytes; n = n_tokens * n_heads. mlx-native bound a device
//                                 uint buffer (n_heads, n_tokens))
//              Each thread reads its a, b before writing its g, beta, so the aliases above
//              are safe.
//   Dtypes     f32 only (the seed's one name); f32 arithmetic.
//   Geometry   threads-grid (n, 1, 1), any threadgroup width; thread i handles element i, so
//              a SIMD-group reads 32 consecutive a and b values. Bounds-checked against n.

#include <metal_stdlib>
using namespace metal;

struct GBetaParams {
  uint n_heads;  // heads per token: the period of dt_bias and ssm_a
  uint n;        // n_tokens * n_heads
};

// softplus with the models' clamp at +-20; accurate to f32 precision down to -20.
static inline float clamped_softplus(float x) {
  if (x > 20.0f) {
    return x;
  }
  if (x < -20.0f) {
    return 0.0f;
  }
  const float u = precise::exp(x);
  if (u < 0.03125f) {
    return u * (1.0f - u * (0.5f - u * (1.0f / 3.0f - u * (0.25f - u * 0.2f))));
  }
  return precise::log(1.0f + u);
}

[[kernel]] void compute_g_beta_f32(
    device const float* a [[buffer(0)]],
    device const float* b [[buffer(1)]],
    device const float* dt_bias [[buffer(2)]],
    device const float* ssm_a [[buffer(3)]],
    device float* g [[buffer(4)]],
    device float* beta [[buffer(5)]],
    constant GBetaParams& params [[buffer(6)]],
    uint i [[thread_position_in_grid]]) {
  if (i >= params.n) {
    return;
  }
  const uint h = i % params.n_heads;
  const float a_i = a[i];
  const float b_i = b[i];
  g[i] = clamped_softplus(a_i + dt_bias[h]) * -ssm_a[h];
  beta[i] = 1.0f / (1.0f + precise::exp(-b_i));
}
