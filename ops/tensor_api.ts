// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * The runtime probe for Metal 4's tensor API (`<metal_tensor>`, MetalPerformancePrimitives'
 * `matmul2d`): whether a device compiles a tensor kernel, asked once per registry and device,
 * and the choice between a tensor kernel and its SIMD-group-matrix twin that follows from it.
 *
 * Metal compiles the tensor API from macOS 26 (MSL 4) on devices that support it; on older
 * systems the compiler rejects the headers, so the probe answers no and a caller takes the
 * twin. The CPU backend implements the API (`metal_bridge/cpu/msl/metal_tensor.h`), so there
 * the probe answers yes. The probe compiles `hf2q_dense_mm_f32_f32_tensor` (the smallest
 * tensor kernel of the catalogue; the pipeline stays cached for use). A compile failure means
 * "no"; any other failure (a closed registry, a bad device) is thrown.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry } from "../mod.ts";
 * import { tensorApiSupported } from "./tensor_api.ts";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * console.log(await tensorApiSupported(device, registry)); // true on the CPU backend
 * ```
 *
 * @module
 */
import type { Device } from "../device.ts";
import { KernelNotFoundError, ShaderCompilationError } from "../errors.ts";
import type { KernelRegistry } from "../registry.ts";
import type { KernelName } from "../shaders/catalog.ts";
import { DENSE_MM_F32_F32_KERNELS } from "../shaders/dense_mm_f32_f32.ts";

/** The kernel the probe compiles. */
export const TENSOR_API_PROBE_KERNEL: KernelName = DENSE_MM_F32_F32_KERNELS.f32;

// Answers by registry, then device (both held weakly: a closed one is simply forgotten).
const answers = new WeakMap<KernelRegistry, WeakMap<Device, boolean>>();

function remember(registry: KernelRegistry, device: Device, answer: boolean): boolean {
  let byDevice = answers.get(registry);
  if (!byDevice) answers.set(registry, byDevice = new WeakMap());
  byDevice.set(device, answer);
  return answer;
}

function isCompileFailure(error: unknown): boolean {
  return error instanceof ShaderCompilationError || error instanceof KernelNotFoundError;
}

/**
 * Whether `device` compiles Metal 4 tensor-API kernels (asked once per registry and device).
 *
 * @param device The device.
 * @param registry The registry that compiles (and keeps) the probe kernel.
 * @returns `true` when the probe kernel compiles.
 * @throws {Error} Any failure other than a compile error (a closed registry or device).
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry } from "../mod.ts";
 * import { tensorApiSupported } from "./tensor_api.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const first = await tensorApiSupported(device, registry);
 * assert.strictEqual(await tensorApiSupported(device, registry), first); // cached
 * ```
 */
export async function tensorApiSupported(
  device: Device,
  registry: KernelRegistry,
): Promise<boolean> {
  const known = answers.get(registry)?.get(device);
  if (known !== undefined) return known;
  try {
    await registry.getPipeline(TENSOR_API_PROBE_KERNEL, device);
    return remember(registry, device, true);
  } catch (error) {
    if (isCompileFailure(error)) return remember(registry, device, false);
    throw error;
  }
}

/**
 * {@linkcode tensorApiSupported}, blocking while the probe compiles on first use.
 *
 * @param device The device.
 * @param registry The registry that compiles (and keeps) the probe kernel.
 * @returns `true` when the probe kernel compiles.
 * @throws {Error} Any failure other than a compile error.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry } from "../mod.ts";
 * import { tensorApiSupportedSync } from "./tensor_api.ts";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * console.log(tensorApiSupportedSync(device, registry));
 * ```
 */
export function tensorApiSupportedSync(device: Device, registry: KernelRegistry): boolean {
  const known = answers.get(registry)?.get(device);
  if (known !== undefined) return known;
  try {
    registry.getPipelineSync(TENSOR_API_PROBE_KERNEL, device);
    return remember(registry, device, true);
  } catch (error) {
    if (isCompileFailure(error)) return remember(registry, device, false);
    throw error;
  }
}

/** Raised when a tensor-API kernel without a SIMD-group twin is asked of a device without the API. */
export class TensorApiUnsupportedError extends Error {
  /** The kernel that needs the tensor API. */
  readonly kernel: string;
  /** The device's name. */
  readonly device: string;

  /**
   * Makes the error for a kernel and a device.
   *
   * @param kernel The kernel that needs the tensor API.
   * @param device The device's name.
   * @param options Error options (`cause`).
   */
  constructor(kernel: string, device: string, options?: ErrorOptions) {
    super(
      `Cannot encode ${kernel}: device "${device}" does not compile Metal 4's tensor API (macOS 26 on a device that supports it), and this kernel has no SIMD-group twin`,
      options,
    );
    this.name = "TensorApiUnsupportedError";
    this.kernel = kernel;
    this.device = device;
  }
}

/**
 * The kernel to run: `tensorKernel` when the device compiles the tensor API, else its
 * SIMD-group-matrix twin `fallback`.
 *
 * @param device The device.
 * @param registry The registry (probe and pipelines).
 * @param tensorKernel The tensor-API kernel.
 * @param fallback Its SIMD-group twin, or `undefined` when it has none.
 * @returns The name to encode.
 * @throws {TensorApiUnsupportedError} When the API is missing and there is no twin.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry } from "../mod.ts";
 * import { chooseTensorKernel } from "./tensor_api.ts";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const name = await chooseTensorKernel(
 *   device, registry, "hf2q_dense_mm_f32_f32_tensor", "dense_gemm_f16",
 * );
 * console.log(name);
 * ```
 */
export async function chooseTensorKernel(
  device: Device,
  registry: KernelRegistry,
  tensorKernel: KernelName,
  fallback?: KernelName,
): Promise<KernelName> {
  if (await tensorApiSupported(device, registry)) return tensorKernel;
  if (fallback === undefined) throw new TensorApiUnsupportedError(tensorKernel, device.name);
  return fallback;
}

/**
 * {@linkcode chooseTensorKernel}, blocking while the probe compiles on first use.
 *
 * @param device The device.
 * @param registry The registry (probe and pipelines).
 * @param tensorKernel The tensor-API kernel.
 * @param fallback Its SIMD-group twin, or `undefined` when it has none.
 * @returns The name to encode.
 * @throws {TensorApiUnsupportedError} When the API is missing and there is no twin.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry } from "../mod.ts";
 * import { chooseTensorKernelSync } from "./tensor_api.ts";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * console.log(chooseTensorKernelSync(device, registry, "hf2q_dense_mm_f32_f32_tensor"));
 * ```
 */
export function chooseTensorKernelSync(
  device: Device,
  registry: KernelRegistry,
  tensorKernel: KernelName,
  fallback?: KernelName,
): KernelName {
  if (tensorApiSupportedSync(device, registry)) return tensorKernel;
  if (fallback === undefined) throw new TensorApiUnsupportedError(tensorKernel, device.name);
  return fallback;
}
