// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Typed helpers for `shaders/tri_solve.metal`: batched forward substitution `L·X = B` with an
 * implicit unit diagonal (only the strict lower triangle of `L` is read), in f32 or bf16
 * storage with f32 dot products. The chunked form of Gated DeltaNet uses it to apply
 * `(I + A)⁻¹` for a strictly lower `A`. The f64 reference is `ops/tri_solve_ref.ts`.
 *
 * Bindings (`tri_solve_lower_unit_<dtype>`): `buffer(0)` L `T[batch·n·n]`, `buffer(1)` B
 * `T[batch·n·m]`, `buffer(2)` X `T[batch·n·m]` (may be B), `buffer(3)`
 * `constant TriSolveParams { uint n; uint m; uint batch; }` by `setBytes`. Grid: `m × batch`
 * threads, one per right-hand-side column, each walking the `n` rows.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry } from "../mod.ts";
 * import { triSolveLowerUnit } from "./tri_solve.ts";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using l = device.newBuffer(new Float32Array([0, 0, 0.5, 0])); // [[1, 0], [0.5, 1]]
 * using b = device.newBuffer(new Float32Array([2, 4, 3, 3]));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await triSolveLowerUnit(encoder, { registry, l, b, x: b, dtype: "f32", n: 2, m: 2, batch: 1 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * console.log(new Float32Array(b.contents)); // [2, 4, 2, 1]
 * ```
 *
 * @module
 */
import type { DeviceBuffer } from "../buffer.ts";
import type { ComputeEncoder } from "../device.ts";
import { bytesPerElement } from "../dtype.ts";
import type { KernelRegistry } from "../registry.ts";
import { blockDims, encodePlan, encodePlanSync, type KernelPlan, packParams } from "./_dispatch.ts";
import { checkBuffer, checkCount, checkRegistry, pickKernel, sizeDetail } from "./_validate.ts";
import type { TableNames } from "../shaders/catalog.ts";
import { TRI_SOLVE_KERNELS } from "../shaders/tri_solve.ts";

/** The catalogue names of `tri_solve.metal` (its table: `shaders/tri_solve.ts`). */
export { TRI_SOLVE_KERNELS };

/** Every kernel name of `tri_solve.metal`. */
export type TriSolveKernelName = TableNames<typeof TRI_SOLVE_KERNELS>;

/** Dtypes of {@linkcode triSolveLowerUnit}. */
export type TriSolveDType = keyof typeof TRI_SOLVE_KERNELS;

/** Options of {@linkcode triSolveLowerUnit}. */
export interface TriSolveOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** `[batch, n, n]` of `dtype`; only the strict lower triangle is read. */
  l: DeviceBuffer;
  /** `[batch, n, m]` right-hand sides of `dtype`. */
  b: DeviceBuffer;
  /** `[batch, n, m]` solution of `dtype`; may be `b` (in place). */
  x: DeviceBuffer;
  /** Storage type of all three buffers. */
  dtype: TriSolveDType;
  /** Size of each system (e.g. the chunk length). */
  n: number;
  /** Right-hand sides per system (e.g. a head dimension). */
  m: number;
  /** Independent systems (e.g. sequences × heads × chunks). */
  batch: number;
}

function triSolvePlan(options: TriSolveOptions): KernelPlan {
  checkRegistry("triSolveLowerUnit", options.registry);
  const kernel = pickKernel("triSolveLowerUnit", TRI_SOLVE_KERNELS, "dtype", options.dtype);
  const n = checkCount(kernel, "n", options.n);
  const m = checkCount(kernel, "m", options.m);
  const batch = checkCount(kernel, "batch", options.batch);
  const size = bytesPerElement(options.dtype);
  const lDetail = sizeDetail([["batch", batch], ["n", n], ["n", n]], size);
  const bDetail = sizeDetail([["batch", batch], ["n", n], ["m", m]], size);
  checkBuffer(kernel, "l", options.l, batch * n * n * size, lDetail);
  checkBuffer(kernel, "b", options.b, batch * n * m * size, bDetail);
  checkBuffer(kernel, "x", options.x, batch * n * m * size, bDetail);
  // struct TriSolveParams { uint n; uint m; uint batch; }
  const params = packParams([["u32", n], ["u32", m], ["u32", batch]]);
  return {
    registry: options.registry,
    kernel,
    args: [options.l, options.b, options.x, params],
    usesBfloat16: options.dtype === "bf16",
    geometry: (pipeline) => blockDims(pipeline, [m, batch, 1]),
  };
}

/**
 * Encodes a batched unit-lower-triangular solve, `X[i] = B[i] − Σ_{j<i} L[i][j]·X[j]`
 * (`tri_solve_lower_unit_<dtype>`). Dot products are f32; each `X` entry is rounded once to
 * the storage dtype, and later rows use the stored value.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype, n, m and batch.
 * @returns Resolves once the dispatch is encoded (not run: commit and wait for that).
 * @throws {TypeError} For an unsupported `dtype` or a missing buffer or registry.
 * @throws {RangeError} For `n`/`m`/`batch` that are not positive integers, or a buffer too
 * small for its shape.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, triSolveLowerUnit } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // Two 2×2 systems; the diagonal entries (7) are ignored.
 * using l = device.newBuffer(new Float32Array([7, 0, 1, 7, 7, 0, -1, 7]));
 * using b = device.newBuffer(new Float32Array([1, 1, 1, 1]));
 * using x = device.newBuffer(16);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await triSolveLowerUnit(encoder, { registry, l, b, x, dtype: "f32", n: 2, m: 1, batch: 2 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Float32Array(x.contents)], [1, 0, 1, 2]);
 * ```
 */
export async function triSolveLowerUnit(
  encoder: ComputeEncoder,
  options: TriSolveOptions,
): Promise<void> {
  await encodePlan(encoder, triSolvePlan(options));
}

/**
 * {@linkcode triSolveLowerUnit}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype, n, m and batch.
 * @throws {TypeError} For an unsupported `dtype` or a missing buffer or registry.
 * @throws {RangeError} For bad sizes or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, triSolveLowerUnitSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using l = device.newBuffer(new Float32Array([0, 0, 0, 2, 0, 0, 0, 3, 0]));
 * using b = device.newBuffer(new Float32Array([1, 2, 6]));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * triSolveLowerUnitSync(encoder, { registry, l, b, x: b, dtype: "f32", n: 3, m: 1, batch: 1 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.deepStrictEqual([...new Float32Array(b.contents)], [1, 0, 6]);
 * ```
 */
export function triSolveLowerUnitSync(encoder: ComputeEncoder, options: TriSolveOptions): void {
  encodePlanSync(encoder, triSolvePlan(options));
}
