// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Typed helpers for the activation kernels: `shaders/gelu.metal` (GELU, tanh approximation),
 * `shaders/softcap.metal` (`cap · tanh(x / cap)`), `shaders/sigmoid_mul.metal`
 * (`x · σ(gate)`) and `shaders/silu_mul.metal` (`silu(gate) · up`, the SwiGLU combine).
 * All are element-wise over flat buffers bound from offset 0, f32 arithmetic with one
 * rounding on store, and may run in place. The f64 references are `ops/activations_ref.ts`.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry } from "../mod.ts";
 * import { gelu } from "./activations.ts";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using x = device.newBuffer(new Float32Array([-1, 0, 1, 2]));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await gelu(encoder, { registry, input: x, output: x, dtype: "f32", length: 4 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * console.log(new Float32Array(x.contents)); // [-0.159, 0, 0.841, 1.955]
 * ```
 *
 * @module
 */
import type { DeviceBuffer } from "../buffer.ts";
import type { ComputeEncoder } from "../device.ts";
import { bytesPerElement } from "../dtype.ts";
import type { KernelRegistry } from "../registry.ts";
import type { KernelName } from "../shaders/catalog.ts";
import { ACTIVATION_N_READS } from "./_defines.ts";
import {
  encodePlan,
  encodePlanSync,
  type KernelPlan,
  linearSplit,
  packParams,
} from "./_dispatch.ts";
import { checkBuffer, checkCount, checkRegistry, pickKernel, sizeDetail } from "./_validate.ts";
import type { TableNames } from "../shaders/catalog.ts";
import { GELU_KERNELS } from "../shaders/gelu.ts";
import { SIGMOID_MUL_KERNELS } from "../shaders/sigmoid_mul.ts";
import { SILU_MUL_KERNELS } from "../shaders/silu_mul.ts";
import { SOFTCAP_KERNELS } from "../shaders/softcap.ts";

/**
 * The catalogue names of the activation shaders, by helper and dtype, from the tables beside
 * `gelu.metal`, `softcap.metal`, `sigmoid_mul.metal` and `silu_mul.metal`. Helpers pick
 * names only from here.
 */
export const ACTIVATION_KERNELS: {
  readonly gelu: typeof GELU_KERNELS;
  readonly softcap: typeof SOFTCAP_KERNELS;
  readonly sigmoidMul: typeof SIGMOID_MUL_KERNELS;
  readonly siluMul: typeof SILU_MUL_KERNELS;
} = {
  gelu: GELU_KERNELS,
  softcap: SOFTCAP_KERNELS,
  sigmoidMul: SIGMOID_MUL_KERNELS,
  siluMul: SILU_MUL_KERNELS,
};

/** Every kernel name of the activation shaders. */
export type ActivationKernelName = TableNames<typeof ACTIVATION_KERNELS>;

/** Dtypes of {@linkcode gelu}. */
export type GeluDType = keyof typeof ACTIVATION_KERNELS.gelu;

/** Dtypes of {@linkcode softcap}. */
export type SoftcapDType = keyof typeof ACTIVATION_KERNELS.softcap;

/** Dtypes of {@linkcode sigmoidMul}. */
export type SigmoidMulDType = keyof typeof ACTIVATION_KERNELS.sigmoidMul;

/** Dtypes of {@linkcode siluMul}. */
export type SiluMulDType = keyof typeof ACTIVATION_KERNELS.siluMul;

/** Options of {@linkcode gelu}. */
export interface GeluOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** `length` elements of `dtype`. */
  input: DeviceBuffer;
  /** `length` elements of `dtype`; may be `input` (in place). */
  output: DeviceBuffer;
  /** Storage type of both buffers. */
  dtype: GeluDType;
  /** Number of elements. */
  length: number;
}

/** Options of {@linkcode softcap}. */
export interface SoftcapOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** `length` elements of `dtype`. */
  input: DeviceBuffer;
  /** `length` elements of `dtype`; may be `input` (in place). */
  output: DeviceBuffer;
  /** Storage type of both buffers. */
  dtype: SoftcapDType;
  /**
   * The cap, a finite number `> 0`: Gemma 2 uses 50 for attention logits and 30 for the
   * final logits. Passed to the kernel as f32.
   */
  cap: number;
  /** Number of elements. */
  length: number;
}

/** Options of {@linkcode sigmoidMul}. */
export interface SigmoidMulOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** The values, `length` elements of `dtype`. */
  x: DeviceBuffer;
  /** The gate logits, `length` elements of `dtype`. */
  gate: DeviceBuffer;
  /** `length` elements of `dtype`; may be `x` or `gate` (in place). */
  output: DeviceBuffer;
  /** Storage type of all three buffers. */
  dtype: SigmoidMulDType;
  /** Number of elements. */
  length: number;
}

/** Options of {@linkcode siluMul}. */
export interface SiluMulOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** The gate projection, `length` f32 values. */
  gate: DeviceBuffer;
  /** The up projection, `length` f32 values. */
  up: DeviceBuffer;
  /** `length` f32 values; may be `gate` or `up` (in place). */
  output: DeviceBuffer;
  /**
   * Storage type; only `"f32"`.
   *
   * @default {"f32"}
   */
  dtype?: SiluMulDType;
  /** Number of elements. */
  length: number;
}

/** The plan shared by every activation: flat buffers of `length` elements, `{ ...; uint n }`. */
function flatPlan(
  registry: KernelRegistry,
  kernel: KernelName,
  dtype: string,
  length: number,
  buffers: readonly (readonly [string, unknown])[],
  leadingParams: readonly ["f32", number][] = [],
): KernelPlan {
  const n = checkCount(kernel, "length", length);
  const size = bytesPerElement(dtype as GeluDType);
  const detail = sizeDetail([["length", n]], size);
  for (const [name, buffer] of buffers) checkBuffer(kernel, name, buffer, n * size, detail);
  const params = packParams([...leadingParams, ["u32", n]]);
  return {
    registry,
    kernel,
    args: [...buffers.map(([, buffer]) => buffer as DeviceBuffer), params],
    usesBfloat16: dtype === "bf16",
    geometry: (pipeline) => linearSplit(pipeline, Math.ceil(n / ACTIVATION_N_READS)),
  };
}

function geluPlan(options: GeluOptions): KernelPlan {
  checkRegistry("gelu", options.registry);
  const kernel = pickKernel("gelu", ACTIVATION_KERNELS.gelu, "dtype", options.dtype);
  // struct ActivationParams { uint n; }
  return flatPlan(options.registry, kernel, options.dtype, options.length, [
    ["input", options.input],
    ["output", options.output],
  ]);
}

function softcapPlan(options: SoftcapOptions): KernelPlan {
  checkRegistry("softcap", options.registry);
  const kernel = pickKernel("softcap", ACTIVATION_KERNELS.softcap, "dtype", options.dtype);
  const cap = options.cap;
  if (typeof cap !== "number") {
    throw new TypeError(
      `Cannot encode ${kernel}: "cap" is ${typeof cap}, expected a finite number greater than 0`,
    );
  }
  if (!(Number.isFinite(cap) && cap > 0 && Math.fround(cap) > 0)) {
    throw new RangeError(
      `Cannot encode ${kernel}: "cap" is ${cap}, expected a finite number greater than 0`,
    );
  }
  // struct SoftcapParams { float cap; uint n; }
  return flatPlan(
    options.registry,
    kernel,
    options.dtype,
    options.length,
    [["input", options.input], ["output", options.output]],
    [["f32", cap]],
  );
}

function sigmoidMulPlan(options: SigmoidMulOptions): KernelPlan {
  checkRegistry("sigmoidMul", options.registry);
  const kernel = pickKernel("sigmoidMul", ACTIVATION_KERNELS.sigmoidMul, "dtype", options.dtype);
  // struct ActivationParams { uint n; }
  return flatPlan(options.registry, kernel, options.dtype, options.length, [
    ["x", options.x],
    ["gate", options.gate],
    ["output", options.output],
  ]);
}

function siluMulPlan(options: SiluMulOptions): KernelPlan {
  checkRegistry("siluMul", options.registry);
  const dtype = options.dtype ?? "f32";
  const kernel = pickKernel("siluMul", ACTIVATION_KERNELS.siluMul, "dtype", dtype);
  // struct ActivationParams { uint n; }
  return flatPlan(options.registry, kernel, dtype, options.length, [
    ["gate", options.gate],
    ["up", options.up],
    ["output", options.output],
  ]);
}

/**
 * Encodes the tanh-approximation GELU (`gelu_<dtype>`, PyTorch's `gelu(approximate="tanh")`,
 * Gemma's `gelu_pytorch_tanh`):
 * `output[i] = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`, evaluated as the equal
 * `x·σ(2u)` so that negative inputs keep full relative accuracy. NaN propagates on the CPU
 * backend; Metal's fast math gives no NaN guarantee.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype and length.
 * @returns Resolves once the dispatch is encoded (not run: commit and wait for that).
 * @throws {TypeError} For an unsupported `dtype`, a missing buffer or registry, or bf16 on a
 * device without bfloat.
 * @throws {RangeError} For a `length` that is not a positive integer, or a buffer smaller
 * than `length` elements.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, gelu, KernelRegistry } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using input = device.newBuffer(new Float32Array([-1, 0, 1, 2]));
 * using output = device.newBuffer(16);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await gelu(encoder, { registry, input, output, dtype: "f32", length: 4 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const y = new Float32Array(output.contents);
 * assert.ok(Math.abs(y[2] - 0.8412) < 1e-3);
 * assert.strictEqual(y[1], 0);
 * ```
 */
export async function gelu(encoder: ComputeEncoder, options: GeluOptions): Promise<void> {
  await encodePlan(encoder, geluPlan(options));
}

/**
 * {@linkcode gelu}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype and length.
 * @throws {TypeError} For an unsupported `dtype` or a missing buffer or registry.
 * @throws {RangeError} For a bad `length` or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, geluSync, KernelRegistry } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using data = device.newBuffer(new Float32Array([1, 2]));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * geluSync(encoder, { registry, input: data, output: data, dtype: "f32", length: 2 }); // in place
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.ok(Math.abs(new Float32Array(data.contents)[0] - 0.8412) < 1e-3);
 * ```
 */
export function geluSync(encoder: ComputeEncoder, options: GeluOptions): void {
  encodePlanSync(encoder, geluPlan(options));
}

/**
 * Encodes logit soft-capping, `output[i] = cap·tanh(input[i] / cap)` (`softcap_<dtype>`):
 * Gemma 2's attention-logit (cap 50) and final-logit (cap 30) squashing. `±Infinity` maps
 * to `±cap`.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype, cap and length.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For an unsupported `dtype`, a non-number `cap`, a missing buffer or
 * registry.
 * @throws {RangeError} For a `cap` that is not finite and positive, a bad `length` or a too
 * small buffer.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, softcap } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using logits = device.newBuffer(new Float32Array([0, 30, -300]));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await softcap(encoder, { registry, input: logits, output: logits, dtype: "f32", cap: 30, length: 3 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const y = new Float32Array(logits.contents);
 * assert.ok(Math.abs(y[1] - 30 * Math.tanh(1)) < 1e-4);
 * assert.ok(y[2] >= -30 && y[2] < -29.99); // bounded by the cap
 * ```
 */
export async function softcap(encoder: ComputeEncoder, options: SoftcapOptions): Promise<void> {
  await encodePlan(encoder, softcapPlan(options));
}

/**
 * {@linkcode softcap}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype, cap and length.
 * @throws {TypeError} For an unsupported `dtype`, a non-number `cap` or a missing buffer.
 * @throws {RangeError} For a bad `cap` or `length`, or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, softcapSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using input = device.newBuffer(new Float32Array([50]));
 * using output = device.newBuffer(4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * softcapSync(encoder, { registry, input, output, dtype: "f32", cap: 50, length: 1 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.ok(Math.abs(new Float32Array(output.contents)[0] - 50 * Math.tanh(1)) < 1e-4);
 * ```
 */
export function softcapSync(encoder: ComputeEncoder, options: SoftcapOptions): void {
  encodePlanSync(encoder, softcapPlan(options));
}

/**
 * Encodes the sigmoid gate `output[i] = x[i]·σ(gate[i])` (`sigmoid_mul_<dtype>`), the
 * attention output gate of Qwen3.5 / Qwen3-Next.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype and length.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For an unsupported `dtype` or a missing buffer or registry.
 * @throws {RangeError} For a bad `length` or a too small buffer.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, sigmoidMul } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using x = device.newBuffer(new Float32Array([2, 2]));
 * using gate = device.newBuffer(new Float32Array([0, 100]));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await sigmoidMul(encoder, { registry, x, gate, output: x, dtype: "f32", length: 2 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Float32Array(x.contents)], [1, 2]);
 * ```
 */
export async function sigmoidMul(
  encoder: ComputeEncoder,
  options: SigmoidMulOptions,
): Promise<void> {
  await encodePlan(encoder, sigmoidMulPlan(options));
}

/**
 * {@linkcode sigmoidMul}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype and length.
 * @throws {TypeError} For an unsupported `dtype` or a missing buffer or registry.
 * @throws {RangeError} For a bad `length` or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, sigmoidMulSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using x = device.newBuffer(new Float32Array([4]));
 * using gate = device.newBuffer(new Float32Array([0]));
 * using output = device.newBuffer(4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * sigmoidMulSync(encoder, { registry, x, gate, output, dtype: "f32", length: 1 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.strictEqual(new Float32Array(output.contents)[0], 2);
 * ```
 */
export function sigmoidMulSync(encoder: ComputeEncoder, options: SigmoidMulOptions): void {
  encodePlanSync(encoder, sigmoidMulPlan(options));
}

/**
 * Encodes the SwiGLU combine `output[i] = silu(gate[i])·up[i]`, `silu(g) = g·σ(g)`
 * (`silu_mul_f32`), the Llama / Qwen / Mistral MLP between the gate/up and down projections.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers and length.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For a `dtype` other than `"f32"` or a missing buffer or registry.
 * @throws {RangeError} For a bad `length` or a too small buffer.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, siluMul } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using gate = device.newBuffer(new Float32Array([0, 1]));
 * using up = device.newBuffer(new Float32Array([5, 2]));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await siluMul(encoder, { registry, gate, up, output: gate, length: 2 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const y = new Float32Array(gate.contents);
 * assert.strictEqual(y[0], 0);
 * assert.ok(Math.abs(y[1] - 2 / (1 + Math.exp(-1))) < 1e-5);
 * ```
 */
export async function siluMul(encoder: ComputeEncoder, options: SiluMulOptions): Promise<void> {
  await encodePlan(encoder, siluMulPlan(options));
}

/**
 * {@linkcode siluMul}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers and length.
 * @throws {TypeError} For a `dtype` other than `"f32"` or a missing buffer or registry.
 * @throws {RangeError} For a bad `length` or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, siluMulSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using gate = device.newBuffer(new Float32Array([1]));
 * using up = device.newBuffer(new Float32Array([3]));
 * using output = device.newBuffer(4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * siluMulSync(encoder, { registry, gate, up, output, length: 1 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.ok(Math.abs(new Float32Array(output.contents)[0] - 3 / (1 + Math.exp(-1))) < 1e-5);
 * ```
 */
export function siluMulSync(encoder: ComputeEncoder, options: SiluMulOptions): void {
  encodePlanSync(encoder, siluMulPlan(options));
}
