// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Where the persistent cache lives (private: the public view is `cacheInfo().dir` in
 * `cache.ts`). The native bridge's build, the CPU backend's compiled modules and Metal's
 * binary archives all go under this one directory.
 *
 * @module
 */
import { join } from "node:path";
import { PermissionsError, UnsupportedError } from "./errors.ts";

/** The environment variables that decide the cache directory, in the order they are read. */
export const CACHE_ENV: readonly string[] = ["METAL_COMPUTE_CACHE_DIR", "XDG_CACHE_HOME", "HOME"];

/**
 * The cache directory: `$METAL_COMPUTE_CACHE_DIR`, else the platform's cache directory
 * (`~/Library/Caches` on macOS, `$XDG_CACHE_HOME` or `~/.cache` elsewhere) + `metal-compute`.
 * Never a directory relative to where the process happens to run.
 *
 * @returns An absolute path (it may not exist yet).
 * @throws {PermissionsError} When the environment cannot be read (`--allow-env`).
 * @throws {UnsupportedError} When neither `METAL_COMPUTE_CACHE_DIR` nor `HOME` is set.
 */
export function cacheDir(): string {
  const override = readEnv("METAL_COMPUTE_CACHE_DIR");
  if (override) return override;
  const home = readEnv("HOME");
  if (!home) {
    throw new UnsupportedError(
      "Cannot find the cache directory: HOME is not set; set METAL_COMPUTE_CACHE_DIR to a directory",
    );
  }
  if (Deno.build.os === "darwin") return join(home, "Library", "Caches", "metal-compute");
  return join(readEnv("XDG_CACHE_HOME") || join(home, ".cache"), "metal-compute");
}

function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotCapable)) throw error;
    throw new PermissionsError("find the cache directory", [{
      flag: "--allow-env",
      reason: `to read ${CACHE_ENV.join(", ")}, which locate the cache directory`,
    }]);
  }
}
