// dense_gemv_bf16.metal — batched mat-vec with bf16 weights and f32 activations, for M = 1
// (decode) projections and the non-flash attention score product Q · Kᵀ with GQA broadcast.
//
// Kernel hf2q_dense_gemv_bf16_f32_4
//   Computes   dst[b][m][n] = sum_k src0[b / r2][n][k] * src1[b][m][k]
//              b < batches, m < M, n < N, k < K; src0 bf16, src1 and dst f32; products and
//              sums in f32 (each bf16 weight widens exactly). r2 = batches / weight batches:
//              the GQA broadcast (query head b reads key head b / r2).
//   "_4"       The llama.cpp mul_mv naming: the 4-vector variant. Every row is read as
//              bfloat4 / float4, so K, the weight row stride and the weight batch stride
//              must be multiples of 4 (ops/matmul.ts checks this before dispatch).
//   Bindings   buffer(0) params  constant DenseGemvParams (setBytes, 32 bytes; fields below)
//              buffer(1) src0    bfloat weights: row n of weight batch w starts at element
//                                w * w_batch_stride + n * w_row_stride (a KV cache of
//                                capacity C gives w_batch_stride = C * K)
//              buffer(2) src1    float[batches * M * K], contiguous
//              buffer(3) dst     float[batches * M * N], contiguous; must not overlap src1
//              mlx-native bound llama.cpp's mul_mv argument struct (ne/nb byte strides, i16
//              r2/r3) at buffer(0); this is a smaller struct of the values the kernel uses,
//              in elements, keeping mlx-native's slot order.
//   Dtypes     bfloat src0 (MSL 3.1: the whole kernel is inside __HAVE_BFLOAT__), float else.
//   Geometry   TG-grid (ceil(N / DENSE_GEMV_ROWS), M, batches); threadgroup (32 * S, 1, 1)
//              with 1 <= S <= DENSE_GEMV_MAX_SIMDGROUPS; the host picks
//              S = min(4, ceil(K / 128)) so long rows are split over several SIMD-groups.
//   Passes     Each threadgroup owns DENSE_GEMV_ROWS = 2 consecutive rows n of one (b, m).
//              1. Thread t of the threadgroup reads float4 t, t + 32 S, ... of src1[b][m]
//                 once and dots it with the same bfloat4 of both weight rows (f32 FMAs).
//              2. simd_sum folds each SIMD-group; lane 0 stores its two partial sums in
//                 threadgroup memory (2 * 4 floats, declared in the kernel).
//              3. After one barrier, lanes 0 and 1 of SIMD-group 0 add the S partials of
//                 rows n0 and n0 + 1 and store them. A row past N (odd N) re-reads row
//                 N - 1 and is not stored.

#include <metal_stdlib>
using namespace metal;

// Tuning numbers mirrored by ops/_defines.ts (tests/ops/matmul_test.ts reads these lines).
constant constexpr uint DENSE_GEMV_ROWS = 2;
constant constexpr uint DENSE_GEMV_MAX_SIMDGROUPS = 4;

struct DenseGemvParams {
  uint K;               // reduction length (multiple of 4)
  uint N;               // weight rows per batch (output columns)
  uint M;               // activation rows per batch
  uint r2;              // batches per weight batch (GQA group size), >= 1
  uint w_row_stride;    // elements between weight rows (multiple of 4, >= K)
  uint w_batch_stride;  // elements between weight batches (multiple of 4)
  uint batches;         // activation / output batches (informative; = grid z)
  uint pad;             // keeps the struct 32 bytes
};

#if defined(__HAVE_BFLOAT__)
[[kernel]] void hf2q_dense_gemv_bf16_f32_4(
    constant DenseGemvParams& params [[buffer(0)]],
    device const bfloat* src0 [[buffer(1)]],
    device const float* src1 [[buffer(2)]],
    device float* dst [[buffer(3)]],
    uint3 group [[threadgroup_position_in_grid]],
    uint tid [[thread_index_in_threadgroup]],
    uint width [[threads_per_threadgroup]],
    uint lane [[thread_index_in_simdgroup]],
    uint simdgroup [[simdgroup_index_in_threadgroup]],
    uint simdgroups [[simdgroups_per_threadgroup]]) {
  threadgroup float partial[DENSE_GEMV_ROWS * DENSE_GEMV_MAX_SIMDGROUPS];

  const uint K = params.K;
  const uint N = params.N;
  const uint M = params.M;
  const uint n0 = group.x * DENSE_GEMV_ROWS;
  const uint m = group.y;
  const uint batch = group.z;

  device const bfloat* w = src0 + size_t(batch / params.r2) * params.w_batch_stride;
  device const bfloat4* w0 =
      reinterpret_cast<device const bfloat4*>(w + size_t(min(n0, N - 1)) * params.w_row_stride);
  device const bfloat4* w1 =
      reinterpret_cast<device const bfloat4*>(w + size_t(min(n0 + 1, N - 1)) * params.w_row_stride);
  device const float4* x = reinterpret_cast<device const float4*>(src1 + (size_t(batch) * M + m) * K);

  // 1. Per-thread partial dot products over 4-vectors t, t + width, ...
  float acc0 = 0.0f;
  float acc1 = 0.0f;
  const uint K4 = K / 4;
  for (uint i = tid; i < K4; i += width) {
    const float4 xv = x[i];
    acc0 += dot(float4(w0[i]), xv);
    acc1 += dot(float4(w1[i]), xv);
  }

  // 2. Fold each SIMD-group.
  acc0 = simd_sum(acc0);
  acc1 = simd_sum(acc1);
  if (lane == 0) {
    partial[simdgroup * DENSE_GEMV_ROWS + 0] = acc0;
    partial[simdgroup * DENSE_GEMV_ROWS + 1] = acc1;
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);

  // 3. Fold the SIMD-groups and store.
  if (simdgroup == 0 && lane < DENSE_GEMV_ROWS && n0 + lane < N) {
    float sum = 0.0f;
    for (uint s = 0; s < simdgroups; ++s) {
      sum += partial[s * DENSE_GEMV_ROWS + lane];
    }
    dst[(size_t(batch) * M + m) * N + n0 + lane] = sum;
  }
}
#endif
