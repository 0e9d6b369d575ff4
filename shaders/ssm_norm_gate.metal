// ssm_norm_gate.metal — the gated RMS norm that closes a Gated DeltaNet layer: each value
// head's read-out is RMS-normalised, weighted, and gated by SiLU of the gate projection z.
//
// Kernel ssm_norm_gate_f32
//   Computes   out[r][j] = x[r][j] * rsqrt(mean_k x[r][k]^2 + eps) * w[j] * silu(z[r][j])
//              silu(z) = z * sigmoid(z) = z / (1 + exp(-z)) with precise exp; exp(-z)
//              overflowing to +inf gives z / inf = 0, the exact limit. The MEAN of squares
//              (as rms_norm.metal; l2_norm.metal uses the sum), eps inside the root; all
//              arithmetic f32.
//   Bindings   buffer(0) x       float[rows * dim], row-major (row = one (token, value head))
//              buffer(1) w       float[dim], shared by all rows
//              buffer(2) z       float[rows * dim], the gate
//              buffer(3) out     float[rows * dim]; may be the buffer of x or of z (each element
//                                is read and written by one thread, after the row's reduction
//                                has read the whole row)
//              buffer(4) params  constant SsmNormGateParams { float eps; uint dim; }  (setBytes,
//                                8 bytes; mlx-native bound a device float buffer instead)
//   Geometry   TG-grid (rows, 1, 1): one threadgroup per row, any width up to
//              32 * SSM_NORM_GATE_MAX_SIMDGROUPS = 1024 (the host picks a multiple of 32 near
//              dim / 4 on a GPU, one thread on the CPU backend: ops/_dispatch.ts). Thread t visits
//              columns t, t + width, ... so each SIMD-group reads contiguous memory.
//   Passes     1. Per-thread f32 sum of squares. 2. simd_sum. 3. Lane 0 of each SIMD-group
//              stores its partial in threadgroup memory; after one barrier every SIMD-group
//              sums the partials itself. 4. Every thread writes its columns.

#include <metal_stdlib>
using namespace metal;

// Upper bound on SIMD-groups per threadgroup (1024 threads / 32 lanes); sizes the scratch.
// Mirrored by SSM_NORM_GATE_MAX_SIMDGROUPS in ops/_defines.ts (a test reads this line).
constant constexpr uint SSM_NORM_GATE_MAX_SIMDGROUPS = 32;

struct SsmNormGateParams {
  float eps;  // added to the mean of squares inside the root
  uint dim;   // row length (the value head dimension)
};

[[kernel]] void ssm_norm_gate_f32(
    device const float* x_all [[buffer(0)]],
    device const float* w [[buffer(1)]],
    device const float* z_all [[buffer(2)]],
    device float* out_all [[buffer(3)]],
    constant SsmNormGateParams& params [[buffer(4)]],
    uint row [[threadgroup_position_in_grid]],
    uint tid [[thread_position_in_threadgroup]],
    uint width [[threads_per_threadgroup]],
    uint lane [[thread_index_in_simdgroup]],
    uint simdgroup [[simdgroup_index_in_threadgroup]],
    uint simdgroups [[simdgroups_per_threadgroup]]) {
  threadgroup float partials[SSM_NORM_GATE_MAX_SIMDGROUPS];
  const uint dim = params.dim;
  const size_t base = size_t(row) * dim;
  device const float* x = x_all + base;
  device const float* z = z_all + base;
  device float* out = out_all + base;

  // 1-2. Sum of squares: per thread, then per SIMD-group.
  float sum = 0.0f;
  for (uint j = tid; j < dim; j += width) {
    sum = fma(x[j], x[j], sum);
  }
  sum = simd_sum(sum);

  // 3. Combine the SIMD-groups through threadgroup memory.
  if (lane == 0) {
    partials[simdgroup] = sum;
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  const float total = simd_sum(lane < simdgroups ? partials[lane] : 0.0f);
  const float scale = rsqrt(total / float(dim) + params.eps);

  // 4. Normalise, weight, gate.
  for (uint j = tid; j < dim; j += width) {
    const float gate = z[j];
    const float silu = gate / (1.0f + precise::exp(-gate));
    out[j] = x[j] * scale * w[j] * silu;
  }
}
