// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * The demo: opens this machine's default device, compiles the kernels it uses (cold, then
 * cached), runs them on generated data, and checks each against its f64 reference. Exits
 * non-zero on any mismatch.
 *
 * Run: `deno task demo`
 *
 * @module
 */
import { type ComputeEncoder, Device, type DeviceBuffer, KernelRegistry } from "./mod.ts";
import { type FloatDType, fromDTypeBytes, roundToDType, toDTypeArray } from "./dtype.ts";
import { elementwiseAdd, elementwiseMul } from "./ops/elementwise.ts";
import { elementwiseAddRef, elementwiseMulRef } from "./ops/elementwise_ref.ts";
import { softmax } from "./ops/softmax.ts";
import { softmaxRef } from "./ops/softmax_ref.ts";
import { placeholder } from "./ops/placeholder.ts";
import { placeholderRef } from "./ops/placeholder_ref.ts";

/** Largest relative error each storage type may show against the f64 reference. */
const TOLERANCE: Record<FloatDType, number> = { f32: 1e-5, f16: 2e-3, bf16: 1.6e-2 };

interface Check {
  kernel: string;
  shape: string;
  dtype: FloatDType;
  run: (encoder: ComputeEncoder) => Promise<void>;
  output: DeviceBuffer;
  expected: Float64Array;
}

/** A small deterministic generator (mulberry32), so every run sees the same data. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function values(count: number, scale: number, seed: number): number[] {
  const next = random(seed);
  return Array.from({ length: count }, () => (next() * 2 - 1) * scale);
}

function relativeError(actual: Float64Array, expected: Float64Array): number {
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const error = Math.abs(actual[i] - expected[i]) / Math.max(Math.abs(expected[i]), 1e-3);
    worst = Math.max(worst, Number.isNaN(error) ? Infinity : error);
  }
  return worst;
}

function ms(start: number): string {
  return `${(performance.now() - start).toFixed(1)} ms`;
}

using device = Device.systemDefault();
using registry = new KernelRegistry();
console.log(`@metal-compute/kernels demo`);
console.log(`device: ${device.name} (backend "${device.backend}")\n`);

// Compile: cold (library compile, or the on-disk cache of an earlier run), then cached.
const kernels = [
  "elementwise_add_f32",
  "elementwise_add_f16",
  "elementwise_add_bf16",
  "elementwise_mul_f32",
  "softmax_f32",
  "softmax_f16",
  "softmax_bf16",
  "placeholder",
];
let start = performance.now();
await Promise.all(kernels.map((name) => registry.getPipeline(name, device)));
await registry.getPipeline("placeholder", device, { 100: 3, 200: true });
const cold = ms(start);
start = performance.now();
for (let i = 0; i < 1000; i++) registry.getPipelineSync(kernels[i % kernels.length], device);
const cachedMicros = ((performance.now() - start) * 1000 / 1000).toFixed(2);
const { libraryCompiles, pipelineBuilds } = registry.stats;
console.log(
  `compile: ${kernels.length + 1} pipelines from ${libraryCompiles} library compiles ` +
    `(${pipelineBuilds} pipeline builds) in ${cold}; cached lookup ${cachedMicros} µs\n`,
);

const checks: Check[] = [];
const buffers: DeviceBuffer[] = [];
function upload(dtype: FloatDType, data: number[]): DeviceBuffer {
  const buffer = device.newBuffer(toDTypeArray(dtype, data));
  buffers.push(buffer);
  return buffer;
}

const n = 1_000_003; // a million, not a multiple of 32
for (const dtype of ["f32", "f16", "bf16"] as const) {
  const a = values(n, 4, 1).map((x) => roundToDType(dtype, x));
  const b = values(n, 4, 2).map((x) => roundToDType(dtype, x));
  const [ga, gb] = [upload(dtype, a), upload(dtype, b)];
  const output = upload(dtype, new Array(n).fill(0));
  checks.push({
    kernel: `elementwise_add_${dtype}`,
    shape: `[${n}]`,
    dtype,
    run: (encoder) => elementwiseAdd(encoder, { registry, a: ga, b: gb, output, dtype, length: n }),
    output,
    expected: elementwiseAddRef(a, b),
  });
}
{
  const a = values(n, 4, 3), b = values(n, 4, 4);
  const [ga, gb] = [upload("f32", a), upload("f32", b)];
  const output = upload("f32", new Array(n).fill(0));
  checks.push({
    kernel: "elementwise_mul_f32",
    shape: `[${n}]`,
    dtype: "f32",
    run: (encoder) =>
      elementwiseMul(encoder, { registry, a: ga, b: gb, output, dtype: "f32", length: n }),
    output,
    expected: elementwiseMulRef(a, b),
  });
}
for (
  const [dtype, rows, cols] of [["f32", 64, 4096], ["f16", 33, 1000], ["bf16", 7, 32000]] as const
) {
  const logits = values(rows * cols, 12, rows).map((x) => roundToDType(dtype, x));
  const input = upload(dtype, logits);
  const output = upload(dtype, new Array(rows * cols).fill(0));
  checks.push({
    kernel: `softmax_${dtype}`,
    shape: `[${rows}, ${cols}]`,
    dtype,
    run: (encoder) => softmax(encoder, { registry, input, output, dtype, rows, cols }),
    output,
    expected: softmaxRef(logits, rows, cols),
  });
}
{
  const output = upload("f32", new Array(4099).fill(0));
  checks.push({
    kernel: "placeholder {100: 3, 200: true}",
    shape: "[4099]",
    dtype: "f32",
    run: (encoder) =>
      placeholder(encoder, { registry, output, length: 4099, step: 3, negate: true }),
    output,
    expected: placeholderRef(4099, { step: 3, negate: true }),
  });
}

// One command buffer, one pass, every dispatch; then compare.
start = performance.now();
{
  using commands = device.newCommandBuffer();
  const encoder = commands.computeEncoder();
  for (const check of checks) await check.run(encoder);
  encoder.end();
  commands.commit();
  await commands.completed();
}
const runTime = ms(start);

let failures = 0;
console.log("kernel                            shape           max rel err  tolerance  result");
for (const check of checks) {
  const actual = fromDTypeBytes(check.dtype, check.output.contents, check.expected.length);
  const error = relativeError(actual, check.expected);
  const ok = error <= TOLERANCE[check.dtype];
  if (!ok) failures++;
  console.log(
    `${check.kernel.padEnd(34)}${check.shape.padEnd(16)}${error.toExponential(2).padEnd(13)}` +
      `${TOLERANCE[check.dtype].toExponential(0).padEnd(11)}${ok ? "ok" : "MISMATCH"}`,
  );
}
for (const buffer of buffers) buffer.close();
console.log(
  `\nran ${checks.length} dispatches in ${runTime}: ${
    failures === 0 ? "all verified" : `${failures} mismatched`
  }`,
);
if (failures > 0) Deno.exit(1);
