// rope.metal — rotary position embedding (RoPE) over [seq_len, n_heads, head_dim] rows.
//
// Kernels rope_f32, rope_f16, rope_bf16            "normal" RoPE: adjacent pairs (x[2p], x[2p+1])
//         rope_neox_f32, rope_neox_bf16            NeoX RoPE: split pairs (x[p], x[p + offset])
//
//   Computes   for token t, head h, rotated pair p < n_pairs with elements (i0, i1):
//                y[i0] = x[i0]·cos θ − x[i1]·sin θ
//                y[i1] = x[i0]·sin θ + x[i1]·cos θ,     θ = positions[t] · ω_p
//              every other element of the row is copied unchanged (partial rotary).
//              ω_p (radians per position) is chosen on the host, in f64 (ops/rope.ts):
//                ω_p = freq_scale · base^(−2p / freq_dim) / freq_factor[p]
//              so the kernel never evaluates pow(); see "Angles" below.
//   Pairs      Slot s of the head_dim / 2 slots of a row owns two elements:
//                s <  n_pairs: i0 = s·step, i1 = i0 + pair_offset            (rotated)
//              step is 2 in the normal kernels and 1 in the NeoX ones (a template argument).
//                s >= n_pairs: i0 = copy_start + (s − n_pairs), i1 = i0 + copy_gap  (copied)
//              normal:                 step 2, offset 1,          copy_start 2·n_pairs, gap D/2 − n_pairs
//              NeoX, truncated partial step 1, offset n_pairs,    copy_start 2·n_pairs, gap D/2 − n_pairs
//                (llama.cpp / HF partial_rotary_factor: rotate the leading rope_dim elements)
//              NeoX, proportional      step 1, offset D/2,        copy_start n_pairs,   gap D/2
//                (mlx-native's rope_neox: pairs (p, p + D/2) for p < rope_dim / 2, Gemma 4 style)
//              With rope_dim = head_dim the last two coincide.
//   Angles     θ is reduced modulo one turn exactly, so precision does not decay with the
//              position. The host passes per pair, in turns (1 turn = 2π rad):
//                f = ω_p / 2π (turns per position) and g = frac(4096·f) (turns per 4096 positions),
//              each split into a head with at most 12 significant bits and an f32 tail
//              (freqs[p] = (g_head, g_tail, f_head, f_tail)). With pos = 4096·ph + pl
//              (ph, pl < 4096), the products ph·g_head and pl·f_head are exact in f32, so
//                turns ≡ frac(ph·g_head) + frac(pl·f_head) + ph·g_tail + pl·f_tail   (mod 1)
//              is accurate to a few 2^-24 turns, θ ∈ [−π, π] to about 1e-6 rad, for every
//              position below 2^24 (larger positions are not supported). A plain f32
//              pos·ω has an error of ~1e-3 rad at pos 8191.
//              precise::sin / precise::cos of the reduced angle (fast-math sin/cos only
//              promise ~2^-13 absolute accuracy).
//   Bindings   buffer(0) in         T[seq_len · n_heads · head_dim], row-major
//              buffer(1) out        T[same]; may be `in` (each slot reads and writes only its
//                                   own two elements)
//              buffer(2) params     constant RopeParams (setBytes, 28 bytes)
//              buffer(3) positions  uint[seq_len], position of each token (< 2^24)
//              buffer(4) freqs      constant float4[n_pairs] (setBytes, ≤ 4096 bytes ⇒ n_pairs ≤ 256)
//   Dtypes     T = float, half, bfloat (storage); f32 arithmetic, one rounding on store.
//              bf16 kernels only where the compiler has bfloat (__HAVE_BFLOAT__).
//   Geometry   threads-grid (head_dim / 2, ceil(n_heads / ROPE_HEADS_PER_THREAD), seq_len):
//              a thread computes one slot's cos/sin once and applies it to up to
//              ROPE_HEADS_PER_THREAD heads of its token. Any threadgroup shape.

#include <metal_stdlib>
using namespace metal;

// Heads one thread rotates with the same cos/sin. Mirrored by ROPE_HEADS_PER_THREAD in
// ops/_defines.ts (a test reads this line).
constant constexpr uint ROPE_HEADS_PER_THREAD = 4;

struct RopeParams {
  uint head_dim;     // D, even
  uint n_heads;      // heads per token
  uint seq_len;      // tokens (length of positions)
  uint n_pairs;      // rotated pairs = rope_dim / 2
  uint pair_offset;  // distance from a rotated element to its partner
  uint copy_start;   // first copied element
  uint copy_gap;     // distance between the two copied elements of a slot
};

// cos θ, sin θ for θ = pos · ω, with freq = (g_head, g_tail, f_head, f_tail) in turns.
static inline float2 rope_cos_sin(uint pos, float4 freq) {
  const float ph = float(pos >> 12);
  const float pl = float(pos & 4095u);
  float a = fract(ph * freq.x);  // exact product, exact fract
  float b = fract(pl * freq.z);
  a -= select(0.0f, 1.0f, a >= 0.5f);  // to [-0.5, 0.5): keeps the sum small
  b -= select(0.0f, 1.0f, b >= 0.5f);
  float turns = a + b + fma(ph, freq.y, pl * freq.w);
  turns -= rint(turns);
  const float theta = turns * 6.28318530717958647692f;
  return float2(precise::cos(theta), precise::sin(theta));
}

// STEP: index step between rotated pairs, 2 for normal RoPE, 1 for NeoX.
template <typename T, uint STEP>
[[kernel]] void rope_rows(
    device const T* in [[buffer(0)]],
    device T* out [[buffer(1)]],
    constant RopeParams& params [[buffer(2)]],
    device const uint* positions [[buffer(3)]],
    constant float4* freqs [[buffer(4)]],
    uint3 gid [[thread_position_in_grid]]) {
  const uint slot = gid.x;
  const uint head0 = gid.y * ROPE_HEADS_PER_THREAD;
  const uint token = gid.z;
  if (slot < params.head_dim / 2 && head0 < params.n_heads && token < params.seq_len) {
    const bool rotate = slot < params.n_pairs;
    uint i0;
    uint i1;
    float2 cs = float2(1.0f, 0.0f);
    if (rotate) {
      i0 = slot * STEP;
      i1 = i0 + params.pair_offset;
      cs = rope_cos_sin(positions[token], freqs[slot]);
    } else {
      i0 = params.copy_start + (slot - params.n_pairs);
      i1 = i0 + params.copy_gap;
    }
    const uint head_end = min(head0 + ROPE_HEADS_PER_THREAD, params.n_heads);
    for (uint h = head0; h < head_end; ++h) {
      const size_t row = (size_t(token) * params.n_heads + h) * params.head_dim;
      const float x0 = float(in[row + i0]);
      const float x1 = float(in[row + i1]);
      if (rotate) {
        out[row + i0] = static_cast<T>(x0 * cs.x - x1 * cs.y);
        out[row + i1] = static_cast<T>(x0 * cs.y + x1 * cs.x);
      } else {
        out[row + i0] = static_cast<T>(x0);
        out[row + i1] = static_cast<T>(x1);
      }
    }
  }
}

template [[host_name("rope_f32")]] [[kernel]] decltype(rope_rows<float, 2>) rope_rows<float, 2>;
template [[host_name("rope_f16")]] [[kernel]] decltype(rope_rows<half, 2>) rope_rows<half, 2>;
template [[host_name("rope_neox_f32")]] [[kernel]] decltype(rope_rows<float, 1>) rope_rows<float, 1>;

// bfloat needs MSL 3.1 (macOS 14); without it the bf16 names are absent.
#if defined(__HAVE_BFLOAT__)
template [[host_name("rope_bf16")]] [[kernel]] decltype(rope_rows<bfloat, 2>) rope_rows<bfloat, 2>;
template [[host_name("rope_neox_bf16")]] [[kernel]] decltype(rope_rows<bfloat, 1>) rope_rows<bfloat, 1>;
#endif
