// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// Conformance: valid MSL as real-world libraries write it (candle, MLX, ggml, mlx-native), each
// feature in its smallest form. Every kernel here is written for this suite.
import assert from "node:assert";
import { cacheDir } from "../../_cache_dir.ts";
import { FunctionConstantError } from "../../errors.ts";
import { assertClose, Harness } from "./_harness.ts";

const h = new Harness();

Deno.test("msl front end: METAL_FUNC helpers", async () => {
  const [out] = await h.run({
    kernel: "metal_func",
    source: `
METAL_FUNC float twice(float x) { return 2.0f * x; }
struct Scale { static METAL_FUNC float apply(float x) { return x * 3.0f; } };
kernel void metal_func(device float* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = twice(float(i)) + Scale::apply(1.0f);
}`,
    buffers: [4 * 4],
    grid: [4],
    threads: [4],
  });
  assert.deepStrictEqual([...new Float32Array(out)], [3, 5, 7, 9]);
});

Deno.test("msl front end: parameters without [[buffer(n)]] take the free indices in order", async () => {
  // a -> 0, scale -> 2 (1 is taken explicitly), out -> 3.
  const [, b, scale, out] = await h.run({
    kernel: "implicit_indices",
    source: `
kernel void implicit_indices(device const float* a, device const float* b [[buffer(1)]],
                             constant float& scale, device float* out,
                             uint i [[thread_position_in_grid]]) {
  out[i] = (a[i] + b[i]) * scale;
}`,
    buffers: [
      new Float32Array([1, 2]),
      new Float32Array([10, 20]),
      new Float32Array([0.5]),
      2 * 4,
    ],
    grid: [2],
    threads: [2],
  });
  assert.deepStrictEqual([...new Float32Array(b)], [10, 20]);
  assert.deepStrictEqual([...new Float32Array(scale)], [0.5]);
  assert.deepStrictEqual([...new Float32Array(out)], [5.5, 11]);
});

Deno.test("msl front end: [[host_name]] joins adjacent string literals built by macros", async () => {
  const source = `
template <typename T> kernel void fill(device T* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = T(i) + T(1);
}
#define INSTANTIATE(tname, T) \\
  template [[host_name("fill_" #tname)]] [[kernel]] decltype(fill<T>) fill<T>;
INSTANTIATE(f32, float)
INSTANTIATE(u32, uint)`;
  const [out] = await h.run({
    kernel: "fill_u32",
    source,
    buffers: [3 * 4],
    grid: [3],
    threads: [3],
  });
  assert.deepStrictEqual([...new Uint32Array(out)], [1, 2, 3]);
});

Deno.test("msl front end: instantiation through a decltype alias of the kernel type", async () => {
  const [out] = await h.run({
    kernel: "axpy_f32",
    source: `
template <typename T>
kernel void axpy(device const T* x [[buffer(0)]], device T* y [[buffer(1)]],
                 uint i [[thread_position_in_grid]]) {
  y[i] += T(2) * x[i];
}
typedef decltype(axpy<float>) axpy_t;
template [[host_name("axpy_f32")]] kernel axpy_t axpy<float>;
template [[host_name("axpy_f16")]] kernel void axpy<half>(device const half*, device half*, uint);`,
    buffers: [new Float32Array([1, 2, 3]), new Float32Array([1, 1, 1])],
    grid: [3],
    threads: [3],
  }).then((b) => [b[1]]);
  assert.deepStrictEqual([...new Float32Array(out)], [3, 5, 7]);
});

Deno.test("msl front end: matrix types, m[i][j], matrix casts and arithmetic", async () => {
  const [, out] = await h.run({
    kernel: "matrices",
    source: `
kernel void matrices(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                     uint i [[thread_position_in_grid]]) {
  float4x4 m;
  for (int c = 0; c < 4; ++c)
    for (int r = 0; r < 4; ++r) m[c][r] = in[c * 4 + r];
  half4x4 h = half4x4(m);                        // element-type conversion
  float4x4 back = float4x4(h);
  float4 v = float4(1.0f, 2.0f, 3.0f, 4.0f);
  float4 mv = m * v;                             // column-major: sum of columns scaled by v
  float4 vm = v * m;                             // row vector: dots with the columns
  float4x4 s = (back + m) * 0.5f - float4x4(0.0f);
  float2x2 d = float2x2(float2(1.0f, 2.0f), float2(3.0f, 4.0f));
  matrix<float, 4, 4> p = m * float4x4(1.0f);    // times identity
  out[0] = mv.x; out[1] = mv.w; out[2] = vm.y; out[3] = s[2][1];
  out[4] = determinant(d); out[5] = transpose(m)[1][2]; out[6] = p[3][3];
  out[7] = float(sizeof(float4x4)); out[8] = float(sizeof(float2x2));
}`,
    buffers: [new Float32Array(Array.from({ length: 16 }, (_, k) => k)), 9 * 4],
    grid: [1],
    threads: [1],
  });
  const m = (c: number, r: number) => c * 4 + r;
  const v = [1, 2, 3, 4];
  const mv = (r: number) => v.reduce((s, x, c) => s + m(c, r) * x, 0);
  const vm = (c: number) => v.reduce((s, x, r) => s + x * m(c, r), 0);
  assert.deepStrictEqual([...new Float32Array(out)], [
    mv(0),
    mv(3),
    vm(1),
    m(2, 1),
    1 * 4 - 3 * 2,
    m(2, 1),
    m(3, 3),
    64,
    16,
  ]);
});

Deno.test("msl front end: overloads, constructors and specialisations by address space", async () => {
  const [, out] = await h.run({
    kernel: "by_space",
    source: `
float first(device const float* p) { return p[0]; }
float first(constant float* p) { return p[0]; }
float first(threadgroup float* p) { return p[0]; }
struct Acc {
  float v;
  Acc() thread = default;
  Acc() device = default;
  Acc() threadgroup = default;
  float get() const thread { return v; }
  float get() const device { return v; }
};
template <typename P> struct pointee;
template <typename T> struct pointee<device T*> { using type = T; };
template <typename T> struct pointee<thread T*> { using type = T; };
kernel void by_space(device const float* a [[buffer(0)]], device float* out [[buffer(1)]],
                     uint i [[thread_position_in_grid]]) {
  threadgroup float tg[1];
  tg[0] = 4.0f;
  Acc acc = {first(a) + first(tg)};
  typename pointee<device const float*>::type x = a[1];
  out[0] = acc.get() + x;
}`,
    buffers: [new Float32Array([1.5, 10]), 4],
    grid: [1],
    threads: [1],
  });
  assert.deepStrictEqual([...new Float32Array(out)], [15.5]);
});

Deno.test("msl front end: <metal_type_traits> and vector traits", async () => {
  const [out] = await h.run({
    kernel: "traits",
    source: `
#include <metal_type_traits>
static_assert(is_same_v<remove_cv_t<const float>, float>, "remove_cv_t");
static_assert(vec_elements<half4>::value == 4 && vec_elements<float>::value == 1, "vec_elements");
static_assert(is_same_v<make_scalar_t<float4>, float>, "make_scalar_t");
static_assert(metal::is_floating_point_v<half> && metal::is_integral_v<ushort>, "categories");
static_assert(is_vector_v<float2> && !is_vector_v<float>, "is_vector");
static_assert(is_convertible_v<int, float> && disjunction_v<false_type, true_type>, "logic");
template <typename T, typename = enable_if_t<is_floating_point_v<T>>>
T halve(T x) { return x / T(2); }
kernel void traits(device float* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = halve(float(i)) + float(numeric_limits<ushort>::max() == 65535);
}`,
    buffers: [2 * 4],
    grid: [2],
    threads: [2],
  });
  assert.deepStrictEqual([...new Float32Array(out)], [1, 1.5]);
});

Deno.test("msl front end: an #include in a branch the preprocessor skips is not judged", async () => {
  const [out] = await h.run({
    kernel: "inactive_include",
    source: `
#if !defined(__METAL_VERSION__)
#include <stdint.h>
#include <cuda_fp16.h>
#endif
kernel void inactive_include(device uint* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = 7u;
}`,
    buffers: [4],
    grid: [1],
    threads: [1],
  });
  assert.deepStrictEqual([...new Uint32Array(out)], [7]);
  // In an active branch it is refused where it stands.
  const error = await h.compileError(
    `
#if defined(__METAL_VERSION__)
#include <stdint.h>
#endif
kernel void active_include(device uint* out [[buffer(0)]]) {}`,
    "active_include",
  );
  const d = error.diagnostics.find((x) => x.severity === "error");
  assert.ok(d && /'<stdint\.h>' is not a Metal header/.test(d.message), error.log);
  assert.strictEqual(d.line, 5);
});

Deno.test("msl front end: [[buffer(n), function_constant(c)]] on a templated kernel's parameter", async () => {
  const source = `
constant bool has_bias [[function_constant(0)]];
template <typename T>
kernel void biased(device const T* x [[buffer(0)]],
                   device const T* bias [[buffer(1), function_constant(has_bias)]],
                   device T* out [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  out[i] = x[i] + (has_bias ? bias[i] : T(0));
}
template [[host_name("biased_f32")]] [[kernel]] decltype(biased<float>) biased<float>;`;
  const x = new Float32Array([1, 2]);
  const bias = new Float32Array([10, 20]);
  const run = (on: boolean) =>
    h.run({
      kernel: "biased_f32",
      source,
      constants: { 0: on },
      buffers: [x, bias, 2 * 4],
      grid: [2],
      threads: [2],
    });
  assert.deepStrictEqual([...new Float32Array((await run(true))[2])], [11, 22]);
  assert.deepStrictEqual([...new Float32Array((await run(false))[2])], [1, 2]);
});

Deno.test("msl front end: a required function constant is required only by kernels that read it", async () => {
  const source = `
constant uint width [[function_constant(3)]];
constant bool wide = width > 4;
kernel void plain(device uint* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = i;
}
kernel void uses_width(device uint* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = wide ? 1u : 2u;
}`;
  // One registered name per kernel, one text: the library declares `width` for both.
  const [out] = await h.run({
    kernel: "plain",
    source,
    buffers: [2 * 4],
    grid: [2],
    threads: [2],
  });
  assert.deepStrictEqual([...new Uint32Array(out)], [0, 1]);
  await assert.rejects(
    () => h.pipeline(source, "uses_width"),
    (e) =>
      e instanceof FunctionConstantError && /'width' \(index 3, uint\) is required/.test(e.message),
  );
  const [wide] = await h.run({
    kernel: "uses_width",
    source,
    constants: { 3: { type: "uint", value: 8 } },
    buffers: [4],
    grid: [1],
    threads: [1],
  });
  assert.deepStrictEqual([...new Uint32Array(wide)], [1]);
});

Deno.test("msl front end: short and ushort function constants", async () => {
  const [out] = await h.run({
    kernel: "short_constants",
    source: `
#define FC_BASE 40
constant short offset [[function_constant(FC_BASE + 1)]];
constant ushort stride [[function_constant(FC_BASE + 2)]];
kernel void short_constants(device int* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = int(offset) + int(stride) * int(i);
}`,
    constants: { 41: { type: "short", value: -5 }, 42: { type: "ushort", value: 3 } },
    buffers: [3 * 4],
    grid: [3],
    threads: [3],
  });
  assert.deepStrictEqual([...new Int32Array(out)], [-5, -2, 1]);
});

Deno.test("msl front end: vector C-style casts and casts through template parameters convert values", async () => {
  const [, out] = await h.run({
    kernel: "casts",
    source: `
template <typename T4> T4 widen(half4 h) { return (T4)h; }
template <typename T4> T4 sign4(float4 x) { return T4(x > 0.0f) - T4(x < 0.0f); }
kernel void casts(device const half4* in [[buffer(0)]], device float4* out [[buffer(1)]],
                  uint i [[thread_position_in_grid]]) {
  float4 a = (float4) in[0];
  float4 b = widen<float4>(in[0]) * 2.0f;
  half4 c = (half4)(a + 1.0f);
  out[0] = a; out[1] = b; out[2] = (float4)c;
  out[3] = sign4<float4>(float4(-2.0f, 0.0f, 3.0f, -0.5f));
  out[4] = float4(static_cast<float>(static_cast<bfloat>(in[0].x)), (float)(half)1.25f, 0.0f, 0.0f);
}`,
    buffers: [new Uint16Array([0x3c00, 0x4000, 0xbc00, 0x3800]), 5 * 16],
    grid: [1],
    threads: [1],
  });
  assert.deepStrictEqual([...new Float32Array(out)], [
    ...[1, 2, -1, 0.5],
    ...[2, 4, -2, 1],
    ...[2, 3, 0, 1.5],
    ...[-1, 0, 1, -1],
    ...[1, 1.25, 0, 0],
  ]);
});

Deno.test("msl front end: library functions Metal lacks may be defined by the kernel file", async () => {
  // Metal has no erf: real libraries define their own, which must not collide.
  const [, out] = await h.run({
    kernel: "own_erf",
    source: `
template <typename T> METAL_FUNC T erf(T x) { return x > T(0) ? T(1) : T(-1); }
kernel void own_erf(device const float* x [[buffer(0)]], device float* out [[buffer(1)]],
                    uint i [[thread_position_in_grid]]) {
  out[i] = erf(x[i]);
}`,
    buffers: [new Float32Array([-3, 2]), 2 * 4],
    grid: [2],
    threads: [2],
  });
  assert.deepStrictEqual([...new Float32Array(out)], [-1, 1]);
});

Deno.test("msl front end: Apple's __metal_* builtins that libraries call directly", async () => {
  const [, out] = await h.run({
    kernel: "builtins",
    source: `
kernel void builtins(device const float* x [[buffer(0)]], device float* out [[buffer(1)]],
                     uint i [[thread_position_in_grid]]) {
  float v = x[i];
  float s = __metal_simd_sum(v);
  float m = __metal_simd_max(v);
  ushort lane = __metal_get_thread_index_in_simdgroup(ushort());
  out[i * 4 + 0] = __metal_fabs(v, __METAL_FAST_MATH__) + __metal_fmax(v, 0.0f, __METAL_PRECISE_MATH__);
  out[i * 4 + 1] = s;
  out[i * 4 + 2] = m;
  out[i * 4 + 3] = float(lane) + float(__metal_get_simdgroup_size(ushort())) * 100.0f;
}`,
    buffers: [new Float32Array([-1, 2, -3, 4]), 16 * 4],
    grid: [4],
    threads: [4],
  });
  const x = [-1, 2, -3, 4];
  assertClose(
    new Float32Array(out),
    x.flatMap((v, i) => [Math.abs(v) + Math.max(v, 0), 2, 4, i + 3200]),
  );
});

// ---- facts from clang: which function a call reaches is clang's overload resolution ----------

Deno.test("msl front end: a barrier reached only through an operator of a typedef'd class template", async () => {
  // Nothing in the kernel's body names the barrier, the class template or its operator: only
  // clang's resolution of `m(...)` leads there. Without fibers the mirror reads unwritten memory.
  const [io] = await h.run({
    kernel: "mirror",
    source: `
template <typename T> struct Mirror {
  threadgroup T* tg;
  T operator()(T v, uint li, uint n) const {
    tg[li] = v;
    threadgroup_barrier(mem_flags::mem_threadgroup);
    return tg[n - 1 - li];
  }
};
typedef Mirror<float> FloatMirror;
kernel void mirror(device float* io [[buffer(0)]], uint li [[thread_index_in_threadgroup]]) {
  threadgroup float tg[4];
  FloatMirror m{tg};
  io[li] = m(io[li], li, 4);
}`,
    buffers: [new Float32Array([1, 2, 3, 4])],
    grid: [4],
    threads: [4],
  });
  assert.deepStrictEqual([...new Float32Array(io)], [4, 3, 2, 1]);
});

Deno.test("msl front end: a template kernel instantiated through a typedef reaches a barrier in a method", async () => {
  const [io] = await h.run({
    kernel: "shift_f32",
    source: `
template <typename T> struct Shifter {
  T left(threadgroup T* tg, T v, uint li, uint n) const {
    tg[li] = v;
    threadgroup_barrier(mem_flags::mem_threadgroup);
    return tg[(li + 1) % n];
  }
};
template <typename T>
kernel void shift(device T* io [[buffer(0)]], uint li [[thread_index_in_threadgroup]]) {
  threadgroup T tg[4];
  Shifter<T> s;
  io[li] = s.left(tg, io[li], li, 4);
}
typedef decltype(shift<float>) shift_t;
template [[host_name("shift_f32")]] kernel shift_t shift<float>;`,
    buffers: [new Float32Array([1, 2, 3, 4])],
    grid: [4],
    threads: [4],
  });
  assert.deepStrictEqual([...new Float32Array(io)], [2, 3, 4, 1]);
});

Deno.test("msl front end: a kernel needs the constants of the overload it calls, not of its namesakes", async () => {
  // `scaled(device float*)` reads `factor`; the kernel calls `scaled(device const float*)`, which
  // does not, so a pipeline without `factor` builds (Metal resolves constants per function).
  const source = `
constant float factor [[function_constant(7)]];
float scaled(device const float* p) { return p[0] * 2.0f; }
float scaled(device float* p) { return p[0] * factor; }
kernel void const_overload(device const float* a [[buffer(0)]], device float* out [[buffer(1)]]) {
  out[0] = scaled(a);
}
kernel void mutable_overload(device float* a [[buffer(0)]], device float* out [[buffer(1)]]) {
  out[0] = scaled(a);
}`;
  const [, out] = await h.run({
    kernel: "const_overload",
    source,
    buffers: [new Float32Array([3]), 4],
    grid: [1],
    threads: [1],
  });
  assert.deepStrictEqual([...new Float32Array(out)], [6]);
  await assert.rejects(
    () => h.pipeline(source, "mutable_overload"),
    (e) => e instanceof FunctionConstantError && /'factor' \(index 7, float\)/.test(e.message),
  );
});

Deno.test("msl front end: a constant read only by a called function's method is required", async () => {
  const source = `
constant int bias [[function_constant(2)]];
constant int twice_bias = bias * 2;
struct Adder { int apply(int x) const { return x + twice_bias; } };
int add(int x) { return Adder{}.apply(x); }
kernel void via_call(device int* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = add(int(i));
}`;
  await assert.rejects(
    () => h.pipeline(source, "via_call"),
    (e) =>
      e instanceof FunctionConstantError && /'bias' \(index 2, int\) is required/.test(e.message),
  );
  const [out] = await h.run({
    kernel: "via_call",
    source,
    constants: { 2: { type: "int", value: 5 } },
    buffers: [2 * 4],
    grid: [2],
    threads: [2],
  });
  assert.deepStrictEqual([...new Int32Array(out)], [10, 11]);
});

Deno.test("msl front end: [[buffer(n)]] indices are clang's constant expressions (template parameters, constexpr names)", async () => {
  // Clang evaluates each instantiation's attribute arguments; parameters without an attribute
  // then take the free indices (here 0).
  const [extra, , a, out] = await h.run({
    kernel: "indexed_f32",
    source: `
constexpr constant int kOut = 3;
template <int In, typename T>
kernel void indexed(device const T* a [[buffer(In)]], device T* out [[buffer(kOut)]],
                    device T* extra, uint i [[thread_position_in_grid]]) {
  out[i] = a[i] * T(2);
  extra[i] = T(In);
}
template [[host_name("indexed_f32")]] kernel void indexed<2, float>(device const float*, device float*, device float*, uint);`,
    buffers: [2 * 4, 4, new Float32Array([1.5, 2]), 2 * 4],
    grid: [2],
    threads: [2],
  });
  assert.deepStrictEqual([...new Float32Array(a)], [1.5, 2]);
  assert.deepStrictEqual([...new Float32Array(out)], [3, 4]);
  assert.deepStrictEqual([...new Float32Array(extra)], [2, 2]);
});

Deno.test("msl front end: a [[buffer(n)]] index out of range is refused at the kernel", async () => {
  const error = await h.compileError(
    `
constexpr constant int kFar = 40;
kernel void far_index(device float* out [[buffer(kFar)]]) { out[0] = 1.0f; }`,
    "far_index",
  );
  const d = error.diagnostics.find((x) => x.severity === "error");
  assert.ok(d && /needs an index from 0 to 30/.test(d.message), error.log);
  assert.strictEqual(d.line, 5);
});

Deno.test("msl front end: lines after a #pragma keep their .metal numbers", async () => {
  // clang -E keeps `#pragma` lines: each is a line of the source like any other.
  const error = await h.compileError(
    `
kernel void after_pragma(device float* out [[buffer(0)]]) {
#pragma unroll
  for (int i = 0; i < 2; ++i) out[i] = 1.0f;
#pragma clang loop unroll(disable)
  for (int i = 2; i < 4; ++i) out[i] = 2.0f;
  double d = 1.0;
  out[4] = float(d);
}`,
    "after_pragma",
  );
  const d = error.diagnostics.find((x) => x.severity === "error");
  assert.ok(d && /double/.test(d.message), error.log);
  assert.strictEqual(d.line, 9);
  assert.strictEqual(d.column, 3);
});

Deno.test("msl front end: an unreadable precompiled compatibility header is rebuilt, not fatal", async () => {
  // The facts pass and the address-space check read the header precompiled into the module
  // cache (msl-facts-*.pch, msl-spaces-*.pch); a damaged one is removed and the compile goes on.
  const dir = `${cacheDir()}/cpu-modules`;
  // A library not in the cache first, so that both headers exist however warm the cache is.
  await h.run({
    kernel: "before_damage",
    source: `
// ${crypto.randomUUID()}
kernel void before_damage(device float* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = 1.0f;
}`,
    buffers: [4],
    grid: [1],
    threads: [1],
  });
  const damaged: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    if (!/^msl-(facts|spaces)-[0-9a-f]+\.pch$/.test(entry.name)) continue;
    Deno.writeTextFileSync(`${dir}/${entry.name}`, "not a precompiled header");
    damaged.push(entry.name);
  }
  assert.ok(damaged.length >= 2, `precompiled headers in ${dir}: ${damaged.join(", ")}`);
  // A new text each run (no cached library), whose binding only clang's facts can place.
  const [, out] = await h.run({
    kernel: "after_damage",
    source: `
// ${crypto.randomUUID()}
constexpr constant int kOut = 1;
kernel void after_damage(device float* out [[buffer(kOut)]], uint i [[thread_position_in_grid]]) {
  out[i] = float(i) * 3.0f;
}`,
    buffers: [4, 2 * 4],
    grid: [2],
    threads: [2],
  });
  assert.deepStrictEqual([...new Float32Array(out)], [0, 3]);
});

// ---- facts from clang: kernels, names, threadgroup memory, limits (msl_ast.h) ----

Deno.test("msl front end: a [[host_name]] built by macros with escapes is the string clang builds", async () => {
  const [out] = await h.run({
    kernel: "fill_f32",
    source: `
template <typename T>
kernel void fill(device T* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = T(i) * T(2);
}
#define NAME(base, type) base "\\x5f" #type
template [[host_name(NAME("fill", f32))]] [[kernel]] decltype(fill<float>) fill<float>;`,
    buffers: [3 * 4],
    grid: [3],
    threads: [3],
  });
  assert.deepStrictEqual([...new Float32Array(out)], [0, 2, 4]);
});

Deno.test("msl front end: an instantiation is the template clang resolves, not the first of its name", async () => {
  // Two kernel templates named \`scale\` with different parameters: each host_name gets its own.
  const [, out] = await h.run({
    kernel: "scale_a",
    source: `
namespace a {
template <typename T>
kernel void scale(device T* out [[buffer(1)]], uint i [[thread_position_in_grid]]) {
  out[i] = T(i) * T(3);
}
}
namespace b {
template <typename T>
kernel void scale(device const T* in [[buffer(0)]], device T* out [[buffer(1)]],
                  constant T& k [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  out[i] = in[i] * k;
}
}
template [[host_name("scale_a")]] [[kernel]] decltype(a::scale<float>) a::scale<float>;
template [[host_name("scale_b")]] [[kernel]] decltype(b::scale<float>) b::scale<float>;`,
    buffers: [4, 2 * 4],
    grid: [2],
    threads: [2],
  });
  assert.deepStrictEqual([...new Float32Array(out)], [0, 3]);
});

Deno.test("msl front end: a [[host_name]] instantiation of a function that is no kernel is refused there", async () => {
  // \`detail::twice\` shares its name with a kernel template; clang resolves the instantiation to
  // the plain function, which Metal would not make an entry point.
  const error = await h.compileError(
    `
namespace detail {
template <typename T> void twice(device T* out, uint i) { out[i] *= T(2); }
}
template <typename T>
kernel void twice(device T* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  detail::twice(out, i);
}
template [[host_name("twice_f32")]] decltype(detail::twice<float>) detail::twice<float>;`,
    "twice_f32",
  );
  const d = error.diagnostics.find((x) => x.severity === "error");
  assert.ok(
    d && /'twice_f32' instantiates 'twice', which is not a kernel function/.test(d.message),
    error.log,
  );
  assert.strictEqual(d.line, 11);
  assert.strictEqual(d.column, 1);
});

Deno.test("msl front end: a [[host_name]] that is no string is refused at the instantiation", async () => {
  const error = await h.compileError(
    `
template <typename T>
kernel void numbered(device T* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = T(i);
}
template [[host_name(42)]] [[kernel]] decltype(numbered<float>) numbered<float>;`,
    "numbered",
  );
  const d = error.diagnostics.find((x) => x.severity === "error");
  assert.ok(d && /\[\[host_name\(42\)\]\] needs a string literal/.test(d.message), error.log);
  assert.strictEqual(d.line, 8);
});

Deno.test("msl front end: threadgroup memory is clang's size of each variable, per specialisation", async () => {
  // Sized by a local constexpr of a template parameter, by the parameter itself, and a second
  // declarator: 16 floats + 4 float2 + 1 float2.
  const pipeline = await h.pipeline(
    `
template <typename T, int N>
kernel void staged(device T* out [[buffer(0)]], uint i [[thread_index_in_threadgroup]]) {
  constexpr int M = N * 2;
  threadgroup T tile[M];
  threadgroup float2 pairs[N / 2], extra;
  tile[i] = T(i);
  pairs[i % (N / 2)] = extra = float2(1.0f);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[i] = tile[M - 1 - i] + T(pairs[0].x + extra.y);
}
template [[host_name("staged_8")]] [[kernel]] decltype(staged<float, 8>) staged<float, 8>;`,
    "staged_8",
  );
  assert.strictEqual(pipeline.staticThreadgroupMemoryLength, 16 * 4 + 4 * 8 + 8);
});

Deno.test("msl front end: threadgroup arrays in the two branches of an if take the larger branch", async () => {
  // MLX's sort kernels declare their arrays in both branches of \`if (ARG_SORT)\`: Metal's compiler
  // drops the dead one, so the pipeline needs the larger branch, not both.
  const pipeline = await h.pipeline(
    `
template <bool ARG>
kernel void branches(device float* out [[buffer(0)]], uint i [[thread_index_in_threadgroup]]) {
  if (ARG) {
    threadgroup float vals[64];
    threadgroup uint idxs[64];
    vals[i] = float(i);
    idxs[i] = i;
    out[i] = vals[i] + float(idxs[i]);
  } else {
    threadgroup float vals[64];
    vals[i] = float(i);
    out[i] = vals[i];
  }
}
template [[host_name("branches_arg")]] [[kernel]] decltype(branches<true>) branches<true>;`,
    "branches_arg",
  );
  assert.strictEqual(pipeline.staticThreadgroupMemoryLength, 2 * 64 * 4);
});

Deno.test("msl front end: a threadgroup array sized by a function constant has each specialisation's size", async () => {
  const source = `
constant uint block [[function_constant(0)]];
constant uint block2 = block * 2;
kernel void blocks(device float* out [[buffer(0)]], uint i [[thread_index_in_threadgroup]]) {
  threadgroup float tile[block2];
  tile[i] = float(i);
  out[i] = tile[i];
}`;
  const small = await h.pipeline(source, "blocks", { 0: { type: "uint", value: 2 } });
  const large = await h.pipeline(source, "blocks", { 0: { type: "uint", value: 16 } });
  assert.strictEqual(small.staticThreadgroupMemoryLength, 4 * 4);
  assert.strictEqual(large.staticThreadgroupMemoryLength, 32 * 4);
});

Deno.test("msl front end: [[max_total_threads_per_threadgroup]] is evaluated by clang per specialisation", async () => {
  // A defaulted template parameter computed by a constexpr function: 1024 / sizeof(T).
  const source = `
constexpr uint threads_for(uint bytes) { return 1024u / bytes; }
template <typename T, uint N = threads_for(sizeof(T))>
[[kernel, max_total_threads_per_threadgroup(N)]] void capped(
    device T* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = T(i);
}
template [[host_name("capped_f32")]] [[kernel]] decltype(capped<float>) capped<float>;
template [[host_name("capped_u8")]] [[kernel]] decltype(capped<uchar>) capped<uchar>;`;
  const f32 = await h.pipeline(source, "capped_f32");
  assert.strictEqual(f32.maxTotalThreadsPerThreadgroup, 256);
});

Deno.test("msl front end: a function constant's index and type are what clang evaluates", async () => {
  // The index is a constant expression and the type an alias: both are clang's to read.
  const source = `
constexpr int kBase = 10;
typedef float scale_t;
constant scale_t scale [[function_constant(kBase + 2)]];
constant ushort count [[function_constant(kBase * 2)]];
kernel void scaled(device float* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = float(i) * scale + float(count);
}`;
  const [out] = await h.run({
    kernel: "scaled",
    source,
    constants: { 12: { type: "float", value: 1.5 }, 20: { type: "ushort", value: 7 } },
    buffers: [2 * 4],
    grid: [2],
    threads: [2],
  });
  assert.deepStrictEqual([...new Float32Array(out)], [7, 8.5]);
});

Deno.test("msl front end: a function constant of a type the backend does not support is refused there", async () => {
  const error = await h.compileError(
    `
constant float2 offset [[function_constant(0)]];
kernel void offsets(device float2* out [[buffer(0)]]) { out[0] = offset; }`,
    "offsets",
  );
  const d = error.diagnostics.find((x) => x.severity === "error");
  assert.ok(d && /function constant 'offset' has type 'float2'/.test(d.message), error.log);
  assert.strictEqual(d.line, 4);
  assert.strictEqual(d.column, 17);
});

Deno.test("msl front end: a barrier reached through a constructor makes the kernel synchronise", async () => {
  const [, out] = await h.run({
    kernel: "ctor_barrier",
    source: `
struct Staged {
  threadgroup float* tile;
  Staged(threadgroup float* t, uint i, float v) : tile(t) {
    tile[i] = v;
    threadgroup_barrier(mem_flags::mem_threadgroup);
  }
  float mirrored(uint i, uint n) const { return tile[n - 1 - i]; }
};
kernel void ctor_barrier(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                         uint i [[thread_index_in_threadgroup]],
                         uint n [[threads_per_threadgroup]]) {
  threadgroup float tile[64];
  Staged staged(tile, i, in[i]);
  out[i] = staged.mirrored(i, n);
}`,
    buffers: [new Float32Array([1, 2, 3, 4]), 4 * 4],
    groups: [1],
    threads: [4],
  });
  assert.deepStrictEqual([...new Float32Array(out)], [4, 3, 2, 1]);
});

Deno.test("msl front end: a barrier reached through a destructor makes the kernel synchronise", async () => {
  const [, out] = await h.run({
    kernel: "dtor_barrier",
    source: `
struct Fence {
  ~Fence() { threadgroup_barrier(mem_flags::mem_threadgroup); }
};
kernel void dtor_barrier(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                         uint i [[thread_index_in_threadgroup]],
                         uint n [[threads_per_threadgroup]]) {
  threadgroup float tile[64];
  {
    Fence fence;
    tile[i] = in[i];
  }
  out[i] = tile[n - 1 - i];
}`,
    buffers: [new Float32Array([1, 2, 3, 4]), 4 * 4],
    groups: [1],
    threads: [4],
  });
  assert.deepStrictEqual([...new Float32Array(out)], [4, 3, 2, 1]);
});

Deno.test("msl front end: barriers and collectives are what the header declares, not what their names look like", async () => {
  // `simd_weighted` is the kernel's own helper: a name with a collective's prefix synchronises
  // nothing, so the barrier kernel still runs as work-item loops.
  const source = `
float simd_weighted(float x) { return x * 2.0f; }
kernel void own_simd_name(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                          uint i [[thread_index_in_threadgroup]],
                          uint n [[threads_per_threadgroup]]) {
  threadgroup float tile[64];
  tile[i] = simd_weighted(in[i]);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[i] = tile[n - 1 - i];
}`;
  const pipeline = await h.pipeline(source, "own_simd_name");
  if (h.device.backend === "cpu" && Deno.env.get("METAL_COMPUTE_CPU_EXECUTION") !== "fibers") {
    assert.strictEqual(pipeline.execution, "work-item-loops");
  }
  const [, out] = await h.run({
    kernel: "own_simd_name",
    source,
    buffers: [new Float32Array([1, 2, 3, 4]), 4 * 4],
    groups: [1],
    threads: [4],
  });
  assert.deepStrictEqual([...new Float32Array(out)], [8, 6, 4, 2]);
});
