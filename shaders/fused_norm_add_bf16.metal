// fused_norm_add_bf16.metal — RMSNorm of a sublayer output added to the residual stream, in
// bfloat16 storage with f32 arithmetic (Gemma post-attention / post-FFN norms): 2 kernels.
//
//   fused_norm_add_bf16             out = residual + x * rms(x) * w
//   fused_norm_add_no_weight_bf16   out = residual + x * rms(x)
//     rms(x) = rsqrt(mean(x^2) + eps) over the row; the norm is of x alone, the residual is
//     added afterwards. Inputs are widened to f32, the sum of squares and every product are
//     f32, each output is rounded once to bfloat (round to nearest even).
//
// Bindings
//   fused_norm_add_bf16
//     buffer(0) residual bfloat[rows*dim]   buffer(1) x bfloat[rows*dim]
//     buffer(2) w bfloat[dim]               buffer(3) out bfloat[rows*dim]
//     buffer(4) FusedNormParams { uint dim; float eps; }   (setBytes, 8 bytes)
//   fused_norm_add_no_weight_bf16
//     buffer(0) residual   buffer(1) x   buffer(2) out   buffer(3) FusedNormParams
//   threadgroup(0) scratch float[FUSED_NORM_MAX_SIMDGROUPS] (128 bytes)
//   out may be the same buffer as residual or x: each thread reads and writes only its own
//   elements, and every read of the first pass is finished before the barrier.
//
// Geometry  TG-grid (rows, 1, 1): one threadgroup per row, any width up to
//   32 * FUSED_NORM_MAX_SIMDGROUPS = 1024 (the host uses a multiple of 32 near dim / 4).
//   Thread t owns the 4-element chunks at 4 * (t + j * width); chunks are bfloat4 loads and
//   stores when dim % 4 == 0 (rows 8-byte aligned), element by element otherwise. The first
//   FUSED_NORM_CACHED_CHUNKS chunks stay in registers for the output pass; longer rows are
//   re-read. Sum of squares: simd_sum, then one barrier and a simd_sum of the partials.
//
// The whole file needs bfloat (__HAVE_BFLOAT__: MSL 3.1 / macOS 14+, and the CPU backend);
// without it the file compiles to an empty library.

#include <metal_stdlib>
using namespace metal;

// Upper bound on SIMD-groups per threadgroup; sizes the scratch. Mirrored by
// FUSED_NORM_MAX_SIMDGROUPS in ops/_defines.ts (a test reads this line).
constant constexpr uint FUSED_NORM_MAX_SIMDGROUPS = 32;

// 4-element chunks per thread kept in registers between the two passes.
constant constexpr uint FUSED_NORM_CACHED_CHUNKS = 4;

struct FusedNormParams {
  uint dim;
  float eps;
};

#if defined(__HAVE_BFLOAT__)

inline float4 load4(device const bfloat* p, uint i, uint n, bool vec) {
  if (vec) {
    return float4(*reinterpret_cast<device const bfloat4*>(p + i));
  }
  float4 v = float4(0.0f);
  for (uint c = 0; c < 4; ++c) {
    if (i + c < n) v[c] = float(p[i + c]);
  }
  return v;
}

inline void store4(device bfloat* p, uint i, uint n, bool vec, float4 v) {
  if (vec) {
    *reinterpret_cast<device bfloat4*>(p + i) = bfloat4(v);
    return;
  }
  for (uint c = 0; c < 4; ++c) {
    if (i + c < n) p[i + c] = bfloat(v[c]);
  }
}

// out = residual + normed [* w] for one chunk.
template <bool HasWeight>
inline void emit_norm_add(device const bfloat* residual, device const bfloat* w,
                          device bfloat* out, uint i, uint dim, bool vec, float4 normed) {
  if (HasWeight) normed *= load4(w, i, dim, vec);
  store4(out, i, dim, vec, load4(residual, i, dim, vec) + normed);
}

template <bool HasWeight>
inline void norm_add_row(device const bfloat* residual, device const bfloat* x,
                         device const bfloat* w, device bfloat* out, uint dim, float eps,
                         threadgroup float* scratch, uint tid, uint width, uint lane, uint sg,
                         uint n_sg) {
  const bool vec = (dim & 3u) == 0;
  float4 cache[FUSED_NORM_CACHED_CHUNKS];
  float ss = 0.0f;
  for (uint j = 0; j < FUSED_NORM_CACHED_CHUNKS; ++j) {
    const uint i = 4 * (tid + j * width);
    cache[j] = i < dim ? load4(x, i, dim, vec) : float4(0.0f);
    ss += dot(cache[j], cache[j]);
  }
  for (uint i = 4 * (tid + FUSED_NORM_CACHED_CHUNKS * width); i < dim; i += 4 * width) {
    const float4 v = load4(x, i, dim, vec);
    ss += dot(v, v);
  }
  ss = simd_sum(ss);
  if (lane == 0) scratch[sg] = ss;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  const float total = simd_sum(lane < n_sg ? scratch[lane] : 0.0f);
  const float rms = rsqrt(total / float(dim) + eps);

  for (uint j = 0; j < FUSED_NORM_CACHED_CHUNKS; ++j) {
    const uint i = 4 * (tid + j * width);
    if (i < dim) emit_norm_add<HasWeight>(residual, w, out, i, dim, vec, cache[j] * rms);
  }
  for (uint i = 4 * (tid + FUSED_NORM_CACHED_CHUNKS * width); i < dim; i += 4 * width) {
    emit_norm_add<HasWeight>(residual, w, out, i, dim, vec, load4(x, i, dim, vec) * rms);
  }
}

#define ROW_KERNEL_ATTRIBUTES                                    \
  threadgroup float* scratch [[threadgroup(0)]],                 \
      uint row [[threadgroup_position_in_grid]],                 \
      uint tid [[thread_position_in_threadgroup]],               \
      uint width [[threads_per_threadgroup]],                    \
      uint lane [[thread_index_in_simdgroup]],                   \
      uint sg [[simdgroup_index_in_threadgroup]],                \
      uint n_sg [[simdgroups_per_threadgroup]]

[[kernel]] void fused_norm_add_bf16(
    device const bfloat* residual [[buffer(0)]],
    device const bfloat* x [[buffer(1)]],
    device const bfloat* w [[buffer(2)]],
    device bfloat* out [[buffer(3)]],
    constant FusedNormParams& params [[buffer(4)]],
    ROW_KERNEL_ATTRIBUTES) {
  const size_t base = size_t(row) * params.dim;
  norm_add_row<true>(residual + base, x + base, w, out + base, params.dim, params.eps, scratch,
                     tid, width, lane, sg, n_sg);
}

[[kernel]] void fused_norm_add_no_weight_bf16(
    device const bfloat* residual [[buffer(0)]],
    device const bfloat* x [[buffer(1)]],
    device bfloat* out [[buffer(2)]],
    constant FusedNormParams& params [[buffer(3)]],
    ROW_KERNEL_ATTRIBUTES) {
  const size_t base = size_t(row) * params.dim;
  norm_add_row<false>(residual + base, x + base, x, out + base, params.dim, params.eps,
                      scratch, tid, width, lane, sg, n_sg);
}

#endif  // __HAVE_BFLOAT__
