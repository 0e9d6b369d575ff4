// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// The error vocabulary: every failure the public API reports, driven for real, is an instance
// of a named subclass of MetalComputeError with a code, and its message names the user's
// call, never the bridge's C functions. Argument mistakes are TypeError/RangeError (std style)
// and are covered by each module's tests.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  BackendUnavailableError,
  cacheInfo,
  CommandBufferError,
  Device,
  FunctionConstantError,
  InvalidArgumentError,
  InvalidStateError,
  KernelNotFoundError,
  KernelRegistry,
  MetalComputeError,
  PermissionsError,
  ResourceClosedError,
  ShaderCompilationError,
  SourceNotLoadedError,
  ThreadgroupLimitError,
  UnsupportedError,
} from "../mod.ts";
import { openTestDevice } from "./_helpers.ts";

const device = openTestDevice();
const registry = new KernelRegistry();
const CHILD = new URL("./_errors_child.ts", import.meta.url).pathname;

/** Words that belong to the bridge, not to the API a user calls. */
const INTERNAL = /\bmb_[a-z_]+|\bcall mb|MB_ERR_|\bdispatch of kernel\b|NSError|std::/;

// deno-lint-ignore no-explicit-any
type ErrorClass = abstract new (...args: any[]) => MetalComputeError;

/** Runs `drive`, expects it to fail with `kind`, checks the vocabulary rules, returns it. */
async function expectError<T extends MetalComputeError>(
  kind: abstract new (...args: never[]) => T,
  drive: () => unknown,
): Promise<T> {
  let caught: unknown;
  try {
    await drive();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof kind, `expected ${kind.name}, got ${String(caught)}`);
  checkVocabulary(caught, kind as unknown as ErrorClass);
  return caught;
}

function checkVocabulary(error: MetalComputeError, kind: ErrorClass): void {
  assert.ok(error instanceof MetalComputeError);
  assert.notStrictEqual(error.constructor, MetalComputeError, "the base class is never thrown");
  assert.strictEqual(error.name, kind.name);
  assert.match(error.code, /^MB_ERR_[A-Z_]+$/);
  assert.doesNotMatch(error.message, INTERNAL, error.message);
  assert.doesNotMatch(error.message, /\ba (?:int|error|a|e)\b/, "article before a vowel");
}

const COPY = `#include <metal_stdlib>
using namespace metal;
kernel void copy_pair(device const float* a [[buffer(0)]], device float* b [[buffer(1)]],
                      uint i [[thread_position_in_grid]]) { b[i] = a[i]; }`;
registry.registerSource("copy_pair", COPY);

async function encoderWithPipeline() {
  const pipeline = await registry.getPipeline("copy_pair", device);
  const commands = device.newCommandBuffer();
  const encoder = commands.computeEncoder();
  encoder.setPipeline(pipeline);
  return { pipeline, commands, encoder };
}

Deno.test("an unknown kernel: KernelNotFoundError naming the near names", async () => {
  const error = await expectError(
    KernelNotFoundError,
    () => registry.getPipeline("sofmax_f32", device),
  );
  assert.match(error.message, /did you mean "softmax_f32"/);
});

Deno.test("MSL that does not compile: ShaderCompilationError, each diagnostic once", async () => {
  const local = new KernelRegistry();
  try {
    local.registerSource("bad", "kernel void bad(device float* x [[buffer(0)]]) {\n  x[0] = y;\n}");
    const error = await expectError(ShaderCompilationError, () => local.getPipeline("bad", device));
    const heads = error.message.split("\n").filter((line) => /^bad\.metal:\d+:\d+: /.test(line));
    assert.strictEqual(new Set(heads).size, heads.length, error.message);
    assert.match(error.message, /\n 2 \| {3}x\[0\] = y;\n {3}\|\s+\^/);
  } finally {
    local.close();
  }
});

Deno.test("a constant of the wrong type: FunctionConstantError", async () => {
  await expectError(
    FunctionConstantError,
    () => registry.getPipelineSync("placeholder", device, { 100: 1.5 }),
  );
});

Deno.test("an undeclared constant index: FunctionConstantError in plain English", async () => {
  const error = await expectError(
    FunctionConstantError,
    () => registry.getPipelineSync("placeholder", device, { 7: 3 }),
  );
  assert.match(error.message, /\b7\b/);
});

Deno.test("commit() twice: InvalidStateError naming commit()", async () => {
  using commands = device.newCommandBuffer();
  commands.commit();
  const error = await expectError(InvalidStateError, () => commands.commit());
  assert.match(error.message, /^Cannot commit\(\): the command buffer was already committed/);
  await commands.completed();
});

Deno.test("waiting before commit(): InvalidStateError for completed() and waitUntilCompleted()", async () => {
  using commands = device.newCommandBuffer();
  const a = await expectError(InvalidStateError, () => commands.completed());
  assert.match(a.message, /^Cannot completed\(\): .*call commit\(\) first/);
  const b = await expectError(InvalidStateError, () => commands.waitUntilCompleted());
  assert.match(b.message, /^Cannot waitUntilCompleted\(\)/);
});

Deno.test("dispatching before setPipeline(): InvalidStateError naming setPipeline()", async () => {
  using commands = device.newCommandBuffer();
  const encoder = commands.computeEncoder();
  const error = await expectError(InvalidStateError, () => encoder.dispatchThreads([4], [4]));
  assert.match(
    error.message,
    /^Cannot dispatchThreads\(\): no pipeline is set; call setPipeline\(\)/,
  );
  await expectError(InvalidStateError, () => encoder.dispatchThreadgroups([1], [4]));
  encoder.end();
});

Deno.test("gpuStartTime before completion: InvalidStateError saying to await completed()", async () => {
  using commands = device.newCommandBuffer();
  const error = await expectError(InvalidStateError, () => commands.gpuStartTime);
  assert.match(error.message, /await completed\(\) first/);
  commands.commit();
  await commands.completed();
  assert.ok(commands.gpuEndTime >= commands.gpuStartTime);
});

Deno.test("calls out of order on an encoder or command buffer: InvalidStateError", async () => {
  using buffer = device.newBuffer(16);
  using commands = device.newCommandBuffer();
  const encoder = commands.computeEncoder();
  await expectError(InvalidStateError, () => commands.computeEncoder());
  await expectError(InvalidStateError, () => commands.commit());
  encoder.end();
  const ended = await expectError(InvalidStateError, () => encoder.setBuffer(buffer, 0));
  assert.match(ended.message, /^Cannot setBuffer\(\): the encoder has ended/);
  commands.commit();
  await expectError(InvalidStateError, () => commands.computeEncoder());
  await commands.completed();
});

Deno.test("a threadgroup over the limit: ThreadgroupLimitError naming the call and kernel", async () => {
  const { pipeline, commands, encoder } = await encoderWithPipeline();
  using _ = commands;
  const too = pipeline.maxTotalThreadsPerThreadgroup * 2;
  const error = await expectError(
    ThreadgroupLimitError,
    () => encoder.dispatchThreadgroups([1], [too]),
  );
  assert.match(error.message, /^Cannot dispatchThreadgroups\(\) "copy_pair": /);
  encoder.end();
});

Deno.test("a binding the kernel uses left unset: InvalidArgumentError", async () => {
  const { commands, encoder } = await encoderWithPipeline();
  using _ = commands;
  using a = device.newBuffer(16);
  encoder.setBuffer(a, 0);
  const error = await expectError(InvalidArgumentError, () => encoder.dispatchThreads([4], [4]));
  assert.match(error.message, /^Cannot dispatchThreads\(\) "copy_pair": .*\b1\b/);
  encoder.end();
});

Deno.test("an offset the device refuses: InvalidArgumentError naming setBuffer()", async () => {
  const { commands, encoder } = await encoderWithPipeline();
  using _ = commands;
  using a = device.newBuffer(16);
  encoder.setBuffer(a, 0, 2); // not a multiple of 4: Metal refuses it, and so does the CPU backend
  encoder.setBuffer(a, 1);
  const error = await expectError(InvalidArgumentError, () => encoder.dispatchThreads([2], [2]));
  assert.match(error.message, /setBuffer\(\)/);
  encoder.end();
});

Deno.test("threadgroup memory left unset: the message says to call setThreadgroupMemoryLength()", async () => {
  const local = new KernelRegistry();
  try {
    local.registerSource(
      "uses_tile",
      `#include <metal_stdlib>
using namespace metal;
kernel void uses_tile(device float* x [[buffer(0)]], threadgroup float* tile [[threadgroup(0)]],
                      uint i [[thread_position_in_grid]]) { tile[0] = 1.0f; x[i] = tile[0]; }`,
    );
    const pipeline = await local.getPipeline("uses_tile", device);
    using x = device.newBuffer(16);
    using commands = device.newCommandBuffer();
    const encoder = commands.computeEncoder();
    encoder.setPipeline(pipeline);
    encoder.setBuffer(x, 0);
    const error = await expectError(InvalidArgumentError, () => encoder.dispatchThreads([4], [4]));
    assert.match(error.message, /call setThreadgroupMemoryLength\(\)/);
    encoder.end();
  } finally {
    local.close();
  }
});

Deno.test("use after close(): ResourceClosedError for buffers, devices and registries", async () => {
  const buffer = device.newBuffer(16);
  buffer.close();
  await expectError(ResourceClosedError, () => buffer.contents);
  const closed = new KernelRegistry();
  closed.close();
  await expectError(ResourceClosedError, () => closed.getPipelineSync("softmax_f32", device));
  const other = Device.openSync({ backend: device.backend });
  other.close();
  const error = await expectError(ResourceClosedError, () => other.newBuffer(4));
  assert.match(error.message, /^Cannot newBuffer\(\): the Device is closed/);
});

Deno.test("a kernel fault in checked mode: CommandBufferError", {
  ignore: device.backend !== "cpu",
}, async () => {
  using checked = Device.openSync({ backend: "cpu", checked: true });
  const local = new KernelRegistry();
  try {
    local.registerSource(
      "overrun",
      `#include <metal_stdlib>
using namespace metal;
kernel void overrun(device float* x [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  x[i + 64] = 1.0f;
}`,
    );
    const pipeline = await local.getPipeline("overrun", checked);
    using buffer = checked.newBuffer(16);
    using commands = checked.newCommandBuffer();
    const encoder = commands.computeEncoder();
    encoder.setPipeline(pipeline);
    encoder.setBuffer(buffer, 0);
    encoder.dispatchThreads([4], [4]);
    encoder.end();
    commands.commit();
    await expectError(CommandBufferError, () => commands.completed());
  } finally {
    local.close();
  }
});

interface ChildError {
  name: string;
  code: string;
  message: string;
  base: boolean;
  ticks: number;
  stderr: string;
}

/** Runs tests/_errors_child.ts with `flags` and `env`; returns the error it printed. */
async function childError(
  scenario: string,
  flags: string[],
  env: Record<string, string>,
  clearEnv = false,
): Promise<ChildError> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--no-lock", ...flags, CHILD, scenario],
    env,
    clearEnv,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout).trim();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.ok(stdout, stderr);
  return { ...JSON.parse(stdout.split("\n").at(-1)!), stderr };
}

/**
 * A stand-in compiler: answers `--version`, then takes a second to fail the build, so a first
 * open can be watched without a real 20 s build.
 */
async function slowFailingClang(dir: string): Promise<string> {
  const path = join(dir, "slow-clang");
  await Deno.writeTextFile(
    path,
    '#!/bin/sh\n[ "$1" = --version ] && exit 0\nsleep 1\necho "stand-in build failure" >&2\nexit 1\n',
  );
  await Deno.chmod(path, 0o755);
  return path;
}

Deno.test("no permissions: one PermissionsError naming every missing flag and why", async () => {
  const error = await childError("open", [], {});
  assert.strictEqual(error.name, PermissionsError.name);
  assert.strictEqual(error.code, "MB_ERR_PERMISSION");
  assert.ok(error.base);
  for (
    const flag of ["--allow-ffi", "--allow-env", "--allow-read", "--allow-write", "--allow-run"]
  ) {
    assert.match(error.message, new RegExp(`\n  ${flag}(=\\S+)?: \\S`), error.message);
  }
  assert.doesNotMatch(error.message, INTERNAL);
});

Deno.test("a warm cache needs only --allow-ffi, --allow-env and --allow-read", async () => {
  const error = await childError("open", ["--allow-ffi", "--allow-env"], {});
  assert.strictEqual(error.name, PermissionsError.name);
  assert.match(error.message, /--allow-read=/);
  const ok = await childError("open-sync", ["--allow-ffi", "--allow-env", "--allow-read"], {});
  assert.ok((ok as unknown as { ok?: boolean }).ok, ok.message);
});

Deno.test("*Sync without read access to the shaders: SourceNotLoadedError, then load() fixes it", async () => {
  const flags = ["--allow-ffi", "--allow-env", `--allow-read=${cacheInfo().dir}`];
  const error = await childError("sync", flags, {});
  assert.strictEqual(error.name, SourceNotLoadedError.name);
  assert.strictEqual(error.code, "MB_ERR_NOT_LOADED");
  assert.match(error.message, /call await registry\.load\(\["softmax_f32"\]\)/);
  const ok = await childError("load-then-sync", flags, {});
  assert.ok((ok as unknown as { ok?: boolean }).ok, ok.message);
});

Deno.test("no --allow-env: PermissionsError, never a cache in the working directory", async () => {
  const error = await childError("cache-info", [], {});
  assert.strictEqual(error.name, PermissionsError.name);
  assert.match(error.message, /--allow-env: to read METAL_COMPUTE_CACHE_DIR/);
});

Deno.test("neither HOME nor METAL_COMPUTE_CACHE_DIR set: UnsupportedError saying what to set", async () => {
  const error = await childError("cache-info", ["--allow-env"], {}, true);
  assert.strictEqual(error.name, UnsupportedError.name);
  assert.match(error.message, /set METAL_COMPUTE_CACHE_DIR/);
});

Deno.test("a CLANG that does not exist: BackendUnavailableError naming it, no fallback", async () => {
  const cache = await Deno.makeTempDir();
  try {
    const error = await childError("open", ["--allow-all"], {
      METAL_COMPUTE_CACHE_DIR: cache,
      CLANG: join(cache, "no-such-clang"),
    });
    assert.strictEqual(error.name, BackendUnavailableError.name);
    assert.strictEqual(error.code, "MB_ERR_UNSUPPORTED");
    assert.match(error.message, /CLANG is ".*no-such-clang", which cannot be run/);
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("Device.open() builds off the event loop, with progress when asked", async () => {
  const cache = await Deno.makeTempDir();
  try {
    const error = await childError("open-default-progress", ["--allow-all"], {
      METAL_COMPUTE_CACHE_DIR: cache,
      CLANG: await slowFailingClang(cache),
      METAL_COMPUTE_PROGRESS: "1",
    });
    assert.strictEqual(error.name, BackendUnavailableError.name);
    assert.match(error.message, /stand-in build failure/);
    assert.ok(error.ticks >= 10, `the event loop ran ${error.ticks} times in a 1 s build`);
    assert.match(error.stderr, /^building the native bridge for cpu \(first use, ~6 s\)…\n/);
    assert.match(error.stderr, /building the cpu bridge failed after \d+\.\d s\n/);
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("a first build is silent when stderr is not a terminal and nobody asked", async () => {
  const cache = await Deno.makeTempDir();
  try {
    const error = await childError("open-default-progress", ["--allow-all"], {
      METAL_COMPUTE_CACHE_DIR: cache,
      CLANG: await slowFailingClang(cache),
    });
    assert.strictEqual(error.name, BackendUnavailableError.name);
    assert.strictEqual(error.stderr, "");
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("errors_test closes its registry and device", () => {
  registry.close();
  device.close();
});
