// Copyright 2026 the @metal-compute/kernels authors. MIT license.
import assert from "node:assert";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { SOURCES } from "../ffi/_sources.ts";
import { cacheDir } from "../_cache_dir.ts";
import { ABI_VERSION } from "../ffi/library.ts";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));

function filesUnder(dir: string): string[] {
  const files: string[] = [];
  for (const entry of Deno.readDirSync(join(ROOT, dir))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) files.push(...filesUnder(path));
    else files.push(path);
  }
  return files;
}

Deno.test("ffi/_sources.ts lists every CPU bridge source, and each matches its file", () => {
  const onDisk = filesUnder("metal_bridge/cpu")
    .concat(filesUnder("metal_bridge/common"), "metal_bridge/metal_bridge.h")
    .sort();
  const listed = SOURCES.cpu.map((s) => s.path).sort();
  assert.deepStrictEqual(listed, onDisk);
  for (const source of SOURCES.cpu) {
    assert.strictEqual(source.text, Deno.readTextFileSync(join(ROOT, source.path)), source.path);
  }
});

Deno.test("ffi/_sources.ts carries the Objective-C bridge for macOS builds", () => {
  const paths = SOURCES.metal.map((s) => s.path);
  assert.ok(paths.includes("metal_bridge/metal_bridge.m"));
  assert.ok(paths.includes("metal_bridge/metal_bridge.h"));
  for (const path of filesUnder("metal_bridge/common")) assert.ok(paths.includes(path), path);
});

Deno.test("ABI_VERSION is read from metal_bridge.h", () => {
  const header = Deno.readTextFileSync(join(ROOT, "metal_bridge/metal_bridge.h"));
  const declared = Number(/#define MB_ABI_VERSION (\d+)/.exec(header)?.[1]);
  assert.strictEqual(ABI_VERSION, declared);
  assert.ok(ABI_VERSION >= 1);
});

Deno.test("cacheDir() honours METAL_COMPUTE_CACHE_DIR", () => {
  const saved = Deno.env.get("METAL_COMPUTE_CACHE_DIR");
  try {
    Deno.env.set("METAL_COMPUTE_CACHE_DIR", "/tmp/somewhere");
    assert.strictEqual(cacheDir(), "/tmp/somewhere");
    Deno.env.delete("METAL_COMPUTE_CACHE_DIR");
    assert.match(cacheDir(), /metal-compute$/);
    assert.ok(relative("/", cacheDir()).length > 0);
  } finally {
    if (saved === undefined) Deno.env.delete("METAL_COMPUTE_CACHE_DIR");
    else Deno.env.set("METAL_COMPUTE_CACHE_DIR", saved);
  }
});
