// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `deno task precompile [name...]`: builds every catalogue pipeline (or the names given) on
 * this machine's default device into the persistent cache, with a progress bar and a
 * summary, so the first real run starts warm. `--concurrency N` bounds parallel compiles
 * (default: the core count).
 *
 * @module
 */
import { cacheInfo, Device, KernelRegistry, type PrecompileProgress } from "../mod.ts";
import { parseCli } from "./_cli.ts";

const { values, positionals: args } = parseCli({
  usage: "deno task precompile [--concurrency N] [name...]",
  summary: "Builds every catalogue pipeline (or the names given) on this machine's default\n" +
    "device into the persistent cache, so the first real run starts warm.",
  options: {
    concurrency: { type: "string", value: "N", description: "parallel compiles (default: cores)" },
  },
  positionals: true,
});
const concurrency = values.concurrency === undefined ? undefined : Number(values.concurrency);
if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency >= 1)) {
  console.error(`--concurrency must be a positive integer, got "${values.concurrency}"`);
  Deno.exit(2);
}

using device = await Device.open();
using registry = new KernelRegistry();
const names = args.length > 0 ? args : registry.names;
const interactive = Deno.stderr.isTerminal();
const encoder = new TextEncoder();
const WIDTH = 30;

function bar({ done, total, name, status }: PrecompileProgress): void {
  const filled = Math.round((done / total) * WIDTH);
  const line = `[${"#".repeat(filled)}${
    ".".repeat(WIDTH - filled)
  }] ${done}/${total} ${name}: ${status}`;
  if (interactive) Deno.stderr.writeSync(encoder.encode(`\r\x1b[K${line}`));
  else console.error(line);
}

console.error(`precompiling ${names.length} pipelines on ${device.name} into ${cacheInfo().dir}`);
const summary = await registry.precompile(names, { device, concurrency, onProgress: bar });
if (interactive) Deno.stderr.writeSync(encoder.encode("\n"));
for (const { name, error } of summary.failed) {
  console.error(`failed: ${name}: ${error.message.split("\n").slice(0, 3).join("\n  ")}`);
}
console.log(
  `${summary.total} pipelines: ${summary.compiled} compiled, ${summary.fromCache} from cache, ` +
    `${summary.failed.length} failed; ${summary.libraryCompiles} library compiles; ` +
    `${(summary.milliseconds / 1000).toFixed(2)} s`,
);
if (summary.failed.length > 0) Deno.exitCode = 1;
