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
import { rmsNorm } from "./ops/rms_norm.ts";
import { rmsNormRef } from "./ops/rms_norm_ref.ts";
import { denseMatvec } from "./ops/matmul.ts";
import { matmulRef } from "./ops/matmul_ref.ts";
import { parseCli } from "./tools/_cli.ts";

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

/** Normwise relative error: the largest |actual - expected| over the largest |expected|. */
function relativeError(actual: Float64Array, expected: Float64Array): number {
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    const error = Math.abs(actual[i] - expected[i]);
    worst = Math.max(worst, Number.isNaN(error) ? Infinity : error);
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return worst / (scale || 1);
}

function ms(start: number): string {
  return `${(performance.now() - start).toFixed(1)} ms`;
}

parseCli({
  usage: "deno task demo",
  summary: "Compiles, runs and verifies kernels on this machine's backend (exits 1 on a mismatch).",
  options: {},
});

// The open counts: on first use it builds the native bridge (progress on stderr).
const opening = performance.now();
using device = await Device.open();
const opened = ms(opening);
using registry = new KernelRegistry();
console.log(`@metal-compute/kernels demo`);
console.log(`device: ${device.name} (backend "${device.backend}"), opened in ${opened}\n`);

// Compile: cold (library compile, or the on-disk cache of an earlier run), then cached.
const kernels = [
  "elementwise_add_f32",
  "elementwise_add_f16",
  "elementwise_add_bf16",
  "elementwise_mul_f32",
  "softmax_f32",
  "softmax_f16",
  "softmax_bf16",
  "rms_norm_f32",
  "dense_matvec_f16w_f32io",
  "placeholder",
];
let start = performance.now();
const pipelines = await Promise.all(kernels.map((name) => registry.getPipeline(name, device)));
pipelines.push(await registry.getPipeline("placeholder", device, { 100: 3, 200: true }));
const cold = ms(start);
const fromDisk = pipelines.filter((p) => p.origin === "cache").length;
start = performance.now();
for (let i = 0; i < 1000; i++) registry.getPipelineSync(kernels[i % kernels.length], device);
const cachedMicros = ((performance.now() - start) * 1000 / 1000).toFixed(2);
const { libraryCompiles, pipelineBuilds } = registry.stats;
console.log(
  `first use: device open ${opened}, then ${pipelines.length} pipelines, ${libraryCompiles} library compiles, ` +
    `${pipelineBuilds} pipeline builds, in ${cold} ` +
    `(${pipelines.length - fromDisk} compiled, ${fromDisk} from the persistent cache)`,
);
console.log(`cached:    getPipelineSync answers in ${cachedMicros} µs per call\n`);

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
  // One decoder step's shapes: RMS-normalise a 4096-wide hidden state, then project it.
  const dim = 4096, n = 1024;
  const hidden = values(dim, 3, 7);
  const weight = values(dim, 1, 8).map((x) => 1 + x / 4);
  const normed = upload("f32", new Array(dim).fill(0));
  const [gh, gw] = [upload("f32", hidden), upload("f32", weight)];
  checks.push({
    kernel: "rms_norm_f32",
    shape: `[1, ${dim}]`,
    dtype: "f32",
    run: (encoder) =>
      rmsNorm(encoder, {
        registry,
        input: gh,
        weight: gw,
        output: normed,
        dtype: "f32",
        rows: 1,
        dim,
        eps: 1e-6,
      }),
    output: normed,
    expected: rmsNormRef(hidden, { rows: 1, dim, eps: 1e-6, weight }),
  });
  const x = values(dim, 1, 9);
  const w = values(n * dim, 0.05, 10).map((v) => roundToDType("f16", v));
  const [gx, gwf] = [upload("f32", x), upload("f16", w)];
  const projected = upload("f32", new Array(n).fill(0));
  checks.push({
    kernel: "dense_matvec_f16w_f32io",
    shape: `[1, ${dim}] x [${n}, ${dim}]ᵀ`,
    dtype: "f32",
    run: (encoder) =>
      denseMatvec(encoder, {
        registry,
        input: gx,
        weight: gwf,
        output: projected,
        weightDType: "f16",
        dtype: "f32",
        n,
        k: dim,
      }),
    output: projected,
    expected: matmulRef(x, w, 1, n, dim),
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
console.log(
  "kernel                            shape                      rel err    tolerance  result",
);
for (const check of checks) {
  const actual = fromDTypeBytes(check.dtype, check.output.contents, check.expected.length);
  const error = relativeError(actual, check.expected);
  const ok = error <= TOLERANCE[check.dtype];
  if (!ok) failures++;
  console.log(
    `${check.kernel.padEnd(34)}${check.shape.padEnd(27)}${error.toExponential(2).padEnd(11)}` +
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
