// Copyright 2026 the @metal-compute/kernels authors. MIT license.
import assert from "node:assert";
import {
  CommandBufferError,
  Device,
  InvalidArgumentError,
  KernelRegistry,
  MetalComputeError,
  ResourceClosedError,
} from "../mod.ts";
import { HAS_METAL, NO_METAL_REASON, testBackend, testContext } from "./_helpers.ts";

const { device, registry } = testContext();

const COPY_SOURCE = `
#include <metal_stdlib>
using namespace metal;
kernel void copy_test(device const float* in [[buffer(0)]],
                      device float* out [[buffer(1)]],
                      uint i [[thread_position_in_grid]]) {
  out[i] = in[i] + 1.0f;
}
`;
registry.registerSource("copy_test", COPY_SOURCE);

Deno.test("Device.systemDefault() opens this machine's backend", () => {
  assert.strictEqual(device.backend, testBackend());
  assert.ok(device.name.length > 0);
  assert.ok(device.maxThreadsPerThreadgroup >= 256);
  assert.ok(device.maxThreadgroupMemoryLength >= 16384);
  assert.ok(device.capabilities.unifiedMemory);
});

Deno.test({
  name: `Device.openSync({ backend: "metal" }) works on macOS (${
    HAS_METAL ? "metal" : NO_METAL_REASON
  })`,
  ignore: !HAS_METAL,
  fn() {
    using metal = Device.openSync({ backend: "metal" });
    assert.strictEqual(metal.backend, "metal");
  },
});

Deno.test("Device.openSync() refuses an unknown backend and bad worker counts", () => {
  // @ts-expect-error: an invalid backend on purpose
  assert.throws(() => Device.openSync({ backend: "cuda" }), TypeError);
  assert.throws(() => Device.openSync({ workers: 0 }), RangeError);
});

Deno.test("newBuffer() copies data and exposes it zero-copy", () => {
  using buffer = device.newBuffer(new Float32Array([1, 2, 3]));
  assert.strictEqual(buffer.byteLength, 12);
  const view = new Float32Array(buffer.contents);
  assert.deepStrictEqual([...view], [1, 2, 3]);
  view[1] = 7;
  assert.strictEqual(new Float32Array(buffer.contents)[1], 7);
  using zeros = device.newBuffer(64);
  assert.ok(new Uint8Array(zeros.contents).every((b) => b === 0));
});

Deno.test("newBuffer() refuses empty and non-integer lengths", () => {
  assert.throws(() => device.newBuffer(0), RangeError);
  assert.throws(() => device.newBuffer(3.5), RangeError);
  assert.throws(() => device.newBuffer(new Float32Array(0)), RangeError);
});

Deno.test("a closed buffer detaches its contents and refuses use", () => {
  const buffer = device.newBuffer(new Float32Array([1, 2]));
  const view = new Float32Array(buffer.contents);
  buffer.close();
  buffer.close(); // idempotent
  assert.strictEqual(view.length, 0); // detached, never dangling
  assert.throws(() => buffer.contents, ResourceClosedError);
  using commands = device.newCommandBuffer();
  const encoder = commands.computeEncoder();
  assert.throws(() => encoder.setBuffer(buffer, 0), ResourceClosedError);
  encoder.end();
});

Deno.test("a dispatch runs, with partial edge threadgroups", async () => {
  const pipeline = await registry.getPipeline("copy_test", device);
  const n = 1000; // not a multiple of the threadgroup size
  using input = device.newBuffer(new Float32Array(n).map((_, i) => i));
  using output = device.newBuffer(n * 4);
  using commands = device.newCommandBuffer();
  const encoder = commands.computeEncoder();
  encoder.setPipeline(pipeline);
  encoder.setBuffer(input, 0);
  encoder.setBuffer(output, 1);
  encoder.dispatchThreads([n], [64]);
  encoder.end();
  assert.strictEqual(commands.status, "notCommitted");
  commands.commit();
  await commands.completed();
  assert.strictEqual(commands.status, "completed");
  const out = new Float32Array(output.contents);
  for (let i = 0; i < n; i++) assert.strictEqual(out[i], i + 1);
});

Deno.test("setBuffer() offsets shift the kernel's view", () => {
  const pipeline = registry.getPipelineSync("copy_test", device);
  using input = device.newBuffer(new Float32Array([0, 10, 20, 30]));
  using output = device.newBuffer(16);
  using commands = device.newCommandBuffer();
  const encoder = commands.computeEncoder();
  encoder.setPipeline(pipeline);
  encoder.setBuffer(input, 0, 8);
  encoder.setBuffer(output, 1);
  encoder.dispatchThreadgroups([1], [2]);
  encoder.end();
  commands.commit();
  commands.waitUntilCompleted();
  assert.deepStrictEqual([...new Float32Array(output.contents)], [21, 31, 0, 0]);
});

Deno.test("command buffers run in commit order", async () => {
  const pipeline = await registry.getPipeline("copy_test", device);
  using a = device.newBuffer(new Float32Array(256));
  using b = device.newBuffer(256 * 4);
  const commands = [];
  for (let step = 0; step < 6; step++) {
    const cmd = device.newCommandBuffer();
    const encoder = cmd.computeEncoder();
    encoder.setPipeline(pipeline);
    encoder.setBuffer(step % 2 === 0 ? a : b, 0);
    encoder.setBuffer(step % 2 === 0 ? b : a, 1);
    encoder.dispatchThreads([256], [32]);
    encoder.end();
    cmd.commit();
    commands.push(cmd);
  }
  await Promise.all(commands.map((cmd) => cmd.completed()));
  for (const cmd of commands) cmd.close();
  assert.ok(new Float32Array(a.contents).every((x) => x === 6));
});

Deno.test("gpuStartTime and gpuEndTime bracket a command buffer's run, and wait for it", async () => {
  const pipeline = await registry.getPipeline("copy_test", device);
  using input = device.newBuffer(new Float32Array(64));
  using commands = device.newCommandBuffer();
  const encoder = commands.computeEncoder();
  encoder.setPipeline(pipeline);
  encoder.setBuffer(input, 0);
  encoder.setBuffer(input, 1);
  encoder.dispatchThreads([64], [32]);
  encoder.end();
  assert.throws(
    () => commands.gpuStartTime,
    (error: unknown) => error instanceof MetalComputeError && error.code === "MB_ERR_STATE",
  );
  const before = performance.now();
  commands.commit();
  await commands.completed();
  const hostMs = performance.now() - before;
  const deviceMs = (commands.gpuEndTime - commands.gpuStartTime) * 1000;
  assert.ok(commands.gpuStartTime > 0, `start ${commands.gpuStartTime}`);
  assert.ok(deviceMs >= 0 && deviceMs <= hostMs + 1, `device ${deviceMs} ms, host ${hostMs} ms`);
});

Deno.test("Device.info describes the device in key=value pairs", () => {
  const keys = Object.keys(device.info);
  if (device.backend === "metal") assert.ok("gpu_families" in device.info, keys.join(", "));
  else assert.match(device.info.workers ?? "", /^[1-9]\d*$/, keys.join(", "));
});

Deno.test("buffers and pipelines closed while queued stay alive until completion", async () => {
  const local = new KernelRegistry();
  local.registerSource("copy_test", COPY_SOURCE);
  const pipeline = await local.getPipeline("copy_test", device);
  const input = device.newBuffer(new Float32Array(4096).fill(41));
  using output = device.newBuffer(4096 * 4);
  using commands = device.newCommandBuffer();
  const encoder = commands.computeEncoder();
  encoder.setPipeline(pipeline);
  encoder.setBuffer(input, 0);
  encoder.setBuffer(output, 1);
  encoder.dispatchThreads([4096], [256]);
  encoder.end();
  commands.commit();
  input.close();
  local.close(); // closes the pipeline
  assert.ok(pipeline.closed);
  await commands.completed();
  assert.ok(new Float32Array(output.contents).every((x) => x === 42));
});

Deno.test("a threadgroup above the pipeline's limit is refused", async () => {
  const pipeline = await registry.getPipeline("copy_test", device);
  using input = device.newBuffer(4);
  using commands = device.newCommandBuffer();
  const encoder = commands.computeEncoder();
  encoder.setPipeline(pipeline);
  encoder.setBuffer(input, 0);
  encoder.setBuffer(input, 1);
  const too = pipeline.maxTotalThreadsPerThreadgroup + 1;
  assert.throws(
    () => encoder.dispatchThreadgroups([1], [too]),
    (error: unknown) =>
      error instanceof MetalComputeError && error.code === "MB_ERR_LIMIT" &&
      error.message.includes(String(too)),
  );
  encoder.end();
});

Deno.test("a dispatch without a pipeline or a needed buffer is refused", async () => {
  using commands = device.newCommandBuffer();
  const encoder = commands.computeEncoder();
  assert.throws(
    () => encoder.dispatchThreads([4], [4]),
    (error: unknown) => error instanceof MetalComputeError && error.code === "MB_ERR_STATE",
  );
  encoder.setPipeline(await registry.getPipeline("copy_test", device));
  using input = device.newBuffer(16);
  encoder.setBuffer(input, 0); // buffer 1 missing
  assert.throws(
    () => encoder.dispatchThreads([4], [4]),
    (error: unknown) =>
      error instanceof MetalComputeError && error.code === "MB_ERR_INVALID_ARG" &&
      /\b1\b/.test(error.message),
  );
  encoder.end();
});

const PARAMS_SOURCE = `
#include <metal_stdlib>
using namespace metal;
struct Params { float scale; uint n; float bias; };
kernel void scale_bias(device float* x [[buffer(0)]], constant Params& p [[buffer(1)]],
                       uint i [[thread_position_in_grid]]) {
  if (i < p.n) x[i] = x[i] * p.scale + p.bias;
}
`;

Deno.test({
  name: "a binding shorter than its constant struct is refused at dispatch (CPU backend; " +
    "on Metal, its API validation layer)",
  ignore: device.backend !== "cpu",
  async fn() {
    using local = new KernelRegistry();
    local.registerSource("scale_bias", PARAMS_SOURCE);
    const pipeline = await local.getPipeline("scale_bias", device);
    using x = device.newBuffer(new Float32Array([1, 2, 3, 4]));
    using params = device.newBuffer(16);
    using commands = device.newCommandBuffer();
    const encoder = commands.computeEncoder();
    encoder.setPipeline(pipeline);
    encoder.setBuffer(x, 0);
    const tooShort = (bytes: number) => (error: unknown) =>
      error instanceof InvalidArgumentError &&
      error.message.includes(`[[buffer(1)]] has ${bytes} bytes`) &&
      error.message.includes("needs 12");
    encoder.setBytes(new Float32Array([2]), 1);
    assert.throws(() => encoder.dispatchThreads([4], [4]), tooShort(4));
    encoder.setBuffer(params, 1, 8);
    assert.throws(() => encoder.dispatchThreads([4], [4]), tooShort(8));
    const whole = new ArrayBuffer(12);
    new Float32Array(whole, 0, 1)[0] = 2;
    new Uint32Array(whole, 4, 1)[0] = 3;
    new Float32Array(whole, 8, 1)[0] = 0.5;
    encoder.setBytes(new Uint8Array(whole), 1);
    encoder.dispatchThreads([4], [4]);
    encoder.end();
    commands.commit();
    await commands.completed();
    assert.deepStrictEqual([...new Float32Array(x.contents)], [2.5, 4.5, 6.5, 4]);
  },
});

Deno.test("encoder arguments are checked before reaching the device", () => {
  using buffer = device.newBuffer(16);
  using commands = device.newCommandBuffer();
  const encoder = commands.computeEncoder();
  assert.throws(() => encoder.setBuffer(buffer, 31), RangeError);
  assert.throws(() => encoder.setBuffer(buffer, 0, 16), RangeError);
  assert.throws(() => encoder.setBytes(new Uint8Array(4097), 0), RangeError);
  assert.throws(() => encoder.setBytes(new Uint8Array(0), 0), RangeError);
  assert.throws(() => encoder.setThreadgroupMemoryLength(20, 0), RangeError);
  assert.throws(() => encoder.setThreadgroupMemoryLength(1 << 20, 0), RangeError);
  assert.throws(() => encoder.dispatchThreads([0], [1]), RangeError);
  assert.throws(() => encoder.dispatchThreads([4], [1.5]), RangeError);
  encoder.end();
  assert.throws(() => encoder.setBuffer(buffer, 0), MetalComputeError);
});

Deno.test("commit() with an open encoder is refused", () => {
  using commands = device.newCommandBuffer();
  const encoder = commands.computeEncoder();
  assert.throws(() => commands.commit(), MetalComputeError);
  assert.throws(() => commands.computeEncoder(), MetalComputeError);
  encoder.end();
  commands.commit();
  commands.waitUntilCompleted();
  assert.strictEqual(commands.status, "completed");
});

Deno.test({
  name: "a barrier not reached by every thread fails the command buffer (CPU backend" +
    (device.backend === "cpu" ? ")" : `; skipped: Metal leaves this undefined)`),
  ignore: device.backend !== "cpu",
  async fn() {
    const local = new KernelRegistry();
    local.registerSource(
      "divergent_barrier",
      `#include <metal_stdlib>
using namespace metal;
kernel void divergent_barrier(device float* out [[buffer(0)]],
                              uint i [[thread_index_in_threadgroup]]) {
  if (i == 0) return;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[i] = 1.0f;
}`,
    );
    try {
      const pipeline = await local.getPipeline("divergent_barrier", device);
      using out = device.newBuffer(64 * 4);
      using commands = device.newCommandBuffer();
      const encoder = commands.computeEncoder();
      encoder.setPipeline(pipeline);
      encoder.setBuffer(out, 0);
      encoder.dispatchThreadgroups([1], [64]);
      encoder.end();
      commands.commit();
      await assert.rejects(commands.completed(), (error: unknown) => {
        assert.ok(error instanceof CommandBufferError, String(error));
        assert.strictEqual(error.code, "MB_ERR_EXECUTION");
        assert.match(error.message, /divergent_barrier/);
        assert.match(error.message, /barrier/);
        return true;
      });
      assert.strictEqual(commands.status, "error");
    } finally {
      local.close();
    }
  },
});

Deno.test("closing a device closes what it created", () => {
  const local = Device.openSync();
  const buffer = local.newBuffer(16);
  const commands = local.newCommandBuffer();
  local.close();
  assert.ok(buffer.closed);
  assert.ok(commands.closed);
  assert.throws(() => local.newBuffer(16), ResourceClosedError);
  assert.throws(
    () => registry.getPipelineSync("copy_test", local),
    (error: unknown) =>
      error instanceof ResourceClosedError && /Device is closed/.test(error.message),
  );
});
