// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Where the persistent cache lives (private: the public view is `cacheInfo().dir` in
 * `cache.ts`). The native bridge's build, the CPU backend's compiled modules and Metal's
 * binary archives all go under this one directory.
 *
 * @module
 */
import { join } from "node:path";
import { tryGetEnv } from "./ffi/_native.ts";

/**
 * The cache directory: `$METAL_COMPUTE_CACHE_DIR`, else the platform's cache directory
 * (`~/Library/Caches` on macOS, `$XDG_CACHE_HOME` or `~/.cache` elsewhere) + `metal-compute`.
 *
 * @returns An absolute path (it may not exist yet).
 */
export function cacheDir(): string {
  const override = tryGetEnv("METAL_COMPUTE_CACHE_DIR");
  if (override) return override;
  const home = tryGetEnv("HOME") ?? tryGetEnv("USERPROFILE") ?? Deno.cwd();
  if (Deno.build.os === "darwin") return join(home, "Library", "Caches", "metal-compute");
  return join(tryGetEnv("XDG_CACHE_HOME") ?? join(home, ".cache"), "metal-compute");
}
