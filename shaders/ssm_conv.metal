// ssm_conv.metal — the short causal convolution that opens a Gated DeltaNet (Qwen3-Next) or
// Mamba layer: depthwise (one filter per channel) over the token axis, followed by SiLU, with
// the last width − 1 inputs of each sequence carried to the next call as a rolling state.
//
// Shapes (row-major, last index fastest)
//   x, y    [seqs, tokens, channels]     one call's inputs and outputs
//   w       [channels, width]            tap k of channel c at c * width + k; tap width − 1
//                                        multiplies the newest input
//   state   [seqs, channels, width − 1]  the previous inputs of each channel, oldest first
//   Per sequence and channel the kernels see the extended input
//     ext[j] = state[j]                  for j < width − 1
//     ext[width − 1 + t] = x[t]          for t < tokens
//
// Kernels ssm_conv_forward_f32, ssm_conv_forward_bf16
//   Computes   y[s][t][c] = silu(sum_{k < width} w[c][k] * ext[t + k]),  silu(z) = z / (1 + e^-z)
//              f32 products and sum (fma), precise exp; no bias; one rounding on store.
//   Bindings   buffer(0) x       T[seqs * tokens * channels]
//              buffer(1) w       T[channels * width]
//              buffer(2) state   T[seqs * channels * (width − 1)], the state before this call
//              buffer(3) y       T[seqs * tokens * channels]; NOT x (other threads still read
//                                the x a thread would overwrite)
//              buffer(4) params  constant SsmConvParams (setBytes, 16 bytes; mlx-native bound
//                                a device uint buffer)
//   Geometry   threads-grid (channels, tokens, seqs), any threadgroup shape; bounds-checked.
//              A SIMD-group's 32 channels read 32 consecutive x and y elements per tap.
//
// Kernels ssm_conv_state_update_f32, ssm_conv_state_update_bf16
//   Computes   new_state[s][c][i] = ext[tokens + i] for i < width − 1: the last width − 1
//              inputs, reaching back into the old state when tokens < width − 1. An exact copy.
//   Bindings   buffer(0) x          as above
//              buffer(1) state      the state before this call
//              buffer(2) new_state  T[seqs * channels * (width − 1)]; NOT state (a thread
//                                   reads old entries other threads overwrite)
//              buffer(3) params     as above
//   Geometry   threads-grid (width − 1, channels, seqs), any threadgroup shape; bounds-checked.
//   The two kernels only read x and state, so they may run in either order within one call;
//   the next call reads new_state (ops/ssm_conv.ts encodes both, forward first).
//
// Dtypes  T = float, bfloat (storage). bf16 kernels only where the compiler has bfloat
//         (__HAVE_BFLOAT__: MSL 3.1 / macOS 14+, CPU backend).

#include <metal_stdlib>
using namespace metal;

struct SsmConvParams {
  uint channels;  // conv channels (the layer's q, k and v projections side by side)
  uint tokens;    // tokens of this call
  uint seqs;      // independent sequences, each with its own state
  uint width;     // taps per channel, >= 2
};

template <typename T>
[[kernel]] void ssm_conv_forward(
    device const T* x [[buffer(0)]],
    device const T* w [[buffer(1)]],
    device const T* state [[buffer(2)]],
    device T* y [[buffer(3)]],
    constant SsmConvParams& params [[buffer(4)]],
    uint3 gid [[thread_position_in_grid]]) {
  const uint c = gid.x;
  const uint t = gid.y;
  const uint s = gid.z;
  const uint channels = params.channels;
  const uint tokens = params.tokens;
  const uint width = params.width;
  if (c >= channels || t >= tokens || s >= params.seqs) {
    return;
  }
  const uint history = width - 1;
  device const T* taps = w + size_t(c) * width;
  device const T* old = state + (size_t(s) * channels + c) * history;
  device const T* xs = x + size_t(s) * tokens * channels + c;

  float acc = 0.0f;
  for (uint k = 0; k < width; ++k) {
    const uint j = t + k;  // index into ext
    const float value = j < history ? float(old[j]) : float(xs[size_t(j - history) * channels]);
    acc = fma(float(taps[k]), value, acc);
  }
  const float out = acc / (1.0f + precise::exp(-acc));
  y[(size_t(s) * tokens + t) * channels + c] = static_cast<T>(out);
}

template <typename T>
[[kernel]] void ssm_conv_state_update(
    device const T* x [[buffer(0)]],
    device const T* state [[buffer(1)]],
    device T* new_state [[buffer(2)]],
    constant SsmConvParams& params [[buffer(3)]],
    uint3 gid [[thread_position_in_grid]]) {
  const uint i = gid.x;
  const uint c = gid.y;
  const uint s = gid.z;
  const uint channels = params.channels;
  const uint tokens = params.tokens;
  const uint history = params.width - 1;
  if (i >= history || c >= channels || s >= params.seqs) {
    return;
  }
  const size_t row = (size_t(s) * channels + c) * history;
  const uint j = tokens + i;  // index into ext
  new_state[row + i] = j < history
                           ? state[row + j]
                           : x[(size_t(s) * tokens + (j - history)) * channels + c];
}

template [[host_name("ssm_conv_forward_f32")]] [[kernel]]
decltype(ssm_conv_forward<float>) ssm_conv_forward<float>;
template [[host_name("ssm_conv_state_update_f32")]] [[kernel]]
decltype(ssm_conv_state_update<float>) ssm_conv_state_update<float>;

// bfloat needs MSL 3.1 (macOS 14); without it the bf16 kernels are absent, f32 still compiles.
#if defined(__HAVE_BFLOAT__)
template [[host_name("ssm_conv_forward_bf16")]] [[kernel]]
decltype(ssm_conv_forward<bfloat>) ssm_conv_forward<bfloat>;
template [[host_name("ssm_conv_state_update_bf16")]] [[kernel]]
decltype(ssm_conv_state_update<bfloat>) ssm_conv_state_update<bfloat>;
#endif
