// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// Address spaces: what Apple's compiler does with each case beside what the CPU backend does.
// Apple's verdicts follow the Metal Shading Language specification: §4 "Address Spaces" (every
// pointer or reference names the space of what it points at, `thread` when none is written;
// program-scope variables are `constant`; threadgroup variables have no initializer; `constant`
// memory is read-only), §5.2 "Kernel Function Arguments" (pointer and reference arguments name
// device, constant or threadgroup), and Apple's compiler's errors for a conversion or a cast
// between spaces ("address space mismatch", "converts between mismatching address spaces").
// The CPU backend erases the spaces for code generation (one memory serves them all) and checks
// them in a syntax-only compile where they are clang address spaces (msl_address_spaces.h); its
// front end refuses the declarations Metal refuses by their spelling.
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
  // Conversions across address spaces (the check of msl_address_spaces.h, where the spaces are
  // clang address spaces): a pointer or reference keeps its space, and `thread` is the space of
  // one written without a space.
  {
    what: "a device pointer converted to a thread pointer",
    body: `\nkernel void k(${ARGS}) {\n  thread float* p = out;\n  p[i] = 1.0f;\n}`,
    apple: "refuses",
    cpu: /cannot initialize a variable of type 'float \*' with an lvalue of type 'device float \*'/,
    line: 5,
  },
  {
    what: "a threadgroup pointer passed as a device pointer",
    body:
      `\nvoid put(device float* p) { p[0] = 1.0f; }\nkernel void k(${ARGS}) {\n  threadgroup float t[1];\n  put(t);\n  out[i] = t[0];\n}`,
    apple: "refuses",
    cpu: /no matching function for call to 'put'/,
    line: 7,
  },
  {
    what: "an explicit cast from device to thread",
    body: `\nkernel void k(${ARGS}) {\n  thread float* p = (thread float*)out;\n  p[i] = 1.0f;\n}`,
    apple: "refuses",
    cpu: /cast from 'device float \*' to 'float \*' changes address space/,
    line: 5,
  },
  {
    what: "the address of a threadgroup variable as a device pointer",
    body:
      `\nkernel void k(${ARGS}) {\n  threadgroup float t[1];\n  device float* p = &t[0];\n  *p = 1.0f;\n  out[i] = t[0];\n}`,
    apple: "refuses",
    cpu:
      /cannot initialize a variable of type 'device float \*' with an rvalue of type 'threadgroup float \*'/,
    line: 6,
  },
  {
    what: "a device pointer passed to a parameter without an address space (thread)",
    body:
      `\nfloat first(float* p) { return p[0]; }\nkernel void k(${ARGS}) {\n  out[i] = first(out);\n}`,
    apple: "refuses",
    cpu: /no matching function for call to 'first'/,
    line: 6,
  },
  {
    what: "the address of a thread variable passed as a device pointer",
    body:
      `\nvoid put(device float* p) { p[0] = 1.0f; }\nkernel void k(${ARGS}) {\n  float x = 0.0f;\n  put(&x);\n  out[i] = x;\n}`,
    apple: "refuses",
    cpu: /no matching function for call to 'put'/,
    line: 7,
  },
  {
    what: "a device pointer assigned to a threadgroup pointer",
    body:
      `\nkernel void k(${ARGS}) {\n  threadgroup float t[1];\n  threadgroup float* p = t;\n  p = out;\n  out[i] = p[0];\n}`,
    apple: "refuses",
    cpu: /assigning 'device float \*' to 'threadgroup float \*' changes address space/,
    line: 7,
  },
  {
    what: "a constant pointer converted to a device pointer",
    body:
      `\nkernel void k(constant float* c [[buffer(1)]], ${ARGS}) {\n  device const float* p = c;\n  out[i] = p[0];\n}`,
    apple: "refuses",
    cpu:
      /cannot initialize a variable of type 'device float const \*' with an lvalue of type 'constant float \*'/,
    line: 5,
  },
  {
    what: "a threadgroup pointer returned as a device pointer",
    body:
      `\ndevice float* at(threadgroup float* t) { return t; }\nkernel void k(${ARGS}) {\n  threadgroup float t[1];\n  t[0] = 1.0f;\n  out[i] = *at(t);\n}`,
    apple: "refuses",
    cpu:
      /cannot initialize return object of type 'device float \*' with an lvalue of type 'threadgroup float \*'/,
    line: 4,
  },
  {
    what: "device memory bound to a thread reference",
    body: `\nkernel void k(${ARGS}) {\n  thread float& r = out[i];\n  r = 1.0f;\n}`,
    apple: "refuses",
    cpu: /binding reference of type 'float' to value of type 'device float' changes address space/,
    line: 5,
  },
  {
    what: "an explicit cast from threadgroup to device",
    body:
      `\nkernel void k(${ARGS}) {\n  threadgroup float t[4];\n  device float4* p = (device float4*)t;\n  out[i] = p[0].x;\n}`,
    apple: "refuses",
    cpu: /cast from 'threadgroup float \*' to 'device float4 \*' changes address space/,
    line: 6,
  },
  {
    what: "an explicit cast that keeps the device space (float* to float4*)",
    body:
      `\nkernel void k(${ARGS}) {\n  device float4* p = (device float4*)out;\n  p[0] = float4(1.0f);\n}`,
    apple: "accepts",
    cpu: "accepts",
  },
  {
    what: "a device pointer to a const device pointer",
    body:
      `\nfloat first(device const float* p) { return p[0]; }\nkernel void k(${ARGS}) {\n  device const float* p = out;\n  out[i] = first(p) + first(out);\n}`,
    apple: "accepts",
    cpu: "accepts",
  },
  {
    what: "a thread pointer to a thread variable",
    body:
      `\nvoid put(thread float* p) { *p = 2.0f; }\nkernel void k(${ARGS}) {\n  float x = 0.0f;\n  thread float* p = &x;\n  put(p);\n  put(&x);\n  out[i] = x;\n}`,
    apple: "accepts",
    cpu: "accepts",
  },
  {
    what: "atomics in device and in threadgroup memory",
    body:
      `\nkernel void k(device atomic_uint* n [[buffer(1)]], ${ARGS}) {\n  threadgroup atomic_uint t;\n  atomic_store_explicit(&t, 0u, memory_order_relaxed);\n  atomic_fetch_add_explicit(&t, 1u, memory_order_relaxed);\n  atomic_fetch_add_explicit(n, atomic_load_explicit(&t, memory_order_relaxed), memory_order_relaxed);\n  out[i] = 1.0f;\n}`,
    apple: "accepts",
    cpu: "accepts",
  },
  {
    what: "a struct copied out of device and constant memory",
    body:
      `\nstruct P { float s; uint n; };\nkernel void k(constant P& c [[buffer(1)]], device P* d [[buffer(2)]], ${ARGS}) {\n  P a = c;\n  P b = d[0];\n  d[0] = a;\n  out[i] = a.s + b.s;\n}`,
    apple: "accepts",
    cpu: "accepts",
  },
  {
    what: "a struct in device memory passed by value",
    body:
      `\nstruct P { float s; uint n; };\nfloat twice(P p) { return 2.0f * p.s; }\nkernel void k(device const P* d [[buffer(1)]], ${ARGS}) {\n  out[i] = twice(d[0]);\n}`,
    apple: "accepts",
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
      await h.run({ kernel: name, source: body, buffers: [4, 16, 16], grid: [1], threads: [1] });
      return;
    }
    const error = await h.compileError(body, name);
    const pattern = row.cpu;
    const hit = error.diagnostics.find((d) => d.severity === "error" && pattern.test(d.message));
    assert.ok(hit, `no error matching ${pattern} in:\n${error.log}`);
    assert.strictEqual(hit.line, row.line, `line of "${hit.message}"`);
  });
}

Deno.test("msl address spaces: the CPU backend agrees with Metal on every row", () => {
  assert.ok(ROWS.length >= 20);
  const gaps = ROWS.filter((r) => (r.cpu === "accepts" ? "accepts" : "refuses") !== r.apple);
  assert.deepStrictEqual(gaps.map((r) => r.what), []);
});

// Conformance: what only real address spaces tell apart, in valid MSL.

Deno.test("msl address spaces: overloads by address space each take their own space", async () => {
  const [, , out] = await h.run({
    kernel: "overloads_by_space",
    source: `
float first(device const float* p) { return p[0]; }
float first(constant float* p) { return p[0]; }
float first(threadgroup const float* p) { return p[0]; }
float first(thread const float* p) { return p[0]; }
kernel void overloads_by_space(device const float* a [[buffer(0)]], constant float* c [[buffer(1)]],
                               device float* out [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  threadgroup float t[1];
  t[0] = 100.0f;
  float x = 1000.0f;
  out[0] = first(a) + first(c) + first(t) + first(&x);
}`,
    buffers: [new Float32Array([1]), new Float32Array([10]), 4],
    grid: [1],
    threads: [1],
  });
  assert.deepStrictEqual([...new Float32Array(out)], [1111]);
});

Deno.test("msl address spaces: constructors and member functions qualified by a space", async () => {
  const [, out] = await h.run({
    kernel: "members_by_space",
    source: `
struct Acc {
  float v;
  Acc() thread = default;
  Acc() device = default;
  Acc() threadgroup = default;
  float get() const thread { return v; }
  float get() const device { return v; }
  float get() const threadgroup { return v; }
  float get() const constant { return v; }
};
kernel void members_by_space(device const Acc* a [[buffer(0)]], device float* out [[buffer(1)]],
                             uint i [[thread_position_in_grid]]) {
  threadgroup Acc t;
  t.v = 20.0f;
  Acc local = a[0];
  out[0] = a[0].get() + t.get() + local.get();
}`,
    buffers: [new Float32Array([3]), 4],
    grid: [1],
    threads: [1],
  });
  assert.deepStrictEqual([...new Float32Array(out)], [26]);
});

Deno.test("msl address spaces: partial specialisations by address space", async () => {
  const [, out] = await h.run({
    kernel: "specialised_by_space",
    source: `
template <typename P> struct pointee;
template <typename T> struct pointee<device T*> { using type = T; };
template <typename T> struct pointee<threadgroup T*> { using type = T; };
template <typename T> struct pointee<thread T*> { using type = T; };
template <typename P> typename pointee<P>::type load(P p) { return p[0]; }
kernel void specialised_by_space(device const float* a [[buffer(0)]], device float* out [[buffer(1)]],
                                 uint i [[thread_position_in_grid]]) {
  threadgroup float t[1];
  t[0] = 2.0f;
  float x = 4.0f;
  out[0] = load(a) + load(t) + load(&x);
}`,
    buffers: [new Float32Array([1]), 4],
    grid: [1],
    threads: [1],
  });
  assert.deepStrictEqual([...new Float32Array(out)], [7]);
});

Deno.test("msl address spaces: the compatibility header takes pointers in every space", async () => {
  const [, out] = await h.run({
    kernel: "library_pointers",
    source: `
kernel void library_pointers(device const float* a [[buffer(0)]], device float* out [[buffer(1)]],
                             uint l [[thread_index_in_threadgroup]]) {
  threadgroup float tile[64];
  threadgroup atomic_uint count;
  if (l == 0) atomic_store_explicit(&count, 0u, memory_order_relaxed);
  simdgroup_float8x8 m;
  simdgroup_load(m, a, 8);
  simdgroup_store(m, tile, 8);
  simdgroup_load(m, tile, 8);
  simdgroup_store(m, out, 8);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  atomic_fetch_add_explicit(&count, 1u, memory_order_relaxed);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (l == 0) out[64] = float(atomic_load_explicit(&count, memory_order_relaxed));
  device const float4* v = (device const float4*)a;
  threadgroup_barrier(mem_flags::mem_device);
  if (l == 0) out[65] = dot(v[0], float4(1.0f));
}`,
    buffers: [new Float32Array(Array.from({ length: 64 }, (_, k) => k)), 66 * 4],
    grid: [32],
    threads: [32],
  });
  const got = new Float32Array(out);
  assert.deepStrictEqual([...got.subarray(0, 64)], Array.from({ length: 64 }, (_, k) => k));
  assert.deepStrictEqual([got[64], got[65]], [32, 6]);
});

Deno.test("msl address spaces: overloads by space that do different things are refused here", async () => {
  // Metal runs each; the CPU backend's code runs one memory for every space and keeps one of
  // them, so rather than run the wrong one it refuses the source (a known limit; real-world
  // libraries write such overloads with the same body for each space).
  const error = await h.compileError(
    `
float first(device const float* p) { return p[0]; }
float first(constant float* p) { return 2.0f * p[0]; }
kernel void different_bodies(device const float* a [[buffer(0)]], constant float* c [[buffer(1)]],
                             device float* out [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  out[i] = first(a) + first(c);
}`,
    "different_bodies",
  );
  const hit = error.diagnostics.find((d) => /must do the same thing/.test(d.message));
  assert.ok(hit, error.log);
  assert.strictEqual(hit.line, 5);
});
