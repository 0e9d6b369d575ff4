// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// Conformance: the C++ features the Metal Shading Language specification leaves out (§1.5.4,
// "C++ features not supported": lambda expressions, recursive function calls, dynamic_cast,
// type identification, new and delete, noexcept, goto, register and thread_local storage,
// virtual functions, derived classes, exception handling; among its pointer restrictions,
// function pointers; and program-scope variables only in the constant address space) are
// refused at the .metal line and column, as Apple's compiler refuses them. Each row states what
// Apple's compiler does. Where it is more lenient than its specification, this backend follows
// the compiler and the row says so: `noexcept` and derived classes compile on a Mac (MLX's
// kernels use both), so they compile here too. Lambda expressions are refused in the default
// language (3.2) and accepted from 4.0, as Apple's Metal 4 compiler accepts them (MLX's NAX
// kernels use them; tests/msl/lambdas_test.ts runs them).
//
// Keywords that always mean the same thing are refused by the rewriter from the tokens; the
// rest (a `[` that opens a lambda, a declarator of function-pointer type, a call that closes a
// cycle through overloads or methods, a program-scope variable that is not const) is taken from
// clang's AST of the library, so spelling cannot hide them.
// The prelude `#include <metal_stdlib>` + `using namespace metal;` is lines 1-2.
import assert from "node:assert";
import { Harness } from "./_harness.ts";

const h = new Harness();

interface Row {
  what: string;
  /** What Apple's compiler does, and where that is written. */
  apple: string;
  body: string;
  /** The refusal, or null when the code compiles (on a Mac and here). */
  error: RegExp | null;
  line?: number;
  column?: number;
}

// Apple's verdict on lambdas, and where it comes from.
const LAMBDA_VERDICT = "refuses in Metal 3.2 (§1.5.4 of the 3.2 specification: lambda " +
  "expressions); Apple's Metal 4 compiler accepts them: MLX (ml-explore/mlx, " +
  "mlx/backend/metal/kernels/CMakeLists.txt) builds its NAX kernels, which pass generic lambdas " +
  "capturing by reference to templates, only when the SDK's __METAL_VERSION__ is 400 or more, " +
  "and its device.cpp compiles run-time kernels with MTLLanguageVersion4_0 on macOS 26";
const LAMBDA_REFUSAL =
  /^lambda expressions are not supported before Metal 4\.0 \(this library is compiled as Metal 3\.2; set the registry's languageVersion to "4\.0"\)$/;

const KERNEL = "kernel void k(device float* out [[buffer(0)]], uint i [[thread_position_in_grid]])";

const ROWS: Row[] = [
  {
    what: "a lambda expression",
    apple: LAMBDA_VERDICT,
    body: `\n${KERNEL} {\n  auto f = [](float x) { return x * 2.0f; };\n  out[i] = f(1.0f);\n}`,
    error: LAMBDA_REFUSAL,
    line: 5,
    column: 12,
  },
  {
    what: "a lambda capturing by reference",
    apple: LAMBDA_VERDICT,
    body:
      `\n${KERNEL} {\n  float s = 0.0f;\n  auto add = [&](float x) { s += x; };\n  add(1.0f);\n  out[i] = s;\n}`,
    error: LAMBDA_REFUSAL,
    line: 6,
    column: 14,
  },
  {
    what: "goto",
    apple: "refuses (§1.5.4: goto)",
    body: `\n${KERNEL} {\n  if (i > 4) goto done;\n  out[i] = 1.0f;\ndone:\n  return;\n}`,
    error: /^'goto' is not supported in Metal$/,
    line: 5,
    column: 14,
  },
  {
    what: "a virtual function",
    apple: "refuses (§1.5.4: virtual functions)",
    body:
      `\nstruct Op {\n  virtual float apply(float x) const { return x; }\n};\n${KERNEL} { out[i] = 1.0f; }`,
    error: /^virtual functions and virtual base classes are not supported in Metal$/,
    line: 5,
    column: 3,
  },
  {
    what: "a virtual base class",
    apple: "refuses (§1.5.4: virtual functions; a virtual base needs the same tables)",
    body: `\nstruct A { float x; };\nstruct B : virtual A {};\n${KERNEL} { out[i] = 1.0f; }`,
    error: /^virtual functions and virtual base classes are not supported in Metal$/,
    line: 5,
    column: 12,
  },
  {
    what: "dynamic_cast",
    apple: "refuses (§1.5.4: dynamic_cast)",
    body:
      `\nstruct A { float x; };\n${KERNEL} {\n  A a{1.0f};\n  thread A* p = dynamic_cast<thread A*>(&a);\n  out[i] = p->x;\n}`,
    error: /^'dynamic_cast': run-time type information is not supported in Metal$/,
    line: 7,
    column: 17,
  },
  {
    what: "typeid",
    apple: "refuses (§1.5.4: type identification)",
    body: `\n${KERNEL} {\n  out[i] = float(sizeof(typeid(float)));\n}`,
    error: /^'typeid': run-time type information is not supported in Metal$/,
    line: 5,
    column: 25,
  },
  {
    what: "thread_local storage",
    apple: "refuses (§1.5.4: thread_local)",
    body: `\n${KERNEL} {\n  thread_local float x = 1.0f;\n  out[i] = x;\n}`,
    error: /^'thread_local' storage is not supported in Metal$/,
    line: 5,
    column: 3,
  },
  {
    what: "register storage",
    apple: "refuses (§1.5.4: register)",
    body: `\n${KERNEL} {\n  register float x = 1.0f;\n  out[i] = x;\n}`,
    error: /^'register' storage is not supported in Metal$/,
    line: 5,
    column: 3,
  },
  {
    what: "new",
    apple: "refuses (§1.5.4: new and delete)",
    body: `\n${KERNEL} {\n  thread float* p = new float(1.0f);\n  out[i] = *p;\n}`,
    error: /^'new': dynamic memory allocation is not supported in Metal$/,
    line: 5,
    column: 21,
  },
  {
    what: "exceptions",
    apple: "refuses (§1.5.4: exception handling)",
    body: `\n${KERNEL} {\n  if (i > 100) throw 1;\n  out[i] = 1.0f;\n}`,
    error: /^'throw': exceptions are not supported in Metal$/,
    line: 5,
    column: 16,
  },
  {
    what: "a mutable program-scope variable",
    apple: "refuses (program-scope variables live in the constant address space)",
    body: `\nfloat counter = 0.0f;\n${KERNEL} { out[i] = counter; }`,
    error: /^program-scope variables must be declared in the constant address space/,
    line: 4,
    column: 7,
  },
  {
    what: "a lambda called at once after an if condition",
    apple: LAMBDA_VERDICT,
    body: `\n${KERNEL} {\n  if (i == 0) [&]() { out[0] = 1.0f; }();\n}`,
    error: LAMBDA_REFUSAL,
    line: 5,
    column: 15,
  },
  {
    what: "recursion through two overloads of one name",
    apple: "refuses (§1.5.4: recursive function calls)",
    body:
      `\nfloat walk(int n);\nfloat walk(float x) { return x > 1.0f ? walk(int(x) - 1) : x; }\nfloat walk(int n) { return walk(float(n)); }\n${KERNEL} { out[i] = walk(2.0f); }`,
    error: /^recursion is not supported in Metal: 'walk' -> 'walk' -> 'walk'$/,
    line: 6,
    column: 28,
  },
  {
    what: "recursion in a member function",
    apple: "refuses (§1.5.4: recursive function calls)",
    body:
      `\nstruct Counter {\n  uint down(uint n) const { return n == 0 ? 0 : 1 + down(n - 1); }\n};\n${KERNEL} { out[i] = float(Counter().down(i)); }`,
    error: /^recursion is not supported in Metal: 'down' calls itself$/,
    line: 5,
    column: 53,
  },
  {
    what: "a function's address taken with &",
    apple: "refuses in Metal 3.2 (function pointers: only to [[visible]] functions, through " +
      "tables); from 4.0 Apple's compiler accepts a local variable holding a function (MLX's " +
      "NAX kernels: `auto do_gemm = gemm_loop<...>;`), and so does this backend " +
      "(tests/msl/lambdas_test.ts)",
    body:
      `\nfloat twice(float x) { return 2.0f * x; }\n${KERNEL} {\n  auto op = &twice;\n  out[i] = op(1.0f);\n}`,
    error: /^function pointers are not supported in Metal$/,
    line: 6,
    column: 8,
  },
  {
    what: "a function-pointer parameter",
    apple: "refuses (function pointers: only to [[visible]] functions, through tables)",
    body:
      `\nfloat apply(float (*op)(float), float x) { return op(x); }\n${KERNEL} { out[i] = 1.0f; }`,
    error: /^function pointers are not supported in Metal$/,
    line: 4,
    column: 21,
  },
  {
    what: "a mutable variable in a namespace",
    apple: "refuses (program-scope variables live in the constant address space)",
    body: `\nnamespace tuning {\nfloat scale = 2.0f;\n}\n${KERNEL} { out[i] = tuning::scale; }`,
    error: /^program-scope variables must be declared in the constant address space/,
    line: 5,
    column: 7,
  },
  {
    what: "a mutable variable declared with its struct",
    apple: "refuses (program-scope variables live in the constant address space)",
    body: `\nstruct Pair { float a, b; } pair;\n${KERNEL} { out[i] = pair.a; }`,
    error: /^program-scope variables must be declared in the constant address space/,
    line: 4,
    column: 29,
  },
  {
    what: "a mutable pointer to constant data",
    apple: "refuses (program-scope variables live in the constant address space)",
    body:
      `\nconstant float table[2] = {1.0f, 2.0f};\nconstant float* cursor = table;\n${KERNEL} { out[i] = cursor[0]; }`,
    error: /^program-scope variables must be declared in the constant address space/,
    line: 5,
    column: 17,
  },
  {
    what: "a derived class (specified as excluded, accepted by Apple's compiler)",
    apple: "accepts, though §1.5.4 lists derived classes (MLX's kernels derive structs)",
    body:
      `\nstruct Base { float x; };\nstruct Derived : Base { float twice() const { return 2.0f * x; } };\n${KERNEL} {\n  Derived d;\n  d.x = 1.5f;\n  out[i] = d.twice();\n}`,
    error: null,
  },
  {
    what:
      "a function calling itself as its last action (specified as excluded, accepted by Apple's compiler)",
    apple: "accepts, though §1.5.4 lists recursive function calls: MLX's reduce.metal " +
      "(LoopedElemToLoc::next, in every MLX build) calls itself as the last statement of a branch " +
      "closing the function, a tail call the compiler turns into a loop",
    body:
      `\nstruct Steps {\n  uint left = 0;\n  void run(uint n) {\n    left += 1;\n    if (n > 1) {\n      run(n - 1);\n    }\n  }\n};\nuint count(uint n, uint acc) { if (n == 0) return acc; return count(n - 1, acc + 2); }\n${KERNEL} {\n  Steps s;\n  s.run(3);\n  out[i] = float(s.left + count(2, 0));\n}`,
    error: null,
  },
  {
    what: "a function calling itself before doing more",
    apple: "refuses (§1.5.4: recursive function calls)",
    body:
      `\nuint depth(uint n) {\n  if (n > 0) {\n    depth(n - 1);\n  }\n  return n;\n}\n${KERNEL} { out[i] = float(depth(2)); }`,
    error: /^recursion is not supported in Metal: 'depth' calls itself$/,
    line: 6,
    column: 5,
  },
  {
    what: "a class template whose constructor builds a member of another specialisation",
    apple: "accepts (compile-time recursion: Looper<2> constructs a Looper<1>, a different " +
      "class; MLX's reduce.metal, LoopedElemToLoc)",
    body:
      `\ntemplate <int N> struct Looper {\n  Looper<N - 1> inner;\n  int n;\n  Looper(int n) : inner(n - 1), n(n) {}\n  int total() { return n + inner.total(); }\n};\ntemplate <> struct Looper<0> {\n  Looper(int) {}\n  int total() { return 0; }\n};\n${KERNEL} {\n  Looper<2> l(2);\n  out[i] = float(l.total());\n}`,
    error: null,
  },
  {
    what: "an overload calling another overload of its name",
    apple: "accepts (no function calls itself)",
    body:
      `\nfloat peak(float a, float b) { return a > b ? a : b; }\nfloat peak(float4 v) { return peak(peak(v.x, v.y), peak(v.z, v.w)); }\n${KERNEL} { out[i] = peak(float4(1.0f, 4.0f, 2.0f, 3.0f)); }`,
    error: null,
  },
  {
    what: "a function as a template argument",
    apple: "accepts (a compile-time constant, no function pointer at run time)",
    body:
      `\nfloat twice(float x) { return 2.0f * x; }\ntemplate <float (*F)(float)> float call(float x) { return F(x); }\n${KERNEL} { out[i] = call<twice>(1.0f); }`,
    error: null,
  },
  {
    what: "noexcept (specified as excluded, accepted by Apple's compiler)",
    apple: "accepts, though §1.5.4 lists noexcept (MLX's kernels use it)",
    body:
      `\nstruct Two {\n  constexpr operator float() const noexcept { return 2.0f; }\n};\n${KERNEL} {\n  out[i] = float(Two());\n}`,
    error: null,
  },
  {
    what: "a constexpr program-scope constant",
    apple: "accepts (a compile-time constant)",
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
