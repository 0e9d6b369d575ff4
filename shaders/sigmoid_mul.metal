// sigmoid_mul.metal — sigmoid-gated product (the Qwen3.5 / Qwen3-Next attention output gate).
//
// Kernels sigmoid_mul_f32, sigmoid_mul_bf16
//   Computes   out[i] = x[i] * sigmoid(gate[i]) = x[i] / (1 + exp(-gate[i])),  i < n
//              exp(-gate) overflowing to +inf gives x / inf = 0, the exact limit.
//   NaN        NaN in x or gate gives NaN (on the CPU backend; Metal's fast math promises nothing).
//   Bindings   buffer(0) x       T[n]
//              buffer(1) gate    T[n]
//              buffer(2) out     T[n]; may be the same buffer as `x` or `gate`
//              buffer(3) params  constant ActivationParams { uint n; }   (setBytes, 4 bytes)
//                                (mlx-native read n from a device uint buffer)
//   Dtypes     T = float, bfloat (storage); f32 arithmetic, one rounding on store.
//              sigmoid_mul_bf16 exists only where the compiler has bfloat (__HAVE_BFLOAT__).
//   Geometry   threads-grid (ceil(n / ACTIVATION_N_READS), 1, 1), any threadgroup width; each
//              thread owns ACTIVATION_N_READS consecutive elements (aligned 4-vectors when all are
//              in range, element by element in the tail), bounds-checked.

#include <metal_stdlib>
using namespace metal;

// Elements per thread. Mirrored by ACTIVATION_N_READS in ops/_defines.ts (a test reads this line).
constant constexpr uint ACTIVATION_N_READS = 4;

struct ActivationParams {
  uint n;  // element count
};

// True when thread `base` owns a full 4-vector of the n elements (no overflow near 2^32).
static inline bool full_vector(uint base, uint n) {
  return base < n && n - base >= ACTIVATION_N_READS;
}

template <typename T>
[[kernel]] void sigmoid_mul(
    device const T* x [[buffer(0)]],
    device const T* gate [[buffer(1)]],
    device T* out [[buffer(2)]],
    constant ActivationParams& params [[buffer(3)]],
    uint gid [[thread_position_in_grid]]) {
  const uint n = params.n;
  const uint base = gid * ACTIVATION_N_READS;
  if (full_vector(base, n)) {
    const vec<T, 4> vx = *reinterpret_cast<device const vec<T, 4>*>(x + base);
    const vec<T, 4> vg = *reinterpret_cast<device const vec<T, 4>*>(gate + base);
    vec<T, 4> r;
    for (uint k = 0; k < ACTIVATION_N_READS; ++k) {
      r[k] = static_cast<T>(float(vx[k]) / (1.0f + exp(-float(vg[k]))));
    }
    *reinterpret_cast<device vec<T, 4>*>(out + base) = r;
  } else {
    for (uint i = base; i < n; ++i) {
      out[i] = static_cast<T>(float(x[i]) / (1.0f + exp(-float(gate[i]))));
    }
  }
}

template [[host_name("sigmoid_mul_f32")]] [[kernel]] decltype(sigmoid_mul<float>) sigmoid_mul<float>;

// bfloat needs MSL 3.1 (macOS 14); without it sigmoid_mul_bf16 is absent, f32 still compiles.
#if defined(__HAVE_BFLOAT__)
template [[host_name("sigmoid_mul_bf16")]] [[kernel]] decltype(sigmoid_mul<bfloat>) sigmoid_mul<bfloat>;
#endif
