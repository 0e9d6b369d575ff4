// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// The CPU backend's sandbox for compiled MSL: hostile kernels that try to reach the host are
// refused before anything of theirs runs (a marker file they try to create never appears), and
// host files never reach diagnostics. Each refusal is asserted by its message, so a check that
// stops working fails its test rather than passing by accident.
import assert from "node:assert";
import { Device } from "../device.ts";
import { ShaderCompilationError } from "../errors.ts";
import { KernelRegistry } from "../registry.ts";
import { Harness, PRELUDE } from "./msl/_harness.ts";

const h = new Harness();
const dir = Deno.makeTempDirSync({ prefix: "mb-sandbox-" });
const marker = `${dir}/marker`;
// A host file with known contents that must never show up in an error.
const secret = `${dir}/secret.txt`;
Deno.writeTextFileSync(secret, "TOP-SECRET-CONTENTS\n");
const ignore = h.device.backend !== "cpu";

/** Compiles `body` as kernel `kernel`, expecting a refusal matching `pattern`. */
async function refused(kernel: string, body: string, pattern: RegExp): Promise<void> {
  const error = await h.compileError(body, kernel);
  assert.match(error.message, pattern);
  assert.doesNotMatch(error.message, /TOP-SECRET/, "a host file's contents leaked");
  assert.ok(!exists(marker), "the hostile kernel ran host code");
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test({
  name: 'sandbox: extern "C" system() is refused, nothing runs',
  ignore,
  fn: () =>
    refused(
      "calls_system",
      `extern "C" int system(const char*);
kernel void calls_system(device int* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = system("touch ${marker}");
}`,
      /'system', which is neither defined in the source nor part of the Metal standard library/,
    ),
});

Deno.test({
  name: "sandbox: a program-scope object with a constructor is refused",
  ignore,
  fn: () =>
    refused(
      "global_ctor",
      `struct Runner { int v; Runner() { v = 42; } };
Runner runner;
kernel void global_ctor(device int* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = runner.v;
}`,
      /requires a global constructor/,
    ),
});

Deno.test({
  name: "sandbox: __attribute__((constructor)) is refused before the module loads",
  ignore,
  fn: () =>
    refused(
      "attr_ctor",
      // volatile: a constructor clang could evaluate at compile time would leave no code. (A
      // local, not a program-scope variable: Metal has no mutable ones, and refuses them first.)
      `__attribute__((constructor)) static void at_load() { volatile int seen = 0; seen = seen + 1; }
kernel void attr_ctor(device int* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = 1;
}`,
      /would run code when it is loaded/,
    ),
});

Deno.test({
  name: "sandbox: __attribute__((destructor)) is refused",
  ignore,
  fn: () =>
    refused(
      "attr_dtor",
      `__attribute__((destructor)) static void at_unload() { volatile int seen = 0; seen = seen + 1; }
kernel void attr_dtor(device int* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = 1;
}`,
      /would run code when it is unloaded/,
    ),
});

Deno.test({
  name: 'sandbox: asm volatile("syscall") is refused',
  ignore,
  fn: () =>
    refused(
      "raw_syscall",
      `kernel void raw_syscall(device int* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  asm volatile("syscall");
  out[i] = 1;
}`,
      /inline assembly is disabled/,
    ),
});

Deno.test({
  name: "sandbox: hand-declared fopen/fputs are refused",
  ignore,
  fn: () =>
    refused(
      "writes_file",
      `struct FILE;
extern "C" FILE* fopen(const char*, const char*);
extern "C" int fputs(const char*, FILE*);
kernel void writes_file(device int* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = fputs("x", fopen("${marker}", "w"));
}`,
      /'(fopen|fputs)', which is neither defined/,
    ),
});

Deno.test({
  name: "sandbox: getenv and dlsym are refused",
  ignore,
  fn: async () => {
    await refused(
      "reads_env",
      `extern "C" char* getenv(const char*);
kernel void reads_env(device char* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = getenv("HOME")[i];
}`,
      /'getenv'/,
    );
    await refused(
      "finds_symbols",
      `extern "C" void* dlsym(void*, const char*);
kernel void finds_symbols(device ulong* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = (ulong)dlsym((void*)0, "system");
}`,
      /'dlsym'/,
    );
  },
});

Deno.test({
  name: "sandbox: #include of a host file is refused without showing it",
  ignore,
  fn: () =>
    refused(
      "includes_host_file",
      `#define HOST_FILE "${secret}"
#include HOST_FILE
kernel void includes_host_file(device int* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = 1;
}`,
      /cannot be read: a Metal library sees only its own source|not allowed|cannot include/i,
    ),
});

Deno.test({
  name: "sandbox: #embed of a host file is refused",
  ignore,
  fn: () =>
    refused(
      "embeds_host_file",
      `constant uchar bytes[] = {
#embed "${secret}"
};
kernel void embeds_host_file(device uchar* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = bytes[i];
}`,
      /secret\.txt' cannot be read/,
    ),
});

Deno.test({
  name: "sandbox: __has_include cannot probe host files, even built by token pasting",
  ignore,
  fn: async () => {
    await refused(
      "probes_files",
      `#if __has_include("${secret}")
#define FOUND 1
#else
#define FOUND 0
#endif
kernel void probes_files(device int* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = FOUND;
}`,
      /secret\.txt' cannot be read|poisoned identifier/,
    );
    await refused(
      "probes_pasted",
      `#define CAT(a, b) a##b
#if CAT(__has_, include)("${dir}/absent.txt")
#define FOUND 1
#else
#define FOUND 0
#endif
kernel void probes_pasted(device int* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = FOUND;
}`,
      /poisoned identifier/,
    );
  },
});

Deno.test({
  name: "sandbox: a macro that expands to a directive is refused",
  ignore,
  fn: () =>
    refused(
      "makes_directive",
      `#define HASH #
#define HOST_FILE "${secret}"
HASH include HOST_FILE
kernel void makes_directive(device int* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = 1;
}`,
      /expands to a preprocessor directive/,
    ),
});

Deno.test({
  name: "sandbox: math functions and ordinary kernels still compile and run",
  ignore,
  async fn() {
    const [out] = await h.run({
      source:
        `kernel void allowed(device float* x [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  x[i] = precise::sin(x[i]) + fmod(x[i], 0.75f) + pow(x[i], 1.5f);
}`,
      kernel: "allowed",
      buffers: [new Float32Array([0.5, 2])],
      grid: [2],
      threads: [2],
    });
    const x = new Float32Array(out);
    const expected = [0.5, 2].map((v) => Math.sin(v) + (v % 0.75) + v ** 1.5);
    for (let i = 0; i < 2; ++i) assert.ok(Math.abs(x[i] - expected[i]) < 1e-5, `x[${i}] = ${x[i]}`);
  },
});

Deno.test({
  name: "sandbox: checked mode refuses the same kernels (system, inline asm, a host #include)",
  ignore,
  async fn() {
    using checked = Device.openSync({ backend: "cpu", checked: true });
    using registry = new KernelRegistry();
    const cases: [string, string, RegExp][] = [
      [
        "checked_system",
        `extern "C" int system(const char*);
kernel void checked_system(device int* out [[buffer(0)]]) { out[0] = system("touch ${marker}"); }`,
        /'system', which is neither defined/,
      ],
      [
        "checked_asm",
        `kernel void checked_asm(device int* out [[buffer(0)]]) { asm volatile("syscall"); out[0] = 1; }`,
        /inline assembly is disabled/,
      ],
      [
        "checked_include",
        `#define HOST_FILE "${secret}"
#include HOST_FILE
kernel void checked_include(device int* out [[buffer(0)]]) { out[0] = 1; }`,
        /cannot be read|not allowed|cannot include/i,
      ],
    ];
    for (const [kernel, body, pattern] of cases) {
      registry.registerSource(kernel, PRELUDE + body);
      await assert.rejects(registry.getPipeline(kernel, checked), (error: unknown) => {
        assert.ok(error instanceof ShaderCompilationError, `${kernel}: ${error}`);
        assert.match(error.message, pattern);
        assert.doesNotMatch(error.message, /TOP-SECRET/);
        return true;
      });
    }
    assert.ok(!exists(marker), "a hostile kernel ran host code");
  },
});
