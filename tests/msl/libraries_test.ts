// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// Conformance: valid MSL in the shapes large kernel libraries (MLX, mlx-native) use, each in its
// smallest form, so the CPU backend builds what Apple's compiler builds. Every kernel here is
// written for this suite.
import assert from "node:assert";
import { Harness } from "./_harness.ts";

const h = new Harness();

Deno.test("msl libraries: a braced list passed to a vector parameter", async () => {
  const [, out] = await h.run({
    kernel: "braced_argument",
    source: `
template <typename I>
I offset(uint3 e, constant const int* strides, int bias) {
  return I(e.x) * I(strides[0]) + I(e.y) * I(strides[1]) + I(bias);
}
kernel void braced_argument(constant const int* strides [[buffer(0)]],
                            device int* out [[buffer(1)]],
                            uint3 i [[thread_position_in_grid]]) {
  out[i.x] = offset<int>({2 * i.x, i.x + 1, 0}, strides, 5);
}`,
    buffers: [new Int32Array([10, 100]), 3 * 4],
    grid: [3],
    threads: [3],
  });
  // 2i·10 + (i+1)·100 + 5
  assert.deepStrictEqual([...new Int32Array(out)], [105, 225, 345]);
});

Deno.test("msl libraries: metal::array built from a braced list and returned", async () => {
  const [, out] = await h.run({
    kernel: "array_pair",
    source: `
struct DivMod {
  template <typename T>
  metal::array<T, 2> operator()(T x, T y) thread { return {x / y, x % y}; }
};
kernel void array_pair(device const int* in [[buffer(0)]], device int* out [[buffer(1)]],
                       uint i [[thread_position_in_grid]]) {
  metal::array<int, 2> r = DivMod{}(in[i], 3);
  out[2 * i] = r[0];
  out[2 * i + 1] = r[1] + int(r.size());
}`,
    buffers: [new Int32Array([7, 9]), 4 * 4],
    grid: [2],
    threads: [2],
  });
  assert.deepStrictEqual([...new Int32Array(out)], [2, 1 + 2, 3, 0 + 2]);
});

Deno.test("msl libraries: an instantiation whose template arguments are deduced from its parameters", async () => {
  const source = `
template <typename T, int N>
[[kernel]] void scale_n(const device T* in [[buffer(0)]], device T* out [[buffer(1)]],
                        uint i [[thread_position_in_grid]]) {
  out[i] = in[i] * T(N);
}
template <int N> struct Tag { int v[N]; };
template <typename T, int N>
[[kernel]] void tagged(const device T* in [[buffer(0)]], device T* out [[buffer(1)]],
                       const constant Tag<N>* tag [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  out[i] = in[i] + T(tag->v[N - 1]);
}
template [[host_name("scale_3")]] [[kernel]] void scale_n<float, 3>(
    const device float* in [[buffer(0)]], device float* out [[buffer(1)]],
    uint i [[thread_position_in_grid]]);
template [[host_name("tagged_2")]] [[kernel]] void tagged(
    const device float* in [[buffer(0)]], device float* out [[buffer(1)]],
    const constant Tag<2>* tag [[buffer(2)]], uint i [[thread_position_in_grid]]);`;
  const [, out] = await h.run({
    kernel: "tagged_2",
    source,
    buffers: [new Float32Array([1, 2]), 2 * 4, new Int32Array([5, 40])],
    grid: [2],
    threads: [2],
  });
  assert.deepStrictEqual([...new Float32Array(out)], [41, 42]);
});

Deno.test("msl libraries: a 'const constant T&' parameter of a namespace-scope template function", async () => {
  const [, out] = await h.run({
    kernel: "const_constant_param",
    source: `
struct Params { float scale; };
template <typename T, short S>
void apply(const device T* in, device T* out, const constant Params& p, uint i) {
  out[i] = in[i] * T(p.scale) + T(S);
}
kernel void const_constant_param(const device float* in [[buffer(0)]],
                                 device float* out [[buffer(1)]],
                                 const constant Params& p [[buffer(2)]],
                                 uint i [[thread_position_in_grid]]) {
  apply<float, 1>(in, out, p, i);
}`,
    buffers: [new Float32Array([1, 2]), 2 * 4, new Float32Array([0.5])],
    grid: [2],
    threads: [2],
  });
  assert.deepStrictEqual([...new Float32Array(out)], [1.5, 2]);
});

Deno.test("msl libraries: function constants declared 'static constant constexpr const'", async () => {
  const source = `
#define CONST static constant constexpr const
CONST bool inverse_ [[function_constant(0)]];
CONST int steps_ [[function_constant(1)]];
kernel void spelled_const(device int* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = inverse_ ? -steps_ : steps_;
}`;
  const [out] = await h.run({
    kernel: "spelled_const",
    source,
    buffers: [4],
    grid: [1],
    threads: [1],
    constants: { 0: true, 1: 7 },
  });
  assert.deepStrictEqual([...new Int32Array(out)], [-7]);
});

Deno.test("msl libraries: metal::uniform and make_uniform, constexpr and in arithmetic", async () => {
  const [, out] = await h.run({
    kernel: "uniform_values",
    source: `
kernel void uniform_values(constant int& n [[buffer(0)]], device int* out [[buffer(1)]],
                           uint i [[thread_position_in_grid]]) {
  constexpr const uniform<int> stride = make_uniform(4);
  const uniform<int> size = make_uniform(n);
  const uniform<int> iters = size / stride;
  const uniform<int> rest = size - stride * iters;
  int s = 0;
  for (int k = 0; k < iters; ++k) s += 1;
  out[i] = s * 100 + rest;
}`,
    buffers: [new Int32Array([11]), 4],
    grid: [1],
    threads: [1],
  });
  assert.deepStrictEqual([...new Int32Array(out)], [203]);
});

Deno.test("msl libraries: thread_scope fences and coherent(system) buffers", async () => {
  const [out] = await h.run({
    kernel: "fenced_store",
    source: `
namespace metal {
constexpr constant metal::thread_scope thread_scope_system = static_cast<thread_scope>(3);
}
[[kernel]] void fenced_store(volatile coherent(system) device uint* data [[buffer(0)]],
                             uint i [[thread_position_in_grid]]) {
  data[i] = i + 1;
  metal::atomic_thread_fence(metal::mem_flags::mem_device, metal::memory_order_seq_cst,
                             metal::thread_scope_system);
  metal::atomic_thread_fence(mem_flags::mem_device, memory_order_relaxed, thread_scope_device);
}`,
    buffers: [2 * 4],
    grid: [2],
    threads: [2],
  });
  assert.deepStrictEqual([...new Uint32Array(out)], [1, 2]);
});

Deno.test("msl libraries: a library's own void_t, is_empty and remove_addrspace_t in namespace metal", async () => {
  // <metal_stdlib> has no metal::void_t or metal::is_empty: libraries define them (as MLX's steel
  // headers do), and they must not collide with the CPU backend's library.
  const [out] = await h.run({
    kernel: "own_traits",
    source: `
namespace metal {
template <typename T> struct is_empty : metal::bool_constant<__is_empty(T)> {};
template <typename T> constexpr constant bool is_empty_v = is_empty<T>::value;
template <typename... Ts> struct make_void { typedef void type; };
template <typename... Ts> using void_t = typename make_void<Ts...>::type;
}
struct Empty {};
template <typename T, typename = void> struct has_value : metal::false_type {};
template <typename T> struct has_value<T, metal::void_t<decltype(T::value)>> : metal::true_type {};
kernel void own_traits(device int* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  thread float* p = nullptr;
  using P = metal::remove_addrspace_t<decltype(p)>;
  out[0] = metal::is_empty_v<Empty> ? 1 : 0;
  out[1] = has_value<metal::true_type>::value ? 1 : 0;
  out[2] = has_value<Empty>::value ? 1 : 0;
  out[3] = sizeof(P) == sizeof(p) ? 1 : 0;
}`,
    buffers: [4 * 4],
    grid: [1],
    threads: [1],
  });
  assert.deepStrictEqual([...new Int32Array(out)], [1, 1, 0, 1]);
});

Deno.test("msl libraries: threadgroup arrays sized by a local typedef or a defaulted template parameter", async () => {
  const source = `
template <typename U> U identity(U u) { return u; }
template <typename T, int BN, int M = 2>
[[kernel, max_total_threads_per_threadgroup(BN)]] void staged(
    const device T* in [[buffer(0)]], device T* out [[buffer(1)]],
    uint i [[thread_index_in_threadgroup]]) {
  typedef float U;
  threadgroup U partial[BN];
  threadgroup T scaled[M][BN];
  partial[i] = identity(float(in[i]));
  scaled[M - 1][i] = in[i] * T(M);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[i] = T(partial[BN - 1 - i]) + scaled[M - 1][i];
}
template [[host_name("staged_4")]] [[kernel]] void staged<float, 4>(
    const device float* in [[buffer(0)]], device float* out [[buffer(1)]],
    uint i [[thread_index_in_threadgroup]]);`;
  const [, out] = await h.run({
    kernel: "staged_4",
    source,
    buffers: [new Float32Array([1, 2, 3, 4]), 4 * 4],
    groups: [1],
    threads: [4],
  });
  // in[3 - i] + 2 in[i]
  assert.deepStrictEqual([...new Float32Array(out)], [6, 7, 8, 9]);
});

Deno.test("msl libraries: a function-pointer alias as the type of a template's non-type parameter", async () => {
  const [out] = await h.run({
    kernel: "codelets",
    source: `
template <typename T>
using Codelet = void (*)(thread vec<T, 2>*);
template <typename T> void swap_parts(thread vec<T, 2>* x) { *x = x->yx; }
template <typename T> void negate(thread vec<T, 2>* x) { *x = -*x; }
template <typename T, Codelet<T> f>
void apply(thread vec<T, 2>* x) { f(x); }
kernel void codelets(device float2* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  float2 v = float2(1.0f, 2.0f);
  apply<float, swap_parts<float>>(&v);
  apply<float, negate<float>>(&v);
  out[i] = v;
}`,
    buffers: [8],
    grid: [1],
    threads: [1],
  });
  assert.deepStrictEqual([...new Float32Array(out)], [-2, -1]);
});

Deno.test("msl libraries: simdgroup_matrix '*' is the matrix product, '+' and '-' elementwise", async () => {
  // A = I + 1 (ones plus the identity), B = 2I: A*B = 2A; (A*B + A) - B = 3A - 2I.
  const [out] = await h.run({
    kernel: "matrix_operators",
    source: `
kernel void matrix_operators(device float* out [[buffer(0)]],
                             uint lane [[thread_index_in_simdgroup]]) {
  simdgroup_float8x8 a = make_filled_simdgroup_matrix<float, 8>(1.0f) + simdgroup_float8x8(1.0f);
  simdgroup_float8x8 b = simdgroup_float8x8(2.0f);
  simdgroup_float8x8 c = (a * b + a) - b;
  simdgroup_store(c, out, 8);
}`,
    buffers: [64 * 4],
    groups: [1],
    threads: [32],
  });
  const expected = Array.from(
    { length: 64 },
    (_, k) => 3 * (1 + (k % 9 === 0 ? 1 : 0)) - (k % 9 === 0 ? 2 : 0),
  );
  assert.deepStrictEqual([...new Float32Array(out)], expected);
});

Deno.test("msl libraries: constructors declared once per address space, the constant one included", async () => {
  // The shape of MLX's complex_t: the same constructor for thread, threadgroup, device and
  // constant objects. They do the same thing, so the CPU backend may run any one of them.
  const [, out] = await h.run({
    kernel: "pair_spaces",
    source: `
struct Pair {
  float a, b;
  Pair() thread : a(0), b(0) {}
  Pair() threadgroup : a(0), b(0) {}
  template <typename U> Pair(U x) thread : a(static_cast<float>(x)), b(0) {}
  template <typename U> Pair(U x) threadgroup : a(static_cast<float>(x)), b(0) {}
  template <typename U> Pair(U x) device : a(static_cast<float>(x)), b(0) {}
  template <typename U> Pair(U x) constant : a(static_cast<float>(x)), b(0) {}
  Pair(float2 v) thread : a(v.x), b(v.y) {}
  Pair(float2 v) constant : a(v.x), b(v.y) {}
};
kernel void pair_spaces(device const int* in [[buffer(0)]], device float* out [[buffer(1)]],
                        uint i [[thread_position_in_grid]]) {
  Pair p = in[i];
  Pair q = float2(1.5f, 2.5f);
  out[i] = p.a + p.b + q.a * q.b;
}`,
    buffers: [new Int32Array([1, 2]), 2 * 4],
    grid: [2],
    threads: [2],
  });
  assert.deepStrictEqual([...new Float32Array(out)], [4.75, 5.75]);
});

Deno.test("msl libraries: a library's own overload in metal::precise leaves the built-in ones callable", async () => {
  // MLX adds bfloat16 overloads to metal::precise; a qualified precise::atan2 on half and
  // float must still pick Metal's own overloads, not convert to the library's type.
  const [, out] = await h.run({
    kernel: "precise_overload",
    source: `
struct wrapped { float v; };
namespace metal {
namespace precise {
inline wrapped atan2(wrapped y, wrapped x) { return {-1000.0f}; }
}  // namespace precise
}  // namespace metal
kernel void precise_overload(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                             uint i [[thread_position_in_grid]]) {
  out[2 * i] = metal::precise::atan2(in[i], 1.0f);
  out[2 * i + 1] = float(metal::fast::sqrt(half(in[i])));
}`,
    buffers: [new Float32Array([0, 1, 4]), 6 * 4],
    grid: [3],
    threads: [3],
  });
  const got = [...new Float32Array(out)];
  const expected = [0, 0, Math.atan2(1, 1), 1, Math.atan2(4, 1), 2];
  got.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-6, `out[${i}] = ${v}`));
});
