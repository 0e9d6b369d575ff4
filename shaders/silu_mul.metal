// silu_mul.metal — SwiGLU combine: SiLU of the gate projection times the up projection
// (the Llama / Qwen / Mistral MLP).
//
// Kernel silu_mul_f32
//   Computes   out[i] = silu(gate[i]) * up[i] = gate[i] * up[i] / (1 + exp(-gate[i])),  i < n
//              exp(-gate) overflowing to +inf gives 0, the exact limit.
//   NaN        NaN in gate or up gives NaN (on the CPU backend; Metal's fast math promises nothing).
//   Bindings   buffer(0) gate    float[n]
//              buffer(1) up      float[n]
//              buffer(2) out     float[n]; may be the same buffer as `gate` or `up`
//              buffer(3) params  constant ActivationParams { uint n; }   (setBytes, 4 bytes)
//                                (mlx-native read n from a device uint buffer)
//   Geometry   threads-grid (ceil(n / ACTIVATION_N_READS), 1, 1), any threadgroup width; each
//              thread owns ACTIVATION_N_READS consecutive elements (aligned float4 when all are in
//              range, element by element in the tail), bounds-checked.

#include <metal_stdlib>
using namespace metal;

// Elements per thread. Mirrored by ACTIVATION_N_READS in ops/_defines.ts (a test reads this line).
constant constexpr uint ACTIVATION_N_READS = 4;

struct ActivationParams {
  uint n;  // element count
};

[[kernel]] void silu_mul_f32(
    device const float* gate [[buffer(0)]],
    device const float* up [[buffer(1)]],
    device float* out [[buffer(2)]],
    constant ActivationParams& params [[buffer(3)]],
    uint gid [[thread_position_in_grid]]) {
  const uint n = params.n;
  const uint base = gid * ACTIVATION_N_READS;
  if (base < n && n - base >= ACTIVATION_N_READS) {
    const float4 g = *reinterpret_cast<device const float4*>(gate + base);
    const float4 u = *reinterpret_cast<device const float4*>(up + base);
    *reinterpret_cast<device float4*>(out + base) = g * u / (1.0f + exp(-g));
  } else {
    for (uint i = base; i < n; ++i) {
      const float g = gate[i];
      out[i] = g * up[i] / (1.0f + exp(-g));
    }
  }
}
