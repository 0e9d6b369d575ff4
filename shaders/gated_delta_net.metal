// gated_delta_net.metal — the recurrent state update of a Gated DeltaNet linear-attention layer
// (Qwen3-Next): per sequence and value head, a D_v × D_k memory S is decayed, corrected towards
// the current value by the delta rule, and read out with the query, token after token.
//
// Kernel gated_delta_net_f32
//   Computes   for each sequence s and value head h, for t = 0, 1, ..., tokens − 1 in order,
//              with k, q the key/query head of h, a = exp(−g[t]) and b = beta[t]:
//                S      ← a · S                          (decay first)
//                δ_i    = v_i − Σ_j S[i][j] · k_j        (what the memory misses for key k)
//                S[i][j] ← S[i][j] + b · δ_i · k_j       (delta rule)
//                out_i  = Σ_j S[i][j] · q_j              (read-out of the updated memory)
//              No scaling of q (callers pre-scale by 1/√D_k if the model does). g is the
//              non-negative decay rate of compute_g_beta.metal. All arithmetic f32 (fma),
//              precise exp; S stays in registers for the whole call.
//   GQA        value head h reads key/query head  h mod n_k_heads  (grouped == 0: "tiled",
//              as ggml_repeat and mlx-native) or  h / (n_v_heads / n_k_heads)  (grouped == 1:
//              consecutive value heads share a key head, as torch's repeat_interleave).
//   Bindings   buffer(0) q          float[seqs][tokens][n_k_heads][dk]
//              buffer(1) k          float[seqs][tokens][n_k_heads][dk]
//              buffer(2) v          float[seqs][tokens][n_v_heads][dv]
//              buffer(3) g          float[seqs][tokens][n_v_heads]
//              buffer(4) beta       float[seqs][tokens][n_v_heads]
//              buffer(5) state_in   float[seqs][n_v_heads][dv][dk]   (S[i][j], j fastest)
//              buffer(6) out        float[seqs][tokens][n_v_heads][dv]; may be v (each element
//                                   is read and then written by the one SIMD-group of its row)
//              buffer(7) state_out  float[seqs][n_v_heads][dv][dk]; may be state_in (each row
//                                   is read before the loop and written after it, by its owner)
//              buffer(8) params     constant GatedDeltaNetParams (setBytes, 28 bytes;
//                                   mlx-native bound a device uint buffer)
//   Geometry   TG-grid (ceil(dv / R), n_v_heads, seqs), threadgroup (32, R, 1) for any R ≥ 1:
//              SIMD-group r of threadgroup x owns row i = x·R + r of S, lane l its entries
//              j = l, l + 32, ... (at most GATED_DELTA_NET_MAX_DK / 32 per lane). Rows are
//              independent, so no barrier and no threadgroup memory: each dot product is one
//              simd_sum. Groups past the last row return as a whole.
//   Limits     dk ≤ GATED_DELTA_NET_MAX_DK (256); dv, heads, tokens and seqs are unbounded.

#include <metal_stdlib>
using namespace metal;

// Largest key dimension: 8 registers of S per lane. Mirrored by GATED_DELTA_NET_MAX_DK in
// ops/_defines.ts (a test reads this line).
constant constexpr uint GATED_DELTA_NET_MAX_DK = 256;
constant constexpr uint PER_LANE = GATED_DELTA_NET_MAX_DK / 32;

struct GatedDeltaNetParams {
  uint dk;         // key (and query) head dimension, ≤ GATED_DELTA_NET_MAX_DK
  uint dv;         // value head dimension: rows of S
  uint n_k_heads;  // key/query heads per token
  uint n_v_heads;  // value heads per token, a multiple of n_k_heads
  uint tokens;     // tokens of this call, processed in order
  uint seqs;       // independent sequences
  uint grouped;    // GQA mapping: 0 tiled (h mod n_k_heads), 1 grouped (h / ratio)
};

[[kernel]] void gated_delta_net_f32(
    device const float* q [[buffer(0)]],
    device const float* k [[buffer(1)]],
    device const float* v [[buffer(2)]],
    device const float* g [[buffer(3)]],
    device const float* beta [[buffer(4)]],
    device const float* state_in [[buffer(5)]],
    device float* out [[buffer(6)]],
    device float* state_out [[buffer(7)]],
    constant GatedDeltaNetParams& params [[buffer(8)]],
    uint3 group [[threadgroup_position_in_grid]],
    uint lane [[thread_index_in_simdgroup]],
    uint simdgroup [[simdgroup_index_in_threadgroup]],
    uint simdgroups [[simdgroups_per_threadgroup]]) {
  const uint dk = params.dk;
  const uint dv = params.dv;
  const uint n_k = params.n_k_heads;
  const uint n_v = params.n_v_heads;
  const uint row = group.x * simdgroups + simdgroup;
  const uint vh = group.y;
  const uint s = group.z;
  if (row >= dv || vh >= n_v || s >= params.seqs) {
    return;  // uniform across the SIMD-group
  }
  const uint kh = params.grouped != 0 ? vh / (n_v / n_k) : vh % n_k;

  // This lane's entries of row `row` of S.
  const size_t state_row = ((size_t(s) * n_v + vh) * dv + row) * dk;
  float st[PER_LANE];
  for (uint m = 0; m < PER_LANE; ++m) {
    const uint j = lane + 32 * m;
    st[m] = j < dk ? state_in[state_row + j] : 0.0f;
  }

  for (uint t = 0; t < params.tokens; ++t) {
    const size_t token = size_t(s) * params.tokens + t;
    device const float* kt = k + (token * n_k + kh) * dk;
    device const float* qt = q + (token * n_k + kh) * dk;
    const size_t gate = token * n_v + vh;
    const float decay = precise::exp(-g[gate]);
    const float b = beta[gate];

    float kk[PER_LANE];
    float qq[PER_LANE];
    float predicted = 0.0f;
    for (uint m = 0; m < PER_LANE; ++m) {
      const uint j = lane + 32 * m;
      kk[m] = j < dk ? kt[j] : 0.0f;
      qq[m] = j < dk ? qt[j] : 0.0f;
      st[m] *= decay;
      predicted = fma(st[m], kk[m], predicted);
    }
    predicted = simd_sum(predicted);

    const size_t element = gate * dv + row;
    const float delta = b * (v[element] - predicted);
    float read = 0.0f;
    for (uint m = 0; m < PER_LANE; ++m) {
      st[m] = fma(delta, kk[m], st[m]);
      read = fma(st[m], qq[m], read);
    }
    read = simd_sum(read);
    if (lane == 0) {
      out[element] = read;
    }
  }

  for (uint m = 0; m < PER_LANE; ++m) {
    const uint j = lane + 32 * m;
    if (j < dk) {
      state_out[state_row + j] = st[m];
    }
  }
}
