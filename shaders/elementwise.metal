// elementwise.metal — element-wise arithmetic, dtype casts, scalar scaling, embedding row
// gathers and layout permutations: 20 kernels, one file.
//
// Conventions for every kernel below
// - Shapes are row-major, last index fastest: [A, B, C] element (a, b, c) is at (a*B + b)*C + c.
// - Sizes arrive in a small `constant` struct bound with setBytes (little-endian, 4-byte fields).
// - f16 / bf16 values are widened to f32, computed in f32 and rounded once on store
//   (round-to-nearest-even). For add and mul this equals native half/bfloat arithmetic: f32
//   has more than 2p + 2 bits for p = 11 (half) and p = 8 (bfloat), so double rounding is
//   harmless.
// - Every kernel bounds-checks its thread position, so edge threadgroups may be partial.
// - Input and output buffers start at offset 0 (element-aligned, so the 4-wide vector
//   accesses below are aligned).
// - bf16 kernels exist only where the compiler has bfloat (__HAVE_BFLOAT__: MSL 3.1,
//   macOS 14+, and the CPU backend); elsewhere their names are missing from the library.
//
// Flat kernels: ELEMENTWISE_N_READS (= 4) consecutive elements per thread, loaded and stored
// as one 4-vector when all four are in range, element by element in the tail.
// Geometry: threads-grid (ceil(n / 4), 1, 1), any threadgroup width.
//
//   elementwise_{add,mul}_{f32,f16,bf16}
//     out[i] = a[i] + b[i]  /  a[i] * b[i]                              i < n
//     buffer(0) a  T[n]     buffer(1) b  T[n]     buffer(2) out  T[n]
//     buffer(3) ElementwiseParams { uint n; }
//     In place (out == a or out == b) is allowed.
//
//   cast_f16_to_f32, cast_f32_to_f16, cast_bf16_to_f32, cast_f32_to_bf16
//     out[i] = Out(in[i]): plain MSL conversion (widening is exact; narrowing rounds to
//     nearest even, no clamping: values beyond the f16 range become +-inf).
//     buffer(0) in  In[n]     buffer(1) out  Out[n]     buffer(2) ElementwiseParams { uint n; }
//
//   scalar_mul_{f32,bf16}
//     out[i] = in[i] * scalar                                            i < n
//     buffer(0) in  T[n]     buffer(1) out  T[n]
//     buffer(2) ScalarMulParams { float scalar; uint n; }
//
// Embedding gathers (f32 table [vocab, hidden]); one thread per output element.
//
//   embedding_gather_scale_f32
//     out[i] = table[token_id][i] * scale                                i < hidden
//     buffer(0) table  float[vocab * hidden]     buffer(1) out  float[hidden]
//     buffer(2) EmbeddingGatherParams { float scale; uint hidden; uint vocab; uint token_id; }
//     Geometry: threads-grid (hidden, 1, 1).
//
//   embedding_gather_scale_batch_f32
//     out[t][i] = table[ids[t]][i] * scale                               t < tokens, i < hidden
//     buffer(0) table  float[vocab * hidden]     buffer(1) ids  uint[tokens]
//     buffer(2) out  float[tokens * hidden]
//     buffer(3) EmbeddingGatherBatchParams { float scale; uint hidden; uint vocab; uint tokens; }
//     Geometry: threads-grid (hidden, tokens, 1).
//   Both write zeros for a token id >= vocab instead of reading out of bounds (the ids of
//   the batch form live on the device, so the host cannot check them before the dispatch).
//
// Permutations; one thread per element, x runs along the input's fastest axis so reads are
// contiguous across a SIMD-group. Not in place.
//
//   permute_021_bf16, permute_021_f32, permute_021_bf16_to_f32
//     [A, B, C] -> [B, A, C]: out[b][a][c] = Out(in[a][b][c])
//     buffer(0) in  In[A*B*C]     buffer(1) out  Out[A*B*C]     buffer(2) Shape3Params { uint a, b, c; }
//     Geometry: threads-grid (C, B, A).
//
//   transpose_last2_bf16
//     [A, B, C] -> [A, C, B]: out[a][c][b] = in[a][b][c]
//     buffer(0) in  bfloat[A*B*C]     buffer(1) out  bfloat[A*B*C]     buffer(2) Shape3Params
//     Geometry: threads-grid (B, C, A) (x runs along the output's fastest axis).
//
//   transpose_2d_{f32,f16}
//     [R, C] -> [C, R]: out[c][r] = in[r][c]
//     buffer(0) in  T[R*C]     buffer(1) out  T[R*C]     buffer(2) Transpose2dParams { uint rows, cols; }
//     Geometry: threads-grid (C, R, 1).

#include <metal_stdlib>
using namespace metal;

// Elements per thread of the flat kernels. Mirrored by ELEMENTWISE_N_READS in
// ops/_defines.ts (a test reads this line).
constant constexpr uint ELEMENTWISE_N_READS = 4;

struct ElementwiseParams {
  uint n;  // element count
};

struct ScalarMulParams {
  float scalar;
  uint n;
};

struct EmbeddingGatherParams {
  float scale;
  uint hidden;    // row length of the table and of out
  uint vocab;     // rows of the table
  uint token_id;  // row to gather
};

struct EmbeddingGatherBatchParams {
  float scale;
  uint hidden;
  uint vocab;
  uint tokens;  // length of ids, rows of out
};

struct Shape3Params {
  uint a;
  uint b;
  uint c;
};

struct Transpose2dParams {
  uint rows;
  uint cols;
};

struct AddOp {
  float operator()(float x, float y) const { return x + y; }
};

struct MulOp {
  float operator()(float x, float y) const { return x * y; }
};

// True when thread `base` owns a full 4-vector of the n elements (no overflow near 2^32).
static inline bool full_vector(uint base, uint n) {
  return base < n && n - base >= ELEMENTWISE_N_READS;
}

template <typename T, typename Op>
[[kernel]] void elementwise_binary(
    device const T* a [[buffer(0)]],
    device const T* b [[buffer(1)]],
    device T* out [[buffer(2)]],
    constant ElementwiseParams& params [[buffer(3)]],
    uint gid [[thread_position_in_grid]]) {
  const Op op{};
  const uint n = params.n;
  const uint base = gid * ELEMENTWISE_N_READS;
  if (full_vector(base, n)) {
    const vec<T, 4> va = *reinterpret_cast<device const vec<T, 4>*>(a + base);
    const vec<T, 4> vb = *reinterpret_cast<device const vec<T, 4>*>(b + base);
    vec<T, 4> r;
    for (uint k = 0; k < ELEMENTWISE_N_READS; ++k) {
      r[k] = static_cast<T>(op(float(va[k]), float(vb[k])));
    }
    *reinterpret_cast<device vec<T, 4>*>(out + base) = r;
  } else {
    for (uint i = base; i < n; ++i) {
      out[i] = static_cast<T>(op(float(a[i]), float(b[i])));
    }
  }
}

template <typename In, typename Out>
[[kernel]] void cast_values(
    device const In* in [[buffer(0)]],
    device Out* out [[buffer(1)]],
    constant ElementwiseParams& params [[buffer(2)]],
    uint gid [[thread_position_in_grid]]) {
  const uint n = params.n;
  const uint base = gid * ELEMENTWISE_N_READS;
  if (full_vector(base, n)) {
    const vec<In, 4> v = *reinterpret_cast<device const vec<In, 4>*>(in + base);
    vec<Out, 4> r;
    for (uint k = 0; k < ELEMENTWISE_N_READS; ++k) {
      r[k] = static_cast<Out>(v[k]);
    }
    *reinterpret_cast<device vec<Out, 4>*>(out + base) = r;
  } else {
    for (uint i = base; i < n; ++i) {
      out[i] = static_cast<Out>(in[i]);
    }
  }
}

template <typename T>
[[kernel]] void scalar_mul(
    device const T* in [[buffer(0)]],
    device T* out [[buffer(1)]],
    constant ScalarMulParams& params [[buffer(2)]],
    uint gid [[thread_position_in_grid]]) {
  const uint n = params.n;
  const float scalar = params.scalar;
  const uint base = gid * ELEMENTWISE_N_READS;
  if (full_vector(base, n)) {
    const vec<T, 4> v = *reinterpret_cast<device const vec<T, 4>*>(in + base);
    vec<T, 4> r;
    for (uint k = 0; k < ELEMENTWISE_N_READS; ++k) {
      r[k] = static_cast<T>(float(v[k]) * scalar);
    }
    *reinterpret_cast<device vec<T, 4>*>(out + base) = r;
  } else {
    for (uint i = base; i < n; ++i) {
      out[i] = static_cast<T>(float(in[i]) * scalar);
    }
  }
}

[[kernel]] void embedding_gather_scale_f32(
    device const float* table [[buffer(0)]],
    device float* out [[buffer(1)]],
    constant EmbeddingGatherParams& params [[buffer(2)]],
    uint i [[thread_position_in_grid]]) {
  if (i >= params.hidden) {
    return;
  }
  const uint id = params.token_id;
  out[i] = id < params.vocab ? table[size_t(id) * params.hidden + i] * params.scale : 0.0f;
}

[[kernel]] void embedding_gather_scale_batch_f32(
    device const float* table [[buffer(0)]],
    device const uint* ids [[buffer(1)]],
    device float* out [[buffer(2)]],
    constant EmbeddingGatherBatchParams& params [[buffer(3)]],
    uint2 pos [[thread_position_in_grid]]) {
  const uint i = pos.x;
  const uint t = pos.y;
  if (i >= params.hidden || t >= params.tokens) {
    return;
  }
  const uint id = ids[t];
  out[size_t(t) * params.hidden + i] =
      id < params.vocab ? table[size_t(id) * params.hidden + i] * params.scale : 0.0f;
}

template <typename In, typename Out>
[[kernel]] void permute_021(
    device const In* in [[buffer(0)]],
    device Out* out [[buffer(1)]],
    constant Shape3Params& shape [[buffer(2)]],
    uint3 pos [[thread_position_in_grid]]) {
  const uint c = pos.x;
  const uint b = pos.y;
  const uint a = pos.z;
  if (c >= shape.c || b >= shape.b || a >= shape.a) {
    return;
  }
  const size_t src = (size_t(a) * shape.b + b) * shape.c + c;
  const size_t dst = (size_t(b) * shape.a + a) * shape.c + c;
  out[dst] = static_cast<Out>(in[src]);
}

template <typename T>
[[kernel]] void transpose_last2(
    device const T* in [[buffer(0)]],
    device T* out [[buffer(1)]],
    constant Shape3Params& shape [[buffer(2)]],
    uint3 pos [[thread_position_in_grid]]) {
  const uint b = pos.x;
  const uint c = pos.y;
  const uint a = pos.z;
  if (b >= shape.b || c >= shape.c || a >= shape.a) {
    return;
  }
  const size_t src = (size_t(a) * shape.b + b) * shape.c + c;
  const size_t dst = (size_t(a) * shape.c + c) * shape.b + b;
  out[dst] = in[src];
}

template <typename T>
[[kernel]] void transpose_2d(
    device const T* in [[buffer(0)]],
    device T* out [[buffer(1)]],
    constant Transpose2dParams& params [[buffer(2)]],
    uint2 pos [[thread_position_in_grid]]) {
  const uint c = pos.x;
  const uint r = pos.y;
  if (c >= params.cols || r >= params.rows) {
    return;
  }
  out[size_t(c) * params.rows + r] = in[size_t(r) * params.cols + c];
}

// ---- Instantiations: host names are the catalogue names ------------------------------------

template [[host_name("elementwise_add_f32")]] [[kernel]] decltype(elementwise_binary<float, AddOp>) elementwise_binary<float, AddOp>;
template [[host_name("elementwise_add_f16")]] [[kernel]] decltype(elementwise_binary<half, AddOp>) elementwise_binary<half, AddOp>;
template [[host_name("elementwise_mul_f32")]] [[kernel]] decltype(elementwise_binary<float, MulOp>) elementwise_binary<float, MulOp>;
template [[host_name("elementwise_mul_f16")]] [[kernel]] decltype(elementwise_binary<half, MulOp>) elementwise_binary<half, MulOp>;

template [[host_name("cast_f16_to_f32")]] [[kernel]] decltype(cast_values<half, float>) cast_values<half, float>;
template [[host_name("cast_f32_to_f16")]] [[kernel]] decltype(cast_values<float, half>) cast_values<float, half>;

template [[host_name("scalar_mul_f32")]] [[kernel]] decltype(scalar_mul<float>) scalar_mul<float>;

template [[host_name("permute_021_f32")]] [[kernel]] decltype(permute_021<float, float>) permute_021<float, float>;

template [[host_name("transpose_2d_f32")]] [[kernel]] decltype(transpose_2d<float>) transpose_2d<float>;
template [[host_name("transpose_2d_f16")]] [[kernel]] decltype(transpose_2d<half>) transpose_2d<half>;

// bfloat needs MSL 3.1 (macOS 14); without it the bf16 names are absent and the rest of
// the file still compiles.
#if defined(__HAVE_BFLOAT__)
template [[host_name("elementwise_add_bf16")]] [[kernel]] decltype(elementwise_binary<bfloat, AddOp>) elementwise_binary<bfloat, AddOp>;
template [[host_name("elementwise_mul_bf16")]] [[kernel]] decltype(elementwise_binary<bfloat, MulOp>) elementwise_binary<bfloat, MulOp>;
template [[host_name("cast_bf16_to_f32")]] [[kernel]] decltype(cast_values<bfloat, float>) cast_values<bfloat, float>;
template [[host_name("cast_f32_to_bf16")]] [[kernel]] decltype(cast_values<float, bfloat>) cast_values<float, bfloat>;
template [[host_name("scalar_mul_bf16")]] [[kernel]] decltype(scalar_mul<bfloat>) scalar_mul<bfloat>;
template [[host_name("permute_021_bf16")]] [[kernel]] decltype(permute_021<bfloat, bfloat>) permute_021<bfloat, bfloat>;
template [[host_name("permute_021_bf16_to_f32")]] [[kernel]] decltype(permute_021<bfloat, float>) permute_021<bfloat, float>;
template [[host_name("transpose_last2_bf16")]] [[kernel]] decltype(transpose_last2<bfloat>) transpose_last2<bfloat>;
#endif
