// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * The CPU bridge's own containers against the standard ones they stand in for (they exist to
 * make the bridge's first build cheaper: docs/architecture.md, "Building the CPU bridge"):
 * `metal_bridge/cpu/vec.h` against std::vector and `metal_bridge/cpu/sorted_map.h` against
 * std::map, each by a check in `tests/native/` built with AddressSanitizer and
 * UndefinedBehaviorSanitizer, then run.
 *
 * @module
 */
import assert from "node:assert/strict";
import { runTool } from "./_helpers.ts";

const ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);
const CLANG = [Deno.env.get("CLANG") ?? "clang-19", "clang-19", "clang"].find((candidate) =>
  runTool(candidate, ["--version"])?.success
);
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** Builds `tests/native/<check>.cpp` sanitized, runs it, and expects its last line `-> ok`. */
function runSanitizedCheck(check: string, optimisation: "-O0" | "-O1"): void {
  const dir = Deno.makeTempDirSync({ prefix: `${check}_` });
  try {
    const binary = `${dir}/${check}`;
    const build = runTool(CLANG!, [
      "--driver-mode=g++",
      "-std=c++17", // as ffi/library.ts builds the bridge
      optimisation,
      "-fsanitize=address,undefined",
      "-fno-sanitize-recover=all",
      `-I${ROOT}metal_bridge/cpu`,
      `${ROOT}tests/native/${check}.cpp`,
      "-o",
      binary,
    ])!;
    assert.ok(build.success, `cannot build the check:\n${text(build.stderr)}`);
    const run = runTool(binary, [])!;
    assert.ok(run.success, text(run.stdout) + text(run.stderr));
    assert.match(text(run.stdout), /-> ok$/m);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

const skipped = CLANG ? "" : " (skipped: no clang; set CLANG or install clang-19)";

Deno.test({
  name: `Vec behaves as std::vector (sanitized)${skipped}`,
  ignore: CLANG === undefined,
  // -O0: a third of -O1's build time, and the sanitizers check the same.
  fn: () => runSanitizedCheck("vec_check", "-O0"),
});

Deno.test({
  name: `SortedMap behaves as std::map (sanitized)${skipped}`,
  ignore: CLANG === undefined,
  fn: () => runSanitizedCheck("sorted_map_check", "-O1"),
});
