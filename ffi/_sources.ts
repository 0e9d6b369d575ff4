// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * The bridge sources as text imports (private). JSR installs only the module graph, so the
 * native sources travel as text and are built on the user's machine; literal specifiers keep
 * every file in the published graph. `tests/ffi_test.ts` checks this list against the files
 * under `metal_bridge/`.
 *
 * @module
 */
import header from "../metal_bridge/metal_bridge.h" with { type: "text" };
import compilerHeader from "../metal_bridge/cpu/compiler.h" with { type: "text" };
import kernelModuleHeader from "../metal_bridge/cpu/kernel_module.h" with { type: "text" };
import type { Backend } from "./library.ts";

/** One source file: its path relative to the build directory, and its text. */
export interface NativeSource {
  /** Path under the build directory, e.g. `metal_bridge/cpu/runtime.cpp`. */
  path: string;
  /** The file's contents. */
  text: string;
}

/** `metal_bridge/metal_bridge.h`, the one ABI. */
export const HEADER_SOURCE: NativeSource = { path: "metal_bridge/metal_bridge.h", text: header };

/** Every file each backend's build needs. */
export const SOURCES: Record<Backend, readonly NativeSource[]> = {
  cpu: [
    HEADER_SOURCE,
    { path: "metal_bridge/cpu/compiler.h", text: compilerHeader },
    { path: "metal_bridge/cpu/kernel_module.h", text: kernelModuleHeader },
  ],
  metal: [HEADER_SOURCE],
};
