// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Runs simple public kernels on the CPU backend against references computed here in f64, and
 * prints the largest errors per kernel and element type: candle's affine (contiguous and
 * strided), unary and binary; MLX's unary, binary, all-reduce and row reduce (sum, max),
 * arg-reduce, contiguous and strided copy, softmax, rms_norm and layer_norm. The kernels are read
 * from the given checkouts (or bare git mirrors) at run time and registered unmodified except
 * for inlining project-local includes (as `tools/msl_corpus.ts` does, so the two share compiled
 * libraries); nothing of them is in this repository. The references are this file's own: each
 * computes, in f64, what the kernel is documented to compute, from the inputs as rounded to the
 * kernel's element type.
 *
 * Run:
 * ```sh
 * deno task msl-corpus-run candle=/path/to/candle.git mlx=/path/to/mlx.git [--quick] [--only SUBSTRING,...] [--write]
 * ```
 * `--quick` builds the kernel modules at -O0, as `msl_corpus.ts --quick` does (MLX's unary,
 * binary, copy and reduce files hold thousands of kernels, one module each); MLX is compiled as
 * Metal 4.0, as `msl_corpus.ts --language-version 4.0` measures it. `--only` runs the cases whose
 * kernel name contains one of the comma-separated SUBSTRINGs.
 *
 * @module
 */
import { writeSection } from "../bench/_results.ts";
import { fromDTypeBytes, roundToDType, toDTypeArray } from "../dtype.ts";
import { inline, openProject, quickEnvironment } from "./msl_corpus.ts";

type Float = "f32" | "f16" | "bf16";
type Vec3 = [number, number, number];

/** One kernel run: its buffers by index, its dispatch, and the f64 reference of one output. */
export interface Case {
  project: "candle" | "mlx";
  /** The `.metal` file, relative to the project's kernel folder. */
  file: string;
  kernel: string;
  dtype: string;
  /** What is compared, in a few words (shapes, what the output holds). */
  what: string;
  /** Buffer contents by index; a number is the byte length of a zeroed output; holes stay unbound. */
  buffers: (ArrayBufferView | number | undefined)[];
  /** The index of the buffer compared with `expected`, and its element type. */
  output: number;
  outType: Float | "u32";
  expected: number[];
  threads?: Vec3;
  groups?: Vec3;
  group: Vec3;
  constants?: Record<number, boolean>;
}

/**
 * The largest absolute difference, and the largest relative one over the elements whose
 * |expected| is at least 1e-3 of the largest |expected| (where a sum cancels to nearly zero,
 * the relative error says nothing about the kernel). NaN where a number was expected counts as
 * an infinite error.
 */
export function errors(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
): { maxAbs: number; maxRel: number } {
  if (actual.length < expected.length) {
    throw new RangeError(`${actual.length} results for ${expected.length} expected values`);
  }
  let scale = 0;
  for (let i = 0; i < expected.length; ++i) scale = Math.max(scale, Math.abs(expected[i]));
  const floor = Math.max(scale * 1e-3, 1e-30);
  let maxAbs = 0, maxRel = 0;
  for (let i = 0; i < expected.length; ++i) {
    const e = Math.abs(actual[i] - expected[i]);
    const abs = Number.isNaN(e) ? Infinity : e;
    maxAbs = Math.max(maxAbs, abs);
    if (Math.abs(expected[i]) >= floor) maxRel = Math.max(maxRel, abs / Math.abs(expected[i]));
  }
  return { maxAbs, maxRel };
}

/** erf in f64: its Maclaurin series below |v| = 3, its continued fraction beyond. */
export function erf(v: number): number {
  const a = Math.abs(v);
  if (a < 3) {
    let sum = 0, term = v;
    for (let k = 0; k < 200; ++k) {
      sum += term / (2 * k + 1);
      term *= -v * v / (k + 1);
    }
    return 2 / Math.sqrt(Math.PI) * sum;
  }
  // erfc(a) = exp(-a²)/√π · 1/(a + 1/2/(a + 1/(a + 3/2/(a + ...)))), evaluated from the tail.
  let f = a;
  for (let k = 60; k >= 1; --k) f = a + (k / 2) / f;
  return Math.sign(v) * (1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / f);
}

const X = (i: number) => Math.sin(i * 0.37) * 3;
const Y = (i: number) => Math.cos(i * 0.11) + 1.5;
const W = (i: number) => 0.75 + 0.5 * Math.cos(i * 0.05);
const B = (i: number) => 0.1 * Math.sin(i * 0.07);

/** `count` values of `f` rounded to `dtype` (what the kernel reads). */
function values(dtype: Float, count: number, f: (i: number) => number): number[] {
  return Array.from({ length: count }, (_, i) => roundToDType(dtype, f(i)));
}

const u32 = (v: number) => new Uint32Array([v]);
const i32 = (...v: number[]) => new Int32Array(v);
const i64 = (...v: number[]) => new BigInt64Array(v.map(BigInt));
const u64 = (...v: number[]) => new BigUint64Array(v.map(BigInt));
const f32 = (v: number) => new Float32Array([v]);
const bytes = (dtype: Float | "u32") => dtype === "f32" || dtype === "u32" ? 4 : 2;

function rowsOf(v: number[], rows: number, cols: number): number[][] {
  return Array.from({ length: rows }, (_, r) => v.slice(r * cols, (r + 1) * cols));
}

/** The candle cases: contiguous kernels take (dim, inputs..., output), W = 8 / sizeof(T) apart. */
export function candleCases(): Case[] {
  const cases: Case[] = [];
  const n = 1000;
  const dim = u64(n);
  for (const dtype of ["f32", "f16", "bf16"] as const) {
    const x = values(dtype, n, X), y = values(dtype, n, Y);
    const threads: Vec3 = [Math.ceil(n / (8 / bytes(dtype))), 1, 1];
    const base = {
      project: "candle" as const,
      dtype,
      outType: dtype,
      threads,
      group: [64, 1, 1] as Vec3,
    };
    cases.push({
      ...base,
      file: "affine.metal",
      kernel: `affine_${dtype}`,
      what: `${n} elements, x * 1.5 - 0.25`,
      buffers: [dim, f32(1.5), f32(-0.25), toDTypeArray(dtype, x), n * bytes(dtype)],
      output: 4,
      expected: x.map((v) => v * 1.5 - 0.25),
    });
    const unary: Record<string, (v: number) => number> = {
      sqrt: Math.sqrt,
      "gelu_erf": (v) => 0.5 * v * (1 + erf(v / Math.SQRT2)),
    };
    for (const [op, ref] of Object.entries(unary)) {
      const input = op === "sqrt" ? x.map(Math.abs) : x;
      cases.push({
        ...base,
        file: "unary.metal",
        kernel: `${op}_${dtype}`,
        what: `${n} elements`,
        buffers: [dim, toDTypeArray(dtype, input), n * bytes(dtype)],
        output: 2,
        expected: input.map(ref),
      });
    }
    const binary: Record<string, (p: number, q: number) => number> = {
      badd: (p, q) => p + q,
      bmul: (p, q) => p * q,
      bdiv: (p, q) => p / q,
    };
    for (const [op, ref] of Object.entries(binary)) {
      cases.push({
        ...base,
        file: "binary.metal",
        kernel: `${op}_${dtype}`,
        what: `${n} elements`,
        buffers: [dim, toDTypeArray(dtype, x), toDTypeArray(dtype, y), n * bytes(dtype)],
        output: 3,
        expected: x.map((v, i) => ref(v, y[i])),
      });
    }
  }
  // Strided: a 24 x 40 row-major matrix read as its 40 x 24 transpose (dims [40, 24], strides
  // [1, 40]), one element per thread.
  const [rows, cols] = [24, 40];
  const m = values("f32", rows * cols, X);
  cases.push({
    project: "candle",
    file: "affine.metal",
    kernel: "affine_f32_strided",
    dtype: "f32",
    what: `${rows} x ${cols} read transposed, x * 1.5 - 0.25`,
    buffers: [
      u64(rows * cols),
      u64(2),
      u64(cols, rows),
      u64(1, cols),
      f32(1.5),
      f32(-0.25),
      new Float32Array(m),
      rows * cols * 4,
    ],
    output: 7,
    outType: "f32",
    expected: Array.from(
      { length: rows * cols },
      (_, t) => m[(t % rows) * cols + Math.floor(t / rows)] * 1.5 - 0.25,
    ),
    threads: [rows * cols, 1, 1],
    group: [64, 1, 1],
  });
  return cases;
}

/** The MLX cases (type names as MLX spells them in kernel names). */
export function mlxCases(): Case[] {
  const cases: Case[] = [];
  const name = { f32: "float32", f16: "float16", bf16: "bfloat16" } as const;
  const n = 1000;
  for (const dtype of ["f32", "f16", "bf16"] as const) {
    const t = name[dtype];
    const x = values(dtype, n, X), y = values(dtype, n, Y);
    const base = {
      project: "mlx" as const,
      dtype,
      outType: dtype,
      threads: [n, 1, 1] as Vec3,
      group: [64, 1, 1] as Vec3,
    };
    // v_ / vv_: one element per thread, (inputs..., output, size).
    const unary: Record<string, (v: number) => number> = {
      Exp: Math.exp,
      Tanh: Math.tanh,
      Erf: erf,
    };
    for (const [op, ref] of Object.entries(unary)) {
      cases.push({
        ...base,
        file: "unary.metal",
        kernel: `v_${op}${t}${t}`,
        what: `${n} elements`,
        buffers: [toDTypeArray(dtype, x), n * bytes(dtype), u32(n)],
        output: 1,
        expected: x.map(ref),
      });
    }
    const binary: Record<string, (p: number, q: number) => number> = {
      Add: (p, q) => p + q,
      Multiply: (p, q) => p * q,
      Divide: (p, q) => p / q,
    };
    for (const [op, ref] of Object.entries(binary)) {
      cases.push({
        ...base,
        file: "binary.metal",
        kernel: `vv_${op}${t}`,
        what: `${n} elements`,
        buffers: [toDTypeArray(dtype, x), toDTypeArray(dtype, y), n * bytes(dtype), u32(n)],
        output: 2,
        expected: x.map((v, i) => ref(v, y[i])),
      });
    }
  }

  // Row-wise kernels: 8 rows of 1003 (not a multiple of the 4 reads per thread nor of 32).
  const [rows, cols] = [8, 1003];
  for (const dtype of ["f32", "f16"] as const) {
    const t = name[dtype];
    const x = values(dtype, rows * cols, X);
    const byRow = rowsOf(x, rows, cols);
    // row_reduce_simple(in, out, reduction_size, out_size): one threadgroup per 4 rows.
    for (
      const [op, ref] of [["sum", (r: number[]) => r.reduce((s, v) => s + v, 0)], [
        "max",
        (r: number[]) => Math.max(...r),
      ]] as const
    ) {
      cases.push({
        project: "mlx",
        file: "reduce.metal",
        kernel: `row_reduce_simple_${op}${t}`,
        dtype,
        what: `${rows} rows x ${cols} -> ${rows} ${op}s`,
        buffers: [toDTypeArray(dtype, x), rows * bytes(dtype), u64(cols), i64(rows)],
        output: 1,
        outType: dtype,
        expected: byRow.map(ref),
        groups: [1, rows / 4, 1],
        group: [128, 1, 1],
      });
    }
    // arg_reduce_general(in, out, shape, in_strides, out_strides, ndim, axis_stride, axis_size):
    // one threadgroup per row along y; the first index of the extreme value.
    for (const op of ["argmax", "argmin"] as const) {
      cases.push({
        project: "mlx",
        file: "arg_reduce.metal",
        kernel: `${op}_${t}`,
        dtype,
        what: `${rows} rows x ${cols} -> ${rows} indices`,
        buffers: [
          toDTypeArray(dtype, x),
          rows * 4,
          i32(rows),
          i64(cols),
          i64(1),
          u64(1),
          i64(1),
          u64(cols),
        ],
        output: 1,
        outType: "u32",
        expected: byRow.map((r) => r.indexOf(op === "argmax" ? Math.max(...r) : Math.min(...r))),
        threads: [128, rows, 1],
        group: [128, 1, 1],
      });
    }
    // Softmax, rms_norm and layer_norm: one threadgroup per row, 4 reads per thread.
    const softmax = byRow.flatMap((r) => {
      const top = Math.max(...r);
      const e = r.map((v) => Math.exp(v - top));
      const sum = e.reduce((s, v) => s + v, 0);
      return e.map((v) => v / sum);
    });
    // Threadgroups as MLX's host code sizes them: ceil(cols / reads) threads rounded up to 32.
    const rowGroup = (reads: number, width = cols) => ({
      groups: [rows, 1, 1] as Vec3,
      group: [32 * Math.ceil(Math.ceil(width / reads) / 32), 1, 1] as Vec3,
    });
    for (
      const kernel of [
        `block_softmax_${t}`,
        ...(dtype === "f16" ? [`block_softmax_precise_${t}`] : []),
      ]
    ) {
      cases.push({
        project: "mlx",
        file: "softmax.metal",
        kernel,
        dtype,
        what: `${rows} rows x ${cols}`,
        buffers: [toDTypeArray(dtype, x), rows * cols * bytes(dtype), i32(cols)],
        output: 1,
        outType: dtype,
        expected: softmax,
        ...rowGroup(4),
      });
    }
    const w = values(dtype, cols, W);
    const eps = 1e-5;
    cases.push({
      project: "mlx",
      file: "rms_norm.metal",
      kernel: `rms${t}`,
      dtype,
      what: `${rows} rows x ${cols}, weight, eps 1e-5`,
      buffers: [
        toDTypeArray(dtype, x),
        toDTypeArray(dtype, w),
        rows * cols * bytes(dtype),
        f32(eps),
        u32(cols),
        u32(1),
      ],
      output: 2,
      outType: dtype,
      expected: byRow.flatMap((r) => {
        const scale = 1 / Math.sqrt(r.reduce((s, v) => s + v * v, 0) / cols + Math.fround(eps));
        return r.map((v, i) => v * scale * w[i]);
      }),
      ...rowGroup(4),
    });
    // layer_norm reads 8 per thread, over 1020 columns: with 1003, MLX's own sizing (128
    // threads) leaves threads 126 and 127 past the row, where the kernel's tail loop writes its
    // private array at negative indices (n < 0): undefined behaviour, a fault here.
    const lnCols = 1020;
    const xl = values(dtype, rows * lnCols, X);
    const wl = values(dtype, lnCols, W), bl = values(dtype, lnCols, B);
    cases.push({
      project: "mlx",
      file: "layer_norm.metal",
      kernel: `layer_norm${t}`,
      dtype,
      what: `${rows} rows x ${lnCols}, weight and bias, eps 1e-5`,
      buffers: [
        toDTypeArray(dtype, xl),
        toDTypeArray(dtype, wl),
        toDTypeArray(dtype, bl),
        rows * lnCols * bytes(dtype),
        f32(eps),
        u32(lnCols),
        u32(1),
        u32(1),
      ],
      output: 3,
      outType: dtype,
      expected: rowsOf(xl, rows, lnCols).flatMap((r) => {
        const mean = r.reduce((s, v) => s + v, 0) / lnCols;
        const variance = r.reduce((s, v) => s + (v - mean) ** 2, 0) / lnCols;
        const scale = 1 / Math.sqrt(variance + Math.fround(eps));
        return r.map((v, i) => (v - mean) * scale * wl[i] + bl[i]);
      }),
      ...rowGroup(8, lnCols),
    });
  }

  // all_reduce(in, out, in_size, row_size): one threadgroup reduces the whole row.
  const x = values("f32", n, X);
  cases.push({
    project: "mlx",
    file: "reduce.metal",
    kernel: "all_reduce_sumfloat32",
    dtype: "f32",
    what: `${n} elements -> 1 sum`,
    buffers: [new Float32Array(x), 4, u64(n), u64(n)],
    output: 1,
    outType: "f32",
    expected: [x.reduce((s, v) => s + v, 0)],
    groups: [1, 1, 1],
    group: [256, 1, 1],
  });
  // Copies: contiguous with a cast (f16 -> f32, f32 -> bf16), and strided (g2: a 24 x 40
  // row-major matrix written as its transpose; strides [1, 40] read column-wise).
  for (const [from, to] of [["f16", "f32"], ["f32", "bf16"]] as const) {
    const input = values(from, n, X);
    cases.push({
      project: "mlx",
      file: "copy.metal",
      kernel: `v_copy${name[from]}${name[to]}`,
      dtype: `${from} -> ${to}`,
      what: `${n} elements`,
      buffers: [toDTypeArray(from, input), n * bytes(to), u32(n)],
      output: 1,
      outType: to,
      expected: input,
      threads: [n, 1, 1],
      group: [64, 1, 1],
    });
  }
  const [r, c] = [24, 40];
  const m = values("f32", r * c, X);
  cases.push({
    project: "mlx",
    file: "copy.metal",
    kernel: "g2_copyfloat32float32",
    dtype: "f32",
    what: `${r} x ${c} transposed (strides [1, ${c}])`,
    buffers: [new Float32Array(m), r * c * 4, undefined, i64(1, c)],
    output: 1,
    outType: "f32",
    expected: Array.from({ length: r * c }, (_, i) => m[(i % r) * c + Math.floor(i / r)]),
    threads: [r, c, 1],
    group: [8, 8, 1],
  });
  return cases;
}

interface Outcome {
  c: Case;
  maxAbs: number;
  maxRel: number;
}

async function main(args: string[]): Promise<void> {
  const write = args.includes("--write");
  const onlyAt = args.indexOf("--only");
  const only = onlyAt >= 0 ? args[onlyAt + 1] : undefined;
  const specs = Object.fromEntries(
    args.filter((a) => a.includes("=")).map((a) => {
      const at = a.indexOf("=");
      return [a.slice(0, at), a.slice(at + 1)];
    }),
  );
  if (args.includes("--help") || !specs.candle || !specs.mlx) {
    console.error(
      "Usage: msl_corpus_run.ts candle=PATH mlx=PATH [--quick] [--only SUBSTRING,...] [--write]",
    );
    Deno.exit(2);
  }
  const candle = await openProject(`candle=${specs.candle}:candle-metal-kernels/src/metal_src`);
  const mlx = await openProject(`mlx=${specs.mlx}:mlx/backend/metal/kernels`);
  if (args.includes("--quick")) {
    for (const [key, value] of Object.entries(quickEnvironment())) Deno.env.set(key, value);
  }
  // Imported after --quick has set the compiler and cache the bridge reads when it loads.
  const { Device } = await import("../device.ts");
  const { KernelRegistry } = await import("../registry.ts");
  using device = Device.openSync({ backend: "cpu", compileTimeLimit: 0, compileMemoryLimit: 0 });
  const registries = {
    candle: new KernelRegistry(),
    mlx: new KernelRegistry({ languageVersion: "4.0" }),
  };
  const texts = new Map<string, string>();
  const outcomes: Outcome[] = [];
  const failures: string[] = [];
  const cases = [...candleCases(), ...mlxCases()].filter((c) =>
    !only || only.split(",").some((part) => c.kernel.includes(part))
  );
  for (const c of cases) {
    const project = c.project === "mlx" ? mlx : candle;
    const path = `${project.dir}/${c.file}`;
    if (!texts.has(path)) texts.set(path, inline(path, project.root));
    const registry = registries[c.project];
    const started = performance.now();
    try {
      registry.registerSource(c.kernel, texts.get(path)!, c.file.split("/").pop());
      const pipeline = await registry.getPipeline(c.kernel, device, c.constants);
      const buffers = c.buffers.map((b) => b === undefined ? undefined : device.newBuffer(b));
      try {
        using commands = device.newCommandBuffer();
        const encoder = commands.computeEncoder();
        encoder.setPipeline(pipeline);
        buffers.forEach((b, i) => b && encoder.setBuffer(b, i));
        if (c.groups) encoder.dispatchThreadgroups(c.groups, c.group);
        else encoder.dispatchThreads(c.threads!, c.group);
        encoder.end();
        commands.commit();
        await commands.completed();
        const out = buffers[c.output]!.contents;
        const actual = c.outType === "u32"
          ? Array.from(new Uint32Array(out.slice(0, c.expected.length * 4)))
          : fromDTypeBytes(c.outType, out, c.expected.length);
        outcomes.push({ c, ...errors(actual, c.expected) });
      } finally {
        for (const b of buffers) b?.close();
      }
    } catch (error) {
      // Reported, not hidden: the table says the kernel did not build or run, and why.
      failures.push(
        `${c.project} ${c.kernel}: ${
          String((error as Error).message).split("\n").slice(0, 2).join(" ")
        }`,
      );
    }
    console.error(
      `${c.project} ${c.kernel}: ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
  }
  registries.candle.close();
  registries.mlx.close();
  const body = [
    `candle \`${candle.commit.slice(0, 12)}\`, MLX \`${
      mlx.commit.slice(0, 12)
    }\` (Metal 4.0); inputs x[i] = 3 sin(0.37 i), y[i] = cos(0.11 i) + 1.5, weight 0.75 + 0.5 cos(0.05 i), bias 0.1 sin(0.07 i), rounded to the kernel's type; references in f64 from the rounded inputs (so the errors include the output's rounding); relative errors over the elements with |expected| >= 1e-3 max |expected|. Arg-reduce: indices, exact.`,
    "",
    "| project | file | kernel | type | compared | max abs error | max rel error |",
    "|---|---|---|---|---|---|---|",
    ...outcomes.map(({ c, maxAbs, maxRel }) =>
      `| ${c.project} | ${c.file} | ${c.kernel} | ${c.dtype} | ${c.what} | ${
        maxAbs.toExponential(2)
      } | ${maxRel.toExponential(2)} |`
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
