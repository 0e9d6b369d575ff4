// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// Faults of the persistent cache are typed and truthful and never hang: an unwritable cache is
// an I/O error (not a compile error), a FIFO planted where an entry should be is refused
// without blocking, and an entry copied over another key's file is rebuilt rather than run.
// Cases that need a fresh process per cache run tests/_isolation_child.ts.
import assert from "node:assert";
import { join } from "node:path";
import { Device } from "../device.ts";
import { bridgeDir } from "../ffi/library.ts";

const CHILD = new URL("./_isolation_child.ts", import.meta.url).pathname;
const BRIDGE = join(bridgeDir("cpu"), "libmetal_bridge_cpu.so");
const ignore = Deno.build.os === "darwin";
if (!ignore) Device.openSync({ backend: "cpu" }).close(); // builds the bridge the children use

/** Runs `scenario` in a child with `cache` as its cache; returns its JSON line. */
async function child(
  cache: string,
  scenario: string,
): Promise<{ error: string | null; after: string }> {
  const process = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", CHILD, scenario],
    env: { METAL_COMPUTE_CACHE_DIR: cache, METAL_COMPUTE_CPU_LIBRARY: BRIDGE },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => process.kill("SIGKILL"), 60_000);
  const output = await process.output();
  clearTimeout(timer);
  const stdout = new TextDecoder().decode(output.stdout).trim();
  assert.strictEqual(output.code, 0, `child: ${new TextDecoder().decode(output.stderr)}`);
  return JSON.parse(stdout.split("\n").at(-1)!);
}

function modules(cache: string): Set<string> {
  const names = new Set<string>();
  for (const entry of Deno.readDirSync(join(cache, "cpu-modules"))) {
    if (entry.name.endsWith(".so")) names.add(entry.name);
  }
  return names;
}

Deno.test({
  name: "a cache whose module directory is a file gives MB_ERR_IO, not a compile error",
  ignore,
  async fn() {
    const cache = Deno.makeTempDirSync({ prefix: "mb-cache-file-" });
    try {
      Deno.writeTextFileSync(join(cache, "cpu-modules"), "not a directory");
      const { error } = await child(cache, "fine");
      assert.match(error ?? "", /^CacheError MB_ERR_IO: /);
      assert.match(error ?? "", /cpu-modules cannot be written \(it is not a directory\)/);
    } finally {
      Deno.removeSync(cache, { recursive: true });
    }
  },
});

Deno.test({
  name: "a FIFO where a cached module should be is rebuilt over, without hanging",
  ignore,
  async fn() {
    const cache = Deno.makeTempDirSync({ prefix: "mb-cache-fifo-" });
    try {
      assert.deepStrictEqual(await child(cache, "fine"), { error: null, after: "ok" });
      for (const name of modules(cache)) {
        const path = join(cache, "cpu-modules", name);
        Deno.removeSync(path);
        const made = new Deno.Command("mkfifo", { args: [path] }).outputSync();
        assert.ok(made.success, "mkfifo");
      }
      assert.deepStrictEqual(await child(cache, "fine"), { error: null, after: "ok" });
    } finally {
      Deno.removeSync(cache, { recursive: true });
    }
  },
});

Deno.test({
  name: "an entry copied over another key's file is rebuilt, not run as the wrong kernel",
  ignore,
  async fn() {
    const cache = Deno.makeTempDirSync({ prefix: "mb-cache-swap-" });
    try {
      await child(cache, "fine"); // also builds "fine" for the after-check
      const fine = modules(cache);
      assert.deepStrictEqual(await child(cache, "other"), { error: null, after: "ok" });
      const other = [...modules(cache)].filter((name) => !fine.has(name));
      assert.strictEqual(other.length, 1, "one module for `other`");
      // Put "fine"'s module (sealed for its own key) where "other"'s belongs.
      const dir = join(cache, "cpu-modules");
      Deno.copyFileSync(join(dir, [...fine][0]), join(dir, other[0]));
      assert.deepStrictEqual(await child(cache, "other"), { error: null, after: "ok" });
    } finally {
      Deno.removeSync(cache, { recursive: true });
    }
  },
});
