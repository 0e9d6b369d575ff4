// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// deno-lint-ignore-file camelcase -- the keys are MSL kernel names
// A separate process for tests/faults_test.ts: runs one scenario named by Deno.args[0] (a
// kernel that faults, hangs or traps, a compile that runs too long, an exit with open
// devices) and prints one JSON line {"error": message | null, "after": "ok" | message}:
// the failure the scenario produced, then whether a normal command buffer still ran on the
// same device. A regression crashes or hangs this process, not the test runner.
import { CommandBufferError } from "../errors.ts";
import { Device, type DeviceOptions } from "../device.ts";
import { KernelRegistry } from "../registry.ts";

const scenario = Deno.args[0];
const prelude = "#include <metal_stdlib>\nusing namespace metal;\n";

const kernels: Record<string, string> = {
  // A store to an address no buffer is near (the default mode has no guard pages).
  wild_store:
    `kernel void wild_store(device int* x [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  device int* wild = (device int*)(ulong(x[0]) + 64);
  wild[i] = 1;
}`,
  // The divisor comes from the buffer (0), so clang cannot fold the division away.
  divide_by_zero:
    `kernel void divide_by_zero(device int* x [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  x[i] = 1000 / x[0];
}`,
  trap: `kernel void trap(device int* x [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  if (x[0] == 0) __builtin_trap();
  x[i] = 1;
}`,
  // Spins until x[0] changes, which nothing does: volatile keeps the loop.
  spin: `kernel void spin(device int* x [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  volatile device int* flag = x;
  while (flag[0] == 0) {}
}`,
  // The same on fibers: a barrier in the loop.
  spin_barrier:
    `kernel void spin_barrier(device int* x [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  volatile device int* flag = x;
  while (flag[0] == 0) { threadgroup_barrier(mem_flags::mem_threadgroup); }
}`,
  fine: `kernel void fine(device int* x [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  x[i] = int(i) + 7;
}`,
  other: `kernel void other(device int* x [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  x[i] = int(i) * 3;
}`,
};
const expected: Record<string, (i: number) => number> = {
  fine: (i) => i + 7,
  other: (i) => i * 3,
};

const options: DeviceOptions = { backend: "cpu", workers: 2 };
if (scenario.endsWith("_checked")) options.checked = true;
if (scenario.startsWith("spin")) options.commandBufferTimeout = 300;
if (scenario === "compile_time") options.compileTimeLimit = 300;
if (scenario === "compile_memory") options.compileMemoryLimit = 300;
const device = Device.openSync(options);
const registry = new KernelRegistry();

// `_sync` scenarios wait with waitUntilCompleted(), which runs the command buffer on this
// (the JavaScript) thread when the queue is idle: the fault, trap and watchdog paths on a
// thread the runtime does not own.
const synchronous = scenario.endsWith("_sync");

async function run(kernel: string, threads = 4): Promise<string | null> {
  registry.registerSource(kernel, prelude + kernels[kernel]);
  const pipeline = await registry.getPipeline(kernel, device);
  using buffer = device.newBuffer(new Int32Array(threads));
  using commands = device.newCommandBuffer();
  const encoder = commands.computeEncoder();
  encoder.setPipeline(pipeline);
  encoder.setBuffer(buffer, 0);
  encoder.dispatchThreads([threads], [threads]);
  encoder.end();
  commands.commit();
  try {
    if (synchronous) commands.waitUntilCompleted();
    else await commands.completed();
  } catch (error) {
    if (!(error instanceof CommandBufferError)) throw error;
    return error.message;
  }
  const values = new Int32Array(buffer.contents);
  const want = expected[kernel];
  return want && values.some((v, i) => v !== want(i)) ? `wrong result ${values}` : null;
}

let error: string | null = null;
if (scenario === "exit_open") {
  // Ends with the device, the registry and a pipeline open: exit must still be clean.
  await run("fine");
  console.log(JSON.stringify({ error: null, after: "ok" }));
  Deno.exit(0);
} else if (scenario === "close_while_compiling") {
  // Close the device and the registry while a compile runs on another thread: the compile
  // keeps what it uses alive; the caller gets a result or a typed error, never a crash.
  const other = Device.openSync({ backend: "cpu" });
  const otherRegistry = new KernelRegistry();
  otherRegistry.registerSource(
    "closing",
    `${prelude}kernel void closing(device int* x [[buffer(0)]]) { x[0] = ${Date.now() % 1000}; }`,
  );
  const pending = otherRegistry.getPipeline("closing", other);
  otherRegistry.close();
  other.close();
  try {
    await pending;
  } catch (e) {
    error = `${(e as Error).name}`;
  }
} else if (scenario === "close_while_waiting") {
  // Close the command buffer and its device while completed() waits on another thread.
  const other = Device.openSync({ backend: "cpu", workers: 1, commandBufferTimeout: 200 });
  registry.registerSource("spin", prelude + kernels.spin);
  const pipeline = await registry.getPipeline("spin", other);
  const buffer = other.newBuffer(16);
  const commands = other.newCommandBuffer();
  const encoder = commands.computeEncoder();
  encoder.setPipeline(pipeline);
  encoder.setBuffer(buffer, 0);
  encoder.dispatchThreads([1], [1]);
  encoder.end();
  commands.commit();
  const waiting = commands.completed();
  commands.close();
  other.close();
  try {
    await waiting;
  } catch (e) {
    error = (e as Error).name;
  }
} else if (scenario === "unload") {
  // 24 distinct modules, each used (with a threadgroup array: thread-local storage on two
  // workers) and released: all but the most recent 16 are unloaded, and one reloaded later
  // still runs right.
  const mapped = () =>
    new Set(
      Deno.readTextFileSync("/proc/self/maps").split("\n")
        .filter((line) => line.includes("/cpu-modules/")).map((line) => line.split(/\s+/).at(-1)),
    ).size;
  const source = (i: number) =>
    `${prelude}kernel void unload_${i}(device int* x [[buffer(0)]], uint t [[thread_position_in_threadgroup]],
                     uint g [[threadgroup_position_in_grid]]) {
  threadgroup int scratch[64];
  scratch[t] = int(t) * ${i + 2};
  threadgroup_barrier(mem_flags::mem_threadgroup);
  x[g * 64 + t] = scratch[63 - t];
}`;
  const runOnce = async (i: number): Promise<string | null> => {
    using own = new KernelRegistry();
    own.registerSource(`unload_${i}`, source(i));
    const pipeline = await own.getPipeline(`unload_${i}`, device);
    using buffer = device.newBuffer(4 * 64 * 4);
    using commands = device.newCommandBuffer();
    const encoder = commands.computeEncoder();
    encoder.setPipeline(pipeline);
    encoder.setBuffer(buffer, 0);
    encoder.dispatchThreadgroups([4], [64]);
    encoder.end();
    commands.commit();
    await commands.completed();
    const x = new Int32Array(buffer.contents);
    return x[64 * 3 + 1] === 62 * (i + 2) ? null : `unload_${i}: got ${x[64 * 3 + 1]}`;
  };
  const before = mapped();
  for (let i = 0; i < 24 && error === null; ++i) error = await runOnce(i);
  const during = mapped();
  if (error === null && during - before > 16) error = `${during - before} modules still mapped`;
  if (error === null) error = await runOnce(0); // unloaded above: loaded again
} else if (scenario === "fine" || scenario === "other") {
  try {
    error = await run(scenario); // with the cache the test prepared
  } catch (e) {
    const { name, code } = e as { name: string; code?: string };
    console.log(JSON.stringify({ error: `${name} ${code}: ${(e as Error).message}`, after: "-" }));
    Deno.exit(0);
  }
} else if (scenario === "compile_time" || scenario === "compile_memory") {
  // A macro bomb: each level doubles the expansion (2^24 tokens).
  let bomb = "#define B0 x+x\n";
  for (let i = 1; i <= 24; ++i) bomb += `#define B${i} B${i - 1}+B${i - 1}\n`;
  registry.registerSource(
    "bomb",
    `${prelude}${bomb}kernel void bomb(device int* x [[buffer(0)]]) { int x = 1; x[0] = B24; }`,
  );
  try {
    await registry.getPipeline("bomb", device);
  } catch (e) {
    error = `${(e as Error).name}: ${(e as Error).message}`;
  }
} else {
  const kernel = scenario.replace(/_checked$|_sync$/, "");
  error = await run(kernel, scenario.includes("barrier") ? 64 : 4);
}
const after = (await run("fine")) ?? "ok";
console.log(JSON.stringify({ error, after }));
registry.close();
device.close();
