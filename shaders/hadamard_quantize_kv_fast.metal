// hadamard_quantize_kv_fast.metal — the TurboQuant KV-cache encoders: each KV head's vector of
// a token is rotated (T(x) = H·(s ⊙ x)/sqrt(D)), scaled to unit variance, and each coordinate
// replaced by the index of its Lloyd–Max level for N(0, 1); the cache keeps the indices and the
// norm(s) that undo the scaling. Everything stays in the rotated domain.
//
// Kernels (D = 256 or 512)
//   hadamard_quantize_kv_fast_d{256,512}  4-bit codebook, two indices per byte: byte b of a row
//                                         holds coordinate 2b in its low nibble, 2b + 1 in its
//                                         high nibble. Row = D/2 bytes.
//   hadamard_quantize_kv_hb_d{256,512}    5-, 6- or 8-bit codebook (params.codebook_bits), one
//                                         index per byte (upper bits 0). Row = D bytes.
// Scaling    y = T(x). D = 256: n = ||y|| (= ||x||), stored; u = y·16/n.
//            D = 512: two blocks (coordinates 0–255, 256–511), each with its RMS
//            n_b = sqrt(Σ_block y²/256) stored; u = y·f/n_b, f = params.scale_factor_d512.
//            A norm of at most 1e-10 gives u = 0. Index = the number of decision boundaries
//            (midpoints of adjacent centroids) strictly below u: a binary search, log2(levels)
//            compares. Decoding is c[index]·n/16 (D = 256) or c[index]·n_b/f (D = 512).
// Bindings   buffer(0) src     float[tokens, num_kv_heads, D]: the tokens' K (or V) rows
//            buffer(1) packed  uchar[num_kv_heads, cache_capacity, row bytes]
//            buffer(2) norms   float[num_kv_heads, cache_capacity, D/256]
//            buffer(3) params  constant TqEncodeParams (4-bit) / TqEncodeHbParams (5/6/8-bit),
//                              setBytes
//            buffer(4) probe   (4-bit only) float[tokens, num_kv_heads, D]: receives u when
//                              params.rms_probe_enabled != 0 (the host binds norms otherwise)
// Slots      token t is written at position p = write_pos + t; slot = p mod cache_capacity if
//            is_sliding (a ring buffer), else p (the host checks p < cache_capacity and, for a
//            ring, tokens <= cache_capacity so no two tokens of a dispatch share a slot).
// Geometry   TG-grid (num_kv_heads, tokens, 1), 32 threads: one SIMD-group per (head, token);
//            lane l holds coordinates l·E … l·E + E − 1 (E = D/32) as float4s. For D = 512,
//            lanes 0–15 hold block 0 and lanes 16–31 block 1. No threadgroup memory or barrier:
//            the transform uses simd_shuffle_xor, the norms one simd_sum of a float2.

#include <metal_stdlib>
using namespace metal;

// BEGIN generated tables: signs codebook4 boundaries4 boundaries5 boundaries6 boundaries8
constant uchar TQ_SIGN_BYTES[64] = {
    0xa7, 0x3b, 0x91, 0xf4, 0x6d, 0xc2, 0x58, 0x0e, 0xb3, 0x7f, 0x24, 0xd6, 0x89, 0x45, 0xea, 0x1c,
    0x63, 0xaf, 0xd8, 0x52, 0x97, 0x0b, 0xe1, 0x3d, 0x76, 0xc4, 0x19, 0xfe, 0x4a, 0x85, 0x2c, 0xdb,
    0xd3, 0x4e, 0xa8, 0x17, 0x9c, 0x5b, 0xe6, 0x31, 0x72, 0xb9, 0x0d, 0xf5, 0x43, 0x8a, 0x6e, 0xc7,
    0x58, 0x2f, 0x94, 0xe1, 0xb6, 0x3d, 0x0a, 0x7c, 0xc5, 0x61, 0xd8, 0x4f, 0xa3, 0x97, 0x1e, 0x85,
};

constant float TQ_CODEBOOK_4[16] = {
    -2.73258948f, -2.06901717f, -1.61804640f, -1.25623119f, -0.942340434f, -0.656759143f,
    -0.388048291f, -0.128395036f, 0.128395036f, 0.388048291f, 0.656759143f, 0.942340434f,
    1.25623119f, 1.61804640f, 2.06901717f, 2.73258948f,
};

constant float TQ_BOUNDARIES_4[15] = {
    -2.40080333f, -1.84353185f, -1.43713880f, -1.09928584f, -0.799549818f, -0.522403717f,
    -0.258221656f, 0.00000000f, 0.258221656f, 0.522403717f, 0.799549818f, 1.09928584f,
    1.43713880f, 1.84353185f, 2.40080333f,
};

constant float TQ_BOUNDARIES_5[31] = {
    -2.97592592f, -2.50442958f, -2.17323399f, -1.90798092f, -1.68173063f, -1.48128414f,
    -1.29907238f, -1.13029385f, -0.971674204f, -0.820850372f, -0.676034689f, -0.535816550f,
    -0.399038911f, -0.264715075f, -0.131970733f, 0.00000000f, 0.131970733f, 0.264715075f,
    0.399038911f, 0.535816550f, 0.676034689f, 0.820850372f, 0.971674204f, 1.13029385f,
    1.29907238f, 1.48128414f, 1.68173063f, 1.90798092f, 2.17323399f, 2.50442958f,
    2.97592592f,
};

constant float TQ_BOUNDARIES_6[63] = {
    -3.49226904f, -3.07892179f, -2.79484034f, -2.57178926f, -2.38514304f, -2.22289562f,
    -2.07821083f, -1.94679427f, -1.82575965f, -1.71306539f, -1.60721004f, -1.50705385f,
    -1.41170871f, -1.32046771f, -1.23275733f, -1.14810419f, -1.06611228f, -0.986445665f,
    -0.908815742f, -0.832972169f, -0.758694768f, -0.685788751f, -0.614079297f, -0.543408394f,
    -0.473631740f, -0.404616177f, -0.336237729f, -0.268379927f, -0.200931937f, -0.133787602f,
    -0.0668438971f, 0.00000000f, 0.0668438971f, 0.133787602f, 0.200931937f, 0.268379927f,
    0.336237729f, 0.404616177f, 0.473631740f, 0.543408394f, 0.614079297f, 0.685788751f,
    0.758694768f, 0.832972169f, 0.908815742f, 0.986445665f, 1.06611228f, 1.14810419f,
    1.23275733f, 1.32046771f, 1.41170871f, 1.50705385f, 1.60721004f, 1.71306539f,
    1.82575965f, 1.94679427f, 2.07821083f, 2.22289562f, 2.38514304f, 2.57178926f,
    2.79484034f, 3.07892179f, 3.49226904f,
};

constant float TQ_BOUNDARIES_8[255] = {
    -4.39506531f, -4.05611658f, -3.82865191f, -3.65362716f, -3.50983000f, -3.38696003f,
    -3.27917433f, -3.18281651f, -3.09543729f, -3.01531219f, -2.94117761f, -2.87207937f,
    -2.80727816f, -2.74618912f, -2.68834066f, -2.63334751f, -2.58089042f, -2.53070116f,
    -2.48255253f, -2.43625045f, -2.39162779f, -2.34853935f, -2.30685806f, -2.26647234f,
    -2.22728252f, -2.18920183f, -2.15215111f, -2.11606026f, -2.08086586f, -2.04651046f,
    -2.01294208f, -1.98011351f, -1.94798136f, -1.91650605f, -1.88565159f, -1.85538423f,
    -1.82567322f, -1.79648995f, -1.76780820f, -1.73960316f, -1.71185219f, -1.68453383f,
    -1.65762842f, -1.63111711f, -1.60498261f, -1.57920861f, -1.55377972f, -1.52868140f,
    -1.50390005f, -1.47942281f, -1.45523763f, -1.43133295f, -1.40769792f, -1.38432193f,
    -1.36119556f, -1.33830953f, -1.31565464f, -1.29322267f, -1.27100563f, -1.24899578f,
    -1.22718585f, -1.20556879f, -1.18413794f, -1.16288686f, -1.14180923f, -1.12089968f,
    -1.10015202f, -1.07956123f, -1.05912173f, -1.03882873f, -1.01867735f, -0.998662949f,
    -0.978780985f, -0.959027171f, -0.939397335f, -0.919887483f, -0.900493622f, -0.881212115f,
    -0.862039089f, -0.842971146f, -0.824004889f, -0.805136859f, -0.786363959f, -0.767682910f,
    -0.749090791f, -0.730584621f, -0.712161422f, -0.693818510f, -0.675553083f, -0.657362461f,
    -0.639244080f, -0.621195316f, -0.603213847f, -0.585297108f, -0.567442894f, -0.549648643f,
    -0.531912327f, -0.514231563f, -0.496604204f, -0.479028136f, -0.461501271f, -0.444021523f,
    -0.426586926f, -0.409195423f, -0.391845107f, -0.374533981f, -0.357260227f, -0.340021908f,
    -0.322817206f, -0.305644333f, -0.288501412f, -0.271386743f, -0.254298508f, -0.237234995f,
    -0.220194489f, -0.203175247f, -0.186175615f, -0.169193909f, -0.152228445f, -0.135277569f,
    -0.118339658f, -0.101413041f, -0.0844961107f, -0.0675872266f, -0.0506847948f, -0.0337871835f,
    -0.0168927889f, 0.00000000f, 0.0168927889f, 0.0337871835f, 0.0506847948f, 0.0675872266f,
    0.0844961107f, 0.101413041f, 0.118339658f, 0.135277569f, 0.152228445f, 0.169193909f,
    0.186175615f, 0.203175247f, 0.220194489f, 0.237234995f, 0.254298508f, 0.271386743f,
    0.288501412f, 0.305644333f, 0.322817206f, 0.340021908f, 0.357260227f, 0.374533981f,
    0.391845107f, 0.409195423f, 0.426586926f, 0.444021523f, 0.461501271f, 0.479028136f,
    0.496604204f, 0.514231563f, 0.531912327f, 0.549648643f, 0.567442894f, 0.585297108f,
    0.603213847f, 0.621195316f, 0.639244080f, 0.657362461f, 0.675553083f, 0.693818510f,
    0.712161422f, 0.730584621f, 0.749090791f, 0.767682910f, 0.786363959f, 0.805136859f,
    0.824004889f, 0.842971146f, 0.862039089f, 0.881212115f, 0.900493622f, 0.919887483f,
    0.939397335f, 0.959027171f, 0.978780985f, 0.998662949f, 1.01867735f, 1.03882873f,
    1.05912173f, 1.07956123f, 1.10015202f, 1.12089968f, 1.14180923f, 1.16288686f,
    1.18413794f, 1.20556879f, 1.22718585f, 1.24899578f, 1.27100563f, 1.29322267f,
    1.31565464f, 1.33830953f, 1.36119556f, 1.38432193f, 1.40769792f, 1.43133295f,
    1.45523763f, 1.47942281f, 1.50390005f, 1.52868140f, 1.55377972f, 1.57920861f,
    1.60498261f, 1.63111711f, 1.65762842f, 1.68453383f, 1.71185219f, 1.73960316f,
    1.76780820f, 1.79648995f, 1.82567322f, 1.85538423f, 1.88565159f, 1.91650605f,
    1.94798136f, 1.98011351f, 2.01294208f, 2.04651046f, 2.08086586f, 2.11606026f,
    2.15215111f, 2.18920183f, 2.22728252f, 2.26647234f, 2.30685806f, 2.34853935f,
    2.39162779f, 2.43625045f, 2.48255253f, 2.53070116f, 2.58089042f, 2.63334751f,
    2.68834066f, 2.74618912f, 2.80727816f, 2.87207937f, 2.94117761f, 3.01531219f,
    3.09543729f, 3.18281651f, 3.27917433f, 3.38696003f, 3.50983000f, 3.65362716f,
    3.82865191f, 4.05611658f, 4.39506531f,
};
// END generated tables

struct TqEncodeParams {
  uint head_dim;            // must be the kernel's D (the host checks)
  uint num_kv_heads;
  uint write_pos;           // position of the first token
  uint cache_capacity;      // positions per head in packed and norms
  uint is_sliding;          // != 0: slot = position mod cache_capacity
  float scale_factor_d512;  // f of the D = 512 scaling (1: unit RMS per block)
  uint rms_probe_enabled;   // != 0: write u to buffer(4)
};

struct TqEncodeHbParams {
  uint head_dim;
  uint num_kv_heads;
  uint write_pos;
  uint cache_capacity;
  uint is_sliding;
  float scale_factor_d512;
  uint codebook_bits;  // 5, 6 or 8 (the host checks)
};

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

// The index of u among N levels: how many of the N − 1 increasing boundaries lie below it.
template <uint N>
inline uint tq_quantize(float u, constant float* boundaries) {
  uint index = 0;
  for (uint step = N / 2; step > 0; step >>= 1) {
    index += (u > boundaries[index + step - 1]) ? step : 0;
  }
  return index;
}

// Loads one head row, rotates it and scales it for the codebook. Returns this lane's norm (the
// whole vector's for D = 256, its block's for D = 512).
template <uint D>
inline float tq_rotate_and_scale(device const float* src, uint lane, float scale_factor,
                                 thread float4* v) {
  constexpr uint E = D / 32;
  device const float4* in = reinterpret_cast<device const float4*>(src) + lane * (E / 4);
  for (uint k = 0; k < E / 4; ++k) {
    v[k] = in[k];
  }
  tq_apply_signs<E>(v, tq_lane_sign_bits<E>(lane));
  tq_fwht_simdgroup<E>(v, lane);
  float squares = 0.0f;
  for (uint k = 0; k < E / 4; ++k) {
    v[k] *= tq_inv_sqrt_dim<D>();
    squares += dot(v[k], v[k]);
  }
  float norm;
  float scale;
  if (D == 256) {
    norm = sqrt(simd_sum(squares));
    scale = norm > 1e-10f ? 16.0f / norm : 0.0f;
  } else {
    // Both blocks' sums in one collective: .x gathers lanes 0–15, .y lanes 16–31.
    const float2 blocks = simd_sum(lane < 16 ? float2(squares, 0.0f) : float2(0.0f, squares));
    norm = sqrt((lane < 16 ? blocks.x : blocks.y) / 256.0f);
    scale = norm > 1e-10f ? scale_factor / norm : 0.0f;
  }
  for (uint k = 0; k < E / 4; ++k) {
    v[k] *= scale;
  }
  return norm;
}

// Stores the lane's norm: lane 0 for D = 256; lanes 0 and 16 (blocks 0 and 1) for D = 512.
template <uint D>
inline void tq_store_norm(device float* norms, size_t row, uint lane, float norm) {
  if (D == 256 && lane == 0) {
    norms[row] = norm;
  } else if (D == 512 && (lane & 15) == 0) {
    norms[row * 2 + lane / 16] = norm;
  }
}

template <uint D>
[[kernel]] void tq_encode_4bit(device const float* src [[buffer(0)]],
                               device uchar* packed [[buffer(1)]],
                               device float* norms [[buffer(2)]],
                               constant TqEncodeParams& params [[buffer(3)]],
                               device float* probe [[buffer(4)]],
                               uint2 group [[threadgroup_position_in_grid]],
                               uint lane [[thread_index_in_simdgroup]]) {
  constexpr uint E = D / 32;
  const uint head = group.x;
  const uint token = group.y;
  const size_t vector = size_t(token) * params.num_kv_heads + head;
  float4 v[E / 4];
  const float norm = tq_rotate_and_scale<D>(src + vector * D, lane, params.scale_factor_d512, v);
  if (params.rms_probe_enabled != 0) {
    device float4* out = reinterpret_cast<device float4*>(probe + vector * D) + lane * (E / 4);
    for (uint k = 0; k < E / 4; ++k) {
      out[k] = v[k];
    }
  }
  const uint position = params.write_pos + token;
  const uint slot = params.is_sliding != 0 ? position % params.cache_capacity : position;
  const size_t row = size_t(head) * params.cache_capacity + slot;
  // E indices of 4 bits = E/2 bytes per lane: one 16-bit half-word per float4, written as uints.
  device uint* out = reinterpret_cast<device uint*>(packed + row * (D / 2) + lane * (E / 2));
  for (uint k = 0; k < E / 4; k += 2) {
    uint word = 0;
    for (uint h = 0; h < 2; ++h) {
      const float4 u = v[k + h];
      word |= (tq_quantize<16>(u.x, TQ_BOUNDARIES_4) | tq_quantize<16>(u.y, TQ_BOUNDARIES_4) << 4 |
               tq_quantize<16>(u.z, TQ_BOUNDARIES_4) << 8 | tq_quantize<16>(u.w, TQ_BOUNDARIES_4) << 12)
              << (16 * h);
    }
    out[k / 2] = word;
  }
  tq_store_norm<D>(norms, row, lane, norm);
}

// One byte per index for a run-time codebook size.
template <uint N>
inline uchar4 tq_quantize4(float4 u, constant float* boundaries) {
  return uchar4(tq_quantize<N>(u.x, boundaries), tq_quantize<N>(u.y, boundaries),
                tq_quantize<N>(u.z, boundaries), tq_quantize<N>(u.w, boundaries));
}

template <uint D>
[[kernel]] void tq_encode_hb(device const float* src [[buffer(0)]],
                             device uchar* packed [[buffer(1)]],
                             device float* norms [[buffer(2)]],
                             constant TqEncodeHbParams& params [[buffer(3)]],
                             uint2 group [[threadgroup_position_in_grid]],
                             uint lane [[thread_index_in_simdgroup]]) {
  constexpr uint E = D / 32;
  const uint head = group.x;
  const uint token = group.y;
  const size_t vector = size_t(token) * params.num_kv_heads + head;
  float4 v[E / 4];
  const float norm = tq_rotate_and_scale<D>(src + vector * D, lane, params.scale_factor_d512, v);
  const uint position = params.write_pos + token;
  const uint slot = params.is_sliding != 0 ? position % params.cache_capacity : position;
  const size_t row = size_t(head) * params.cache_capacity + slot;
  device uchar4* out = reinterpret_cast<device uchar4*>(packed + row * D) + lane * (E / 4);
  for (uint k = 0; k < E / 4; ++k) {
    if (params.codebook_bits == 5) {
      out[k] = tq_quantize4<32>(v[k], TQ_BOUNDARIES_5);
    } else if (params.codebook_bits == 6) {
      out[k] = tq_quantize4<64>(v[k], TQ_BOUNDARIES_6);
    } else {
      out[k] = tq_quantize4<256>(v[k], TQ_BOUNDARIES_8);
    }
  }
  tq_store_norm<D>(norms, row, lane, norm);
}

template [[host_name("hadamard_quantize_kv_fast_d256")]] [[kernel]] decltype(tq_encode_4bit<256>)
    tq_encode_4bit<256>;
template [[host_name("hadamard_quantize_kv_fast_d512")]] [[kernel]] decltype(tq_encode_4bit<512>)
    tq_encode_4bit<512>;
template [[host_name("hadamard_quantize_kv_hb_d256")]] [[kernel]] decltype(tq_encode_hb<256>)
    tq_encode_hb<256>;
template [[host_name("hadamard_quantize_kv_hb_d512")]] [[kernel]] decltype(tq_encode_hb<512>)
    tq_encode_hb<512>;
