// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `deno task metal-report`: one Markdown file that answers what a first run on a machine
 * needs to know, for every backend the machine has (Metal on macOS, the CPU backend wherever
 * clang runs): the device (name, GPU families, limits), the bridge's build log, every
 * catalogue kernel compiled into a pipeline (where its code came from, its limits, how long it
 * took), every numeric op test run against its f64 reference with the largest error per kernel
 * on each backend side by side, and the device time of the checked dispatches
 * (`CommandBuffer.gpuStartTime`/`gpuEndTime`).
 *
 * The numeric part runs `tests/ops/` once per backend with `METAL_COMPUTE_REPORT_LOG` set, so
 * its shapes, op helpers and references are the tests' own; each checked output is logged by
 * `tests/ops/_helpers.ts` `assertClose`.
 *
 * @module
 */
import { Device, KernelRegistry } from "../mod.ts";
import type { Backend } from "../backend.ts";
import { bridgeBuildLog } from "../ffi/library.ts";
import { KERNELS } from "../shaders/catalog.ts";
import { parseCli } from "./_cli.ts";
import { type OpsTestRun, runOpsTests } from "./_ops_tests.ts";

/** One line of `METAL_COMPUTE_REPORT_LOG`, written by `assertClose` in `tests/ops/_helpers.ts`. */
interface CheckLine {
  label: string;
  elements: number;
  failures: number;
  maxAbsoluteError: number;
  maxRelativeError: number;
  rtol: number;
  atol: number;
  gpuMs?: number;
  wallMs?: number;
  /** The kernel whose dispatch wrote the checked output, when the test used `run()`. */
  kernel?: string;
}

/** What one backend gave. */
interface BackendResult {
  backend: Backend;
  available: boolean;
  why?: string;
  device?: {
    name: string;
    capabilities: Record<string, boolean>;
    maxThreadsPerThreadgroup: number;
    maxThreadgroupMemoryLength: number;
    info: Record<string, string>;
  };
  build?: { command: string; success: boolean; log: string; ms: number };
  pipelines: PipelineRow[];
  tests?: OpsTestRun;
  checks: CheckLine[];
  testMs?: number;
}

interface PipelineRow {
  name: string;
  file: string;
  ok: boolean;
  origin?: string;
  ms: number;
  maxThreads?: number;
  executionWidth?: number;
  staticThreadgroupMemory?: number;
  problem?: string;
}

const { values } = parseCli({
  usage:
    "deno task metal-report [--output PATH] [--backend cpu|metal] [--skip-build] [--skip-tests]",
  summary: "Writes one Markdown report of this machine's backends: device and GPU families, the\n" +
    "bridge build log, every catalogue kernel compiled, every numeric op test against its f64\n" +
    "reference with the largest error per kernel on each backend, and device timings.\n" +
    "Attach the file to an issue.",
  options: {
    output: { type: "string", value: "PATH", description: "where to write (metal-report.md)" },
    backend: { type: "string", value: "NAME", description: "only this backend (cpu or metal)" },
    "skip-build": {
      type: "boolean",
      description: "leave out the bridge build log (a full rebuild of the bridge)",
    },
    "skip-tests": { type: "boolean", description: "leave out the numeric op tests (fast)" },
  },
});
const output = values.output ?? "metal-report.md";
if (values.backend !== undefined && values.backend !== "cpu" && values.backend !== "metal") {
  console.error(`Unknown backend "${values.backend}": expected "cpu" or "metal"`);
  Deno.exit(2);
}
const backends: Backend[] = values.backend ? [values.backend as Backend] : ["metal", "cpu"];

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0];
}

async function examine(backend: Backend): Promise<BackendResult> {
  const result: BackendResult = { backend, available: false, pipelines: [], checks: [] };
  if (backend === "metal" && Deno.build.os !== "darwin") {
    result.why = `Metal needs macOS; this machine runs ${Deno.build.os} (${Deno.build.arch})`;
    return result;
  }
  if (!values["skip-build"]) {
    console.error(`${backend}: building the bridge`);
    const started = performance.now();
    const build = bridgeBuildLog(backend);
    result.build = { ...build, ms: performance.now() - started };
  }
  let device: Device;
  try {
    device = Device.openSync({ backend });
  } catch (error) {
    result.why = `the ${backend} backend did not open: ${firstLine(error)}`;
    return result;
  }
  result.available = true;
  try {
    result.device = {
      name: device.name,
      capabilities: { ...device.capabilities },
      maxThreadsPerThreadgroup: device.maxThreadsPerThreadgroup,
      maxThreadgroupMemoryLength: device.maxThreadgroupMemoryLength,
      info: device.info,
    };
    console.error(`${backend}: compiling ${Object.keys(KERNELS).length} catalogue kernels`);
    using registry = new KernelRegistry();
    for (const [name, entry] of Object.entries(KERNELS)) {
      const begin = performance.now();
      try {
        const pipeline = await registry.getPipeline(name, device, entry.constants);
        result.pipelines.push({
          name,
          file: entry.file,
          ok: true,
          origin: pipeline.origin,
          ms: performance.now() - begin,
          maxThreads: pipeline.maxTotalThreadsPerThreadgroup,
          executionWidth: pipeline.threadExecutionWidth,
          staticThreadgroupMemory: pipeline.staticThreadgroupMemoryLength,
        });
      } catch (error) {
        result.pipelines.push({
          name,
          file: entry.file,
          ok: false,
          ms: performance.now() - begin,
          problem: firstLine(error),
        });
      }
    }
  } finally {
    device.close();
  }
  if (!values["skip-tests"]) {
    console.error(`${backend}: running tests/ops/ against the f64 references`);
    const log = await Deno.makeTempFile({ prefix: "metal_report_", suffix: ".jsonl" });
    try {
      const begin = performance.now();
      result.tests = await runOpsTests({
        METAL_COMPUTE_TEST_BACKEND: backend,
        METAL_COMPUTE_REPORT_LOG: log,
      });
      result.testMs = performance.now() - begin;
      result.checks = (await Deno.readTextFile(log)).split("\n").filter((l) => l.trim())
        .map((l) => JSON.parse(l) as CheckLine);
    } finally {
      await Deno.remove(log);
    }
  }
  return result;
}

/**
 * The kernel a check verifies: the last pipeline its command buffer ran, else the label's first
 * word when that is a catalogue name (`"softmax_f32 [3, 33]"`), else "(unattributed)".
 */
function kernelOf(check: CheckLine): string {
  if (check.kernel) return check.kernel;
  const first = check.label.split(/[\s:]/)[0];
  return first in KERNELS ? first : "(unattributed)";
}

function format(value: number | undefined, digits = 2): string {
  if (value === undefined || !Number.isFinite(value)) return "–";
  if (value !== 0 && (Math.abs(value) < 1e-3 || Math.abs(value) >= 1e5)) {
    return value.toExponential(digits);
  }
  return value.toFixed(digits);
}

function cell(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll("\n", " ");
}

interface KernelSummary {
  checks: number;
  failures: number;
  maxRelative: number;
  maxAbsolute: number;
  gpuMs: number;
  wallMs: number;
  timed: boolean;
}

function summarise(checks: CheckLine[]): Map<string, KernelSummary> {
  const byKernel = new Map<string, KernelSummary>();
  for (const check of checks) {
    const name = kernelOf(check);
    const s = byKernel.get(name) ??
      { checks: 0, failures: 0, maxRelative: 0, maxAbsolute: 0, gpuMs: 0, wallMs: 0, timed: false };
    s.checks++;
    if (check.failures > 0) s.failures++;
    s.maxRelative = Math.max(s.maxRelative, check.maxRelativeError);
    s.maxAbsolute = Math.max(s.maxAbsolute, check.maxAbsoluteError);
    if (check.gpuMs !== undefined) {
      s.gpuMs += check.gpuMs;
      s.timed = true;
    }
    s.wallMs += check.wallMs ?? 0;
    byKernel.set(name, s);
  }
  return byKernel;
}

function render(results: BackendResult[]): string {
  const lines: string[] = [];
  const push = (...more: string[]) => lines.push(...more);
  const available = results.filter((r) => r.available);
  push(
    "# @metal-compute/kernels — machine report",
    "",
    `Written ${
      new Date().toISOString()
    } by \`deno task metal-report\`. Deno ${Deno.version.deno}, ` +
      `${Deno.build.os} ${Deno.build.arch}${
        Deno.build.os === "darwin" ? ` (macOS ${Deno.osRelease()} kernel)` : ""
      }, ${navigator.hardwareConcurrency} logical CPUs.`,
    "",
    "## Backends",
    "",
    "| backend | available | device | why not |",
    "| --- | --- | --- | --- |",
    ...results.map((r) =>
      `| ${r.backend} | ${r.available ? "yes" : "**no**"} | ${cell(r.device?.name ?? "")} | ${
        cell(r.why ?? "")
      } |`
    ),
    "",
  );
  for (const r of results.filter((r) => r.device)) {
    const d = r.device!;
    push(
      `## Device: ${r.backend} — ${d.name}`,
      "",
      `Capabilities: ${
        Object.entries(d.capabilities).map(([k, v]) => `${k} ${v ? "yes" : "no"}`).join(", ")
      }. Max threads per threadgroup ${d.maxThreadsPerThreadgroup}, max threadgroup memory ${d.maxThreadgroupMemoryLength} bytes.`,
      "",
      "| property | value |",
      "| --- | --- |",
      ...Object.entries(d.info).map(([k, v]) => `| ${cell(k)} | ${cell(v)} |`),
      "",
    );
  }
  for (const r of results.filter((r) => r.build)) {
    const b = r.build!;
    push(
      `## Bridge build: ${r.backend} (${b.success ? "ok" : "**failed**"}, ${
        format(b.ms / 1000, 1)
      } s)`,
      "",
      "```text",
      `$ ${b.command}`,
      b.log.trim() || "(no compiler output)",
      "```",
      "",
    );
  }
  if (available.length > 0) {
    const names = Object.keys(KERNELS);
    push(
      "## Catalogue kernels: pipelines",
      "",
      "Each kernel compiled into a pipeline on each backend (origin: compiled now, or read from the",
      "persistent cache; time includes the library compile for the first kernel of a file).",
      "",
      `| kernel | file | ${
        available.map((r) => `${r.backend}: origin, ms, max threads, width, static tg`).join(" | ")
      } |`,
      `| --- | --- | ${available.map(() => "---").join(" | ")} |`,
    );
    for (const name of names) {
      const cols = available.map((r) => {
        const p = r.pipelines.find((p) => p.name === name);
        if (!p) return "–";
        if (!p.ok) return `**failed**: ${cell(p.problem ?? "")}`;
        return `${p.origin}, ${
          format(p.ms, 0)
        }, ${p.maxThreads}, ${p.executionWidth}, ${p.staticThreadgroupMemory}`;
      });
      push(`| ${name} | ${KERNELS[name as keyof typeof KERNELS].file} | ${cols.join(" | ")} |`);
    }
    const failed = available.flatMap((r) => r.pipelines.filter((p) => !p.ok));
    push("", `${failed.length} pipeline(s) failed.`, "");
  }
  const tested = available.filter((r) => r.tests);
  if (tested.length > 0) {
    const summaries = new Map(tested.map((r) => [r.backend, summarise(r.checks)]));
    const kernels = [...new Set(tested.flatMap((r) => [...summaries.get(r.backend)!.keys()]))]
      .sort();
    push(
      "## Numeric checks against the f64 references (tests/ops/)",
      "",
      "Per kernel and backend: checks run (outputs compared), checks out of tolerance, the largest",
      "relative and absolute error over all of them, and the summed device time of the checked",
      "command buffers (gpuEndTime − gpuStartTime; host wall time in brackets).",
      "",
      `| kernel | ${
        tested.map((r) => `${r.backend}: checks, failed, max rel, max abs, device ms`).join(" | ")
      } |`,
      `| --- | ${tested.map(() => "---").join(" | ")} |`,
    );
    for (const kernel of kernels) {
      const cols = tested.map((r) => {
        const s = summaries.get(r.backend)!.get(kernel);
        if (!s) return "–";
        return `${s.checks}, ${s.failures ? `**${s.failures}**` : 0}, ${
          format(s.maxRelative, 2)
        }, ${format(s.maxAbsolute, 2)}, ${s.timed ? format(s.gpuMs, 2) : "–"} (${
          format(s.wallMs, 1)
        })`;
      });
      push(`| ${kernel} | ${cols.join(" | ")} |`);
    }
    push("");
    for (const r of tested) {
      const cases = r.tests!.cases;
      const failed = cases.filter((c) => !c.passed && !c.skipped);
      const skipped = cases.filter((c) => c.skipped);
      const verified = new Set(cases.filter((c) => c.passed).flatMap((c) => c.kernels));
      const unverified = Object.keys(KERNELS).filter((k) => !verified.has(k));
      push(
        `### tests/ops/ on ${r.backend}: ${
          cases.length - failed.length - skipped.length
        } passed, ` +
          `${failed.length} failed, ${skipped.length} skipped (${
            format((r.testMs ?? 0) / 1000, 1)
          } s)`,
        "",
        `Catalogue kernels with no passing numeric test on ${r.backend}: ${
          unverified.length ? unverified.join(", ") : "none"
        }.`,
        "",
        ...failed.flatMap((
          c,
        ) => [
          `- **${cell(c.name)}**`,
          "",
          "  ```text",
          `  ${(c.failure ?? "").slice(0, 2000).replaceAll("\n", "\n  ")}`,
          "  ```",
          "",
        ]),
        ...skipped.map((c) => `- skipped: ${cell(c.name)}`),
        "",
      );
    }
  }
  return lines.join("\n") + "\n";
}

const results: BackendResult[] = [];
for (const backend of backends) results.push(await examine(backend));
await Deno.writeTextFile(output, render(results));
for (const r of results) {
  console.error(`${r.backend}: ${r.available ? r.device?.name : `not available (${r.why})`}`);
}
console.log(`wrote ${output}`);
