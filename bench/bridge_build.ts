// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * How long a first use waits for the CPU bridge (Linux): `deno task build` into an empty cache,
 * side by side with the plan it replaced (three unity units: the runtime with the command queue,
 * the device/library/pipeline calls and the disk cache all at `-O2`; the front end and the host
 * set-up at `-O0` sharing a precompiled header) over the same sources, the order alternating, a
 * few rounds. Prints each round's wall time (for the shipped plan, what a first use waits: the
 * open to a loaded bridge, as `deno task build` reports it; and the whole process), the CPU
 * time of every compiler it ran (a figure other load on the machine moves less), each step's time as `deno task build` reports it, and
 * the load average; then the minimum and median of each. With `--write`, they go to the "Native
 * bridge build" section of bench/RESULTS.md.
 *
 * With `--runtime`, both libraries of the last round then run the bridge's hot paths
 * (`bench/_bridge_runtime_child.ts`: dispatch round trip, elementwise and softmax kernels on
 * work-item loops and fibers, pipelines from a warm cache), one fresh process per library and
 * round, alternating: what building less of the bridge optimised costs when it runs.
 *
 * @module
 */
import { join } from "node:path";
import { machine, parseRounds, roundsOption, WRITE_OPTION, writeSection } from "./_results.ts";
import { parseCli } from "../tools/_cli.ts";

const { values } = parseCli({
  usage: "deno run -A bench/bridge_build.ts [--rounds N] [--runtime] [--write]",
  summary: "First-use build of the CPU bridge: today's plan vs the previous one, side by side.",
  options: {
    write: WRITE_OPTION,
    rounds: roundsOption(3),
    runtime: {
      type: "boolean",
      description: "also run the bridge's hot paths with both libraries, alternating",
    },
  },
});
const rounds = parseRounds(values.rounds, 3);
if (Deno.build.os !== "linux") {
  console.log("bridge_build: skipped (the CPU bridge's build is measured on Linux)");
  Deno.exit(0);
}

const BUILD = new URL("../tools/build.ts", import.meta.url).pathname;
const RUNTIME_CHILD = new URL("./_bridge_runtime_child.ts", import.meta.url).pathname;
const CLANG = Deno.env.get("CLANG") ?? "clang-19";

/** CPU seconds of this process's finished children (and theirs): `getrusage(RUSAGE_CHILDREN)`. */
const libc = Deno.dlopen("libc.so.6", {
  getrusage: { parameters: ["i32", "buffer"], result: "i32" },
});
function childrenCpuSeconds(): number {
  const usage = new BigInt64Array(18); // struct rusage: two timevals, then 14 longs
  if (libc.symbols.getrusage(-1, usage) !== 0) throw new Error("getrusage failed");
  const [userS, userUs, systemS, systemUs] = [...usage.subarray(0, 4)].map(Number);
  return userS + systemS + (userUs + systemUs) / 1e6;
}

interface Round {
  /** What a first use waits: for the shipped plan, from the open to a loaded bridge. */
  wallS: number;
  /** The shipped plan's whole `deno run` of tools/build.ts, Deno's own start-up included. */
  processS?: number;
  cpuS: number;
  /** Each step's time as the build reported it, e.g. "dispatch (-O2) 4.1 s, ...". */
  steps: string;
  load: string;
}

const load = () => Deno.readTextFileSync("/proc/loadavg").split(" ")[0];

/** `deno task build` into an empty cache: the first use of the shipped plan. */
async function shipped(cache: string): Promise<Round> {
  const cpu = childrenCpuSeconds();
  const start = performance.now();
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", BUILD, "cpu"],
    env: { METAL_COMPUTE_CACHE_DIR: cache, METAL_COMPUTE_PROGRESS: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const processS = (performance.now() - start) / 1000;
  const stderr = new TextDecoder().decode(output.stderr);
  if (!output.success) throw new Error(`deno task build failed:\n${stderr}`);
  const steps = /built the cpu bridge in [\d.]+ s \((.*); /.exec(stderr)?.[1] ?? "?";
  // tools/build.ts times openBridgeAsync: finding clang, writing the sources, the build.
  const ready = / bridge ready in .* \((\d+) ms\)/.exec(new TextDecoder().decode(output.stdout));
  if (!ready) throw new Error("deno task build did not say when the bridge was ready");
  const wallS = Number(ready[1]) / 1000;
  return { wallS, processS, cpuS: childrenCpuSeconds() - cpu, steps, load: load() };
}

/** One compile of the previous plan: its arguments and the step it waits for. */
interface Step {
  label: string;
  args: string[];
  after?: Step;
}

/**
 * The plan before this one (as shipped until the dispatch path got its own unit), over the
 * sources the shipped build wrote to `dir`, run as `ffi/library.ts` runs a plan: as many steps
 * at a time as there are cores, each once the step it comes after has ended, then the link.
 */
async function previousPlan(dir: string): Promise<Round> {
  const flags = ["--driver-mode=g++", "-std=c++20", "-fPIC", "-pthread", "-fvisibility=hidden"];
  const cpp = [...Deno.readDirSync(join(dir, "metal_bridge/cpu"))]
    .map((entry) => entry.name).filter((name) => name.endsWith(".cpp")).sort();
  const runtime = ["runtime", "commands", "worker", "pool", "fiber", "disk_cache", "hasher"];
  const host = ["checked", "device", "sandbox"];
  const named = new Set([...runtime, ...host]);
  const units: [string, string, string[]][] = [
    ["runtime", "-O2", runtime.filter((name) => cpp.includes(`${name}.cpp`))],
    ["front end", "-O0", cpp.map((name) => name.slice(0, -4)).filter((name) => !named.has(name))],
    ["host", "-O0", host],
  ];
  const headers = new Set<string>();
  for (const name of Deno.readDirSync(join(dir, "metal_bridge/cpu"))) {
    if (!/\.(cpp|h)$/.test(name.name)) continue;
    const text = Deno.readTextFileSync(join(dir, "metal_bridge/cpu", name.name));
    for (const [, header] of text.matchAll(/^#include <([a-z_]+)>/gm)) headers.add(header);
  }
  headers.delete("csetjmp");
  Deno.writeTextFileSync(
    join(dir, "ref.std.h"),
    [...headers].sort().map((name) => `#include <${name}>\n`).join(""),
  );
  const pch: Step = {
    label: "standard headers (-O0)",
    args: [...flags, "-O0", "-x", "c++-header", "-o", "ref.std.pch", "ref.std.h"],
  };
  const steps: Step[] = [pch];
  units.forEach(([label, level, names], i) => {
    Deno.writeTextFileSync(
      join(dir, `ref.unit${i}.cpp`),
      names.map((name) => `#include "metal_bridge/cpu/${name}.cpp"\n`).join(""),
    );
    const shared = level === "-O0";
    steps.push({
      label: `${label} (${level})`,
      args: [
        ...flags,
        level,
        ...(shared ? ["-include-pch", "ref.std.pch"] : []),
        "-c",
        "-o",
        `ref.unit${i}.o`,
        `ref.unit${i}.cpp`,
      ],
      after: shared ? pch : undefined,
    });
  });
  const cpu = childrenCpuSeconds();
  const start = performance.now();
  const times: string[] = [];
  const run = async (step: Step) => {
    const begin = performance.now();
    const output = await new Deno.Command(CLANG, {
      args: step.args,
      cwd: dir,
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!output.success) throw new Error(new TextDecoder().decode(output.stderr));
    times.push(`${step.label} ${((performance.now() - begin) / 1000).toFixed(1)} s`);
  };
  const ended = new Set<Step>();
  const waiting = [pch, ...steps.slice(1)];
  const running = new Set<Promise<void>>();
  while (waiting.length > 0 || running.size > 0) {
    const ready = waiting.findIndex((step) => !step.after || ended.has(step.after));
    if (ready >= 0 && running.size < navigator.hardwareConcurrency) {
      const [step] = waiting.splice(ready, 1);
      const task: Promise<void> = run(step).finally(() => {
        ended.add(step);
        running.delete(task);
      });
      running.add(task);
      continue;
    }
    await Promise.race(running);
  }
  await run({
    label: "link",
    args: [...flags, "-shared", "-o", "ref.so", ...units.map((_, i) => `ref.unit${i}.o`), "-ldl"],
  });
  const wallS = (performance.now() - start) / 1000;
  return { wallS, cpuS: childrenCpuSeconds() - cpu, steps: times.join(", "), load: load() };
}

type Plan = "shipped" | "previous" | "rebuild";
const results: Record<Plan, Round[]> = { shipped: [], previous: [], rebuild: [] };
const caches: string[] = [];
for (let i = 0; i < rounds; i++) {
  const cache = Deno.makeTempDirSync({ prefix: "bridge-build-" });
  caches.push(cache);
  // Both plans build the same sources, written as a first use writes them; the order
  // alternates, so that neither always runs second, with the file cache warm.
  await writeSourcesInto(cache);
  const native = bridgeEntry(cache);
  const dir = join(cache, "native", native.name);
  let ours: Round, previous: Round;
  if (i % 2 === 0) {
    ours = await shipped(cache);
    previous = await previousPlan(dir);
  } else {
    previous = await previousPlan(dir);
    ours = await shipped(cache);
  }
  // New sources with the same clang (an upgrade): the units' objects and the library go, the
  // standard headers' precompiled header stays in the build cache.
  const buildCache = join(cache, "native", "build-cache");
  for (const entry of Deno.readDirSync(buildCache)) {
    if (entry.name.endsWith(".o")) Deno.removeSync(join(buildCache, entry.name));
  }
  Deno.removeSync(join(dir, "libmetal_bridge_cpu.so"));
  const rebuild = await shipped(cache);
  const measured = [["shipped", ours], ["previous", previous], ["rebuild", rebuild]] as const;
  for (const [name, round] of measured) {
    results[name].push(round);
    const process = round.processS ? ` (process ${round.processS.toFixed(1)} s)` : "";
    console.log(
      `round ${i + 1} ${name.padEnd(8)}: ${round.wallS.toFixed(1)} s wall${process}, ${
        round.cpuS.toFixed(1)
      } s CPU, load ${round.load} (${round.steps})`,
    );
  }
}

/** The CPU bridge's directory under `cache` (beside the build cache). */
function bridgeEntry(cache: string): Deno.DirEntry {
  const entry = [...Deno.readDirSync(join(cache, "native"))].find((e) => e.name.startsWith("cpu-"));
  if (!entry) throw new Error(`no CPU bridge under ${cache}`);
  return entry;
}

/** Writes the CPU bridge's sources under `cache` (as a first use does) without building. */
async function writeSourcesInto(cache: string): Promise<void> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { writeSources } from "${
        new URL("../ffi/library.ts", import.meta.url).href
      }"; writeSources("cpu");`,
    ],
    env: { METAL_COMPUTE_CACHE_DIR: cache },
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!output.success) throw new Error(new TextDecoder().decode(output.stderr));
}

const median = (xs: number[]) => xs.toSorted((a, b) => a - b)[xs.length >> 1];
const summary = (name: Plan) => {
  const list = results[name];
  const wall = median(list.map((r) => r.wallS));
  return {
    wall,
    minWall: Math.min(...list.map((r) => r.wallS)),
    cpu: median(list.map((r) => r.cpuS)),
    minCpu: Math.min(...list.map((r) => r.cpuS)),
    process: median(list.map((r) => r.processS ?? NaN)),
    steps: list.find((r) => r.wallS === wall)!.steps,
    loads: list.map((r) => r.load).join(", "),
  };
};
const ours = summary("shipped");
const before = summary("previous");
const again = summary("rebuild");
console.log(
  `${rounds} rounds, min / median: shipped ${ours.minWall.toFixed(1)} / ${
    ours.wall.toFixed(1)
  } s wall, ${ours.minCpu.toFixed(1)} / ${ours.cpu.toFixed(1)} s CPU; previous ${
    before.minWall.toFixed(1)
  } / ${before.wall.toFixed(1)} s wall, ${before.minCpu.toFixed(1)} / ${
    before.cpu.toFixed(1)
  } s CPU; new sources, same clang ${again.minWall.toFixed(1)} / ${again.wall.toFixed(1)} s wall`,
);
console.log(
  `shipped: the whole \`deno run\` of tools/build.ts (Deno's start-up too), median ${
    ours.process.toFixed(1)
  } s`,
);

/** The hot-path figures of `_bridge_runtime_child.ts`, in the order it prints them. */
const RUNTIME_FIGURES = [
  ["roundTripUs", "encode + commit + wait, 1 dispatch", "µs"],
  ["sixteenUs", "encode + commit + wait, 16 dispatches", "µs"],
  ["addMs", "elementwise_add_f32, 2^20", "ms"],
  ["softmaxMs", "softmax_f32 1024 × 4096, work-item loops", "ms"],
  ["softmaxFibersMs", "softmax_f32 256 × 4096, fibers", "ms"],
  ["warmMs", "3 pipelines from the disk cache, new registry", "ms"],
] as const;

let runtime = "";
if (values.runtime) {
  try {
    const cache = caches.at(-1)!;
    const native = bridgeEntry(cache);
    const dir = join(cache, "native", native.name);
    runtime = await runtimeComparison([
      ["shipped", join(dir, "libmetal_bridge_cpu.so")],
      ["previous", join(dir, "ref.so")],
    ]);
    console.log(runtime);
  } finally {
    for (const cache of caches) Deno.removeSync(cache, { recursive: true });
  }
} else for (const cache of caches) Deno.removeSync(cache, { recursive: true });

/**
 * Runs the hot-path child once per library and round (`rounds` + 2 rounds, order alternating,
 * a warm-up first so both find every kernel module in the cache); returns a Markdown table of
 * the medians over rounds.
 */
async function runtimeComparison(libraries: [string, string][]): Promise<string> {
  const cache = Deno.makeTempDirSync({ prefix: "bridge-build-runtime-" });
  const runs = rounds + 2;
  const figures = new Map<string, Record<string, number>[]>(libraries.map(([n]) => [n, []]));
  try {
    for (let i = -1; i < runs; i++) {
      for (let k = 0; k < libraries.length; k++) {
        const [name, path] = libraries[(Math.max(i, 0) + k) % libraries.length];
        const output = await new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", RUNTIME_CHILD],
          env: { METAL_COMPUTE_CACHE_DIR: cache, METAL_COMPUTE_CPU_LIBRARY: path },
          stdout: "piped",
          stderr: "piped",
        }).output();
        const text = new TextDecoder();
        if (!output.success) throw new Error(`${name}: ${text.decode(output.stderr)}`);
        if (i >= 0) figures.get(name)!.push(JSON.parse(text.decode(output.stdout)));
      }
    }
  } finally {
    Deno.removeSync(cache, { recursive: true });
  }
  const [[a], [b]] = libraries;
  const rows = RUNTIME_FIGURES.map(([key, label, unit]) => {
    const [x, y] = [a, b].map((name) => median(figures.get(name)!.map((f) => f[key])));
    return `| ${label} | ${x.toFixed(unit === "µs" ? 1 : 2)} ${unit} | ${
      y.toFixed(unit === "µs" ? 1 : 2)
    } ${unit} | ${(x / y).toFixed(2)} |`;
  });
  return [
    `The bridge's hot paths with each library (\`--runtime\`, bench/_bridge_runtime_child.ts: a`,
    `fresh process per library and round, ${runs} rounds alternating, medians; load ${load()}).`,
    "",
    `| measure | ${a} | ${b} | ${a} / ${b} |`,
    "|---|---:|---:|---:|",
    ...rows,
  ].join("\n");
}

if (values.write) {
  writeSection(
    "bridge-build",
    "Native bridge build (first use, CPU backend)",
    [
      `${machine()}; \`deno run -A bench/bridge_build.ts --rounds ${rounds}${
        values.runtime ? " --runtime" : ""
      }\`, the two plans alternating over the same sources (load averages per round: shipped ${ours.loads}; previous ${before.loads}). CPU is the compilers' own time. Wall time is what a first use waits: for the shipped plan, from the open to a loaded bridge as \`deno task build\` reports it (finding clang, writing the sources, the build; the whole \`deno run\`, Deno's start-up included, took ${
        ours.process.toFixed(1)
      } s by median); for the previous plan, its compiles and link.`,
      "",
      "| plan | wall, min / median | compiler CPU, min / median | steps (the median round) |",
      "|---|---|---|---|",
      `| shipped (\`ffi/library.ts\`) | ${ours.minWall.toFixed(1)} / ${ours.wall.toFixed(1)} s | ${
        ours.minCpu.toFixed(1)
      } / ${ours.cpu.toFixed(1)} s | ${ours.steps} |`,
      `| previous: runtime unit all -O2 | ${before.minWall.toFixed(1)} / ${
        before.wall.toFixed(1)
      } s | ${before.minCpu.toFixed(1)} / ${before.cpu.toFixed(1)} s | ${before.steps} |`,
      `| shipped, new sources with the same clang (standard headers from the build cache) | ${
        again.minWall.toFixed(1)
      } / ${again.wall.toFixed(1)} s | ${again.minCpu.toFixed(1)} / ${
        again.cpu.toFixed(1)
      } s | ${again.steps} |`,
      "",
      "What bounds a first build on two cores (the precompiled header, then the front end unit)",
      'and why: docs/architecture.md, "Building the CPU bridge".',
      ...(runtime ? ["", runtime] : []),
    ].join("\n"),
  );
}
libc.close();
