// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Type-checks the Objective-C Metal bridge (`metal_bridge/metal_bridge.m`) on any machine
 * with clang: against the declaration-only SDK in `metal_bridge/apple_sdk/` everywhere, once
 * per simulated SDK (macOS 14, 15 and 26: `MB_APPLE_SDK_VERSION`, see
 * `apple_sdk/Availability.h`), and against the real macOS SDK on a Mac. Scratch copies with a
 * deliberate mistake prove the check rejects what it should: a misspelt selector, a macOS 15
 * API used without `@available`, and a name from the macOS 26 SDK built with the macOS 15 SDK.
 *
 * @module
 */
import assert from "node:assert/strict";
import { runTool } from "./_helpers.ts";

const ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);
const BRIDGE = `${ROOT}metal_bridge/metal_bridge.m`;
const HEADER = `${ROOT}metal_bridge/metal_bridge.h`;
const CONTRACT = `${ROOT}metal_bridge/common/contract.h`;
const APPLE_SDK = `${ROOT}metal_bridge/apple_sdk`;

/** Flags of the type check; the same list is in the comment at the top of metal_bridge.m. */
const CHECK_FLAGS = [
  "-target",
  "arm64-apple-macosx13.0",
  "-fsyntax-only",
  "-fobjc-arc",
  "-fobjc-arc-exceptions",
  "-fblocks",
  "-ffreestanding",
  "-nostdinc",
];
const WARNING_FLAGS = ["-Wall", "-Wextra", "-Wno-unused-parameter", "-Werror"];

/** The first clang that runs: `$CLANG`, then `clang-19`, then `clang`. */
function findClang(): string | null {
  const fromEnv = Deno.env.get("CLANG");
  const candidates = fromEnv ? [fromEnv, "clang-19", "clang"] : ["clang-19", "clang"];
  for (const candidate of candidates) {
    if (runTool(candidate, ["--version"])?.success) return candidate;
  }
  return null;
}

const CLANG = findClang();
const IS_MAC = Deno.build.os === "darwin";

function text(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

/** The SDK versions the stand-in headers simulate (`MB_APPLE_SDK_VERSION`). */
const SDK_VERSIONS = [14, 15, 26] as const;
type SdkVersion = typeof SDK_VERSIONS[number];

/**
 * Runs the type check on `source` (metal_bridge.m or a copy next to a copy of the header)
 * against the stand-in headers simulating the macOS `sdk` SDK.
 */
function typeCheck(source: string, sdk: SdkVersion): Deno.CommandOutput {
  assert.ok(CLANG);
  const resourceDir = runTool(CLANG, ["-print-resource-dir"]);
  assert.ok(resourceDir?.success, "clang -print-resource-dir failed");
  const include = `${text(resourceDir.stdout).trim()}/include`;
  const output = runTool(CLANG, [
    ...CHECK_FLAGS,
    "-isystem",
    include,
    "-isystem",
    APPLE_SDK,
    `-DMB_APPLE_SDK_VERSION=${sdk}`,
    ...WARNING_FLAGS,
    source,
  ]);
  assert.ok(output, `cannot run ${CLANG}`);
  return output;
}

/** Type-checks a scratch copy of the bridge with `from` replaced by `to`. */
async function typeCheckEdited(
  from: string | RegExp,
  to: string,
  sdk: SdkVersion,
): Promise<Deno.CommandOutput> {
  const original = await Deno.readTextFile(BRIDGE);
  const edited = original.replace(from, to);
  assert.notEqual(edited, original, `the bridge no longer contains ${from}: update this test`);
  const dir = await Deno.makeTempDir({ prefix: "bridge_typecheck_" });
  try {
    await Deno.copyFile(HEADER, `${dir}/metal_bridge.h`);
    await Deno.mkdir(`${dir}/common`);
    await Deno.copyFile(CONTRACT, `${dir}/common/contract.h`);
    await Deno.writeTextFile(`${dir}/metal_bridge.m`, edited);
    return typeCheck(`${dir}/metal_bridge.m`, sdk);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const NO_CLANG = CLANG === null;
const SKIP = NO_CLANG ? " (skipped: no clang; set CLANG or install clang-19)" : "";

for (const sdk of SDK_VERSIONS) {
  Deno.test({
    name: `metal_bridge.m type-checks against apple_sdk/ as the macOS ${sdk} SDK${SKIP}`,
    ignore: NO_CLANG,
    fn() {
      const output = typeCheck(BRIDGE, sdk);
      assert.ok(
        output.success,
        `metal_bridge.m does not type-check with the macOS ${sdk} SDK:\n${text(output.stderr)}${
          text(output.stdout)
        }`,
      );
    },
  });
}

Deno.test({
  name: `the bridge type check rejects a misspelt selector${SKIP}`,
  ignore: NO_CLANG,
  async fn() {
    const output = await typeCheckEdited(
      "setConstantValue:&value type:type atIndex:index",
      "setConstantValue:&value type:type withIndex:index",
      26,
    );
    assert.equal(output.success, false, "a wrong selector type-checked");
    assert.match(text(output.stderr), /setConstantValue:type:withIndex:/);
  },
});

Deno.test({
  name: `the bridge type check rejects a macOS 15 API used without @available${SKIP}`,
  ignore: NO_CLANG,
  async fn() {
    const output = await typeCheckEdited("if (@available(macOS 15.0, *)) {", "if (1) {", 26);
    assert.equal(output.success, false, "an unguarded macOS 15 API type-checked");
    assert.match(text(output.stderr), /only available on macOS 15\.0 or newer/);
  },
});

Deno.test({
  name: `the bridge type check rejects a macOS 26 SDK name built with the macOS 15 SDK${SKIP}`,
  ignore: NO_CLANG,
  async fn() {
    // The mistake the first review found: `@available` guards at run time only, so a name the
    // older SDK does not declare must not appear outside a compile-time SDK guard.
    const from = "supportsFamily:(MTLGPUFamily)5002";
    const to = "supportsFamily:MTLGPUFamilyMetal4";
    const withSdk26 = await typeCheckEdited(from, to, 26);
    assert.ok(withSdk26.success, `the edit itself is wrong:\n${text(withSdk26.stderr)}`);
    const withSdk15 = await typeCheckEdited(from, to, 15);
    assert.equal(withSdk15.success, false, "a macOS 26 SDK name type-checked with the 15 SDK");
    assert.match(text(withSdk15.stderr), /undeclared identifier 'MTLGPUFamilyMetal4'/);
  },
});

Deno.test({
  name: `metal_bridge.m type-checks against the real macOS SDK${
    IS_MAC ? "" : " (skipped: not macOS)"
  }`,
  ignore: !IS_MAC,
  fn() {
    // The real SDK checks what the stand-in headers cannot: that they match Apple's.
    const output = runTool("xcrun", [
      "clang",
      "-fsyntax-only",
      "-fobjc-arc",
      "-fobjc-arc-exceptions",
      "-mmacosx-version-min=13.0",
      ...WARNING_FLAGS,
      BRIDGE,
    ]);
    assert.ok(output, "cannot run xcrun (install the Xcode command line tools)");
    assert.ok(
      output.success,
      `metal_bridge.m does not type-check against the macOS SDK:\n${text(output.stderr)}`,
    );
  },
});
