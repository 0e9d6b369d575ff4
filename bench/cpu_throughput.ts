// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * CPU backend throughput, side by side in one run with Deno's own WebGPU (`navigator.gpu`;
 * on Linux without a GPU that is Mesa's llvmpipe, which also runs on the CPU) and with a
 * memcpy of the same bytes (`TypedArray.set`). Rounds interleave every contender, and each
 * figure is the median over the rounds, so load from other processes hits all alike.
 *
 * Run: deno run --allow-all --unstable-webgpu bench/cpu_throughput.ts [--rounds N] [--write]
 *
 * Kernels (1M+ f32 elements): elementwise_add_f32 (n = 2^20), softmax_f32 and rms_norm_f32
 * (256 and 1024 rows of 4096), each with how the CPU backend runs it (`Pipeline.execution`)
 * and its threads per row (the op's default, then a sweep of `threadsPerRow` at 1024 rows,
 * and fibers at one SIMD-group per row). WGSL equivalents below do the same work: add on vec4s, one workgroup
 * per row with a tree reduction for softmax (max, then sum of exp) and rms_norm (sum of
 * squares). Dispatch overhead: encode + commit + wait of a trivial kernel (32 threads), 1 and
 * 16 dispatches per command buffer.
 *
 * @module
 */
import { Device, KernelRegistry } from "../mod.ts";
import { elementwiseAddSync, rmsNormSync, softmaxSync } from "../mod.ts";
import { machine, parseRounds, roundsOption, WRITE_OPTION, writeSection } from "./_results.ts";
import { randomValues } from "./_workload.ts";
import { KERNELS } from "../shaders/catalog.ts";
import { parseCli } from "../tools/_cli.ts";

const { values } = parseCli({
  usage: "deno run --allow-all --unstable-webgpu bench/cpu_throughput.ts [options]",
  summary: "CPU backend throughput side by side with Deno's WebGPU and memcpy, in one run.",
  options: {
    rounds: roundsOption(15),
    write: WRITE_OPTION,
  },
});
const rounds = parseRounds(values.rounds, 15);
const N = 1 << 20;
const ROWS = 256;
const BIG_ROWS = 1024; // the size issue 16's targets are stated at
const COLS = 4096;
const MiB = 1 << 20;

// ---- CPU backend -------------------------------------------------------------------------------

const cpu = Device.openSync({ backend: "cpu" });
const registry = new KernelRegistry();
registry.registerSource(
  "trivial_write",
  `#include <metal_stdlib>
using namespace metal;
kernel void trivial_write(device uint* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = i;
}`,
);

const hostA = randomValues(N, 1, 2);
const hostB = randomValues(N, 2, 2);
const hostX = randomValues(BIG_ROWS * COLS, 3, 2);
const hostW = randomValues(COLS, 4, 2);

const a = cpu.newBuffer(hostA);
const b = cpu.newBuffer(hostB);
const sum = cpu.newBuffer(N * 4);
const x = cpu.newBuffer(hostX);
const w = cpu.newBuffer(hostW);
const y = cpu.newBuffer(BIG_ROWS * COLS * 4);
const tiny = cpu.newBuffer(32 * 4);
await registry.getPipeline("elementwise_add_f32", cpu);
await registry.getPipeline("softmax_f32", cpu);
let rmsNormPending = "";
try {
  await registry.getPipeline("rms_norm_f32", cpu);
} catch (error) {
  rmsNormPending = `pending (${(error as Error).message.split("\n")[0]})`;
}
const trivial = await registry.getPipeline("trivial_write", cpu);

/** The device time of the last CPU-backend command buffer (gpuEndTime − gpuStartTime), ms. */
let lastDeviceMs = 0;

function cpuRun(
  encode: (e: ReturnType<ReturnType<Device["newCommandBuffer"]>["computeEncoder"]>) => void,
): void {
  using commands = cpu.newCommandBuffer();
  const encoder = commands.computeEncoder();
  encode(encoder);
  encoder.end();
  commands.commit();
  commands.waitUntilCompleted();
  lastDeviceMs = (commands.gpuEndTime - commands.gpuStartTime) * 1000;
}

const cpuAdd = () =>
  cpuRun((e) => elementwiseAddSync(e, { registry, a, b, output: sum, dtype: "f32", length: N }));
// The same kernels on fibers (METAL_COMPUTE_CPU_EXECUTION=fibers while their pipelines are
// created), to compare with the work-item loops in the same run.
const EXECUTION_VARIABLE = "METAL_COMPUTE_CPU_EXECUTION";
const fiberRegistry = new KernelRegistry();
{
  const previous = Deno.env.get(EXECUTION_VARIABLE);
  Deno.env.set(EXECUTION_VARIABLE, "fibers");
  await fiberRegistry.getPipeline("softmax_f32", cpu);
  await fiberRegistry.getPipeline("rms_norm_f32", cpu);
  if (previous === undefined) Deno.env.delete(EXECUTION_VARIABLE);
  else Deno.env.set(EXECUTION_VARIABLE, previous);
}

const cpuSoftmax = (rows = ROWS, kernels = registry, threadsPerRow?: number) => () =>
  cpuRun((e) =>
    softmaxSync(e, {
      registry: kernels,
      input: x,
      output: y,
      dtype: "f32",
      rows,
      cols: COLS,
      threadsPerRow,
    })
  );
const cpuRmsNorm = (rows = ROWS, kernels = registry, threadsPerRow?: number) => () =>
  cpuRun((e) =>
    rmsNormSync(e, {
      registry: kernels,
      input: x,
      weight: w,
      output: y,
      dtype: "f32",
      rows,
      dim: COLS,
      eps: 1e-6,
      threadsPerRow,
    })
  );
/** The threads per row the op helpers choose by default on this backend (recorded below). */
let defaultThreadsPerRow = 0;
{
  using commands = cpu.newCommandBuffer();
  const encoder = commands.computeEncoder();
  const recording = new Proxy(encoder, {
    get(target, key) {
      if (key === "dispatchThreadgroups") {
        return (...[grid, threadgroup]: Parameters<typeof target.dispatchThreadgroups>) => {
          defaultThreadsPerRow = threadgroup[0];
          target.dispatchThreadgroups(grid, threadgroup);
        };
      }
      const value = Reflect.get(target, key);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  softmaxSync(recording, { registry, input: x, output: y, dtype: "f32", rows: 1, cols: COLS });
  encoder.end();
  commands.commit();
  commands.waitUntilCompleted();
}
/** The sweep of `threadsPerRow` at 1024 rows (besides the default). */
const SWEEP = [4, 8, 32].filter((t) => t !== defaultThreadsPerRow);
const cpuTrivial = (dispatches: number) =>
  cpuRun((e) => {
    e.setPipeline(trivial);
    e.setBuffer(tiny, 0);
    for (let i = 0; i < dispatches; i++) e.dispatchThreadgroups([1], [32]);
  });
async function cpuTrivialAsync(): Promise<void> {
  using commands = cpu.newCommandBuffer();
  const e = commands.computeEncoder();
  e.setPipeline(trivial);
  e.setBuffer(tiny, 0);
  e.dispatchThreadgroups([1], [32]);
  e.end();
  commands.commit();
  await commands.completed();
}

// ---- WebGPU ------------------------------------------------------------------------------------

const adapter = await navigator.gpu?.requestAdapter();
if (!adapter) {
  console.error(
    "No WebGPU adapter (run with --unstable-webgpu; on Linux install mesa-vulkan-drivers)",
  );
  Deno.exit(1);
}
const gpu = await adapter.requestDevice({
  requiredLimits: { maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize },
});

const WGSL_ADD = `
@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> o: array<vec4<f32>>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i < arrayLength(&o)) { o[i] = a[i] + b[i]; }
}`;

const WGSL_SOFTMAX = `
struct P { cols: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: P;
var<workgroup> red: array<f32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let base = wg.x * p.cols;
  var m = -3.402823e38;
  for (var j = t; j < p.cols; j += 256u) { m = max(m, x[base + j]); }
  red[t] = m;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (t < s) { red[t] = max(red[t], red[t + s]); }
    workgroupBarrier();
  }
  m = red[0];
  workgroupBarrier();
  var total = 0.0;
  for (var j = t; j < p.cols; j += 256u) { total += exp(x[base + j] - m); }
  red[t] = total;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (t < s) { red[t] += red[t + s]; }
    workgroupBarrier();
  }
  let inv = 1.0 / red[0];
  for (var j = t; j < p.cols; j += 256u) { y[base + j] = exp(x[base + j] - m) * inv; }
}`;

const WGSL_RMS_NORM = `
struct P { eps: f32, dim: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> p: P;
var<workgroup> red: array<f32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let base = wg.x * p.dim;
  var s2 = 0.0;
  for (var j = t; j < p.dim; j += 256u) { let v = x[base + j]; s2 += v * v; }
  red[t] = s2;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (t < s) { red[t] += red[t + s]; }
    workgroupBarrier();
  }
  let r = inverseSqrt(red[0] / f32(p.dim) + p.eps);
  for (var j = t; j < p.dim; j += 256u) { y[base + j] = x[base + j] * r * w[j]; }
}`;

const WGSL_TRIVIAL = `
@group(0) @binding(0) var<storage, read_write> o: array<u32>;
@compute @workgroup_size(32)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) { o[gid.x] = gid.x; }`;

const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

function gpuBuffer(data: Float32Array | number, usage = STORAGE): GPUBuffer {
  const size = typeof data === "number" ? data : data.byteLength;
  const buffer = gpu.createBuffer({ size, usage, mappedAtCreation: typeof data !== "number" });
  if (typeof data !== "number") {
    new Float32Array(buffer.getMappedRange()).set(data);
    buffer.unmap();
  }
  return buffer;
}

function uniform(bytes: ArrayBuffer): GPUBuffer {
  const buffer = gpu.createBuffer({
    size: 16,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  });
  gpu.queue.writeBuffer(buffer, 0, bytes);
  return buffer;
}

function kernel(code: string, buffers: GPUBuffer[]): [GPUComputePipeline, GPUBindGroup] {
  const pipeline = gpu.createComputePipeline({
    layout: "auto",
    compute: { module: gpu.createShaderModule({ code }), entryPoint: "main" },
  });
  const bindGroup = gpu.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  return [pipeline, bindGroup];
}

const ga = gpuBuffer(hostA);
const gb = gpuBuffer(hostB);
const gsum = gpuBuffer(N * 4);
const gx = gpuBuffer(hostX);
const gw = gpuBuffer(hostW);
const gy = gpuBuffer(BIG_ROWS * COLS * 4);
const gtiny = gpuBuffer(32 * 4);
const softmaxParams = uniform(new Uint32Array([COLS, 0, 0, 0]).buffer);
const rmsBytes = new DataView(new ArrayBuffer(16));
rmsBytes.setFloat32(0, 1e-6, true);
rmsBytes.setUint32(4, COLS, true);
const rmsParams = uniform(rmsBytes.buffer);

const gpuAddKernel = kernel(WGSL_ADD, [ga, gb, gsum]);
const gpuSoftmaxKernel = kernel(WGSL_SOFTMAX, [gx, gy, softmaxParams]);
const gpuRmsKernel = kernel(WGSL_RMS_NORM, [gx, gw, gy, rmsParams]);
const gpuTrivialKernel = kernel(WGSL_TRIVIAL, [gtiny]);

async function gpuRun(
  [pipeline, bindGroup]: [GPUComputePipeline, GPUBindGroup],
  groups: number,
  dispatches = 1,
): Promise<void> {
  const encoder = gpu.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  for (let i = 0; i < dispatches; i++) pass.dispatchWorkgroups(groups);
  pass.end();
  gpu.queue.submit([encoder.finish()]);
  await gpu.queue.onSubmittedWorkDone();
}

async function readGpu(buffer: GPUBuffer, count: number): Promise<Float32Array> {
  const staging = gpu.createBuffer({
    size: count * 4,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const encoder = gpu.createCommandEncoder();
  encoder.copyBufferToBuffer(buffer, 0, staging, 0, count * 4);
  gpu.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(staging.getMappedRange().slice(0));
  staging.unmap();
  staging.destroy();
  return out;
}

// ---- Checks: both sides computed the same thing ---------------------------------------------

function assertClose(what: string, got: Float32Array, want: Float32Array, tolerance: number) {
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    worst = Math.max(worst, Math.abs(got[i] - want[i]) / Math.max(1e-6, Math.abs(want[i])));
  }
  if (!(worst <= tolerance)) throw new Error(`${what}: relative error ${worst} > ${tolerance}`);
}

cpuAdd();
await gpuRun(gpuAddKernel, N / 4 / 256);
assertClose("add", await readGpu(gsum, N), new Float32Array(sum.contents), 1e-6);
cpuSoftmax()();
await gpuRun(gpuSoftmaxKernel, ROWS);
assertClose(
  "softmax",
  await readGpu(gy, COLS * 4),
  new Float32Array(y.contents, 0, COLS * 4),
  1e-4,
);
if (!rmsNormPending) {
  cpuRmsNorm()();
  await gpuRun(gpuRmsKernel, ROWS);
  assertClose(
    "rms_norm",
    await readGpu(gy, COLS * 4),
    new Float32Array(y.contents, 0, COLS * 4),
    1e-4,
  );
}

// ---- Measurement ---------------------------------------------------------------------------

// memcpy of `bytes` (the bytes a kernel moves, read + write, is 2 * bytes).
const copySrc = new Uint8Array(16 * MiB).fill(1);
const copyDst = new Uint8Array(16 * MiB);
const memcpy = (bytes: number) => () => copyDst.set(copySrc.subarray(0, bytes));

type Timed = () => void | Promise<void>;
interface Row {
  name: string;
  execution: string; // Pipeline.execution of the CPU backend's kernel
  threads: string; // threads per row ("" for non-row kernels)
  traffic: number; // bytes read + written by the kernel (minimum)
  cpu: Timed;
  gpu?: Timed; // absent: the row compares CPU strategies only
  copy: Timed;
  pending?: string;
}

const execution = async (name: string) => (await registry.getPipeline(name, cpu)).execution;
const addExecution = await execution("elementwise_add_f32");
const softmaxExecution = await execution("softmax_f32");
const rmsNormExecution = rmsNormPending ? "" : await execution("rms_norm_f32");
const defaultLabel = `${defaultThreadsPerRow} (default)`;
const rowKernels = (rows: number): Row[] => [
  {
    name: `softmax_f32 (${rows} x ${COLS})`,
    execution: softmaxExecution,
    threads: defaultLabel,
    traffic: 2 * rows * COLS * 4,
    cpu: cpuSoftmax(rows),
    gpu: () => gpuRun(gpuSoftmaxKernel, rows),
    copy: memcpy(rows * COLS * 4),
  },
  {
    name: `rms_norm_f32 (${rows} x ${COLS})`,
    execution: rmsNormExecution,
    threads: defaultLabel,
    traffic: 2 * rows * COLS * 4 + COLS * 4,
    cpu: cpuRmsNorm(rows),
    gpu: () => gpuRun(gpuRmsKernel, rows),
    copy: memcpy(rows * COLS * 4 + COLS * 2),
    pending: rmsNormPending,
  },
];
/** The 1024-row kernels at other widths (`threadsPerRow`), or on fibers: CPU only. */
const variant = (
  threadsPerRow: number,
  kernels: KernelRegistry,
  softmaxHow: string,
  rmsNormHow: string,
): Row[] => [
  {
    name: `softmax_f32 (${BIG_ROWS} x ${COLS})`,
    execution: softmaxHow,
    threads: String(threadsPerRow),
    traffic: 2 * BIG_ROWS * COLS * 4,
    cpu: cpuSoftmax(BIG_ROWS, kernels, threadsPerRow),
    copy: memcpy(BIG_ROWS * COLS * 4),
  },
  {
    name: `rms_norm_f32 (${BIG_ROWS} x ${COLS})`,
    execution: rmsNormHow,
    threads: String(threadsPerRow),
    traffic: 2 * BIG_ROWS * COLS * 4 + COLS * 4,
    cpu: cpuRmsNorm(BIG_ROWS, kernels, threadsPerRow),
    copy: memcpy(BIG_ROWS * COLS * 4 + COLS * 2),
    pending: rmsNormPending,
  },
];
const rows: Row[] = [
  {
    name: "elementwise_add_f32 (n = 2^20)",
    execution: addExecution,
    threads: "",
    traffic: 3 * N * 4,
    cpu: cpuAdd,
    gpu: () => gpuRun(gpuAddKernel, N / 4 / 256),
    copy: memcpy((3 * N * 4) / 2),
  },
  ...rowKernels(ROWS),
  ...rowKernels(BIG_ROWS),
  ...SWEEP.flatMap((t) => variant(t, registry, softmaxExecution, rmsNormExecution)),
  ...variant(
    32,
    fiberRegistry,
    (await fiberRegistry.getPipeline("softmax_f32", cpu)).execution,
    rmsNormPending ? "" : (await fiberRegistry.getPipeline("rms_norm_f32", cpu)).execution,
  ),
];

interface Overhead {
  name: string;
  cpu: Timed;
  gpu: Timed;
}
const DISPATCHES = 16;
const overheads: Overhead[] = [
  {
    name: "1 dispatch / command buffer",
    cpu: () => cpuTrivial(1),
    gpu: () => gpuRun(gpuTrivialKernel, 1),
  },
  {
    name: "1 dispatch, awaited (completed())",
    cpu: cpuTrivialAsync,
    gpu: () => gpuRun(gpuTrivialKernel, 1),
  },
  {
    name: `${DISPATCHES} dispatches / command buffer`,
    cpu: () => cpuTrivial(DISPATCHES),
    gpu: () => gpuRun(gpuTrivialKernel, 1, DISPATCHES),
  },
];

async function time(fn: Timed, repeat = 1): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < repeat; i++) await fn();
  return (performance.now() - start) / repeat;
}

const median = (v: number[]) => {
  const s = [...v].sort((p, q) => p - q);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const samples = new Map<string, number[]>();
const record = (key: string, ms: number) => samples.set(key, [...(samples.get(key) ?? []), ms]);

// Interleaved: every round runs every contender; the first two rounds are warm-up.
for (let round = 0; round < rounds + 2; round++) {
  const keep = round >= 2;
  for (const row of rows) {
    if (row.pending) continue;
    const c = await time(row.cpu);
    const d = lastDeviceMs;
    const g = row.gpu ? await time(row.gpu) : NaN;
    const m = await time(row.copy);
    if (keep) {
      const key = `${row.name}|${row.execution}|${row.threads}`;
      record(`${key}|cpu`, c);
      record(`${key}|device`, d);
      record(`${key}|gpu`, g);
      record(`${key}|copy`, m);
    }
  }
  for (const o of overheads) {
    const c = await time(o.cpu, 50);
    const g = await time(o.gpu, 50);
    if (keep) {
      record(`${o.name}|cpu`, c);
      record(`${o.name}|gpu`, g);
    }
  }
}

const fmt = (ms: number) => (ms >= 1 ? ms.toFixed(2) + " ms" : (ms * 1000).toFixed(1) + " µs");
const gbs = (bytes: number, ms: number) => (bytes / ms / 1e6).toFixed(1);

const lines = [
  `CPU backend: ${cpu.name}; WebGPU: ${adapter.info?.description ?? "adapter"}`,
  `medians of ${rounds} interleaved rounds (after 2 warm-up rounds); "best" is the ratio of ` +
  "the fastest rounds, the figure least disturbed by other processes on a shared machine",
  "",
  "| kernel | CPU execution | threads / row | CPU backend | of which device time | WebGPU | memcpy same bytes | CPU / WebGPU | CPU / memcpy | CPU / memcpy, best | CPU GB/s |",
  "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
];
for (const row of rows) {
  if (row.pending) {
    lines.push(`| ${row.name} | | ${row.threads} | ${row.pending} | | | | | | | |`);
    continue;
  }
  const key = `${row.name}|${row.execution}|${row.threads}`;
  const c = median(samples.get(`${key}|cpu`)!);
  const d = median(samples.get(`${key}|device`)!);
  const g = median(samples.get(`${key}|gpu`)!);
  const m = median(samples.get(`${key}|copy`)!);
  const best = Math.min(...samples.get(`${key}|cpu`)!) / Math.min(...samples.get(`${key}|copy`)!);
  lines.push(
    `| ${row.name} | ${row.execution} | ${row.threads} | ${fmt(c)} | ${fmt(d)} | ${
      Number.isNaN(g) ? "—" : fmt(g)
    } | ${fmt(m)} | ${Number.isNaN(g) ? "—" : (c / g).toFixed(2)} | ${(c / m).toFixed(2)} | ${
      best.toFixed(2)
    } | ${gbs(row.traffic, c)} |`,
  );
}
lines.push(
  "",
  "| dispatch overhead (trivial kernel, 32 threads) | CPU backend | WebGPU | CPU / WebGPU |",
  "|---|---:|---:|---:|",
);
for (const o of overheads) {
  const c = median(samples.get(`${o.name}|cpu`)!);
  const g = median(samples.get(`${o.name}|gpu`)!);
  lines.push(`| ${o.name} | ${fmt(c)} | ${fmt(g)} | ${(c / g).toFixed(2)} |`);
}
// How the CPU backend runs each catalogue kernel: barrier kernels as work-item loops or on fibers.
const executions = new Map<string, string[]>();
for (const [name, entry] of Object.entries(KERNELS)) {
  let how: string;
  try {
    how = (await registry.getPipeline(name, cpu, entry.constants)).execution;
  } catch {
    how = "not built here";
  }
  executions.set(how, [...(executions.get(how) ?? []), name]);
}
const count = (how: string) => executions.get(how)?.length ?? 0;
const barrierKernels = count("work-item-loops") + count("fibers");
lines.push(
  "",
  `Catalogue kernels on the CPU backend (${Object.keys(KERNELS).length}): ${count("loop")} plain ` +
    `loops; of the ${barrierKernels} with barriers or SIMD-group functions, ` +
    `${count("work-item-loops")} run as work-item loops and ${count("fibers")} on fibers` +
    (count("not built here") ? `; ${count("not built here")} not built here` : "") + ".",
  "",
  `On fibers: ${(executions.get("fibers") ?? []).join(", ")}.`,
);
console.log(lines.join("\n"));
writeSection(
  "cpu-throughput",
  "CPU backend throughput",
  [
    `Command: \`deno task bench\` (bench/cpu_throughput.ts, \`--rounds ${rounds}\`). Machine: ${machine()}.`,
    "",
    "Every contender runs in every round, interleaved: the CPU backend (one command buffer: op",
    "helper encode + commit + wait), Deno's WebGPU on Mesa llvmpipe (encode + submit +",
    "onSubmittedWorkDone, equivalent WGSL), and a TypedArray.set memcpy of as many bytes as the",
    "kernel reads and writes. Results of both backends are checked against each other first.",
    "\"of which device time\" is the command buffer's gpuEndTime − gpuStartTime: the kernels' run",
    "on the worker pool without the host's encode, commit and wake-up.",
    `Row kernels (softmax, rms_norm) run ${defaultThreadsPerRow} thread(s) per row by default on the CPU`,
    "backend (ops/_dispatch.ts rowDispatch, CPU_ROW_MAX_THREADS); the other widths are the ops'",
    '`threadsPerRow` option. "CPU execution" is how the CPU backend runs the kernel\'s threads',
    "(Pipeline.execution): barrier kernels split into work-item loops, or fibers.",
    "",
    ...lines,
  ].join("\n"),
);

registry.close();
fiberRegistry.close();
cpu.close();
gpu.destroy();
