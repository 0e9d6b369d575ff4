// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// Conformance: the C++ features the Metal Shading Language specification leaves out (§1.5.4,
// "C++14 features not supported": lambdas, recursion, dynamic_cast, typeid, new/delete,
// noexcept, goto, register and thread_local, virtual functions and virtual base classes,
// exceptions) are refused at the .metal line and column, as Apple's compiler refuses them.
// Where Apple's compiler is more lenient than the specification, this backend follows the
// compiler: `noexcept` compiles on a Mac (MLX's kernels use it), so it compiles here too.
// The prelude `#include <metal_stdlib>` + `using namespace metal;` is lines 1-2.
import assert from "node:assert";
import { Harness } from "./_harness.ts";

const h = new Harness();

interface Row {
  what: string;
  body: string;
  /** The refusal, or null when the code compiles (on a Mac and here). */
  error: RegExp | null;
  line?: number;
  column?: number;
}

const KERNEL = "kernel void k(device float* out [[buffer(0)]], uint i [[thread_position_in_grid]])";

const ROWS: Row[] = [
  {
    what: "a lambda expression",
    body: `\n${KERNEL} {\n  auto f = [](float x) { return x * 2.0f; };\n  out[i] = f(1.0f);\n}`,
    error: /^lambda expressions are not supported in Metal$/,
    line: 5,
    column: 12,
  },
  {
    what: "a lambda capturing by reference",
    body:
      `\n${KERNEL} {\n  float s = 0.0f;\n  auto add = [&](float x) { s += x; };\n  add(1.0f);\n  out[i] = s;\n}`,
    error: /^lambda expressions are not supported in Metal$/,
    line: 6,
    column: 14,
  },
  {
    what: "goto",
    body: `\n${KERNEL} {\n  if (i > 4) goto done;\n  out[i] = 1.0f;\ndone:\n  return;\n}`,
    error: /^'goto' is not supported in Metal$/,
    line: 5,
    column: 14,
  },
  {
    what: "a virtual function",
    body:
      `\nstruct Op {\n  virtual float apply(float x) const { return x; }\n};\n${KERNEL} { out[i] = 1.0f; }`,
    error: /^virtual functions and virtual base classes are not supported in Metal$/,
    line: 5,
    column: 3,
  },
  {
    what: "a virtual base class",
    body: `\nstruct A { float x; };\nstruct B : virtual A {};\n${KERNEL} { out[i] = 1.0f; }`,
    error: /^virtual functions and virtual base classes are not supported in Metal$/,
    line: 5,
    column: 12,
  },
  {
    what: "dynamic_cast",
    body:
      `\nstruct A { float x; };\n${KERNEL} {\n  A a{1.0f};\n  thread A* p = dynamic_cast<thread A*>(&a);\n  out[i] = p->x;\n}`,
    error: /^'dynamic_cast': run-time type information is not supported in Metal$/,
    line: 7,
    column: 17,
  },
  {
    what: "typeid",
    body: `\n${KERNEL} {\n  out[i] = float(sizeof(typeid(float)));\n}`,
    error: /^'typeid': run-time type information is not supported in Metal$/,
    line: 5,
    column: 25,
  },
  {
    what: "thread_local storage",
    body: `\n${KERNEL} {\n  thread_local float x = 1.0f;\n  out[i] = x;\n}`,
    error: /^'thread_local' storage is not supported in Metal$/,
    line: 5,
    column: 3,
  },
  {
    what: "register storage",
    body: `\n${KERNEL} {\n  register float x = 1.0f;\n  out[i] = x;\n}`,
    error: /^'register' storage is not supported in Metal$/,
    line: 5,
    column: 3,
  },
  {
    what: "new",
    body: `\n${KERNEL} {\n  thread float* p = new float(1.0f);\n  out[i] = *p;\n}`,
    error: /^'new': dynamic memory allocation is not supported in Metal$/,
    line: 5,
    column: 21,
  },
  {
    what: "exceptions",
    body: `\n${KERNEL} {\n  if (i > 100) throw 1;\n  out[i] = 1.0f;\n}`,
    error: /^'throw': exceptions are not supported in Metal$/,
    line: 5,
    column: 16,
  },
  {
    what: "a mutable program-scope variable",
    body: `\nfloat counter = 0.0f;\n${KERNEL} { out[i] = counter; }`,
    error: /^program-scope variables must be declared in the constant address space/,
    line: 4,
    column: 1,
  },
  {
    what: "noexcept (specified as excluded, accepted by Apple's compiler)",
    body:
      `\nstruct Two {\n  constexpr operator float() const noexcept { return 2.0f; }\n};\n${KERNEL} {\n  out[i] = float(Two());\n}`,
    error: null,
  },
  {
    what: "a constexpr program-scope constant",
    body: `\nconstexpr constant float kScale = 3.0f;\n${KERNEL} { out[i] = kScale; }`,
    error: null,
  },
];

for (const [n, row] of ROWS.entries()) {
  Deno.test(`msl exclusions: ${row.what} ${row.error ? "is refused" : "compiles"}`, async () => {
    const name = `excl${n}`;
    const body = row.body.replaceAll("kernel void k(", `kernel void ${name}(`);
    if (row.error === null) {
      const [out] = await h.run({
        kernel: name,
        source: body,
        buffers: [4],
        grid: [1],
        threads: [1],
      });
      assert.ok(Number.isFinite(new Float32Array(out)[0]));
      return;
    }
    const error = await h.compileError(body, name);
    const hit = error.diagnostics.find((d) => d.severity === "error" && row.error!.test(d.message));
    assert.ok(hit, `no error matching ${row.error} in:\n${error.log}`);
    assert.strictEqual(hit.line, row.line, `line of "${hit.message}"`);
    assert.strictEqual(hit.column, row.column, `column of "${hit.message}"`);
  });
}
