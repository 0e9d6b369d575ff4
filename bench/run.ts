// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `deno task bench`: every benchmark in one command.
 *
 * 1. bench/startup.ts: cold start vs mlx-native's strategy, warm start from the persistent cache
 *    (writes its section of bench/RESULTS.md);
 * 2. bench/registry_bench.ts under `deno bench`: cache-hit and dispatch cost (writes its
 *    section of bench/RESULTS.md), then bench/registry_hit.ts: the hit with constants, min
 *    and median, current and previous path side by side (its own section);
 * 3. every other `bench/*_bench.ts` under `deno bench`;
 * 4. bench/cpu_throughput.ts (the CPU backend vs WebGPU/llvmpipe and memcpy), which keeps its
 *    own section of RESULTS.md;
 * 5. bench/turboquant.ts (the TurboQuant rotation, encoder and decode attention vs memcpy), its
 *    own section too;
 * 6. bench/quantized_matmul_ggml.ts (GGML mat-vec GB/s against memcpy, mat-mat GFLOP/s), its
 *    own section too.
 *
 * Prints every figure; with `--write`, each benchmark also updates its section of
 * bench/RESULTS.md. `--filter TEXT` is passed to `deno bench`; `--only startup` or
 * `--only registry` runs that one step.
 *
 * @module
 */
import { machine, WRITE_OPTION, writeSection } from "./_results.ts";
import { parseCli } from "../tools/_cli.ts";

const { values } = parseCli({
  usage: "deno task bench [--write] [--filter TEXT] [--only startup|registry]",
  summary: "Runs every benchmark: start-up, cache hits and dispatch, matmul, CPU throughput.",
  options: {
    write: WRITE_OPTION,
    filter: { type: "string", value: "TEXT", description: "only `deno bench` cases matching" },
    only: { type: "string", value: "STEP", description: "run one step: startup or registry" },
  },
});
if (values.only !== undefined && values.only !== "startup" && values.only !== "registry") {
  console.error(`--only takes startup or registry, got "${values.only}"`);
  Deno.exit(2);
}
const write = values.write ? ["--write"] : [];
const benchArgs = values.filter === undefined ? [] : ["--filter", values.filter];

const DIR = new URL(".", import.meta.url).pathname;
const PERMISSIONS = [
  "--allow-ffi",
  "--allow-env",
  "--allow-read",
  "--allow-write",
  "--allow-run",
  "--allow-net=127.0.0.1",
  "--allow-sys=loadavg",
];

async function deno(args: string[], stdout: "inherit" | "piped" = "inherit") {
  const output = await new Deno.Command(Deno.execPath(), { args, stdout, stderr: "inherit" })
    .output();
  if (!output.success) throw new Error(`deno ${args.join(" ")} failed`);
  return output;
}

if (values.only !== "registry") await deno(["run", ...PERMISSIONS, `${DIR}startup.ts`, ...write]);
if (values.only === "startup") Deno.exit(0);

// The registry's own benches, as JSON for RESULTS.md, then printed.
const json = await deno(
  ["bench", ...PERMISSIONS, "--json", ...benchArgs, `${DIR}registry_bench.ts`],
  "piped",
);
interface BenchResult {
  name: string;
  group?: string;
  results: { ok?: { n: number; min: number; avg: number; p75: number } }[];
}
const report: { benches: BenchResult[] } = JSON.parse(new TextDecoder().decode(json.stdout));
const ns = (x: number) => x < 1000 ? `${x.toFixed(0)} ns` : `${(x / 1000).toFixed(2)} µs`;
const rows = ["| group | bench | min | p75 | avg |", "| --- | --- | --- | --- | --- |"];
for (const bench of report.benches) {
  const ok = bench.results[0]?.ok;
  if (!ok) continue;
  rows.push(
    `| ${bench.group ?? ""} | ${bench.name} | ${ns(ok.min)} | ${ns(ok.p75)} | ${ns(ok.avg)} |`,
  );
}
const body = [
  `Command: \`deno task bench\` (bench/registry_bench.ts under \`deno bench\`). Machine: ${machine()}. Backend: cpu.`,
  "",
  "Per call. The hit path compares the constants as given with the specialisations seen for that name: each index the kernel declares (Pipeline.functionConstants) is read directly and compared with ===, no key enumerated (keys the kernel does not declare are not read on a hit; the slow path refuses them). No Uint32Array, no string, no sort; spelled-out typed constants take the normalising path. Dispatch: one command buffer with one dispatch of 256 threads, encoded, committed and waited for (waitUntilCompleted() runs it on the calling thread when the queue is idle; completed() on the FFI call's thread), against encoding alone. The machine is shared (several agents, 2 cores; see the load in the machine line): min is the cleanest figure, avg includes scheduler noise.",
  "",
  ...rows,
].join("\n");
writeSection("registry", "Cache hit and dispatch (registry_bench.ts)", body);
console.log(body);
await deno(["run", ...PERMISSIONS, `${DIR}registry_hit.ts`, ...write]);
if (values.only === "registry") Deno.exit(0);

const others = [...Deno.readDirSync(DIR)]
  .map((entry) => entry.name)
  .filter((name) => name.endsWith("_bench.ts") && name !== "registry_bench.ts")
  .sort()
  .map((name) => `${DIR}${name}`);
if (others.length > 0) await deno(["bench", ...PERMISSIONS, ...benchArgs, ...others]);

// The CPU backend throughput comparison (vs WebGPU/llvmpipe and memcpy): a script of its own
// that writes its own section of RESULTS.md.
const throughput = `${DIR}cpu_throughput.ts`;
try {
  Deno.statSync(throughput);
  await deno(["run", "--allow-all", "--unstable-webgpu", throughput, ...write]);
} catch (error) {
  if (!(error instanceof Deno.errors.NotFound)) throw error;
}

// The TurboQuant KV cache (FWHT, encoder, decode attention at KV 4096 vs memcpy): its own section.
await deno(["run", "--allow-all", `${DIR}turboquant.ts`, ...write]);

// The GGML quantized matmuls at model sizes: a script of its own with its own section.
await deno(["run", ...PERMISSIONS, `${DIR}quantized_matmul_ggml.ts`, ...write]);
