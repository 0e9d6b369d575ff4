// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * {@linkcode Backend}: which implementation of the bridge's C ABI runs the kernels.
 *
 * @module
 */

/**
 * A backend of the C ABI: `"metal"` runs kernels on Metal.framework (macOS), `"cpu"` compiles
 * the same MSL into a native module and runs it on the CPU (everywhere).
 */
export type Backend = "metal" | "cpu";

/**
 * The backend this machine runs by default: Metal on macOS, the CPU elsewhere.
 *
 * @returns `"metal"` on macOS, else `"cpu"`.
 *
 * @example Usage
 * ```ts
 * import { defaultBackend } from "./backend.ts";
 * import assert from "node:assert";
 *
 * assert.strictEqual(defaultBackend(), Deno.build.os === "darwin" ? "metal" : "cpu");
 * ```
 */
export function defaultBackend(): Backend {
  return Deno.build.os === "darwin" ? "metal" : "cpu";
}
