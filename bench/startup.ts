// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Start-up benchmark (part of `deno task bench`): every catalogue pipeline built in fresh
 * processes on the CPU backend, each against its own temporary cache directory.
 *
 * - cold: an empty cache, the registry's strategy (one library compile per shader file);
 * - per-name: an empty cache, mlx-native's strategy (one library compile per kernel name);
 * - warm: a new process on the cache the cold run filled.
 *
 * Names that fail to compile on this backend are reported and left out of the timed runs
 * (failures are never cached, so they would time the compiler, not the cache). Writes the
 * "Start-up and the persistent cache" section of bench/RESULTS.md.
 *
 * @module
 */
import { join } from "node:path";
import { Device, KernelRegistry } from "../mod.ts";
import { bridgeDir } from "../ffi/library.ts";
import { machine, WRITE_OPTION, writeSection } from "./_results.ts";
import { parseCli } from "../tools/_cli.ts";

parseCli({
  usage: "deno run -A bench/startup.ts [--write]",
  summary: "Start-up: cold (ours and mlx-native's strategy) and warm, in fresh processes.",
  options: { write: WRITE_OPTION },
});

const CHILD = new URL("./_startup_child.ts", import.meta.url).pathname;
const WARM_RUNS = 3;

Device.openSync({ backend: "cpu" }).close(); // build the bridge here once; children load it
const bridge = Deno.env.get("METAL_COMPUTE_CPU_LIBRARY") ??
  join(bridgeDir("cpu"), "libmetal_bridge_cpu.so");

interface Run {
  firstMs: number;
  allMs: number;
  libraryCompiles: number;
  compiled: number;
  fromCache: number;
  failed: string[];
}

async function run(cache: string, strategy: "ours" | "per-name", names: string[]): Promise<Run> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", CHILD, strategy, ...names],
    env: { METAL_COMPUTE_CACHE_DIR: cache, METAL_COMPUTE_CPU_LIBRARY: bridge },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  if (!output.success) throw new Error(`start-up child failed:\n${text.decode(output.stderr)}`);
  const lines = text.decode(output.stdout).trim().split("\n");
  return JSON.parse(lines[lines.length - 1]);
}

const temporary: string[] = [];
function freshCache(): string {
  const dir = Deno.makeTempDirSync({ prefix: "mc_startup_" });
  temporary.push(dir);
  return dir;
}

const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

try {
  const catalogue = new KernelRegistry().names;
  console.log(`start-up: ${catalogue.length} catalogue names; cold run (empty cache)...`);
  let coldCache = freshCache();
  let cold = await run(coldCache, "ours", catalogue);
  const failed = cold.failed;
  const names = catalogue.filter((name) => !failed.includes(name));
  if (failed.length > 0) {
    console.log(`${failed.length} names fail to compile here; cold run again without them...`);
    coldCache = freshCache();
    cold = await run(coldCache, "ours", names);
  }
  console.log(`cold: ${s(cold.allMs)}, ${cold.libraryCompiles} library compiles; warm runs...`);
  const warms: Run[] = [];
  for (let i = 0; i < WARM_RUNS; i++) warms.push(await run(coldCache, "ours", names));
  const warmFirst = median(warms.map((w) => w.firstMs));
  const warmAll = median(warms.map((w) => w.allMs));
  console.log(`warm: ${s(warmAll)}; per-name strategy (empty cache)...`);
  const perName = await run(freshCache(), "per-name", names);
  console.log(`per-name: ${s(perName.allMs)}, ${perName.libraryCompiles} library compiles`);

  const command = "deno task bench (bench/startup.ts)";
  const rows = [
    "| run | first pipeline | all pipelines | library compiles | compiled / from cache |",
    "| --- | --- | --- | --- | --- |",
    `| mlx-native's strategy, empty cache (one library per kernel name) | ${s(perName.firstMs)} | ${
      s(perName.allMs)
    } | ${perName.libraryCompiles} | ${perName.compiled} / ${perName.fromCache} |`,
    `| cold: this registry, empty cache (one library per file) | ${s(cold.firstMs)} | ${
      s(cold.allMs)
    } | ${cold.libraryCompiles} | ${cold.compiled} / ${cold.fromCache} |`,
    `| warm: new process, same cache (median of ${WARM_RUNS}) | ${s(warmFirst)} | ${
      s(warmAll)
    } | 0 (${warms[0].libraryCompiles} read from the cache) | ${warms[0].compiled} / ${
      warms[0].fromCache
    } |`,
  ];
  const body = [
    `Command: \`${command}\`. Machine: ${machine()}. Backend: cpu (clang per library, cached kernel modules).`,
    "",
    `Catalogue: ${catalogue.length} names registered when measured; ${names.length} timed` +
    (failed.length
      ? ` (${failed.length} fail to compile on this backend and are left out: ${
        failed.join(", ")
      }).`
      : "."),
    "Each run is a fresh `deno run` process (times include opening the device and loading the module, not Deno's start-up) building every name through `registry.precompile` (parallel, bounded by the core count); kernels with required function constants use their catalogue specialisation.",
    "",
    ...rows,
    "",
    `- Cold vs mlx-native's strategy: **${
      (perName.allMs / cold.allMs).toFixed(1)
    }x** faster to all pipelines, ${cold.libraryCompiles} vs ${perName.libraryCompiles} library compiles.`,
    `- Warm vs cold: first pipeline **${
      (cold.firstMs / warmFirst).toFixed(0)
    }x** faster, all pipelines **${(cold.allMs / warmAll).toFixed(0)}x** faster.`,
  ].join("\n");
  writeSection("startup", "Start-up and the persistent cache", body);
  console.log(body);
} finally {
  for (const dir of temporary) Deno.removeSync(dir, { recursive: true });
}
