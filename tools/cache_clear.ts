// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `deno task cache-clear [--bridge]`: removes the compiled kernels from the persistent cache
 * (`--bridge`: the built native bridge too).
 *
 * @module
 */
import { cacheInfo, clearCache } from "../mod.ts";

const before = cacheInfo();
const removed = clearCache({ bridge: Deno.args.includes("--bridge") });
console.log(
  `removed ${removed.entries} of ${before.entries} entries (${
    (removed.bytes / 1048576).toFixed(1)
  } MiB) from ${removed.dir}`,
);
