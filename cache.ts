// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * The persistent cache of compiled kernels: where it is, how big, and how to clear it.
 *
 * Compiled work outlives the process. On Metal, every pipeline built is added to a binary
 * archive per device and OS build (`<cache dir>/metal-archives/`), which later runs load
 * instead of compiling. On the CPU backend, each compiled kernel module is a sealed file in
 * `<cache dir>/cpu-modules/` named by a hash of its source, constants, compile options,
 * compiler and backend versions. Entries are written atomically, a corrupt one is rebuilt,
 * and least recently used ones are evicted past `METAL_COMPUTE_CACHE_MAX_MB` (default 512).
 *
 * @module
 */
import { join } from "node:path";
import { cacheDir } from "./_cache_dir.ts";

/** The parts of the cache directory that hold compiled kernels. */
const KERNEL_DIRS = ["cpu-modules", "metal-archives"] as const;
/** The built native bridge, kept unless asked for. */
const BRIDGE_DIR = "native";
/** A temporary file younger than this may be another process's write in progress. */
const TEMPORARY_GRACE_MS = 60 * 60 * 1000;

/** Size of the persistent cache. */
export interface CacheInfo {
  /** The cache directory. */
  dir: string;
  /** Compiled kernel entries (CPU modules, library translations, Metal archives). */
  entries: number;
  /** Their total size in bytes. */
  bytes: number;
}

/** Options for {@linkcode clearCache}. */
export interface ClearCacheOptions {
  /**
   * Also remove the built native bridge (it is rebuilt, about 10 s, on next use).
   *
   * @default {false}
   */
  bridge?: boolean;
}

/**
 * Counts the compiled kernel entries in the cache directory.
 *
 * @returns The directory, the number of entries and their size.
 *
 * @example Usage
 * ```ts
 * import { cacheInfo } from "./cache.ts";
 * import assert from "node:assert";
 *
 * const info = cacheInfo();
 * assert.ok(info.bytes >= 0 && info.entries >= 0);
 * ```
 */
export function cacheInfo(): CacheInfo {
  const dir = cacheDir();
  let entries = 0;
  let bytes = 0;
  for (const sub of KERNEL_DIRS) {
    for (const entry of listFiles(join(dir, sub))) {
      if (entry.name.includes(".tmp-")) continue;
      entries++;
      bytes += entry.size;
    }
  }
  return { dir, entries, bytes };
}

/**
 * Removes the compiled kernels from the persistent cache (the next build of each compiles
 * again). Safe while other processes use the cache: their writes in progress are left
 * alone, and a module a process already loaded stays loaded. A Metal device open in this
 * or another process writes its archive again when it adds pipelines or closes.
 *
 * @param options Whether to remove the built bridge too.
 * @returns What was removed.
 *
 * @example Usage (not run as a doc test: it would empty the cache the test run itself uses)
 * ```ts ignore
 * import { clearCache } from "./cache.ts";
 *
 * const removed = clearCache();
 * console.log(`removed ${removed.entries} entries (${removed.bytes} bytes) from ${removed.dir}`);
 * ```
 */
export function clearCache(options: ClearCacheOptions = {}): CacheInfo {
  const dir = cacheDir();
  let entries = 0;
  let bytes = 0;
  const now = Date.now();
  for (const sub of KERNEL_DIRS) {
    for (const entry of listFiles(join(dir, sub))) {
      const temporary = entry.name.includes(".tmp-");
      if (temporary && now - entry.mtime < TEMPORARY_GRACE_MS) continue;
      if (removeIfPresent(entry.path) && !temporary) {
        entries++;
        bytes += entry.size;
      }
    }
  }
  if (options.bridge) removeIfPresent(join(dir, BRIDGE_DIR), true);
  return { dir, entries, bytes };
}

interface FileEntry {
  name: string;
  path: string;
  size: number;
  mtime: number;
}

function listFiles(dir: string): FileEntry[] {
  const files: FileEntry[] = [];
  let listing: Iterable<Deno.DirEntry>;
  try {
    listing = Deno.readDirSync(dir);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return files;
    throw error;
  }
  for (const entry of listing) {
    if (!entry.isFile) continue;
    const path = join(dir, entry.name);
    try {
      const stat = Deno.statSync(path);
      files.push({ name: entry.name, path, size: stat.size, mtime: stat.mtime?.getTime() ?? 0 });
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error; // evicted meanwhile
    }
  }
  return files;
}

function removeIfPresent(path: string, recursive = false): boolean {
  try {
    Deno.removeSync(path, { recursive });
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
