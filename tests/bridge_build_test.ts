// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * The CPU bridge's build plan (`ffi/library.ts`) and its build cache (`ffi/_build_cache.ts`),
 * driven through `deno task build` with a stand-in compiler (CLANG): a shell script that logs
 * its arguments and writes each `-o` file, so no test here waits for a real compile. The
 * library it "builds" cannot be loaded, which each build then reports.
 */
import assert from "node:assert";
import { join } from "node:path";
import { buildCacheDir, evict, writeOnce } from "../ffi/_build_cache.ts";

const BUILD = new URL("../tools/build.ts", import.meta.url).pathname;
const OPEN_SYNC = `import { openBridge } from "${
  new URL("../ffi/library.ts", import.meta.url).href
}";
openBridge("cpu");`;

const FAKE_CLANG = `#!/bin/sh
echo "$*" >> "$FAKE_CLANG_LOG"
if [ "$1" = "--version" ]; then echo "fake clang 1"; exit 0; fi
out=""; pch=""; prev=""
for a in "$@"; do
  [ "$prev" = "-o" ] && out="$a"
  [ "$prev" = "-include-pch" ] && pch="$a"
  prev="$a"
done
if [ -n "$pch" ] && [ -e "$pch.stale" ]; then
  rm "$pch.stale"
  echo "fatal error: file 'std.h' has been modified since the precompiled header '$pch' was built" >&2
  exit 1
fi
if [ -n "$FAKE_CLANG_FAIL" ]; then
  case "$*" in *"$FAKE_CLANG_FAIL"*) echo "unit.cpp:1:1: error: made to fail here" >&2; exit 1;; esac
fi
echo fake > "$out"
if [ -n "$FAKE_CLANG_SLEEP" ]; then
  echo "+" >> "$FAKE_CLANG_LOG.events"; sleep "$FAKE_CLANG_SLEEP"; echo "-" >> "$FAKE_CLANG_LOG.events"
fi
`;

/** A cache directory and a stand-in clang logging to a file; removed with `using`. */
function fakeBuild() {
  const dir = Deno.makeTempDirSync({ prefix: "bridge-build-test-" });
  const clang = join(dir, "fake-clang");
  Deno.writeTextFileSync(clang, FAKE_CLANG);
  Deno.chmodSync(clang, 0o755);
  const log = join(dir, "clang.log");
  const cache = join(dir, "cache");
  return {
    cache,
    /** The compiler runs of every build so far, one argument string each. */
    runs: () => Deno.readTextFileSync(log).trim().split("\n").filter((l) => l !== "--version"),
    /** How the compiles of every build so far began (+) and ended (-), in order. */
    events: () => Deno.readTextFileSync(`${log}.events`).replaceAll("\n", ""),
    /** `deno task build` (async), or with `blocking`, openBridge as Device.openSync calls it. */
    async build(fail = "", blocking = false): Promise<string> {
      const output = await new Deno.Command(Deno.execPath(), {
        args: blocking ? ["eval", OPEN_SYNC] : ["run", "-A", BUILD, "cpu"],
        env: {
          CLANG: clang,
          FAKE_CLANG_LOG: log,
          FAKE_CLANG_FAIL: fail,
          FAKE_CLANG_SLEEP: blocking ? "1" : "",
          METAL_COMPUTE_CACHE_DIR: cache,
          METAL_COMPUTE_PROGRESS: "1",
        },
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(!output.success, "a stand-in library cannot load");
      return new TextDecoder().decode(output.stderr);
    },
    /** Removes the built library (not the build cache), so the next run builds again. */
    removeLibrary(): void {
      for (const entry of Deno.readDirSync(join(cache, "native"))) {
        if (!entry.name.startsWith("cpu-")) continue;
        Deno.removeSync(join(cache, "native", entry.name, "libmetal_bridge_cpu.so"));
      }
    },
    [Symbol.dispose]: () => Deno.removeSync(dir, { recursive: true }),
  };
}

const compiles = (runs: string[]) => runs.filter((run) => run.includes(" -c ")).length;
const headers = (runs: string[]) => runs.filter((run) => run.includes("c++-header")).length;
const links = (runs: string[]) => runs.filter((run) => run.includes(" -shared ")).length;

Deno.test("a first build compiles each unit once, then links; the next reuses them all", async () => {
  using fake = fakeBuild();
  const first = await fake.build();
  assert.match(first, /Cannot load the cpu bridge/);
  const runs = fake.runs();
  assert.strictEqual(headers(runs), 1);
  assert.ok(compiles(runs) >= 3, runs.join("\n"));
  assert.strictEqual(links(runs), 1);
  fake.removeLibrary();
  const second = await fake.build();
  assert.match(second, /built the cpu bridge in .*standard headers \(-O0\) reused/);
  const again = fake.runs().slice(runs.length);
  assert.deepStrictEqual([headers(again), compiles(again), links(again)], [0, 0, 1]);
});

Deno.test("a blocking first open (Device.openSync) runs the compiles side by side too", async () => {
  using fake = fakeBuild();
  const output = await fake.build("", true);
  assert.match(output, /Cannot load the cpu bridge/);
  assert.match(output, /built the cpu bridge in .*standard headers \(-O0\) \d+\.\d s/);
  // Each stand-in compile takes a second: a second one began before the first had ended.
  assert.match(fake.events(), /\+\+/);
});

Deno.test("a precompiled header clang refuses is discarded and built again", async () => {
  using fake = fakeBuild();
  await fake.build();
  const before = fake.runs().length;
  const cache = join(fake.cache, "native", "build-cache");
  for (const entry of Deno.readDirSync(cache)) {
    // The units compile again (as after an edit), reading the header clang will refuse.
    if (entry.name.endsWith(".o")) Deno.removeSync(join(cache, entry.name));
    if (entry.name.endsWith(".pch")) Deno.writeTextFileSync(join(cache, `${entry.name}.stale`), "");
  }
  fake.removeLibrary();
  const output = await fake.build();
  assert.match(output, /Cannot load the cpu bridge/); // built, not "Cannot build"
  assert.strictEqual(headers(fake.runs().slice(before)), 1);
});

for (const blocking of [false, true]) {
  Deno.test(
    `a failed compile names its command and shows clang's message${
      blocking ? " (blocking open)" : ""
    }`,
    async () => {
      using fake = fakeBuild();
      const output = await fake.build("unit1.cpp", blocking);
      assert.match(output, /Cannot build the cpu bridge with ".*fake-clang .*unit1\.cpp"/);
      assert.match(output, /unit\.cpp:1:1: error: made to fail here/);
      assert.doesNotMatch(output, /built the cpu bridge/);
    },
  );
}

Deno.test("the build cache keeps what the last build used, then the newest within budget", () => {
  const dir = Deno.makeTempDirSync({ prefix: "bridge-build-cache-" });
  const saved = Deno.env.get("METAL_COMPUTE_CACHE_DIR");
  Deno.env.set("METAL_COMPUTE_CACHE_DIR", dir);
  try {
    const cache = buildCacheDir();
    const entry = (name: string, size: number, ageS: number) => {
      const path = join(cache, name);
      Deno.writeFileSync(path, new Uint8Array(size));
      const at = new Date(Date.now() - ageS * 1000);
      Deno.utimeSync(path, at, at);
      return path;
    };
    const used = entry("used.o", 300, 500);
    const newer = entry("newer.o", 300, 10);
    const older = entry("older.o", 300, 20);
    const oldest = entry("oldest.o", 300, 30);
    const leftover = entry("x.o.tmp-1-abc", 10, 7200);
    const fresh = entry("y.o.tmp-2-def", 10, 5);
    evict(new Set([used]), 1000);
    const left = [...Deno.readDirSync(cache)].map((e) => join(cache, e.name)).sort();
    assert.deepStrictEqual(left, [newer, older, used, fresh].sort());
    assert.ok(![oldest, leftover].some((path) => left.includes(path)));
  } finally {
    if (saved === undefined) Deno.env.delete("METAL_COMPUTE_CACHE_DIR");
    else Deno.env.set("METAL_COMPUTE_CACHE_DIR", saved);
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a precompiled header's input is written once and never touched again", () => {
  const dir = Deno.makeTempDirSync({ prefix: "bridge-build-cache-" });
  try {
    const path = join(dir, "std-1.h");
    writeOnce(path, "#include <vector>\n");
    const at = new Date(Date.now() - 60_000);
    Deno.utimeSync(path, at, at);
    writeOnce(path, "#include <vector>\n");
    assert.strictEqual(Deno.statSync(path).mtime?.getTime(), at.getTime());
    assert.deepStrictEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["std-1.h"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
