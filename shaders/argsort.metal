// argsort.metal — per-row argsort, descending (MoE routers, top-p candidate lists, beam search).
//
// Kernel argsort_desc_f32
//   Computes   out[r][0..n) = the indices of row r ordered by value, largest first.
//   Order      A strict total order, so the result is unique: larger value first; equal values
//              by ascending index (a row of ties gives 0, 1, 2, ...); NaN sorts before +inf
//              (as in torch.sort(descending=True)); -0 equals +0. Elements are compared as
//              64-bit composites (order key of the value << 32 | ~index), integer compares
//              that fast math cannot change.
//   Bindings   buffer(0) in       float[rows * n], row-major
//              buffer(1) out      uint[rows * n]
//              buffer(2) scratch  ulong[rows * padded] device scratch, used only when
//                                 padded > ARGSORT_TG_ELEMENTS (otherwise bind any buffer,
//                                 e.g. `out`: it is not touched)
//              buffer(3) params   constant ArgsortParams { uint n; uint padded; }   (setBytes;
//                                 padded = the next power of two >= n, at least 2)
//              mlx-native took rows of at most 256 elements; rows here may be any length
//              (a 151936-token vocabulary works, through the device scratch).
//   Geometry   TG-grid (rows, 1, 1), one threadgroup per row; width a multiple of 32, at most
//              min(1024, padded / 2) useful. Bitonic sort of `padded` composites (padding
//              composites are 0, below every element): chunks of ARGSORT_TG_ELEMENTS are
//              sorted in threadgroup memory (16 KiB); for longer rows the merge steps with a
//              stride >= ARGSORT_TG_ELEMENTS run in device memory (threadgroup_barrier with
//              mem_device between steps), the shorter strides again chunk by chunk in
//              threadgroup memory. The row is read once and the indices written once.

#include <metal_stdlib>
using namespace metal;

// Composites sorted in threadgroup memory at a time (16 KiB of ulong). Mirrored by
// ARGSORT_TG_ELEMENTS in ops/_defines.ts (a test reads this line).
constant constexpr uint ARGSORT_TG_ELEMENTS = 2048;

struct ArgsortParams {
  uint n;       // row length
  uint padded;  // next power of two >= n, >= 2
};

// Order-preserving key: a > b as floats (NaN above +inf, -0 == +0) iff key(a) > key(b).
static inline uint order_key(float v) {
  uint b = as_type<uint>(v);
  if ((b & 0x7FFFFFFFu) > 0x7F800000u) return 0xFFFFFFFFu;  // NaN
  if (b == 0x80000000u) b = 0u;                             // -0 -> +0
  return (b & 0x80000000u) != 0u ? ~b : (b | 0x80000000u);
}

// Larger composite = earlier in the output. Real elements are > 0 (keys >= 0x007FFFFF).
static inline ulong composite(float v, uint index) {
  return (ulong(order_key(v)) << 32) | ulong(~index);
}

// One bitonic compare-exchange step (block size k, stride j) over `count` elements of `data`
// whose first element has global position `base`: pairs (i, i + j), descending where
// (global i & k) == 0, ascending elsewhere.
template <typename Data>
static inline void bitonic_step(Data data, uint base, uint count, uint k, uint j, uint tid,
                                uint width) {
  for (uint p = tid; p < count / 2; p += width) {
    const uint i = 2 * j * (p / j) + (p % j);
    const ulong a = data[i];
    const ulong b = data[i + j];
    const bool descending = ((base + i) & k) == 0;
    if (descending ? a < b : a > b) {
      data[i] = b;
      data[i + j] = a;
    }
  }
}

[[kernel]] void argsort_desc_f32(
    device const float* in [[buffer(0)]],
    device uint* out [[buffer(1)]],
    device ulong* scratch [[buffer(2)]],
    constant ArgsortParams& params [[buffer(3)]],
    uint row [[threadgroup_position_in_grid]],
    uint tid [[thread_position_in_threadgroup]],
    uint width [[threads_per_threadgroup]]) {
  threadgroup ulong shared[ARGSORT_TG_ELEMENTS];
  const uint n = params.n;
  const uint padded = params.padded;
  const uint chunk = min(padded, ARGSORT_TG_ELEMENTS);
  const bool in_memory = padded == chunk;
  device const float* x = in + ulong(row) * n;
  device uint* y = out + ulong(row) * n;
  device ulong* s = scratch + ulong(row) * padded;

  // Phase 1: sort each chunk (blocks up to `chunk`), straight from the input.
  for (uint base = 0; base < padded; base += chunk) {
    for (uint l = tid; l < chunk; l += width) {
      const uint g = base + l;
      shared[l] = g < n ? composite(x[g], g) : 0ul;
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
    for (uint k = 2; k <= chunk; k <<= 1) {
      for (uint j = k >> 1; j > 0; j >>= 1) {
        bitonic_step(shared, base, chunk, k, j, tid, width);
        threadgroup_barrier(mem_flags::mem_threadgroup);
      }
    }
    for (uint l = tid; l < chunk; l += width) {
      if (in_memory) {
        if (l < n) y[l] = ~uint(shared[l]);
      } else {
        s[base + l] = shared[l];
      }
    }
    threadgroup_barrier(mem_flags::mem_threadgroup | mem_flags::mem_device);
  }

  // Phase 2 (rows longer than one chunk): merge blocks of 2 * chunk ... padded.
  for (uint k = chunk << 1; k <= padded && !in_memory; k <<= 1) {
    for (uint j = k >> 1; j >= chunk; j >>= 1) {
      bitonic_step(s, 0, padded, k, j, tid, width);
      threadgroup_barrier(mem_flags::mem_device);
    }
    for (uint base = 0; base < padded; base += chunk) {
      for (uint l = tid; l < chunk; l += width) shared[l] = s[base + l];
      threadgroup_barrier(mem_flags::mem_threadgroup);
      for (uint j = chunk >> 1; j > 0; j >>= 1) {
        bitonic_step(shared, base, chunk, k, j, tid, width);
        threadgroup_barrier(mem_flags::mem_threadgroup);
      }
      for (uint l = tid; l < chunk; l += width) {
        if (k == padded) {
          if (base + l < n) y[base + l] = ~uint(shared[l]);
        } else {
          s[base + l] = shared[l];
        }
      }
      threadgroup_barrier(mem_flags::mem_threadgroup | mem_flags::mem_device);
    }
  }
}
