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
import { dirname, join } from "node:path";
import { cacheDir } from "../_cache_dir.ts";
import type { Backend } from "../backend.ts";
import { BackendUnavailableError } from "../errors.ts";
import { checkPermissions, LIBRARY_ENV } from "../_permissions.ts";
import { HEADER_SOURCE, type NativeSource, SOURCES } from "./_sources.ts";
import { readCString, tryGetEnv } from "./_native.ts";
import { hashText } from "../_hash.ts";
import { type BridgeLibrary, SYMBOLS } from "./symbols.ts";

/** The ABI version of `metal_bridge.h`, read from the header text itself (one source). */
export const ABI_VERSION: number = Number(
  /#define MB_ABI_VERSION (\d+)/.exec(HEADER_SOURCE.text)?.[1] ?? NaN,
);

const LIBRARY_FILE: Record<Backend, string> = {
  cpu: "libmetal_bridge_cpu.so",
  metal: "libmetal_bridge.dylib",
};

/**
 * How long a first build takes, shown while it runs: the CPU bridge measured on an idle 2-core
 * Linux machine; the Metal bridge (one Objective-C file) has no figure from this project yet.
 */
const BUILD_NOTE: Record<Backend, string> = { cpu: "first use, ~20 s", metal: "first use" };

const opened = new Map<Backend, BridgeLibrary>();
const building = new Map<Backend, Promise<string>>();

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
    buildBridge(backend);
    progress.done();
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
        (built) => (progress.done(), built),
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

function buildBridge(backend: Backend): string {
  const dir = writeSources(backend);
  const library = join(dir, LIBRARY_FILE[backend]);
  if (exists(library)) return library;
  // Build under a private name, then rename: concurrent processes never load half a file.
  const staging = stagingName(backend);
  try {
    const [compiler, args] = compilerCommand(backend, findClang(), staging);
    checkBuild(backend, compiler, args, () => command(compiler, args, dir).outputSync());
    Deno.renameSync(join(dir, staging), library);
  } finally {
    removeIfPresent(join(dir, staging));
  }
  return library;
}

async function buildBridgeAsync(backend: Backend): Promise<string> {
  const dir = writeSources(backend);
  const library = join(dir, LIBRARY_FILE[backend]);
  if (exists(library)) return library;
  const staging = stagingName(backend);
  try {
    const [compiler, args] = compilerCommand(backend, await findClangAsync(), staging);
    await checkBuildAsync(backend, compiler, args, () => command(compiler, args, dir).output());
    await Deno.rename(join(dir, staging), library);
  } finally {
    removeIfPresent(join(dir, staging));
  }
  return library;
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

/** The compiler and its arguments that build `backend`'s bridge into `output`. */
function compilerCommand(
  backend: Backend,
  clang: string,
  output: string,
): [string, string[]] {
  return backend === "cpu"
    ? [clang, [
      "--driver-mode=g++",
      "-std=c++20",
      "-O2",
      "-fPIC",
      "-shared",
      "-pthread",
      "-fvisibility=hidden",
      "-o",
      output,
      ...SOURCES.cpu.filter((s) => s.path.endsWith(".cpp")).map((s) => s.path),
      "-ldl",
    ]]
    : ["xcrun", [
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
    ]];
}

/**
 * Builds `backend`'s bridge once more, into a scratch file next to the cached one, with
 * warnings on, and returns the command and everything the compiler printed (for
 * `deno task metal-report`). Never throws for a failed build: the log says why.
 *
 * @param backend The backend whose bridge to build.
 * @returns The command line, whether it succeeded, and the compiler's output.
 */
export function bridgeBuildLog(
  backend: Backend,
): { command: string; success: boolean; log: string } {
  let dir: string;
  let compiler: string;
  let args: string[];
  const scratch = `build-log-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  try {
    dir = writeSources(backend);
    [compiler, args] = compilerCommand(backend, backend === "cpu" ? findClang() : "", scratch);
  } catch (error) {
    return { command: `(${backend} bridge)`, success: false, log: String(error) };
  }
  args = [...args.slice(0, -1), "-Wall", "-Wextra", "-Wno-unused-parameter", ...args.slice(-1)];
  const command = `${compiler} ${args.join(" ")}`;
  try {
    const result = new Deno.Command(compiler, { args, cwd: dir, stdout: "piped", stderr: "piped" })
      .outputSync();
    const text = new TextDecoder();
    return {
      command,
      success: result.success,
      log: text.decode(result.stdout) + text.decode(result.stderr),
    };
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    return { command, success: false, log: `cannot run "${compiler}": ${error}` };
  } finally {
    removeIfPresent(join(dir, scratch));
  }
}

function command(compiler: string, args: string[], cwd: string): Deno.Command {
  return new Deno.Command(compiler, { args, cwd, stdout: "piped", stderr: "piped" });
}

function checkBuild(
  backend: Backend,
  compiler: string,
  args: string[],
  run: () => Deno.CommandOutput,
): void {
  let result: Deno.CommandOutput;
  try {
    result = run();
  } catch (error) {
    throw buildError(backend, compiler, error);
  }
  checkResult(backend, compiler, args, result);
}

async function checkBuildAsync(
  backend: Backend,
  compiler: string,
  args: string[],
  run: () => Promise<Deno.CommandOutput>,
): Promise<void> {
  let result: Deno.CommandOutput;
  try {
    result = await run();
  } catch (error) {
    throw buildError(backend, compiler, error);
  }
  checkResult(backend, compiler, args, result);
}

function buildError(backend: Backend, compiler: string, error: unknown): unknown {
  if (error instanceof Deno.errors.NotCapable) return error;
  return new BackendUnavailableError(
    backend,
    `Cannot build the ${backend} bridge: cannot run "${compiler}"`,
    { cause: error },
  );
}

function checkResult(
  backend: Backend,
  compiler: string,
  args: string[],
  result: Deno.CommandOutput,
): void {
  if (result.success) return;
  const log = new TextDecoder().decode(result.stderr);
  throw new BackendUnavailableError(
    backend,
    `Cannot build the ${backend} bridge with "${compiler} ${args.join(" ")}":\n${log}`,
  );
}

const CLANG_CANDIDATES = ["clang-19", "clang"];

/**
 * The C++ compiler for the CPU backend: `$CLANG` when set (an error if it cannot run: a
 * compiler the user named is never silently replaced), else `clang-19`, then `clang`. The
 * same order the CPU backend uses to compile kernels.
 */
function findClang(): string {
  const chosen = tryGetEnv("CLANG");
  if (chosen) {
    if (runs(() => versionCommand(chosen).outputSync())) return chosen;
    throw clangNotRunnable(chosen);
  }
  for (const candidate of CLANG_CANDIDATES) {
    if (runs(() => versionCommand(candidate).outputSync())) return candidate;
  }
  throw noClang();
}

async function findClangAsync(): Promise<string> {
  const chosen = tryGetEnv("CLANG");
  if (chosen) {
    if (await runsAsync(() => versionCommand(chosen).output())) return chosen;
    throw clangNotRunnable(chosen);
  }
  for (const candidate of CLANG_CANDIDATES) {
    if (await runsAsync(() => versionCommand(candidate).output())) return candidate;
  }
  throw noClang();
}

function versionCommand(compiler: string): Deno.Command {
  return new Deno.Command(compiler, { args: ["--version"], stdout: "null", stderr: "null" });
}

function runs(run: () => Deno.CommandOutput): boolean {
  try {
    return run().success;
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    return false;
  }
}

async function runsAsync(run: () => Promise<Deno.CommandOutput>): Promise<boolean> {
  try {
    return (await run()).success;
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    return false;
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
  done(): void;
  fail(): void;
}

/**
 * Reports a first build on stderr: a line when it starts and when it ends; in the async form
 * on a terminal, the elapsed seconds tick on the same line. Silent unless asked or a
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
    done: () => end(`built the ${backend} bridge in ${seconds()} s (${bridgeDir(backend)})`),
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

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
