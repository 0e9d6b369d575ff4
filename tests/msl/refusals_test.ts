// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// Conformance: what Metal refuses but C++ would accept is refused, with a diagnostic at the
// .metal line (the prelude `#include <metal_stdlib>` + `using namespace metal;` is lines 1-2).
import assert from "node:assert";
import { Harness } from "./_harness.ts";

const h = new Harness();

/** Compiles `body` expecting an error whose message matches `pattern` at `line`:`column`. */
async function refused(
  kernel: string,
  body: string,
  pattern: RegExp,
  line: number,
  column?: number,
): Promise<void> {
  const error = await h.compileError(body, kernel);
  const hit = error.diagnostics.find((d) => d.severity === "error" && pattern.test(d.message));
  assert.ok(hit, `no error matching ${pattern} in:\n${error.log}`);
  assert.strictEqual(hit.file, `${kernel}.metal`);
  assert.strictEqual(hit.line, line, `line of "${hit.message}"`);
  if (column !== undefined) assert.strictEqual(hit.column, column, `column of "${hit.message}"`);
}

Deno.test("msl refusals: double", async () => {
  await refused(
    "no_double",
    `
kernel void no_double(device float* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  double x = 1.0;
  out[i] = float(x);
}`,
    /^'double' is not supported in Metal$/,
    5,
    3,
  );
});

Deno.test("msl refusals: direct recursion", async () => {
  await refused(
    "no_recursion",
    `
uint fact(uint n) {
  return n <= 1 ? 1 : n * fact(n - 1);
}
kernel void no_recursion(device uint* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = fact(i);
}`,
    /^recursion is not supported in Metal: 'fact' calls itself$/,
    5,
    27,
  );
});

Deno.test("msl refusals: recursion through a cycle of calls", async () => {
  await refused(
    "no_cycle",
    `
bool is_odd(uint n);
bool is_even(uint n) { return n == 0 ? true : is_odd(n - 1); }
bool is_odd(uint n) { return n == 0 ? false : is_even(n - 1); }
kernel void no_cycle(device uint* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = is_even(i);
}`,
    /^recursion is not supported in Metal: 'is_even' -> 'is_odd' -> 'is_even'$/,
    5,
  );
});

Deno.test("msl refusals: overloads and compile-time template recursion are not recursion", async () => {
  // `max(float4)` calls metal::max(float, float); `sum<N>` recurses only at compile time.
  const [out] = await h.run({
    kernel: "not_recursion",
    source: `
float max(float4 v) { return max(max(v.x, v.y), max(v.z, v.w)); }
template <int N> float sum(const device float* p) {
  if constexpr (N == 0) return 0.0f; else return p[N - 1] + sum<N - 1>(p);
}
kernel void not_recursion(device float* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[0] = max(float4(1.0f, 7.0f, 3.0f, 2.0f));
  out[1] = sum<1>(out);
}`,
    buffers: [8],
    grid: [1],
    threads: [1],
  });
  assert.deepStrictEqual([...new Float32Array(out)], [7, 7]);
});

Deno.test("msl refusals: new, delete, malloc", async () => {
  const body = `
kernel void no_alloc(device float* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  float* p = new float[4];
  delete[] p;
  void* q = malloc(16);
  out[i] = 0.0f;
}`;
  await refused(
    "no_alloc",
    body,
    /^'new': dynamic memory allocation is not supported in Metal$/,
    5,
    14,
  );
  await refused("no_alloc", body, /^'delete': dynamic memory allocation/, 6, 3);
  await refused("no_alloc", body, /^'malloc': dynamic memory allocation/, 7, 13);
});

Deno.test("msl refusals: exceptions", async () => {
  const body = `
kernel void no_throw(device float* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  try {
    if (i > 4) throw 1;
  } catch (...) {
  }
}`;
  await refused("no_throw", body, /^'try': exceptions are not supported in Metal$/, 5, 3);
  await refused("no_throw", body, /^'throw': exceptions are not supported in Metal$/, 6, 16);
  await refused("no_throw", body, /^'catch': exceptions/, 7, 5);
});

Deno.test("msl refusals: C++ standard library headers", async () => {
  await refused(
    "no_std_header",
    `#include <vector>
kernel void no_std_header(device float* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = 1.0f;
}`,
    /^'<vector>' is not a Metal header: the C and C\+\+ standard libraries are not available in Metal \(use <metal_stdlib>\)$/,
    3,
    10,
  );
  await refused(
    "no_c_header",
    `
   #  include <math.h>
kernel void no_c_header(device float* out [[buffer(0)]]) {}`,
    /^'<math.h>' is not a Metal header/,
    4,
  );
});

Deno.test("msl refusals: function pointers", async () => {
  await refused(
    "no_fnptr",
    `
float twice(float x) { return 2.0f * x; }
kernel void no_fnptr(device float* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  float (*op)(float) = twice;
  out[i] = op(out[i]);
}`,
    /^function pointers are not supported in Metal$/,
    6,
    11,
  );
  await refused(
    "no_fnptr_type",
    `
typedef float (*unary_fn)(float);
kernel void no_fnptr_type(device float* out [[buffer(0)]]) {}`,
    /^function pointers are not supported in Metal$/,
    4,
  );
});

Deno.test("msl refusals: every error of a file is reported at once", async () => {
  const error = await h.compileError(
    `
kernel void many(device float* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  double d = 2.0;
  float* p = new float;
  out[i] = undeclared_name;
}`,
    "many",
  );
  const lines = error.diagnostics.filter((d) => d.severity === "error").map((d) => d.line);
  assert.deepStrictEqual(lines, [5, 6, 7], error.log);
});
