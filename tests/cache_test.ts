// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * The persistent cache (CPU backend): a warm process reads what a cold one compiled; corrupt
 * entries are rebuilt, never loaded; two processes sharing a fresh cache do not corrupt it;
 * the size budget evicts least recently used entries; clearCache empties it; a library read
 * back from it names its kernels as compiled. Each run is a separate `deno run` of
 * tests/_cache_child.ts against a fresh temporary cache directory, loading this process's
 * bridge (no rebuild).
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { cacheInfo, clearCache, Device, KernelRegistry } from "../mod.ts";
import { bridgeDir } from "../ffi/library.ts";
import { cpuBackend } from "./_helpers.ts";

const CHILD = new URL("./_cache_child.ts", import.meta.url).pathname;
// Open the bridge once here (building it if needed): children load the same library. Where
// the CPU backend cannot open (no clang), every test here skips and says why.
const CPU = cpuBackend();
const SKIP = CPU.available ? "" : ` (${CPU.reason})`;
const BRIDGE = join(bridgeDir("cpu"), "libmetal_bridge_cpu.so");

interface ChildResult {
  origins: Record<string, string>;
  ok: boolean;
}

function child(
  cache: string,
  tags: string[],
  env: Record<string, string> = {},
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", CHILD, ...tags],
    env: {
      METAL_COMPUTE_CACHE_DIR: cache,
      METAL_COMPUTE_CPU_LIBRARY: Deno.env.get("METAL_COMPUTE_CPU_LIBRARY") ?? BRIDGE,
      ...env,
    },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function finish(process: Deno.ChildProcess): Promise<ChildResult> {
  const output = await process.output();
  const text = new TextDecoder();
  assert.ok(output.success, `child failed:\n${text.decode(output.stderr)}`);
  const lines = text.decode(output.stdout).trim().split("\n");
  return JSON.parse(lines[lines.length - 1]);
}

function run(cache: string, tags: string[], env?: Record<string, string>): Promise<ChildResult> {
  return finish(child(cache, tags, env));
}

function modules(cache: string): string[] {
  const dir = join(cache, "cpu-modules");
  return [...Deno.readDirSync(dir)].map((e) => join(dir, e.name)).sort();
}

async function withCache(fn: (cache: string) => Promise<void>): Promise<void> {
  const cache = await Deno.makeTempDir({ prefix: "mc_cache_test_" });
  try {
    await fn(cache);
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
}

const every = (origins: Record<string, string>, origin: string) =>
  Object.values(origins).every((o) => o === origin);

Deno.test({
  name: "a warm process takes every pipeline from the persistent cache" + SKIP,
  ignore: !CPU.available,
  fn: async () => {
    await withCache(async (cache) => {
      const cold = await run(cache, ["a", "b"]);
      assert.ok(cold.ok);
      assert.ok(every(cold.origins, "compiled"), JSON.stringify(cold.origins));
      const warm = await run(cache, ["a", "b"]);
      assert.ok(warm.ok);
      assert.deepEqual(warm.origins, { a: "cache", b: "cache", "a+constants": "cache" });
      // Sealed and atomic: no temporary files left behind.
      assert.ok(modules(cache).every((path) => !path.includes(".tmp-")));
    });
  },
});

Deno.test({
  name: "truncated, overwritten and garbage cache entries are rebuilt, never loaded" + SKIP,
  ignore: !CPU.available,
  fn: async () => {
    await withCache(async (cache) => {
      assert.ok((await run(cache, ["a", "b", "c"])).ok);
      const files = modules(cache);
      const objects = files.filter((p) => p.endsWith(".so"));
      const libs = files.filter((p) => p.endsWith(".lib"));
      assert.equal(objects.length, 4); // a, b, c, a with constants
      assert.equal(libs.length, 3);
      // Truncated mid-file (an interrupted copy), one flipped byte, an empty file, garbage text.
      const bytes = Deno.readFileSync(objects[0]);
      Deno.writeFileSync(objects[0], bytes.subarray(0, bytes.length >> 1));
      const flipped = Deno.readFileSync(objects[1]);
      flipped[flipped.length >> 1] ^= 0xff;
      Deno.writeFileSync(objects[1], flipped);
      Deno.writeFileSync(objects[2], new Uint8Array(0));
      Deno.writeTextFileSync(libs[0], "mbcpu-lib 1\nkernels 99\n");
      const repaired = await run(cache, ["a", "b", "c"]);
      assert.ok(repaired.ok, "results after repair");
      assert.ok(Object.values(repaired.origins).includes("compiled"), "something was rebuilt");
      const warm = await run(cache, ["a", "b", "c"]);
      assert.ok(warm.ok);
      assert.ok(every(warm.origins, "cache"), JSON.stringify(warm.origins));
    });
  },
});

Deno.test({
  name: "two processes compiling into one fresh cache at once do not corrupt it" + SKIP,
  ignore: !CPU.available,
  fn: async () => {
    await withCache(async (cache) => {
      // Same sources (a, b) in both, different ones (p1, p2) in each, started together.
      const [first, second] = await Promise.all([
        finish(child(cache, ["a", "b", "p1"])),
        finish(child(cache, ["a", "b", "p2"])),
      ]);
      assert.ok(first.ok && second.ok);
      for (const tags of [["a", "b", "p1"], ["a", "b", "p2"]]) {
        const warm = await run(cache, tags);
        assert.ok(warm.ok);
        assert.ok(every(warm.origins, "cache"), JSON.stringify(warm.origins));
      }
      assert.ok(modules(cache).every((path) => !path.includes(".tmp-")));
    });
  },
});

Deno.test({
  name: "the cache stays within METAL_COMPUTE_CACHE_MAX_MB, evicting the least recently used" +
    SKIP,
  ignore: !CPU.available,
  fn: async () => {
    await withCache(async (cache) => {
      const dir = join(cache, "cpu-modules");
      Deno.mkdirSync(dir, { recursive: true });
      const stale = join(dir, "0123456789abcdef0123456789abcdef.so");
      Deno.writeFileSync(stale, new Uint8Array(1536 * 1024)); // 1.5 MiB, used long ago
      Deno.utimeSync(stale, new Date(2000, 0, 1), new Date(2000, 0, 1));
      const result = await run(cache, ["a"], { METAL_COMPUTE_CACHE_MAX_MB: "1" });
      assert.ok(result.ok);
      const left = modules(cache);
      assert.ok(!left.includes(stale), "the stale entry was evicted");
      assert.ok(left.length > 0, "the fresh entries stayed");
      const total = left.reduce((sum, path) => sum + Deno.statSync(path).size, 0);
      assert.ok(total <= 1024 * 1024, `${total} bytes left`);
    });
  },
});

Deno.test({
  name: "clearCache() removes the compiled kernels and cacheInfo() counts them" + SKIP,
  ignore: !CPU.available,
  fn: async () => {
    await withCache(async (cache) => {
      assert.ok((await run(cache, ["a"])).ok);
      const saved = Deno.env.get("METAL_COMPUTE_CACHE_DIR");
      Deno.env.set("METAL_COMPUTE_CACHE_DIR", cache);
      try {
        const before = cacheInfo();
        assert.equal(before.dir, cache);
        assert.ok(before.entries >= 3 && before.bytes > 0);
        const removed = clearCache();
        assert.equal(removed.entries, before.entries);
        assert.equal(cacheInfo().entries, 0);
      } finally {
        if (saved === undefined) Deno.env.delete("METAL_COMPUTE_CACHE_DIR");
        else Deno.env.set("METAL_COMPUTE_CACHE_DIR", saved);
      }
      const again = await run(cache, ["a"]);
      assert.ok(again.ok);
      assert.ok(every(again.origins, "compiled"));
    });
  },
});

Deno.test({
  name: "a kernel whose [[host_name]] holds spaces keeps its name through the persistent cache" +
    SKIP,
  ignore: !CPU.available,
  fn: async () => {
    const source = `#include <metal_stdlib>
using namespace metal;
template <typename T> kernel void fill(device T* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = T(i);
}
template [[host_name("fill 2 floats")]] [[kernel]] decltype(fill<float>) fill<float>;`;
    using device = Device.openSync({ backend: "cpu" });
    // The second registry compiles the library again: it reads what the first one cached.
    for (const expected of [undefined, "cache"]) {
      using registry = new KernelRegistry();
      registry.registerSource("fill 2 floats", source, "spaced_name.metal");
      const pipeline = await registry.getPipeline("fill 2 floats", device);
      if (expected) assert.equal(pipeline.origin, expected);
    }
  },
});
