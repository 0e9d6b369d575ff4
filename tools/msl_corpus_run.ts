// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Runs a handful of simple public kernels (candle's affine, unary and binary; MLX's all-reduce,
 * unary and binary) on the CPU backend against references computed here in f64, and prints the
 * largest errors.
 * The kernels are read from the given checkouts (or bare git mirrors) at run time and registered
 * unmodified except for inlining project-local includes; nothing of them is in this repository.
 *
 * Run:
 * ```sh
 * deno task msl-corpus-run candle=/path/to/candle.git mlx=/path/to/mlx.git [--quick] [--write]
 * ```
 * `--quick` builds the kernel modules at -O0, as `msl_corpus.ts --quick` does (MLX's unary and
 * binary files hold thousands of kernels, one module each).
 *
 * @module
 */
import { writeSection } from "../bench/_results.ts";
import { quickEnvironment } from "./msl_corpus.ts";

const decoder = new TextDecoder();

/** A bare git mirror read at HEAD (or a checkout) into a temporary directory. */
function checkout(path: string, sub: string): { root: string; commit: string } {
  const isBare = (() => {
    try {
      return Deno.statSync(`${path}/objects`).isDirectory;
    } catch {
      return false;
    }
  })();
  if (!isBare) return { root: path, commit: "?" };
  const root = Deno.makeTempDirSync({ prefix: "msl_corpus_run_" });
  const out = new Deno.Command("sh", {
    args: ["-c", `git --git-dir="$1" archive HEAD "$3" | tar -x -C "$2"`, "sh", path, root, sub],
  }).outputSync();
  if (!out.success) throw new Error(`Cannot extract ${path}: ${decoder.decode(out.stderr)}`);
  const rev = new Deno.Command("git", { args: ["--git-dir", path, "rev-parse", "HEAD"] })
    .outputSync();
  return { root, commit: decoder.decode(rev.stdout).trim() };
}

/** The file with `#include "x"` inlined (searched next to the file, then in its parents). */
function inline(path: string, root: string, seen = new Set<string>()): string {
  const dir = path.slice(0, path.lastIndexOf("/"));
  return Deno.readTextFileSync(path).split("\n").map((line) => {
    const m = /^\s*#\s*include\s*"([^"]+)"/.exec(line);
    if (!m) return line;
    for (let d = dir; d.startsWith(root); d = d.slice(0, d.lastIndexOf("/"))) {
      try {
        const real = Deno.realPathSync(`${d}/${m[1]}`);
        if (seen.has(real)) return "";
        seen.add(real);
        return inline(real, root, seen);
      } catch { /* next folder */ }
    }
    return line;
  }).join("\n");
}

interface Check {
  project: string;
  kernel: string;
  n: number;
  maxAbs: number;
  maxRel: number;
}

function errors(actual: ArrayLike<number>, expected: number[]): { maxAbs: number; maxRel: number } {
  let maxAbs = 0, maxRel = 0;
  for (let i = 0; i < expected.length; ++i) {
    const e = Math.abs(actual[i] - expected[i]);
    maxAbs = Math.max(maxAbs, e);
    maxRel = Math.max(maxRel, e / Math.max(Math.abs(expected[i]), 1e-30));
  }
  return { maxAbs, maxRel };
}

async function main(args: string[]): Promise<void> {
  const write = args.includes("--write");
  const specs = Object.fromEntries(
    args.filter((a) => a.includes("=")).map((a) => a.split("=") as [string, string]),
  );
  if (!specs.candle || !specs.mlx) {
    console.error("Usage: msl_corpus_run.ts candle=PATH mlx=PATH [--write]");
    Deno.exit(2);
  }
  const candle = checkout(specs.candle, "candle-metal-kernels/src/metal_src");
  const mlx = checkout(specs.mlx, "mlx/backend/metal/kernels");
  const candleDir = `${candle.root}/candle-metal-kernels/src/metal_src`;
  if (args.includes("--quick")) {
    for (const [name, value] of Object.entries(quickEnvironment())) Deno.env.set(name, value);
  }
  // Imported after --quick has set the compiler and cache the bridge reads when it loads.
  const { Device } = await import("../device.ts");
  const { KernelRegistry } = await import("../registry.ts");
  const device = Device.openSync({ backend: "cpu", compileTimeLimit: 0, compileMemoryLimit: 0 });
  const registry = new KernelRegistry();
  const checks: Check[] = [];
  const failures: string[] = [];
  const n = 1000;
  const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 3);
  const y = Float32Array.from({ length: n }, (_, i) => Math.cos(i * 0.11) + 1.5);
  const dim = new BigUint64Array([BigInt(n)]);

  async function run(
    text: string,
    file: string,
    kernel: string,
    inputs: ArrayBufferView[],
    outBytes: number,
    grid: { threads?: number; groups?: [number, number, number]; group: number },
    outIndex = inputs.length,
  ): Promise<Float32Array> {
    registry.registerSource(kernel, text, file);
    const pipeline = await registry.getPipeline(kernel, device);
    const buffers = inputs.map((b) => device.newBuffer(b));
    buffers.splice(outIndex, 0, device.newBuffer(outBytes));
    using commands = device.newCommandBuffer();
    const encoder = commands.computeEncoder();
    encoder.setPipeline(pipeline);
    buffers.forEach((b, i) => encoder.setBuffer(b, i));
    if (grid.groups) encoder.dispatchThreadgroups(grid.groups, [grid.group, 1, 1]);
    else encoder.dispatchThreads([grid.threads!], [grid.group]);
    encoder.end();
    commands.commit();
    await commands.completed();
    const out = new Float32Array(buffers[outIndex].contents.slice(0));
    for (const b of buffers) b.close();
    return out;
  }

  // candle: contiguous kernels take (dim, inputs..., output); each thread covers
  // ceil(dim / W) apart, W = 8 / sizeof(T) = 2 for f32, so ceil(dim / 2) threads.
  const threads = Math.ceil(n / 2);
  const affine = inline(`${candleDir}/affine.metal`, candle.root);
  const mul = new Float32Array([1.5]), add = new Float32Array([-0.25]);
  const a = await run(affine, "affine.metal", "affine_f32", [dim, mul, add, x], n * 4, {
    threads,
    group: 64,
  });
  checks.push({
    project: "candle",
    kernel: "affine_f32",
    n,
    ...errors(a, [...x].map((v) => v * 1.5 - 0.25)),
  });

  const unary = inline(`${candleDir}/unary.metal`, candle.root);
  const erf = (v: number) => {
    // Series for |v| < 3, asymptotic 1 beyond (f64 reference).
    if (Math.abs(v) > 5) return Math.sign(v);
    let sum = 0, term = v;
    for (let k = 0; k < 200; ++k) {
      sum += term / (2 * k + 1);
      term *= -v * v / (k + 1);
    }
    return 2 / Math.sqrt(Math.PI) * sum;
  };
  const unaryRefs: Record<string, (v: number) => number> = {
    "sqrt_f32": (v) => Math.sqrt(Math.abs(v)),
    "gelu_erf_f32": (v) => 0.5 * v * (1 + erf(v / Math.SQRT2)),
  };
  for (const [kernel, ref] of Object.entries(unaryRefs)) {
    const input = kernel === "sqrt_f32" ? x.map(Math.abs) : x;
    const out = await run(unary, "unary.metal", kernel, [dim, input], n * 4, {
      threads,
      group: 64,
    });
    checks.push({ project: "candle", kernel, n, ...errors(out, [...x].map(ref)) });
  }

  const binary = inline(`${candleDir}/binary.metal`, candle.root);
  const binaryRefs: Record<string, (p: number, q: number) => number> = {
    "badd_f32": (p, q) => p + q,
    "bmul_f32": (p, q) => p * q,
    "bdiv_f32": (p, q) => p / q,
  };
  for (const [kernel, ref] of Object.entries(binaryRefs)) {
    const out = await run(binary, "binary.metal", kernel, [dim, x, y], n * 4, {
      threads,
      group: 64,
    });
    checks.push({
      project: "candle",
      kernel,
      n,
      ...errors(out, [...x].map((v, i) => ref(v, y[i]))),
    });
  }

  // MLX: all_reduce(in, out, in_size, row_size): one threadgroup per row writes out[row].
  const reduce = inline(`${mlx.root}/mlx/backend/metal/kernels/reduce.metal`, mlx.root);
  const size = new BigUint64Array([BigInt(n)]);
  const sumRef = [...x].reduce((s, v) => s + v, 0);
  try {
    const reduced = await runReduce(reduce);
    checks.push({
      project: "mlx",
      kernel: "all_reduce_sumfloat32",
      n,
      ...errors(reduced, [sumRef]),
    });
  } catch (error) {
    // Reported, not hidden: the table says the kernel did not build and why.
    failures.push(
      `mlx all_reduce_sumfloat32: ${
        String((error as Error).message).split("\n").slice(0, 2).join(" ")
      }`,
    );
  }

  // MLX: v_<Op>float32float32(in, out, size) and vv_<Op>float32(a, b, out, size), one element
  // per thread (the `v_` / `vv_` instantiations do one element each).
  const mlxDir = `${mlx.root}/mlx/backend/metal/kernels`;
  const size32 = new Uint32Array([n]);
  const mlxUnary: Record<string, (v: number) => number> = {
    "v_Expfloat32float32": Math.exp,
    "v_Tanhfloat32float32": Math.tanh,
    "v_Erffloat32float32": erf,
  };
  const mlxBinary: Record<string, (p: number, q: number) => number> = {
    "vv_Addfloat32": (p, q) => p + q,
    "vv_Multiplyfloat32": (p, q) => p * q,
    "vv_Dividefloat32": (p, q) => p / q,
  };
  for (const [file, kernels] of [["unary.metal", mlxUnary], ["binary.metal", mlxBinary]] as const) {
    let text: string;
    try {
      text = inline(`${mlxDir}/${file}`, mlx.root);
    } catch (error) {
      failures.push(`mlx ${file}: ${(error as Error).message}`);
      continue;
    }
    for (const [kernel, ref] of Object.entries(kernels)) {
      const unary = ref.length === 1;
      try {
        const out = await run(text, file, kernel, unary ? [x, size32] : [x, y, size32], n * 4, {
          threads: n,
          group: 64,
        }, unary ? 1 : 2);
        const expected = [...x].map((v, i) =>
          unary ? (ref as (v: number) => number)(v) : ref(v, y[i])
        );
        checks.push({ project: "mlx", kernel, n, ...errors(out, expected) });
      } catch (error) {
        failures.push(
          `mlx ${kernel}: ${String((error as Error).message).split("\n").slice(0, 2).join(" ")}`,
        );
      }
    }
  }

  async function runReduce(text: string): Promise<Float32Array> {
    registry.registerSource("all_reduce_sumfloat32", text, "reduce.metal");
    const pipeline = await registry.getPipeline("all_reduce_sumfloat32", device);
    const buffers = [
      device.newBuffer(x),
      device.newBuffer(4),
      device.newBuffer(size),
      device.newBuffer(size),
    ];
    using commands = device.newCommandBuffer();
    const encoder = commands.computeEncoder();
    encoder.setPipeline(pipeline);
    buffers.forEach((b, i) => encoder.setBuffer(b, i));
    encoder.dispatchThreadgroups([1, 1, 1], [256, 1, 1]);
    encoder.end();
    commands.commit();
    await commands.completed();
    const out = new Float32Array(buffers[1].contents.slice(0));
    for (const b of buffers) b.close();
    return out;
  }

  registry.close();
  device.close();
  const body = [
    `candle \`${candle.commit.slice(0, 12)}\`, MLX \`${
      mlx.commit.slice(0, 12)
    }\`; inputs: x[i] = 3 sin(0.37 i), y[i] = cos(0.11 i) + 1.5, n = ${n}; references in f64.`,
    "",
    "| project | kernel | n | max abs error | max rel error |",
    "|---|---|---|---|---|",
    ...checks.map((c) =>
      `| ${c.project} | ${c.kernel} | ${c.n} | ${c.maxAbs.toExponential(2)} | ${
        c.maxRel.toExponential(2)
      } |`
    ),
    ...(failures.length ? ["", "Did not build or run:", "", ...failures.map((f) => `- ${f}`)] : []),
  ].join("\n");
  console.log(body);
  if (write) {
    writeSection(
      "msl-corpus-run",
      "Public kernels run against f64 references (tools/msl_corpus_run.ts)",
      `Command: \`deno task msl-corpus-run ${Deno.args.join(" ")}\`\n\n${body}`,
    );
  }
}

if (import.meta.main) await main([...Deno.args]);
