// quantized_matmul_mm_tensor.metal — prefill-shaped products with GGUF block-quantised
// weights on Metal 4's tensor API (MetalPerformancePrimitives matmul2d): the tensor twins of
// quantized_matmul_mm.metal, and a fused variant reading a bf16 attention output in head-major
// layout.
//
// Kernels kernel_mul_mm_q4_0_tensor_f32, kernel_mul_mm_q8_0_tensor_f32, kernel_mul_mm_q6_K_tensor_f32
//   Computes   out[m][n] = sum_k half(W[n][k]) * half(x[m][k]): each weight is dequantised in f32
//              (formats/ggml.ts gives the layouts) and rounded once to half as it is staged; each
//              input is rounded to half as it is staged (matmul2d takes operands of one type);
//              f32 accumulation. K is a multiple of the block (32 for Q4_0 / Q8_0, 256 for
//              Q6_K); any N >= 1 and M >= 1.
//   Bindings   those of quantized_matmul_mm.metal:
//              buffer(0) w       uchar[N * K / block_values * block_bytes], the GGUF rows
//              buffer(1) x       float[M * K], row-major
//              buffer(2) out     float[M * N], row-major (must not overlap w or x)
//              buffer(3) params  constant GgmlMmParams { uint K; uint N; uint M; }  (setBytes)
//
// Kernels kernel_mul_mm_q4_0_tensor_bf16_perm021, kernel_mul_mm_q6_K_tensor_bf16_perm021
//   Computes   out[t][n] = sum_i half(W[n][i]) * half(X[t][i]) where the input row t is gathered
//              from a bf16 tensor laid out [heads][M][head_dim] (an attention output before
//              its 0-2-1 permute): X[t][i] = x[(i / head_dim) * M + t][i % head_dim], K =
//              heads * head_dim. Fuses the permute and the bf16 -> f32 cast in front of an
//              output projection; bf16 -> half gives the bits bf16 -> f32 -> half would.
//              head_dim is a multiple of 32 (a staged 32-wide step stays in one head).
//   Bindings   buffer(0) w       as above
//              buffer(1) x       bfloat[heads * M * head_dim]
//              buffer(2) out     float[M * N], row-major
//              buffer(3) params  constant GgmlMmPerm021Params { uint K; uint N; uint M;
//                                uint head_dim; }  (setBytes)
//
//   Geometry   (all five) TG-grid (ceil(M / 32), ceil(N / 64), 1), threadgroup (128, 1, 1) = 4
//              SIMD-groups for a 32 (m) x 64 (n) tile of out; 8 KB of threadgroup memory,
//              declared here. Per K step of 32, thread t dequantises the 16-value slice (t % 2)
//              of weight row n0 + t / 2 into a half tile W[64 n][32 k] and stages 8 inputs of row
//              m0 + t / 4 into a half tile x[32 m][32 k] (rows past M are zeros); then one
//              matmul2d (M 32, N 64, K 32, right operand transposed, multiply-accumulate, 4
//              SIMD-groups) adds x · Wᵀ into a cooperative f32 accumulator. A full tile stores
//              straight to out (a tensor N wide); an edge tile goes through threadgroup memory
//              and every thread copies its share of the valid part.
//   Why this shape  Each weight is dequantised once per 32 rows of x; the tensor op then uses
//              the matrix units at the widest operand shape the tile allows.
//   Needs      Metal 4's tensor API (<metal_tensor>, MetalPerformancePrimitives): macOS 26 on
//              devices whose compiler accepts it. ops/tensor_api.ts probes for it; the f32
//              kernels fall back to quantized_matmul_mm.metal, the perm021 ones have no twin.
//   mlx-native (after llama.cpp) uses the same tile sizes; this file is written from the
//   format definitions and Apple's description of the tensor API.

#include <metal_stdlib>
#include <metal_tensor>
#include <MetalPerformancePrimitives/MetalPerformancePrimitives.h>
using namespace metal;
using namespace mpp::tensor_ops;

// ---- begin shared: ggml block structs -------------------------------------------------------
// The GGUF block layouts (formats/ggml.ts); identical in every quantized_matmul_*ggml*/mm file
// (tests/ops/quantized_matmul_ggml_test.ts compares the copies).
struct GgmlBlockQ4_0 {  // 32 values, 18 bytes: value = d * (q - 8)
  half d;
  uchar qs[16];  // value j < 16: low nibble of qs[j]; value j >= 16: high nibble of qs[j - 16]
};
struct GgmlBlockQ8_0 {  // 32 values, 34 bytes: value = d * q
  half d;
  char qs[32];
};
struct GgmlBlockQ5_K {  // 256 values, 176 bytes: value = d * sc_j * q - dmin * m_j
  half d;
  half dmin;
  uchar scales[12];  // eight 6-bit (sc_j, m_j) pairs, see ggml_q5_K_scale_min
  uchar qh[32];      // fifth bits
  uchar qs[128];     // low nibbles
};
struct GgmlBlockQ6_K {  // 256 values, 210 bytes: value = d * scales[e / 16] * (q - 32)
  uchar ql[128];     // low 4 bits
  uchar qh[64];      // high 2 bits
  char scales[16];   // one per 16 values
  half d;
};
static_assert(sizeof(GgmlBlockQ4_0) == 18, "Q4_0 block is 18 bytes");
static_assert(sizeof(GgmlBlockQ8_0) == 34, "Q8_0 block is 34 bytes");
static_assert(sizeof(GgmlBlockQ5_K) == 176, "Q5_K block is 176 bytes");
static_assert(sizeof(GgmlBlockQ6_K) == 210, "Q6_K block is 210 bytes");

// The 6-bit scale and min of Q5_K sub-block j (0..7).
inline float2 ggml_q5_K_scale_min(device const uchar* s, uint j) {
  if (j < 4) {
    return float2(float(s[j] & 63), float(s[j + 4] & 63));
  }
  return float2(float((s[j + 4] & 15) | ((s[j - 4] >> 6) << 4)),
                float((s[j + 4] >> 4) | ((s[j] >> 6) << 4)));
}
// ---- end shared: ggml block structs ---------------------------------------------------------

// ---- begin shared: ggml tensor mat-mat ------------------------------------------------------
// Identical in quantized_matmul_mm_tensor.metal and quantized_matmul_id_mm_tensor.metal.

// Tile sizes: those of the SIMD-group twins (ops/_ggml.ts mirrors them).
constant constexpr int GGML_TMM_TILE_M = 32;
constant constexpr int GGML_TMM_TILE_N = 64;
constant constexpr int GGML_TMM_TILE_K = 32;
constant constexpr int GGML_TMM_THREADS = 128;

// The 16-value slice `slice` of a block (values 16 * slice ...), dequantised in f32.
inline void ggml_dequantize_16(device const GgmlBlockQ4_0* block, uint slice, thread float* v) {
  const float d = float(block->d);
  for (uint i = 0; i < 16; ++i) {
    const uchar byte = block->qs[i];
    v[i] = d * float(int(slice == 0 ? (byte & 15) : (byte >> 4)) - 8);
  }
}
inline void ggml_dequantize_16(device const GgmlBlockQ8_0* block, uint slice, thread float* v) {
  const float d = float(block->d);
  for (uint i = 0; i < 16; ++i) {
    v[i] = d * float(block->qs[16 * slice + i]);
  }
}
inline void ggml_dequantize_16(device const GgmlBlockQ6_K* block, uint slice, thread float* v) {
  // Values 16s .. 16s + 15 lie in half h, quarter q, at l = 16 (s % 2) + i.
  const uint h = slice / 8;
  const uint q = (slice / 2) % 4;
  const uint l0 = 16 * (slice % 2);
  const float scale = float(block->d) * float(block->scales[slice]);
  device const uchar* ql = block->ql + 64 * h + 32 * (q & 1) + l0;
  device const uchar* qh = block->qh + 32 * h + l0;
  for (uint i = 0; i < 16; ++i) {
    const uint nibble = (q & 2) ? uint(ql[i] >> 4) : uint(ql[i] & 15);
    const uint top = (uint(qh[i]) >> (2 * q)) & 3;
    v[i] = scale * float(int(nibble | (top << 4)) - 32);
  }
}

// Threadgroup scratch of one tile, 8 KB: W as half [64 n][32 k] then x as half [32 m][32 k]
// (6 KB) while the K loop runs; the output tile as float [32 m][64 n] for an edge store.
struct GgmlTmmScratch {
  float data[GGML_TMM_TILE_M * GGML_TMM_TILE_N];
};

// This thread's row of an f32 input (null: a row past the end, staged as zeros).
struct GgmlTmmF32Row {
  device const float* row;
  inline void load8(uint k, thread half* v) const {
    if (row == nullptr) {
      for (uint i = 0; i < 8; ++i) v[i] = half(0.0f);
      return;
    }
    const float4 a = *(device const float4*)(row + k);
    const float4 b = *(device const float4*)(row + k + 4);
    for (uint i = 0; i < 4; ++i) {
      v[i] = half(a[i]);
      v[4 + i] = half(b[i]);
    }
  }
};

// Accumulates the 32 (m) x 64 (n) tile of x · Wᵀ with one matmul2d per K step of 32, from
// weight rows n0 .. of `w` (rows past N read row N - 1; their columns are never stored) and this
// thread's input row `x_row` (a loader with load8(k, v): 8 values from column k, as half).
// When `out` is not null and the tile is full, stores it there (row stride N) and returns true;
// otherwise leaves it in the scratch as float [32 m][64 n] (visible to every thread) and returns
// false.
template <typename Block, uint VALUES, typename Row>
inline bool ggml_tmm_tile(device const uchar* w, uint K, uint N, uint n0, Row x_row,
                          threadgroup GgmlTmmScratch& scratch, device float* out, bool full,
                          uint tid) {
  threadgroup half* sw = (threadgroup half*)scratch.data;         // [n][k]
  threadgroup half* sx = sw + GGML_TMM_TILE_N * GGML_TMM_TILE_K;  // [m][k]
  const size_t row_bytes = size_t(K / VALUES) * sizeof(Block);
  const uint w_local = tid / 2;
  const uint w_half = tid % 2;  // which 16 of the 32 k
  device const uchar* w_row = w + size_t(min(n0 + w_local, N - 1)) * row_bytes;
  const uint x_local = tid / 4;
  const uint x_col = 8 * (tid % 4);

  auto tw = tensor<threadgroup half, dextents<int32_t, 2>, tensor_inline>(
      sw, dextents<int32_t, 2>(GGML_TMM_TILE_K, GGML_TMM_TILE_N));
  auto tx = tensor<threadgroup half, dextents<int32_t, 2>, tensor_inline>(
      sx, dextents<int32_t, 2>(GGML_TMM_TILE_K, GGML_TMM_TILE_M));
  matmul2d<matmul2d_descriptor(GGML_TMM_TILE_M, GGML_TMM_TILE_N, GGML_TMM_TILE_K, false, true,
                               false, matmul2d_descriptor::mode::multiply_accumulate),
           execution_simdgroups<GGML_TMM_THREADS / 32>>
      mm;
  auto acc = mm.get_destination_cooperative_tensor<decltype(tx), decltype(tw), float>();
  for (uint i = 0; i < acc.get_capacity(); ++i) {
    if (acc.is_valid_element(i)) acc[i] = 0.0f;
  }
  for (uint k0 = 0; k0 < K; k0 += GGML_TMM_TILE_K) {
    threadgroup_barrier(mem_flags::mem_threadgroup);  // the previous run is done reading
    {
      const uint k = k0 + 16 * w_half;
      float v[16];
      ggml_dequantize_16((device const Block*)w_row + k / VALUES, (k % VALUES) / 16, v);
      threadgroup half* dst = sw + w_local * GGML_TMM_TILE_K + 16 * w_half;
      for (uint i = 0; i < 16; ++i) dst[i] = half(v[i]);
    }
    {
      half v[8];
      x_row.load8(k0 + x_col, v);
      threadgroup half* dst = sx + x_local * GGML_TMM_TILE_K + x_col;
      for (uint i = 0; i < 8; ++i) dst[i] = v[i];
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
    mm.run(tx, tw, acc);
  }
  if (out != nullptr && full) {
    // A packed tensor N wide has row stride N; the accumulator fills its first 64 columns.
    acc.store(tensor<device float, dextents<int32_t, 2>, tensor_inline>(
        out, dextents<int32_t, 2>(int(N), GGML_TMM_TILE_M)));
    return true;
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);  // every run has read the tiles
  acc.store(tensor<threadgroup float, dextents<int32_t, 2>, tensor_inline>(
      scratch.data, dextents<int32_t, 2>(GGML_TMM_TILE_N, GGML_TMM_TILE_M)));
  threadgroup_barrier(mem_flags::mem_threadgroup);
  return false;
}
// ---- end shared: ggml tensor mat-mat --------------------------------------------------------

struct GgmlMmParams {
  uint K;  // values per row of W and of x (a multiple of the block)
  uint N;  // rows of W = columns of out
  uint M;  // rows of x and of out
};

// Copies the valid part of the float [32 m][64 n] scratch to out (row stride N).
inline void ggml_tmm_store_edge(threadgroup GgmlTmmScratch& scratch, device float* out, uint N,
                                uint rows, uint cols, uint tid) {
  for (uint e = tid; e < rows * GGML_TMM_TILE_N; e += GGML_TMM_THREADS) {
    const uint r = e / GGML_TMM_TILE_N;
    const uint c = e % GGML_TMM_TILE_N;
    if (c < cols) out[size_t(r) * N + c] = scratch.data[e];
  }
}

template <typename Block, uint VALUES>
[[kernel]] void ggml_mul_mm_tensor(
    device const uchar* w [[buffer(0)]],
    device const float* x [[buffer(1)]],
    device float* out [[buffer(2)]],
    constant GgmlMmParams& params [[buffer(3)]],
    uint2 group [[threadgroup_position_in_grid]],
    uint tid [[thread_index_in_threadgroup]]) {
  threadgroup GgmlTmmScratch scratch;
  const uint K = params.K;
  const uint N = params.N;
  const uint M = params.M;
  const uint m0 = group.x * GGML_TMM_TILE_M;
  const uint n0 = group.y * GGML_TMM_TILE_N;
  const uint x_local = tid / 4;
  const GgmlTmmF32Row x_row = {m0 + x_local < M ? x + size_t(m0 + x_local) * K : nullptr};
  device float* tile_out = out + size_t(m0) * N + n0;
  const bool full = m0 + GGML_TMM_TILE_M <= M && n0 + GGML_TMM_TILE_N <= N;
  if (!ggml_tmm_tile<Block, VALUES>(w, K, N, n0, x_row, scratch, tile_out, full, tid)) {
    ggml_tmm_store_edge(scratch, tile_out, N, min(uint(GGML_TMM_TILE_M), M - m0),
                        min(uint(GGML_TMM_TILE_N), N - n0), tid);
  }
}

struct GgmlMmPerm021Params {
  uint K;         // heads * head_dim
  uint N;         // rows of W = columns of out
  uint M;         // tokens: rows of out, the middle extent of x
  uint head_dim;  // innermost extent of x, a multiple of 32
};

// This thread's token of a head-major bf16 input (valid false: a row past M, staged as zeros).
struct GgmlTmmPerm021Row {
  device const bfloat* x;
  uint M;
  uint head_dim;
  uint t;
  bool valid;
  inline void load8(uint k, thread half* v) const {
    if (!valid) {
      for (uint i = 0; i < 8; ++i) v[i] = half(0.0f);
      return;
    }
    // 8 | 32 | head_dim: the 8 values lie in one head, contiguous.
    device const bfloat* src = x + (size_t(k / head_dim) * M + t) * head_dim + k % head_dim;
    for (uint i = 0; i < 8; ++i) v[i] = half(float(src[i]));
  }
};

template <typename Block, uint VALUES>
[[kernel]] void ggml_mul_mm_tensor_perm021(
    device const uchar* w [[buffer(0)]],
    device const bfloat* x [[buffer(1)]],
    device float* out [[buffer(2)]],
    constant GgmlMmPerm021Params& params [[buffer(3)]],
    uint2 group [[threadgroup_position_in_grid]],
    uint tid [[thread_index_in_threadgroup]]) {
  threadgroup GgmlTmmScratch scratch;
  const uint K = params.K;
  const uint N = params.N;
  const uint M = params.M;
  const uint m0 = group.x * GGML_TMM_TILE_M;
  const uint n0 = group.y * GGML_TMM_TILE_N;
  const uint t = m0 + tid / 4;
  const GgmlTmmPerm021Row x_row = {x, M, params.head_dim, t, t < M};
  device float* tile_out = out + size_t(m0) * N + n0;
  const bool full = m0 + GGML_TMM_TILE_M <= M && n0 + GGML_TMM_TILE_N <= N;
  if (!ggml_tmm_tile<Block, VALUES>(w, K, N, n0, x_row, scratch, tile_out, full, tid)) {
    ggml_tmm_store_edge(scratch, tile_out, N, min(uint(GGML_TMM_TILE_M), M - m0),
                        min(uint(GGML_TMM_TILE_N), N - n0), tid);
  }
}

// <block, values per block>
template [[host_name("kernel_mul_mm_q4_0_tensor_f32")]] [[kernel]] decltype(ggml_mul_mm_tensor<GgmlBlockQ4_0, 32>) ggml_mul_mm_tensor<GgmlBlockQ4_0, 32>;
template [[host_name("kernel_mul_mm_q8_0_tensor_f32")]] [[kernel]] decltype(ggml_mul_mm_tensor<GgmlBlockQ8_0, 32>) ggml_mul_mm_tensor<GgmlBlockQ8_0, 32>;
template [[host_name("kernel_mul_mm_q6_K_tensor_f32")]] [[kernel]] decltype(ggml_mul_mm_tensor<GgmlBlockQ6_K, 256>) ggml_mul_mm_tensor<GgmlBlockQ6_K, 256>;
template [[host_name("kernel_mul_mm_q4_0_tensor_bf16_perm021")]] [[kernel]] decltype(ggml_mul_mm_tensor_perm021<GgmlBlockQ4_0, 32>) ggml_mul_mm_tensor_perm021<GgmlBlockQ4_0, 32>;
template [[host_name("kernel_mul_mm_q6_K_tensor_bf16_perm021")]] [[kernel]] decltype(ggml_mul_mm_tensor_perm021<GgmlBlockQ6_K, 256>) ggml_mul_mm_tensor_perm021<GgmlBlockQ6_K, 256>;
