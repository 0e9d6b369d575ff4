// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Typed helpers for `shaders/ssm_conv.metal`: the depthwise causal convolution + SiLU that
 * opens a Gated DeltaNet (Qwen3-Next) layer, with a rolling state of the last `width − 1`
 * inputs per sequence and channel, so a sequence can be fed in calls of any length (a whole
 * prompt, then one token at a time) and give the same outputs as one call over all of it.
 * f32 or bf16 storage, f32 arithmetic. The f64 reference is `ops/ssm_conv_ref.ts`.
 *
 * Layouts: `x`, `y` `[seqs, tokens, channels]`; `w` `[channels, width]` (the last tap
 * multiplies the newest input); `state`, `newState` `[seqs, channels, width − 1]`, oldest first.
 * `y[s][t][c] = silu(Σ_k w[c][k]·ext[t+k])` with `ext` the state followed by this call's `x`;
 * `newState` holds the last `width − 1` entries of `ext`. A fresh sequence starts from a zero
 * state.
 *
 * - {@linkcode ssmConv} encodes both kernels (forward, then state update): one call of the layer.
 * - {@linkcode ssmConvForward} and {@linkcode ssmConvStateUpdate} encode one each.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry } from "../mod.ts";
 * import { ssmConv } from "./ssm_conv.ts";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // One channel, width 2 (y[t] = silu(0.5·x[t−1] + x[t])), a state holding x[−1] = 2.
 * using x = device.newBuffer(new Float32Array([1, 3]));
 * using w = device.newBuffer(new Float32Array([0.5, 1]));
 * using state = device.newBuffer(new Float32Array([2]));
 * using y = device.newBuffer(8);
 * using newState = device.newBuffer(4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await ssmConv(encoder, {
 *   registry, x, w, state, y, newState, dtype: "f32", channels: 1, tokens: 2, width: 2,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * console.log(new Float32Array(y.contents), new Float32Array(newState.contents)); // silu(2), silu(3.5); [3]
 * ```
 *
 * @module
 */
import type { DeviceBuffer } from "../buffer.ts";
import type { ComputeEncoder } from "../device.ts";
import { bytesPerElement } from "../dtype.ts";
import type { KernelRegistry } from "../registry.ts";
import { blockDims, encodePlan, encodePlanSync, type KernelPlan, packParams } from "./_dispatch.ts";
import {
  checkBuffer,
  checkCount,
  checkDistinct,
  checkRegistry,
  pickKernel,
  sizeDetail,
} from "./_validate.ts";
import type { TableNames } from "../shaders/catalog.ts";
import { SSM_CONV_KERNELS } from "../shaders/ssm_conv.ts";

/** The catalogue names of `ssm_conv.metal` (its table: `shaders/ssm_conv.ts`). */
export { SSM_CONV_KERNELS };

/** Every kernel name of `ssm_conv.metal`. */
export type SsmConvKernelName = TableNames<typeof SSM_CONV_KERNELS>;

/** Storage dtypes of the `ssm_conv` helpers. */
export type SsmConvDType = keyof typeof SSM_CONV_KERNELS.forward;

/** The sizes shared by every `ssm_conv` helper. */
export interface SsmConvShape {
  /** The registry that compiles and caches the pipelines. */
  registry: KernelRegistry;
  /** Storage type of every buffer. */
  dtype: SsmConvDType;
  /** Channels (depthwise: one filter each). */
  channels: number;
  /** Tokens of this call. */
  tokens: number;
  /** Independent sequences, each with its own state. @default 1 */
  seqs?: number;
  /** Taps per filter, at least 2 (Qwen3-Next and Mamba: 4). */
  width: number;
}

/** Options of {@linkcode ssmConvForward}. */
export interface SsmConvForwardOptions extends SsmConvShape {
  /** `[seqs, tokens, channels]` inputs. */
  x: DeviceBuffer;
  /** `[channels, width]` filters. */
  w: DeviceBuffer;
  /** `[seqs, channels, width − 1]`: the previous inputs, oldest first (zeros to start). */
  state: DeviceBuffer;
  /** `[seqs, tokens, channels]` outputs; not `x`. */
  y: DeviceBuffer;
}

/** Options of {@linkcode ssmConvStateUpdate}. */
export interface SsmConvStateUpdateOptions extends SsmConvShape {
  /** `[seqs, tokens, channels]` inputs of this call. */
  x: DeviceBuffer;
  /** `[seqs, channels, width − 1]`: the state before this call. */
  state: DeviceBuffer;
  /** `[seqs, channels, width − 1]`: the state after it; not `state`. */
  newState: DeviceBuffer;
}

/** Options of {@linkcode ssmConv}: both kernels' buffers. */
export interface SsmConvOptions extends SsmConvForwardOptions {
  /** `[seqs, channels, width − 1]`: the state after this call; not `state`. */
  newState: DeviceBuffer;
}

interface CheckedShape {
  channels: number;
  tokens: number;
  seqs: number;
  width: number;
  params: Uint8Array;
  xBytes: number;
  xDetail: string;
  stateBytes: number;
  stateDetail: string;
}

function checkShape(kernel: string, options: SsmConvShape): CheckedShape {
  const channels = checkCount(kernel, "channels", options.channels);
  const tokens = checkCount(kernel, "tokens", options.tokens);
  const seqs = checkCount(kernel, "seqs", options.seqs ?? 1);
  const width = checkCount(kernel, "width", options.width);
  if (width < 2) {
    throw new RangeError(
      `Cannot encode ${kernel}: "width" is ${width}, expected at least 2 (a width-1 filter keeps no state)`,
    );
  }
  const size = bytesPerElement(options.dtype);
  const xDetail = sizeDetail([["seqs", seqs], ["tokens", tokens], ["channels", channels]], size);
  const stateDetail = sizeDetail(
    [["seqs", seqs], ["channels", channels], ["width − 1", width - 1]],
    size,
  );
  // struct SsmConvParams { uint channels; uint tokens; uint seqs; uint width; }
  const params = packParams([["u32", channels], ["u32", tokens], ["u32", seqs], [
    "u32",
    width,
  ]]);
  return {
    channels,
    tokens,
    seqs,
    width,
    params,
    xBytes: seqs * tokens * channels * size,
    xDetail,
    stateBytes: seqs * channels * (width - 1) * size,
    stateDetail,
  };
}

function forwardPlan(options: SsmConvForwardOptions): KernelPlan {
  checkRegistry("ssmConvForward", options.registry);
  const kernel = pickKernel("ssmConvForward", SSM_CONV_KERNELS.forward, "dtype", options.dtype);
  const shape = checkShape(kernel, options);
  const size = bytesPerElement(options.dtype);
  checkBuffer(kernel, "x", options.x, shape.xBytes, shape.xDetail);
  checkBuffer(
    kernel,
    "w",
    options.w,
    shape.channels * shape.width * size,
    sizeDetail([["channels", shape.channels], ["width", shape.width]], size),
  );
  checkBuffer(kernel, "state", options.state, shape.stateBytes, shape.stateDetail);
  checkBuffer(kernel, "y", options.y, shape.xBytes, shape.xDetail);
  checkDistinct(
    kernel,
    ["x", "y"],
    options.x,
    options.y,
    "expected a separate output (later tokens still read the inputs)",
  );
  return {
    registry: options.registry,
    kernel,
    args: [options.x, options.w, options.state, options.y, shape.params],
    usesBfloat16: options.dtype === "bf16",
    geometry: (pipeline) => blockDims(pipeline, [shape.channels, shape.tokens, shape.seqs]),
  };
}

function stateUpdatePlan(options: SsmConvStateUpdateOptions): KernelPlan {
  checkRegistry("ssmConvStateUpdate", options.registry);
  const kernel = pickKernel(
    "ssmConvStateUpdate",
    SSM_CONV_KERNELS.stateUpdate,
    "dtype",
    options.dtype,
  );
  const shape = checkShape(kernel, options);
  checkBuffer(kernel, "x", options.x, shape.xBytes, shape.xDetail);
  checkBuffer(kernel, "state", options.state, shape.stateBytes, shape.stateDetail);
  checkBuffer(kernel, "newState", options.newState, shape.stateBytes, shape.stateDetail);
  checkDistinct(
    kernel,
    ["state", "newState"],
    options.state,
    options.newState,
    "expected a second state buffer (the update reads entries it overwrites)",
  );
  return {
    registry: options.registry,
    kernel,
    args: [options.x, options.state, options.newState, shape.params],
    usesBfloat16: options.dtype === "bf16",
    geometry: (pipeline) => blockDims(pipeline, [shape.width - 1, shape.channels, shape.seqs]),
  };
}

function bothPlans(options: SsmConvOptions): [KernelPlan, KernelPlan] {
  const forward = forwardPlan(options);
  const update = stateUpdatePlan(options);
  checkDistinct(
    update.kernel,
    ["newState", "y"],
    options.newState,
    options.y,
    "expected separate buffers for the outputs and the new state",
  );
  return [forward, update];
}

/**
 * Encodes one call of the causal conv: {@linkcode ssmConvForward} then
 * {@linkcode ssmConvStateUpdate}. Feed `newState` as `state` to the next call (swap two
 * buffers).
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers and sizes.
 * @returns Resolves once both dispatches are encoded (not run: commit and wait for that).
 * @throws {TypeError} For an unsupported `dtype` or a missing buffer or registry.
 * @throws {RangeError} For sizes that are not positive integers, `width` below 2, a buffer too
 * small for its shape, `y` = `x`, `newState` = `state`, or `newState` = `y`.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, ssmConv } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // Width 3, a zero state: the filter [0, 0, 1] is the identity, so y = silu(x).
 * using x = device.newBuffer(new Float32Array([0, 1]));
 * using w = device.newBuffer(new Float32Array([0, 0, 1]));
 * using state = device.newBuffer(new Float32Array([0, 0]));
 * using y = device.newBuffer(8);
 * using newState = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await ssmConv(encoder, {
 *   registry, x, w, state, y, newState, dtype: "f32", channels: 1, tokens: 2, width: 3,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const out = new Float32Array(y.contents);
 * assert.strictEqual(out[0], 0);
 * assert.ok(Math.abs(out[1] - 1 / (1 + Math.exp(-1))) < 1e-6);
 * assert.deepStrictEqual([...new Float32Array(newState.contents)], [0, 1]);
 * ```
 */
export async function ssmConv(encoder: ComputeEncoder, options: SsmConvOptions): Promise<void> {
  const [forward, update] = bothPlans(options);
  await encodePlan(encoder, forward);
  await encodePlan(encoder, update);
}

/**
 * {@linkcode ssmConv}, blocking while the pipelines compile on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers and sizes.
 * @throws {TypeError} For an unsupported `dtype` or a missing buffer or registry.
 * @throws {RangeError} For bad sizes, a too small buffer or aliased buffers.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, ssmConvSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // One token, width 4: the new state drops the oldest entry and appends x.
 * using x = device.newBuffer(new Float32Array([7]));
 * using w = device.newBuffer(new Float32Array([1, 1, 1, 1]));
 * using state = device.newBuffer(new Float32Array([1, 2, 3]));
 * using y = device.newBuffer(4);
 * using newState = device.newBuffer(12);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * ssmConvSync(encoder, {
 *   registry, x, w, state, y, newState, dtype: "f32", channels: 1, tokens: 1, width: 4,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.deepStrictEqual([...new Float32Array(newState.contents)], [2, 3, 7]);
 * assert.ok(Math.abs(new Float32Array(y.contents)[0] - 13) < 1e-4); // silu(13) ≈ 13
 * ```
 */
export function ssmConvSync(encoder: ComputeEncoder, options: SsmConvOptions): void {
  const [forward, update] = bothPlans(options);
  encodePlanSync(encoder, forward);
  encodePlanSync(encoder, update);
}

/**
 * Encodes the conv outputs only (`ssm_conv_forward_<dtype>`):
 * `y[s][t][c] = silu(Σ_k w[c][k]·ext[t+k])`.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers and sizes.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For an unsupported `dtype` or a missing buffer or registry.
 * @throws {RangeError} For bad sizes, a too small buffer, or `y` = `x`.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, ssmConvForward } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using x = device.newBuffer(new Float32Array([0, 0])); // two channels, one token
 * using w = device.newBuffer(new Float32Array([1, 0, 2, 0]));
 * using state = device.newBuffer(new Float32Array([-1, 1]));
 * using y = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await ssmConvForward(encoder, {
 *   registry, x, w, state, y, dtype: "f32", channels: 2, tokens: 1, width: 2,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const out = new Float32Array(y.contents); // silu(-1), silu(2)
 * assert.ok(Math.abs(out[0] + 1 / (1 + Math.E)) < 1e-6 && Math.abs(out[1] - 2 / (1 + Math.exp(-2))) < 1e-6);
 * ```
 */
export async function ssmConvForward(
  encoder: ComputeEncoder,
  options: SsmConvForwardOptions,
): Promise<void> {
  await encodePlan(encoder, forwardPlan(options));
}

/**
 * {@linkcode ssmConvForward}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers and sizes.
 * @throws {TypeError} For an unsupported `dtype` or a missing buffer or registry.
 * @throws {RangeError} For bad sizes, a too small buffer, or `y` = `x`.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, ssmConvForwardSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using x = device.newBuffer(new Float32Array([5]));
 * using w = device.newBuffer(new Float32Array([0, 0]));
 * using state = device.newBuffer(new Float32Array([5]));
 * using y = device.newBuffer(4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * ssmConvForwardSync(encoder, {
 *   registry, x, w, state, y, dtype: "f32", channels: 1, tokens: 1, width: 2,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.strictEqual(new Float32Array(y.contents)[0], 0); // silu(0)
 * ```
 */
export function ssmConvForwardSync(encoder: ComputeEncoder, options: SsmConvForwardOptions): void {
  encodePlanSync(encoder, forwardPlan(options));
}

/**
 * Encodes the rolling-state update only (`ssm_conv_state_update_<dtype>`): `newState` gets the
 * last `width − 1` entries of the state followed by this call's `x` (an exact copy).
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers and sizes.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For an unsupported `dtype` or a missing buffer or registry.
 * @throws {RangeError} For bad sizes, a too small buffer, or `newState` = `state`.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, ssmConvStateUpdate } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using x = device.newBuffer(new Float32Array([4, 5]));
 * using state = device.newBuffer(new Float32Array([1, 2, 3]));
 * using newState = device.newBuffer(12);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await ssmConvStateUpdate(encoder, {
 *   registry, x, state, newState, dtype: "f32", channels: 1, tokens: 2, width: 4,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Float32Array(newState.contents)], [3, 4, 5]);
 * ```
 */
export async function ssmConvStateUpdate(
  encoder: ComputeEncoder,
  options: SsmConvStateUpdateOptions,
): Promise<void> {
  await encodePlan(encoder, stateUpdatePlan(options));
}

/**
 * {@linkcode ssmConvStateUpdate}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers and sizes.
 * @throws {TypeError} For an unsupported `dtype` or a missing buffer or registry.
 * @throws {RangeError} For bad sizes, a too small buffer, or `newState` = `state`.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, ssmConvStateUpdateSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using x = device.newBuffer(new Float32Array([4, 5, 6, 7]));
 * using state = device.newBuffer(new Float32Array([1, 2]));
 * using newState = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * ssmConvStateUpdateSync(encoder, {
 *   registry, x, state, newState, dtype: "f32", channels: 1, tokens: 4, width: 3,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.deepStrictEqual([...new Float32Array(newState.contents)], [6, 7]);
 * ```
 */
export function ssmConvStateUpdateSync(
  encoder: ComputeEncoder,
  options: SsmConvStateUpdateOptions,
): void {
  encodePlanSync(encoder, stateUpdatePlan(options));
}
