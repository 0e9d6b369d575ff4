// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// The CPU backend's runtime: dispatch limits in Metal's validation wording, and checked mode
// (out-of-bounds accesses and barrier divergence reported as command buffer errors, the
// process surviving every planted fault).
import assert from "node:assert";
import {
  CommandBufferError,
  type DeviceBuffer,
  KernelRegistry,
  MetalComputeError,
  type Pipeline,
} from "../mod.ts";
import { Device } from "../device.ts";
import { testContext } from "./_helpers.ts";

const { device, registry } = testContext();
const CPU = device.backend === "cpu";
const CPU_ONLY = CPU ? "" : ` (skipped: CPU backend only, this device is ${device.backend})`;

const SOURCE = `
#include <metal_stdlib>
using namespace metal;

kernel void fill_index(device float* out [[buffer(0)]],
                       uint i [[thread_position_in_grid]]) {
  out[i] = float(i);
}

kernel void limited_fill(device float* out [[buffer(0)]],
                         uint i [[thread_position_in_grid]])
    [[max_total_threads_per_threadgroup(256)]] {
  out[i] = 1.0f;
}

kernel void static_tile(device float* out [[buffer(0)]],
                        threadgroup float* extra [[threadgroup(0)]],
                        uint i [[thread_index_in_threadgroup]]) {
  threadgroup float tile[4096];
  tile[i] = float(i);
  extra[i] = 1.0f;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[i] = tile[i] + extra[i];
}

// Planted: one thread per output element, no bounds check (the grid is larger than out).
kernel void unchecked_store(device float* out [[buffer(0)]],
                            uint i [[thread_position_in_grid]]) {
  out[i] = 2.0f;
}

// Planted: reads past the end of in.
kernel void unchecked_load(device const float* in [[buffer(0)]],
                           device float* out [[buffer(1)]],
                           constant uint& shift [[buffer(2)]],
                           uint i [[thread_position_in_grid]]) {
  out[i] = in[i + shift];
}

// Planted: a store far from every buffer.
kernel void wild_store(device float* out [[buffer(0)]],
                       uint i [[thread_position_in_grid]]) {
  out[i + 0x10000000u] = 1.0f;
}

// Planted: after a barrier (so on fibers), stores past the end of the threadgroup argument.
kernel void threadgroup_overrun(device float* out [[buffer(0)]],
                                threadgroup float* tile [[threadgroup(0)]],
                                uint i [[thread_index_in_threadgroup]]) {
  tile[i] = float(i);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  tile[i + 64] = 0.0f;
  out[i] = tile[i];
}

// Planted: thread 0 returns before the barrier the others wait at.
kernel void divergent_barrier_checked(device float* out [[buffer(0)]],
                                      uint i [[thread_index_in_threadgroup]]) {
  if (i == 0) return;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[i] = 1.0f;
}

// A correct barrier kernel: reverses each threadgroup's 64 values.
kernel void reverse64(device const float* in [[buffer(0)]],
                      device float* out [[buffer(1)]],
                      threadgroup float* tile [[threadgroup(0)]],
                      uint i [[thread_index_in_threadgroup]],
                      uint g [[threadgroup_position_in_grid]]) {
  tile[i] = in[g * 64 + i];
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[g * 64 + i] = tile[63 - i];
}
`;

const BIG_STATIC_SOURCE = `
#include <metal_stdlib>
using namespace metal;
kernel void too_much_static(device float* out [[buffer(0)]],
                            uint i [[thread_index_in_threadgroup]]) {
  threadgroup float tile[8200];
  tile[i] = 1.0f;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[i] = tile[i];
}
`;

const NAMES = [
  "fill_index",
  "limited_fill",
  "static_tile",
  "unchecked_store",
  "unchecked_load",
  "wild_store",
  "threadgroup_overrun",
  "divergent_barrier_checked",
  "reverse64",
];
for (const name of NAMES) registry.registerSource(name, SOURCE, "cpu_backend_test.metal");
registry.registerSource("too_much_static", BIG_STATIC_SOURCE, "too_much_static.metal");

/** Encodes one dispatch of `pipeline` over `buffers`, commits it and waits. */
async function run(
  target: Device,
  pipeline: Pipeline,
  buffers: DeviceBuffer[],
  groups: [number] | [number, number, number],
  threads: [number],
  setup?: (encoder: ReturnType<ReturnType<Device["newCommandBuffer"]>["computeEncoder"]>) => void,
): Promise<void> {
  using commands = target.newCommandBuffer();
  const encoder = commands.computeEncoder();
  encoder.setPipeline(pipeline);
  buffers.forEach((buffer, index) => encoder.setBuffer(buffer, index));
  setup?.(encoder);
  encoder.dispatchThreadgroups(groups, threads);
  encoder.end();
  commands.commit();
  await commands.completed();
}

/** Asserts that `promise` rejects with a CommandBufferError whose message matches all of `patterns`. */
async function rejectsWith(promise: Promise<unknown>, ...patterns: RegExp[]): Promise<string> {
  let message = "";
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof CommandBufferError, `expected a CommandBufferError, got ${error}`);
    assert.strictEqual(error.code, "MB_ERR_EXECUTION");
    for (const pattern of patterns) assert.match(error.message, pattern);
    message = error.message;
    return true;
  });
  return message;
}

/** Runs fill_index over 4096 floats and checks every value: the device still works. */
async function assertDeviceWorks(target: Device): Promise<void> {
  const pipeline = await registry.getPipeline("fill_index", target);
  using out = target.newBuffer(4096 * 4);
  await run(target, pipeline, [out], [64], [64]);
  const values = new Float32Array(out.contents);
  for (let i = 0; i < values.length; i++) assert.strictEqual(values[i], i);

  const reverse = await registry.getPipeline("reverse64", target);
  using input = target.newBuffer(new Float32Array(values));
  using reversed = target.newBuffer(4096 * 4);
  await run(target, reverse, [input, reversed], [64], [64], (e) => {
    e.setThreadgroupMemoryLength(256, 0);
  });
  const r = new Float32Array(reversed.contents);
  for (let i = 0; i < r.length; i++) assert.strictEqual(r[i], (i & ~63) + 63 - (i & 63));
}

// ---- Limits ----------------------------------------------------------------------------------

Deno.test("dispatch over the device's threads per threadgroup: MB_ERR_LIMIT in Metal's words", async () => {
  const pipeline = await registry.getPipeline("fill_index", device);
  using out = device.newBuffer(4096);
  using commands = device.newCommandBuffer();
  const encoder = commands.computeEncoder();
  encoder.setPipeline(pipeline);
  encoder.setBuffer(out, 0);
  assert.throws(() => encoder.dispatchThreadgroups([1], [1025]), (error: unknown) => {
    assert.ok(error instanceof MetalComputeError);
    assert.strictEqual(error.code, "MB_ERR_LIMIT");
    if (CPU) {
      assert.ok(
        error.message.includes(
          "(threadsPerThreadgroup.width(1025) * threadsPerThreadgroup.height(1) * " +
            "threadsPerThreadgroup.depth(1))(1025) must be <= 1024. (device threadgroup size limit)",
        ),
        error.message,
      );
      assert.match(error.message, /fill_index/);
    }
    return true;
  });
  encoder.end();
});

Deno.test("dispatch over the kernel's max_total_threads_per_threadgroup: MB_ERR_LIMIT", async () => {
  const pipeline = await registry.getPipeline("limited_fill", device);
  assert.strictEqual(pipeline.maxTotalThreadsPerThreadgroup, 256);
  using out = device.newBuffer(4096);
  using commands = device.newCommandBuffer();
  const encoder = commands.computeEncoder();
  encoder.setPipeline(pipeline);
  encoder.setBuffer(out, 0);
  encoder.dispatchThreadgroups([1], [256]); // at the limit: fine
  assert.throws(() => encoder.dispatchThreadgroups([1], [16, 32, 1]), (error: unknown) => {
    assert.ok(error instanceof MetalComputeError);
    assert.strictEqual(error.code, "MB_ERR_LIMIT");
    if (CPU) {
      assert.ok(
        error.message.includes(
          "(threadsPerThreadgroup.width(16) * threadsPerThreadgroup.height(32) * " +
            "threadsPerThreadgroup.depth(1))(512) must be <= 256. (kernel threadgroup size limit)",
        ),
        error.message,
      );
    }
    return true;
  });
  encoder.end();
  commands.commit();
  await commands.completed();
});

Deno.test("threadgroup memory over 32 KiB (set + static): MB_ERR_LIMIT in Metal's words", async () => {
  const pipeline = await registry.getPipeline("static_tile", device);
  assert.strictEqual(pipeline.staticThreadgroupMemoryLength, 16384);
  using out = device.newBuffer(4096);
  using commands = device.newCommandBuffer();
  const encoder = commands.computeEncoder();
  encoder.setPipeline(pipeline);
  encoder.setBuffer(out, 0);
  encoder.setThreadgroupMemoryLength(16384, 0); // 16 KiB + 16 KiB static: exactly the limit
  encoder.dispatchThreadgroups([1], [64]);
  encoder.setThreadgroupMemoryLength(32768, 0);
  assert.throws(() => encoder.dispatchThreadgroups([1], [64]), (error: unknown) => {
    assert.ok(error instanceof MetalComputeError);
    assert.strictEqual(error.code, "MB_ERR_LIMIT");
    if (CPU) {
      assert.ok(
        error.message.includes(
          "Threadgroup memory size (49152) exceeds the maximum threadgroup memory allowed (32768)",
        ),
        error.message,
      );
    }
    return true;
  });
  encoder.end();
  commands.commit();
  await commands.completed();
  assert.strictEqual(new Float32Array(out.contents)[5], 6);
});

Deno.test("static threadgroup memory over 32 KiB fails at pipeline creation", async () => {
  await assert.rejects(registry.getPipeline("too_much_static", device), (error: unknown) => {
    assert.ok(error instanceof MetalComputeError);
    if (CPU) {
      assert.strictEqual(error.code, "MB_ERR_LIMIT");
      assert.ok(
        error.message.includes(
          "Threadgroup memory size (32800) exceeds the maximum threadgroup memory allowed (32768)",
        ),
        error.message,
      );
    }
    return true;
  });
});

// ---- Checked mode ----------------------------------------------------------------------------

const checked = CPU ? Device.openSync({ backend: "cpu", checked: true, workers: 2 }) : undefined;
// Closed after the file's tests, like the shared device (the two are independent).
globalThis.addEventListener("unload", () => checked?.close());

// 1-based line of SOURCE (named cpu_backend_test.metal) holding `text`.
function sourceLine(text: string): number {
  const index = SOURCE.split("\n").findIndex((l) => l.includes(text));
  assert.ok(index >= 0, text);
  return index + 1;
}

// Fault reports name the source line when llvm-symbolizer (clang's package) is installed.
const hasSymbolizer = CPU && ["llvm-symbolizer-19", "llvm-symbolizer"].some((tool) => {
  try {
    return new Deno.Command(tool, { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
});

Deno.test({
  name: "checked mode: a store past the end of a buffer fails the command buffer" + CPU_ONLY,
  ignore: !CPU,
  async fn() {
    const target = checked!;
    const pipeline = await registry.getPipeline("unchecked_store", target);
    using out = target.newBuffer(1024 * 4);
    // 17 groups of 64 threads over 1024 floats: group 16 stores past the end.
    const message = await rejectsWith(
      run(target, pipeline, [out], [17], [64]),
      /Invalid device store at offset 4096, executing kernel function "unchecked_store"/,
      /\[\[buffer\(0\)\]\] has 4096 bytes/,
      /threadgroup \(16,0,0\)/,
      /checked mode: SIGSEGV/,
    );
    assert.doesNotMatch(message, /undefined/);
    // Checked-mode modules carry line tables: the report names the faulting .metal line.
    if (hasSymbolizer) {
      const line = sourceLine("out[i] = 2.0f;");
      assert.match(
        message,
        new RegExp(`, at cpu_backend_test\\.metal:${line}:\\d+ \\(checked mode`),
      );
    }
    // Everything in range was written before the fault or by the other worker.
    assert.strictEqual(new Float32Array(out.contents)[0], 2);
    await assertDeviceWorks(target);
  },
});

Deno.test({
  name: "checked mode: a load past the end of a buffer, and a store into the alignment slack" +
    CPU_ONLY,
  ignore: !CPU,
  async fn() {
    const target = checked!;
    const load = await registry.getPipeline("unchecked_load", target);
    using input = target.newBuffer(8192);
    using out = target.newBuffer(8192);
    const loadMessage = await rejectsWith(
      run(target, load, [input, out], [32], [64], (e) => e.setBytes(new Uint32Array([64]), 2)),
      /Invalid device load at offset 8192, executing kernel function "unchecked_load"/,
      /\[\[buffer\(0\)\]\] has 8192 bytes/,
    );
    if (hasSymbolizer) {
      const line = sourceLine("out[i] = in[i + shift];");
      assert.match(loadMessage, new RegExp(`, at cpu_backend_test\\.metal:${line}:\\d+ `));
    }
    // 4100 bytes end 12 bytes before the guard page: the canaries catch the store at 4100.
    const store = await registry.getPipeline("unchecked_store", target);
    using odd = target.newBuffer(4100);
    await rejectsWith(
      run(target, store, [odd], [2], [513]),
      /Invalid device store at offset 4100, executing kernel function "unchecked_store"/,
      /\[\[buffer\(0\)\]\] has 4100 bytes \(a write past its end, found after the dispatch/,
    );
    // The canaries were restored: an in-bounds dispatch on the same buffer passes.
    const fill = await registry.getPipeline("fill_index", target);
    await run(target, fill, [odd], [5], [205]);
    await assertDeviceWorks(target);
  },
});

Deno.test({
  name: "checked mode: a store far from any buffer, and past a threadgroup argument (on fibers)" +
    CPU_ONLY,
  ignore: !CPU,
  async fn() {
    const target = checked!;
    const wild = await registry.getPipeline("wild_store", target);
    using out = target.newBuffer(256);
    await rejectsWith(
      run(target, wild, [out], [1], [64]),
      /Invalid store of address 0x[0-9a-f]+, executing kernel function "wild_store": not within two pages of any bound buffer/,
    );
    // The barrier kernel on fibers, as this test means (it would run as work-item loops).
    Deno.env.set("METAL_COMPUTE_CPU_EXECUTION", "fibers");
    const overrun = await registry.getPipeline("threadgroup_overrun", target).finally(() =>
      Deno.env.delete("METAL_COMPUTE_CPU_EXECUTION")
    );
    assert.strictEqual(overrun.execution, "fibers");
    const tgMessage = await rejectsWith(
      run(target, overrun, [out], [1], [64], (e) => e.setThreadgroupMemoryLength(256, 0)),
      /Invalid threadgroup store at offset \d+, executing kernel function "threadgroup_overrun"/,
      /\[\[threadgroup\(0\)\]\] has 256 bytes; threadgroup \(0,0,0\), thread \d+/,
    );
    // Thread t stores tile[t + 64]: byte 256 + 4t of the 256-byte argument.
    const [, offset, thread] = /offset (\d+),.*thread (\d+)/.exec(tgMessage)!;
    assert.strictEqual(Number(offset), 256 + 4 * Number(thread));
    await assertDeviceWorks(target);
  },
});

Deno.test({
  name: "checked mode: a fault in work-item loops names the threadgroup and the thread" +
    CPU_ONLY,
  ignore: !CPU,
  async fn() {
    const target = checked!;
    // Its own registry: the test above keeps this name's pipeline on fibers in the shared one.
    using loops = new KernelRegistry();
    loops.registerSource("threadgroup_overrun", SOURCE, "cpu_backend_test.metal");
    const overrun = await loops.getPipeline("threadgroup_overrun", target);
    assert.strictEqual(overrun.execution, "work-item-loops");
    using out = target.newBuffer(256);
    const message = await rejectsWith(
      run(target, overrun, [out], [1], [64], (e) => e.setThreadgroupMemoryLength(256, 0)),
      /Invalid threadgroup store at offset \d+, executing kernel function "threadgroup_overrun"/,
      /\[\[threadgroup\(0\)\]\] has 256 bytes; threadgroup \(0,0,0\), thread \d+/,
    );
    // Thread t stores tile[t + 64]: byte 256 + 4t, the first one past the end being thread 0.
    const [, offset, thread] = /offset (\d+),.*thread (\d+)/.exec(message)!;
    assert.strictEqual(Number(offset), 256 + 4 * Number(thread));
    await assertDeviceWorks(target);
  },
});

Deno.test({
  name: "checked mode: a barrier not reached by every thread names the kernel" + CPU_ONLY,
  ignore: !CPU,
  async fn() {
    const target = checked!;
    const pipeline = await registry.getPipeline("divergent_barrier_checked", target);
    using out = target.newBuffer(64 * 4);
    await rejectsWith(
      run(target, pipeline, [out], [2], [64]),
      /kernel "divergent_barrier_checked", threadgroup \([01],0,0\): threadgroup_barrier divergence: 63 of 64 threads wait at a barrier/,
      /1 threads returned without reaching \(first: thread 0\)/,
    );
    await assertDeviceWorks(target);
  },
});

Deno.test({
  name: "checked mode is per device: the same overrun passes silently on an unchecked device" +
    CPU_ONLY,
  ignore: !CPU,
  async fn() {
    using plain = Device.openSync({ backend: "cpu", checked: false, workers: 1 });
    const store = await registry.getPipeline("unchecked_store", plain);
    using odd = plain.newBuffer(4100); // heap block rounded to 4160 bytes: the store lands in it
    await run(plain, store, [odd], [2], [513]);
    assert.strictEqual(new Float32Array(odd.contents, 0, 1025)[1024], 2);
  },
});

Deno.test({
  name: "METAL_COMPUTE_CHECKED=1 turns checked mode on; the process exits normally" + CPU_ONLY,
  ignore: !CPU,
  async fn() {
    const script = `
      import { Device, KernelRegistry } from ${
      JSON.stringify(new URL("../mod.ts", import.meta.url).href)
    };
      const device = Device.openSync({ backend: "cpu", workers: 1 });
      const registry = new KernelRegistry();
      registry.registerSource("oob", "#include <metal_stdlib>\\nusing namespace metal;\\nkernel void oob(device float* o [[buffer(0)]], uint i [[thread_position_in_grid]]) { o[i] = 1.0f; }");
      const pipeline = await registry.getPipeline("oob", device);
      const out = device.newBuffer(4096);
      const commands = device.newCommandBuffer();
      const encoder = commands.computeEncoder();
      encoder.setPipeline(pipeline);
      encoder.setBuffer(out, 0);
      encoder.dispatchThreadgroups([2], [1024]);
      encoder.end();
      commands.commit();
      try { await commands.completed(); console.log("no error"); }
      catch (error) { console.log(error.name + ": " + error.message); }
      registry.close();
      device.close();
    `;
    const env: Record<string, string> = { METAL_COMPUTE_CHECKED: "1" };
    const result = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--ext=ts", script],
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(result.stdout);
    const stderr = new TextDecoder().decode(result.stderr);
    assert.strictEqual(result.code, 0, stderr);
    assert.match(
      stdout,
      /CommandBufferError: .*Invalid device store at offset 4096, executing kernel function "oob"/,
    );
  },
});
