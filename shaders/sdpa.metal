// sdpa.metal — causal scaled dot-product attention, one thread per query row: the plain,
// serial reference kernel of the attention family (the tiled and split-K kernels are in
// flash_attn_prefill.metal and flash_attn_vec.metal; sdpa_sliding.metal adds a window).
//
// Kernels  sdpa        f32 Q/K/V/O
//          sdpa_bf16   bf16 Q/K/V/O (only where the compiler has bfloat)
//   Computes  for batch b, query head h, query row i, with kv_head = h / (n_heads / n_kv_heads)
//             and the queries right-aligned to the cache (position p = kv_len − seq_len + i):
//               O[b][h][i] = Σ_{j ≤ p} softmax_j(scale · Q[b][h][i] · K[b][kv_head][j]) · V[b][kv_head][j]
//             keys j < kv_len only; a row with p < 0 (more queries than keys) is zeros.
//             f32 arithmetic (one pass, running max and sum); one rounding on store.
//   Bindings  buffer(0) Q       T[batch · n_heads · seq_len · head_dim]
//             buffer(1) K       T[batch · n_kv_heads · kv_capacity · head_dim]
//             buffer(2) V       T[same as K]; the first kv_len positions of each head are read
//             buffer(3) O       T[same as Q]
//             buffer(4) params  constant SdpaParams (setBytes)
//   Geometry  TG-grid (ceil(seq_len / 32), n_heads, batch), 32 threads; thread = query row.
//   Limits    head_dim ≤ SDPA_MAX_HEAD_DIM (the per-thread accumulator), checked by the host.

#include <metal_stdlib>
using namespace metal;

// Largest head_dim: the length of each thread's output accumulator. Mirrored by
// SDPA_MAX_HEAD_DIM in ops/_defines.ts (a test reads this line).
constant constexpr uint SDPA_MAX_HEAD_DIM = 512;

struct SdpaParams {
  uint n_heads;      // query heads
  uint n_kv_heads;   // key/value heads; divides n_heads
  uint head_dim;     // D ≤ SDPA_MAX_HEAD_DIM
  uint seq_len;      // query rows per head
  uint kv_len;       // valid keys per KV head
  float scale;       // multiplies q · k
  uint kv_capacity;  // positions per KV head in K and V (≥ kv_len)
};

template <typename T>
[[kernel]] void sdpa_causal(
    device const T* q [[buffer(0)]],
    device const T* k [[buffer(1)]],
    device const T* v [[buffer(2)]],
    device T* o [[buffer(3)]],
    constant SdpaParams& p [[buffer(4)]],
    uint3 group [[threadgroup_position_in_grid]],
    uint lane [[thread_position_in_threadgroup]]) {
  const uint row = group.x * 32 + lane;
  if (row >= p.seq_len) {
    return;
  }
  const uint h = group.y;
  const uint b = group.z;
  const uint D = p.head_dim;
  const uint kv_head = h / (p.n_heads / p.n_kv_heads);
  const size_t q_row = ((size_t(b) * p.n_heads + h) * p.seq_len + row) * D;
  const size_t kv_base = (size_t(b) * p.n_kv_heads + kv_head) * p.kv_capacity * D;
  // Position of this query in the cache; keys 0 … position are visible.
  const int position = int(p.kv_len) - int(p.seq_len) + int(row);
  const int last = min(position, int(p.kv_len) - 1);

  float acc[SDPA_MAX_HEAD_DIM];
  for (uint d = 0; d < D; ++d) {
    acc[d] = 0.0f;
  }
  float running_max = -FLT_MAX;  // finite, so the first rescale is exp(-huge) = 0, not NaN
  float running_sum = 0.0f;
  for (int j = 0; j <= last; ++j) {
    device const T* kj = k + kv_base + size_t(j) * D;
    float dot = 0.0f;
    for (uint d = 0; d < D; ++d) {
      dot = fma(float(q[q_row + d]), float(kj[d]), dot);
    }
    const float s = dot * p.scale;
    const float new_max = max(running_max, s);
    const float rescale = exp(running_max - new_max);
    const float weight = exp(s - new_max);
    running_sum = running_sum * rescale + weight;
    device const T* vj = v + kv_base + size_t(j) * D;
    for (uint d = 0; d < D; ++d) {
      acc[d] = fma(weight, float(vj[d]), acc[d] * rescale);
    }
    running_max = new_max;
  }
  const float inv_sum = running_sum > 0.0f ? 1.0f / running_sum : 0.0f;  // no key: zeros
  for (uint d = 0; d < D; ++d) {
    o[q_row + d] = T(acc[d] * inv_sum);
  }
}

template [[host_name("sdpa")]] [[kernel]] decltype(sdpa_causal<float>) sdpa_causal<float>;
#if defined(__HAVE_BFLOAT__)
template [[host_name("sdpa_bf16")]] [[kernel]] decltype(sdpa_causal<bfloat>) sdpa_causal<bfloat>;
#endif
