// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Metal's persistent pipeline cache (one `MTLBinaryArchive` per device and OS build under
 * `<cache dir>/metal-archives/`): a device writes its archive when it closes, by a temporary
 * file renamed into place, and a device opened earlier finds what another one added (a miss
 * re-reads a newer archive file). Metal only: skipped elsewhere with the reason.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Device, KernelRegistry } from "../mod.ts";
import { HAS_METAL, NO_METAL_REASON } from "./_helpers.ts";

const SKIP = HAS_METAL ? "" : ` (${NO_METAL_REASON})`;

/** A kernel no earlier run has compiled (the salt), so the first build is a real compile. */
function probeSource(salt: string): string {
  return `#include <metal_stdlib>
using namespace metal;
kernel void archive_probe(device float* x [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  x[i] = x[i] * 3.0f + ${salt}.0f;
}
`;
}

/** Runs `fn` with METAL_COMPUTE_CACHE_DIR set to a fresh directory, then removes it. */
async function withCacheDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const saved = Deno.env.get("METAL_COMPUTE_CACHE_DIR");
  const dir = await Deno.makeTempDir({ prefix: "metal_archive_" });
  Deno.env.set("METAL_COMPUTE_CACHE_DIR", dir);
  try {
    await fn(dir);
  } finally {
    if (saved === undefined) Deno.env.delete("METAL_COMPUTE_CACHE_DIR");
    else Deno.env.set("METAL_COMPUTE_CACHE_DIR", saved);
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: `a pipeline another Metal device compiled is a cache hit on a device opened before${SKIP}`,
  ignore: !HAS_METAL,
  async fn() {
    await withCacheDir(async () => {
      const source = probeSource(String(Date.now() % 100000));
      using early = Device.openSync({ backend: "metal" });
      using earlyRegistry = new KernelRegistry();
      earlyRegistry.registerSource("archive_probe", source);
      {
        using writer = Device.openSync({ backend: "metal" });
        using registry = new KernelRegistry();
        registry.registerSource("archive_probe", source);
        const compiled = await registry.getPipeline("archive_probe", writer);
        assert.equal(compiled.origin, "compiled");
      } // the writer closes here and writes its archive
      const again = await earlyRegistry.getPipeline("archive_probe", early);
      assert.equal(again.origin, "cache");
    });
  },
});

Deno.test({
  name: `closing a Metal device writes one archive file and no temporary files${SKIP}`,
  ignore: !HAS_METAL,
  async fn() {
    await withCacheDir(async (dir) => {
      {
        using device = Device.openSync({ backend: "metal" });
        using registry = new KernelRegistry();
        registry.registerSource("archive_probe", probeSource(String(Date.now() % 100000 + 1)));
        await registry.getPipeline("archive_probe", device);
      }
      const files = [...Deno.readDirSync(`${dir}/metal-archives`)].map((e) => e.name);
      assert.equal(files.filter((name) => name.endsWith(".metallib")).length, 1, files.join(", "));
      assert.ok(files.every((name) => !name.includes(".tmp-")), files.join(", "));
    });
  },
});
