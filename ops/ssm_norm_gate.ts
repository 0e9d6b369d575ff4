// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Typed helpers for `shaders/ssm_norm_gate.metal`: the gated RMS norm that closes a Gated
 * DeltaNet layer, per row (one token's value head) of a `[rows, dim]` f32 matrix:
 * `out = x · rsqrt(mean(x²) + eps) · weight · silu(z)`, `silu(z) = z · σ(z)`. One threadgroup
 * per row. The f64 reference is `ops/ssm_norm_gate_ref.ts`.
 *
 * Bindings (`ssm_norm_gate_f32`): `buffer(0)` x `float[rows·dim]`, `buffer(1)` weight
 * `float[dim]`, `buffer(2)` z `float[rows·dim]`, `buffer(3)` output `float[rows·dim]` (may be
 * x or z), `buffer(4)` `constant SsmNormGateParams { float eps; uint dim; }` by `setBytes`.
 * Grid: `rows` threadgroups.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry } from "../mod.ts";
 * import { ssmNormGate } from "./ssm_norm_gate.ts";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using x = device.newBuffer(new Float32Array([1, -1, 1, -1]));
 * using weight = device.newBuffer(new Float32Array([1, 1, 2, 2]));
 * using z = device.newBuffer(new Float32Array([20, 20, 0, -20]));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await ssmNormGate(encoder, { registry, x, weight, z, output: x, rows: 1, dim: 4, eps: 0 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * console.log(new Float32Array(x.contents)); // [20, -20, 0, ~8e-8]
 * ```
 *
 * @module
 */
import type { DeviceBuffer } from "../buffer.ts";
import type { ComputeEncoder } from "../device.ts";
import { bytesPerElement } from "../dtype.ts";
import type { KernelRegistry } from "../registry.ts";
import { RMS_NORM_COLS_PER_THREAD, SIMD_WIDTH, SSM_NORM_GATE_MAX_SIMDGROUPS } from "./_defines.ts";
import {
  encodePlan,
  encodePlanSync,
  type KernelPlan,
  packParams,
  rowDispatch,
  type RowWidthOptions,
} from "./_dispatch.ts";
import {
  checkBuffer,
  checkCount,
  checkEps,
  checkRegistry,
  checkRowWidth,
  sizeDetail,
} from "./_validate.ts";
import type { TableNames } from "../shaders/catalog.ts";
import { SSM_NORM_GATE_KERNELS } from "../shaders/ssm_norm_gate.ts";

/** The catalogue names of `ssm_norm_gate.metal` (its table: `shaders/ssm_norm_gate.ts`). */
export { SSM_NORM_GATE_KERNELS };

/** Every kernel name of `ssm_norm_gate.metal`. */
export type SsmNormGateKernelName = TableNames<typeof SSM_NORM_GATE_KERNELS>;

/** Options of {@linkcode ssmNormGate}. All buffers hold f32. */
export interface SsmNormGateOptions extends RowWidthOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** `[rows, dim]` read-out to normalise, row-major. */
  x: DeviceBuffer;
  /** `[dim]` norm weight, shared by every row. */
  weight: DeviceBuffer;
  /** `[rows, dim]` gate. */
  z: DeviceBuffer;
  /** `[rows, dim]` result; may be `x` or `z`. */
  output: DeviceBuffer;
  /** Number of rows (tokens × value heads; one threadgroup each). */
  rows: number;
  /** Row length (the value head dimension). */
  dim: number;
  /** Added to the mean of squares inside the square root; at least 0. */
  eps: number;
}

const F32 = bytesPerElement("f32");

function ssmNormGatePlan(options: SsmNormGateOptions): KernelPlan {
  checkRegistry("ssmNormGate", options.registry);
  const kernel = SSM_NORM_GATE_KERNELS.f32;
  const rows = checkCount(kernel, "rows", options.rows);
  const dim = checkCount(kernel, "dim", options.dim);
  const eps = checkEps(kernel, options.eps);
  const detail = sizeDetail([["rows", rows], ["dim", dim]], F32);
  checkBuffer(kernel, "x", options.x, rows * dim * F32, detail);
  checkBuffer(kernel, "weight", options.weight, dim * F32, sizeDetail([["dim", dim]], F32));
  checkBuffer(kernel, "z", options.z, rows * dim * F32, detail);
  checkBuffer(kernel, "output", options.output, rows * dim * F32, detail);
  const maxThreads = SIMD_WIDTH * SSM_NORM_GATE_MAX_SIMDGROUPS;
  const width = checkRowWidth(kernel, options, maxThreads);
  // struct SsmNormGateParams { float eps; uint dim; }
  const params = packParams([["f32", eps], ["u32", dim]]);
  return {
    registry: options.registry,
    kernel,
    args: [options.x, options.weight, options.z, options.output, params],
    geometry: (pipeline, backend) =>
      // The same row shape as an RMS norm.
      rowDispatch(pipeline, backend, rows, dim, RMS_NORM_COLS_PER_THREAD, maxThreads, width),
  };
}

/**
 * Encodes the gated RMS norm `output[r][j] = x[r][j] · rsqrt(mean_k x[r][k]² + eps) ·
 * weight[j] · silu(z[r][j])` (`ssm_norm_gate_f32`).
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, rows, dim and eps.
 * @returns Resolves once the dispatch is encoded (not run: commit and wait for that).
 * @throws {TypeError} For a missing buffer or registry, or an `eps` that is not a number.
 * @throws {RangeError} For `rows`/`dim` that are not positive integers, a negative or
 * non-finite `eps`, or a buffer too small for its shape.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, ssmNormGate } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using x = device.newBuffer(new Float32Array([2, 2]));
 * using weight = device.newBuffer(new Float32Array([1, 3]));
 * using z = device.newBuffer(new Float32Array([30, 30]));
 * using output = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await ssmNormGate(encoder, { registry, x, weight, z, output, rows: 1, dim: 2, eps: 0 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const out = new Float32Array(output.contents); // [30, 90]: RMS 2, silu(30) ≈ 30
 * assert.ok(Math.abs(out[0] - 30) < 1e-4 && Math.abs(out[1] - 90) < 1e-4);
 * ```
 */
export async function ssmNormGate(
  encoder: ComputeEncoder,
  options: SsmNormGateOptions,
): Promise<void> {
  await encodePlan(encoder, ssmNormGatePlan(options));
}

/**
 * {@linkcode ssmNormGate}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, rows, dim and eps.
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For bad `rows`/`dim`/`eps` or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, ssmNormGateSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using x = device.newBuffer(new Float32Array([5]));
 * using weight = device.newBuffer(new Float32Array([1]));
 * using z = device.newBuffer(new Float32Array([0]));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * ssmNormGateSync(encoder, { registry, x, weight, z, output: z, rows: 1, dim: 1, eps: 1e-6 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.strictEqual(new Float32Array(z.contents)[0], 0); // silu(0) = 0
 * ```
 */
export function ssmNormGateSync(encoder: ComputeEncoder, options: SsmNormGateOptions): void {
  encodePlanSync(encoder, ssmNormGatePlan(options));
}
