// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// Careless use of the host API fails with a typed error before any native call: wrong kinds of
// objects at the FFI edge, inputs Metal's validation layer rejects, and lifetimes (closing
// after a transfer). Kernel faults, hangs and leaks run in child processes (tests/_isolation_child.ts).
import assert from "node:assert";
import { Device } from "../device.ts";
import { KernelRegistry } from "../registry.ts";
import { testContext } from "./_helpers.ts";

const { device, registry } = testContext();
registry.registerSource(
  "isolation_copy",
  `#include <metal_stdlib>
using namespace metal;
kernel void isolation_copy(device const float* a [[buffer(0)]], device float* b [[buffer(1)]],
                           uint i [[thread_position_in_grid]]) {
  b[i] = a[i];
}`,
);

Deno.test("ComputeEncoder.setPipeline(aBuffer) throws a TypeError naming a Pipeline", () => {
  using buffer = device.newBuffer(16);
  using commands = device.newCommandBuffer();
  const encoder = commands.computeEncoder();
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => encoder.setPipeline(buffer as any),
    (error: unknown) =>
      error instanceof TypeError &&
      /setPipeline\(\): pipeline must be a Pipeline .*got a DeviceBuffer/.test(error.message),
  );
  encoder.end();
});

Deno.test("ComputeEncoder.setBuffer(aPipeline, 0) throws a TypeError naming a DeviceBuffer", async () => {
  const pipeline = await registry.getPipeline("isolation_copy", device);
  using commands = device.newCommandBuffer();
  const encoder = commands.computeEncoder();
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => encoder.setBuffer(pipeline as any, 0),
    (error: unknown) =>
      error instanceof TypeError &&
      /setBuffer\(\): buffer must be a DeviceBuffer .*got a Pipeline/.test(error.message),
  );
  // deno-lint-ignore no-explicit-any
  assert.throws(() => encoder.setBytes(42 as any, 0), TypeError);
  encoder.end();
});

Deno.test("a 4-D grid is refused with a RangeError", async () => {
  const pipeline = await registry.getPipeline("isolation_copy", device);
  using commands = device.newCommandBuffer();
  const encoder = commands.computeEncoder();
  encoder.setPipeline(pipeline);
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => encoder.dispatchThreads([4, 1, 1, 2] as any, [4]),
    /grid must have 1 to 3 dimensions .*got 4/,
  );
  // deno-lint-ignore no-explicit-any
  assert.throws(() => encoder.dispatchThreadgroups([1], [] as any), /1 to 3 dimensions/);
  encoder.end();
});

Deno.test('Device.openSync({ checked: "no" }) throws instead of turning checked mode on', () => {
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => Device.openSync({ backend: device.backend, checked: "no" as any }),
    (error: unknown) =>
      error instanceof TypeError && /checked must be true or false, got "no"/.test(error.message),
  );
});

Deno.test("DeviceBuffer.close() after contents.transfer() releases it", () => {
  const buffer = device.newBuffer(new Float32Array([1, 2, 3, 4]));
  const moved = buffer.contents.transfer();
  assert.strictEqual(moved.byteLength, 16);
  assert.strictEqual(new Float32Array(buffer.contents)[3], 4, "a fresh view after a transfer");
  buffer.close();
  assert.ok(buffer.closed);
});

Deno.test("KernelRegistry.registerSource() closes the cached pipelines it replaces", async () => {
  using own = new KernelRegistry();
  const source = (k: number) =>
    `kernel void replaced(device float* x [[buffer(0)]]) { x[0] = ${k}.0f; }`;
  own.registerSource("replaced", source(1));
  const first = await own.getPipeline("replaced", device);
  own.registerSource("replaced", source(2));
  assert.ok(first.closed, "the dropped pipeline was released");
  const second = await own.getPipeline("replaced", device);
  assert.notStrictEqual(second, first);
  assert.ok(!second.closed);
});

Deno.test("KernelRegistry.registerSource() releases a library no name serves any more", async () => {
  using own = new KernelRegistry();
  const source = (k: number) =>
    `kernel void lib_a(device float* x [[buffer(0)]]) { x[0] = ${k}.0f; }
kernel void lib_b(device float* x [[buffer(0)]]) { x[1] = ${k}.0f; }`;
  own.registerSource("lib_a", source(1));
  own.registerSource("lib_b", source(1));
  await own.getPipeline("lib_a", device);
  assert.strictEqual(own.stats.librariesHeld, 1);
  own.registerSource("lib_a", source(2));
  assert.strictEqual(own.stats.librariesHeld, 1, "lib_b still serves the first text");
  own.registerSource("lib_b", source(2));
  assert.strictEqual(own.stats.librariesHeld, 0, "no name serves the first text");
  const pipeline = await own.getPipeline("lib_b", device);
  assert.strictEqual(own.stats.librariesHeld, 1);
  assert.ok(!pipeline.closed);
});
