// softmax.metal — numerically stable softmax over the last axis of a [rows, cols] matrix.
//
// Kernels softmax_f32, softmax_f16, softmax_bf16
//   Computes   out[r][j] = exp(x[r][j] - m_r) / sum_k exp(x[r][k] - m_r),  m_r = max_k x[r][k]
//              Inputs are widened to f32; the max, the exponentials and the sum are f32; each
//              output is rounded once to the storage dtype. (mlx-native's f16/bf16 kernels
//              stored the exponentials in the output dtype before normalising, a second
//              rounding; results here differ from it by at most one unit in the last place.)
//   -inf       Entries equal to -inf (masked logits) get probability 0. A row whose entries
//              are all -inf has no defined softmax: it is written as all zeros (no NaN).
//              The running max starts at -FLT_MAX rather than -inf, so no inf - inf is
//              formed; this stays correct under fast math. +inf and NaN inputs are undefined.
//   Bindings   buffer(0) in      T[rows * cols], row-major, rows contiguous
//              buffer(1) out     T[rows * cols]; may be the same buffer as `in` (each element
//                                is read and written by one thread, after the row's
//                                reduction has read the whole row)
//              buffer(2) params  constant SoftmaxParams { uint cols; }   (setBytes, 4 bytes)
//              threadgroup(0)    scratch float[2 * SOFTMAX_MAX_SIMDGROUPS] (256 bytes)
//   Dtypes     T = float, half, bfloat (storage); f32 arithmetic. softmax_bf16 exists only
//              where the compiler has bfloat (__HAVE_BFLOAT__: MSL 3.1 / macOS 14+, CPU backend).
//   Geometry   TG-grid (rows, 1, 1): one threadgroup per row. Any threadgroup width up to
//              32 * SOFTMAX_MAX_SIMDGROUPS = 1024; the host uses a multiple of 32 near
//              cols / 4 (ops/softmax.ts). Thread t visits columns t, t + width, ... so each
//              SIMD-group reads contiguous memory.
//   Passes     1. Each thread keeps an online (max, sum) pair over its columns (one exp per
//                 element). 2. SIMD-group combine with simd_max / simd_sum. 3. Lane 0 of each
//                 SIMD-group stores its pair in threadgroup memory; after one barrier every
//                 SIMD-group combines all pairs itself (no second barrier or broadcast).
//              4. Every thread writes exp(x - max) * (1 / sum) for its columns.

#include <metal_stdlib>
using namespace metal;

// Upper bound on SIMD-groups per threadgroup (1024 threads / 32 lanes); sizes the scratch
// memory. Mirrored by SOFTMAX_MAX_SIMDGROUPS in ops/_defines.ts (a test reads this line).
constant constexpr uint SOFTMAX_MAX_SIMDGROUPS = 32;

struct SoftmaxParams {
  uint cols;  // row length
};

template <typename T>
[[kernel]] void softmax_rows(
    device const T* in [[buffer(0)]],
    device T* out [[buffer(1)]],
    constant SoftmaxParams& params [[buffer(2)]],
    threadgroup float* scratch [[threadgroup(0)]],
    uint row [[threadgroup_position_in_grid]],
    uint tid [[thread_position_in_threadgroup]],
    uint width [[threads_per_threadgroup]],
    uint lane [[thread_index_in_simdgroup]],
    uint simdgroup [[simdgroup_index_in_threadgroup]],
    uint simdgroups [[simdgroups_per_threadgroup]]) {
  const uint cols = params.cols;
  device const T* x = in + size_t(row) * cols;
  device T* y = out + size_t(row) * cols;

  // 1. Online max and sum over this thread's columns.
  float m = -FLT_MAX;
  float s = 0.0f;
  for (uint j = tid; j < cols; j += width) {
    const float v = float(x[j]);
    if (v > m) {
      s = s * exp(m - v) + 1.0f;
      m = v;
    } else {
      s += exp(v - m);  // exp(-inf) = 0 for masked entries
    }
  }

  // 2. Combine the lanes of this SIMD-group.
  float sg_max = simd_max(m);
  float sg_sum = simd_sum(s * exp(m - sg_max));

  // 3. Combine the SIMD-groups through threadgroup memory.
  if (lane == 0) {
    scratch[simdgroup] = sg_max;
    scratch[SOFTMAX_MAX_SIMDGROUPS + simdgroup] = sg_sum;
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  const float part_max = lane < simdgroups ? scratch[lane] : -FLT_MAX;
  const float part_sum = lane < simdgroups ? scratch[SOFTMAX_MAX_SIMDGROUPS + lane] : 0.0f;
  const float row_max = simd_max(part_max);
  const float row_sum = simd_sum(part_sum * exp(part_max - row_max));
  const float inv_sum = row_sum > 0.0f ? 1.0f / row_sum : 0.0f;  // all -inf row -> zeros

  // 4. Normalise.
  for (uint j = tid; j < cols; j += width) {
    y[j] = static_cast<T>(exp(float(x[j]) - row_max) * inv_sum);
  }
}

template [[host_name("softmax_f32")]] [[kernel]] decltype(softmax_rows<float>) softmax_rows<float>;
template [[host_name("softmax_f16")]] [[kernel]] decltype(softmax_rows<half>) softmax_rows<half>;

// bfloat needs MSL 3.1 (macOS 14); without it softmax_bf16 is absent, f32/f16 still compile.
#if defined(__HAVE_BFLOAT__)
template [[host_name("softmax_bf16")]] [[kernel]] decltype(softmax_rows<bfloat>) softmax_rows<bfloat>;
#endif
