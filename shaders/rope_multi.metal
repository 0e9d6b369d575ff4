// rope_multi.metal — multi-section rotary position embedding (MRoPE, Qwen2-VL; interleaved
// IMRoPE, Qwen3-VL and Qwen3.5 text) over [seq_len, n_heads, head_dim] rows: each rotated pair
// takes its position from one of up to four position axes (time, height, width, extra).
//
// Kernels rope_multi_f32, rope_multi_bf16      NeoX pairs (x[p], x[p + pair_offset])
//   Computes   for token t, head h, rotated pair p < n_pairs with elements (i0, i1) = (p, p + pair_offset):
//                y[i0] = x[i0]·cos θ − x[i1]·sin θ
//                y[i1] = x[i0]·sin θ + x[i1]·cos θ,     θ = positions[axis[p]][t] · ω_p
//              every other element of the row is copied unchanged (partial rotary).
//              axis[p] ∈ {0, 1, 2, 3} comes from the sections and the mode, and ω_p from the
//              frequency options; both are tabulated per pair on the host (ops/rope_multi.ts),
//              so the kernel is the same for every mode.
//   Pairs      As rope.metal's NeoX kernels: slot s < n_pairs rotates (s, s + pair_offset);
//              slot s ≥ n_pairs copies (copy_start + s − n_pairs) and that + copy_gap.
//   Angles     As rope.metal: θ reduced modulo one turn exactly from the host's table
//              freqs[p] = (g_head, g_tail, f_head, f_tail) in turns, for positions below 2^24;
//              precise::sin / precise::cos of the reduced angle. (The helper below is the same
//              computation as rope.metal's; shader files are compiled separately.)
//   Bindings   buffer(0) in         T[seq_len · n_heads · head_dim], row-major
//              buffer(1) out        T[same]; may be `in` (each slot reads and writes only its
//                                   own two elements)
//              buffer(2) params     constant RopeMultiParams (setBytes, 28 bytes)
//              buffer(3) positions  uint[4 · seq_len], axis-major: positions[a · seq_len + t]
//              buffer(4) freqs      constant float4[n_pairs] (setBytes, ≤ 4096 bytes)
//              buffer(5) axes       constant uint[n_pairs], the position axis of each pair
//                                   (setBytes)
//   Dtypes     T = float, bfloat (storage); f32 arithmetic, one rounding on store. The bf16
//              kernel only where the compiler has bfloat (__HAVE_BFLOAT__).
//   Geometry   threads-grid (head_dim / 2, ceil(n_heads / ROPE_MULTI_HEADS_PER_THREAD), seq_len):
//              a thread computes one slot's cos/sin once and applies it to up to
//              ROPE_MULTI_HEADS_PER_THREAD heads of its token. Any threadgroup shape.

#include <metal_stdlib>
using namespace metal;

// Heads one thread rotates with the same cos/sin. Equal to ROPE_HEADS_PER_THREAD of ops/_defines.ts
// (tests/ops/rope_multi_test.ts reads this line).
constant constexpr uint ROPE_MULTI_HEADS_PER_THREAD = 4;

struct RopeMultiParams {
  uint head_dim;     // D, even
  uint n_heads;      // heads per token
  uint seq_len;      // tokens (each axis of positions holds seq_len entries)
  uint n_pairs;      // rotated pairs = rope_dim / 2
  uint pair_offset;  // distance from a rotated element to its partner
  uint copy_start;   // first copied element
  uint copy_gap;     // distance between the two copied elements of a slot
};

// cos θ, sin θ for θ = pos · ω, with freq = (g_head, g_tail, f_head, f_tail) in turns.
static inline float2 rope_multi_cos_sin(uint pos, float4 freq) {
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

template <typename T>
[[kernel]] void rope_multi(
    device const T* in [[buffer(0)]],
    device T* out [[buffer(1)]],
    constant RopeMultiParams& params [[buffer(2)]],
    device const uint* positions [[buffer(3)]],
    constant float4* freqs [[buffer(4)]],
    constant uint* axes [[buffer(5)]],
    uint3 gid [[thread_position_in_grid]]) {
  const uint slot = gid.x;
  const uint head0 = gid.y * ROPE_MULTI_HEADS_PER_THREAD;
  const uint token = gid.z;
  if (slot < params.head_dim / 2 && head0 < params.n_heads && token < params.seq_len) {
    const bool rotate = slot < params.n_pairs;
    uint i0;
    uint i1;
    float2 cs = float2(1.0f, 0.0f);
    if (rotate) {
      i0 = slot;
      i1 = i0 + params.pair_offset;
      cs = rope_multi_cos_sin(positions[axes[slot] * params.seq_len + token], freqs[slot]);
    } else {
      i0 = params.copy_start + (slot - params.n_pairs);
      i1 = i0 + params.copy_gap;
    }
    const uint head_end = min(head0 + ROPE_MULTI_HEADS_PER_THREAD, params.n_heads);
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

template [[host_name("rope_multi_f32")]] [[kernel]] decltype(rope_multi<float>) rope_multi<float>;

// bfloat needs MSL 3.1 (macOS 14); without it the bf16 kernel is absent, f32 still compiles.
#if defined(__HAVE_BFLOAT__)
template [[host_name("rope_multi_bf16")]] [[kernel]] decltype(rope_multi<bfloat>) rope_multi<bfloat>;
#endif
