// cumsum.metal — inclusive prefix sum along the last axis of a [rows, dim] matrix (a building
// block of the chunked form of Gated DeltaNet: cumulative log-decays within a chunk).
//
// Kernels cumsum_f32, cumsum_bf16
//   Computes   y[r][j] = sum_{k <= j} x[r][k]
//              Inputs are widened to f32; every partial sum is f32; each output is rounded
//              once to the storage dtype (the bf16 kernel does not re-read rounded outputs).
//   Bindings   buffer(0) x       T[rows * dim], row-major, rows contiguous
//              buffer(1) y       T[rows * dim]; may be the same buffer as x (every element is
//                                read and then written by the same thread)
//              buffer(2) params  constant CumsumParams { uint dim; }   (setBytes, 4 bytes;
//                                mlx-native bound a device uint buffer)
//   Dtypes     T = float, bfloat (storage); f32 arithmetic. cumsum_bf16 exists only where the
//              compiler has bfloat (__HAVE_BFLOAT__: MSL 3.1 / macOS 14+, CPU backend).
//   Geometry   TG-grid (rows, 1, 1): one threadgroup per row, any width up to
//              32 * CUMSUM_MAX_SIMDGROUPS = 1024 (the host picks a multiple of 32 near
//              dim / CUMSUM_N_READS on a GPU, one thread on the CPU backend: ops/_dispatch.ts).
//   Any dim    The row is walked in tiles of width * CUMSUM_N_READS elements, with a running
//              f32 carry between tiles, so there is no limit on dim beyond its uint range (and
//              no per-thread chunk bound such as mlx-native's dim <= 8192).
//   Per tile   1. Thread t loads its CUMSUM_N_READS contiguous elements (a SIMD-group reads
//                 128 contiguous elements) and scans them serially in registers.
//              2. simd_prefix_exclusive_sum over the thread totals gives each thread's offset
//                 within its SIMD-group; lane 0 stores the SIMD-group total in threadgroup
//                 memory; after a barrier each SIMD-group adds the totals of the SIMD-groups
//                 before it, and all threads add the tile total to the carry.
//              3. Each thread writes carry + offsets + its local scan.
//              A barrier at the top of each tile keeps the next tile's totals from
//              overwriting ones still being read.

#include <metal_stdlib>
using namespace metal;

// Upper bound on SIMD-groups per threadgroup (1024 threads / 32 lanes); sizes the scratch.
// Mirrored by CUMSUM_MAX_SIMDGROUPS in ops/_defines.ts (a test reads this line).
constant constexpr uint CUMSUM_MAX_SIMDGROUPS = 32;

// Contiguous elements per thread per tile. Mirrored by CUMSUM_N_READS in ops/_defines.ts.
constant constexpr uint CUMSUM_N_READS = 4;

struct CumsumParams {
  uint dim;  // row length
};

template <typename T>
[[kernel]] void cumsum_rows(
    device const T* in [[buffer(0)]],
    device T* out [[buffer(1)]],
    constant CumsumParams& params [[buffer(2)]],
    uint row [[threadgroup_position_in_grid]],
    uint tid [[thread_position_in_threadgroup]],
    uint width [[threads_per_threadgroup]],
    uint lane [[thread_index_in_simdgroup]],
    uint simdgroup [[simdgroup_index_in_threadgroup]],
    uint simdgroups [[simdgroups_per_threadgroup]]) {
  threadgroup float totals[CUMSUM_MAX_SIMDGROUPS];
  const uint dim = params.dim;
  device const T* x = in + size_t(row) * dim;
  device T* y = out + size_t(row) * dim;
  const uint tile = width * CUMSUM_N_READS;

  float carry = 0.0f;  // sum of all earlier tiles
  for (uint base = 0; base < dim; base += tile) {
    // 1. Serial scan of this thread's elements.
    const uint first = base + tid * CUMSUM_N_READS;
    float local[CUMSUM_N_READS];
    float running = 0.0f;
    for (uint i = 0; i < CUMSUM_N_READS; ++i) {
      const uint j = first + i;
      running += j < dim ? float(x[j]) : 0.0f;
      local[i] = running;
    }

    // 2. Offsets: within the SIMD-group, then from earlier SIMD-groups.
    const float in_simdgroup = simd_prefix_exclusive_sum(running);
    const float simdgroup_total = simd_sum(running);
    threadgroup_barrier(mem_flags::mem_threadgroup);  // previous tile's totals are read
    if (lane == 0) {
      totals[simdgroup] = simdgroup_total;
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
    float before = 0.0f;
    for (uint s = 0; s < simdgroup; ++s) {
      before += totals[s];
    }
    const float tile_total = simd_sum(lane < simdgroups ? totals[lane] : 0.0f);

    // 3. Write.
    const float offset = carry + before + in_simdgroup;
    for (uint i = 0; i < CUMSUM_N_READS; ++i) {
      const uint j = first + i;
      if (j < dim) {
        y[j] = static_cast<T>(offset + local[i]);
      }
    }
    carry += tile_total;
  }
}

template [[host_name("cumsum_f32")]] [[kernel]] decltype(cumsum_rows<float>) cumsum_rows<float>;

// bfloat needs MSL 3.1 (macOS 14); without it cumsum_bf16 is absent, cumsum_f32 still compiles.
#if defined(__HAVE_BFLOAT__)
template [[host_name("cumsum_bf16")]] [[kernel]] decltype(cumsum_rows<bfloat>) cumsum_rows<bfloat>;
#endif
