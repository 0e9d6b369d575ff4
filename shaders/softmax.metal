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
//              cols / 4 (ops/softmax.ts). Thread t visits the 4-column groups t, t + width, ...
//              (one 4-vector load each when cols % 4 == 0, which keeps rows 16/8-byte
//              aligned; element by element otherwise), so each SIMD-group reads contiguous
//              memory.
//   Passes     1. Row max: each thread's max, simd_max, lane 0 of each SIMD-group writes
//                 threadgroup memory, one barrier, every SIMD-group combines the partials
//                 itself. 2. Row sum of exp(x - max), the same way into a second half of the
//                 scratch (no barrier between the two reductions: they use different halves).
//              3. Every thread writes exp(x - max) * (1 / sum) for its columns.
//              The three passes are plain loops over 4-vectors (no data-dependent branch), so
//              the CPU backend runs them as vectorised work-item loops.

#include <metal_stdlib>
using namespace metal;

// Upper bound on SIMD-groups per threadgroup (1024 threads / 32 lanes); sizes the scratch
// memory. Mirrored by SOFTMAX_MAX_SIMDGROUPS in ops/_defines.ts (a test reads this line).
constant constexpr uint SOFTMAX_MAX_SIMDGROUPS = 32;

struct SoftmaxParams {
  uint cols;  // row length
};

// Column group g (columns 4g .. 4g + 3) of a row, widened to f32; columns >= cols read as
// -FLT_MAX (no infinity: correct under fast math, and exp(-FLT_MAX - max) is 0).
template <typename T>
static inline float4 softmax_load(device const T* row, uint g, uint cols) {
  const uint c = 4 * g;
  if ((cols & 3u) == 0u) {
    const vec<T, 4> v = *reinterpret_cast<device const vec<T, 4>*>(row + c);
    return float4(float(v[0]), float(v[1]), float(v[2]), float(v[3]));
  }
  float4 r = float4(-FLT_MAX);
  for (uint k = 0; k < 4; ++k) {
    if (c + k < cols) r[k] = float(row[c + k]);
  }
  return r;
}

// exp(v - row_max) of column group g, 0 for columns >= cols.
static inline float4 softmax_exp(float4 v, float row_max, uint g, uint cols) {
  float4 e = exp(v - row_max);  // exp(-inf) = 0 for masked entries
  if ((cols & 3u) != 0u) {
    for (uint k = 0; k < 4; ++k) {
      if (4 * g + k >= cols) e[k] = 0.0f;
    }
  }
  return e;
}

// Stores column group g of a row, rounding each value once to T; columns >= cols are skipped.
template <typename T>
static inline void softmax_store(device T* row, uint g, uint cols, float4 v) {
  const uint c = 4 * g;
  if ((cols & 3u) == 0u) {
    vec<T, 4> r;
    for (uint k = 0; k < 4; ++k) {
      r[k] = static_cast<T>(v[k]);
    }
    *reinterpret_cast<device vec<T, 4>*>(row + c) = r;
  } else {
    for (uint k = 0; k < 4; ++k) {
      if (c + k < cols) row[c + k] = static_cast<T>(v[k]);
    }
  }
}

// Whether pass 2 keeps each exponential in the output for pass 3 to scale (one exp per element):
// only where T is f32, so that f16/bf16 outputs are still rounded once.
template <typename T>
struct SoftmaxKeepsExponentials {
  static constant constexpr const bool value = false;
};
template <>
struct SoftmaxKeepsExponentials<float> {
  static constant constexpr const bool value = true;
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
  const uint groups = (cols + 3) / 4;
  device const T* x = in + size_t(row) * cols;
  device T* y = out + size_t(row) * cols;

  // 1. Row max.
  float4 m = float4(-FLT_MAX);
  for (uint g = tid; g < groups; g += width) {
    m = max(m, softmax_load(x, g, cols));
  }
  const float sg_max = simd_max(max(max(m.x, m.y), max(m.z, m.w)));
  if (lane == 0) {
    scratch[simdgroup] = sg_max;
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  const float row_max = simd_max(lane < simdgroups ? scratch[lane] : -FLT_MAX);

  // 2. Row sum of the exponentials (for f32, kept in the output).
  const bool keep = SoftmaxKeepsExponentials<T>::value;
  float4 s = float4(0.0f);
  for (uint g = tid; g < groups; g += width) {
    const float4 e = softmax_exp(softmax_load(x, g, cols), row_max, g, cols);
    s += e;
    if (keep) softmax_store(y, g, cols, e);
  }
  const float sg_sum = simd_sum((s.x + s.y) + (s.z + s.w));
  if (lane == 0) {
    scratch[SOFTMAX_MAX_SIMDGROUPS + simdgroup] = sg_sum;
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  const float row_sum = simd_sum(lane < simdgroups ? scratch[SOFTMAX_MAX_SIMDGROUPS + lane] : 0.0f);
  const float inv_sum = row_sum > 0.0f ? 1.0f / row_sum : 0.0f;  // all -inf row -> zeros

  // 3. Normalise (each thread rereads only the columns it wrote in pass 2).
  for (uint g = tid; g < groups; g += width) {
    const float4 e = keep ? softmax_load(y, g, cols)
                          : softmax_exp(softmax_load(x, g, cols), row_max, g, cols);
    softmax_store(y, g, cols, e * inv_sum);
  }
}

template [[host_name("softmax_f32")]] [[kernel]] decltype(softmax_rows<float>) softmax_rows<float>;
template [[host_name("softmax_f16")]] [[kernel]] decltype(softmax_rows<half>) softmax_rows<half>;

// bfloat needs MSL 3.1 (macOS 14); without it softmax_bf16 is absent, f32/f16 still compile.
#if defined(__HAVE_BFLOAT__)
template [[host_name("softmax_bf16")]] [[kernel]] decltype(softmax_rows<bfloat>) softmax_rows<bfloat>;
#endif
