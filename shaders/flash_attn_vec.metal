// flash_attn_vec.metal — split-K decode attention: one query token per head, the cached keys
// split over NWG workgroups per head ("vec" pass), then a log-sum-exp merge ("reduce" pass).
//
// Kernels  flash_attn_vec_dk256, flash_attn_vec_dk512             f32 K/V
//          flash_attn_vec_f16kv_dk256, flash_attn_vec_f16kv_dk512   half K/V (math in f32)
//          flash_attn_vec_reduce_dk256, flash_attn_vec_reduce_dk512  the merge of NWG partials
//   Computes  (vec) for query head h, kv_head = h / (n_heads / n_kv_heads), one query at the
//             last cache position, logical keys ℓ < kv_len, and with a window W > 0 only
//             ℓ ≥ kv_len − W (the last W keys). Logical key ℓ lives in physical slot
//             (ring_start + ℓ) mod kv_capacity (ring_start = 0 for a cache that never wrapped).
//             Q is rounded to half first (kept as half4 registers), then for each key
//             s = scale · (q · k) in f32, and a running max M, sum S and output O (online softmax,
//             natural exp, M starting at −FLT_MAX/2).
//             Workgroup w of a head takes the 32-key chunks first_chunk + w, + w + NWG, … .
//             NWG = 1: writes O / S to dst[h] (zeros when no key is visible).
//             NWG > 1: writes the unnormalised partials (see "Scratch").
//             (reduce) out[r] = Σ_w e^{M_w − M*} O_w / Σ_w e^{M_w − M*} S_w over workgroups with
//             S_w > 0, M* their largest M_w; zeros when every S_w is 0.
//   Scratch   (dst of vec when NWG > 1; tmp of reduce), f32, for rows = n_heads:
//               partial O of row r, workgroup w   at [(r · NWG + w) · D, … + D)
//               (S, M) of row r, workgroup w       at rows · NWG · D + (r · NWG + w) · 2
//             = rows · NWG · (D + 2) floats. flash_attn_vec_tq_hb writes the same layout.
//   Bindings  vec:    buffer(0) params constant FlashAttnVecParams (setBytes)
//                     buffer(1) Q      float[n_heads · D]
//                     buffer(2) K      KV[n_kv_heads · kv_capacity · D]
//                     buffer(3) V      KV[same as K]
//                     buffer(4) dst    float[n_heads · D] (NWG = 1) or the scratch
//             reduce: buffer(0) params constant FlashAttnVecReduceParams (setBytes)
//                     buffer(1) tmp    the scratch
//                     buffer(2) out    float[rows · D]
//   Geometry  vec: TG-grid (NWG, n_heads, 1), 32 threads (one SIMD-group; lane l owns the
//             float4s l, l + 32, … of the head). reduce: threads-grid (D / 4, rows, 1).
//   How       a chunk's 32 dot products: each lane sums its float4s of Q·K for all 32 keys,
//             then a transposing butterfly (simd_shuffle_xor 16, 8, 4, 2, 1, halving the
//             values kept each round) leaves lane l with the full dot product of key l: 9
//             shuffles of float4/float2/float per chunk instead of 32 reductions. The 32
//             weights go to threadgroup memory so every lane can scale its share of V.

#include <metal_stdlib>
using namespace metal;

// Keys per chunk: one per lane. Largest NWG: the reduce reads at most this many partials.
// Mirrored by FLASH_ATTN_VEC_MAX_SPLITS in ops/_defines.ts (a test reads this line).
constant constexpr uint FLASH_ATTN_VEC_MAX_SPLITS = 32;

struct FlashAttnVecParams {
  uint n_heads;      // query heads
  uint n_kv_heads;   // key/value heads; divides n_heads
  uint head_dim;     // D (equals the kernel's compile-time D; checked by the host)
  uint kv_len;       // valid keys (logical indices 0 … kv_len − 1), ≥ 1
  uint kv_capacity;  // slots per KV head in K and V, ≥ kv_len
  float scale;       // multiplies q · k
  uint window;       // 0: every key; W > 0: only the last W keys
  uint ring_start;   // physical slot of logical key 0, < kv_capacity
  uint nwg;          // workgroups per head, 1 … FLASH_ATTN_VEC_MAX_SPLITS
};

struct FlashAttnVecReduceParams {
  uint rows;  // heads
  uint nwg;   // partials per row, 1 … FLASH_ATTN_VEC_MAX_SPLITS
};

// s[g][c] holds this lane's part of key 4g + c's dot product. Returns the whole dot product
// of key `lane` (the sum over lanes), by halving what each lane keeps at every round.
static inline float fav_transpose_sum(thread float4* s, ushort lane) {
  const bool up16 = (lane & 16) != 0;
  for (uint g = 0; g < 4; ++g) {
    const float4 keep = up16 ? s[g + 4] : s[g];
    const float4 send = up16 ? s[g] : s[g + 4];
    s[g] = keep + simd_shuffle_xor(send, ushort(16));
  }
  const bool up8 = (lane & 8) != 0;
  for (uint g = 0; g < 2; ++g) {
    const float4 keep = up8 ? s[g + 2] : s[g];
    const float4 send = up8 ? s[g] : s[g + 2];
    s[g] = keep + simd_shuffle_xor(send, ushort(8));
  }
  const bool up4 = (lane & 4) != 0;
  const float4 keep4 = up4 ? s[1] : s[0];
  const float4 four = keep4 + simd_shuffle_xor(up4 ? s[0] : s[1], ushort(4));
  const bool up2 = (lane & 2) != 0;
  const float2 two = (up2 ? four.zw : four.xy) + simd_shuffle_xor(up2 ? four.xy : four.zw, ushort(2));
  const bool up1 = (lane & 1) != 0;
  return (up1 ? two.y : two.x) + simd_shuffle_xor(up1 ? two.x : two.y, ushort(1));
}

template <typename KV, uint D>
[[kernel]] void flash_attn_vec(
    constant FlashAttnVecParams& p [[buffer(0)]],
    device const float* q [[buffer(1)]],
    device const KV* k [[buffer(2)]],
    device const KV* v [[buffer(3)]],
    device float* dst [[buffer(4)]],
    uint2 group [[threadgroup_position_in_grid]],
    ushort lane [[thread_index_in_simdgroup]]) {
  constexpr uint PER_LANE = D / 128;  // float4s of the head each lane owns
  typedef vec<KV, 4> kv4;
  threadgroup float weights[32];

  const uint w = group.x;
  const uint h = group.y;
  const uint kv_head = h / (p.n_heads / p.n_kv_heads);
  device const float4* q4 = (device const float4*)(q + size_t(h) * D);
  device const kv4* k4 = (device const kv4*)(k + size_t(kv_head) * p.kv_capacity * D);
  device const kv4* v4 = (device const kv4*)(v + size_t(kv_head) * p.kv_capacity * D);

  half4 qh[PER_LANE];
  float4 o[PER_LANE];
  for (uint i = 0; i < PER_LANE; ++i) {
    qh[i] = half4(q4[lane + 32 * i]);  // the query is staged as half
    o[i] = float4(0.0f);
  }
  const uint first_key = (p.window > 0 && p.kv_len > p.window) ? p.kv_len - p.window : 0;
  float m = -FLT_MAX / 2;
  float sum = 0.0f;

  for (uint chunk = first_key / 32 + w; chunk * 32 < p.kv_len; chunk += p.nwg) {
    const uint base = chunk * 32;
    float4 partial[8];
    for (uint t = 0; t < 32; ++t) {
      const uint key = base + t;
      float dot_part = 0.0f;
      if (key >= first_key && key < p.kv_len) {
        const uint slot0 = p.ring_start + key;
        const uint slot = slot0 >= p.kv_capacity ? slot0 - p.kv_capacity : slot0;
        for (uint i = 0; i < PER_LANE; ++i) {
          dot_part += dot(float4(qh[i]), float4(k4[size_t(slot) * (D / 4) + lane + 32 * i]));
        }
      }
      partial[t / 4][t % 4] = dot_part;
    }
    const uint my_key = base + lane;
    const bool visible = my_key >= first_key && my_key < p.kv_len;
    const float score = fav_transpose_sum(partial, lane) * p.scale;
    const float new_m = max(m, simd_max(visible ? score : -FLT_MAX));
    const float weight = visible ? exp(score - new_m) : 0.0f;
    const float rescale = exp(m - new_m);
    sum = sum * rescale + simd_sum(weight);
    m = new_m;
    weights[lane] = weight;
    simdgroup_barrier(mem_flags::mem_threadgroup);
    for (uint i = 0; i < PER_LANE; ++i) {
      o[i] *= rescale;
    }
    for (uint t = 0; t < 32; ++t) {
      const uint key = base + t;
      if (key >= first_key && key < p.kv_len) {
        const uint slot0 = p.ring_start + key;
        const uint slot = slot0 >= p.kv_capacity ? slot0 - p.kv_capacity : slot0;
        const float wt = weights[t];
        for (uint i = 0; i < PER_LANE; ++i) {
          o[i] = fma(float4(wt), float4(v4[size_t(slot) * (D / 4) + lane + 32 * i]), o[i]);
        }
      }
    }
    simdgroup_barrier(mem_flags::mem_threadgroup);  // weights are rewritten next chunk
  }

  device float4* out4 = (device float4*)dst;
  if (p.nwg == 1) {
    const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
    for (uint i = 0; i < PER_LANE; ++i) {
      out4[size_t(h) * (D / 4) + lane + 32 * i] = o[i] * inv;
    }
    return;
  }
  const size_t row_split = size_t(h) * p.nwg + w;
  for (uint i = 0; i < PER_LANE; ++i) {
    out4[row_split * (D / 4) + lane + 32 * i] = o[i];
  }
  if (lane == 0) {
    device float* stats = dst + size_t(p.n_heads) * p.nwg * D + row_split * 2;
    stats[0] = sum;
    stats[1] = m;
  }
}

template <uint D>
[[kernel]] void flash_attn_vec_reduce(
    constant FlashAttnVecReduceParams& p [[buffer(0)]],
    device const float* tmp [[buffer(1)]],
    device float* out [[buffer(2)]],
    uint2 pos [[thread_position_in_grid]]) {
  const uint x = pos.x;  // float4 of the row
  const uint r = pos.y;
  if (x >= D / 4 || r >= p.rows) {
    return;
  }
  device const float* stats = tmp + size_t(p.rows) * p.nwg * D + size_t(r) * p.nwg * 2;
  float top = -FLT_MAX;
  for (uint w = 0; w < p.nwg; ++w) {
    if (stats[2 * w] > 0.0f) {
      top = max(top, stats[2 * w + 1]);
    }
  }
  float total = 0.0f;
  float4 acc = float4(0.0f);
  device const float4* partials = (device const float4*)tmp;
  for (uint w = 0; w < p.nwg; ++w) {
    const float s = stats[2 * w];
    if (s > 0.0f) {
      const float f = exp(stats[2 * w + 1] - top);
      total = fma(s, f, total);
      acc = fma(float4(f), partials[(size_t(r) * p.nwg + w) * (D / 4) + x], acc);
    }
  }
  ((device float4*)out)[size_t(r) * (D / 4) + x] = total > 0.0f ? acc / total : float4(0.0f);
}

typedef decltype(flash_attn_vec<float, 256>) flash_attn_vec_f32_256_t;
typedef decltype(flash_attn_vec<float, 512>) flash_attn_vec_f32_512_t;
typedef decltype(flash_attn_vec<half, 256>) flash_attn_vec_f16_256_t;
typedef decltype(flash_attn_vec<half, 512>) flash_attn_vec_f16_512_t;
template [[host_name("flash_attn_vec_dk256")]] [[kernel]] flash_attn_vec_f32_256_t flash_attn_vec<float, 256>;
template [[host_name("flash_attn_vec_dk512")]] [[kernel]] flash_attn_vec_f32_512_t flash_attn_vec<float, 512>;
template [[host_name("flash_attn_vec_f16kv_dk256")]] [[kernel]] flash_attn_vec_f16_256_t flash_attn_vec<half, 256>;
template [[host_name("flash_attn_vec_f16kv_dk512")]] [[kernel]] flash_attn_vec_f16_512_t flash_attn_vec<half, 512>;
template [[host_name("flash_attn_vec_reduce_dk256")]] [[kernel]] decltype(flash_attn_vec_reduce<256>) flash_attn_vec_reduce<256>;
template [[host_name("flash_attn_vec_reduce_dk512")]] [[kernel]] decltype(flash_attn_vec_reduce<512>) flash_attn_vec_reduce<512>;
