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

const { values } = parseCli({
  usage: "deno run -A bench/startup.ts [--write] [--no-per-name]",
  summary: "Start-up: cold (ours and mlx-native's strategy) and warm, in fresh processes.",
  options: {
    write: WRITE_OPTION,
    "no-per-name": {
      type: "boolean",
      description: "skip the (long) mlx-native strategy run, leaving its row out",
    },
  },
});

const CHILD = new URL("./_startup_child.ts", import.meta.url).pathname;
const WARM_RUNS = 3;

Device.openSync({ backend: "cpu" }).close(); // build the bridge here once; children load it
const bridge = Deno.env.get("METAL_COMPUTE_CPU_LIBRARY") ??
  join(bridgeDir("cpu"), "libmetal_bridge_cpu.so");

interface Run {
  importMs: number;
  openMs: number;
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

const s = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
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
  const warm = (key: keyof Run) => median(warms.map((w) => w[key] as number));
  console.log(`warm: ${s(warm("allMs"))}`);
  let perName: Run | undefined;
  if (!values["no-per-name"]) {
    console.log("per-name strategy (empty cache)...");
    perName = await run(freshCache(), "per-name", names);
    console.log(`per-name: ${s(perName.allMs)}, ${perName.libraryCompiles} library compiles`);
  }

  const command = `deno task bench (bench/startup.ts${
    values["no-per-name"] ? " --no-per-name" : ""
  })`;
  const row = (label: string, r: Run, compiles: string) =>
    `| ${label} | ${s(r.importMs)} | ${s(r.openMs)} | ${s(r.firstMs)} | ${
      s(r.allMs)
    } | ${compiles} | ${r.compiled} / ${r.fromCache} |`;
  const warmRun: Run = {
    ...warms[0],
    importMs: warm("importMs"),
    openMs: warm("openMs"),
    firstMs: warm("firstMs"),
    allMs: warm("allMs"),
  };
  const rows = [
    "| run | import mod.ts | open the device | first pipeline | all pipelines | library compiles | compiled / from cache |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...(perName
      ? [
        row(
          "mlx-native's strategy, empty cache (one library per kernel name)",
          perName,
          `${perName.libraryCompiles}`,
        ),
      ]
      : []),
    row(
      "cold: this registry, empty cache (one library per file)",
      cold,
      `${cold.libraryCompiles}`,
    ),
    row(
      `warm: new process, same cache (median of ${WARM_RUNS})`,
      warmRun,
      `0 (${warms[0].libraryCompiles} read from the cache)`,
    ),
  ];
  const withImport = (r: Run) => r.importMs + r.allMs;
  const body = [
    `Command: \`${command}\`. Machine: ${machine()}. Backend: cpu (clang per library, cached kernel modules).`,
    "",
    `Catalogue: ${catalogue.length} names registered when measured; ${names.length} timed` +
    (failed.length
      ? ` (${failed.length} fail to compile on this backend and are left out: ${
        failed.join(", ")
      }).`
      : "."),
    "Each run is a fresh `deno run` process building every name through `registry.precompile` (parallel, bounded by the core count); kernels with required function constants use their catalogue specialisation. Times after the import count from its end: opening the device, then the first and the last pipeline. Importing mod.ts (Deno loading this package's modules) costs the same whatever the cache holds, so it is shown apart.",
    "",
    ...rows,
    "",
    ...(perName
      ? [
        `- Cold vs mlx-native's strategy: **${
          (perName.allMs / cold.allMs).toFixed(1)
        }x** faster to all pipelines, ${cold.libraryCompiles} vs ${perName.libraryCompiles} library compiles.`,
      ]
      : []),
    `- Warm vs cold (open the device + every pipeline): **${
      (cold.allMs / warmRun.allMs).toFixed(0)
    }x** faster (first pipeline ${
      (cold.firstMs / warmRun.firstMs).toFixed(0)
    }x); with the import of mod.ts counted too, **${
      (withImport(cold) / withImport(warmRun)).toFixed(0)
    }x**.`,
  ].join("\n");
  writeSection("startup", "Start-up and the persistent cache", body);
  console.log(body);
} finally {
  for (const dir of temporary) Deno.removeSync(dir, { recursive: true });
}
