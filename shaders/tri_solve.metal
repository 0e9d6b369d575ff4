// tri_solve.metal — forward substitution with a unit lower-triangular matrix, batched: the
// (I + strictly-lower)⁻¹ step of the chunked form of Gated DeltaNet.
//
// Kernels tri_solve_lower_unit_f32, tri_solve_lower_unit_bf16
//   Computes   for each batch b and right-hand-side column m, solve L X = B with an implicit
//              unit diagonal:  X[0] = B[0],  X[i] = B[i] - sum_{j < i} L[i][j] * X[j].
//              Only the strict lower triangle of L is read: its diagonal and upper triangle
//              may hold anything (e.g. the rest of a full matrix).
//              Each dot product is accumulated in f32. X[j] is read back from the output
//              buffer, so the bf16 kernel uses its own bf16-rounded rows as a solve in bf16
//              storage does (the error then grows with the size of L's entries and N, as
//              for any forward substitution).
//   Bindings   buffer(0) L       T[batch * n * n], row-major per batch (L[b][i][j])
//              buffer(1) B       T[batch * n * m]   (B[b][i][col])
//              buffer(2) X       T[batch * n * m]; may be the same buffer as B: each thread
//                                reads B[i][col] before writing X[i][col], and reads back
//                                only X rows of its own column that it wrote itself
//              buffer(3) params  constant TriSolveParams { uint n; uint m; uint batch; }
//                                (setBytes, 12 bytes; mlx-native bound a device uint buffer)
//   Dtypes     T = float, bfloat (storage); f32 arithmetic. The bf16 kernel exists only where
//              the compiler has bfloat (__HAVE_BFLOAT__: MSL 3.1 / macOS 14+, CPU backend).
//   Geometry   threads-grid (m, batch, 1), any threadgroup shape (the host spreads up to
//              1024 threads over m first); bounds-checked. Thread (col, b) walks the n rows
//              in order. A SIMD-group's 32 columns read 32 consecutive B/X elements per
//              row, and the same L[b][i][j] (one broadcast load).

#include <metal_stdlib>
using namespace metal;

struct TriSolveParams {
  uint n;      // rows and columns of each L; rows of B and X
  uint m;      // right-hand sides: columns of B and X
  uint batch;  // independent systems
};

template <typename T>
[[kernel]] void tri_solve_lower_unit(
    device const T* l_all [[buffer(0)]],
    device const T* b_all [[buffer(1)]],
    device T* x_all [[buffer(2)]],
    constant TriSolveParams& params [[buffer(3)]],
    uint2 gid [[thread_position_in_grid]]) {
  const uint col = gid.x;
  const uint batch = gid.y;
  const uint n = params.n;
  const uint m = params.m;
  if (col >= m || batch >= params.batch) {
    return;
  }
  device const T* l = l_all + size_t(batch) * n * n;
  device const T* rhs = b_all + size_t(batch) * n * m + col;
  device T* x = x_all + size_t(batch) * n * m + col;

  for (uint i = 0; i < n; ++i) {
    device const T* l_row = l + size_t(i) * n;
    float acc = float(rhs[size_t(i) * m]);
    for (uint j = 0; j < i; ++j) {
      acc = fma(-float(l_row[j]), float(x[size_t(j) * m]), acc);
    }
    x[size_t(i) * m] = static_cast<T>(acc);
  }
}

template [[host_name("tri_solve_lower_unit_f32")]] [[kernel]]
decltype(tri_solve_lower_unit<float>) tri_solve_lower_unit<float>;

// bfloat needs MSL 3.1 (macOS 14); without it the bf16 kernel is absent, f32 still compiles.
#if defined(__HAVE_BFLOAT__)
template [[host_name("tri_solve_lower_unit_bf16")]] [[kernel]]
decltype(tri_solve_lower_unit<bfloat>) tri_solve_lower_unit<bfloat>;
#endif
