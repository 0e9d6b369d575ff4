// moe_dispatch.metal — the element-wise helpers around the expert matmuls of a
// mixture-of-experts block (Gemma-style dispatch): gated activations of the experts' gate/up
// projections, weighted sums of the experts' outputs, a zero fill, a reference mat-vec and
// the gathering of the top-k routing weights.
//
// NAMING TRAP. The three `moe_swiglu_*` kernels (catalogue names kept for compatibility)
// compute GeGLU, gelu(gate) · up, exactly as the fused_gelu_mul kernels do; they do NOT
// compute SwiGLU (silu(gate) · up: silu_mul.metal). The op helpers call them moeGeglu*.
//
// GELU   gelu(x) = 0.5·x·(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³), the tanh approximation,
//        evaluated as the equal x / (1 + e^(−2u)) with precise exp (as gelu.metal: no
//        cancellation for negative x, no clamp needed: e^(−2u) = +inf gives the exact limit
//        −0). mlx-native clamped u to ±15 in some of these kernels and not in others; in f32
//        tanh(±15) is ±1 exactly, so the clamp never changed a result.
//
// Kernels and bindings (all arithmetic f32; one rounding on each store; params by setBytes)
//   fused_gelu_mul               out[i] = gelu(gate[i]) · up[i], i < n          (float)
//   fused_gelu_mul_bf16          the same in bf16 storage
//       buffer(0) gate T[n], buffer(1) up T[n], buffer(2) out T[n] (may be gate or up),
//       buffer(3) constant MoeCount { uint n; }.                 Grid: threads (n).
//   moe_swiglu_fused             GeGLU of one concatenated row: in = gate ‖ up, T[2n]:
//                                out[i] = gelu(in[i]) · in[n + i]
//       buffer(0) in float[2n], buffer(1) out float[n], buffer(2) MoeCount { n }.  Grid (n).
//   moe_swiglu_batch             GeGLU of top_k rows [top_k, 2·inter] → [top_k, inter]
//       buffer(0) in float, buffer(1) out float, buffer(2) constant uint& inter,
//       buffer(3) constant uint& top_k (two scalars, as mlx-native).   Grid (inter, top_k).
//   moe_swiglu_seq               GeGLU of [tokens, top_k, 2·inter] → [tokens, top_k, inter]
//   moe_swiglu_seq_bf16          the same in bf16 storage
//       buffer(0) in T, buffer(1) out T, buffer(2) constant MoeSeqParams { inter; top_k;
//       tokens; }.                                               Grid (inter, top_k, tokens).
//   moe_accumulate               acc[i] += weight · y[i]
//       buffer(0) acc float[n], buffer(1) y float[n], buffer(2) MoeAccumulateParams
//       { uint n; float weight; }.                               Grid (n).
//   zero_buffer                  buf[i] = 0
//       buffer(0) buf float[n], buffer(1) MoeCount { n }.        Grid (n).
//   moe_weighted_sum             out[d] = Σ_k y[k][d] · w[k], y [top_k, hidden]
//       buffer(0) y float, buffer(1) w float[top_k], buffer(2) out float[hidden],
//       buffer(3) MoeSumParams { hidden; top_k; tokens (= 1); }.   Grid (hidden).
//   moe_weighted_sum_seq         out[t][d] = Σ_k y[t][k][d] · w[t][k]
//   moe_weighted_sum_seq_bf16_input   the same with y in bf16 (w and out f32)
//       buffer(0) y T[tokens·top_k·hidden], buffer(1) w float[tokens·top_k],
//       buffer(2) out float[tokens·hidden], buffer(3) MoeSumParams.  Grid (hidden, tokens).
//   naive_matvec_f32             out[r] = Σ_c W[r][c] · x[c], W [rows, cols]; one thread per row
//       buffer(0) W float, buffer(1) x float[cols], buffer(2) out float[rows],
//       buffer(3) MoeMatvecParams { uint m (unused, kept from the source layout); cols; rows; }.
//       Grid (rows). A correctness reference, not a fast path (dense_gemm.metal is that).
//   moe_gather_topk_weights      for the top_k experts ranked in sorted (e.g. by argsort):
//                                ids[j] = sorted[j], p_j = probs[ids[j]],
//                                w[j] = p_j / Σ_j' p_j' · scale[ids[j]]  (renormalise, then
//                                scale; no second renormalisation; Σ = 0 gives all-0 weights)
//       buffer(0) probs float[n_experts], buffer(1) sorted uint[≥ top_k],
//       buffer(2) scale float[n_experts], buffer(3) ids uint[top_k], buffer(4) w float[top_k],
//       buffer(5) MoeGatherParams { n_experts; top_k; }.  Grid (1): one thread, k is small.
// Geometry  threads-grids, any threadgroup shape; every kernel bounds-checks. The bf16
//           kernels only where the compiler has bfloat (__HAVE_BFLOAT__).
// Aliasing  Outputs may be an input of the same element (gelu-mul, accumulate); the
//           weighted sums and moe_swiglu_* read other elements, so their outputs are separate.

#include <metal_stdlib>
using namespace metal;

constant constexpr float GEGLU_SQRT_2_OVER_PI = 0.7978845608028654f;
constant constexpr float GEGLU_COEF = 0.044715f;

struct MoeCount {
  uint n;  // element count
};

struct MoeSeqParams {
  uint inter;   // intermediate size: width of each GeGLU output row
  uint top_k;   // experts per token
  uint tokens;  // tokens
};

struct MoeAccumulateParams {
  uint n;        // element count
  float weight;  // routing weight of this expert's output
};

struct MoeSumParams {
  uint hidden;  // row length of y and out
  uint top_k;   // experts per token
  uint tokens;  // tokens (1 for moe_weighted_sum)
};

struct MoeMatvecParams {
  uint m;     // unused
  uint cols;  // length of x
  uint rows;  // rows of W, length of out
};

struct MoeGatherParams {
  uint n_experts;  // length of probs and scale
  uint top_k;      // entries gathered
};

static inline float geglu(float gate, float up) {
  const float u = GEGLU_SQRT_2_OVER_PI * gate * (1.0f + GEGLU_COEF * gate * gate);
  return gate / (1.0f + precise::exp(-2.0f * u)) * up;
}

template <typename T>
[[kernel]] void fused_gelu_mul_rows(
    device const T* gate [[buffer(0)]],
    device const T* up [[buffer(1)]],
    device T* out [[buffer(2)]],
    constant MoeCount& params [[buffer(3)]],
    uint i [[thread_position_in_grid]]) {
  if (i < params.n) {
    out[i] = static_cast<T>(geglu(float(gate[i]), float(up[i])));
  }
}

[[kernel]] void moe_swiglu_fused(
    device const float* in [[buffer(0)]],
    device float* out [[buffer(1)]],
    constant MoeCount& params [[buffer(2)]],
    uint i [[thread_position_in_grid]]) {
  if (i < params.n) {
    out[i] = geglu(in[i], in[params.n + i]);
  }
}

[[kernel]] void moe_swiglu_batch(
    device const float* in [[buffer(0)]],
    device float* out [[buffer(1)]],
    constant uint& inter [[buffer(2)]],
    constant uint& top_k [[buffer(3)]],
    uint2 gid [[thread_position_in_grid]]) {
  const uint i = gid.x;
  const uint slot = gid.y;
  if (i < inter && slot < top_k) {
    device const float* row = in + size_t(slot) * 2 * inter;
    out[size_t(slot) * inter + i] = geglu(row[i], row[inter + i]);
  }
}

template <typename T>
[[kernel]] void moe_swiglu_seq_rows(
    device const T* in [[buffer(0)]],
    device T* out [[buffer(1)]],
    constant MoeSeqParams& params [[buffer(2)]],
    uint3 gid [[thread_position_in_grid]]) {
  const uint i = gid.x;
  const uint slot = gid.y;
  const uint token = gid.z;
  const uint inter = params.inter;
  if (i < inter && slot < params.top_k && token < params.tokens) {
    const size_t row = size_t(token) * params.top_k + slot;
    device const T* src = in + row * 2 * inter;
    out[row * inter + i] = static_cast<T>(geglu(float(src[i]), float(src[inter + i])));
  }
}

[[kernel]] void moe_accumulate(
    device float* acc [[buffer(0)]],
    device const float* y [[buffer(1)]],
    constant MoeAccumulateParams& params [[buffer(2)]],
    uint i [[thread_position_in_grid]]) {
  if (i < params.n) {
    acc[i] = fma(params.weight, y[i], acc[i]);
  }
}

[[kernel]] void zero_buffer(
    device float* buf [[buffer(0)]],
    constant MoeCount& params [[buffer(1)]],
    uint i [[thread_position_in_grid]]) {
  if (i < params.n) {
    buf[i] = 0.0f;
  }
}

// out[token][d] = Σ_k y[token][k][d] · w[token][k] (f32 fma in k order).
template <typename T>
static inline float weighted_sum(
    device const T* y, device const float* w, uint hidden, uint top_k, uint token, uint d) {
  const size_t first = size_t(token) * top_k;
  float acc = 0.0f;
  for (uint k = 0; k < top_k; ++k) {
    acc = fma(float(y[(first + k) * hidden + d]), w[first + k], acc);
  }
  return acc;
}

[[kernel]] void moe_weighted_sum(
    device const float* y [[buffer(0)]],
    device const float* w [[buffer(1)]],
    device float* out [[buffer(2)]],
    constant MoeSumParams& params [[buffer(3)]],
    uint d [[thread_position_in_grid]]) {
  if (d < params.hidden) {
    out[d] = weighted_sum(y, w, params.hidden, params.top_k, 0, d);
  }
}

template <typename T>
[[kernel]] void moe_weighted_sum_seq_rows(
    device const T* y [[buffer(0)]],
    device const float* w [[buffer(1)]],
    device float* out [[buffer(2)]],
    constant MoeSumParams& params [[buffer(3)]],
    uint2 gid [[thread_position_in_grid]]) {
  const uint d = gid.x;
  const uint token = gid.y;
  if (d < params.hidden && token < params.tokens) {
    out[size_t(token) * params.hidden + d] =
        weighted_sum(y, w, params.hidden, params.top_k, token, d);
  }
}

[[kernel]] void naive_matvec_f32(
    device const float* w [[buffer(0)]],
    device const float* x [[buffer(1)]],
    device float* out [[buffer(2)]],
    constant MoeMatvecParams& params [[buffer(3)]],
    uint r [[thread_position_in_grid]]) {
  if (r < params.rows) {
    device const float* row = w + size_t(r) * params.cols;
    float acc = 0.0f;
    for (uint c = 0; c < params.cols; ++c) {
      acc = fma(row[c], x[c], acc);
    }
    out[r] = acc;
  }
}

[[kernel]] void moe_gather_topk_weights(
    device const float* probs [[buffer(0)]],
    device const uint* sorted [[buffer(1)]],
    device const float* scale [[buffer(2)]],
    device uint* ids [[buffer(3)]],
    device float* w [[buffer(4)]],
    constant MoeGatherParams& params [[buffer(5)]],
    uint gid [[thread_position_in_grid]]) {
  if (gid != 0) {
    return;
  }
  float total = 0.0f;
  for (uint j = 0; j < params.top_k; ++j) {
    total += probs[sorted[j]];
  }
  const float inverse = total != 0.0f ? 1.0f / total : 0.0f;
  for (uint j = 0; j < params.top_k; ++j) {
    const uint e = sorted[j];
    ids[j] = e;
    w[j] = probs[e] * inverse * scale[e];
  }
}

template [[host_name("fused_gelu_mul")]] [[kernel]]
decltype(fused_gelu_mul_rows<float>) fused_gelu_mul_rows<float>;
template [[host_name("moe_swiglu_seq")]] [[kernel]]
decltype(moe_swiglu_seq_rows<float>) moe_swiglu_seq_rows<float>;
template [[host_name("moe_weighted_sum_seq")]] [[kernel]]
decltype(moe_weighted_sum_seq_rows<float>) moe_weighted_sum_seq_rows<float>;

// bfloat needs MSL 3.1 (macOS 14); without it the bf16 kernels are absent, the rest compiles.
#if defined(__HAVE_BFLOAT__)
template [[host_name("fused_gelu_mul_bf16")]] [[kernel]]
decltype(fused_gelu_mul_rows<bfloat>) fused_gelu_mul_rows<bfloat>;
template [[host_name("moe_swiglu_seq_bf16")]] [[kernel]]
decltype(moe_swiglu_seq_rows<bfloat>) moe_swiglu_seq_rows<bfloat>;
template [[host_name("moe_weighted_sum_seq_bf16_input")]] [[kernel]]
decltype(moe_weighted_sum_seq_rows<bfloat>) moe_weighted_sum_seq_rows<bfloat>;
#endif
