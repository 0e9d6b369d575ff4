// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// The task scripts: `--help` prints usage and changes nothing (no cache cleared, no bridge built,
// no tracked file rewritten); an unknown flag is refused with the usage.
import assert from "node:assert/strict";
import { buildOrder, readResults, type ResultRecord } from "../tools/msl_corpus.ts";
import { candleCases, erf, errors, mlxCases } from "../tools/msl_corpus_run.ts";

const ROOT = new URL("../", import.meta.url);
const RESULTS = new URL("bench/RESULTS.md", ROOT);
const SCRIPTS = [
  "demo.ts",
  "bench/run.ts",
  "bench/startup.ts",
  "bench/cpu_throughput.ts",
  "tools/precompile.ts",
  "tools/cache_clear.ts",
  "tools/catalog.ts",
  "tools/build.ts",
  "tools/fmt_native.ts",
  "bench/library_pipelines.ts",
];

async function runScript(script: string, args: string[], cacheDir: string) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--unstable-webgpu", new URL(script, ROOT).pathname, ...args],
    env: { METAL_COMPUTE_CACHE_DIR: cacheDir },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return {
    code: output.code,
    stdout: text.decode(output.stdout),
    stderr: text.decode(output.stderr),
  };
}

for (const script of SCRIPTS) {
  Deno.test(`${script} --help prints its usage and changes nothing`, async () => {
    const cacheDir = await Deno.makeTempDir({ prefix: "mc_tools_" });
    try {
      const marker = `${cacheDir}/marker`;
      await Deno.writeTextFile(marker, "keep");
      const results = await Deno.readTextFile(RESULTS);
      const { code, stdout, stderr } = await runScript(script, ["--help"], cacheDir);
      assert.equal(code, 0, stderr);
      assert.match(stdout, /^Usage: /);
      assert.match(stdout, /--help\s+show this help and exit/);
      assert.deepEqual([...Deno.readDirSync(cacheDir)].map((entry) => entry.name), ["marker"]);
      assert.equal(await Deno.readTextFile(RESULTS), results);
    } finally {
      await Deno.remove(cacheDir, { recursive: true });
    }
  });
}

Deno.test("bench/run.ts refuses an unknown flag with its usage and exit code 2", async () => {
  const cacheDir = await Deno.makeTempDir({ prefix: "mc_tools_" });
  try {
    const { code, stdout, stderr } = await runScript("bench/run.ts", ["--bogus"], cacheDir);
    assert.equal(code, 2);
    assert.equal(stdout, "");
    assert.match(stderr, /Unknown option '--bogus'/);
    assert.match(stderr, /Usage: deno task bench/);
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
});

function record(file: string, overrides: Partial<ResultRecord> = {}): ResultRecord {
  return {
    project: "mlx",
    commit: "c1",
    languageVersion: "4.0",
    quick: true,
    measuredAt: "m1",
    finished: "2026-01-01T00:00:00Z",
    file,
    entryPoints: 2,
    built: 2,
    causes: {},
    seconds: 1,
    sampled: true,
    ...overrides,
  };
}

Deno.test("msl_corpus --results keeps only earlier results of the same project, commit, language and --quick", () => {
  const lines = [
    record("a.metal"),
    record("b.metal", { commit: "c2" }),
    record("c.metal", { languageVersion: "" }),
    record("d.metal", { quick: false }),
    record("e.metal", { project: "candle" }),
    record("a.metal", { built: 1, measuredAt: "m2" }), // the last line for a file wins
  ].map((r) => JSON.stringify(r)).join("\n") + "\n";
  const found = readResults(lines, {
    project: "mlx",
    commit: "c1",
    languageVersion: "4.0",
    quick: true,
  });
  assert.deepEqual([...found.keys()], ["a.metal"]);
  assert.equal(found.get("a.metal")!.built, 1);
  assert.equal(found.get("a.metal")!.measuredAt, "m2");
});

Deno.test("msl_corpus --results names the line that is not JSON", () => {
  assert.throws(
    () =>
      readResults(`${JSON.stringify(record("a.metal"))}\n{oops\n`, {
        project: "mlx",
        commit: "c1",
        languageVersion: "4.0",
        quick: true,
      }),
    { name: "SyntaxError", message: /--results line 2 is not JSON: \{oops/ },
  );
});

Deno.test("msl_corpus --smallest-first builds by ascending entry points, ties by name", () => {
  const files = [
    { file: "big.metal", entryPoints: 900 },
    { file: "b.metal", entryPoints: 3 },
    { file: "a.metal", entryPoints: 3 },
    { file: "none.metal", entryPoints: 0 },
  ];
  assert.deepEqual(buildOrder(files, true), [3, 2, 1, 0]);
  assert.deepEqual(buildOrder(files, false), [0, 1, 2, 3]);
});

Deno.test("msl_corpus_run's erf reference matches tabulated values on both of its branches", () => {
  for (
    const [v, want] of [
      [0.5, 0.5204998778130465],
      [-1, -0.8427007929497149],
      [
        2.5,
        0.9995930479825550,
      ],
      [3.5, 0.9999992569016276],
      [-4, -0.9999999845827421],
    ]
  ) assert.ok(Math.abs(erf(v) - want) < 1e-14, `erf(${v}) = ${erf(v)}, want ${want}`);
});

Deno.test("msl_corpus_run's errors: relative only where |expected| is not tiny; NaN is infinite", () => {
  assert.deepEqual(errors([1.5, 0.0011], [1, 0.001]), { maxAbs: 0.5, maxRel: 0.5 });
  // 1e-6 is below 1e-3 of the largest |expected|: its relative error is not counted.
  assert.deepEqual(errors([2, 2e-6], [2, 1e-6]), { maxAbs: 1e-6, maxRel: 0 });
  assert.equal(errors([NaN], [1]).maxAbs, Infinity);
  assert.throws(() => errors([1], [1, 2]), RangeError);
});

Deno.test("msl_corpus_run's cases each compare a zeroed output buffer large enough for their reference", () => {
  const size = { f32: 4, f16: 2, bf16: 2, u32: 4 };
  const cases = [...candleCases(), ...mlxCases()];
  assert.ok(cases.length >= 40);
  for (const c of cases) {
    const out = c.buffers[c.output];
    assert.equal(typeof out, "number", c.kernel);
    assert.ok((out as number) >= c.expected.length * size[c.outType], c.kernel);
    assert.ok(c.expected.every(Number.isFinite), c.kernel);
    assert.ok((c.threads === undefined) !== (c.groups === undefined), c.kernel);
  }
  assert.equal(new Set(cases.map((c) => `${c.project}/${c.kernel}`)).size, cases.length);
});
