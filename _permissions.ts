// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * The Deno permissions a device needs, checked before anything is touched (private), so a
 * missing flag is reported once, with every other missing flag and why each is needed, rather
 * than as one raw `NotCapable` per rerun.
 *
 * | flag            | when                                                               |
 * | --------------- | ------------------------------------------------------------------ |
 * | `--allow-ffi`   | always: the bridge is a native library opened with `Deno.dlopen`   |
 * | `--allow-env`   | always: the variables that locate the cache and configure a build  |
 * | `--allow-read`  | always: the cache directory holding the bridge                     |
 * | `--allow-write` | first use: the bridge's sources and build go into the cache        |
 * | `--allow-run`   | first use: the bridge is built with the system compiler            |
 *
 * @module
 */
import { dirname } from "node:path";
import type { Backend } from "./backend.ts";
import { CACHE_ENV, cacheDir } from "./_cache_dir.ts";
import { type MissingPermission, PermissionsError } from "./errors.ts";

/** The variable naming a prebuilt bridge for each backend, used instead of building one. */
export const LIBRARY_ENV: Record<Backend, string> = {
  cpu: "METAL_COMPUTE_CPU_LIBRARY",
  metal: "METAL_COMPUTE_METAL_LIBRARY",
};

/** Every environment variable a device open reads. */
export function envRead(backend: Backend): string[] {
  return [...CACHE_ENV, LIBRARY_ENV[backend], "CLANG", "METAL_COMPUTE_PROGRESS"];
}

/**
 * Throws one {@linkcode PermissionsError} naming every permission that opening a `backend`
 * device needs and this process lacks. What a first use adds (write, run) is asked for only
 * when the bridge is not built yet, or when that cannot be known without the missing ones.
 *
 * @param backend The backend being opened.
 * @param libraryPath Where its bridge is built (once the environment can be read).
 * @throws {PermissionsError} When anything is missing.
 */
export function checkPermissions(
  backend: Backend,
  libraryPath: (backend: Backend) => string,
): void {
  const missing: MissingPermission[] = [];
  const granted = (descriptor: Deno.PermissionDescriptor) =>
    Deno.permissions.querySync(descriptor).state === "granted";

  if (!granted({ name: "ffi" })) {
    missing.push({ flag: "--allow-ffi", reason: "the native bridge is opened with Deno.dlopen" });
  }
  const vars = envRead(backend);
  const unreadable = vars.filter((variable) => !granted({ name: "env", variable }));
  if (unreadable.length > 0) {
    missing.push({
      flag: "--allow-env",
      reason: `to read ${unreadable.join(", ")} (the cache's location and the build's settings)`,
    });
  }

  let dir: string | undefined;
  let library: string | undefined;
  let override: string | undefined;
  if (unreadable.length === 0) {
    dir = cacheDir(); // throws its own error when HOME and METAL_COMPUTE_CACHE_DIR are unset
    library = libraryPath(backend);
    override = Deno.env.get(LIBRARY_ENV[backend]) || undefined;
  }
  const where = dir ? `${dir}` : "the cache directory";
  const readable = granted(dir ? { name: "read", path: dir } : { name: "read" });
  if (!readable) {
    missing.push({ flag: flagFor("read", dir), reason: `to find the built bridge in ${where}` });
  }

  // What a first use needs: known once the cache can be read, else asked for conditionally.
  const known = library !== undefined && readable;
  const firstUse = known ? "" : " (first use only)";
  const needsSources = known ? !exists(dirname(library!)) : true;
  const needsBuild = known ? override === undefined && !exists(library!) : true;
  if (
    (needsSources || needsBuild) && !granted(dir ? { name: "write", path: dir } : { name: "write" })
  ) {
    missing.push({
      flag: flagFor("write", dir),
      reason: `to write the bridge's sources and build into ${where}${firstUse}`,
    });
  }
  if (needsBuild && !canRun(backend)) {
    const compiler = backend === "cpu" ? "clang" : "xcrun clang";
    missing.push({
      flag: "--allow-run",
      reason: `to build the native bridge with ${compiler}${firstUse}`,
    });
  }
  if (missing.length > 0) throw new PermissionsError(`open the ${backend} device`, missing);
}

function flagFor(name: "read" | "write", dir: string | undefined): string {
  return dir ? `--allow-${name}=${dir}` : `--allow-${name}`;
}

function canRun(backend: Backend): boolean {
  if (Deno.permissions.querySync({ name: "run" }).state === "granted") return true;
  let clang: string | undefined;
  try {
    clang = Deno.env.get("CLANG");
  } catch {
    // --allow-env is reported separately
  }
  // Granted for just the compiler (`--allow-run=clang-19`) is enough.
  const commands = backend === "metal" ? ["xcrun"] : clang ? [clang] : ["clang-19", "clang"];
  return commands.some((command) =>
    Deno.permissions.querySync({ name: "run", command }).state === "granted"
  );
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
