// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// Address spaces: what Apple's compiler does with each case (from the Metal Shading Language
// specification, §4 "Address Spaces" and §5.2 "Kernel Function Arguments") beside what the CPU
// backend does. The CPU backend erases `device`, `threadgroup` and `thread` (one memory serves
// them all) and reads `constant` as `const`; its front end refuses the declarations Metal refuses
// by their spelling. Conversions between address spaces are not seen after erasure: those rows
// are marked `cpuAccepts` (a known gap: such a kernel is green here and refused on a Mac).
import assert from "node:assert";
import { Harness } from "./_harness.ts";

const h = new Harness();

interface Row {
  what: string;
  /** Kernel file body (PRELUDE prepended); the kernel is named `k`. */
  body: string;
  /** What Apple's compiler does, per the specification. */
  apple: "refuses" | "accepts";
  /** The CPU backend's refusal message, or "accepts". */
  cpu: RegExp | "accepts";
  line?: number;
}

const ARGS = "device float* out [[buffer(0)]], uint i [[thread_position_in_grid]]";

const ROWS: Row[] = [
  {
    what: "writing through a constant pointer",
    body:
      `\nkernel void k(constant float* c [[buffer(1)]], ${ARGS}) {\n  c[0] = 1.0f;\n  out[i] = c[1];\n}`,
    apple: "refuses",
    cpu: /read-only|const-qualified/,
    line: 5,
  },
  {
    what: "writing through a constant reference",
    body:
      `\nstruct P { float s; };\nkernel void k(constant P& p [[buffer(1)]], ${ARGS}) {\n  p.s = 2.0f;\n  out[i] = p.s;\n}`,
    apple: "refuses",
    cpu: /read-only|const-qualified/,
    line: 6,
  },
  {
    what: "a kernel pointer argument without an address space",
    body: `\nkernel void k(float* in [[buffer(1)]], ${ARGS}) {\n  out[i] = in[i];\n}`,
    apple: "refuses",
    cpu: /must be declared in the device, constant or threadgroup address space/,
    line: 4,
  },
  {
    what: "a kernel reference argument without an address space",
    body:
      `\nstruct P { float s; };\nkernel void k(P& p [[buffer(1)]], ${ARGS}) {\n  out[i] = p.s;\n}`,
    apple: "refuses",
    cpu: /must be declared in the device, constant or threadgroup address space/,
    line: 5,
  },
  {
    what: "a device program-scope variable",
    body: `\ndevice float g;\nkernel void k(${ARGS}) {\n  out[i] = g;\n}`,
    apple: "refuses",
    cpu: /program-scope variables must be declared in the constant address space, not 'device'/,
    line: 4,
  },
  {
    what: "a threadgroup program-scope variable",
    body: `\nthreadgroup float g[4];\nkernel void k(${ARGS}) {\n  out[i] = g[0];\n}`,
    apple: "refuses",
    cpu:
      /program-scope variables must be declared in the constant address space, not 'threadgroup'/,
    line: 4,
  },
  {
    what: "a program-scope variable in no address space",
    body: `\nfloat g = 1.0f;\nkernel void k(${ARGS}) {\n  out[i] = g;\n}`,
    apple: "refuses",
    cpu: /program-scope variables must be declared in the constant address space/,
    line: 4,
  },
  {
    what: "a constant program-scope variable without an initializer",
    body: `\nconstant float g;\nkernel void k(${ARGS}) {\n  out[i] = g;\n}`,
    apple: "refuses",
    cpu: /default initialization of an object of const type/,
    line: 4,
  },
  {
    what: "a device local variable",
    body: `\nkernel void k(${ARGS}) {\n  device float x = 1.0f;\n  out[i] = x;\n}`,
    apple: "refuses",
    cpu: /a local variable cannot be declared in the device address space/,
    line: 5,
  },
  {
    what: "a threadgroup variable with an initializer",
    body: `\nkernel void k(${ARGS}) {\n  threadgroup float t = 1.0f;\n  out[i] = t;\n}`,
    apple: "refuses",
    cpu: /a threadgroup variable cannot have an initializer/,
    line: 5,
  },
  {
    what: "dropping const from a device pointer",
    body:
      `\nkernel void k(device const float* in [[buffer(1)]], ${ARGS}) {\n  device float* p = in;\n  out[i] = p[i];\n}`,
    apple: "refuses",
    cpu: /cannot initialize a variable of type/,
    line: 5,
  },
  {
    what: "passing a constant buffer to a device float* parameter",
    body:
      `\nfloat first(device float* p) { return p[0]; }\nkernel void k(constant float* c [[buffer(1)]], ${ARGS}) {\n  out[i] = first(c);\n}`,
    apple: "refuses",
    cpu: /no matching function for call to 'first'/,
    line: 6,
  },
  {
    what: "a constant program-scope array",
    body:
      `\nconstant float table[2] = {1.0f, 2.0f};\nkernel void k(${ARGS}) {\n  out[i] = table[i % 2];\n}`,
    apple: "accepts",
    cpu: "accepts",
  },
  {
    what: "a threadgroup array in a kernel",
    body:
      `\nkernel void k(${ARGS}) {\n  threadgroup float t[4];\n  t[0] = 2.0f;\n  out[i] = t[0];\n}`,
    apple: "accepts",
    cpu: "accepts",
  },
  {
    what: "overloads that differ only in address space",
    body:
      `\nfloat f(device const float* p) { return p[0]; }\nfloat f(threadgroup const float* p) { return p[0]; }\nkernel void k(${ARGS}) {\n  threadgroup float t[1];\n  t[0] = 3.0f;\n  out[i] = f(t);\n}`,
    apple: "accepts",
    cpu: "accepts",
  },
  {
    what: "a constant pointer to a constant table",
    body:
      `\nconstant float table[2] = {1.0f, 2.0f};\nfloat at(constant float* p, uint i) { return p[i]; }\nkernel void k(${ARGS}) {\n  out[i] = at(table, 1);\n}`,
    apple: "accepts",
    cpu: "accepts",
  },
  // Conversions across address spaces: refused by Metal, not seen here (the spaces are erased).
  {
    what: "a device pointer converted to a thread pointer (cpuAccepts)",
    body: `\nkernel void k(${ARGS}) {\n  thread float* p = out;\n  p[i] = 1.0f;\n}`,
    apple: "refuses",
    cpu: "accepts",
  },
  {
    what: "a threadgroup pointer passed as a device pointer (cpuAccepts)",
    body:
      `\nvoid put(device float* p) { p[0] = 1.0f; }\nkernel void k(${ARGS}) {\n  threadgroup float t[1];\n  put(t);\n  out[i] = t[0];\n}`,
    apple: "refuses",
    cpu: "accepts",
  },
  {
    what: "an explicit cast from device to thread (cpuAccepts)",
    body: `\nkernel void k(${ARGS}) {\n  thread float* p = (thread float*)out;\n  p[i] = 1.0f;\n}`,
    apple: "refuses",
    cpu: "accepts",
  },
  {
    what: "the address of a threadgroup variable as a device pointer (cpuAccepts)",
    body:
      `\nkernel void k(${ARGS}) {\n  threadgroup float t[1];\n  device float* p = &t[0];\n  *p = 1.0f;\n  out[i] = t[0];\n}`,
    apple: "refuses",
    cpu: "accepts",
  },
];

for (const [n, row] of ROWS.entries()) {
  const verdict = row.cpu === "accepts" ? "accepts" : "refuses";
  const note = verdict === row.apple ? "as Metal does" : `while Metal ${row.apple} it`;
  Deno.test(`msl address spaces: ${row.what}: the CPU backend ${verdict} ${note}`, async () => {
    const name = `as${n}`;
    const body = row.body.replace("kernel void k(", `kernel void ${name}(`);
    if (row.cpu === "accepts") {
      await h.run({ kernel: name, source: body, buffers: [4, 16], grid: [1], threads: [1] });
      return;
    }
    const error = await h.compileError(body, name);
    const pattern = row.cpu;
    const hit = error.diagnostics.find((d) => d.severity === "error" && pattern.test(d.message));
    assert.ok(hit, `no error matching ${pattern} in:\n${error.log}`);
    assert.strictEqual(hit.line, row.line, `line of "${hit.message}"`);
  });
}

Deno.test("msl address spaces: the table has Metal's verdict for every row", () => {
  assert.ok(ROWS.length >= 20);
  const gaps = ROWS.filter((r) => (r.cpu === "accepts" ? "accepts" : "refuses") !== r.apple);
  // Every divergence is a conversion across spaces (named so in the row) and nothing else.
  assert.ok(gaps.every((r) => r.what.endsWith("(cpuAccepts)")), gaps.map((r) => r.what).join(", "));
});
