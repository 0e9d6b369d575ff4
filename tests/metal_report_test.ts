// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `deno task metal-report` runs here, on the CPU backend, and says when Metal is missing. The
 * two slow parts are left out to keep the suite fast: the numeric part (`--skip-tests`, a run
 * of `tests/ops/`, which the suite runs itself) and the build log (`--skip-build`, a full
 * rebuild of the bridge; `ffi/library.ts` `bridgeBuildLog` uses the build's own command).
 *
 * @module
 */
import assert from "node:assert/strict";

const REPORT = new URL("../tools/metal_report.ts", import.meta.url).pathname;

function report(args: string[]): { success: boolean; stdout: string; stderr: string } {
  const output = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", REPORT, ...args],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  const text = new TextDecoder();
  return {
    success: output.success,
    stdout: text.decode(output.stdout),
    stderr: text.decode(output.stderr),
  };
}

Deno.test("metal-report --help describes the report and does nothing else", () => {
  const result = report(["--help"]);
  assert.ok(result.success, result.stderr);
  assert.match(result.stdout, /^Usage: deno task metal-report/);
  assert.match(result.stdout, /--output PATH/);
});

Deno.test("metal-report writes one Markdown file: the devices and every catalogue kernel", () => {
  const dir = Deno.makeTempDirSync({ prefix: "metal_report_" });
  try {
    const output = `${dir}/report.md`;
    const result = report(["--skip-tests", "--skip-build", "--output", output]);
    assert.ok(result.success, result.stderr);
    const markdown = Deno.readTextFileSync(output);
    if (Deno.build.os !== "darwin") {
      assert.match(
        markdown,
        /\| metal \| \*\*no\*\* \| {2}\| Metal needs macOS; this machine runs/,
      );
    }
    assert.match(markdown, /\| cpu \| yes \| CPU \(/);
    assert.match(markdown, /## Catalogue kernels: pipelines/);
    assert.match(markdown, /\| softmax_f32 \| softmax\.metal \| (compiled|cache), /);
    assert.match(markdown, /\n0 pipeline\(s\) failed\./);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
