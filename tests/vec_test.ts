// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `metal_bridge/cpu/vec.h`, the front end's vector: `tests/native/vec_check.cpp` built
 * with AddressSanitizer and UndefinedBehaviorSanitizer, then run.
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

Deno.test({
  name: `Vec behaves as std::vector (sanitized)${
    CLANG ? "" : " (skipped: no clang; set CLANG or install clang-19)"
  }`,
  ignore: CLANG === undefined,
  fn() {
    const dir = Deno.makeTempDirSync({ prefix: "vec_check_" });
    try {
      const binary = `${dir}/vec_check`;
      const build = runTool(CLANG!, [
        "--driver-mode=g++",
        "-std=c++17", // as ffi/library.ts builds the bridge
        "-O0", // a third of -O1's build time; the sanitizers check the same
        "-fsanitize=address,undefined",
        "-fno-sanitize-recover=all",
        `-I${ROOT}metal_bridge/cpu`,
        `${ROOT}tests/native/vec_check.cpp`,
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
  },
});
