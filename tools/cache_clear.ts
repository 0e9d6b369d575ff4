// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `deno task cache-clear [--bridge]`: removes the compiled kernels from the persistent cache
 * (`--bridge`: the built native bridge too).
 *
 * @module
 */
import { cacheInfo, clearCache } from "../mod.ts";
import { parseCli } from "./_cli.ts";

const { values } = parseCli({
  usage: "deno task cache-clear [--bridge]",
  summary: "Removes the compiled kernels from the persistent cache.",
  options: { bridge: { type: "boolean", description: "remove the built native bridge too" } },
});
const before = cacheInfo();
const removed = clearCache({ bridge: values.bridge ?? false });
console.log(
  `removed ${removed.entries} of ${before.entries} entries (${
    (removed.bytes / 1048576).toFixed(1)
  } MiB) from ${removed.dir}`,
);
