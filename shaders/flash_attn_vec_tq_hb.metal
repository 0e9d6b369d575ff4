// flash_attn_vec_tq_hb.metal — split-K decode attention that reads keys and values straight
// from a TurboQuant cache with a 5-, 6- or 8-bit codebook (one index per byte, written by
// hadamard_quantize_kv_hb_d*), dequantising inline. Everything is in the rotated domain: the
// query must already be T(q) (fwht_sign_premult_f32_d*), and the output is T(o) (undo it with
// fwht_sign_undo_f32_d*). Since T is orthogonal, T(q)·T(k) = q·k and the softmax weights are
// those of the unrotated attention.
//
// Kernels  flash_attn_vec_tq_hb_dk256, flash_attn_vec_tq_hb_dk512 (D = 256 or 512)
//   Computes  for query head h, kv_head = h / (n_heads / n_kv_heads), one query at the last
//             cache position: logical keys ℓ < kv_len, and with a window W > 0 only
//             ℓ ≥ kv_len − W (the last W keys). Logical key ℓ lives in physical slot
//             (ring_start + ℓ) mod kv_capacity (ring_start = 0 for a cache that never wrapped).
//             Dequantised rows: k̂[j] = c[idx_j]·σ with σ = norm/16 (D = 256) or
//             norm_b / scale_factor_d512 for block b = j/256 (D = 512); v̂ likewise.
//             Q is rounded to half first, then s = scale · (q · k̂) in f32, and a running max M,
//             sum S and output O (online softmax, natural exp, M starting at −FLT_MAX/2).
//             Workgroup w of a head takes the 32-key chunks w, w + NWG, … of the visible keys.
//             NWG = 1: writes O / S to dst[h] (zeros when S = 0).
//             NWG > 1: writes unnormalised partials in the scratch layout of flash_attn_vec.metal
//             (merged by flash_attn_vec_reduce_dk*): partial O of row r, workgroup w at
//             [(r · NWG + w) · D, … + D); (S, M) at rows · NWG · D + (r · NWG + w) · 2.
//   Bindings  buffer(0) params    constant FlashAttnVecTqHbParams (setBytes)
//             buffer(1) Q         float[n_heads · D], rotated
//             buffer(2) K packed  uchar[n_kv_heads · kv_capacity · D]
//             buffer(3) K norms   float[n_kv_heads · kv_capacity · D/256]
//             buffer(4) V packed  uchar[n_kv_heads · kv_capacity · D]
//             buffer(5) V norms   float[n_kv_heads · kv_capacity · D/256]
//             buffer(6) dst       float[n_heads · D] (NWG = 1) or the scratch
//   Geometry  TG-grid (NWG, n_heads, 1), 32 threads: one SIMD-group per (split, head).
//   How       Lane l scores key l of each 32-key chunk by itself: it walks its key's D-byte row
//             with 16-byte loads against the query in threadgroup memory (broadcast reads), so
//             the 32 dot products need no cross-lane reduction at all; the norm scale multiplies
//             the finished dot product (two partial sums for D = 512). One simd_max and one
//             simd_sum per chunk update the softmax state. The weights (times each key's V norm
//             scale) go to threadgroup memory (one simdgroup_barrier per chunk),
//             and for V lane l owns the float4s l, l + 32, … of the output, so the 32 lanes read
//             a key's V row as one contiguous 128-byte stretch per step. The codebook is copied
//             to threadgroup memory first: lanes look up different entries, which threadgroup
//             memory serves in parallel where the constant address space would serialise.

#include <metal_stdlib>
using namespace metal;

// BEGIN generated tables: codebook5 codebook6 codebook8
constant float TQ_CODEBOOK_5[32] = {
    -3.26073241f, -2.69111967f, -2.31773949f, -2.02872849f, -1.78723323f, -1.57622802f,
    -1.38634038f, -1.21180439f, -1.04878330f, -0.894565105f, -0.747135699f, -0.604933619f,
    -0.466699511f, -0.331378311f, -0.198051825f, -0.0658896565f, 0.0658896565f, 0.198051825f,
    0.331378311f, 0.466699511f, 0.604933619f, 0.747135699f, 0.894565105f, 1.04878330f,
    1.21180439f, 1.38634038f, 1.57622802f, 1.78723323f, 2.02872849f, 2.31773949f,
    2.69111967f, 3.26073241f,
};

constant float TQ_CODEBOOK_6[64] = {
    -3.74410129f, -3.24043703f, -2.91740680f, -2.67227387f, -2.47130489f, -2.29898119f,
    -2.14681029f, -2.00961113f, -1.88397729f, -1.76754189f, -1.65858889f, -1.55583119f,
    -1.45827639f, -1.36514103f, -1.27579451f, -1.18972015f, -1.10648823f, -1.02573633f,
    -0.947154939f, -0.870476604f, -0.795467675f, -0.721921921f, -0.649655581f, -0.578503013f,
    -0.508313775f, -0.438949674f, -0.370282650f, -0.302192837f, -0.234566987f, -0.167296901f,
    -0.100278288f, -0.0334095061f, 0.0334095061f, 0.100278288f, 0.167296901f, 0.234566987f,
    0.302192837f, 0.370282650f, 0.438949674f, 0.508313775f, 0.578503013f, 0.649655581f,
    0.721921921f, 0.795467675f, 0.870476604f, 0.947154939f, 1.02573633f, 1.10648823f,
    1.18972015f, 1.27579451f, 1.36514103f, 1.45827639f, 1.55583119f, 1.65858889f,
    1.76754189f, 1.88397729f, 2.00961113f, 2.14681029f, 2.29898119f, 2.47130489f,
    2.67227387f, 2.91740680f, 3.24043703f, 3.74410129f,
};

constant float TQ_CODEBOOK_8[256] = {
    -4.60353565f, -4.18659544f, -3.92563772f, -3.73166633f, -3.57558799f, -3.44407177f,
    -3.32984853f, -3.22850013f, -3.13713264f, -3.05374193f, -2.97688222f, -2.90547299f,
    -2.83868575f, -2.77587056f, -2.71650767f, -2.66017389f, -2.60652137f, -2.55525947f,
    -2.50614262f, -2.45896220f, -2.41353869f, -2.36971712f, -2.32736182f, -2.28635454f,
    -2.24658990f, -2.20797539f, -2.17042828f, -2.13387418f, -2.09824657f, -2.06348515f,
    -2.02953577f, -1.99634850f, -1.96387839f, -1.93208420f, -1.90092802f, -1.87037516f,
    -1.84039330f, -1.81095314f, -1.78202689f, -1.75358939f, -1.72561693f, -1.69808745f,
    -1.67098033f, -1.64427650f, -1.61795783f, -1.59200752f, -1.56640983f, -1.54114962f,
    -1.51621318f, -1.49158704f, -1.46725869f, -1.44321656f, -1.41944933f, -1.39594638f,
    -1.37269759f, -1.34969366f, -1.32692528f, -1.30438399f, -1.28206146f, -1.25994992f,
    -1.23804176f, -1.21632993f, -1.19480765f, -1.17346823f, -1.15230536f, -1.13131320f,
    -1.11048603f, -1.08981812f, -1.06930423f, -1.04893923f, -1.02871823f, -1.00863647f,
    -0.988689363f, -0.968872607f, -0.949181795f, -0.929612935f, -0.910162032f, -0.890825272f,
    -0.871598899f, -0.852479279f, -0.833463013f, -0.814546704f, -0.795727015f, -0.777000844f,
    -0.758365035f, -0.739816606f, -0.721352637f, -0.702970266f, -0.684666753f, -0.666439414f,
    -0.648285508f, -0.630202591f, -0.612188101f, -0.594239593f, -0.576354682f, -0.558531046f,
    -0.540766299f, -0.523058295f, -0.505404770f, -0.487803608f, -0.470252663f, -0.452749878f,
    -0.435293198f, -0.417880654f, -0.400510222f, -0.383179963f, -0.365888000f, -0.348632425f,
    -0.331411391f, -0.314223051f, -0.297065586f, -0.279937238f, -0.262836218f, -0.245760784f,
    -0.228709206f, -0.211679757f, -0.194670752f, -0.177680492f, -0.160707325f, -0.143749565f,
    -0.126805589f, -0.109873720f, -0.0929523557f, -0.0760398582f, -0.0591346025f, -0.0422349833f,
    -0.0253393836f, -0.00844619330f, 0.00844619330f, 0.0253393836f, 0.0422349833f, 0.0591346025f,
    0.0760398582f, 0.0929523557f, 0.109873720f, 0.126805589f, 0.143749565f, 0.160707325f,
    0.177680492f, 0.194670752f, 0.211679757f, 0.228709206f, 0.245760784f, 0.262836218f,
    0.279937238f, 0.297065586f, 0.314223051f, 0.331411391f, 0.348632425f, 0.365888000f,
    0.383179963f, 0.400510222f, 0.417880654f, 0.435293198f, 0.452749878f, 0.470252663f,
    0.487803608f, 0.505404770f, 0.523058295f, 0.540766299f, 0.558531046f, 0.576354682f,
    0.594239593f, 0.612188101f, 0.630202591f, 0.648285508f, 0.666439414f, 0.684666753f,
    0.702970266f, 0.721352637f, 0.739816606f, 0.758365035f, 0.777000844f, 0.795727015f,
    0.814546704f, 0.833463013f, 0.852479279f, 0.871598899f, 0.890825272f, 0.910162032f,
    0.929612935f, 0.949181795f, 0.968872607f, 0.988689363f, 1.00863647f, 1.02871823f,
    1.04893923f, 1.06930423f, 1.08981812f, 1.11048603f, 1.13131320f, 1.15230536f,
    1.17346823f, 1.19480765f, 1.21632993f, 1.23804176f, 1.25994992f, 1.28206146f,
    1.30438399f, 1.32692528f, 1.34969366f, 1.37269759f, 1.39594638f, 1.41944933f,
    1.44321656f, 1.46725869f, 1.49158704f, 1.51621318f, 1.54114962f, 1.56640983f,
    1.59200752f, 1.61795783f, 1.64427650f, 1.67098033f, 1.69808745f, 1.72561693f,
    1.75358939f, 1.78202689f, 1.81095314f, 1.84039330f, 1.87037516f, 1.90092802f,
    1.93208420f, 1.96387839f, 1.99634850f, 2.02953577f, 2.06348515f, 2.09824657f,
    2.13387418f, 2.17042828f, 2.20797539f, 2.24658990f, 2.28635454f, 2.32736182f,
    2.36971712f, 2.41353869f, 2.45896220f, 2.50614262f, 2.55525947f, 2.60652137f,
    2.66017389f, 2.71650767f, 2.77587056f, 2.83868575f, 2.90547299f, 2.97688222f,
    3.05374193f, 3.13713264f, 3.22850013f, 3.32984853f, 3.44407177f, 3.57558799f,
    3.73166633f, 3.92563772f, 4.18659544f, 4.60353565f,
};
// END generated tables

struct FlashAttnVecTqHbParams {
  uint n_heads;             // query heads
  uint n_kv_heads;          // key/value heads; divides n_heads
  uint head_dim;            // D (equals the kernel's compile-time D; checked by the host)
  uint kv_len;              // valid keys (logical indices 0 … kv_len − 1), ≥ 1
  uint kv_capacity;         // slots per KV head, ≥ kv_len
  float scale;              // multiplies q · k
  uint window;              // 0: every key; W > 0: only the last W keys
  uint ring_start;          // physical slot of logical key 0, < kv_capacity
  uint nwg;                 // workgroups per head, 1 … 32
  float scale_factor_d512;  // D = 512: the encoder's per-block scale factor f
  uint codebook_bits;       // 5, 6 or 8
};

template <uint D>
[[kernel]] void flash_attn_vec_tq_hb(constant FlashAttnVecTqHbParams& params [[buffer(0)]],
                                     device const float* q [[buffer(1)]],
                                     device const uchar* k_packed [[buffer(2)]],
                                     device const float* k_norms [[buffer(3)]],
                                     device const uchar* v_packed [[buffer(4)]],
                                     device const float* v_norms [[buffer(5)]],
                                     device float* dst [[buffer(6)]],
                                     uint2 group [[threadgroup_position_in_grid]],
                                     ushort lane [[thread_index_in_simdgroup]]) {
  constexpr uint BLOCKS = D / 256;  // norms per position
  constexpr uint V4 = D / 128;      // float4s of the output per lane
  threadgroup float4 sq[D / 4];     // the query, rounded to half
  threadgroup float book[256];      // the codebook
  threadgroup float weights[32 * BLOCKS];  // per key: p · V scale of each block

  const uint split = group.x;
  const uint head = group.y;
  const uint nwg = params.nwg;
  const uint kv_head = head / (params.n_heads / params.n_kv_heads);
  const uint capacity = params.kv_capacity;
  const uint kv_len = params.kv_len;

  for (uint i = lane; i < D / 4; i += 32) {
    sq[i] = float4(half4(reinterpret_cast<device const float4*>(q + size_t(head) * D)[i]));
  }
  const uint bits = params.codebook_bits;
  constant float* source = bits == 5 ? TQ_CODEBOOK_5 : bits == 6 ? TQ_CODEBOOK_6 : TQ_CODEBOOK_8;
  const uint levels = 1u << bits;
  for (uint i = lane; i < levels; i += 32) {
    book[i] = source[i];
  }
  const uint mask = levels - 1;
  simdgroup_barrier(mem_flags::mem_threadgroup);

  // The visible logical keys: [first, kv_len).
  const uint first = (params.window > 0 && kv_len > params.window) ? kv_len - params.window : 0;
  const uint visible = kv_len - first;
  const uint chunks = (visible + 31) / 32;
  const float norm_to_scale_d512 = 1.0f / params.scale_factor_d512;
  device const uchar* k_head = k_packed + size_t(kv_head) * capacity * D;
  device const uchar* v_head = v_packed + size_t(kv_head) * capacity * D;
  device const float* kn_head = k_norms + size_t(kv_head) * capacity * BLOCKS;
  device const float* vn_head = v_norms + size_t(kv_head) * capacity * BLOCKS;

  float m = -FLT_MAX / 2;
  float s = 0.0f;
  float4 o[V4];
  for (uint i = 0; i < V4; ++i) {
    o[i] = float4(0.0f);
  }

  for (uint chunk = split; chunk < chunks; chunk += nwg) {
    // 1. Lane `lane` scores key `lane` of the chunk.
    const uint key = first + chunk * 32 + lane;
    const bool valid = key < kv_len;
    float score = -FLT_MAX;  // finite: fast math may assume no infinities
    uint slot = 0;
    if (valid) {
      slot = (params.ring_start + key) % capacity;
      device const uint4* row = reinterpret_cast<device const uint4*>(k_head + size_t(slot) * D);
      float dots[BLOCKS];
      for (uint b = 0; b < BLOCKS; ++b) {
        float dot_b = 0.0f;
        for (uint i = b * 16; i < (b + 1) * 16; ++i) {  // 16 bytes = 16 coordinates per load
          const uint4 packed = row[i];
          for (uint w = 0; w < 4; ++w) {
            const uint word = packed[w];
            const float4 c = float4(book[word & mask], book[(word >> 8) & mask],
                                    book[(word >> 16) & mask], book[word >> 24 & mask]);
            dot_b += dot(c, sq[i * 4 + w]);
          }
        }
        dots[b] = dot_b;
      }
      const device float* kn = kn_head + size_t(slot) * BLOCKS;
      const float qk = BLOCKS == 1
                           ? dots[0] * (kn[0] * 0.0625f)
                           : (dots[0] * kn[0] + dots[BLOCKS - 1] * kn[BLOCKS - 1]) *
                                 norm_to_scale_d512;
      score = params.scale * qk;
    }

    // 2. Online softmax over the chunk.
    const float m_new = max(m, simd_max(score));
    const float alpha = exp(m - m_new);
    const float p = valid ? exp(score - m_new) : 0.0f;
    // (No lane rewrites the weights below before every lane has read them: the next chunk's
    // simd_max is only passed once all 32 lanes have left this chunk's V loop.)
    s = s * alpha + simd_sum(p);
    m = m_new;
    for (uint i = 0; i < V4; ++i) {
      o[i] *= alpha;
    }
    if (valid) {
      const device float* vn = vn_head + size_t(slot) * BLOCKS;
      for (uint b = 0; b < BLOCKS; ++b) {
        weights[lane * BLOCKS + b] =
            p * (BLOCKS == 1 ? vn[0] * 0.0625f : vn[b] * norm_to_scale_d512);
      }
    }
    simdgroup_barrier(mem_flags::mem_threadgroup);

    // 3. O += Σ_keys weight · codebook row: lane owns float4s lane, lane + 32, ….
    const uint keys = min(32u, kv_len - (first + chunk * 32));
    for (uint c = 0; c < keys; ++c) {
      const uint slot_c = (params.ring_start + first + chunk * 32 + c) % capacity;
      device const uchar4* row = reinterpret_cast<device const uchar4*>(v_head + size_t(slot_c) * D);
      for (uint i = 0; i < V4; ++i) {
        const uint f4 = lane + 32 * i;  // float4 index; block = f4 / 64
        const uchar4 idx = row[f4];
        const float weight = weights[c * BLOCKS + (BLOCKS == 1 ? 0 : f4 / 64)];
        const float4 cv = float4(book[idx.x & mask], book[idx.y & mask], book[idx.z & mask],
                                 book[idx.w & mask]);
        o[i] = fma(float4(weight), cv, o[i]);
      }
    }
  }

  // 4. The result, or this workgroup's partial.
  device float4* out4 = reinterpret_cast<device float4*>(dst);
  if (nwg == 1) {
    const float inv = s == 0.0f ? 0.0f : 1.0f / s;
    for (uint i = 0; i < V4; ++i) {
      out4[size_t(head) * (D / 4) + lane + 32 * i] = o[i] * inv;
    }
  } else {
    const size_t partial = size_t(head) * nwg + split;
    for (uint i = 0; i < V4; ++i) {
      out4[partial * (D / 4) + lane + 32 * i] = o[i];
    }
    if (lane == 0) {
      device float* sm = dst + size_t(params.n_heads) * nwg * D + partial * 2;
      sm[0] = s;
      sm[1] = m;
    }
  }
}

template [[host_name("flash_attn_vec_tq_hb_dk256")]] [[kernel]] decltype(flash_attn_vec_tq_hb<256>)
    flash_attn_vec_tq_hb<256>;
template [[host_name("flash_attn_vec_tq_hb_dk512")]] [[kernel]] decltype(flash_attn_vec_tq_hb<512>)
    flash_attn_vec_tq_hb<512>;
