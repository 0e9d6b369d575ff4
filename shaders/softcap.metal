// softcap.metal — logit soft-capping (Gemma 2/3 attention and final logits), element-wise.
//
// Kernels softcap_f32, softcap_f16, softcap_bf16
//   Computes   out[i] = cap * tanh(x[i] / cap),  i < n,  cap > 0 (the host checks it).
//              Smoothly bounds |out| below cap; near 0 it is the identity. tanh is
//              precise::tanh: fast-math tanh may lose relative accuracy near 0 and (the reason
//              mlx-native clamped its argument) misbehave for large arguments; this kernel is
//              memory-bound, so the precise form costs nothing measurable.
//   Edge       +-inf -> +-cap; NaN -> NaN (on the CPU backend; Metal's fast math promises
//              nothing for NaN).
//   Bindings   buffer(0) in      T[n]
//              buffer(1) out     T[n]; may be the same buffer as `in`
//              buffer(2) params  constant SoftcapParams { float cap; uint n; }   (setBytes, 8 bytes)
//                                (mlx-native passed a device float2 with n bit-cast into a float)
//   Dtypes     T = float, half, bfloat (storage); f32 arithmetic, one rounding on store.
//              softcap_bf16 exists only where the compiler has bfloat (__HAVE_BFLOAT__).
//   Geometry   threads-grid (ceil(n / ACTIVATION_N_READS), 1, 1), any threadgroup width; each
//              thread owns ACTIVATION_N_READS consecutive elements (one aligned 4-vector when all
//              are in range, element by element in the tail), bounds-checked.

#include <metal_stdlib>
using namespace metal;

// Elements per thread. Mirrored by ACTIVATION_N_READS in ops/_defines.ts (a test reads this line).
constant constexpr uint ACTIVATION_N_READS = 4;

struct SoftcapParams {
  float cap;  // > 0
  uint n;     // element count
};

// True when thread `base` owns a full 4-vector of the n elements (no overflow near 2^32).
static inline bool full_vector(uint base, uint n) {
  return base < n && n - base >= ACTIVATION_N_READS;
}

template <typename T>
[[kernel]] void softcap(
    device const T* in [[buffer(0)]],
    device T* out [[buffer(1)]],
    constant SoftcapParams& params [[buffer(2)]],
    uint gid [[thread_position_in_grid]]) {
  const uint n = params.n;
  const float cap = params.cap;
  const float inv_cap = 1.0f / cap;
  const uint base = gid * ACTIVATION_N_READS;
  if (full_vector(base, n)) {
    const vec<T, 4> v = *reinterpret_cast<device const vec<T, 4>*>(in + base);
    vec<T, 4> r;
    for (uint k = 0; k < ACTIVATION_N_READS; ++k) {
      r[k] = static_cast<T>(cap * precise::tanh(float(v[k]) * inv_cap));
    }
    *reinterpret_cast<device vec<T, 4>*>(out + base) = r;
  } else {
    for (uint i = base; i < n; ++i) {
      out[i] = static_cast<T>(cap * precise::tanh(float(in[i]) * inv_cap));
    }
  }
}

template [[host_name("softcap_f32")]] [[kernel]] decltype(softcap<float>) softcap<float>;
template [[host_name("softcap_f16")]] [[kernel]] decltype(softcap<half>) softcap<half>;

// bfloat needs MSL 3.1 (macOS 14); without it softcap_bf16 is absent, f32/f16 still compile.
#if defined(__HAVE_BFLOAT__)
template [[host_name("softcap_bf16")]] [[kernel]] decltype(softcap<bfloat>) softcap<bfloat>;
#endif
