// l2_norm.metal — L2 normalisation over the last axis of a [rows, dim] matrix (the q/k norm of
// Gated DeltaNet linear-attention layers).
//
// Kernels l2_norm_f32, l2_norm_f16, l2_norm_bf16
//   Computes   y[r][j] = x[r][j] * rsqrt(sum_k x[r][k]^2 + eps)
//              The SUM of squares (not the mean, unlike rms_norm.metal) with eps inside the
//              root. Inputs are widened to f32; the sum, the scale and each product are f32;
//              each output is rounded once to the storage dtype. A row of zeros gives zeros
//              for eps > 0 (and NaN for eps = 0, as 0 * rsqrt(0) = 0 * inf).
//   Bindings   buffer(0) x       T[rows * dim], row-major, rows contiguous
//              buffer(1) y       T[rows * dim]; may be the same buffer as x (each element is
//                                read and written by one thread, after the row's reduction
//                                has read the whole row)
//              buffer(2) params  constant L2NormParams { float eps; uint dim; }  (setBytes,
//                                8 bytes; mlx-native bound a device float buffer instead)
//   Dtypes     T = float, half, bfloat (storage); f32 arithmetic. l2_norm_bf16 exists only
//              where the compiler has bfloat (__HAVE_BFLOAT__: MSL 3.1 / macOS 14+, CPU backend).
//   Geometry   TG-grid (rows, 1, 1): one threadgroup per row, any width up to
//              32 * L2_NORM_MAX_SIMDGROUPS = 1024 (the host picks a multiple of 32 near dim / 4
//              on a GPU, one thread on the CPU backend: ops/_dispatch.ts). Thread t visits columns
//              t, t + width, ... so each SIMD-group reads contiguous memory.
//   Passes     1. Per-thread f32 sum of squares. 2. simd_sum. 3. Lane 0 of each SIMD-group
//              stores its partial in threadgroup memory; after one barrier every SIMD-group
//              sums the partials itself (no second barrier). 4. Every thread scales its columns.

#include <metal_stdlib>
using namespace metal;

// Upper bound on SIMD-groups per threadgroup (1024 threads / 32 lanes); sizes the scratch.
// Mirrored by L2_NORM_MAX_SIMDGROUPS in ops/_defines.ts (a test reads this line).
constant constexpr uint L2_NORM_MAX_SIMDGROUPS = 32;

struct L2NormParams {
  float eps;  // added to the sum of squares inside the root
  uint dim;   // row length
};

template <typename T>
[[kernel]] void l2_norm_rows(
    device const T* in [[buffer(0)]],
    device T* out [[buffer(1)]],
    constant L2NormParams& params [[buffer(2)]],
    uint row [[threadgroup_position_in_grid]],
    uint tid [[thread_position_in_threadgroup]],
    uint width [[threads_per_threadgroup]],
    uint lane [[thread_index_in_simdgroup]],
    uint simdgroup [[simdgroup_index_in_threadgroup]],
    uint simdgroups [[simdgroups_per_threadgroup]]) {
  threadgroup float partials[L2_NORM_MAX_SIMDGROUPS];
  const uint dim = params.dim;
  device const T* x = in + size_t(row) * dim;
  device T* y = out + size_t(row) * dim;

  // 1-2. Sum of squares: per thread, then per SIMD-group.
  float sum = 0.0f;
  for (uint j = tid; j < dim; j += width) {
    const float v = float(x[j]);
    sum = fma(v, v, sum);
  }
  sum = simd_sum(sum);

  // 3. Combine the SIMD-groups through threadgroup memory.
  if (lane == 0) {
    partials[simdgroup] = sum;
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  const float total = simd_sum(lane < simdgroups ? partials[lane] : 0.0f);
  const float scale = rsqrt(total + params.eps);

  // 4. Scale.
  for (uint j = tid; j < dim; j += width) {
    y[j] = static_cast<T>(float(x[j]) * scale);
  }
}

template [[host_name("l2_norm_f32")]] [[kernel]] decltype(l2_norm_rows<float>) l2_norm_rows<float>;
template [[host_name("l2_norm_f16")]] [[kernel]] decltype(l2_norm_rows<half>) l2_norm_rows<half>;

// bfloat needs MSL 3.1 (macOS 14); without it l2_norm_bf16 is absent, f32/f16 still compile.
#if defined(__HAVE_BFLOAT__)
template [[host_name("l2_norm_bf16")]] [[kernel]] decltype(l2_norm_rows<bfloat>) l2_norm_rows<bfloat>;
#endif
