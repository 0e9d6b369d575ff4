// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// The CPU bridge's own hot paths, measured in a fresh process with the bridge library named by
// METAL_COMPUTE_CPU_LIBRARY (bench/bridge_build.ts --runtime runs it once per library, rounds
// alternating, to compare how two builds of the same sources run). Kernel modules come from
// METAL_COMPUTE_CACHE_DIR, warmed before the first round.
// Prints {"roundTripUs", "sixteenUs", "addMs", "softmaxMs", "softmaxFibersMs", "warmMs"} as
// JSON, each a median within this process:
// - roundTripUs: encode + commit + wait of one 32-thread dispatch (commands.cpp, the queue);
// - sixteenUs: the same with 16 dispatches in one command buffer (encoding);
// - addMs: elementwise_add_f32 over 2^20 elements (the worker's loop over threadgroups);
// - softmaxMs: softmax_f32, 1024 rows of 4096, as work-item loops;
// - softmaxFibersMs: softmax_f32, 256 rows of 4096, on fibers (the worker's fiber scheduler
//   and SIMD-group exchanges);
// - warmMs: a new registry getting three catalogue pipelines from the disk cache (library
//   and pipeline creation: runtime.cpp, the compiler driver, disk_cache.cpp's hash).
import { Device, elementwiseAddSync, KernelRegistry, softmaxSync } from "../mod.ts";
import { runOnce } from "./_workload.ts";

const median = (xs: number[]) => xs.toSorted((a, b) => a - b)[xs.length >> 1];
using device = Device.openSync({ backend: "cpu" });
using registry = new KernelRegistry();
registry.registerSource(
  "trivial_write",
  `#include <metal_stdlib>
using namespace metal;
kernel void trivial_write(device uint* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = i;
}`,
);
const trivial = await registry.getPipeline("trivial_write", device);
const tiny = device.newBuffer(32 * 4);
const N = 1 << 20;
const ROWS = 1024;
const COLS = 4096;
const a = device.newBuffer(new Float32Array(N).fill(1));
const b = device.newBuffer(new Float32Array(N).fill(2));
const sum = device.newBuffer(N * 4);
const x = device.newBuffer(new Float32Array(ROWS * COLS).map((_, i) => (i % 97) / 50 - 1));
const y = device.newBuffer(ROWS * COLS * 4);
await registry.getPipeline("elementwise_add_f32", device);
await registry.getPipeline("softmax_f32", device);
using fiberRegistry = new KernelRegistry();
Deno.env.set("METAL_COMPUTE_CPU_EXECUTION", "fibers");
await fiberRegistry.getPipeline("softmax_f32", device);
Deno.env.delete("METAL_COMPUTE_CPU_EXECUTION");

/** Median over `batches` of the mean time of `perBatch` calls, in milliseconds. */
function time(body: () => void, batches: number, perBatch: number): number {
  for (let i = 0; i < perBatch; i++) body(); // warm-up
  const times: number[] = [];
  for (let i = 0; i < batches; i++) {
    const start = performance.now();
    for (let j = 0; j < perBatch; j++) body();
    times.push((performance.now() - start) / perBatch);
  }
  return median(times);
}

const trivialDispatches = (count: number) => () =>
  runOnce(device, (e) => {
    e.setPipeline(trivial);
    e.setBuffer(tiny, 0);
    for (let i = 0; i < count; i++) e.dispatchThreadgroups([1], [32]);
  });
const roundTripUs = time(trivialDispatches(1), 15, 200) * 1000;
const sixteenUs = time(trivialDispatches(16), 15, 50) * 1000;
const addMs = time(
  () =>
    runOnce(
      device,
      (e) => elementwiseAddSync(e, { registry, a, b, output: sum, dtype: "f32", length: N }),
    ),
  15,
  3,
);
const softmax = (kernels: KernelRegistry, rows: number) => () =>
  runOnce(
    device,
    (e) =>
      softmaxSync(e, { registry: kernels, input: x, output: y, dtype: "f32", rows, cols: COLS }),
  );
const softmaxMs = time(softmax(registry, ROWS), 7, 1);
const softmaxFibersMs = time(softmax(fiberRegistry, 256), 7, 1);
const warmMs = time(
  () => {
    using fresh = new KernelRegistry();
    for (const name of ["softmax_f32", "rms_norm_f32", "elementwise_add_f32"]) {
      fresh.getPipelineSync(name, device);
    }
  },
  7,
  1,
);
console.log(
  JSON.stringify({ roundTripUs, sixteenUs, addMs, softmaxMs, softmaxFibersMs, warmMs }),
);
