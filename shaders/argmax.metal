// argmax.metal — index and value of the largest entry of each row (greedy decoding).
//
// Kernel argmax_f32
//   Computes   idx[r] = the index of the largest x[r][j], val[r] = x[r][idx[r]], for each row r.
//   Order      Values compare as floats, with two fixed rules so the result never depends on
//              the threadgroup width or the hardware:
//              - ties go to the LOWEST index (e.g. a row of equal logits gives 0);
//              - NaN counts as larger than +inf (the first NaN wins, and val is NaN, so a
//                broken row is visible, as with torch.argmax / numpy.argmax). -0 equals +0.
//              Comparisons run on order-preserving integer keys (the float's bits, sign-folded;
//              NaN mapped to the top key), so fast math cannot change them.
//   Bindings   buffer(0) in      float[rows * n], row-major
//              buffer(1) idx     uint[rows]
//              buffer(2) val     float[rows]
//              buffer(3) params  constant ArgmaxParams { uint n; }   (setBytes, 4 bytes)
//              mlx-native handled one row and read n from a device buffer.
//   Geometry   TG-grid (rows, 1, 1): one threadgroup per row, width a multiple of 32 up to
//              32 * ARGMAX_MAX_SIMDGROUPS = 1024. Each thread scans elements tid, tid + width, ...
//              (coalesced), keeping the first strictly greater key; SIMD-groups combine with
//              simd_max on keys then simd_min on the indices holding the maximum; lane 0 of each
//              SIMD-group posts its pair to threadgroup memory, and after one barrier every
//              SIMD-group combines the posted pairs the same way.

#include <metal_stdlib>
using namespace metal;

// Upper bound on SIMD-groups per threadgroup. Mirrored by ARGMAX_MAX_SIMDGROUPS in
// ops/_defines.ts (a test reads this line).
constant constexpr uint ARGMAX_MAX_SIMDGROUPS = 32;

struct ArgmaxParams {
  uint n;  // row length
};

// Order-preserving key: a > b as floats (NaN above +inf, -0 == +0) iff key(a) > key(b).
// Every float has a key >= 0x007FFFFF (that of -inf), so 0 is below all of them.
static inline uint order_key(float v) {
  uint b = as_type<uint>(v);
  if ((b & 0x7FFFFFFFu) > 0x7F800000u) return 0xFFFFFFFFu;  // NaN
  if (b == 0x80000000u) b = 0u;                             // -0 -> +0
  return (b & 0x80000000u) != 0u ? ~b : (b | 0x80000000u);
}

[[kernel]] void argmax_f32(
    device const float* in [[buffer(0)]],
    device uint* out_idx [[buffer(1)]],
    device float* out_val [[buffer(2)]],
    constant ArgmaxParams& params [[buffer(3)]],
    uint row [[threadgroup_position_in_grid]],
    uint tid [[thread_position_in_threadgroup]],
    uint width [[threads_per_threadgroup]],
    uint lane [[thread_index_in_simdgroup]],
    uint simdgroup [[simdgroup_index_in_threadgroup]],
    uint simdgroups [[simdgroups_per_threadgroup]]) {
  threadgroup uint part_keys[ARGMAX_MAX_SIMDGROUPS];
  threadgroup uint part_idx[ARGMAX_MAX_SIMDGROUPS];
  const uint n = params.n;
  device const float* x = in + ulong(row) * n;

  // 1. This thread's best (first strictly greater key wins, so its lowest index on ties).
  uint best_key = 0u;
  uint best_idx = 0xFFFFFFFFu;
  for (uint j = tid; j < n; j += width) {
    const uint k = order_key(x[j]);
    if (k > best_key) {
      best_key = k;
      best_idx = j;
    }
  }

  // 2. SIMD-group: largest key, then the lowest index among the lanes holding it.
  uint key = simd_max(best_key);
  uint idx = simd_min(best_key == key ? best_idx : 0xFFFFFFFFu);

  // 3. Across SIMD-groups.
  if (lane == 0) {
    part_keys[simdgroup] = key;
    part_idx[simdgroup] = idx;
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  const uint pk = lane < simdgroups ? part_keys[lane] : 0u;
  const uint pi = lane < simdgroups ? part_idx[lane] : 0xFFFFFFFFu;
  key = simd_max(pk);
  idx = simd_min(pk == key ? pi : 0xFFFFFFFFu);
  if (tid == 0) {
    out_idx[row] = idx;
    out_val[row] = x[idx];
  }
}
