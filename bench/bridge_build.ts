// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * How long a first use waits for the CPU bridge (Linux): `deno task build` into an empty cache,
 * side by side with the plan it replaced (two unity units, both `-O2`, compiled side by side,
 * then linked) over the same sources, alternating, a few rounds. Prints each round's wall time,
 * the CPU time of every compiler it ran (a figure other load on the machine barely moves), each
 * step's time as `deno task build` reports it, and the load average; with `--write`, the medians
 * go to the "Native bridge build" section of bench/RESULTS.md.
 *
 * With `--front-end`, both libraries of the last round then compile every catalogue shader
 * (alternating, each into its own empty cache): the front end's own CPU time (the calling
 * thread's, not clang's) shows what building it without optimisation costs at run time.
 *
 * @module
 */
import { join } from "node:path";
import { SYMBOLS } from "../ffi/symbols.ts";
import { machine, WRITE_OPTION, writeSection } from "./_results.ts";
import { parseCli } from "../tools/_cli.ts";

const { values } = parseCli({
  usage: "deno run -A bench/bridge_build.ts [--rounds N] [--write]",
  summary: "First-use build of the CPU bridge: today's plan vs two -O2 units, side by side.",
  options: {
    write: WRITE_OPTION,
    rounds: { type: "string", value: "N", description: "rounds of each plan (default 3)" },
    "front-end": {
      type: "boolean",
      description: "also time each catalogue shader's library compile with both builds",
    },
  },
});
const rounds = Number(values.rounds ?? "3");
if (!Number.isInteger(rounds) || rounds < 1) {
  console.error(`--rounds takes a positive integer, got "${values.rounds}"`);
  Deno.exit(2);
}
if (Deno.build.os !== "linux") {
  console.log("bridge_build: skipped (the CPU bridge's build is measured on Linux)");
  Deno.exit(0);
}

const BUILD = new URL("../tools/build.ts", import.meta.url).pathname;
const CLANG = Deno.env.get("CLANG") ?? "clang-19";

/** CPU seconds of this process's finished children (and theirs): `getrusage(RUSAGE_CHILDREN)`. */
const libc = Deno.dlopen("libc.so.6", {
  getrusage: { parameters: ["i32", "buffer"], result: "i32" },
});
function childrenCpuSeconds(): number {
  return cpuSeconds(-1);
}

/** `getrusage(who)` user + system seconds: -1 finished children, 1 the calling thread. */
function cpuSeconds(who: -1 | 1): number {
  const usage = new BigInt64Array(18); // struct rusage: two timevals, then 14 longs
  if (libc.symbols.getrusage(who, usage) !== 0) throw new Error("getrusage failed");
  const [userS, userUs, systemS, systemUs] = [...usage.subarray(0, 4)].map(Number);
  return userS + systemS + (userUs + systemUs) / 1e6;
}

interface Round {
  wallS: number;
  cpuS: number;
  /** Each step's time as the build reported it, e.g. "runtime (-O2) 4.1 s, ...". */
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
  const wallS = (performance.now() - start) / 1000;
  const stderr = new TextDecoder().decode(output.stderr);
  if (!output.success) throw new Error(`deno task build failed:\n${stderr}`);
  const steps = /built the cpu bridge in [\d.]+ s \((.*); /.exec(stderr)?.[1] ?? "?";
  return { wallS, cpuS: childrenCpuSeconds() - cpu, steps, load: load() };
}

/** The plan before this one, over the sources the shipped build wrote to `dir`. */
async function twoUnitsO2(dir: string): Promise<Round> {
  const flags = ["--driver-mode=g++", "-std=c++20", "-fPIC", "-pthread", "-fvisibility=hidden"];
  const runtime = new Set(
    ["checked", "device", "disk_cache", "fiber", "pool", "runtime", "sandbox", "worker"],
  );
  const cpp = [...Deno.readDirSync(join(dir, "metal_bridge/cpu"))]
    .map((entry) => entry.name).filter((name) => name.endsWith(".cpp")).sort();
  const groups = [
    cpp.filter((name) => runtime.has(name.slice(0, -4))),
    cpp.filter((name) => !runtime.has(name.slice(0, -4))),
  ];
  const clang = (args: string[]) =>
    new Deno.Command(CLANG, { args, cwd: dir, stdout: "null", stderr: "piped" }).output();
  const cpu = childrenCpuSeconds();
  const start = performance.now();
  const steps: string[] = [];
  const timed = async (label: string, args: string[]) => {
    const begin = performance.now();
    const output = await clang(args);
    if (!output.success) throw new Error(new TextDecoder().decode(output.stderr));
    steps.push(`${label} ${((performance.now() - begin) / 1000).toFixed(1)} s`);
  };
  groups.forEach((names, i) =>
    Deno.writeTextFileSync(
      join(dir, `ref.unit${i}.cpp`),
      names.map((name) => `#include "metal_bridge/cpu/${name}"\n`).join(""),
    )
  );
  await Promise.all(
    ["runtime", "front end"].map((label, i) =>
      timed(`${label} (-O2)`, [...flags, "-O2", "-c", "-o", `ref.unit${i}.o`, `ref.unit${i}.cpp`])
    ),
  );
  await timed("link", [...flags, "-shared", "-o", "ref.so", "ref.unit0.o", "ref.unit1.o", "-ldl"]);
  const wallS = (performance.now() - start) / 1000;
  return { wallS, cpuS: childrenCpuSeconds() - cpu, steps: steps.join(", "), load: load() };
}

const results: Record<"shipped" | "reference", Round[]> = { shipped: [], reference: [] };
const caches: string[] = [];
for (let i = 0; i < rounds; i++) {
  const cache = Deno.makeTempDirSync({ prefix: "bridge-build-" });
  caches.push(cache);
  {
    const ours = await shipped(cache);
    const [native] = [...Deno.readDirSync(join(cache, "native"))];
    const reference = await twoUnitsO2(join(cache, "native", native.name));
    for (const [name, round] of [["shipped", ours], ["reference", reference]] as const) {
      results[name].push(round);
      console.log(
        `round ${i + 1} ${name.padEnd(9)}: ${round.wallS.toFixed(1)} s wall, ${
          round.cpuS.toFixed(1)
        } s CPU, load ${round.load} (${round.steps})`,
      );
    }
  }
}

const median = (xs: number[]) => xs.toSorted((a, b) => a - b)[xs.length >> 1];
const summary = (name: "shipped" | "reference") => {
  const list = results[name];
  const wall = median(list.map((r) => r.wallS));
  const cpu = median(list.map((r) => r.cpuS));
  return { wall, cpu, steps: list.find((r) => r.wallS === wall)!.steps };
};
const ours = summary("shipped");
const before = summary("reference");
console.log(
  `median of ${rounds}: shipped ${ours.wall.toFixed(1)} s wall / ${ours.cpu.toFixed(1)} s CPU; ` +
    `two -O2 units ${before.wall.toFixed(1)} s / ${before.cpu.toFixed(1)} s ` +
    `(${(before.wall / ours.wall).toFixed(1)}x wall, ${(before.cpu / ours.cpu).toFixed(1)}x CPU)`,
);
let frontEnd = "";
if (values["front-end"]) {
  const cache = caches.at(-1)!;
  const [native] = [...Deno.readDirSync(join(cache, "native"))];
  const dir = join(cache, "native", native.name);
  frontEnd = compileTimes([
    ["shipped", join(dir, "libmetal_bridge_cpu.so")],
    ["two -O2 units", join(dir, "ref.so")],
  ], dir);
  console.log(frontEnd);
}
for (const cache of caches) Deno.removeSync(cache, { recursive: true });

/**
 * Compiles every catalogue shader with each library in turn (order alternating per shader),
 * each library on its own empty cache directory; returns a Markdown table of the medians.
 */
function compileTimes(libraries: [string, string][], dir: string): string {
  const shaders = new URL("../shaders/", import.meta.url).pathname;
  const files = [...Deno.readDirSync(shaders)].map((e) => e.name)
    .filter((name) => name.endsWith(".metal")).sort();
  const cString = (text: string) => new TextEncoder().encode(`${text}\0`);
  const opened = libraries.map(([name, path]) => {
    const library = Deno.dlopen(path, SYMBOLS);
    const cache = Deno.makeTempDirSync({ prefix: "bridge-build-front-end-" });
    const device = new BigUint64Array(1);
    const config = `support_dir=${join(dir, "metal_bridge/cpu")}\ncache_dir=${cache}\n`;
    const status = library.symbols.mb_device_create(cString(config), device, new BigUint64Array(1));
    if (status !== 0) throw new Error(`${name}: cannot open the device (status ${status})`);
    const self: number[] = [];
    const clang: number[] = [];
    const wall: number[] = [];
    return {
      name,
      library,
      cache,
      device: Deno.UnsafePointer.create(device[0]),
      self,
      clang,
      wall,
    };
  });
  for (const [i, file] of files.entries()) {
    const source = Deno.readFileSync(join(shaders, file));
    for (let k = 0; k < opened.length; k++) {
      const one = opened[(i + k) % opened.length];
      const out = new BigUint64Array(1);
      const error = new BigUint64Array(1);
      const [self0, clang0, wall0] = [cpuSeconds(1), childrenCpuSeconds(), performance.now()];
      const status = one.library.symbols.mb_library_create(
        one.device,
        source,
        BigInt(source.length),
        cString(file),
        null,
        2,
        0,
        out,
        error,
      );
      one.self.push((cpuSeconds(1) - self0) * 1000);
      one.clang.push((childrenCpuSeconds() - clang0) * 1000);
      one.wall.push(performance.now() - wall0);
      if (status !== 0) throw new Error(`${one.name}: ${file} failed (status ${status})`);
      one.library.symbols.mb_library_release(Deno.UnsafePointer.create(out[0]));
    }
  }
  const rows = opened.map((one) => {
    one.library.symbols.mb_device_release(one.device);
    one.library.close();
    Deno.removeSync(one.cache, { recursive: true });
    return `| ${one.name} | ${median(one.self).toFixed(1)} ms | ${
      median(one.clang).toFixed(0)
    } ms | ${median(one.wall).toFixed(0)} ms |`;
  });
  return [
    `Library compile per catalogue shader (${files.length} files, medians): the front end's own`,
    "CPU time (the calling thread), its clang runs' CPU time, and wall time.",
    "",
    "| build | front end CPU | clang CPU | wall |",
    "|---|---|---|---|",
    ...rows,
  ].join("\n");
}

if (values.write) {
  writeSection(
    "bridge-build",
    "Native bridge build (first use, CPU backend)",
    [
      `${machine()}; \`deno run -A bench/bridge_build.ts --rounds ${rounds}\`, the two plans ` +
      "alternating over the same sources, medians. CPU is the compilers' own time, which other " +
      "load on the machine barely changes; wall time is what a first use waits.",
      "",
      "| plan | wall | compiler CPU | steps (the median round) |",
      "|---|---|---|---|",
      `| shipped (\`ffi/library.ts\`) | ${ours.wall.toFixed(1)} s | ${
        ours.cpu.toFixed(1)
      } s | ${ours.steps} |`,
      `| two unity units, both -O2 (before) | ${before.wall.toFixed(1)} s | ${
        before.cpu.toFixed(1)
      } s | ${before.steps} |`,
      ...(frontEnd ? ["", frontEnd] : []),
    ].join("\n"),
  );
}
libc.close();
