// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Builds this machine's native bridge ahead of time and prints where it is, so a first
 * `Device.open()` need not wait for the compiler. Run: `deno task build [cpu|metal]`.
 *
 * @module
 */
import { type Backend, defaultBackend } from "../backend.ts";
import { bridgeDir, openBridge } from "../ffi/library.ts";

if (import.meta.main) {
  const backend = (Deno.args[0] ?? defaultBackend()) as Backend;
  if (backend !== "cpu" && backend !== "metal") {
    console.error(`Unknown backend "${backend}": expected "cpu" or "metal"`);
    Deno.exit(2);
  }
  const start = performance.now();
  openBridge(backend);
  console.log(
    `${backend} bridge ready in ${bridgeDir(backend)} (${
      (performance.now() - start).toFixed(0)
    } ms)`,
  );
}
