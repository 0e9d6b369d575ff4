// dense_mm_f32_f32.metal — batched dense mat-mat on Metal 4's tensor API (MetalPerformancePrimitives
// matmul2d), f32 weights and activations kept in f32 (no down-cast).
//
// Kernel hf2q_dense_mm_f32_f32_tensor
//   Computes   dst[b][m][n] = sum_k src0[b / r2][n][k] * src1[b][m][k]
//              b < batches, m < M, n < N, k < K; f32 products accumulated in f32 by matmul2d
//              (increasing k within a 32-wide step, steps in order). r2 = batches / weight
//              batches: the GQA broadcast (query head b reads key head b / r2).
//   Bindings   buffer(0) params  constant DenseMmTensorParams (setBytes, 16 bytes: K, N, M, r2).
//                                mlx-native bound llama.cpp's 13-field mul_mm struct (byte
//                                strides); these are the values the kernel uses, contiguous
//                                operands, in mlx-native's slot order.
//              buffer(1) src0    float [batches / r2, N, K], row-major
//              buffer(2) src1    float [batches, M, K], row-major
//              buffer(3) dst     float [batches, M, N]; must not overlap src0 or src1
//              threadgroup(0)    12288 bytes (the two staged tiles; the
//                                edge write-back reuses them)
//   Geometry   TG-grid (ceil(M / 32), ceil(N / 64), batches), 128 threads (4 SIMD-groups).
//              Each threadgroup owns a 32 (m) x 64 (n) output tile and walks K in steps of 32:
//              thread t stages 16 weights (row t / 2, k (t % 2) * 16 ..) and 8 inputs (row t / 4,
//              k (t % 4) * 8 ..) into threadgroup tiles, zero past K, N or M; one matmul2d
//              (M 32, N 64, K 32, right operand transposed, multiply-accumulate, 4 SIMD-groups)
//              adds tile_x · tile_wᵀ into a cooperative f32 accumulator. Full tiles store it
//              straight to dst (through a packed tensor N wide, so rows are N apart); edge
//              tiles go through threadgroup memory and each thread copies its share of the
//              valid rows.
//   Needs      Metal 4's tensor API (<metal_tensor>, MetalPerformancePrimitives): macOS 26 on
//              devices whose compiler accepts it; ops/tensor_api.ts probes for it. Any K >= 1.

#include <metal_stdlib>
#include <metal_tensor>
#include <MetalPerformancePrimitives/MetalPerformancePrimitives.h>
using namespace metal;
using namespace mpp::tensor_ops;

// Mirrored by ops/dense_mm_tensor.ts (its test reads these lines).
constant constexpr int DENSE_MM_TILE_M = 32;
constant constexpr int DENSE_MM_TILE_N = 64;
constant constexpr int DENSE_MM_TILE_K = 32;
constant constexpr int DENSE_MM_THREADS = 128;

struct DenseMmTensorParams {
  uint K;   // reduction length
  uint N;   // weight rows (output columns)
  uint M;   // activation rows per batch
  uint r2;  // activation batches per weight batch, >= 1
};

[[kernel]] void hf2q_dense_mm_f32_f32_tensor(
    constant DenseMmTensorParams& params [[buffer(0)]],
    device const float* src0 [[buffer(1)]],
    device const float* src1 [[buffer(2)]],
    device float* dst [[buffer(3)]],
    threadgroup float* shared [[threadgroup(0)]],
    uint3 group [[threadgroup_position_in_grid]],
    uint tid [[thread_index_in_threadgroup]]) {
  const int K = int(params.K), N = int(params.N), M = int(params.M);
  const int m0 = int(group.x) * DENSE_MM_TILE_M;
  const int n0 = int(group.y) * DENSE_MM_TILE_N;
  const uint b = group.z;
  threadgroup float* tile_w = shared;                                    // [64][32]
  threadgroup float* tile_x = shared + DENSE_MM_TILE_N * DENSE_MM_TILE_K;  // [32][32]

  // This thread's staging rows: weight row n0 + tid / 2, input row m0 + tid / 4.
  const int wr = int(tid) / 2, wk = (int(tid) % 2) * 16;
  const int xr = int(tid) / 4, xk = (int(tid) % 4) * 8;
  const bool w_row = n0 + wr < N, x_row = m0 + xr < M;
  device const float* w = src0 + (size_t(b / params.r2) * N + (w_row ? n0 + wr : 0)) * K;
  device const float* x = src1 + (size_t(b) * M + (x_row ? m0 + xr : 0)) * K;

  auto tW = tensor<threadgroup float, dextents<int32_t, 2>, tensor_inline>(
      tile_w, dextents<int32_t, 2>(DENSE_MM_TILE_K, DENSE_MM_TILE_N));
  auto tX = tensor<threadgroup float, dextents<int32_t, 2>, tensor_inline>(
      tile_x, dextents<int32_t, 2>(DENSE_MM_TILE_K, DENSE_MM_TILE_M));
  matmul2d<matmul2d_descriptor(DENSE_MM_TILE_M, DENSE_MM_TILE_N, DENSE_MM_TILE_K, false, true,
                               false, matmul2d_descriptor::mode::multiply_accumulate),
           execution_simdgroups<DENSE_MM_THREADS / 32>>
      mm;
  auto acc = mm.get_destination_cooperative_tensor<decltype(tX), decltype(tW), float>();
  for (uint i = 0; i < acc.get_capacity(); ++i) {
    if (acc.is_valid_element(i)) acc[i] = 0.0f;
  }

  for (int k0 = 0; k0 < K; k0 += DENSE_MM_TILE_K) {
    threadgroup_barrier(mem_flags::mem_threadgroup);  // the last step's run is done
    for (int i = 0; i < 16; ++i) {
      const int k = k0 + wk + i;
      tile_w[wr * DENSE_MM_TILE_K + wk + i] = (w_row && k < K) ? w[k] : 0.0f;
    }
    for (int i = 0; i < 8; ++i) {
      const int k = k0 + xk + i;
      tile_x[xr * DENSE_MM_TILE_K + xk + i] = (x_row && k < K) ? x[k] : 0.0f;
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
    mm.run(tX, tW, acc);
  }

  device float* out = dst + (size_t(b) * M + m0) * N + n0;
  if (m0 + DENSE_MM_TILE_M <= M && n0 + DENSE_MM_TILE_N <= N) {
    // A packed tensor N wide has row stride N; the accumulator fills its first 64 columns.
    acc.store(tensor<device float, dextents<int32_t, 2>, tensor_inline>(
        out, dextents<int32_t, 2>(N, DENSE_MM_TILE_M)));
    return;
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);  // every run has read the tiles
  acc.store(tensor<threadgroup float, dextents<int32_t, 2>, tensor_inline>(
      shared, dextents<int32_t, 2>(DENSE_MM_TILE_N, DENSE_MM_TILE_M)));
  threadgroup_barrier(mem_flags::mem_threadgroup);
  const int rows = min(DENSE_MM_TILE_M, M - m0), cols = min(DENSE_MM_TILE_N, N - n0);
  for (int e = int(tid); e < rows * DENSE_MM_TILE_N; e += DENSE_MM_THREADS) {
    const int r = e / DENSE_MM_TILE_N, c = e % DENSE_MM_TILE_N;
    if (c < cols) out[size_t(r) * N + c] = shared[r * DENSE_MM_TILE_N + c];
  }
}
