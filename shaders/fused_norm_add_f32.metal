// fused_norm_add_f32.metal — RMSNorm fused with residual adds, scalars and MoE reductions
// (f32), and MoE top-k routing: 8 kernels, one file.
//
// Conventions for the row kernels (everything but the two routing kernels)
// - Rows are `dim` contiguous floats; row r of a [rows, dim] buffer starts at r * dim.
// - rms(v) = rsqrt(mean(v^2) + eps), summed in f32; "rmsnorm(v)" below is v * rms(v).
// - Geometry: TG-grid (rows, 1, 1), one threadgroup per row, any width up to
//   32 * FUSED_NORM_MAX_SIMDGROUPS = 1024 (the host uses a multiple of 32 near dim / 4).
//   Thread t owns the 4-element chunks starting at 4 * (t + j * width), j = 0, 1, ...: it reads
//   them, and in the second pass writes the same elements, so outputs may alias inputs (a
//   residual stream updated in place is fine).
// - Loads and stores are float4 when dim % 4 == 0 (buffers start at offset 0, so every row
//   is 16-byte aligned), element by element otherwise.
// - The first FUSED_NORM_CACHED_CHUNKS chunks of each thread (rows up to 16 * width elements,
//   16384 at width 1024) stay in registers between the sum-of-squares pass and the output
//   pass; further chunks are recomputed from device memory.
// - The sum of squares is reduced with simd_sum, then across SIMD-groups through
//   threadgroup(0) scratch float[2 * FUSED_NORM_MAX_SIMDGROUPS] (256 bytes), one barrier.
//
//   fused_norm_add_f32               out = residual + rmsnorm(x) * w
//     buffer(0) residual float[rows*dim]   buffer(1) x float[rows*dim]   buffer(2) w float[dim]
//     buffer(3) out float[rows*dim]        buffer(4) FusedNormParams { uint dim; float eps; }
//
//   fused_norm_add_scalar_f32        out = (residual + rmsnorm(x) * w) * c     (Gemma end of layer)
//   fused_residual_norm_scalar_f32   out = rmsnorm(residual + x) * w * c
//     buffer(0) residual   buffer(1) x   buffer(2) w float[dim]   buffer(3) out
//     buffer(4) scalar float[1] (c = scalar[0]) or float[dim] (c = scalar[i])
//     buffer(5) FusedNormScalarParams { uint dim; float eps; uint scalar_is_vector; }
//
//   fused_residual_norm_f32          s = residual + x;  out = rmsnorm(s) * w;  sum_out = s if write_sum
//     buffer(0) residual   buffer(1) x   buffer(2) w float[dim]   buffer(3) out
//     buffer(4) sum_out float[rows*dim] (not written when write_sum == 0; bind any buffer)
//     buffer(5) FusedResidualNormParams { uint dim; float eps; uint write_sum; }
//
//   fused_moe_wsum_norm_add_f32      s = sum_k y[r][k] * wk[r][k];  out = residual + rmsnorm(s) * w
//     buffer(0) y float[rows*top_k*dim]   buffer(1) wk float[rows*top_k]   buffer(2) residual
//     buffer(3) w float[dim]   buffer(4) out   buffer(5) FusedMoeWsumParams { uint dim, top_k; float eps; }
//
//   fused_moe_wsum_dnorm_add_f32     s as above;  out = rmsnorm(residual) * w_r + rmsnorm(s) * w_m
//     buffer(0) y   buffer(1) wk   buffer(2) residual   buffer(3) w_r float[dim]
//     buffer(4) w_m float[dim]   buffer(5) out   buffer(6) FusedMoeWsumParams
//
// Routing kernels
//   fused_moe_routing_f32            one token: logits float[E] -> ids uint[K], weights float[K]
//   fused_moe_routing_batch_f32      T tokens: logits float[T*E] -> ids uint[T*K], weights float[T*K]
//     Seed semantics: p = softmax(logits); pick the K largest p by repeated arg-max, ties to
//     the LOWEST expert index; weights[k] = p[ids[k]] / sum_j p[ids[j]] * scale[ids[k]] (no
//     renormalisation after the scale). ids come out in selection order (descending p).
//     Computed here as: selection on the logits themselves (softmax is monotone, and the
//     logits are exact while rounded probabilities can tie), and
//     weights[k] = exp(l_k - l_0) / sum_j exp(l_j - l_0) * scale[ids[k]], which equals the
//     renormalised softmax (the full softmax denominator cancels).
//     -inf logits (masked experts) are selected only after every other expert (by lowest
//     index among them) and get weight 0; if the top logit itself is -inf every weight is 0.
//     NaN logits are ordered like -inf for the selection (their weights are undefined).
//     buffer(0) logits   buffer(1) ids   buffer(2) weights   buffer(3) scale float[E]
//     buffer(4) FusedMoeRoutingParams { uint num_experts; uint top_k; }
//     Limits: 1 <= K <= FUSED_MOE_MAX_TOP_K (32), K <= E, E <= 32 * width.
//     Geometry: TG-grid (T, 1, 1) (T = 1 for fused_moe_routing_f32); width a multiple of 32
//     near E (one expert per thread up to 1024 experts). K rounds, one barrier each: every
//     thread proposes its best unselected expert, simd_max picks the largest logit, simd_min
//     the lowest index holding it, then the same across SIMD-groups. Threadgroup memory is
//     static (about 1 KB); no threadgroup(0) binding.

#include <metal_stdlib>
using namespace metal;

// Upper bound on SIMD-groups per threadgroup; sizes the scratch. Mirrored by
// FUSED_NORM_MAX_SIMDGROUPS in ops/_defines.ts (a test reads this line).
constant constexpr uint FUSED_NORM_MAX_SIMDGROUPS = 32;

// 4-element chunks per thread kept in registers between the two passes.
constant constexpr uint FUSED_NORM_CACHED_CHUNKS = 4;

// Largest top_k of the routing kernels (one SIMD-group computes the weights). Mirrored by
// FUSED_MOE_MAX_TOP_K in ops/_defines.ts.
constant constexpr uint FUSED_MOE_MAX_TOP_K = 32;

constant constexpr uint NO_EXPERT = 0xFFFFFFFFu;

struct FusedNormParams {
  uint dim;
  float eps;
};

struct FusedNormScalarParams {
  uint dim;
  float eps;
  uint scalar_is_vector;  // 0: c = scalar[0]; otherwise c = scalar[i]
};

struct FusedResidualNormParams {
  uint dim;
  float eps;
  uint write_sum;  // 0: sum_out untouched
};

struct FusedMoeWsumParams {
  uint dim;
  uint top_k;
  float eps;
};

struct FusedMoeRoutingParams {
  uint num_experts;
  uint top_k;
};

// ---------------------------------------------------------------------------------------
// Chunk access: 4 consecutive elements from index i of a row of n. `vec` (n % 4 == 0) means
// the chunk is whole and 16-byte aligned.

inline float4 load4(device const float* p, uint i, uint n, bool vec) {
  if (vec) {
    return *reinterpret_cast<device const float4*>(p + i);
  }
  float4 v = float4(0.0f);
  for (uint c = 0; c < 4; ++c) {
    if (i + c < n) v[c] = p[i + c];
  }
  return v;
}

inline void store4(device float* p, uint i, uint n, bool vec, float4 v) {
  if (vec) {
    *reinterpret_cast<device float4*>(p + i) = v;
    return;
  }
  for (uint c = 0; c < 4; ++c) {
    if (i + c < n) p[i + c] = v[c];
  }
}

// Sum over the threadgroup, returned to every thread: simd_sum, then one barrier and a
// second simd_sum over the per-SIMD-group partials.
inline float2 threadgroup_sum2(float2 v, threadgroup float* scratch, uint lane, uint sg, uint n_sg) {
  const float a = simd_sum(v.x);
  const float b = simd_sum(v.y);
  if (lane == 0) {
    scratch[sg] = a;
    scratch[FUSED_NORM_MAX_SIMDGROUPS + sg] = b;
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  const float pa = lane < n_sg ? scratch[lane] : 0.0f;
  const float pb = lane < n_sg ? scratch[FUSED_NORM_MAX_SIMDGROUPS + lane] : 0.0f;
  return float2(simd_sum(pa), simd_sum(pb));
}

// ---------------------------------------------------------------------------------------
// One RMS-normalised row. Op supplies value(i): the chunk to normalise, and
// emit(i, v, rms): the output for that chunk given its value and the row's rms.

template <typename Op>
inline void rms_row(thread const Op& op, uint dim, float eps, threadgroup float* scratch,
                    uint tid, uint width, uint lane, uint sg, uint n_sg) {
  float4 cache[FUSED_NORM_CACHED_CHUNKS];
  float ss = 0.0f;
  for (uint j = 0; j < FUSED_NORM_CACHED_CHUNKS; ++j) {
    const uint i = 4 * (tid + j * width);
    cache[j] = i < dim ? op.value(i) : float4(0.0f);
    ss += dot(cache[j], cache[j]);
  }
  for (uint i = 4 * (tid + FUSED_NORM_CACHED_CHUNKS * width); i < dim; i += 4 * width) {
    const float4 v = op.value(i);
    ss += dot(v, v);
  }
  const float total = threadgroup_sum2(float2(ss, 0.0f), scratch, lane, sg, n_sg).x;
  const float rms = rsqrt(total / float(dim) + eps);
  for (uint j = 0; j < FUSED_NORM_CACHED_CHUNKS; ++j) {
    const uint i = 4 * (tid + j * width);
    if (i < dim) op.emit(i, cache[j], rms);
  }
  for (uint i = 4 * (tid + FUSED_NORM_CACHED_CHUNKS * width); i < dim; i += 4 * width) {
    op.emit(i, op.value(i), rms);
  }
}

// out = residual + x * rms * w
struct NormAddOp {
  device const float* residual;
  device const float* x;
  device const float* w;
  device float* out;
  uint dim;
  bool vec;
  float4 value(uint i) const { return load4(x, i, dim, vec); }
  void emit(uint i, float4 v, float rms) const {
    store4(out, i, dim, vec, load4(residual, i, dim, vec) + v * rms * load4(w, i, dim, vec));
  }
};

// out = (residual + x * rms * w) * c
struct NormAddScalarOp {
  device const float* residual;
  device const float* x;
  device const float* w;
  device float* out;
  device const float* scalar;
  uint dim;
  bool vec;
  bool scalar_is_vector;
  float4 value(uint i) const { return load4(x, i, dim, vec); }
  void emit(uint i, float4 v, float rms) const {
    const float4 c = scalar_is_vector ? load4(scalar, i, dim, vec) : float4(scalar[0]);
    store4(out, i, dim, vec,
           (load4(residual, i, dim, vec) + v * rms * load4(w, i, dim, vec)) * c);
  }
};

// s = residual + x; out = s * rms * w [* c]; sum_out = s
struct ResidualNormOp {
  device const float* residual;
  device const float* x;
  device const float* w;
  device float* out;
  device float* sum_out;
  device const float* scalar;
  uint dim;
  bool vec;
  bool write_sum;
  bool has_scalar;
  bool scalar_is_vector;
  float4 value(uint i) const { return load4(residual, i, dim, vec) + load4(x, i, dim, vec); }
  void emit(uint i, float4 v, float rms) const {
    float4 y = v * rms * load4(w, i, dim, vec);
    if (has_scalar) y *= scalar_is_vector ? load4(scalar, i, dim, vec) : float4(scalar[0]);
    if (write_sum) store4(sum_out, i, dim, vec, v);
    store4(out, i, dim, vec, y);
  }
};

// s = sum_k y[k] * wk[k]; out = residual + s * rms * w
struct MoeWsumNormAddOp {
  device const float* y;  // this row's [top_k, dim]
  device const float* wk;  // this row's [top_k]
  device const float* residual;
  device const float* w;
  device float* out;
  uint dim;
  uint top_k;
  bool vec;
  float4 value(uint i) const {
    float4 s = float4(0.0f);
    for (uint k = 0; k < top_k; ++k) s += load4(y + size_t(k) * dim, i, dim, vec) * wk[k];
    return s;
  }
  void emit(uint i, float4 v, float rms) const {
    store4(out, i, dim, vec, load4(residual, i, dim, vec) + v * rms * load4(w, i, dim, vec));
  }
};

// ---------------------------------------------------------------------------------------
// Row kernels.

#define ROW_KERNEL_ATTRIBUTES                                    \
  threadgroup float* scratch [[threadgroup(0)]],                 \
      uint row [[threadgroup_position_in_grid]],                 \
      uint tid [[thread_position_in_threadgroup]],               \
      uint width [[threads_per_threadgroup]],                    \
      uint lane [[thread_index_in_simdgroup]],                   \
      uint sg [[simdgroup_index_in_threadgroup]],                \
      uint n_sg [[simdgroups_per_threadgroup]]

[[kernel]] void fused_norm_add_f32(
    device const float* residual [[buffer(0)]],
    device const float* x [[buffer(1)]],
    device const float* w [[buffer(2)]],
    device float* out [[buffer(3)]],
    constant FusedNormParams& params [[buffer(4)]],
    ROW_KERNEL_ATTRIBUTES) {
  const uint dim = params.dim;
  const size_t base = size_t(row) * dim;
  const NormAddOp op = {residual + base, x + base, w, out + base, dim, (dim & 3u) == 0};
  rms_row(op, dim, params.eps, scratch, tid, width, lane, sg, n_sg);
}

[[kernel]] void fused_norm_add_scalar_f32(
    device const float* residual [[buffer(0)]],
    device const float* x [[buffer(1)]],
    device const float* w [[buffer(2)]],
    device float* out [[buffer(3)]],
    device const float* scalar [[buffer(4)]],
    constant FusedNormScalarParams& params [[buffer(5)]],
    ROW_KERNEL_ATTRIBUTES) {
  const uint dim = params.dim;
  const size_t base = size_t(row) * dim;
  const NormAddScalarOp op = {residual + base, x + base, w, out + base, scalar, dim,
                              (dim & 3u) == 0, params.scalar_is_vector != 0};
  rms_row(op, dim, params.eps, scratch, tid, width, lane, sg, n_sg);
}

[[kernel]] void fused_residual_norm_f32(
    device const float* residual [[buffer(0)]],
    device const float* x [[buffer(1)]],
    device const float* w [[buffer(2)]],
    device float* out [[buffer(3)]],
    device float* sum_out [[buffer(4)]],
    constant FusedResidualNormParams& params [[buffer(5)]],
    ROW_KERNEL_ATTRIBUTES) {
  const uint dim = params.dim;
  const size_t base = size_t(row) * dim;
  const ResidualNormOp op = {residual + base, x + base, w, out + base, sum_out + base, w,
                             dim, (dim & 3u) == 0, params.write_sum != 0, false, false};
  rms_row(op, dim, params.eps, scratch, tid, width, lane, sg, n_sg);
}

[[kernel]] void fused_residual_norm_scalar_f32(
    device const float* residual [[buffer(0)]],
    device const float* x [[buffer(1)]],
    device const float* w [[buffer(2)]],
    device float* out [[buffer(3)]],
    device const float* scalar [[buffer(4)]],
    constant FusedNormScalarParams& params [[buffer(5)]],
    ROW_KERNEL_ATTRIBUTES) {
  const uint dim = params.dim;
  const size_t base = size_t(row) * dim;
  const ResidualNormOp op = {residual + base, x + base, w, out + base, out + base, scalar,
                             dim, (dim & 3u) == 0, false, true, params.scalar_is_vector != 0};
  rms_row(op, dim, params.eps, scratch, tid, width, lane, sg, n_sg);
}

[[kernel]] void fused_moe_wsum_norm_add_f32(
    device const float* y [[buffer(0)]],
    device const float* wk [[buffer(1)]],
    device const float* residual [[buffer(2)]],
    device const float* w [[buffer(3)]],
    device float* out [[buffer(4)]],
    constant FusedMoeWsumParams& params [[buffer(5)]],
    ROW_KERNEL_ATTRIBUTES) {
  const uint dim = params.dim;
  const uint top_k = params.top_k;
  const size_t base = size_t(row) * dim;
  const MoeWsumNormAddOp op = {y + base * top_k, wk + size_t(row) * top_k, residual + base, w,
                               out + base, dim, top_k, (dim & 3u) == 0};
  rms_row(op, dim, params.eps, scratch, tid, width, lane, sg, n_sg);
}

// Two norms in one row: both sums of squares share the one barrier of threadgroup_sum2.
[[kernel]] void fused_moe_wsum_dnorm_add_f32(
    device const float* y [[buffer(0)]],
    device const float* wk [[buffer(1)]],
    device const float* residual [[buffer(2)]],
    device const float* w_r [[buffer(3)]],
    device const float* w_m [[buffer(4)]],
    device float* out [[buffer(5)]],
    constant FusedMoeWsumParams& params [[buffer(6)]],
    ROW_KERNEL_ATTRIBUTES) {
  const uint dim = params.dim;
  const uint top_k = params.top_k;
  const bool vec = (dim & 3u) == 0;
  const size_t base = size_t(row) * dim;
  device const float* res = residual + base;
  device float* o = out + base;
  // value(i) is the weighted sum s; the residual chunks are cached beside it.
  const MoeWsumNormAddOp moe = {y + base * top_k, wk + size_t(row) * top_k, res, w_m, o, dim,
                                top_k, vec};
  float4 cache_m[FUSED_NORM_CACHED_CHUNKS];
  float4 cache_r[FUSED_NORM_CACHED_CHUNKS];
  float2 ss = float2(0.0f);
  for (uint j = 0; j < FUSED_NORM_CACHED_CHUNKS; ++j) {
    const uint i = 4 * (tid + j * width);
    cache_m[j] = i < dim ? moe.value(i) : float4(0.0f);
    cache_r[j] = i < dim ? load4(res, i, dim, vec) : float4(0.0f);
    ss += float2(dot(cache_r[j], cache_r[j]), dot(cache_m[j], cache_m[j]));
  }
  for (uint i = 4 * (tid + FUSED_NORM_CACHED_CHUNKS * width); i < dim; i += 4 * width) {
    const float4 m = moe.value(i);
    const float4 r = load4(res, i, dim, vec);
    ss += float2(dot(r, r), dot(m, m));
  }
  const float2 rms = rsqrt(threadgroup_sum2(ss, scratch, lane, sg, n_sg) / float(dim) + params.eps);
  for (uint j = 0; j < FUSED_NORM_CACHED_CHUNKS; ++j) {
    const uint i = 4 * (tid + j * width);
    if (i < dim) {
      store4(o, i, dim, vec,
             cache_r[j] * rms.x * load4(w_r, i, dim, vec) +
                 cache_m[j] * rms.y * load4(w_m, i, dim, vec));
    }
  }
  for (uint i = 4 * (tid + FUSED_NORM_CACHED_CHUNKS * width); i < dim; i += 4 * width) {
    store4(o, i, dim, vec,
           load4(res, i, dim, vec) * rms.x * load4(w_r, i, dim, vec) +
               moe.value(i) * rms.y * load4(w_m, i, dim, vec));
  }
}

// ---------------------------------------------------------------------------------------
// Routing.

// The lower of two (key, index) candidates: larger key, then lower index.
inline void simd_best(thread float& key, thread uint& index) {
  const float best = simd_max(key);
  index = simd_min(key == best ? index : NO_EXPERT);
  key = best;
}

inline void route_token(device const float* logits, device uint* ids, device float* weights,
                        device const float* scale, uint num_experts, uint top_k,
                        threadgroup float* part_key, threadgroup uint* part_index,
                        threadgroup float* chosen_logit, threadgroup uint* chosen_index,
                        uint tid, uint width, uint lane, uint sg, uint n_sg) {
  uint taken = 0;  // bit m: expert tid + m * width is already selected
  for (uint k = 0; k < top_k; ++k) {
    // This thread's best unselected expert. Keys are logits clamped to >= -FLT_MAX, so
    // -inf and NaN compare as finite numbers (fast-math safe); ascending scan with strict
    // `>` keeps the lowest index among equal keys.
    float key = -FLT_MAX;
    uint index = NO_EXPERT;
    uint m = 0;
    for (uint e = tid; e < num_experts; e += width, ++m) {
      const float v = max(logits[e], -FLT_MAX);
      if ((taken & (1u << m)) == 0 && (v > key || index == NO_EXPERT)) {
        key = v;
        index = e;
      }
    }
    simd_best(key, index);
    // Across SIMD-groups; partials alternate halves so one barrier per round suffices.
    const uint half_offset = (k & 1u) * FUSED_NORM_MAX_SIMDGROUPS;
    if (lane == 0) {
      part_key[half_offset + sg] = key;
      part_index[half_offset + sg] = index;
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
    key = lane < n_sg ? part_key[half_offset + lane] : -FLT_MAX;
    index = lane < n_sg ? part_index[half_offset + lane] : NO_EXPERT;
    simd_best(key, index);
    if (index % width == tid) taken |= 1u << (index / width);
    if (tid == 0) {
      chosen_index[k] = index;
      chosen_logit[k] = logits[index];
    }
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  // Renormalised softmax over the chosen logits, times the per-expert scale.
  if (sg == 0) {
    const float top = chosen_logit[0];
    const bool live = lane < top_k && top >= -FLT_MAX;  // false for -inf / NaN top logit
    const float e = live ? exp(chosen_logit[lane] - top) : 0.0f;
    const float sum = simd_sum(e);
    if (lane < top_k) {
      const uint id = chosen_index[lane];
      ids[lane] = id;
      weights[lane] = live ? e / sum * scale[id] : 0.0f;
    }
  }
}

#define ROUTING_SCRATCH                                                     \
  threadgroup float part_key[2 * FUSED_NORM_MAX_SIMDGROUPS];                \
  threadgroup uint part_index[2 * FUSED_NORM_MAX_SIMDGROUPS];               \
  threadgroup float chosen_logit[FUSED_MOE_MAX_TOP_K];                      \
  threadgroup uint chosen_index[FUSED_MOE_MAX_TOP_K]

[[kernel]] void fused_moe_routing_f32(
    device const float* logits [[buffer(0)]],
    device uint* ids [[buffer(1)]],
    device float* weights [[buffer(2)]],
    device const float* scale [[buffer(3)]],
    constant FusedMoeRoutingParams& params [[buffer(4)]],
    uint tid [[thread_position_in_threadgroup]],
    uint width [[threads_per_threadgroup]],
    uint lane [[thread_index_in_simdgroup]],
    uint sg [[simdgroup_index_in_threadgroup]],
    uint n_sg [[simdgroups_per_threadgroup]]) {
  ROUTING_SCRATCH;
  route_token(logits, ids, weights, scale, params.num_experts, params.top_k, part_key,
              part_index, chosen_logit, chosen_index, tid, width, lane, sg, n_sg);
}

[[kernel]] void fused_moe_routing_batch_f32(
    device const float* logits [[buffer(0)]],
    device uint* ids [[buffer(1)]],
    device float* weights [[buffer(2)]],
    device const float* scale [[buffer(3)]],
    constant FusedMoeRoutingParams& params [[buffer(4)]],
    uint token [[threadgroup_position_in_grid]],
    uint tid [[thread_position_in_threadgroup]],
    uint width [[threads_per_threadgroup]],
    uint lane [[thread_index_in_simdgroup]],
    uint sg [[simdgroup_index_in_threadgroup]],
    uint n_sg [[simdgroups_per_threadgroup]]) {
  ROUTING_SCRATCH;
  const uint e = params.num_experts;
  const uint k = params.top_k;
  route_token(logits + size_t(token) * e, ids + size_t(token) * k, weights + size_t(token) * k,
              scale, e, k, part_key, part_index, chosen_logit, chosen_index, tid, width, lane,
              sg, n_sg);
}
