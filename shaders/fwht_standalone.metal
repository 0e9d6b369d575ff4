// fwht_standalone.metal — the orthonormal fast Walsh–Hadamard transform of head vectors, in
// place, with or without the TurboQuant ±1 signs: the rotation that takes a query into the
// domain of the TurboQuant KV cache, and the one that takes the attention output back.
//
// Kernels (D = 256 or 512; H = Sylvester–Hadamard, H[i][j] = (-1)^popcount(i & j); s = the
// TurboQuant sign vector, coordinate j negated when bit (j & 7) of TQ_SIGN_BYTES[j >> 3] is set)
//   fwht_standalone_f32_d{256,512}   y = H·x / sqrt(D)
//   fwht_sign_premult_f32_d{256,512} y = H·(s ⊙ x) / sqrt(D) = T(x)      (rotate Q)
//   fwht_sign_undo_f32_d{256,512}    y = s ⊙ (H·x / sqrt(D)) = T^-1(x)   (un-rotate O)
//   H/sqrt(D) is symmetric and orthogonal, so each sign variant inverts the other and the plain
//   one is its own inverse. 1/sqrt(256) = 1/16 is exact; 1/sqrt(512) is the nearest float.
// Bindings   buffer(0) data    float[num_heads * D], rows of D, transformed in place
//            buffer(1) params  constant FwhtParams { uint head_dim; uint num_heads; } (setBytes;
//                              head_dim must equal the kernel's D: the host checks it)
// Geometry   TG-grid (ceil(num_heads / S), 1, 1), threadgroups of 32·S threads: one SIMD-group
//            per head (S = 1 on the CPU backend, up to 4 on a GPU: ops/turboquant.ts). SIMD-groups
//            past the last head return at once (whole SIMD-groups, so no collective is left
//            waiting).
// Algorithm  Lane l holds coordinates l·E … l·E + E − 1 (E = D/32) as E/4 float4s, loaded and
//            stored as float4. The transform is one butterfly stage per index bit: bits 0–1 inside
//            a float4 (swizzles), bits 2 … log2(E) − 1 between the lane's float4s, and the five
//            lane bits with simd_shuffle_xor (the lower lane keeps a + b, the upper a − b). No
//            threadgroup memory and no barrier. Signs are one XOR of the float's sign bit.

#include <metal_stdlib>
using namespace metal;

// BEGIN generated tables: signs
constant uchar TQ_SIGN_BYTES[64] = {
    0xa7, 0x3b, 0x91, 0xf4, 0x6d, 0xc2, 0x58, 0x0e, 0xb3, 0x7f, 0x24, 0xd6, 0x89, 0x45, 0xea, 0x1c,
    0x63, 0xaf, 0xd8, 0x52, 0x97, 0x0b, 0xe1, 0x3d, 0x76, 0xc4, 0x19, 0xfe, 0x4a, 0x85, 0x2c, 0xdb,
    0xd3, 0x4e, 0xa8, 0x17, 0x9c, 0x5b, 0xe6, 0x31, 0x72, 0xb9, 0x0d, 0xf5, 0x43, 0x8a, 0x6e, 0xc7,
    0x58, 0x2f, 0x94, 0xe1, 0xb6, 0x3d, 0x0a, 0x7c, 0xc5, 0x61, 0xd8, 0x4f, 0xa3, 0x97, 0x1e, 0x85,
};
// END generated tables

struct FwhtParams {
  uint head_dim;   // must be the kernel's D
  uint num_heads;  // rows of data
};

// Where the signs go (a template argument): none, before the transform (T) or after it (T^-1).
enum : uint { SIGNS_NONE = 0, SIGNS_BEFORE = 1, SIGNS_AFTER = 2 };

// ---- SIMD-group FWHT (same text in fwht_standalone and hadamard_quantize_kv_fast) ----
// Lane `lane` holds coordinates lane·E … lane·E + E − 1 (E = D/32) as E/4 float4s in v.

// The lane's sign bits: bit i set ⇔ coordinate lane·E + i is negated.
template <uint E>
inline uint tq_lane_sign_bits(uint lane) {
  uint bits = TQ_SIGN_BYTES[lane * (E / 8)];
  if (E == 16) {
    bits |= uint(TQ_SIGN_BYTES[lane * 2 + 1]) << 8;
  }
  return bits;
}

// Negates the coordinates whose sign bit is set (flips the IEEE sign bit: exact, NaN-safe).
template <uint E>
inline void tq_apply_signs(thread float4* v, uint bits) {
  for (uint k = 0; k < E / 4; ++k) {
    const uint4 flip = ((uint4(bits >> (4 * k)) >> uint4(0, 1, 2, 3)) & 1u) << 31;
    v[k] = as_type<float4>(as_type<uint4>(v[k]) ^ flip);
  }
}

// The unnormalised transform H·v over the 32·E coordinates of the SIMD-group.
template <uint E>
inline void tq_fwht_simdgroup(thread float4* v, uint lane) {
  // Index bits 0 and 1: inside each float4.
  for (uint k = 0; k < E / 4; ++k) {
    const float4 a = v[k];
    const float4 b = float4(a.x + a.y, a.x - a.y, a.z + a.w, a.z - a.w);
    v[k] = float4(b.x + b.z, b.y + b.w, b.x - b.z, b.y - b.w);
  }
  // The next bits: between the lane's own float4s.
  for (uint h = 1; h < E / 4; h <<= 1) {
    for (uint k = 0; k < E / 4; ++k) {
      if ((k & h) == 0) {
        const float4 a = v[k];
        const float4 b = v[k + h];
        v[k] = a + b;
        v[k + h] = a - b;
      }
    }
  }
  // The five lane bits: lane ^ d holds the same coordinates of the other half of the pair.
  for (ushort d = 1; d < 32; d <<= 1) {
    const float4 own_sign = float4((lane & d) ? -1.0f : 1.0f);
    for (uint k = 0; k < E / 4; ++k) {
      const float4 other = simd_shuffle_xor(v[k], d);
      v[k] = fma(own_sign, v[k], other);  // lower lane: a + b; upper lane: a − b
    }
  }
}

// 1/sqrt(D): exact for 256, the nearest float for 512.
template <uint D>
inline float tq_inv_sqrt_dim() {
  return D == 256 ? 0.0625f : 0.0441941738f;
}
// ---- end of the SIMD-group FWHT ----

template <uint D, uint SIGNS>
[[kernel]] void fwht(device float* data [[buffer(0)]],
                     constant FwhtParams& params [[buffer(1)]],
                     uint group [[threadgroup_position_in_grid]],
                     uint simdgroup [[simdgroup_index_in_threadgroup]],
                     uint simdgroups [[simdgroups_per_threadgroup]],
                     uint lane [[thread_index_in_simdgroup]]) {
  constexpr uint E = D / 32;
  const uint head = group * simdgroups + simdgroup;
  if (head >= params.num_heads) {
    return;
  }
  device float4* row = reinterpret_cast<device float4*>(data + size_t(head) * D) + lane * (E / 4);
  float4 v[E / 4];
  for (uint k = 0; k < E / 4; ++k) {
    v[k] = row[k];
  }
  const uint bits = tq_lane_sign_bits<E>(lane);
  if (SIGNS == SIGNS_BEFORE) {
    tq_apply_signs<E>(v, bits);
  }
  tq_fwht_simdgroup<E>(v, lane);
  const float scale = tq_inv_sqrt_dim<D>();
  for (uint k = 0; k < E / 4; ++k) {
    v[k] *= scale;
  }
  if (SIGNS == SIGNS_AFTER) {
    tq_apply_signs<E>(v, bits);
  }
  for (uint k = 0; k < E / 4; ++k) {
    row[k] = v[k];
  }
}

template [[host_name("fwht_standalone_f32_d256")]] [[kernel]] decltype(fwht<256, SIGNS_NONE>)
    fwht<256, SIGNS_NONE>;
template [[host_name("fwht_standalone_f32_d512")]] [[kernel]] decltype(fwht<512, SIGNS_NONE>)
    fwht<512, SIGNS_NONE>;
template [[host_name("fwht_sign_premult_f32_d256")]] [[kernel]] decltype(fwht<256, SIGNS_BEFORE>)
    fwht<256, SIGNS_BEFORE>;
template [[host_name("fwht_sign_premult_f32_d512")]] [[kernel]] decltype(fwht<512, SIGNS_BEFORE>)
    fwht<512, SIGNS_BEFORE>;
template [[host_name("fwht_sign_undo_f32_d256")]] [[kernel]] decltype(fwht<256, SIGNS_AFTER>)
    fwht<256, SIGNS_AFTER>;
template [[host_name("fwht_sign_undo_f32_d512")]] [[kernel]] decltype(fwht<512, SIGNS_AFTER>)
    fwht<512, SIGNS_AFTER>;
