// top_k.metal — the k largest entries of each row, sorted (top-k sampling, MoE routing).
//
// Kernel top_k_f32
//   Computes   idx[r][0..k) = the indices of the k largest entries of row r, largest first;
//              vals[r][i] = x[r][idx[r][i]].
//   Order      The same strict order as argsort_desc_f32: larger value first, equal values by
//              ascending index (so among tied values the lowest indices are kept), NaN above
//              +inf, -0 equal to +0. (mlx-native returned its k entries unsorted and allowed
//              k <= 128; here k <= TOP_K_MAX and the output is sorted, which is what top-p
//              needs.) Elements compare as distinct 64-bit composites (order key << 32 | ~index).
//   Method     Radix select on the composites: up to 8 passes over the row, each a 256-bin
//              histogram (threadgroup atomics) of the next 8 bits among the elements that
//              share the bits chosen so far; it stops as soon as the bin holding the k-th
//              largest is taken whole (usually after 2-4 passes). The k elements at or above
//              the threshold are collected (exactly k: composites are distinct) and sorted
//              by a bitonic sort in threadgroup memory.
//   Bindings   buffer(0) in      float[rows * n], row-major
//              buffer(1) idx     uint[rows * k]
//              buffer(2) vals    float[rows * k]
//              buffer(3) params  constant TopKParams { uint n; uint k; uint k_padded; }
//                                (setBytes; 1 <= k <= n, k <= TOP_K_MAX; k_padded = next
//                                power of two >= k, at least 2)
//   Geometry   TG-grid (rows, 1, 1), one threadgroup per row; any width that is a multiple of
//              32, up to 1024 (the host uses the pipeline's maximum for long rows).
//              Threadgroup memory: 8 KiB of candidates, 1 KiB of histogram (static).

#include <metal_stdlib>
using namespace metal;

// Largest k. Mirrored by TOP_K_MAX in ops/_defines.ts (a test reads this line).
constant constexpr uint TOP_K_MAX = 1024;

constant constexpr uint TOP_K_BINS = 256;

struct TopKParams {
  uint n;         // row length
  uint k;         // entries to keep
  uint k_padded;  // next power of two >= k, >= 2
};

// Order-preserving key: a > b as floats (NaN above +inf, -0 == +0) iff key(a) > key(b).
static inline uint order_key(float v) {
  uint b = as_type<uint>(v);
  if ((b & 0x7FFFFFFFu) > 0x7F800000u) return 0xFFFFFFFFu;  // NaN
  if (b == 0x80000000u) b = 0u;                             // -0 -> +0
  return (b & 0x80000000u) != 0u ? ~b : (b | 0x80000000u);
}

// Larger composite = earlier in the output. Real elements are > 0.
static inline ulong composite(float v, uint index) {
  return (ulong(order_key(v)) << 32) | ulong(~index);
}

[[kernel]] void top_k_f32(
    device const float* in [[buffer(0)]],
    device uint* out_idx [[buffer(1)]],
    device float* out_vals [[buffer(2)]],
    constant TopKParams& params [[buffer(3)]],
    uint row [[threadgroup_position_in_grid]],
    uint tid [[thread_position_in_threadgroup]],
    uint width [[threads_per_threadgroup]]) {
  threadgroup atomic_uint hist[TOP_K_BINS];
  threadgroup atomic_uint taken;
  threadgroup uint choice[2];  // chosen bin, elements above it
  threadgroup ulong cand[TOP_K_MAX];
  const uint n = params.n;
  const uint k = params.k;
  const uint k_padded = params.k_padded;
  device const float* x = in + ulong(row) * n;

  // 1. Radix select: find the k-th largest composite's leading bits (prefix under mask).
  ulong prefix = 0;
  ulong mask = 0;
  uint need = k;  // how many of the elements matching prefix/mask are still to be taken
  for (int shift = 56; shift >= 0; shift -= 8) {
    for (uint b = tid; b < TOP_K_BINS; b += width) {
      atomic_store_explicit(&hist[b], 0u, memory_order_relaxed);
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
    for (uint j = tid; j < n; j += width) {
      const ulong c = composite(x[j], j);
      if ((c & mask) == prefix) {
        atomic_fetch_add_explicit(&hist[uint(c >> shift) & 0xFFu], 1u, memory_order_relaxed);
      }
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
    if (tid == 0) {
      uint above = 0;
      uint bin = 0;
      for (int b = int(TOP_K_BINS) - 1; b >= 0; --b) {
        const uint h = atomic_load_explicit(&hist[b], memory_order_relaxed);
        if (above + h >= need) {
          bin = uint(b);
          break;
        }
        above += h;
      }
      choice[0] = bin;
      choice[1] = above;
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
    const uint bin = choice[0];
    const uint above = choice[1];
    const uint in_bin = atomic_load_explicit(&hist[bin], memory_order_relaxed);
    prefix |= ulong(bin) << shift;
    mask |= 0xFFul << shift;
    need -= above;
    threadgroup_barrier(mem_flags::mem_threadgroup);  // everyone read hist/choice
    if (in_bin == need) {
      break;  // the whole bin is taken: threshold = prefix (remaining bits 0)
    }
  }

  // 2. Collect the k composites >= prefix (exactly k), pad, sort descending.
  if (tid == 0) atomic_store_explicit(&taken, 0u, memory_order_relaxed);
  for (uint i = k + tid; i < k_padded; i += width) cand[i] = 0ul;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  for (uint j = tid; j < n; j += width) {
    const ulong c = composite(x[j], j);
    if (c >= prefix) {
      const uint slot = atomic_fetch_add_explicit(&taken, 1u, memory_order_relaxed);
      if (slot < k) cand[slot] = c;
    }
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  for (uint kk = 2; kk <= k_padded; kk <<= 1) {
    for (uint jj = kk >> 1; jj > 0; jj >>= 1) {
      for (uint p = tid; p < k_padded / 2; p += width) {
        const uint i = 2 * jj * (p / jj) + (p % jj);
        const ulong a = cand[i];
        const ulong b = cand[i + jj];
        const bool descending = (i & kk) == 0;
        if (descending ? a < b : a > b) {
          cand[i] = b;
          cand[i + jj] = a;
        }
      }
      threadgroup_barrier(mem_flags::mem_threadgroup);
    }
  }

  // 3. Write indices and values.
  device uint* idx = out_idx + ulong(row) * k;
  device float* vals = out_vals + ulong(row) * k;
  for (uint i = tid; i < k; i += width) {
    const uint id = ~uint(cand[i]);
    idx[i] = id;
    vals[i] = x[id];
  }
}
