// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// The command queue's contract where a waiting caller runs command buffers itself (the CPU
// backend's synchronous wait on an idle queue): commit order, a failure that stays with its own
// command buffer, and the queue thread still running what nobody waits for.
import assert from "node:assert";
import { type CommandBuffer, CommandBufferError, Device, type Pipeline } from "../mod.ts";
import { testBackend, testContext } from "./_helpers.ts";

const { device, registry } = testContext();

// x[0] = x[0] * k + c: command buffers applied in another order give another value.
registry.registerSource(
  "affine_step",
  `#include <metal_stdlib>
using namespace metal;
kernel void affine_step(device int* x [[buffer(0)]], constant int2& kc [[buffer(1)]],
                        uint i [[thread_position_in_grid]]) {
  if (i == 0) x[0] = x[0] * kc.x + kc.y;
}`,
);

// Writes one element past the end of the buffer it is given.
registry.registerSource(
  "store_past_end",
  `#include <metal_stdlib>
using namespace metal;
kernel void store_past_end(device int* x [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  x[i + 1] = 1;
}`,
);

const STEPS: [number, number][] = [[2, 1], [3, 0], [1, 5]]; // from 1: 3, 9, 14

function commitStep(target: Device, pipeline: Pipeline, x: ReturnType<Device["newBuffer"]>, step: [
  number,
  number,
]): CommandBuffer {
  const commands = target.newCommandBuffer();
  const encoder = commands.computeEncoder();
  encoder.setPipeline(pipeline);
  encoder.setBuffer(x, 0);
  encoder.setBytes(new Int32Array(step), 1);
  encoder.dispatchThreads([1], [1]);
  encoder.end();
  commands.commit();
  return commands;
}

Deno.test("waitUntilCompleted() on the last of three command buffers runs all three in commit order", async () => {
  const pipeline = await registry.getPipeline("affine_step", device);
  using x = device.newBuffer(new Int32Array([1]));
  const commands = STEPS.map((step) => commitStep(device, pipeline, x, step));
  commands[2].waitUntilCompleted();
  assert.deepStrictEqual(commands.map((c) => c.status), ["completed", "completed", "completed"]);
  assert.strictEqual(new Int32Array(x.contents)[0], 14);
  await commands[0].completed(); // already done
  for (const c of commands) c.close();
});

Deno.test("completed() and waitUntilCompleted() on command buffers in flight keep commit order", async () => {
  const pipeline = await registry.getPipeline("affine_step", device);
  using x = device.newBuffer(new Int32Array([1]));
  for (let round = 0; round < 20; round++) {
    new Int32Array(x.contents)[0] = 1;
    const commands = STEPS.map((step) => commitStep(device, pipeline, x, step));
    const first = commands[0].completed(); // waits (and may run) on another thread
    commands[2].waitUntilCompleted();
    await first;
    assert.strictEqual(new Int32Array(x.contents)[0], 14, `round ${round}`);
    for (const c of commands) c.close();
  }
});

Deno.test("a command buffer nobody waits for still runs", async () => {
  const pipeline = await registry.getPipeline("affine_step", device);
  using x = device.newBuffer(new Int32Array([1]));
  using commands = commitStep(device, pipeline, x, [2, 1]);
  for (let i = 0; i < 1000 && commands.status === "committed"; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.strictEqual(commands.status, "completed");
  assert.strictEqual(new Int32Array(x.contents)[0], 3);
});

Deno.test("right after a synchronous round trip, a command buffer nobody waits for still runs", async () => {
  const pipeline = await registry.getPipeline("affine_step", device);
  using x = device.newBuffer(new Int32Array([1]));
  using first = commitStep(device, pipeline, x, [2, 1]);
  first.waitUntilCompleted(); // the queue thread was not woken for it
  using second = commitStep(device, pipeline, x, [3, 0]); // nor, now, for this one
  for (let i = 0; i < 1000 && second.status === "committed"; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.strictEqual(second.status, "completed");
  assert.strictEqual(new Int32Array(x.contents)[0], 9);
});

Deno.test({
  name: "a failing command buffer run by another's synchronous wait fails alone",
  ignore: testBackend() !== "cpu",
  async fn() {
    using checked = Device.openSync({ backend: "cpu", checked: true });
    const bad = await registry.getPipeline("store_past_end", checked);
    const good = await registry.getPipeline("affine_step", checked);
    using small = checked.newBuffer(4);
    using x = checked.newBuffer(new Int32Array([1]));
    using failing = checked.newCommandBuffer();
    const encoder = failing.computeEncoder();
    encoder.setPipeline(bad);
    encoder.setBuffer(small, 0);
    encoder.dispatchThreads([1], [1]);
    encoder.end();
    failing.commit();
    using after = commitStep(checked, good, x, [2, 1]);
    after.waitUntilCompleted(); // runs `failing` first, here
    assert.strictEqual(failing.status, "error");
    assert.strictEqual(new Int32Array(x.contents)[0], 3);
    assert.throws(() => failing.waitUntilCompleted(), CommandBufferError);
    await assert.rejects(failing.completed(), CommandBufferError); // already done: no FFI thread
  },
});
