// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * The one dispatch path of every op helper (private). A helper validates its options and
 * builds a {@linkcode KernelPlan}: the kernel name, the arguments in binding order, the
 * threadgroup memory and a geometry function of the pipeline. {@linkcode encodePlan} /
 * {@linkcode encodePlanSync} then get the pipeline, choose the grid, check it against the
 * pipeline's limits, bind and dispatch. So an async op and its `*Sync` twin share all of
 * their code but the one `await`.
 *
 * @module
 */
import type { DeviceBuffer } from "../buffer.ts";
import type { ComputeEncoder } from "../device.ts";
import type { Pipeline } from "../pipeline.ts";
import type { FunctionConstants } from "../constants.ts";
import type { KernelRegistry } from "../registry.ts";
import type { KernelName } from "../shaders/catalog.ts";
import type { Backend } from "../backend.ts";
import { CPU_ROW_MAX_THREADS, SIMD_WIDTH } from "./_defines.ts";

/** Three dispatch dimensions. */
export type Size3 = readonly [number, number, number];

/** A `[[buffer(i)]]` argument: a device buffer, or small bytes copied with `setBytes`. */
export type KernelArgument = DeviceBuffer | ArrayBufferView;

/** A grid and a threadgroup size. */
export interface Dispatch {
  /** `"threads"`: `grid` counts threads (edge groups partial); `"threadgroups"`: groups. */
  readonly kind: "threads" | "threadgroups";
  /** Threads (or threadgroups) per dimension. */
  readonly grid: Size3;
  /** Threads per threadgroup per dimension. */
  readonly threadgroup: Size3;
}

/** Everything one dispatch needs, decided before any native call. */
export interface KernelPlan {
  /** Compiles and caches the pipeline. */
  readonly registry: KernelRegistry;
  /** The catalogue name (a type error if it is not in `shaders/catalog.ts`). */
  readonly kernel: KernelName;
  /** Function constants, if the kernel is specialised. */
  readonly constants?: FunctionConstants;
  /** `[[buffer(i)]]` is `args[i]`: slots are numbered here and nowhere else. */
  readonly args: readonly KernelArgument[];
  /** The kernel uses `bfloat`: refuse devices without it, before compiling. */
  readonly usesBfloat16?: boolean;
  /** `[[threadgroup(i)]]` lengths in bytes, `threadgroupMemory[i]`. */
  readonly threadgroupMemory?: readonly number[];
  /** The grid, given the pipeline's limits and the backend it runs on. */
  readonly geometry: (pipeline: Pipeline, backend: Backend) => Dispatch;
}

/**
 * Gets the plan's pipeline (compiling it on first use, off the JS thread) and encodes the
 * dispatch.
 *
 * @param encoder The open compute encoder.
 * @param plan The validated plan.
 * @returns Resolves once the dispatch is encoded.
 */
export async function encodePlan(encoder: ComputeEncoder, plan: KernelPlan): Promise<void> {
  checkDevice(encoder, plan);
  const pipeline = await plan.registry.getPipeline(plan.kernel, encoder.device, plan.constants);
  encodeWith(encoder, pipeline, plan);
}

/**
 * {@linkcode encodePlan}, blocking while the pipeline compiles.
 *
 * @param encoder The open compute encoder.
 * @param plan The validated plan.
 */
export function encodePlanSync(encoder: ComputeEncoder, plan: KernelPlan): void {
  checkDevice(encoder, plan);
  const pipeline = plan.registry.getPipelineSync(plan.kernel, encoder.device, plan.constants);
  encodeWith(encoder, pipeline, plan);
}

/**
 * Refuses a bf16 kernel on a device without bfloat (Metal before MSL 3.1 / macOS 14, where
 * the shaders leave the bf16 names out), with a clearer message than "function not found".
 */
function checkDevice(encoder: ComputeEncoder, plan: KernelPlan): void {
  if (plan.usesBfloat16 && !encoder.device.capabilities.bfloat16) {
    throw new TypeError(
      `Cannot encode ${plan.kernel}: device "${encoder.device.name}" has no bfloat16 support (Metal needs macOS 14 / MSL 3.1)`,
    );
  }
}

function encodeWith(encoder: ComputeEncoder, pipeline: Pipeline, plan: KernelPlan): void {
  const dispatch = plan.geometry(pipeline, encoder.device.backend);
  checkThreadgroupSize(pipeline, dispatch.threadgroup);
  encoder.setPipeline(pipeline);
  bindArguments(encoder, plan.args);
  plan.threadgroupMemory?.forEach((bytes, index) =>
    encoder.setThreadgroupMemoryLength(bytes, index)
  );
  if (dispatch.kind === "threads") {
    encoder.dispatchThreads(dispatch.grid, dispatch.threadgroup);
  } else {
    encoder.dispatchThreadgroups(dispatch.grid, dispatch.threadgroup);
  }
}

/**
 * Binds `args[i]` at `[[buffer(i)]]`: buffers with `setBuffer`, byte views with `setBytes`.
 *
 * @param encoder The open compute encoder.
 * @param args The arguments in slot order.
 */
export function bindArguments(encoder: ComputeEncoder, args: readonly KernelArgument[]): void {
  args.forEach((arg, index) => {
    if (ArrayBuffer.isView(arg)) encoder.setBytes(arg, index);
    else encoder.setBuffer(arg, index);
  });
}

/**
 * Throws when a threadgroup is larger than the pipeline allows.
 *
 * @param pipeline The pipeline.
 * @param threadgroup Threads per threadgroup dimension.
 * @throws {RangeError} With the kernel, the requested size and the maximum.
 */
export function checkThreadgroupSize(pipeline: Pipeline, threadgroup: Size3): void {
  const total = threadgroup[0] * threadgroup[1] * threadgroup[2];
  if (total > pipeline.maxTotalThreadsPerThreadgroup) {
    throw new RangeError(
      `Cannot dispatch ${pipeline.name}: a threadgroup of ${
        threadgroup.join(" × ")
      } = ${total} threads exceeds the pipeline's maximum of ${pipeline.maxTotalThreadsPerThreadgroup}`,
    );
  }
}

/**
 * A 1-D threads-grid of `threads` threads in threadgroups as wide as the pipeline allows
 * (candle's `linear_split`, MLX's contiguous unary choice).
 *
 * @param pipeline The pipeline.
 * @param threads Total threads.
 * @returns The dispatch.
 */
export function linearSplit(pipeline: Pipeline, threads: number): Dispatch {
  const width = Math.max(1, Math.min(pipeline.maxTotalThreadsPerThreadgroup, threads));
  return { kind: "threads", grid: [threads, 1, 1], threadgroup: [width, 1, 1] };
}

function floorPow2(n: number): number {
  return n < 1 ? 1 : 2 ** Math.floor(Math.log2(n));
}

function ceilPow2(n: number): number {
  return n <= 1 ? 1 : 2 ** Math.ceil(Math.log2(n));
}

/**
 * A 3-D threads-grid whose threadgroup spreads up to the pipeline's maximum (at most 1024)
 * threads over the dimensions in powers of two, x first (candle's `get_block_dims`).
 *
 * @param pipeline The pipeline.
 * @param grid Threads per dimension.
 * @returns The dispatch.
 */
export function blockDims(pipeline: Pipeline, grid: Size3): Dispatch {
  let budget = floorPow2(Math.min(pipeline.maxTotalThreadsPerThreadgroup, 1024));
  const threadgroup = grid.map((n) => {
    const t = Math.min(ceilPow2(n), budget);
    budget = Math.max(1, budget / t);
    return t;
  }) as unknown as Size3;
  return { kind: "threads", grid, threadgroup };
}

/**
 * A TG-grid of one threadgroup per row (`rows` groups). The width is a multiple of the
 * SIMD width near `cols / colsPerThread`, at most `maxThreads` and the pipeline's maximum
 * (`maxThreads` itself when it is below the SIMD width).
 *
 * @param pipeline The pipeline.
 * @param rows Rows (threadgroups).
 * @param cols Row length.
 * @param colsPerThread The columns each thread should get at least.
 * @param maxThreads The cap on the width.
 * @returns The dispatch.
 */
export function rowPerThreadgroup(
  pipeline: Pipeline,
  rows: number,
  cols: number,
  colsPerThread: number,
  maxThreads: number,
): Dispatch {
  const limit = Math.min(pipeline.maxTotalThreadsPerThreadgroup, maxThreads);
  const cap = limit >= SIMD_WIDTH ? limit - (limit % SIMD_WIDTH) : limit;
  const wanted = Math.ceil(Math.ceil(cols / colsPerThread) / SIMD_WIDTH) * SIMD_WIDTH;
  const width = Math.max(1, Math.min(cap, wanted));
  return { kind: "threadgroups", grid: [rows, 1, 1], threadgroup: [width, 1, 1] };
}

/**
 * The per-call threadgroup width of a row op (one threadgroup per row: softmax, the norms,
 * cumsum, ...). Every row op's options extend this; give at most one of the two. Results do
 * not depend on the width beyond the order of f32 summation.
 */
export interface RowWidthOptions {
  /**
   * Threads in each row's threadgroup, exactly, on every backend: an integer from 1 to the
   * kernel's maximum (1024), and at most the pipeline's `maxTotalThreadsPerThreadgroup`
   * (checked when encoding). It need not be a multiple of 32: the last SIMD-group is then
   * partial, which every row kernel handles.
   *
   * @default the backend's choice: on a GPU a multiple of 32 near the row length over the
   * columns each thread should get (4 for most kernels), up to 1024; on the CPU backend one
   * thread per row, its fastest width (the row's loops then vectorise within the thread and
   * no cross-lane reduction runs)
   */
  threadsPerRow?: number;
  /**
   * An upper bound instead of an exact width: the width is a multiple of 32 near the row
   * length over the columns each thread should get, at most this (this itself when below 32)
   * and the pipeline's maximum, on every backend. An integer from 1 to the kernel's maximum.
   */
  maxThreadsPerRow?: number;
}

/** A checked {@linkcode RowWidthOptions}: exact, capped, or the backend's default. */
export type RowWidth =
  | { readonly kind: "exact"; readonly threads: number }
  | { readonly kind: "max"; readonly threads: number }
  | { readonly kind: "default" };

/**
 * The one place a row op's threadgroup width is chosen: the caller's exact width or cap,
 * else the backend's default (`kernelMax` on a GPU; `CPU_ROW_MAX_THREADS` on the CPU
 * backend, whose cost per thread is the per-lane loop around every barrier and collective).
 *
 * @param pipeline The pipeline.
 * @param backend The backend the dispatch runs on.
 * @param rows Rows (threadgroups).
 * @param cols Row length.
 * @param colsPerThread The columns each thread should get at least (automatic widths).
 * @param kernelMax The kernel's own cap on the width.
 * @param width The checked per-call choice.
 * @returns A TG-grid of one threadgroup per row.
 */
export function rowDispatch(
  pipeline: Pipeline,
  backend: Backend,
  rows: number,
  cols: number,
  colsPerThread: number,
  kernelMax: number,
  width: RowWidth,
): Dispatch {
  if (width.kind === "exact") {
    return { kind: "threadgroups", grid: [rows, 1, 1], threadgroup: [width.threads, 1, 1] };
  }
  const cap = width.kind === "max"
    ? width.threads
    : backend === "cpu"
    ? Math.min(kernelMax, CPU_ROW_MAX_THREADS)
    : kernelMax;
  return rowPerThreadgroup(pipeline, rows, cols, colsPerThread, cap);
}

/** One field of a kernel's `constant` params struct (4 bytes each, little-endian). */
export type ParamField = readonly ["u32" | "i32" | "f32", number];

/**
 * Packs a params struct of 4-byte fields, in declaration order, for `setBytes`.
 *
 * @param fields The fields, e.g. `[["f32", scale], ["u32", n]]`.
 * @returns The struct's bytes.
 */
export function packParams(fields: readonly ParamField[]): Uint8Array {
  const bytes = new Uint8Array(Math.max(4, fields.length * 4));
  const view = new DataView(bytes.buffer);
  fields.forEach(([type, value], i) => {
    if (type === "f32") view.setFloat32(i * 4, value, true);
    else if (type === "i32") view.setInt32(i * 4, value, true);
    else view.setUint32(i * 4, value, true);
  });
  return bytes;
}
