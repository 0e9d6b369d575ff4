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
import { MetalComputeError } from "../errors.ts";
import { HEADER_SOURCE, type NativeSource, SOURCES } from "./_sources.ts";
import { readCString, tryGetEnv } from "./_native.ts";
import { hashText } from "../_hash.ts";
import { type BridgeLibrary, SYMBOLS } from "./symbols.ts";

/** The ABI version of `metal_bridge.h`, read from the header text itself (one source). */
export const ABI_VERSION: number = Number(
  /#define MB_ABI_VERSION (\d+)/.exec(HEADER_SOURCE.text)?.[1] ?? NaN,
);

const ENV_LIBRARY: Record<Backend, string> = {
  cpu: "METAL_COMPUTE_CPU_LIBRARY",
  metal: "METAL_COMPUTE_METAL_LIBRARY",
};

const LIBRARY_FILE: Record<Backend, string> = {
  cpu: "libmetal_bridge_cpu.so",
  metal: "libmetal_bridge.dylib",
};

const opened = new Map<Backend, BridgeLibrary>();

/**
 * Opens (building on first use) the bridge for `backend`, once per process, and checks its
 * ABI version against `metal_bridge.h`.
 */
export function openBridge(backend: Backend): BridgeLibrary {
  let library = opened.get(backend);
  if (library) return library;
  const override = tryGetEnv(ENV_LIBRARY[backend]);
  if (override) writeSources(backend); // the CPU backend still reads its headers from there
  const path = override ?? buildBridge(backend);
  try {
    library = Deno.dlopen(path, SYMBOLS);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    throw new MetalComputeError(
      "MB_ERR_UNSUPPORTED",
      `Cannot load the ${backend} bridge from "${path}" (set ${ENV_LIBRARY[backend]} to override)`,
      { cause: error },
    );
  }
  const version = library.symbols.mb_abi_version();
  const name = readCString(library.symbols.mb_backend_name());
  if (version !== ABI_VERSION || name !== backend) {
    library.close();
    throw new MetalComputeError(
      "MB_ERR_UNSUPPORTED",
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
  const staging = `${LIBRARY_FILE[backend]}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  try {
    compile(backend, dir, staging);
    Deno.renameSync(join(dir, staging), library);
  } finally {
    removeIfPresent(join(dir, staging));
  }
  return library;
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

/** The compiler and arguments that build `backend`'s bridge into `output`, run in its dir. */
function buildCommand(backend: Backend, output: string): [string, string[]] {
  return backend === "cpu"
    ? [findClang(), [
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
    [compiler, args] = buildCommand(backend, scratch);
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

function compile(backend: Backend, dir: string, output: string): void {
  const [compiler, args] = buildCommand(backend, output);
  let result: Deno.CommandOutput;
  try {
    result = new Deno.Command(compiler, { args, cwd: dir, stdout: "piped", stderr: "piped" })
      .outputSync();
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    throw new MetalComputeError(
      "MB_ERR_UNSUPPORTED",
      `Cannot build the ${backend} bridge: cannot run "${compiler}"`,
      { cause: error },
    );
  }
  if (!result.success) {
    const log = new TextDecoder().decode(result.stderr);
    throw new MetalComputeError(
      "MB_ERR_UNSUPPORTED",
      `Cannot build the ${backend} bridge with "${compiler} ${args.join(" ")}":\n${log}`,
    );
  }
}

/**
 * The C++ compiler for the CPU backend: `$CLANG`, then `clang-19`, then `clang`.
 * The same order the CPU backend uses to compile kernels.
 */
function findClang(): string {
  const candidates = [tryGetEnv("CLANG"), "clang-19", "clang"].filter((c): c is string => !!c);
  for (const candidate of candidates) {
    try {
      if (
        new Deno.Command(candidate, { args: ["--version"], stdout: "null", stderr: "null" })
          .outputSync().success
      ) return candidate;
    } catch (error) {
      if (error instanceof Deno.errors.NotCapable) throw error;
    }
  }
  throw new MetalComputeError(
    "MB_ERR_UNSUPPORTED",
    `Cannot build the cpu bridge: no clang found (tried ${
      candidates.map((c) => `"${c}"`).join(", ")
    }). Install clang (Debian: apt-get install clang-19 libclang-rt-19-dev) or set CLANG`,
  );
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
