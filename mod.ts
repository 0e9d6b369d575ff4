// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * GPU compute for Deno on Apple's Metal, with a catalogue of bundled MSL kernels compiled
 * lazily into cached pipelines. On macOS it runs on Metal; everywhere else the same MSL runs
 * on the CPU backend.
 *
 * ```ts ignore
 * import { Device, KernelRegistry, softmax } from "@metal-compute/kernels";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using input = device.newBuffer(new Float32Array([1, 2, 3, 4]));
 * using output = device.newBuffer(16);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await softmax(encoder, { registry, dtype: "f32", input, output, rows: 1, cols: 4 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * console.log(new Float32Array(output.contents));
 * ```
 *
 * @module
 */
export * from "./buffer.ts";
export * from "./cache.ts";
export * from "./command_buffer.ts";
export * from "./constants.ts";
export * from "./device.ts";
export * from "./dtype.ts";
export * from "./errors.ts";
export * from "./ops/mod.ts";
export * from "./pipeline.ts";
export * from "./registry.ts";
export { HANDLE, NativeResource } from "./resource.ts";
export {
  type CatalogEntry,
  type KernelFamily,
  type KernelName,
  KERNELS,
  type ShaderFile,
} from "./shaders/catalog.ts";
