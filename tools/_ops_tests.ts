// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Runs the numeric op tests (`tests/ops/`) in a child `deno test` and reads back what each
 * test case did, from a JUnit report. A test names the kernels it verifies before its first
 * ": " (`"softmax_f32: softmax() matches the f64 reference"`, or several: `"a_f32, b_f32: ..."`).
 * Shared by `deno task catalog` and `deno task metal-report`.
 *
 * @module
 */

/** One test case of the run. */
export interface OpsTestCase {
  /** The test's name. */
  name: string;
  /** The kernel names its name starts with (empty for tests that name none). */
  kernels: string[];
  /** True when it passed. */
  passed: boolean;
  /** True when it was skipped (ignored). */
  skipped: boolean;
  /** The failure text, when it failed. */
  failure?: string;
}

/** What {@linkcode runOpsTests} found. */
export interface OpsTestRun {
  /** True when `deno test` exited with success. */
  success: boolean;
  /** Every test case in the report. */
  cases: OpsTestCase[];
}

function decode(text: string): string {
  return text.replaceAll("&quot;", '"').replaceAll("&apos;", "'").replaceAll("&lt;", "<")
    .replaceAll("&gt;", ">").replaceAll("&amp;", "&");
}

/**
 * Runs `deno test --allow-all tests/ops/` with `env` added to this process's environment.
 *
 * @param env Extra environment, e.g. `{ METAL_COMPUTE_TEST_BACKEND: "cpu" }`.
 * @returns The test cases from the run's JUnit report.
 */
export async function runOpsTests(env: Record<string, string> = {}): Promise<OpsTestRun> {
  const report = await Deno.makeTempFile({ suffix: ".xml" });
  try {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["test", "--allow-all", `--junit-path=${report}`, "tests/ops/"],
      env,
      stdout: "null",
      stderr: "null",
    }).output();
    const xml = await Deno.readTextFile(report);
    const cases: OpsTestCase[] = [];
    // A <testcase .../> (self-closed) passed; one with a body has <failure> or <skipped>.
    for (
      const match of xml.matchAll(/<testcase name="([^"]*)"[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)
    ) {
      const [, rawName, , body] = match;
      const name = decode(rawName);
      const failure = body?.match(
        /<failure[^>]*?(?:message="([^"]*)")?[^>]*>([\s\S]*?)<\/failure>/,
      );
      const skipped = body !== undefined && /<skipped/.test(body);
      const prefix = name.includes(": ") ? name.split(": ")[0] : "";
      cases.push({
        name,
        kernels: prefix
          ? prefix.split(", ").map((k) => k.trim()).filter((k) => /^\w+$/.test(k))
          : [],
        passed: !skipped && (body === undefined || !/<(failure|error)/.test(body)),
        skipped,
        ...failure && { failure: decode(failure[1] ?? failure[2] ?? "").trim() },
      });
    }
    if (!output.success && cases.length === 0) throw new Error("tests/ops/ did not run");
    return { success: output.success, cases };
  } finally {
    await Deno.remove(report);
  }
}
