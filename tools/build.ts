// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `deno task build [cpu|metal]`: builds this machine's native bridge ahead of time and prints
 * where it is, so a first `Device.open()` need not wait for the compiler.
 *
 * @module
 */
import { defaultBackend } from "../backend.ts";
import { bridgeDir, openBridgeAsync } from "../ffi/library.ts";
import { parseCli } from "./_cli.ts";

const { positionals } = parseCli({
  usage: "deno task build [cpu|metal]",
  summary: "Builds the native bridge (default: this machine's backend) into the cache.",
  options: {},
  positionals: true,
});
const backend = positionals[0] ?? defaultBackend();
if ((backend !== "cpu" && backend !== "metal") || positionals.length > 1) {
  console.error(`Unknown backend "${positionals.join(" ")}": expected "cpu" or "metal"`);
  Deno.exit(2);
}
const start = performance.now();
await openBridgeAsync(backend, { progress: true }); // this task exists to wait for the build
console.log(
  `${backend} bridge ready in ${bridgeDir(backend)} (${(performance.now() - start).toFixed(0)} ms)`,
);
