// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// Helpers for the op-family tests: checking an op against its f64 reference (checkOp), tolerances, seeded data, buffers in any dtype, running an encode, and
// spies that prove validation dispatches nothing.
import assert from "node:assert";
import type { DeviceBuffer } from "../../buffer.ts";
import type { ComputeEncoder, Device } from "../../device.ts";
import {
  bytesPerElement,
  type DType,
  type FloatDType,
  fromDTypeBytes,
  toDTypeArray,
} from "../../dtype.ts";
import type { KernelRegistry } from "../../registry.ts";

/** One run of an op checked against its reference (see {@linkcode checkOp}). */
export interface OpCase<I extends string, O extends string> {
  /** Names the case in failure messages, e.g. `"softmax_f16 [3, 33]"`. */
  label: string;
  /** Input buffers: dtype and values (rounded to the dtype on upload). */
  inputs: Record<I, { dtype: DType; values: ArrayLike<number> }>;
  /**
   * Output buffers: dtype and element count (zero-filled), or `inPlace` naming the input
   * buffer the op overwrites.
   */
  outputs: Record<O, { dtype: DType; length: number; inPlace?: I }>;
  /** Encodes the op with these buffers. */
  encode(encoder: ComputeEncoder, buffers: Record<I | O, DeviceBuffer>): Promise<void> | void;
  /** The expected outputs, computed in f64 from the exact values the kernel read. */
  reference(inputs: Record<I, Float64Array>): Record<O, ArrayLike<number>>;
  /** The tolerance of every output, or one per output. */
  tolerance: Tolerance | Record<O, Tolerance>;
}

/**
 * Uploads a case's inputs, runs its op in a fresh command buffer, and asserts every output
 * close to the reference. Every buffer is released when the call returns.
 *
 * @returns The outputs, for assertions beyond the reference.
 */
export async function checkOp<I extends string, O extends string>(
  device: Device,
  op: OpCase<I, O>,
): Promise<Record<O, Float64Array>> {
  using stack = new DisposableStack();
  const buffers = {} as Record<I | O, DeviceBuffer>;
  const read = {} as Record<I, Float64Array>;
  for (
    const [name, { dtype, values }] of Object.entries(op.inputs) as [I, OpCase<I, O>["inputs"][I]][]
  ) {
    const uploaded = upload(device, dtype, values);
    buffers[name] = stack.use(uploaded.buffer);
    read[name] = uploaded.values;
  }
  const outputs = Object.entries(op.outputs) as [O, OpCase<I, O>["outputs"][O]][];
  for (const [name, { dtype, length, inPlace }] of outputs) {
    buffers[name] = inPlace !== undefined
      ? buffers[inPlace]
      : stack.use(device.newBuffer(Math.max(1, length * bytesPerElement(dtype))));
  }
  const expected = op.reference(read);
  await run(device, (encoder) => op.encode(encoder, buffers));
  const got = {} as Record<O, Float64Array>;
  for (const [name, { dtype, length }] of outputs) {
    got[name] = download(buffers[name], dtype, length);
    const tolerance = "rtol" in op.tolerance
      ? op.tolerance as Tolerance
      : (op.tolerance as Record<O, Tolerance>)[name];
    assertClose(got[name], expected[name], tolerance, `${op.label} ${name}`);
  }
  return got;
}

/** `|actual - expected| <= atol + rtol * |expected|`. */
export interface Tolerance {
  rtol: number;
  atol: number;
}

/**
 * Per-dtype tolerances for kernel results against the f64 references, whose inputs are the
 * exact values the kernel read. rtol: each kernel rounds its f32 result once to the storage
 * dtype, which costs at most the dtype's unit roundoff u, plus a few f32 ulps of arithmetic
 * (fast-math exp, division, sums of up to 32000 terms in per-thread and tree partials).
 * - f32: u = 2^-24 ≈ 6e-8; summing 32000 terms costs up to ~(32000 / 1024 + 10) u ≈ 3e-6,
 *   fast-math exp a few ulps; 1e-5 leaves 3× margin.
 * - f16: u = 2^-11 ≈ 4.9e-4; 1e-3 ≈ 2u covers the rounding plus the f32 error above.
 * - bf16: u = 2^-8 ≈ 3.9e-3; 8e-3 ≈ 2u, likewise.
 * atol is the dtype's smallest normal number: a device may flush subnormal results to zero
 * (Metal's fast math does for f32), an absolute error below that size.
 */
export const TOLERANCES: Readonly<Record<FloatDType, Tolerance>> = {
  f32: { rtol: 1e-5, atol: 2 ** -126 },
  f16: { rtol: 1e-3, atol: 2 ** -14 },
  bf16: { rtol: 8e-3, atol: 2 ** -126 },
};

/** Exact comparison (widening casts, permutations, gathers of exact values). */
export const EXACT: Tolerance = { rtol: 0, atol: 0 };

/**
 * `deno task metal-report` sets this to a file: every {@linkcode assertClose} appends one JSON
 * line (label, largest errors, tolerance, and the device and wall time of the last
 * {@linkcode run}), so the report shows each kernel's error on each backend.
 */
const REPORT_LOG = Deno.env.get("METAL_COMPUTE_REPORT_LOG");
let lastRun: { wallMs: number; gpuMs?: number; kernel?: string } | undefined;

function logCheck(line: Record<string, unknown>): void {
  if (!REPORT_LOG) return;
  Deno.writeTextFileSync(REPORT_LOG, JSON.stringify(line) + "\n", { append: true });
  lastRun = undefined;
}

/**
 * Asserts element-wise closeness; non-finite expected values must match exactly. The
 * message names the first failing index, the worst error, and how many failed.
 */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tolerance: Tolerance,
  label: string,
): void {
  assert.strictEqual(actual.length, expected.length, `${label}: length`);
  let failures = 0;
  let first = -1;
  let worst = 0;
  let worstIndex = -1;
  let worstAbsolute = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    let ok: boolean;
    if (!Number.isFinite(e)) {
      ok = Object.is(a, e) || (Number.isNaN(a) && Number.isNaN(e));
    } else {
      const err = Math.abs(a - e);
      ok = err <= tolerance.atol + tolerance.rtol * Math.abs(e);
      if (!(err <= worstAbsolute)) worstAbsolute = err;
      const rel = err / Math.max(Math.abs(e), tolerance.atol || Number.MIN_VALUE);
      if (!(rel <= worst)) {
        worst = rel;
        worstIndex = i;
      }
    }
    if (!ok) {
      failures++;
      if (first < 0) first = i;
    }
  }
  logCheck({
    label,
    elements: expected.length,
    failures,
    maxAbsoluteError: worstAbsolute,
    maxRelativeError: worst,
    rtol: tolerance.rtol,
    atol: tolerance.atol,
    ...lastRun,
  });
  if (failures > 0) {
    assert.fail(
      `${label}: ${failures} of ${expected.length} elements out of tolerance ` +
        `(rtol ${tolerance.rtol}, atol ${tolerance.atol}); first at [${first}]: got ${
          actual[first]
        }, expected ${expected[first]}; worst relative error ${worst} at [${worstIndex}]`,
    );
  }
}

/** A seeded PRNG (mulberry32) returning floats in [0, 1). */
export function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `length` seeded values uniform in [lo, hi). */
export function uniform(length: number, lo: number, hi: number, seed: number): Float64Array {
  const next = rng(seed);
  const out = new Float64Array(length);
  for (let i = 0; i < length; i++) out[i] = lo + (hi - lo) * next();
  return out;
}

/** A device buffer holding `values` encoded as `dtype`, and the exact values it holds. */
export interface TypedBuffer {
  buffer: DeviceBuffer;
  values: Float64Array;
}

/** Uploads `values` as `dtype`; `values` of the result are what the kernel will read. */
export function upload(device: Device, dtype: DType, values: ArrayLike<number>): TypedBuffer {
  const encoded = toDTypeArray(dtype, values);
  return {
    buffer: device.newBuffer(encoded),
    values: fromDTypeBytes(dtype, encoded, values.length),
  };
}

/** Reads `length` elements of `dtype` from a buffer as numbers. */
export function download(buffer: DeviceBuffer, dtype: DType, length: number): Float64Array {
  return fromDTypeBytes(dtype, buffer.contents, length);
}

/** Encodes with `encode` into a fresh command buffer, commits it and waits. */
export async function run(
  device: Device,
  encode: (encoder: ComputeEncoder) => Promise<void> | void,
): Promise<void> {
  using commands = device.newCommandBuffer();
  const encoder = commands.computeEncoder();
  // The report attributes the next check to the kernel that wrote its output: the last one set.
  const kernels = REPORT_LOG ? recordKernels(encoder) : [];
  try {
    await encode(encoder);
  } finally {
    if (!encoder.ended) encoder.end();
  }
  const started = performance.now();
  commands.commit();
  await commands.completed();
  lastRun = { wallMs: performance.now() - started, kernel: kernels.at(-1) };
  if (REPORT_LOG) {
    try {
      lastRun.gpuMs = (commands.gpuEndTime - commands.gpuStartTime) * 1000;
    } catch {
      // the device reported no times: the report shows wall time only
    }
  }
}

/**
 * Wraps `encoder.setPipeline` so that the returned list names the kernel of every pipeline
 * set on the encoder, in order (which kernels an op chose).
 */
export function recordKernels(encoder: ComputeEncoder): string[] {
  const kernels: string[] = [];
  const setPipeline = encoder.setPipeline.bind(encoder);
  encoder.setPipeline = (pipeline) => {
    kernels.push(pipeline.name);
    setPipeline(pipeline);
  };
  return kernels;
}

/** The text of `shaders/<file>`. */
export function shaderText(file: string): string {
  return Deno.readTextFileSync(new URL(`../../shaders/${file}`, import.meta.url));
}

/**
 * The value of `constant constexpr uint <name> = N;` in a shader's text (how the shaders spell
 * the numbers `ops/` mirrors); fails when the text does not declare it so.
 */
export function shaderConstant(text: string, name: string): number {
  const match = text.match(new RegExp(`constant constexpr uint ${name} = (\\d+);`));
  assert.ok(match, `${name} is not declared as a constant constexpr uint`);
  return Number(match[1]);
}

/** Records every call an op makes on its encoder and registry. */
export interface Spies {
  encoder: ComputeEncoder;
  registry: KernelRegistry;
  calls: string[];
}

/**
 * An encoder and a registry that only record calls, for tests that an invalid op throws
 * before touching either.
 */
export function spies(device: Device): Spies {
  const calls: string[] = [];
  const record = (name: string) => (..._args: unknown[]) => {
    calls.push(name);
  };
  const encoder = {
    device,
    ended: false,
    setPipeline: record("setPipeline"),
    setBuffer: record("setBuffer"),
    setBytes: record("setBytes"),
    setThreadgroupMemoryLength: record("setThreadgroupMemoryLength"),
    dispatchThreads: record("dispatchThreads"),
    dispatchThreadgroups: record("dispatchThreadgroups"),
    end: record("end"),
  } as unknown as ComputeEncoder;
  const registry = {
    getPipeline: (name: string) => {
      calls.push(`getPipeline(${name})`);
      return Promise.reject(new Error("spy registry"));
    },
    getPipelineSync: (name: string) => {
      calls.push(`getPipelineSync(${name})`);
      throw new Error("spy registry");
    },
  } as unknown as KernelRegistry;
  return { encoder, registry, calls };
}

/**
 * Returns a check that both the async op and its sync twin reject/throw `errorClass` with a
 * message matching `message`, and that neither touched the encoder or registry. (Curried so
 * the options literal is typed by the op's options type.)
 */
export function assertRejectsBeforeNative<O>(
  op: (encoder: ComputeEncoder, options: O) => Promise<void>,
  opSync: (encoder: ComputeEncoder, options: O) => void,
): (
  device: Device,
  options: (registry: KernelRegistry) => O,
  errorClass: typeof TypeError | typeof RangeError,
  message: RegExp,
) => Promise<void> {
  return async (device, options, errorClass, message) => {
    const check = (e: unknown) => {
      assert.ok(e instanceof errorClass, `expected ${errorClass.name}, got ${e}`);
      assert.match((e as Error).message, message);
      return true;
    };
    const a = spies(device);
    await assert.rejects(() => op(a.encoder, options(a.registry)), check);
    assert.deepStrictEqual(a.calls, []);
    const s = spies(device);
    assert.throws(() => opSync(s.encoder, options(s.registry)), check);
    assert.deepStrictEqual(s.calls, []);
  };
}

/**
 * The row widths (`threadsPerRow`) every row-op test family runs: the backend's default (one
 * thread per row on the CPU backend, where no cross-lane reduction runs), one full SIMD-group
 * (the cross-lane reductions), and 80 threads: two full SIMD-groups and a partial third (the
 * combine across SIMD-groups, with a last SIMD-group of 16 lanes).
 */
export const ROW_WIDTHS: readonly (number | undefined)[] = [undefined, 32, 80];

/** A label suffix for a row width of {@linkcode ROW_WIDTHS}. */
export function widthLabel(threadsPerRow: number | undefined): string {
  return threadsPerRow === undefined ? "" : `, ${threadsPerRow} threads per row`;
}

/**
 * Runs a `*Sync` op on an encoder of a fake device of `backend` and a registry whose pipelines
 * take up to `pipelineMax` threads, dispatching nothing; returns the threads per threadgroup
 * of its dispatch (how a row op chose its width).
 */
export function dispatchedThreads(
  backend: "cpu" | "metal",
  encode: (encoder: ComputeEncoder, registry: KernelRegistry) => void,
  pipelineMax = 1024,
): number {
  const fakeDevice = { name: "fake", backend, capabilities: { bfloat16: true } };
  let threadgroup: readonly number[] = [];
  const ignore = () => {};
  const encoder = {
    device: fakeDevice,
    setPipeline: ignore,
    setBuffer: ignore,
    setBytes: ignore,
    setThreadgroupMemoryLength: ignore,
    dispatchThreads: ignore,
    dispatchThreadgroups(_grid: unknown, size: readonly number[]) {
      threadgroup = size;
    },
  } as unknown as ComputeEncoder;
  const registry = {
    getPipeline: () => Promise.reject(new Error("unused")),
    getPipelineSync: (name: string) => ({ name, maxTotalThreadsPerThreadgroup: pipelineMax }),
  } as unknown as KernelRegistry;
  encode(encoder, registry);
  return threadgroup[0] * threadgroup[1] * threadgroup[2];
}
