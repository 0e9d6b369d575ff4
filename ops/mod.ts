// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Typed op helpers, one module per kernel family: each validates its options, gets the
 * pipeline from a `KernelRegistry`, binds and dispatches on a compute encoder.
 * Async by default, with `*Sync` twins. f64 references live beside them in
 * `ops/<family>_ref.ts`.
 *
 * @example Usage
 * ```ts ignore
 * import { Device, KernelRegistry } from "../mod.ts";
 * import { softmax } from "./mod.ts";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using logits = device.newBuffer(new Float32Array([1, 2, 3, 4]));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await softmax(encoder, { registry, input: logits, output: logits, dtype: "f32", rows: 1, cols: 4 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * ```
 *
 * @module
 */
export * from "./activations.ts";
export * from "./attention_prep.ts";
export * from "./copy.ts";
export * from "./elementwise.ts";
export * from "./kv_cache.ts";
export * from "./fused_norm_add.ts";
export * from "./matmul.ts";
export * from "./placeholder.ts";
export * from "./rms_norm.ts";
export * from "./rope.ts";
export * from "./sampling.ts";
export * from "./softmax.ts";
