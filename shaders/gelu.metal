// gelu.metal — GELU, tanh approximation (the "gelu_pytorch_tanh" of Gemma and GPT-2), element-wise.
//
// Kernels gelu_f32, gelu_f16, gelu_bf16
//   Computes   out[i] = 0.5 * x * (1 + tanh(u)),  u = sqrt(2/pi) * (x + 0.044715 * x^3),  i < n
//              evaluated in the equal form  x * sigmoid(2u) = x / (1 + exp(-2u)).  The tanh form
//              cancels catastrophically for negative x (1 + tanh(u) -> 0 long before the result
//              underflows); the sigmoid form keeps full relative accuracy there, and needs no
//              clamp: exp(-2u) overflowing to +inf gives -0, the exact limit. (mlx-native clamped
//              u to +-15 to keep fast-math tanh finite; its f32 results for x < -4 were 0 or
//              off by more than 1%.) This is the tanh approximation, not the erf GELU.
//   NaN        A NaN input gives NaN (on the CPU backend; Metal's fast math promises nothing).
//   Bindings   buffer(0) in      T[n]
//              buffer(1) out     T[n]; may be the same buffer as `in`
//              buffer(2) params  constant ActivationParams { uint n; }   (setBytes, 4 bytes)
//   Dtypes     T = float, half, bfloat (storage); f32 arithmetic, one rounding on store.
//              gelu_bf16 exists only where the compiler has bfloat (__HAVE_BFLOAT__).
//   Geometry   threads-grid (ceil(n / ACTIVATION_N_READS), 1, 1), any threadgroup width. Each
//              thread owns ACTIVATION_N_READS consecutive elements: one aligned 4-vector load
//              and store when all four are in range, element by element in the tail. Every
//              thread bounds-checks (mlx-native had no bound check: its grid had to equal n).

#include <metal_stdlib>
using namespace metal;

// Elements per thread. Mirrored by ACTIVATION_N_READS in ops/_defines.ts (a test reads this line).
constant constexpr uint ACTIVATION_N_READS = 4;

constant constexpr float GELU_SQRT_2_OVER_PI = 0.7978845608028654f;
constant constexpr float GELU_COEF = 0.044715f;

struct ActivationParams {
  uint n;  // element count
};

static inline float gelu_tanh(float x) {
  const float u = GELU_SQRT_2_OVER_PI * x * (1.0f + GELU_COEF * x * x);
  return x / (1.0f + exp(-2.0f * u));
}

// True when thread `base` owns a full 4-vector of the n elements (no overflow near 2^32).
static inline bool full_vector(uint base, uint n) {
  return base < n && n - base >= ACTIVATION_N_READS;
}

template <typename T>
[[kernel]] void gelu(
    device const T* in [[buffer(0)]],
    device T* out [[buffer(1)]],
    constant ActivationParams& params [[buffer(2)]],
    uint gid [[thread_position_in_grid]]) {
  const uint n = params.n;
  const uint base = gid * ACTIVATION_N_READS;
  if (full_vector(base, n)) {
    const vec<T, 4> v = *reinterpret_cast<device const vec<T, 4>*>(in + base);
    vec<T, 4> r;
    for (uint k = 0; k < ACTIVATION_N_READS; ++k) {
      r[k] = static_cast<T>(gelu_tanh(float(v[k])));
    }
    *reinterpret_cast<device vec<T, 4>*>(out + base) = r;
  } else {
    for (uint i = base; i < n; ++i) {
      out[i] = static_cast<T>(gelu_tanh(float(in[i])));
    }
  }
}

template [[host_name("gelu_f32")]] [[kernel]] decltype(gelu<float>) gelu<float>;
template [[host_name("gelu_f16")]] [[kernel]] decltype(gelu<half>) gelu<half>;

// bfloat needs MSL 3.1 (macOS 14); without it gelu_bf16 is absent, f32/f16 still compile.
#if defined(__HAVE_BFLOAT__)
template [[host_name("gelu_bf16")]] [[kernel]] decltype(gelu<bfloat>) gelu<bfloat>;
#endif
