// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// Conformance: lambda expressions in Metal 4.0. The 3.2 specification lists lambdas among the
// C++ features Metal leaves out (§1.5.4, refused below 4.0: tests/msl/exclusions_test.ts), but
// Apple's Metal 4 compiler accepts them: MLX's NAX kernels, built only when the SDK's default
// language is 4.0 or newer, pass generic lambdas that capture by reference to templates. With
// `languageVersion: "4.0"` they compile and run here as C++ lambdas: captured variables are the
// calling thread's own, so each work-item sees its own values. The same code keeps a function
// template's specialisation in a local variable, which 4.0 accepts too.
import assert from "node:assert";
import { Harness } from "./_harness.ts";

const h = new Harness({ languageVersion: "4.0" });

const KERNEL = "device float* out [[buffer(0)]], uint i [[thread_position_in_grid]]";

Deno.test("msl lambdas: a lambda capturing by reference updates the thread's own variable", async () => {
  const [out] = await h.run({
    kernel: "lambda_ref",
    source: `kernel void lambda_ref(${KERNEL}) {
  float sum = float(i);
  auto add = [&](float x) { sum += x; };
  add(0.5f);
  add(2.0f);
  out[i] = sum;
}`,
    buffers: [new Float32Array(8)],
    grid: [8],
    threads: [4],
  });
  assert.deepStrictEqual([...new Float32Array(out)], [0, 1, 2, 3, 4, 5, 6, 7].map((v) => v + 2.5));
});

Deno.test("msl lambdas: a generic lambda passed to a template is called with compile-time constants", async () => {
  // The shape of MLX's const_for_loop / dispatch_bool: the template calls the lambda with an
  // integral_constant, and the lambda uses it as a constant expression.
  const [out] = await h.run({
    kernel: "lambda_template",
    source: `template <int N, class F>
void repeat(thread F& f) {
  if constexpr (N > 0) {
    f(integral_constant<int, N - 1>{});
    repeat<N - 1>(f);
  }
}
template <class F>
void choose(bool b, F f) {
  if (b) f(true_type{}); else f(false_type{});
}
kernel void lambda_template(${KERNEL}) {
  float acc = 0.0f;
  auto step = [&](auto k) {
    constexpr int power = decltype(k)::value;
    acc += float(1 << power);
  };
  repeat<4>(step);
  choose(i % 2 == 1, [&](auto odd) {
    if constexpr (decltype(odd)::value) acc = -acc;
  });
  out[i] = acc + float(i);
}`,
    buffers: [new Float32Array(4)],
    grid: [4],
    threads: [4],
  });
  assert.deepStrictEqual([...new Float32Array(out)], [15, -14, 17, -12]);
});

Deno.test("msl lambdas: a lambda capturing by value keeps the value it captured", async () => {
  const [out] = await h.run({
    kernel: "lambda_copy",
    source: `kernel void lambda_copy(${KERNEL}) {
  float base = float(i);
  auto scaled = [base](float s) { return base * s; };
  base = 100.0f;
  out[i] = scaled(2.0f) + base;
}`,
    buffers: [new Float32Array(4)],
    grid: [4],
    threads: [4],
  });
  assert.deepStrictEqual([...new Float32Array(out)], [100, 102, 104, 106]);
});

Deno.test("msl lambdas: a local variable holding a function template's specialisation is called", async () => {
  // MLX's NAX kernels: `auto do_gemm = gemm_loop<T, ...>; C = do_gemm(...);`.
  const [out] = await h.run({
    kernel: "local_function",
    source: `template <typename T, int Scale>
T scaled(T x) { return x * T(Scale); }
kernel void local_function(${KERNEL}) {
  auto f = scaled<float, 3>;
  out[i] = f(float(i));
}`,
    buffers: [new Float32Array(4)],
    grid: [4],
    threads: [4],
  });
  assert.deepStrictEqual([...new Float32Array(out)], [0, 3, 6, 9]);
});

Deno.test("msl lambdas: a lambda in a 3.2 library is refused at its line and column", async () => {
  const old = new Harness({ languageVersion: "3.2" });
  const error = await old.compileError(
    `kernel void lambda_old(${KERNEL}) {\n  auto f = [](float x) { return x; };\n  out[i] = f(1.0f);\n}`,
    "lambda_old",
  ).finally(() => old.close());
  const hit = error.diagnostics.find((d) => d.severity === "error");
  assert.match(hit?.message ?? "", /^lambda expressions are not supported before Metal 4\.0/);
  assert.deepStrictEqual([hit?.line, hit?.column], [4, 12]);
});
