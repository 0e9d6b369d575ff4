// rms_norm.metal — RMS normalisation over the last axis of a [rows, dim] matrix, plain and
// fused: 12 kernels, one file.
//
// Conventions for every kernel below
// - r = rsqrt(mean_j(x[j]^2) + eps) per row (eps inside the root, as Llama, Qwen, Gemma and
//   MLX define it). The sum of squares, r and every product are f32; each output is rounded
//   once to its storage dtype. Weights are applied as stored: y = x * r * w. Gemma 1-3
//   checkpoints keep the norm weight as an offset (the model uses 1 + w): fold the 1 in when
//   loading the weight (llama.cpp's GGUF converter does the same). Gemma 4 / Qwen / Llama
//   weights are used as they are.
// - Rows are contiguous, row-major, last index fastest; every buffer starts at offset 0.
// - Params arrive in a `constant` struct bound with setBytes (4-byte little-endian fields),
//   not in a device buffer of floats as in mlx-native.
// - bf16 storage (including the bf16 copies of the _dual kernels) needs bfloat
//   (__HAVE_BFLOAT__: MSL 3.1 / macOS 14+, and the CPU backend); elsewhere those names are
//   missing from the library, the f32/f16 ones still compile.
// - In place: an output may be the buffer of the input it is computed from (x, or m for
//   rms_norm_mul, or h for the residual of fused_post_attn_triple_norm_f32): each element is
//   read and then written by the same thread, after the row's reduction has read the row.
//   Distinct outputs of one kernel must be distinct buffers.
//
// Geometry (all kernels): TG-grid (rows, 1, 1), one threadgroup per row, any width up to
// 32 * RMS_NORM_MAX_SIMDGROUPS = 1024; the host picks a multiple of 32 near dim / 4 on a GPU
// and one thread on the CPU backend, or the caller's threadsPerRow (ops/_dispatch.ts).
// Thread t owns column groups t, t + width, t + 2 * width, ...; group g is
// the 4 columns 4g .. 4g + 3, loaded as one 4-vector when dim % 4 == 0 (rows then stay
// 16/8-byte aligned), element by element with bounds checks otherwise. A thread keeps its
// first RMS_NORM_CACHED_VECTORS groups in registers between the reduction and the output
// pass (rows up to 4 * 4 * width columns, 16384 at width 1024, are read from device memory
// once); later groups are re-read.
// Reduction: per-thread f32 sum -> simd_sum -> lane 0 of each SIMD-group writes threadgroup
// memory -> one barrier -> every SIMD-group sums the partials itself (no second barrier).
// Threadgroup memory is declared in the kernels (nothing to set on the host).
//
//   rms_norm_f32, rms_norm_f16, rms_norm_bf16
//     y[i][j] = x[i][j] * r_i * w[j]
//     buffer(0) x  T[rows * dim]     buffer(1) w  W[dim]     buffer(2) y  T[rows * dim]
//     buffer(3) RmsNormParams { float eps; uint dim; }
//     (T, W) = (float, float), (half, float), (bfloat, bfloat)   (mlx-native's dtypes)
//
//   rms_norm_no_scale_f32, rms_norm_no_scale_bf16
//     y[i][j] = x[i][j] * r_i                           (Gemma 4's per-head V norm)
//     buffer(0) x  T[rows * dim]     buffer(1) y  T[rows * dim]     buffer(2) RmsNormParams
//
//   rms_norm_mul_f32, rms_norm_mul_f16, rms_norm_mul_bf16
//     y[i][j] = x[i][j] * r_i * w[j] * m[i][j]
//     buffer(0) x  T[rows * dim]     buffer(1) w  W[dim]     buffer(2) m  T[rows * dim]
//     buffer(3) y  T[rows * dim]     buffer(4) RmsNormParams        (T, W) as rms_norm_*
//
//   rms_norm_no_scale_f32_dual
//     y[i][j] = x[i][j] * r_i  (float), and the same value rounded to bfloat in y16
//     buffer(0) x  float[rows * dim]     buffer(1) y  float[rows * dim]
//     buffer(2) y16  bfloat[rows * dim]     buffer(3) RmsNormParams
//     (mlx-native bound params at 2 and y16 at 3; here params come last, as everywhere)
//
//   rms_norm_no_scale_f32_dual_perm
//     As _dual, with rows = seq_len * n_heads in [seq_len, n_heads, dim] order (row i is
//     token i / n_heads, head i % n_heads). y keeps that layout; y16 is written head-major,
//     [n_heads, seq_len, dim]: y16[head][token][j].
//     buffer(0) x  float[rows * dim]     buffer(1) y  float[rows * dim]
//     buffer(2) y16  bfloat[rows * dim]
//     buffer(3) RmsNormPermParams { float eps; uint dim; uint n_heads; uint seq_len; }
//     (mlx-native bound params at 2, y16 at 3 and a uint2 (n_heads, seq_len) at 4)
//
//   rms_norm_f32_triple
//     One r_i, three weights: y_k[i][j] = x[i][j] * r_i * w_k[j],  k = a, b, c
//     buffer(0) x     buffer(1..3) w_a, w_b, w_c  float[dim]
//     buffer(4..6) y_a, y_b, y_c  float[rows * dim]     buffer(7) RmsNormParams
//
//   fused_post_attn_triple_norm_f32
//     res[i][j] = h[i][j] + a[i][j] * rsqrt(mean_j(a[i][j]^2) + eps) * w_post[j]
//     y_k[i][j] = res[i][j] * rsqrt(mean_j(res[i][j]^2) + eps) * w_k[j],  k = a, b, c
//     The second norm squares the f32 residual exactly as written to `res`.
//     buffer(0) h  float[rows * dim]     buffer(1) a  float[rows * dim]
//     buffer(2) w_post  float[dim]       buffer(3..5) w_a, w_b, w_c  float[dim]
//     buffer(6) res  float[rows * dim] (may be h)     buffer(7..9) y_a, y_b, y_c
//     buffer(10) RmsNormParams                                       (mlx-native's bindings)

#include <metal_stdlib>
using namespace metal;

// Upper bound on SIMD-groups per threadgroup (1024 threads / 32 lanes); sizes the partials.
// Mirrored by RMS_NORM_MAX_SIMDGROUPS in ops/_defines.ts (a test reads this line).
constant constexpr uint RMS_NORM_MAX_SIMDGROUPS = 32;

// 4-column groups each thread keeps in registers between the reduction and the output pass.
constant constexpr uint RMS_NORM_CACHED_VECTORS = 4;

struct RmsNormParams {
  float eps;  // added to mean(x^2) inside the root
  uint dim;   // row length
};

struct RmsNormPermParams {
  float eps;
  uint dim;
  uint n_heads;  // rows = seq_len * n_heads, in [seq_len, n_heads] order
  uint seq_len;
};

// Column group g (columns 4g .. 4g + 3) of a row, widened to f32; columns >= dim read as 0.
template <typename T>
static inline float4 load_group(device const T* row, uint g, uint dim) {
  const uint c = 4 * g;
  if ((dim & 3u) == 0u) {
    const vec<T, 4> v = *reinterpret_cast<device const vec<T, 4>*>(row + c);
    return float4(float(v[0]), float(v[1]), float(v[2]), float(v[3]));
  }
  float4 r = float4(0.0f);
  for (uint k = 0; k < 4; ++k) {
    if (c + k < dim) r[k] = float(row[c + k]);
  }
  return r;
}

// Stores column group g of a row, rounding each value once to T; columns >= dim are skipped.
template <typename T>
static inline void store_group(device T* row, uint g, uint dim, float4 v) {
  const uint c = 4 * g;
  if ((dim & 3u) == 0u) {
    vec<T, 4> r;
    for (uint k = 0; k < 4; ++k) {
      r[k] = static_cast<T>(v[k]);
    }
    *reinterpret_cast<device vec<T, 4>*>(row + c) = r;
  } else {
    for (uint k = 0; k < 4; ++k) {
      if (c + k < dim) row[c + k] = static_cast<T>(v[k]);
    }
  }
}

// Sum of squares of this thread's column groups; the first RMS_NORM_CACHED_VECTORS groups
// are kept in `cache` (zeros past the row's end).
template <typename T>
static inline float sum_squares(
    device const T* row, uint dim, uint tid, uint width, thread float4* cache) {
  const uint groups = (dim + 3) / 4;
  float acc = 0.0f;
  for (uint k = 0; k < RMS_NORM_CACHED_VECTORS; ++k) {
    const uint g = tid + k * width;
    cache[k] = g < groups ? load_group(row, g, dim) : float4(0.0f);
    acc += dot(cache[k], cache[k]);
  }
  for (uint g = tid + RMS_NORM_CACHED_VECTORS * width; g < groups; g += width) {
    const float4 v = load_group(row, g, dim);
    acc += dot(v, v);
  }
  return acc;
}

// Declares `r` = rsqrt(mean of squares + eps) of the row, from this thread's partial sum of
// squares `partial`: simd_sum, lane 0 of each SIMD-group writes `partials`
// (RMS_NORM_MAX_SIMDGROUPS floats), one barrier, every SIMD-group sums the partials itself (no
// second barrier). Every thread must reach it. A macro rather than a function so that the
// barrier and the SIMD-group sums stand in the kernel's own body, where the CPU backend can
// split the kernel into work-item loops (it keeps fibers for barriers inside called functions).
#define RMS_NORM_INVERSE_RMS(r, partial, partials)                                     \
  const float r##_simdgroup_sum = simd_sum(partial);                                  \
  if (lane == 0) (partials)[simdgroup] = r##_simdgroup_sum;                           \
  threadgroup_barrier(mem_flags::mem_threadgroup);                                    \
  const float r = rsqrt(simd_sum(lane < simdgroups ? (partials)[lane] : 0.0f) / float(dim) + \
                        params.eps)

// The output pass: calls op(g, v) for each of this thread's column groups g, with v the
// row's group (from `cache` for the first RMS_NORM_CACHED_VECTORS, re-read from `row` after).
template <typename T, typename Op>
static inline void for_each_group(
    device const T* row, uint dim, uint tid, uint width, thread const float4* cache,
    thread const Op& op) {
  const uint groups = (dim + 3) / 4;
  for (uint k = 0; k < RMS_NORM_CACHED_VECTORS; ++k) {
    const uint g = tid + k * width;
    if (g < groups) op(g, cache[k]);
  }
  for (uint g = tid + RMS_NORM_CACHED_VECTORS * width; g < groups; g += width) {
    op(g, load_group(row, g, dim));
  }
}

// ---- output operations (one column group each) ----

template <typename T, typename W>
struct ScaleWeight {  // y = x * r * w
  device T* y;
  device const W* w;
  uint dim;
  float r;
  void operator()(uint g, float4 v) const {
    store_group(y, g, dim, v * r * load_group(w, g, dim));
  }
};

template <typename T>
struct Scale {  // y = x * r
  device T* y;
  uint dim;
  float r;
  void operator()(uint g, float4 v) const { store_group(y, g, dim, v * r); }
};

template <typename T, typename W>
struct ScaleWeightMul {  // y = x * r * w * m
  device T* y;
  device const W* w;
  device const T* m;
  uint dim;
  float r;
  void operator()(uint g, float4 v) const {
    store_group(y, g, dim, v * r * load_group(w, g, dim) * load_group(m, g, dim));
  }
};

struct ScaleThreeWeights {  // y_k = x * r * w_k
  device float* ya;
  device float* yb;
  device float* yc;
  device const float* wa;
  device const float* wb;
  device const float* wc;
  uint dim;
  float r;
  void operator()(uint g, float4 v) const {
    const float4 n = v * r;
    store_group(ya, g, dim, n * load_group(wa, g, dim));
    store_group(yb, g, dim, n * load_group(wb, g, dim));
    store_group(yc, g, dim, n * load_group(wc, g, dim));
  }
};

// ---- kernels ----

template <typename T, typename W>
[[kernel]] void rms_norm_rows(
    device const T* x [[buffer(0)]],
    device const W* w [[buffer(1)]],
    device T* y [[buffer(2)]],
    constant RmsNormParams& params [[buffer(3)]],
    uint row [[threadgroup_position_in_grid]],
    uint tid [[thread_position_in_threadgroup]],
    uint width [[threads_per_threadgroup]],
    uint lane [[thread_index_in_simdgroup]],
    uint simdgroup [[simdgroup_index_in_threadgroup]],
    uint simdgroups [[simdgroups_per_threadgroup]]) {
  threadgroup float partials[RMS_NORM_MAX_SIMDGROUPS];
  const uint dim = params.dim;
  const size_t offset = size_t(row) * dim;
  float4 cache[RMS_NORM_CACHED_VECTORS];
  const float partial = sum_squares(x + offset, dim, tid, width, cache);
  RMS_NORM_INVERSE_RMS(r, partial, partials);
  const ScaleWeight<T, W> op{y + offset, w, dim, r};
  for_each_group(x + offset, dim, tid, width, cache, op);
}

template <typename T>
[[kernel]] void rms_norm_no_scale_rows(
    device const T* x [[buffer(0)]],
    device T* y [[buffer(1)]],
    constant RmsNormParams& params [[buffer(2)]],
    uint row [[threadgroup_position_in_grid]],
    uint tid [[thread_position_in_threadgroup]],
    uint width [[threads_per_threadgroup]],
    uint lane [[thread_index_in_simdgroup]],
    uint simdgroup [[simdgroup_index_in_threadgroup]],
    uint simdgroups [[simdgroups_per_threadgroup]]) {
  threadgroup float partials[RMS_NORM_MAX_SIMDGROUPS];
  const uint dim = params.dim;
  const size_t offset = size_t(row) * dim;
  float4 cache[RMS_NORM_CACHED_VECTORS];
  const float partial = sum_squares(x + offset, dim, tid, width, cache);
  RMS_NORM_INVERSE_RMS(r, partial, partials);
  const Scale<T> op{y + offset, dim, r};
  for_each_group(x + offset, dim, tid, width, cache, op);
}

template <typename T, typename W>
[[kernel]] void rms_norm_mul_rows(
    device const T* x [[buffer(0)]],
    device const W* w [[buffer(1)]],
    device const T* m [[buffer(2)]],
    device T* y [[buffer(3)]],
    constant RmsNormParams& params [[buffer(4)]],
    uint row [[threadgroup_position_in_grid]],
    uint tid [[thread_position_in_threadgroup]],
    uint width [[threads_per_threadgroup]],
    uint lane [[thread_index_in_simdgroup]],
    uint simdgroup [[simdgroup_index_in_threadgroup]],
    uint simdgroups [[simdgroups_per_threadgroup]]) {
  threadgroup float partials[RMS_NORM_MAX_SIMDGROUPS];
  const uint dim = params.dim;
  const size_t offset = size_t(row) * dim;
  float4 cache[RMS_NORM_CACHED_VECTORS];
  const float partial = sum_squares(x + offset, dim, tid, width, cache);
  RMS_NORM_INVERSE_RMS(r, partial, partials);
  const ScaleWeightMul<T, W> op{y + offset, w, m + offset, dim, r};
  for_each_group(x + offset, dim, tid, width, cache, op);
}

[[kernel]] void rms_norm_f32_triple(
    device const float* x [[buffer(0)]],
    device const float* wa [[buffer(1)]],
    device const float* wb [[buffer(2)]],
    device const float* wc [[buffer(3)]],
    device float* ya [[buffer(4)]],
    device float* yb [[buffer(5)]],
    device float* yc [[buffer(6)]],
    constant RmsNormParams& params [[buffer(7)]],
    uint row [[threadgroup_position_in_grid]],
    uint tid [[thread_position_in_threadgroup]],
    uint width [[threads_per_threadgroup]],
    uint lane [[thread_index_in_simdgroup]],
    uint simdgroup [[simdgroup_index_in_threadgroup]],
    uint simdgroups [[simdgroups_per_threadgroup]]) {
  threadgroup float partials[RMS_NORM_MAX_SIMDGROUPS];
  const uint dim = params.dim;
  const size_t offset = size_t(row) * dim;
  float4 cache[RMS_NORM_CACHED_VECTORS];
  const float partial = sum_squares(x + offset, dim, tid, width, cache);
  RMS_NORM_INVERSE_RMS(r, partial, partials);
  const ScaleThreeWeights op{ya + offset, yb + offset, yc + offset, wa, wb, wc, dim, r};
  for_each_group(x + offset, dim, tid, width, cache, op);
}

[[kernel]] void fused_post_attn_triple_norm_f32(
    device const float* h [[buffer(0)]],
    device const float* a [[buffer(1)]],
    device const float* w_post [[buffer(2)]],
    device const float* wa [[buffer(3)]],
    device const float* wb [[buffer(4)]],
    device const float* wc [[buffer(5)]],
    device float* res [[buffer(6)]],
    device float* ya [[buffer(7)]],
    device float* yb [[buffer(8)]],
    device float* yc [[buffer(9)]],
    constant RmsNormParams& params [[buffer(10)]],
    uint row [[threadgroup_position_in_grid]],
    uint tid [[thread_position_in_threadgroup]],
    uint width [[threads_per_threadgroup]],
    uint lane [[thread_index_in_simdgroup]],
    uint simdgroup [[simdgroup_index_in_threadgroup]],
    uint simdgroups [[simdgroups_per_threadgroup]]) {
  // Two reductions, two partial arrays: the second is written while slow SIMD-groups may
  // still read the first, so no barrier is needed in between.
  threadgroup float partials[2 * RMS_NORM_MAX_SIMDGROUPS];
  const uint dim = params.dim;
  const uint groups = (dim + 3) / 4;
  const size_t offset = size_t(row) * dim;
  device const float* h_row = h + offset;
  device const float* a_row = a + offset;
  device float* res_row = res + offset;

  // 1. r_a over the attention output.
  float4 cache[RMS_NORM_CACHED_VECTORS];
  const float partial_a = sum_squares(a_row, dim, tid, width, cache);
  RMS_NORM_INVERSE_RMS(r_a, partial_a, partials);

  // 2. res = h + a * r_a * w_post, written, kept in `cache` and squared for r_res.
  float partial_res = 0.0f;
  for (uint k = 0; k < RMS_NORM_CACHED_VECTORS; ++k) {
    const uint g = tid + k * width;
    if (g < groups) {
      const float4 v = load_group(h_row, g, dim) + cache[k] * r_a * load_group(w_post, g, dim);
      store_group(res_row, g, dim, v);
      cache[k] = v;
      partial_res += dot(v, v);
    }
  }
  for (uint g = tid + RMS_NORM_CACHED_VECTORS * width; g < groups; g += width) {
    const float4 v =
        load_group(h_row, g, dim) + load_group(a_row, g, dim) * r_a * load_group(w_post, g, dim);
    store_group(res_row, g, dim, v);
    partial_res += dot(v, v);
  }
  RMS_NORM_INVERSE_RMS(r_res, partial_res, partials + RMS_NORM_MAX_SIMDGROUPS);

  // 3. The three weighted outputs of the residual (uncached groups re-read from `res`, which
  //    this thread wrote itself).
  const ScaleThreeWeights op{ya + offset, yb + offset, yc + offset, wa, wb, wc, dim, r_res};
  for_each_group(res_row, dim, tid, width, cache, op);
}

#if defined(__HAVE_BFLOAT__)

struct ScaleDual {  // y = x * r, y16 = bfloat(y)
  device float* y;
  device bfloat* y16;
  uint dim;
  float r;
  void operator()(uint g, float4 v) const {
    const float4 n = v * r;
    store_group(y, g, dim, n);
    store_group(y16, g, dim, n);
  }
};

[[kernel]] void rms_norm_no_scale_f32_dual(
    device const float* x [[buffer(0)]],
    device float* y [[buffer(1)]],
    device bfloat* y16 [[buffer(2)]],
    constant RmsNormParams& params [[buffer(3)]],
    uint row [[threadgroup_position_in_grid]],
    uint tid [[thread_position_in_threadgroup]],
    uint width [[threads_per_threadgroup]],
    uint lane [[thread_index_in_simdgroup]],
    uint simdgroup [[simdgroup_index_in_threadgroup]],
    uint simdgroups [[simdgroups_per_threadgroup]]) {
  threadgroup float partials[RMS_NORM_MAX_SIMDGROUPS];
  const uint dim = params.dim;
  const size_t offset = size_t(row) * dim;
  float4 cache[RMS_NORM_CACHED_VECTORS];
  const float partial = sum_squares(x + offset, dim, tid, width, cache);
  RMS_NORM_INVERSE_RMS(r, partial, partials);
  const ScaleDual op{y + offset, y16 + offset, dim, r};
  for_each_group(x + offset, dim, tid, width, cache, op);
}

[[kernel]] void rms_norm_no_scale_f32_dual_perm(
    device const float* x [[buffer(0)]],
    device float* y [[buffer(1)]],
    device bfloat* y16 [[buffer(2)]],
    constant RmsNormPermParams& params [[buffer(3)]],
    uint row [[threadgroup_position_in_grid]],
    uint tid [[thread_position_in_threadgroup]],
    uint width [[threads_per_threadgroup]],
    uint lane [[thread_index_in_simdgroup]],
    uint simdgroup [[simdgroup_index_in_threadgroup]],
    uint simdgroups [[simdgroups_per_threadgroup]]) {
  threadgroup float partials[RMS_NORM_MAX_SIMDGROUPS];
  const uint dim = params.dim;
  const size_t offset = size_t(row) * dim;
  const uint token = row / params.n_heads;
  const uint head = row % params.n_heads;
  const size_t perm_offset = (size_t(head) * params.seq_len + token) * dim;
  float4 cache[RMS_NORM_CACHED_VECTORS];
  const float partial = sum_squares(x + offset, dim, tid, width, cache);
  RMS_NORM_INVERSE_RMS(r, partial, partials);
  const ScaleDual op{y + offset, y16 + perm_offset, dim, r};
  for_each_group(x + offset, dim, tid, width, cache, op);
}

#endif

template [[host_name("rms_norm_f32")]] [[kernel]] decltype(rms_norm_rows<float, float>) rms_norm_rows<float, float>;
template [[host_name("rms_norm_f16")]] [[kernel]] decltype(rms_norm_rows<half, float>) rms_norm_rows<half, float>;
template [[host_name("rms_norm_no_scale_f32")]] [[kernel]] decltype(rms_norm_no_scale_rows<float>) rms_norm_no_scale_rows<float>;
template [[host_name("rms_norm_mul_f32")]] [[kernel]] decltype(rms_norm_mul_rows<float, float>) rms_norm_mul_rows<float, float>;
template [[host_name("rms_norm_mul_f16")]] [[kernel]] decltype(rms_norm_mul_rows<half, float>) rms_norm_mul_rows<half, float>;

// bfloat needs MSL 3.1 (macOS 14); without it the bf16 names are absent, the rest compile.
#if defined(__HAVE_BFLOAT__)
template [[host_name("rms_norm_bf16")]] [[kernel]] decltype(rms_norm_rows<bfloat, bfloat>) rms_norm_rows<bfloat, bfloat>;
template [[host_name("rms_norm_no_scale_bf16")]] [[kernel]] decltype(rms_norm_no_scale_rows<bfloat>) rms_norm_no_scale_rows<bfloat>;
template [[host_name("rms_norm_mul_bf16")]] [[kernel]] decltype(rms_norm_mul_rows<bfloat, bfloat>) rms_norm_mul_rows<bfloat, bfloat>;
#endif
