// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * MLX-affine quantized matmul throughput (`quantized_matmul_simd`), side by side in one run
 * with a memcpy of the same bytes (`TypedArray.set`). Rounds interleave the contenders and
 * each figure is the median over the rounds, so load from other processes hits all alike.
 *
 * - Mat-vec at the decode shape M = 1, K = 4096, N = 14336, group 64, for 4, 6 and 8 bits:
 *   GB/s of weight bytes read (packed codes + bf16 scales + bf16 biases), against memcpy of
 *   the same number of bytes.
 * - Mat-mat at M = 512 (K = 4096; N = 14336 on a GPU, `--mm-n` to change it; on the CPU
 *   backend the default is N = 1024 to keep a round under a few seconds): GFLOP/s = 2·M·N·K
 *   per second.
 * Time per dispatch is the wall time from commit to completion of a command buffer holding
 * that one dispatch. Weights are random codes with small random scales and biases (the
 * kernels' speed does not depend on the values).
 *
 * Run: deno run --allow-all bench/quantized_matmul_affine.ts [--rounds N] [--mm-n N] [--write]
 *
 * @module
 */
import { Device, KernelRegistry, quantizedMatmulSync } from "../mod.ts";
import type { DeviceBuffer } from "../buffer.ts";
import { f32ToBf16Bits } from "../dtype.ts";
import type { AffineBits } from "../formats/affine.ts";
import { machine, parseRounds, roundsOption, WRITE_OPTION, writeSection } from "./_results.ts";
import { parseCli } from "../tools/_cli.ts";

const { values } = parseCli({
  usage: "deno run --allow-all bench/quantized_matmul_affine.ts [options]",
  summary: "MLX-affine quantized mat-vec (GB/s vs memcpy) and mat-mat (GFLOP/s), in one run.",
  options: {
    rounds: roundsOption(7),
    "mm-n": { type: "string", value: "N", description: "N of the M = 512 mat-mat" },
    write: WRITE_OPTION,
  },
});
const rounds = parseRounds(values.rounds, 7);

// A mat-mat round on the CPU backend can outlast the default 10 s command buffer limit.
using device = Device.openSync({ commandBufferTimeout: 600_000 });
using registry = new KernelRegistry();
const K = 4096;
const N = 14336;
const GROUP = 64;
const MM_M = 512;
const MM_N = Number(values["mm-n"] ?? (device.backend === "cpu" ? 256 : N));
const BITS: readonly AffineBits[] = [4, 6, 8];

/** A buffer of `bytes` pseudo-random bytes (xorshift; fast enough for 60 MB). */
function randomBuffer(bytes: number, seed: number): DeviceBuffer {
  const buffer = device.newBuffer(bytes);
  const words = new Uint32Array(buffer.contents, 0, Math.floor(bytes / 4));
  let s = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    words[i] = s >>> 0;
  }
  return buffer;
}

/** `count` bf16 values uniform in [lo, hi). */
function bf16Buffer(count: number, lo: number, hi: number, seed: number): DeviceBuffer {
  const buffer = device.newBuffer(count * 2);
  const bits = new Uint16Array(buffer.contents);
  let s = seed >>> 0;
  for (let i = 0; i < count; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    bits[i] = f32ToBf16Bits(lo + (hi - lo) * (s / 2 ** 32));
  }
  return buffer;
}

function f32Buffer(count: number, seed: number): DeviceBuffer {
  const buffer = device.newBuffer(count * 4);
  const out = new Float32Array(buffer.contents);
  let s = seed >>> 0;
  for (let i = 0; i < count; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return buffer;
}

interface Weights {
  bits: AffineBits;
  weights: DeviceBuffer;
  scales: DeviceBuffer;
  biases: DeviceBuffer;
  bytes: number;
}

function makeWeights(bits: AffineBits, n: number): Weights {
  const packed = n * K * bits / 8;
  const pairs = n * (K / GROUP);
  return {
    bits,
    weights: randomBuffer(packed, bits * 7 + n),
    scales: bf16Buffer(pairs, 1e-3, 2e-3, bits),
    biases: bf16Buffer(pairs, -0.1, 0.1, bits + 1),
    bytes: packed + 4 * pairs,
  };
}

/** Seconds for one command buffer holding one quantized matmul dispatch. */
function timeMatmul(
  w: Weights,
  m: number,
  n: number,
  x: DeviceBuffer,
  output: DeviceBuffer,
): number {
  using commands = device.newCommandBuffer();
  const encoder = commands.computeEncoder();
  quantizedMatmulSync(encoder, {
    registry,
    x,
    weights: w.weights,
    scales: w.scales,
    biases: w.biases,
    output,
    m,
    n,
    k: K,
    bits: w.bits,
    groupSize: GROUP,
    dtype: "f32",
  });
  encoder.end();
  const start = performance.now();
  commands.commit();
  commands.waitUntilCompleted();
  return (performance.now() - start) / 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const matvec = BITS.map((bits) => makeWeights(bits, N));
using xVec = f32Buffer(K, 9);
using outVec = device.newBuffer(N * 4);
const largest = Math.max(...matvec.map((w) => w.bytes));
const copySource = new Uint8Array(largest);
copySource.fill(7);
const copyTarget = new Uint8Array(largest);

// Warm up: compile the pipeline and touch every page once.
for (const w of matvec) timeMatmul(w, 1, N, xVec, outVec);

const mvTimes = new Map<number, number[]>(BITS.map((b) => [b, []]));
const copyTimes = new Map<number, number[]>(BITS.map((b) => [b, []]));
for (let r = 0; r < rounds; r++) {
  for (const w of matvec) {
    mvTimes.get(w.bits)!.push(timeMatmul(w, 1, N, xVec, outVec));
    const start = performance.now();
    copyTarget.set(copySource.subarray(0, w.bytes));
    copyTimes.get(w.bits)!.push((performance.now() - start) / 1000);
  }
}

const rows = [
  "| bits | weight bytes | mat-vec | GB/s | memcpy GB/s | ratio |",
  "| ---: | ---: | ---: | ---: | ---: | ---: |",
];
for (const w of matvec) {
  const t = median(mvTimes.get(w.bits)!);
  const c = median(copyTimes.get(w.bits)!);
  rows.push(
    `| ${w.bits} | ${(w.bytes / 1e6).toFixed(1)} MB | ${(t * 1e3).toFixed(2)} ms | ${
      (w.bytes / t / 1e9).toFixed(2)
    } | ${(w.bytes / c / 1e9).toFixed(2)} | ${(c / t).toFixed(2)} |`,
  );
}
for (const w of matvec) {
  w.weights.close();
  w.scales.close();
  w.biases.close();
}

// Mat-mat at M = 512.
const matmat = BITS.map((bits) => makeWeights(bits, MM_N));
using xMat = f32Buffer(MM_M * K, 10);
using outMat = device.newBuffer(MM_M * MM_N * 4);
for (const w of matmat) timeMatmul(w, MM_M, MM_N, xMat, outMat);
const mmRounds = Math.max(1, Math.min(rounds, 3));
const mmRows = ["| bits | M × N × K | time | GFLOP/s |", "| ---: | --- | ---: | ---: |"];
for (const w of matmat) {
  const times = Array.from({ length: mmRounds }, () => timeMatmul(w, MM_M, MM_N, xMat, outMat));
  const t = median(times);
  mmRows.push(
    `| ${w.bits} | ${MM_M} × ${MM_N} × ${K} | ${(t * 1e3).toFixed(0)} ms | ${
      (2 * MM_M * MM_N * K / t / 1e9).toFixed(2)
    } |`,
  );
  w.weights.close();
  w.scales.close();
  w.biases.close();
}

const body = [
  `Command: \`deno run --allow-all bench/quantized_matmul_affine.ts --rounds ${rounds}${
    values["mm-n"] ? ` --mm-n ${MM_N}` : ""
  } --write\`. Machine: ${machine()}. Backend: ${device.backend} (${device.name}).`,
  "",
  `Mat-vec \`quantized_matmul_simd\` (f32 x, M = 1, K = ${K}, N = ${N}, group ${GROUP}): weight bytes = packed codes + bf16 scales + bf16 biases, read once per call; memcpy = \`Uint8Array.set\` of the same byte count, interleaved in the same rounds; medians of ${rounds} rounds; ratio = kernel GB/s ÷ memcpy GB/s.`,
  "",
  ...rows,
  "",
  `Mat-mat at M = ${MM_M} (the same kernel: each threadgroup reuses 8 weight rows for 4 input rows)${
    MM_N !== N ? `; N = ${MM_N}, not ${N}, to keep a round short on this backend` : ""
  }; median of ${mmRounds}:`,
  "",
  ...mmRows,
].join("\n");
console.log(body);
writeSection(
  "quantized-matmul-affine",
  "MLX-affine quantized matmul (quantized_matmul_affine.ts)",
  body,
);
