// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// A separate process for tests/leak_test.ts: runs `cycles` create/use/close cycles of one
// object kind (Deno.args[0]) after a warm-up, and prints {"growth": bytes of RSS growth}.
// Run with --v8-flags=--expose-gc (and a fixed young generation) so the measurement is not
// the JS heap's garbage or growth.
import { Device } from "../device.ts";
import { KernelRegistry } from "../registry.ts";

const kind = Deno.args[0];
const cycles = Number(Deno.args[1] ?? 10_000);
const gc = (globalThis as unknown as { gc: () => void }).gc;
const SOURCE = `#include <metal_stdlib>
using namespace metal;
kernel void leak_add(device float* x [[buffer(0)]], constant float& k [[buffer(1)]],
                     uint i [[thread_position_in_grid]]) {
  x[i] += k;
}`;

const device = Device.openSync({ backend: "cpu", workers: 1 });
const shared = new KernelRegistry();
shared.registerSource("leak_add", SOURCE);
const pipeline = shared.getPipelineSync("leak_add", device);
const buffer = device.newBuffer(new Float32Array(16));

function cycle(): void {
  switch (kind) {
    case "buffer": {
      using b = device.newBuffer(4096);
      new Float32Array(b.contents)[1023] = 1;
      break;
    }
    case "command_buffer": {
      using commands = device.newCommandBuffer();
      const encoder = commands.computeEncoder();
      encoder.setPipeline(pipeline);
      encoder.setBuffer(buffer, 0);
      encoder.setBytes(new Float32Array([1]), 1);
      encoder.dispatchThreads([16], [16]);
      encoder.end();
      commands.commit();
      commands.waitUntilCompleted();
      break;
    }
    case "pipeline": {
      using registry = new KernelRegistry();
      registry.registerSource("leak_add", SOURCE);
      registry.getPipelineSync("leak_add", device);
      break;
    }
    case "device": {
      using d = Device.openSync({ backend: "cpu", workers: 2 });
      d.newBuffer(64).close();
      break;
    }
    default:
      throw new TypeError(`unknown kind ${kind}`);
  }
}

if (kind === "finalize") {
  // A device dropped without close(): its worker, queue and watchdog threads must end.
  const threads = () => [...Deno.readDirSync("/proc/self/task")].length;
  let released = false;
  let threadsBefore = 0;
  const watch = new FinalizationRegistry(() => released = true);
  (() => {
    const dropped = Device.openSync({ backend: "cpu", workers: 3 });
    dropped.newBuffer(1 << 20);
    watch.register(dropped, "device");
    threadsBefore = threads(); // with the device's 4 threads running
  })();
  for (let round = 0; round < 10 && !released; ++round) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await new Promise((resolve) => setTimeout(resolve, 50)); // the threads are joined
  console.log(
    JSON.stringify({ finalized: released ? 1 : 0, threadsBefore, threadsAfter: threads() }),
  );
  Deno.exit(0);
}

if (kind === "view") {
  // A view whose DeviceBuffer wrapper was dropped: the finalizer must not free (unmap) the
  // memory under it. 1 MiB buffers are mmap'ed, so a use after free faults at once.
  let view: Float32Array | undefined = new Float32Array(device.newBuffer(1 << 20).contents);
  for (let round = 0; round < 5; ++round) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20)); // finalizers run here
    view.fill(round); // faults if the memory was released
  }
  console.log(JSON.stringify({ growth: 0, last: view[view.length - 1] }));
  view = undefined;
  Deno.exit(0);
}

// RSS once garbage is collected and finalizers (which run in later tasks) have run.
async function rss(): Promise<number> {
  for (let i = 0; i < 3; ++i) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return Deno.memoryUsage().rss;
}

const warmUp = Math.min(cycles, 3000); // until the allocators and the JS heap settle
for (let i = 0; i < warmUp; ++i) cycle();
const before = await rss();
const heapBefore = Deno.memoryUsage().heapUsed;
for (let i = 0; i < cycles; ++i) {
  cycle();
  if (i % 1000 === 999) await rss(); // as a long-running program's idle moments would
}
const after = await rss();
console.log(
  JSON.stringify({ growth: after - before, heapGrowth: Deno.memoryUsage().heapUsed - heapBefore }),
);
buffer.close();
shared.close();
device.close();
