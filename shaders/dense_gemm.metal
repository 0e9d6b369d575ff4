// dense_gemm.metal — dense (unquantised) projections: C = A · Bᵀ with the weights B stored
// [N, K] row-major, as in every PyTorch / safetensors / GGUF linear layer.
//
// Conventions for every kernel below
// - Shapes are row-major, last index fastest. A (activations) is [M, K], B (weights) is
//   [N, K] (one output feature per row, so B is read along K, never strided), C is [M, N]:
//       C[m][n] = sum_k A[m][k] * B[n][k]
// - Accumulation is f32 whatever the storage type; each output is rounded once to its
//   storage type on store (a half output beyond +-65504 becomes +-inf).
// - Bindings (all kernels):
//       buffer(0) A       TA[M * K]
//       buffer(1) B       TB[N * K]
//       buffer(2) C       TC[M * N]   (must not overlap A or B)
//       buffer(3) params  constant DenseMatmulParams { uint M; uint N; uint K; }  (setBytes,
//                         12 bytes). mlx-native bound the same three values the same way.
// - Buffers start at offset 0. 4-wide vector loads are used exactly when K % 4 == 0 (every
//   row then starts 8- or 16-byte aligned); otherwise the kernels read element by element.
// - bf16 kernels exist only where the compiler has bfloat (__HAVE_BFLOAT__: MSL 3.1,
//   macOS 14+, and the CPU backend).
//
// Mat-vec kernels (decode: M is 1, or a handful of rows):
//   dense_matvec_f32           TA = TB = TC = float
//   dense_matvec_f16           TA = TB = TC = half
//   dense_matvec_f16w_f32io    TB = half,   TA = TC = float
//   dense_matvec_bf16w_f32io   TB = bfloat, TA = TC = float
//   Geometry: TG-grid (ceil(N / DENSE_MATVEC_ROWS_PER_THREADGROUP), M, 1), threadgroup
//   (32 * DENSE_MATVEC_SIMDGROUPS, 1, 1). Each SIMD-group owns
//   DENSE_MATVEC_ROWS_PER_SIMDGROUP consecutive output features n of one row m of A. Lane l
//   reads 4-vectors l, l + 32, ... of A[m] once and uses each against all of its rows of B
//   (so A is read once per SIMD-group, B once overall), accumulating one f32 dot product
//   per row; simd_sum folds the lanes and lane r stores row r. Rows past N clamp their
//   reads to row N - 1 and are not stored, so every lane reaches every simd_sum. (mlx-native
//   computed only M = 1; grid y = M lets a few decode rows share one dispatch.)
//
// Mat-mat kernel (prefill):
//   dense_gemm_f16             TA = TB = TC = half
//   Geometry: TG-grid (ceil(N / DENSE_GEMM_TILE_N), ceil(M / DENSE_GEMM_TILE_M), 1),
//   threadgroup (DENSE_GEMM_THREADS, 1, 1) = 256 threads for a 64 x 64 tile of C.
//   For each K step of DENSE_GEMM_TILE_K = 16 the threadgroup stages a 64 x 16 tile of A and
//   of B in threadgroup memory as half, stored k-major ([k][m] and [k][n], rows padded to 68
//   halves) so that compute reads are 4-vectors; each thread loads one 4-vector of A and one
//   of B (zero-filled beyond M, N or K), then, after a barrier, accumulates a 4 x 4 block of
//   C in f32 registers (rows 4 * (tid / 16) + i, columns 4 * (tid % 16) + j): per k, two
//   half4 threadgroup reads feed 16 FMAs. Stores are half4 when N % 4 == 0.
//   Threadgroup memory: 2 * 16 * 68 * 2 = 4352 bytes, declared in the kernel.
//   mlx-native used simdgroup_matrix 8x8 MMA (32 x 32 tile, BK 16, 128 threads). This is a
//   portable tiled path that also runs on the CPU backend; an MMA variant is a follow-up.

#include <metal_stdlib>
using namespace metal;

// Tuning numbers mirrored by ops/_defines.ts (tests/ops/matmul_test.ts reads these lines).
constant constexpr uint DENSE_MATVEC_ROWS_PER_SIMDGROUP = 4;
constant constexpr uint DENSE_MATVEC_SIMDGROUPS = 2;
constant constexpr uint DENSE_GEMM_TILE_M = 64;
constant constexpr uint DENSE_GEMM_TILE_N = 64;
constant constexpr uint DENSE_GEMM_TILE_K = 16;
constant constexpr uint DENSE_GEMM_THREADS = 256;

// Padded k-major row of a staged tile, in halves (a multiple of 4, so half4 reads stay
// aligned; 68 rather than 64 spreads the transposing stores over more banks).
constant constexpr uint DENSE_GEMM_LD = DENSE_GEMM_TILE_M + 4;

struct DenseMatmulParams {
  uint M;  // rows of A and C
  uint N;  // rows of B (output features), columns of C
  uint K;  // reduction length: columns of A and B
};

// ---- mat-vec ---------------------------------------------------------------------------------

template <typename TA, typename TB, typename TC>
[[kernel]] void dense_matvec(
    device const TA* a [[buffer(0)]],
    device const TB* b [[buffer(1)]],
    device TC* c [[buffer(2)]],
    constant DenseMatmulParams& params [[buffer(3)]],
    uint2 group [[threadgroup_position_in_grid]],
    uint lane [[thread_index_in_simdgroup]],
    uint simdgroup [[simdgroup_index_in_threadgroup]],
    uint simdgroups [[simdgroups_per_threadgroup]]) {
  constexpr uint R = DENSE_MATVEC_ROWS_PER_SIMDGROUP;
  const uint N = params.N;
  const uint K = params.K;
  const uint m = group.y;
  const uint row0 = (group.x * simdgroups + simdgroup) * R;

  device const TA* x = a + size_t(m) * K;
  device const TB* w[R];
  for (uint r = 0; r < R; ++r) {
    w[r] = b + size_t(min(row0 + r, N - 1)) * K;  // rows past N re-read row N - 1
  }

  float acc[R];
  for (uint r = 0; r < R; ++r) {
    acc[r] = 0.0f;
  }

  // Vector part: the whole row when K % 4 == 0 (rows are then 4-element aligned).
  const uint K4 = (K % 4 == 0) ? K / 4 : 0;
  device const vec<TA, 4>* x4 = reinterpret_cast<device const vec<TA, 4>*>(x);
  for (uint i = lane; i < K4; i += 32) {
    const float4 xv = float4(x4[i]);
    for (uint r = 0; r < R; ++r) {
      device const vec<TB, 4>* w4 = reinterpret_cast<device const vec<TB, 4>*>(w[r]);
      acc[r] += dot(xv, float4(w4[i]));
    }
  }
  // Scalar path (K % 4 != 0).
  for (uint k = K4 * 4 + lane; k < K; k += 32) {
    const float xv = float(x[k]);
    for (uint r = 0; r < R; ++r) {
      acc[r] += xv * float(w[r][k]);
    }
  }

  for (uint r = 0; r < R; ++r) {
    const float sum = simd_sum(acc[r]);
    if (lane == r && row0 + r < N) {
      c[size_t(m) * N + row0 + r] = static_cast<TC>(sum);
    }
  }
}

template [[host_name("dense_matvec_f32")]] [[kernel]] decltype(dense_matvec<float, float, float>) dense_matvec<float, float, float>;
template [[host_name("dense_matvec_f16")]] [[kernel]] decltype(dense_matvec<half, half, half>) dense_matvec<half, half, half>;
template [[host_name("dense_matvec_f16w_f32io")]] [[kernel]] decltype(dense_matvec<float, half, float>) dense_matvec<float, half, float>;

// bfloat needs MSL 3.1 (macOS 14); without it dense_matvec_bf16w_f32io is absent.
#if defined(__HAVE_BFLOAT__)
template [[host_name("dense_matvec_bf16w_f32io")]] [[kernel]] decltype(dense_matvec<float, bfloat, float>) dense_matvec<float, bfloat, float>;
#endif

// ---- mat-mat ---------------------------------------------------------------------------------

// Stages rows [row0, row0 + 64) x columns [k0, k0 + 16) of a [rows, K] half matrix into a
// k-major tile: thread t loads 4 consecutive k of row t / 4 and scatters them down 4 tile rows.
static inline void dense_gemm_stage(
    device const half* src,
    threadgroup half* tile,
    uint rows,
    uint K,
    uint row0,
    uint k0,
    uint tid) {
  const uint lr = tid / 4;            // 0 .. 63: row within the tile
  const uint lk = (tid % 4) * 4;      // 0, 4, 8, 12: first k within the tile
  const uint gr = row0 + lr;
  const uint gk = k0 + lk;
  half4 v = half4(0.0h);
  if (gr < rows) {
    device const half* p = src + size_t(gr) * K + gk;
    if (K % 4 == 0 && gk < K) {  // gk % 4 == 0, so all four are in range
      v = *reinterpret_cast<device const half4*>(p);
    } else {
      for (uint j = 0; j < 4; ++j) {
        if (gk + j < K) {
          v[j] = p[j];
        }
      }
    }
  }
  for (uint j = 0; j < 4; ++j) {
    tile[(lk + j) * DENSE_GEMM_LD + lr] = v[j];
  }
}

[[kernel]] void dense_gemm_f16(
    device const half* a [[buffer(0)]],
    device const half* b [[buffer(1)]],
    device half* c [[buffer(2)]],
    constant DenseMatmulParams& params [[buffer(3)]],
    uint2 group [[threadgroup_position_in_grid]],
    uint tid [[thread_index_in_threadgroup]]) {
  // half4 arrays so the tiles are 8-byte aligned; addressed as half for the staging stores.
  threadgroup half4 a_tile4[DENSE_GEMM_TILE_K * DENSE_GEMM_LD / 4];
  threadgroup half4 b_tile4[DENSE_GEMM_TILE_K * DENSE_GEMM_LD / 4];
  threadgroup half* a_tile = reinterpret_cast<threadgroup half*>(a_tile4);
  threadgroup half* b_tile = reinterpret_cast<threadgroup half*>(b_tile4);

  const uint M = params.M;
  const uint N = params.N;
  const uint K = params.K;
  const uint m0 = group.y * DENSE_GEMM_TILE_M;
  const uint n0 = group.x * DENSE_GEMM_TILE_N;
  const uint tx = tid % 16;  // columns 4 tx .. 4 tx + 3 of the tile
  const uint ty = tid / 16;  // rows    4 ty .. 4 ty + 3 of the tile

  float4 acc[4] = {float4(0.0f), float4(0.0f), float4(0.0f), float4(0.0f)};

  for (uint k0 = 0; k0 < K; k0 += DENSE_GEMM_TILE_K) {
    dense_gemm_stage(a, a_tile, M, K, m0, k0, tid);
    dense_gemm_stage(b, b_tile, N, K, n0, k0, tid);
    threadgroup_barrier(mem_flags::mem_threadgroup);

    for (uint kk = 0; kk < DENSE_GEMM_TILE_K; ++kk) {
      const float4 av = float4(a_tile4[(kk * DENSE_GEMM_LD) / 4 + ty]);
      const float4 bv = float4(b_tile4[(kk * DENSE_GEMM_LD) / 4 + tx]);
      acc[0] += av.x * bv;
      acc[1] += av.y * bv;
      acc[2] += av.z * bv;
      acc[3] += av.w * bv;
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
  }

  const uint gn = n0 + 4 * tx;
  for (uint i = 0; i < 4; ++i) {
    const uint gm = m0 + 4 * ty + i;
    if (gm < M && gn < N) {
      device half* out = c + size_t(gm) * N + gn;
      if (N % 4 == 0) {  // gn % 4 == 0, so all four are in range and aligned
        *reinterpret_cast<device half4*>(out) = half4(acc[i]);
      } else {
        for (uint j = 0; j < 4; ++j) {
          if (gn + j < N) {
            out[j] = half(acc[i][j]);
          }
        }
      }
    }
  }
}
