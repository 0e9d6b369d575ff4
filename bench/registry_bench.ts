// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// Cache-hit cost of getPipelineSync against a bare Map lookup (the floor), and the round trip
// of one small dispatch (encode + commit + wait, synchronous and awaited) against encoding
// alone. Run: deno task bench
import { type CommandBuffer, Device, KernelRegistry, normalizeConstants } from "../mod.ts";

const device = Device.systemDefault();
const registry = new KernelRegistry();
await registry.getPipeline("softmax_f32", device);
await registry.getPipeline("placeholder", device, { 100: 4, 200: true });
const floor = new Map([["softmax_f32", 1]]);

Deno.bench("Map.get (floor)", { group: "cache hit", baseline: true }, () => {
  floor.get("softmax_f32");
});

Deno.bench("getPipelineSync, no constants", { group: "cache hit" }, () => {
  registry.getPipelineSync("softmax_f32", device);
});

Deno.bench("getPipelineSync, two constants (a fresh literal)", {
  group: "cache hit",
}, () => {
  registry.getPipelineSync("placeholder", device, { 200: true, 100: 4 });
});

const frozenConstants = Object.freeze({ 200: true, 100: 4 });
Deno.bench("getPipelineSync, two constants, one frozen object", { group: "cache hit" }, () => {
  registry.getPipelineSync("placeholder", device, frozenConstants);
});

Deno.bench("getPipelineSync, two typed constants (normalising path)", {
  group: "cache hit",
}, () => {
  registry.getPipelineSync("placeholder", device, {
    200: { type: "bool", value: true },
    100: { type: "int", value: 4 },
  });
});

Deno.bench("Object.keys of two constants (what the previous path paid per hit)", {
  group: "cache hit",
}, () => {
  Object.keys({ 200: true, 100: 4 }).length;
});

Deno.bench("normalizeConstants alone (the old hit path's cost)", { group: "cache hit" }, () => {
  normalizeConstants("placeholder", { 200: true, 100: 4 });
});

const add = await registry.getPipeline("elementwise_add_f32", device);
const a = device.newBuffer(new Float32Array(256));
const params = new Uint32Array([256]);

function encode(): CommandBuffer {
  const commands = device.newCommandBuffer();
  const encoder = commands.computeEncoder();
  encoder.setPipeline(add);
  encoder.setBuffer(a, 0);
  encoder.setBuffer(a, 1);
  encoder.setBuffer(a, 2);
  encoder.setBytes(params, 3);
  encoder.dispatchThreads([256], [256]);
  encoder.end();
  return commands;
}

Deno.bench("encode only (the floor: no commit)", { group: "dispatch", baseline: true }, () => {
  encode().close();
});

Deno.bench("encode + commit + waitUntilCompleted, 1 dispatch of 256 threads", {
  group: "dispatch",
}, () => {
  using commands = encode();
  commands.commit();
  commands.waitUntilCompleted();
});

Deno.bench("encode + commit + await completed(), 1 dispatch of 256 threads", {
  group: "dispatch",
}, async () => {
  using commands = encode();
  commands.commit();
  await commands.completed();
});
