// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * GGML quantized matmuls at model sizes, too big for the test suite: the decode mat-vec
 * (M = 1, K = 4096, N = 14336, a 7–8B model's MLP up/gate projection) per block format, as GB/s
 * of weight bytes read, side by side with a memcpy of the same bytes (`TypedArray.set`); and
 * the prefill mat-mat at M = 512 as GFLOP/s (the SIMD-group kernels and, where the device compiles
 * Metal 4's tensor API, their tensor twins). Rounds interleave every contender, each figure is
 * the median over the rounds, so load from other processes hits all alike.
 *
 * Run: deno run --allow-all bench/quantized_matmul_ggml.ts [--rounds N] [--mm-n N] [--write]
 *
 * The weights are one quantized row of random values repeated N times (real blocks, no
 * subnormal-scale traps, quick to make). Each timing is one command buffer: encode + commit +
 * wait. On the CPU backend the mat-mat's SIMD-group matrix products are emulated (one 32-lane
 * exchange per 8x8 MMA), so its N defaults to 64 there (14336 on Metal); `--mm-n` sets it.
 *
 * @module
 */
import {
  Device,
  ggmlMatmulSync,
  ggmlMatmulTensorSync,
  ggmlMatvecIdSync,
  ggmlMatvecSync,
  ggmlRowBytes,
  type GgmlType,
  KernelRegistry,
  quantizeGgml,
  tensorApiSupportedSync,
} from "../mod.ts";
import type { DeviceBuffer } from "../buffer.ts";
import { randomValues, runOnce } from "./_workload.ts";
import { machine, parseRounds, roundsOption, WRITE_OPTION, writeSection } from "./_results.ts";
import { parseCli } from "../tools/_cli.ts";

const { values } = parseCli({
  usage: "deno run --allow-all bench/quantized_matmul_ggml.ts [options]",
  summary: "GGML quantized mat-vec (GB/s vs memcpy) and mat-mat (GFLOP/s), in one run.",
  options: {
    rounds: roundsOption(5),
    "mm-n": {
      type: "string",
      value: "N",
      description: "weight rows of the M = 512 mat-mat (default 64 on the CPU backend, else 14336)",
    },
    write: WRITE_OPTION,
  },
});
const rounds = parseRounds(values.rounds, 5);

// The CPU backend's mat-mat at M = 512 runs for tens of seconds: past the default 10 s limit.
const device = Device.openSync({ commandBufferTimeout: 600_000 });
const registry = new KernelRegistry();
const MV = { m: 1, n: 14336, k: 4096 };
const MM = {
  m: 512,
  n: Number(values["mm-n"] ?? (device.backend === "cpu" ? 64 : 14336)),
  k: 4096,
};
if (!Number.isInteger(MM.n) || MM.n < 1) {
  console.error(`--mm-n must be a positive integer, got "${values["mm-n"]}"`);
  Deno.exit(2);
}

/** `rows` rows of one quantized row of k random values. */
function weightsOf(type: GgmlType, rows: number, k: number): Uint8Array {
  const row = quantizeGgml(randomValues(k, 7), type);
  const bytes = new Uint8Array(rows * ggmlRowBytes(type, k));
  for (let r = 0; r < rows; r++) bytes.set(row, r * row.length);
  return bytes;
}

interface Contender {
  label: string;
  bytes: number;
  flops: number;
  run: () => number;
  memcpy?: () => number;
  samples: number[];
  copies: number[];
}

const keep: DeviceBuffer[] = [];
const contenders: Contender[] = [];
const copySrc = new Uint8Array(ggmlRowBytes("q8_0", MV.k) * MV.n);
const copyDst = new Uint8Array(copySrc.length);
const memcpy = (bytes: number) => () => {
  const started = performance.now();
  copyDst.set(copySrc.subarray(0, bytes));
  return performance.now() - started;
};

const mvInput = device.newBuffer(randomValues(MV.k, 3));
const mvOutput = device.newBuffer(MV.n * 4);
keep.push(mvInput, mvOutput);
for (const type of ["q4_0", "q8_0", "q6_K"] as const) {
  const bytes = weightsOf(type, MV.n, MV.k);
  const weight = device.newBuffer(bytes);
  keep.push(weight);
  const options = { registry, type, weight, input: mvInput, output: mvOutput, ...MV };
  contenders.push({
    label: `kernel_mul_mv_${type}_f32`,
    bytes: bytes.length,
    flops: 2 * MV.m * MV.n * MV.k,
    run: () => runOnce(device, (encoder) => ggmlMatvecSync(encoder, options)),
    memcpy: memcpy(bytes.length),
    samples: [],
    copies: [],
  });
}
{
  // Q5_K has no dense kernel: one token routed to one expert is the same mat-vec.
  const bytes = weightsOf("q5_K", MV.n, MV.k);
  const weight = device.newBuffer(bytes);
  const ids = device.newBuffer(new Uint32Array([0]));
  keep.push(weight, ids);
  const options = {
    registry,
    type: "q5_K" as const,
    weight,
    input: mvInput,
    ids,
    output: mvOutput,
    tokens: 1,
    topK: 1,
    experts: 1,
    n: MV.n,
    k: MV.k,
  };
  contenders.push({
    label: "kernel_mul_mv_id_q5_K_f32 (1 token, top-1)",
    bytes: bytes.length,
    flops: 2 * MV.n * MV.k,
    run: () => runOnce(device, (encoder) => ggmlMatvecIdSync(encoder, options)),
    memcpy: memcpy(bytes.length),
    samples: [],
    copies: [],
  });
}

const mmInput = device.newBuffer(randomValues(MM.m * MM.k, 5));
const mmOutput = device.newBuffer(MM.m * MM.n * 4);
keep.push(mmInput, mmOutput);
for (const type of ["q4_0", "q8_0", "q6_K"] as const) {
  const bytes = weightsOf(type, MM.n, MM.k);
  const weight = device.newBuffer(bytes);
  keep.push(weight);
  const options = { registry, type, weight, input: mmInput, output: mmOutput, ...MM };
  contenders.push({
    label: `kernel_mul_mm_${type}_f32`,
    bytes: bytes.length,
    flops: 2 * MM.m * MM.n * MM.k,
    run: () => runOnce(device, (encoder) => ggmlMatmulSync(encoder, options)),
    samples: [],
    copies: [],
  });
  // Its tensor-API twin (inputs staged as half too), where the device compiles the API.
  if (tensorApiSupportedSync(device, registry)) {
    contenders.push({
      label: `kernel_mul_mm_${type}_tensor_f32`,
      bytes: bytes.length,
      flops: 2 * MM.m * MM.n * MM.k,
      run: () => runOnce(device, (encoder) => ggmlMatmulTensorSync(encoder, options)),
      samples: [],
      copies: [],
    });
  }
}

// Warm-up: compile every pipeline and touch every buffer once.
for (const c of contenders) {
  c.run();
  c.memcpy?.();
}
for (let round = 0; round < rounds; round++) {
  for (const c of contenders) {
    c.samples.push(c.run());
    if (c.memcpy) c.copies.push(c.memcpy());
  }
}

/** The 1-minute load average, when the system says (shared machines skew absolute figures). */
function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ")[0];
  } catch {
    return "unknown";
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x: number) => x < 1 ? `${(x * 1000).toFixed(1)} µs` : `${x.toFixed(2)} ms`;
const rate = (x: number) => x.toPrecision(3);
const mvRows = [
  "| kernel | weight bytes | time | weights GB/s | memcpy same bytes | memcpy GB/s | kernel / memcpy |",
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
];
const mmRows = ["| kernel | time | GFLOP/s |", "| --- | ---: | ---: |"];
for (const c of contenders) {
  const t = median(c.samples);
  if (c.memcpy) {
    const copy = median(c.copies);
    mvRows.push(
      `| ${c.label} | ${(c.bytes / 2 ** 20).toFixed(1)} MiB | ${ms(t)} | ${
        rate(c.bytes / t / 1e6)
      } | ${ms(copy)} | ${rate(c.bytes / copy / 1e6)} | ${(copy / t).toFixed(2)} |`,
    );
  } else {
    mmRows.push(`| ${c.label} | ${ms(t)} | ${rate(c.flops / t / 1e6)} |`);
  }
}

const body = [
  `Command: \`deno run --allow-all bench/quantized_matmul_ggml.ts --rounds ${rounds}${
    values["mm-n"] ? ` --mm-n ${MM.n}` : ""
  } --write\`. Machine: ${machine()}, load average ${loadAverage()} at the end. Backend: ${device.backend} (${device.name}).`,
  "",
  `Decode mat-vec, M = ${MV.m}, K = ${MV.k}, N = ${MV.n}: GB/s of weight bytes read per call (encode + commit + wait of one command buffer), beside a TypedArray.set memcpy of the same bytes; kernel / memcpy is the share of memcpy bandwidth the kernel reaches (1.00 = as fast as copying the weights). Medians of ${rounds} interleaved rounds after a warm-up.`,
  "",
  ...mvRows,
  "",
  `Prefill mat-mat, M = ${MM.m}, K = ${MM.k}, N = ${MM.n}${
    device.backend === "cpu" && MM.n !== 14336
      ? " (N cut from 14336: the CPU backend emulates every 8x8 SIMD-group MMA with a 32-lane exchange, so the full shape takes minutes per call)"
      : ""
  }: GFLOP/s = 2·M·N·K / time.`,
  "",
  ...mmRows,
].join("\n");
writeSection("quantized-matmul-ggml", "GGML quantized matmuls (quantized_matmul_ggml.ts)", body);
console.log(body);
for (const buffer of keep) buffer.close();
registry.close();
device.close();
