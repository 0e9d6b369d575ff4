// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * The CPU backend's platform code, checked for the platforms this machine cannot run:
 * `metal_bridge/cpu/fiber.cpp`'s context switch assembles for x86-64 and AArch64 on Linux
 * (ELF) and macOS (Mach-O) and defines the symbols the C++ side calls, and every CPU backend
 * source type-checks for `aarch64-linux-gnu` (with Debian's cross headers,
 * `libc6-dev-arm64-cross libstdc++-12-dev-arm64-cross`, installed by `.ci/run`), and the
 * switch runs correctly (`tests/native/fiber_check.cpp`: callee-saved state, floating-point
 * values and the rounding mode survive 2000 switches) natively and, for AArch64, under
 * `qemu-aarch64` (Debian `qemu-user binutils-aarch64-linux-gnu`, also installed by `.ci/run`).
 *
 * Not checkable here (no macOS SDK): the rest of the CPU backend against Darwin's C headers
 * (`platform.h`'s Darwin signal-frame fields, `pthread_setname_np`, `st_mtimespec`). The
 * hosted macOS CI jobs build and run the CPU backend there.
 *
 * @module
 */
import assert from "node:assert/strict";
import { runTool } from "./_helpers.ts";

const ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);
const CPU_DIR = `${ROOT}metal_bridge/cpu`;

function findTool(candidates: string[]): string | null {
  for (const candidate of candidates) {
    if (runTool(candidate, ["--version"])?.success) return candidate;
  }
  return null;
}

const CLANG = findTool([Deno.env.get("CLANG") ?? "clang-19", "clang-19", "clang"]);
const NM = findTool(["llvm-nm-19", "llvm-nm"]);
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const NO_CLANG = CLANG === null ? " (skipped: no clang; set CLANG or install clang-19)" : "";

/** The section of fiber.cpp between its "context switch (begin)" and "(end)" markers. */
function contextSwitchSection(): string {
  const source = Deno.readTextFileSync(`${CPU_DIR}/fiber.cpp`);
  const begin = source.indexOf("// ---- context switch (begin)");
  const end = source.indexOf("// ---- context switch (end)");
  assert.ok(begin >= 0 && end > begin, "fiber.cpp lost its context switch markers");
  const section = source.slice(begin, end);
  assert.doesNotMatch(section, /#include/, "the context switch section must stay header-free");
  return section;
}

const TARGETS = [
  { triple: "x86_64-linux-gnu", prefix: "" },
  { triple: "aarch64-linux-gnu", prefix: "" },
  { triple: "arm64-apple-macosx14.0", prefix: "_" },
  { triple: "x86_64-apple-macosx13.0", prefix: "_" },
] as const;

for (const { triple, prefix } of TARGETS) {
  Deno.test({
    name: `fiber.cpp's context switch assembles for ${triple}${NO_CLANG}`,
    ignore: CLANG === null,
    fn() {
      const dir = Deno.makeTempDirSync({ prefix: "fiber_switch_" });
      try {
        Deno.writeTextFileSync(`${dir}/switch.cpp`, contextSwitchSection());
        const output = runTool(CLANG!, [
          "-target",
          triple,
          "-x",
          "c++",
          "-c",
          `${dir}/switch.cpp`,
          "-o",
          `${dir}/switch.o`,
        ]);
        assert.ok(output?.success, `does not assemble for ${triple}:\n${text(output!.stderr)}`);
        if (NM === null) return; // assembled; the symbol names are checked where llvm-nm exists
        const symbols = text(runTool(NM, [`${dir}/switch.o`])!.stdout);
        for (const name of ["mbcpu_fiber_switch", "mbcpu_fiber_trampoline"]) {
          assert.match(symbols, new RegExp(String.raw`\bT ${prefix}${name}$`, "m"), symbols);
        }
      } finally {
        Deno.removeSync(dir, { recursive: true });
      }
    },
  });
}

const CROSS_HEADERS = "/usr/aarch64-linux-gnu/include";
const HAS_CROSS = (() => {
  try {
    return Deno.statSync(`${CROSS_HEADERS}/c++`).isDirectory;
  } catch {
    return false;
  }
})();
const NO_CROSS = NO_CLANG ||
  (HAS_CROSS ? "" : ` (skipped: no ${CROSS_HEADERS}/c++; apt-get install ` +
    "libc6-dev-arm64-cross libstdc++-12-dev-arm64-cross)");

Deno.test({
  name: `the CPU backend's sources type-check for aarch64-linux-gnu${NO_CROSS}`,
  ignore: NO_CROSS !== "",
  async fn() {
    const sources = [...Deno.readDirSync(CPU_DIR)]
      .filter((entry) => entry.isFile && entry.name.endsWith(".cpp"))
      .map((entry) => entry.name)
      .sort();
    assert.ok(sources.includes("fiber.cpp") && sources.includes("checked.cpp"));
    const problems: string[] = [];
    // Two at a time: the machine's cores are shared.
    for (let i = 0; i < sources.length; i += 2) {
      await Promise.all(
        sources.slice(i, i + 2).map(async (name) => {
          const output = await new Deno.Command(CLANG!, {
            args: [
              "--target=aarch64-linux-gnu",
              "--driver-mode=g++",
              "-std=c++17", // as ffi/library.ts builds the bridge
              "-fsyntax-only",
              `${CPU_DIR}/${name}`,
            ],
            stdout: "piped",
            stderr: "piped",
          }).output();
          if (!output.success) problems.push(`${name}:\n${text(output.stderr)}`);
        }),
      );
    }
    assert.deepEqual(problems, [], problems.join("\n"));
  },
});

const QEMU = findTool(["qemu-aarch64"]);
const NATIVE_ARCH = Deno.build.arch === "aarch64" ? "aarch64" : "x86_64";

/** Builds tests/native/fiber_check.cpp with fiber.cpp for `triple`; returns the binary's path. */
function buildFiberCheck(triple: string, dir: string): string {
  const binary = `${dir}/fiber_check`;
  const output = runTool(CLANG!, [
    `--target=${triple}`,
    "--driver-mode=g++",
    "-std=c++17", // as ffi/library.ts builds the bridge
    "-O2",
    `-I${CPU_DIR}`,
    `${ROOT}tests/native/fiber_check.cpp`,
    `${CPU_DIR}/fiber.cpp`,
    "-o",
    binary,
  ]);
  assert.ok(
    output?.success,
    `cannot build the fiber check for ${triple}:\n${text(output!.stderr)}`,
  );
  return binary;
}

Deno.test({
  name: `fibers switch correctly on this machine (${NATIVE_ARCH})${NO_CLANG}`,
  ignore: CLANG === null || Deno.build.os !== "linux",
  fn() {
    const dir = Deno.makeTempDirSync({ prefix: "fiber_check_" });
    try {
      const binary = buildFiberCheck(`${NATIVE_ARCH}-linux-gnu`, dir);
      const output = runTool(binary, [])!;
      assert.ok(output.success, text(output.stdout) + text(output.stderr));
      assert.match(text(output.stdout), /-> ok$/m);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

const NO_QEMU = NO_CROSS ||
  (QEMU === null
    ? " (skipped: no qemu-aarch64; apt-get install qemu-user binutils-aarch64-linux-gnu)"
    : "");

Deno.test({
  name: `fibers switch correctly on aarch64 (under qemu-aarch64)${NO_QEMU}`,
  ignore: NO_QEMU !== "" || NATIVE_ARCH === "aarch64",
  fn() {
    const dir = Deno.makeTempDirSync({ prefix: "fiber_check_" });
    try {
      const binary = buildFiberCheck("aarch64-linux-gnu", dir);
      const output = runTool(QEMU!, ["-L", "/usr/aarch64-linux-gnu", binary])!;
      assert.ok(output.success, text(output.stdout) + text(output.stderr));
      assert.match(text(output.stdout), /-> ok$/m);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
