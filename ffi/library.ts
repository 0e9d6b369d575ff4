// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Finds, builds and opens the native bridge for a backend.
 *
 * JSR ships only importable modules, so the bridge's C++/Objective-C sources arrive as text
 * imports (`ffi/_sources.ts`). On first use they are written to a cache directory keyed by
 * their hash and built once with the system compiler; later runs open the cached library.
 * `METAL_COMPUTE_CPU_LIBRARY` / `METAL_COMPUTE_METAL_LIBRARY` point at a prebuilt library
 * instead.
 *
 * @module
 */
import { basename, dirname, join } from "node:path";
import { cacheDir } from "../_cache_dir.ts";
import type { Backend } from "../backend.ts";
import { BackendUnavailableError } from "../errors.ts";
import { checkPermissions, LIBRARY_ENV } from "../_permissions.ts";
import { HEADER_SOURCE, type NativeSource, SOURCES } from "./_sources.ts";
import { readCString, tryGetEnv } from "./_native.ts";
import { hashText } from "../_hash.ts";
import { type BridgeLibrary, SYMBOLS } from "./symbols.ts";
import {
  buildCacheDir,
  type CachedOutput,
  cachedOutput,
  discard,
  evict,
  exists,
  publish,
  reuse,
  writeOnce,
} from "./_build_cache.ts";

/** The ABI version of `metal_bridge.h`, read from the header text itself (one source). */
export const ABI_VERSION: number = Number(
  /#define MB_ABI_VERSION (\d+)/.exec(HEADER_SOURCE.text)?.[1] ?? NaN,
);

const LIBRARY_FILE: Record<Backend, string> = {
  cpu: "libmetal_bridge_cpu.so",
  metal: "libmetal_bridge.dylib",
};

/**
 * How long a first build takes, shown while it runs: the CPU bridge on an idle 2-core Linux
 * machine (`bench/bridge_build.ts`); the Metal bridge (one Objective-C file) has no figure from
 * this project yet.
 */
const BUILD_NOTE: Record<Backend, string> = { cpu: "first use, ~6 s", metal: "first use" };

const opened = new Map<Backend, BridgeLibrary>();
const building = new Map<Backend, Promise<void>>();

/** Options for {@linkcode openBridge} and {@linkcode openBridgeAsync}. */
export interface BridgeOptions {
  /**
   * Report a first build on stderr. Default: `METAL_COMPUTE_PROGRESS` (`1` or `0`), else
   * only when stderr is a terminal.
   */
  progress?: boolean;
}

/**
 * Opens (building on first use) the bridge for `backend`, once per process, and checks its
 * ABI version against `metal_bridge.h`. Blocks the JavaScript thread while it builds; see
 * {@linkcode openBridgeAsync}.
 *
 * @throws {PermissionsError} Naming every missing Deno permission, before anything else.
 * @throws {BackendUnavailableError} When the bridge cannot be built or loaded.
 */
export function openBridge(backend: Backend, options: BridgeOptions = {}): BridgeLibrary {
  const library = opened.get(backend);
  if (library) return library;
  const override = bridgeOverride(backend);
  if (override) return load(backend, override);
  const path = libraryPath(backend);
  if (exists(path)) return load(backend, path);
  const progress = startProgress(backend, options.progress, false);
  try {
    progress.done(buildBridgeBlocking(backend));
  } catch (error) {
    progress.fail();
    throw error;
  }
  return load(backend, path);
}

/**
 * Async twin of {@linkcode openBridge}: a first build runs the compiler as a child process
 * the event loop awaits, so timers, servers and progress output keep running meanwhile.
 * Concurrent calls share one build.
 *
 * @throws {PermissionsError} Naming every missing Deno permission, before anything else.
 * @throws {BackendUnavailableError} When the bridge cannot be built or loaded.
 */
export async function openBridgeAsync(
  backend: Backend,
  options: BridgeOptions = {},
): Promise<BridgeLibrary> {
  const library = opened.get(backend);
  if (library) return library;
  const override = bridgeOverride(backend);
  if (override) return load(backend, override);
  const path = libraryPath(backend);
  if (!exists(path)) {
    let build = building.get(backend);
    if (!build) {
      const progress = startProgress(backend, options.progress, true);
      build = buildBridgeAsync(backend).then(
        (timings) => progress.done(timings),
        (error) => {
          progress.fail();
          throw error;
        },
      ).finally(() => building.delete(backend));
      building.set(backend, build);
    }
    await build;
  }
  return opened.get(backend) ?? load(backend, path);
}

/** `METAL_COMPUTE_<BACKEND>_LIBRARY`, after the permission check every open starts with. */
function bridgeOverride(backend: Backend): string | undefined {
  checkPermissions(backend, libraryPath);
  const override = tryGetEnv(LIBRARY_ENV[backend]);
  if (override) writeSources(backend); // the CPU backend still reads its headers from there
  return override;
}

/** Where the bridge for `backend` is built (unless overridden). */
export function libraryPath(backend: Backend): string {
  return join(bridgeDir(backend), LIBRARY_FILE[backend]);
}

function load(backend: Backend, path: string): BridgeLibrary {
  let library: BridgeLibrary;
  try {
    library = Deno.dlopen(path, SYMBOLS);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    throw new BackendUnavailableError(
      backend,
      `Cannot load the ${backend} bridge from "${path}" (set ${LIBRARY_ENV[backend]} to override)`,
      { cause: error },
    );
  }
  const version = library.symbols.mb_abi_version();
  const name = readCString(library.symbols.mb_backend_name());
  if (version !== ABI_VERSION || name !== backend) {
    library.close();
    throw new BackendUnavailableError(
      backend,
      `Cannot use the bridge at "${path}": it is ABI ${version} for "${name}", expected ABI ${ABI_VERSION} for "${backend}"`,
    );
  }
  opened.set(backend, library);
  return library;
}

/**
 * The directory holding the bridge's sources (and, unless overridden, its build), keyed by
 * their hash. The CPU backend reads its MSL compatibility headers from here at run time.
 */
export function bridgeDir(backend: Backend): string {
  return join(cacheDir(), "native", `${backend}-${sourceHash(backend)}`);
}

/** One compiler run of a bridge build: what it makes (for the report) and its arguments. */
interface BuildStep {
  label: string;
  compiler: string;
  /** The compiler's arguments; the input file comes last. */
  args: string[];
  /** A step whose output this one reads (a precompiled header): it starts after that one ends. */
  after?: BuildStep;
  /** Its output when the build cache keeps it: the step is skipped when the entry is there. */
  output?: CachedOutput;
  /** The build cache's precompiled header it reads, if any. */
  header?: string;
}

/** A bridge build: compiles that may run side by side, then the step that makes the library. */
interface BuildPlan {
  /** In the order to start them, each once the step it names in `after` has ended. */
  compiles: BuildStep[];
  link: BuildStep;
  /** Generated files (unity sources, headers, objects) under the build directory, removed after. */
  scratch: { path: string; text?: string }[];
  /** Inputs kept in the build cache (a precompiled header's text), written once. */
  cachedInputs: { path: string; text: string }[];
}

/** How long one step of a build took; `deno task build` prints them. */
interface BuildTiming {
  /** What the step made, e.g. `"runtime (-O2)"`. */
  label: string;
  /** Wall time of the step in milliseconds. */
  ms: number;
  /** Its output came from the build cache: nothing ran. */
  reused?: boolean;
}

/** The compiler that builds the CPU bridge, as the build cache tells compilers apart. */
interface Clang {
  command: string;
  /** What `command --version` printed. */
  version: string;
}

/** A precompiled header from the build cache that clang refused (a system header changed). */
class StaleHeader extends Error {}

/** Builds once more when the first attempt found a stale precompiled header (now discarded). */
function retryingStaleHeader<T>(build: () => T): T {
  try {
    return build();
  } catch (error) {
    if (!(error instanceof StaleHeader)) throw error;
    return build();
  }
}

async function retryingStaleHeaderAsync<T>(build: () => Promise<T>): Promise<T> {
  try {
    return await build();
  } catch (error) {
    if (!(error instanceof StaleHeader)) throw error;
    return await build();
  }
}

function buildBridge(backend: Backend): BuildTiming[] {
  const dir = writeSources(backend);
  const library = join(dir, LIBRARY_FILE[backend]);
  if (exists(library)) return [];
  const clang = backend === "cpu" ? findClang() : undefined;
  return retryingStaleHeader(() => {
    // Build under a private name, then rename: concurrent processes never load half a file.
    const staging = stagingName(backend);
    const plan = buildPlan(backend, clang, staging, true);
    try {
      writeScratch(dir, plan);
      // Where no worker could take the build (buildBridgeBlocking): one step after another.
      const timings = [...plan.compiles, plan.link].map((step) => execute(backend, step, dir));
      Deno.renameSync(join(dir, staging), library);
      if (plan.cachedInputs.length > 0) evict(keptEntries(plan));
      return timings;
    } finally {
      removeScratch(dir, staging, plan);
    }
  });
}

async function buildBridgeAsync(backend: Backend): Promise<BuildTiming[]> {
  // The compiler answers `--version` while the sources are written.
  const found = backend === "cpu" ? findClangAsync() : undefined;
  found?.catch(() => {}); // awaited below, unless the library is already there
  const dir = writeSources(backend);
  const library = join(dir, LIBRARY_FILE[backend]);
  if (exists(library)) return [];
  const clang = await found;
  return await retryingStaleHeaderAsync(async () => {
    const staging = stagingName(backend);
    const plan = buildPlan(backend, clang, staging, true);
    try {
      writeScratch(dir, plan);
      const timings = await runSideBySide(
        plan.compiles,
        (step) => executeAsync(backend, step, dir),
      );
      timings.push(await executeAsync(backend, plan.link, dir));
      await Deno.rename(join(dir, staging), library);
      if (plan.cachedInputs.length > 0) evict(keptEntries(plan));
      return timings;
    } finally {
      removeScratch(dir, staging, plan);
    }
  });
}

/** Where a worker's build leaves its outcome for a blocked caller: a state word, then JSON. */
const OUTCOME_BYTES = 1 << 20;
const STARTED = 1;
const ENDED = 2;

/**
 * {@linkcode buildBridgeAsync} for a caller that must block (openBridge): run in a worker
 * while this thread waits on a shared flag, so the compiles still run side by side (one at a
 * time, the CPU bridge's steps take ~1.8x as long as side by side on two cores: their CPU
 * times summed). Falls back to one step at a time where no worker starts (within
 * {@linkcode WORKER_START_MS}).
 */
function buildBridgeBlocking(backend: Backend): BuildTiming[] {
  const shared = new SharedArrayBuffer(8 + OUTCOME_BYTES);
  const state = new Int32Array(shared, 0, 2);
  let worker: Worker;
  const code = `import { buildBridgeInWorker } from ${JSON.stringify(import.meta.url)};\n` +
    "self.onmessage = (e) => buildBridgeInWorker(e.data[0], e.data[1]).finally(() => self.close());";
  const url = URL.createObjectURL(new Blob([code], { type: "text/javascript" }));
  try {
    worker = new Worker(url, { type: "module" });
  } catch {
    URL.revokeObjectURL(url);
    return buildBridge(backend);
  }
  try {
    worker.postMessage([backend, shared]);
    if (Atomics.wait(state, 0, 0, WORKER_START_MS) === "timed-out") {
      worker.terminate();
      return buildBridge(backend);
    }
    while (Atomics.load(state, 0) !== ENDED) Atomics.wait(state, 0, STARTED);
    const text = new TextDecoder().decode(new Uint8Array(shared, 8, state[1]).slice());
    const outcome = JSON.parse(text) as
      | { timings: BuildTiming[] }
      | { error: { name: string; message: string } };
    if ("timings" in outcome) return outcome.timings;
    const { name, message } = outcome.error;
    if (name === "NotCapable") throw new Deno.errors.NotCapable(message);
    if (name === "BackendUnavailableError") throw new BackendUnavailableError(backend, message);
    throw new BackendUnavailableError(backend, `Cannot build the ${backend} bridge: ${message}`);
  } finally {
    worker.terminate();
    URL.revokeObjectURL(url);
  }
}

/**
 * How long a blocked caller waits for the build worker to start before building itself. The
 * worker imports this module, which the process has loaded already: that takes well under a
 * second, unless the module must be fetched again (`--reload`), which needs the blocked
 * thread, so the worker never starts and the build runs one step at a time after this wait.
 */
const WORKER_START_MS = 5_000;

/**
 * The build worker's side of {@linkcode openBridge}'s blocking build (not for other use): builds
 * `backend`'s bridge with its compiles side by side and leaves the outcome in `shared`.
 *
 * @param backend The backend whose bridge to build.
 * @param shared The blocked caller's flag and outcome buffer.
 */
export async function buildBridgeInWorker(
  backend: Backend,
  shared: SharedArrayBuffer,
): Promise<void> {
  const state = new Int32Array(shared, 0, 2);
  Atomics.store(state, 0, STARTED);
  Atomics.notify(state, 0);
  let outcome: string;
  try {
    outcome = JSON.stringify({ timings: await buildBridgeAsync(backend) });
  } catch (error) {
    const { name, message } = error instanceof Error
      ? error
      : { name: "Error", message: String(error) };
    outcome = JSON.stringify({ error: { name, message } });
  }
  let bytes = new TextEncoder().encode(outcome);
  if (bytes.length > OUTCOME_BYTES) {
    bytes = new TextEncoder().encode(JSON.stringify({
      error: { name: "Error", message: `${outcome.slice(0, OUTCOME_BYTES / 8)}… (cut)` },
    }));
  }
  new Uint8Array(shared, 8).set(bytes);
  state[1] = bytes.length;
  Atomics.store(state, 0, ENDED);
  Atomics.notify(state, 0);
}

/** Runs `step`, or reuses its output from the build cache; how long it took. */
function execute(backend: Backend, step: BuildStep, dir: string): BuildTiming {
  if (step.output && reuse(step.output.path)) return { label: step.label, ms: 0, reused: true };
  const start = performance.now();
  checkResult(backend, step, runStep(backend, step, dir));
  if (step.output) publish(step.output);
  return { label: step.label, ms: performance.now() - start };
}

async function executeAsync(backend: Backend, step: BuildStep, dir: string): Promise<BuildTiming> {
  if (step.output && reuse(step.output.path)) return { label: step.label, ms: 0, reused: true };
  const start = performance.now();
  checkResult(backend, step, await runStepAsync(backend, step, dir));
  if (step.output) publish(step.output);
  return { label: step.label, ms: performance.now() - start };
}

/** The build cache entries a finished build used: kept by the eviction that follows it. */
function keptEntries(plan: BuildPlan): Set<string> {
  const steps = [...plan.compiles, plan.link];
  return new Set([
    ...plan.cachedInputs.map((input) => input.path),
    ...steps.flatMap((step) => step.output ? [step.output.path] : []),
  ]);
}

function removeScratch(dir: string, staging: string, plan: BuildPlan): void {
  for (const file of [staging, ...plan.scratch.map((f) => f.path)]) {
    removeIfPresent(join(dir, file));
  }
  for (const step of plan.compiles) if (step.output) removeIfPresent(step.output.staging);
}

/**
 * Runs `steps` side by side, as many at a time as the machine has cores (more would only share
 * them, delaying the longest), each started in list order once the step it comes `after` has
 * ended. When one fails, no further step starts, the running ones end, and the first failure
 * is thrown: the scratch files they read are removed only after that.
 */
async function runSideBySide(
  steps: BuildStep[],
  run: (step: BuildStep) => Promise<BuildTiming>,
): Promise<BuildTiming[]> {
  const slots = Math.max(1, navigator.hardwareConcurrency);
  const ended = new Set<BuildStep>();
  const waiting = [...steps];
  const timings = new Map<BuildStep, BuildTiming>();
  const running = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  while (waiting.length > 0 || running.size > 0) {
    const ready = failure ? -1 : waiting.findIndex((step) => !step.after || ended.has(step.after));
    if (ready >= 0 && running.size < slots) {
      const [step] = waiting.splice(ready, 1);
      const task: Promise<void> = run(step).then(
        (timing) => void timings.set(step, timing),
        (error) => void (failure ??= { error }),
      ).finally(() => {
        ended.add(step);
        running.delete(task);
      });
      running.add(task);
      continue;
    }
    if (running.size === 0) break; // failed: nothing left to wait for
    await Promise.race(running);
  }
  if (failure) throw failure.error;
  return steps.map((step) => timings.get(step)!);
}

function writeScratch(dir: string, plan: BuildPlan): void {
  for (const file of plan.scratch) {
    if (file.text !== undefined) Deno.writeTextFileSync(join(dir, file.path), file.text);
  }
  for (const input of plan.cachedInputs) writeOnce(input.path, input.text);
}

function stagingName(backend: Backend): string {
  return `${LIBRARY_FILE[backend]}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
}

/** Writes the sources to {@linkcode bridgeDir} once (atomically) and returns it. */
export function writeSources(backend: Backend): string {
  const dir = bridgeDir(backend);
  if (exists(dir)) return dir;
  const staging = `${dir}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  try {
    for (const source of SOURCES[backend]) {
      const path = join(staging, source.path);
      Deno.mkdirSync(dirname(path), { recursive: true });
      Deno.writeTextFileSync(path, source.text);
    }
    try {
      Deno.renameSync(staging, dir);
    } catch (error) {
      if (!exists(dir)) throw error; // another process finished first: use its copy
    }
  } finally {
    removeIfPresent(staging);
  }
  return dir;
}

/** One unity translation unit of the CPU bridge: the `.cpp` files it includes, and how optimised. */
interface CpuUnit {
  label: string;
  optimisation: "-O0" | "-O2";
  /** File names under `metal_bridge/cpu/`; `undefined`: every `.cpp` file no other unit names. */
  files?: ReadonlySet<string>;
}

/**
 * The CPU bridge's translation units, longest to compile first. `-O2` only where time is spent
 * after the build: every dispatch (commands.cpp: encoding, commit, wait and the queue; the
 * workers, fibers and pool that run the kernels) and every cache hit (hasher.cpp, the hash
 * each hit runs over its library's text). Everything else runs once per device, library,
 * pipeline or failure, next to clang runs that cost ~50x its own time: the MSL front end and
 * compiler driver with its module cache (disk_cache.cpp), the device, library and pipeline calls
 * (runtime.cpp), the sandbox, the texts of failed command buffers (failure_messages.cpp).
 * `-O0` builds those in a fraction of the time (`docs/architecture.md`, "Building the CPU
 * bridge"). A new file joins the front end unless named.
 */
const CPU_UNITS: CpuUnit[] = [
  {
    label: "dispatch",
    optimisation: "-O2",
    files: new Set(["commands.cpp", "worker.cpp", "pool.cpp", "fiber.cpp", "hasher.cpp"]),
  },
  { label: "front end", optimisation: "-O0" },
  {
    label: "host",
    optimisation: "-O0",
    // checked.cpp first: it undefines _FORTIFY_SOURCE before its own includes.
    files: new Set([
      "checked.cpp",
      "runtime.cpp",
      "device.cpp",
      "sandbox.cpp",
      "failure_messages.cpp",
    ]),
  },
];

/**
 * The C++ standard headers the CPU bridge's sources include (`<vector>`, not `<unistd.h>`),
 * which units of one optimisation level share as one precompiled header. `<csetjmp>` stays
 * out: checked.cpp includes it only after undefining `_FORTIFY_SOURCE` (see there).
 */
function standardHeaders(): string[] {
  const names = new Set<string>();
  for (const source of SOURCES.cpu) {
    if (!/\.(cpp|h)$/.test(source.path) || source.path.includes("/msl/")) continue;
    for (const [, name] of source.text.matchAll(/^#include <([a-z_]+)>/gm)) names.add(name);
  }
  names.delete("csetjmp");
  return [...names].sort();
}

/**
 * The steps that build `backend`'s bridge into `output` (a name unique to this build).
 *
 * The CPU bridge compiles as unity translation units ({@linkcode CPU_UNITS}) side by side,
 * then links: each `.cpp` file parsing the C++ standard headers on its own was most of a first
 * build's time. Units of one optimisation level read those headers from one precompiled
 * header (built while the other units compile), so only the first pays for parsing them.
 * Files of one unit share a namespace scope: no two may define the same internal name (the
 * compiler says which, as a redefinition).
 *
 * With `cached`, the precompiled headers and the units' objects go to the build cache
 * (`ffi/_build_cache.ts`), named by the hash of the compiler, its flags and every text they
 * read, and a later build reuses those that did not change.
 */
function buildPlan(
  backend: Backend,
  clang: Clang | undefined,
  output: string,
  cached: boolean,
): BuildPlan {
  if (backend === "metal") {
    return {
      compiles: [],
      link: {
        label: "metal_bridge.m",
        compiler: "xcrun",
        args: [
          "clang",
          "-fobjc-arc",
          "-fobjc-arc-exceptions", // release what was in flight when an exception is caught
          "-mmacosx-version-min=13.0",
          "-O2",
          "-dynamiclib",
          "-framework",
          "Metal",
          "-framework",
          "Foundation",
          // Command-line tools get no device from MTLCreateSystemDefaultDevice without it.
          "-framework",
          "CoreGraphics",
          "-o",
          output,
          "metal_bridge/metal_bridge.m",
        ],
      },
      scratch: [],
      cachedInputs: [],
    };
  }
  if (!clang) throw new Error("buildPlan: the CPU bridge needs a compiler");
  const compiler = clang.command;
  const flags = CPU_FLAGS;
  const cpp = SOURCES.cpu.map((s) => s.path).filter((path) => path.endsWith(".cpp"));
  const named = new Set(CPU_UNITS.flatMap((unit) => [...unit.files ?? []]));
  const units = CPU_UNITS.map((unit) => ({
    ...unit,
    paths: cpp.filter((path) =>
      unit.files ? unit.files.has(basename(path)) : !named.has(basename(path))
    ).sort((a, b) => order(unit, a) - order(unit, b)),
  })).filter((unit) => unit.paths.length > 0);
  const scratch: BuildPlan["scratch"] = [];
  const cachedInputs: BuildPlan["cachedInputs"] = [];
  // What decides every output besides its own text: the compiler and the flags.
  const identity = [clang.command, clang.version, ...flags].join("\0");
  const headerText = standardHeaders().map((name) => `#include <${name}>\n`).join("");
  let header = `${output}.std.h`;
  const precompiled = new Map<string, { step: BuildStep; file: string; key: string }>();
  for (const level of new Set(units.map((unit) => unit.optimisation))) {
    if (units.filter((unit) => unit.optimisation === level).length < 2) continue;
    if (precompiled.size === 0) {
      if (cached) {
        header = join(buildCacheDir(), `std-${hashText(headerText)}.h`);
        cachedInputs.push({ path: header, text: headerText });
      } else {
        scratch.push({ path: header, text: headerText });
      }
    }
    const key = hashText(`${identity}\0${level}\0${headerText}`);
    const cachedPch = cached ? cachedOutput(`std-${key}`, ".pch") : undefined;
    const pch = cachedPch?.staging ?? `${output}.std${level}.pch`;
    if (!cachedPch) scratch.push({ path: pch });
    precompiled.set(level, {
      step: {
        label: `standard headers (${level})`,
        compiler,
        args: [...flags, level, "-x", "c++-header", "-o", pch, header],
        output: cachedPch,
      },
      file: cachedPch?.path ?? pch,
      key,
    });
  }
  // A unit reads its own files and the bridge's headers (not the MSL compatibility headers,
  // which kernels include).
  const headers = SOURCES.cpu.filter((s) => !s.path.endsWith(".cpp") && !s.path.includes("/msl/"))
    .map((s) => `${s.path}\0${s.text}`).join("\0");
  const objects: string[] = [];
  const compiles = units.map((unit, i): BuildStep => {
    const unity = `${output}.unit${i}.cpp`;
    const unityText = unit.paths.map((path) => `#include "${path}"\n`).join("");
    scratch.push({ path: unity, text: unityText });
    const pch = precompiled.get(unit.optimisation);
    const texts = unit.paths.map((path) => SOURCES.cpu.find((s) => s.path === path)!.text);
    const cachedObject = cached
      ? cachedOutput(
        `unit-${
          hashText([identity, unit.optimisation, pch?.key ?? "", unityText, headers, ...texts]
            .join("\0"))
        }`,
        ".o",
      )
      : undefined;
    const object = cachedObject?.staging ?? `${output}.unit${i}.o`;
    if (!cachedObject) scratch.push({ path: object });
    objects.push(cachedObject?.path ?? object);
    return {
      label: `${unit.label} (${unit.optimisation})`,
      compiler,
      args: [
        ...flags,
        unit.optimisation,
        ...(pch ? ["-include-pch", pch.file] : []),
        "-c",
        "-o",
        object,
        unity,
      ],
      after: pch?.step,
      output: cachedObject,
      header: pch?.step.output ? pch.file : undefined,
    };
  });
  const link = {
    label: "link",
    compiler,
    args: [...flags, ...fastLinker(), "-shared", "-o", output, ...objects, "-ldl"],
  };
  const steps = [...precompiled.values()].map((p) => p.step);
  return { compiles: [...steps, ...compiles], link, scratch, cachedInputs };
}

/**
 * The flags of every CPU bridge compile. C++17: the bridge uses nothing of C++20, whose
 * standard headers take ~60% longer to parse (<chrono>, <algorithm> with ranges, ...), and
 * parsing them is the precompiled header's step and part of every unit that has none.
 */
const CPU_FLAGS = [
  "--driver-mode=g++",
  "-std=c++17",
  "-fPIC",
  "-pthread",
  "-fvisibility=hidden",
];

/**
 * `-fuse-ld=` for a linker faster than the default GNU ld when one is on PATH (LLVM's lld,
 * else GNU gold, which Debian's binutils ships): the link is the one step nothing runs beside.
 * None found: clang's default.
 */
function fastLinker(): string[] {
  const path = tryGetEnv("PATH") ?? "";
  for (const name of ["lld", "gold"]) {
    for (const dir of path.split(":")) {
      if (dir && isFile(join(dir, `ld.${name}`))) return [`-fuse-ld=${name}`];
    }
  }
  return [];
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** Where `path` goes in `unit`: as the unit names its files, else in the sources' order. */
function order(unit: CpuUnit, path: string): number {
  return unit.files ? [...unit.files].indexOf(basename(path)) : 0;
}

/**
 * Builds `backend`'s bridge once more, into scratch files next to the cached one, with
 * warnings on, and returns the commands and everything the compiler printed (for
 * `deno task metal-report`). Never throws for a failed build: the log says why.
 *
 * @param backend The backend whose bridge to build.
 * @returns The command lines, whether they succeeded, and the compiler's output.
 */
export function bridgeBuildLog(
  backend: Backend,
): { command: string; success: boolean; log: string } {
  let dir: string;
  let plan: BuildPlan;
  const scratch = `build-log-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  try {
    dir = writeSources(backend);
    // Uncached: the log must show every compile.
    plan = buildPlan(backend, backend === "cpu" ? findClang() : undefined, scratch, false);
  } catch (error) {
    return { command: `(${backend} bridge)`, success: false, log: String(error) };
  }
  const warnings = ["-Wall", "-Wextra", "-Wno-unused-parameter"];
  const steps = [...plan.compiles, plan.link].map((step) => ({
    ...step,
    args: [...step.args.slice(0, -1), ...warnings, ...step.args.slice(-1)],
  }));
  const commands: string[] = [];
  let log = "";
  try {
    writeScratch(dir, plan);
    for (const step of steps) {
      const line = `${step.compiler} ${step.args.join(" ")}`;
      commands.push(line);
      let result: Deno.CommandOutput;
      try {
        result = command(step.compiler, step.args, dir).outputSync();
      } catch (error) {
        if (error instanceof Deno.errors.NotCapable) throw error;
        return {
          command: commands.join("\n"),
          success: false,
          log: `${log}cannot run "${step.compiler}": ${error}`,
        };
      }
      const text = new TextDecoder();
      log += text.decode(result.stdout) + text.decode(result.stderr);
      if (!result.success) return { command: commands.join("\n"), success: false, log };
    }
    return { command: commands.join("\n"), success: true, log };
  } finally {
    for (const file of [scratch, ...plan.scratch.map((f) => f.path)]) {
      removeIfPresent(join(dir, file));
    }
  }
}

function command(compiler: string, args: string[], cwd: string): Deno.Command {
  return new Deno.Command(compiler, { args, cwd, stdout: "piped", stderr: "piped" });
}

function runStep(backend: Backend, step: BuildStep, dir: string): Deno.CommandOutput {
  try {
    return command(step.compiler, step.args, dir).outputSync();
  } catch (error) {
    throw buildError(backend, step.compiler, error);
  }
}

async function runStepAsync(
  backend: Backend,
  step: BuildStep,
  dir: string,
): Promise<Deno.CommandOutput> {
  try {
    return await command(step.compiler, step.args, dir).output();
  } catch (error) {
    throw buildError(backend, step.compiler, error);
  }
}

function buildError(backend: Backend, compiler: string, error: unknown): unknown {
  if (error instanceof Deno.errors.NotCapable) return error;
  return new BackendUnavailableError(
    backend,
    `Cannot build the ${backend} bridge: cannot run "${compiler}"`,
    { cause: error },
  );
}

function checkResult(backend: Backend, step: BuildStep, result: Deno.CommandOutput): void {
  if (result.success) return;
  const log = new TextDecoder().decode(result.stderr);
  // clang names the precompiled header it cannot use ("has been modified since the
  // precompiled header ... was built" after a system header changed): build it again.
  if (step.header && log.includes(step.header)) {
    discard(step.header);
    throw new StaleHeader(log);
  }
  throw new BackendUnavailableError(
    backend,
    `Cannot build the ${backend} bridge with "${step.compiler} ${step.args.join(" ")}":\n${log}`,
  );
}

const CLANG_CANDIDATES = ["clang-19", "clang"];

/**
 * The C++ compiler for the CPU backend: `$CLANG` when set (an error if it cannot run: a
 * compiler the user named is never silently replaced), else `clang-19`, then `clang`. The
 * same order the CPU backend uses to compile kernels.
 */
function findClang(): Clang {
  const chosen = tryGetEnv("CLANG");
  if (chosen) {
    const version = versionOf(() => versionCommand(chosen).outputSync());
    if (version !== undefined) return { command: chosen, version };
    throw clangNotRunnable(chosen);
  }
  for (const candidate of CLANG_CANDIDATES) {
    const version = versionOf(() => versionCommand(candidate).outputSync());
    if (version !== undefined) return { command: candidate, version };
  }
  throw noClang();
}

async function findClangAsync(): Promise<Clang> {
  const chosen = tryGetEnv("CLANG");
  if (chosen) {
    const version = await versionOfAsync(() => versionCommand(chosen).output());
    if (version !== undefined) return { command: chosen, version };
    throw clangNotRunnable(chosen);
  }
  for (const candidate of CLANG_CANDIDATES) {
    const version = await versionOfAsync(() => versionCommand(candidate).output());
    if (version !== undefined) return { command: candidate, version };
  }
  throw noClang();
}

function versionCommand(compiler: string): Deno.Command {
  return new Deno.Command(compiler, { args: ["--version"], stdout: "piped", stderr: "null" });
}

/** What a `--version` run printed, or `undefined` when the compiler did not run. */
function versionOf(run: () => Deno.CommandOutput): string | undefined {
  try {
    const output = run();
    return output.success ? new TextDecoder().decode(output.stdout) : undefined;
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    return undefined;
  }
}

async function versionOfAsync(
  run: () => Promise<Deno.CommandOutput>,
): Promise<string | undefined> {
  try {
    const output = await run();
    return output.success ? new TextDecoder().decode(output.stdout) : undefined;
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    return undefined;
  }
}

function clangNotRunnable(chosen: string): BackendUnavailableError {
  return new BackendUnavailableError(
    "cpu",
    `Cannot build the cpu bridge: CLANG is "${chosen}", which cannot be run ` +
      `(fix the path, or unset CLANG to use ${CLANG_CANDIDATES.join(" or ")} from PATH)`,
  );
}

function noClang(): BackendUnavailableError {
  return new BackendUnavailableError(
    "cpu",
    `Cannot build the cpu bridge: no clang found (tried ${
      CLANG_CANDIDATES.map((c) => `"${c}"`).join(", ")
    }). Install clang (Debian: apt-get install clang-19 libclang-rt-19-dev) or set CLANG`,
  );
}

interface Progress {
  done(timings: BuildTiming[]): void;
  fail(): void;
}

/**
 * Reports a first build on stderr: a line when it starts and one when it ends, with each step's
 * time (the async form runs the compiles side by side); in the async form on a terminal, the
 * elapsed seconds tick on the same line. Silent unless asked or a
 * terminal is watching.
 */
function startProgress(backend: Backend, wanted: boolean | undefined, ticking: boolean): Progress {
  const setting = tryGetEnv("METAL_COMPUTE_PROGRESS");
  const terminal = Deno.stderr.isTerminal();
  const on = wanted ?? (setting === "1" ? true : setting === "0" ? false : terminal);
  if (!on) return { done() {}, fail() {} };
  const encoder = new TextEncoder();
  const write = (text: string) => Deno.stderr.writeSync(encoder.encode(text));
  const start = performance.now();
  const seconds = () => ((performance.now() - start) / 1000).toFixed(1);
  const head = `building the native bridge for ${backend} (${BUILD_NOTE[backend]})…`;
  const tick = ticking && terminal;
  write(tick ? head : `${head}\n`);
  const timer = tick
    ? setInterval(
      () => write(`\r${head} ${Math.round((performance.now() - start) / 1000)} s`),
      1000,
    )
    : undefined;
  // The timer must not keep a process alive whose build was abandoned.
  if (timer !== undefined) Deno.unrefTimer(timer);
  const end = (text: string) => {
    clearInterval(timer);
    write(tick ? `\r${head} ${text}\n` : `${text}\n`);
  };
  return {
    done: (timings) =>
      end(
        `built the ${backend} bridge in ${seconds()} s (${
          timings.map((t) => `${t.label} ${t.reused ? "reused" : `${(t.ms / 1000).toFixed(1)} s`}`)
            .join(", ")
        }; ${bridgeDir(backend)})`,
      ),
    fail: () => end(`building the ${backend} bridge failed after ${seconds()} s`),
  };
}

const hashes = new Map<Backend, string>();

function sourceHash(backend: Backend): string {
  let hash = hashes.get(backend);
  if (hash === undefined) {
    hash = hashText(SOURCES[backend].map((s: NativeSource) => `${s.path}\0${s.text}`).join("\0"));
    hashes.set(backend, hash);
  }
  return hash;
}

function removeIfPresent(path: string): void {
  try {
    Deno.removeSync(path, { recursive: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}
