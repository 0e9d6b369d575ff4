// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * What one CPU bridge build leaves for the next (private). A precompiled header or a unity
 * unit's object depends only on the compiler, its flags and the text it reads, so each is kept
 * in `<cache>/native/build-cache/` under the hash of those, and a build of other sources (an
 * upgrade, an edited file) reuses what did not change: the C++ standard headers' precompiled
 * header once per clang version, each unit's object until its own sources change. Entries are
 * written under a private name and renamed into place, so a reader sees a whole file or none;
 * least recently used ones beyond {@linkcode BUILD_CACHE_MAX_BYTES} are removed after each
 * build.
 *
 * @module
 */
import { join } from "node:path";
import { cacheDir } from "../_cache_dir.ts";

/** The build cache's byte budget: a precompiled header is ~14 MB, an object 0.2–3 MB. */
export const BUILD_CACHE_MAX_BYTES: number = 96 * 2 ** 20;

/** A file of the build cache, and the private name a build writes it under first. */
export interface CachedOutput {
  /** Where the entry lives (absolute). */
  path: string;
  /** Where this build writes it before renaming it to `path`. */
  staging: string;
}

/** The build cache directory, created when missing. */
export function buildCacheDir(): string {
  const dir = join(cacheDir(), "native", "build-cache");
  Deno.mkdirSync(dir, { recursive: true });
  return dir;
}

/** The entry named `key` + `extension` (e.g. `.o`), with a staging name private to this build. */
export function cachedOutput(key: string, extension: string): CachedOutput {
  const path = join(buildCacheDir(), `${key}${extension}`);
  return { path, staging: `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}` };
}

/** True when the entry is there; marks it used now (its mtime), for eviction. */
export function reuse(path: string): boolean {
  const now = new Date();
  try {
    Deno.utimeSync(path, now, now);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Moves a finished output from its staging name into the cache. */
export function publish(output: CachedOutput): void {
  Deno.renameSync(output.staging, output.path);
}

/**
 * Writes `text` to the entry `path` unless it is there: a precompiled header's input, whose
 * size and time clang checks whenever the header is used, so an existing one is never
 * rewritten, nor touched (hard-linked into place: of two builds writing it at once, the first
 * wins). Content-addressed: the same name always holds the same text.
 */
export function writeOnce(path: string, text: string): void {
  if (exists(path)) return;
  const staging = `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  Deno.writeTextFileSync(staging, text);
  try {
    Deno.linkSync(staging, path);
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
  } finally {
    Deno.removeSync(staging);
  }
}

/** Whether `path` exists (any other error than a missing file is thrown). */
export function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Removes an entry that clang refused (a precompiled header older than a system header). */
export function discard(path: string): void {
  try {
    Deno.removeSync(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/**
 * Keeps the build cache within `maxBytes`: the entries in `keep` (the build that just ended
 * used them) always, then the others most recently used first; removes the rest, and staging
 * files an interrupted build left more than an hour ago.
 */
export function evict(keep: ReadonlySet<string>, maxBytes = BUILD_CACHE_MAX_BYTES): void {
  const dir = buildCacheDir();
  const hourAgo = Date.now() - 3600_000;
  const entries: { path: string; size: number; used: number }[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const path = join(dir, entry.name);
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(path);
    } catch {
      continue; // removed meanwhile by another build
    }
    const used = info.mtime?.getTime() ?? 0;
    if (entry.name.includes(".tmp-")) {
      if (used < hourAgo) discard(path);
      continue;
    }
    // A precompiled header's input keeps its time (see writeOnce) and is a few hundred bytes.
    if (entry.name.endsWith(".h")) continue;
    entries.push({ path, size: info.size, used });
  }
  let total = 0;
  for (const entry of entries) if (keep.has(entry.path)) total += entry.size;
  for (const entry of entries.filter((e) => !keep.has(e.path)).sort((a, b) => b.used - a.used)) {
    total += entry.size;
    if (total > maxBytes) discard(entry.path);
  }
}
