// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Typed helper for `shaders/placeholder.metal`, the catalogue's smoke and specialisation
 * kernel: `output[i] = (negate ? -1 : 1) · i · step` with `step` and `negate` as optional
 * function constants (indices 100 and 200). Each distinct `(step, negate)` is its own
 * pipeline; the reference is `ops/placeholder_ref.ts`.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry } from "../mod.ts";
 * import { placeholder } from "./placeholder.ts";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using output = device.newBuffer(16);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await placeholder(encoder, { registry, output, length: 4, step: 3, negate: true });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * console.log(new Float32Array(output.contents)); // Float32Array(4) [-0, -3, -6, -9]
 * ```
 *
 * @module
 */
import type { DeviceBuffer } from "../buffer.ts";
import type { ComputeEncoder } from "../device.ts";
import type { FunctionConstants } from "../constants.ts";
import type { KernelRegistry } from "../registry.ts";
import {
  encodePlan,
  encodePlanSync,
  type KernelPlan,
  linearSplit,
  packParams,
} from "./_dispatch.ts";
import { checkBuffer, checkCount, checkRegistry, sizeDetail } from "./_validate.ts";
import { PLACEHOLDER_KERNELS } from "../shaders/placeholder.ts";

/** The catalogue name of `placeholder.metal` (from `shaders/placeholder.ts`). */
export const PLACEHOLDER_KERNEL: typeof PLACEHOLDER_KERNELS = PLACEHOLDER_KERNELS;

/** Function constant indices of the `placeholder` kernel. */
export const PLACEHOLDER_CONSTANTS: { readonly step: 100; readonly negate: 200 } = {
  /** `int step`: the ramp's slope (default 1). */
  step: 100,
  /** `bool negate`: negate the ramp (default false). */
  negate: 200,
};

/** Options of {@linkcode placeholder}. */
export interface PlaceholderOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** f32 `[length]` result. */
  output: DeviceBuffer;
  /** Number of elements. */
  length: number;
  /**
   * Function constant 100 (int). Left undefined, the kernel uses 1 and the pipeline is the
   * unspecialised one.
   *
   * @default {undefined (1)}
   */
  step?: number;
  /**
   * Function constant 200 (bool). Left undefined, the kernel uses false.
   *
   * @default {undefined (false)}
   */
  negate?: boolean;
}

/**
 * The function constants for a `(step, negate)` choice: only the given ones, so an omitted
 * option keeps the kernel's default.
 *
 * @param options The specialisation.
 * @returns Constant values by index, for `registry.getPipeline("placeholder", device, constants)`.
 * @throws {TypeError} For a `step` that is not a number or a `negate` that is not a boolean.
 * @throws {RangeError} For a `step` that is not a 32-bit integer.
 *
 * @example Usage
 * ```ts
 * import { placeholderConstants } from "./placeholder.ts";
 * import assert from "node:assert";
 *
 * assert.deepStrictEqual(placeholderConstants({ step: 4, negate: true }), { 100: 4, 200: true });
 * assert.deepStrictEqual(placeholderConstants({}), {});
 * ```
 */
export function placeholderConstants(
  options: Pick<PlaceholderOptions, "step" | "negate">,
): FunctionConstants {
  const constants: Record<number, number | boolean> = {};
  if (options.step !== undefined) {
    if (typeof options.step !== "number") {
      throw new TypeError(
        `Cannot encode placeholder: "step" is ${typeof options.step}, expected an integer`,
      );
    }
    if (!Number.isInteger(options.step) || options.step < -(2 ** 31) || options.step >= 2 ** 31) {
      throw new RangeError(
        `Cannot encode placeholder: "step" is ${options.step}, expected a 32-bit integer`,
      );
    }
    constants[PLACEHOLDER_CONSTANTS.step] = options.step;
  }
  if (options.negate !== undefined) {
    if (typeof options.negate !== "boolean") {
      throw new TypeError(
        `Cannot encode placeholder: "negate" is ${typeof options.negate}, expected a boolean`,
      );
    }
    constants[PLACEHOLDER_CONSTANTS.negate] = options.negate;
  }
  return constants;
}

function placeholderPlan(options: PlaceholderOptions): KernelPlan {
  const kernel = PLACEHOLDER_KERNEL;
  checkRegistry(kernel, options.registry);
  const length = checkCount(kernel, "length", options.length);
  const constants = placeholderConstants(options);
  checkBuffer(kernel, "output", options.output, length * 4, sizeDetail([["length", length]], 4));
  // struct PlaceholderParams { uint n; }
  const params = packParams([["u32", length]]);
  return {
    registry: options.registry,
    kernel,
    constants,
    args: [options.output, params],
    geometry: (pipeline) => linearSplit(pipeline, length),
  };
}

/**
 * Encodes `output[i] = (negate ? -1 : 1) · i · step` for `i < length`, specialising the
 * `placeholder` kernel with the given function constants.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, output, length and the optional constants.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For a missing buffer or registry, or a mistyped constant.
 * @throws {RangeError} For a bad `length` or `step`, or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, placeholder } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using output = device.newBuffer(16);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await placeholder(encoder, { registry, output, length: 4, step: 4 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Float32Array(output.contents)], [0, 4, 8, 12]);
 * ```
 */
export async function placeholder(
  encoder: ComputeEncoder,
  options: PlaceholderOptions,
): Promise<void> {
  await encodePlan(encoder, placeholderPlan(options));
}

/**
 * {@linkcode placeholder}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, output, length and the optional constants.
 * @throws {TypeError} For a missing buffer or registry, or a mistyped constant.
 * @throws {RangeError} For a bad `length` or `step`, or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, placeholderSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using output = device.newBuffer(16);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * placeholderSync(encoder, { registry, output, length: 4, negate: true });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.deepStrictEqual([...new Float32Array(output.contents)], [-0, -1, -2, -3]);
 * ```
 */
export function placeholderSync(encoder: ComputeEncoder, options: PlaceholderOptions): void {
  encodePlanSync(encoder, placeholderPlan(options));
}
