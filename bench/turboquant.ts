// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * TurboQuant KV cache throughput on this machine's backend, side by side with memcpy of the same
 * bytes, in one run: the Hadamard rotation of 4096 rows (D = 256), the 8-bit encoder writing
 * 512 tokens of 8 KV heads (4096 vectors), and decode attention (1 query, 32 heads over 8 KV heads, D = 256)
 * over a 4096-position 8-bit cache — the whole chain (rotate Q, split-K attention, merge,
 * un-rotate O) — next to the same decode on an f16 cache (`flashAttnVec`). Rounds interleave
 * every contender and each figure is the median, so load from other processes hits all alike.
 *
 * GB/s counts the bytes a kernel must move: FWHT reads and writes its rows; the encoder reads
 * f32 rows and writes indices and norms; attention reads the K and V caches (indices + norms, or
 * f16 rows). memcpy copies that many bytes (`TypedArray.set`).
 *
 * Run: deno run --allow-all bench/turboquant.ts [--rounds N] [--write]
 *
 * @module
 */
import { Device, KernelRegistry } from "../mod.ts";
import type { ComputeEncoder } from "../device.ts";
import { randomValues } from "./_workload.ts";
import { flashAttnVec, flashAttnVecScratchBytes } from "../ops/flash_attn_vec.ts";
import { fwht, turboquantCacheBytes, turboquantEncodeKv } from "../ops/turboquant.ts";
import { turboquantAttention } from "../ops/turboquant_attention.ts";
import { parseCli } from "../tools/_cli.ts";
import { machine, parseRounds, roundsOption, WRITE_OPTION, writeSection } from "./_results.ts";

const { values } = parseCli({
  usage: "deno run --allow-all bench/turboquant.ts [--rounds N] [--write]",
  summary:
    "TurboQuant FWHT, encoder and decode attention (KV 4096, D = 256) vs memcpy of the same bytes.",
  options: {
    rounds: roundsOption(7),
    write: WRITE_OPTION,
  },
});
const rounds = parseRounds(values.rounds, 7);

using device = Device.systemDefault();
using registry = new KernelRegistry();

const D = 256;
const KV_LEN = 4096;
const N_HEADS = 32;
const N_KV_HEADS = 8;
const BITS = 8;
const MiB = 1 << 20;

// ---- Buffers ----------------------------------------------------------------------------------

using rows = device.newBuffer(randomValues(KV_LEN * D, 1)); // FWHT: 4096 rows of 256
const ENCODE_TOKENS = KV_LEN / N_KV_HEADS; // 512 tokens × 8 heads: 4096 vectors, as the FWHT
using tokens = device.newBuffer(randomValues(ENCODE_TOKENS * N_KV_HEADS * D, 2)); // encoder input
const cacheShape = { nKvHeads: N_KV_HEADS, headDim: D, kvCapacity: KV_LEN, bits: BITS } as const;
const cacheBytes = turboquantCacheBytes(cacheShape);
// The attention's speed does not depend on the cache's contents: random indices, norms near 16.
const randomBytes = (n: number, seed: number) =>
  Uint8Array.from(randomValues(n, seed), (x) => (x + 1) * 127);
using kPacked = device.newBuffer(randomBytes(cacheBytes.packed, 4));
using kNorms = device.newBuffer(randomValues(cacheBytes.norms / 4, 5).map((x) => 16 + x));
using vPacked = device.newBuffer(randomBytes(cacheBytes.packed, 6));
using vNorms = device.newBuffer(randomValues(cacheBytes.norms / 4, 7).map((x) => 16 + x));
using q = device.newBuffer(randomValues(N_HEADS * D, 3));
using output = device.newBuffer(N_HEADS * D * 4);
using scratch = device.newBuffer(flashAttnVecScratchBytes(N_HEADS, D));
using kF16 = device.newBuffer(new Uint16Array(N_KV_HEADS * KV_LEN * D).fill(0x3000));
using vF16 = device.newBuffer(new Uint16Array(N_KV_HEADS * KV_LEN * D).fill(0x3400));

/**
 * CPU time of this process so far in ms (user + system, all threads; Linux only, 10 ms ticks),
 * or NaN. The machine may be shared: wall time then includes waiting for a core, CPU time not.
 */
function cpuMs(): number {
  try {
    const fields = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}

let lastCpuMs = NaN;

async function once(encode: (encoder: ComputeEncoder) => Promise<void>): Promise<number> {
  using commands = device.newCommandBuffer();
  const encoder = commands.computeEncoder();
  await encode(encoder);
  encoder.end();
  const cpu = cpuMs();
  const start = performance.now();
  commands.commit();
  await commands.completed();
  const wall = performance.now() - start;
  lastCpuMs = cpuMs() - cpu;
  return wall;
}

interface Contender {
  name: string;
  /** Bytes the kernel must move (read + write). */
  bytes: number;
  run(): Promise<number>;
}

const cacheRead = 2 * (cacheBytes.packed + cacheBytes.norms);
const contenders: Contender[] = [
  {
    name: `fwht premultiply, ${KV_LEN} rows × D ${D}`,
    bytes: 2 * KV_LEN * D * 4,
    run: () =>
      once((e) =>
        fwht(e, { registry, data: rows, heads: KV_LEN, headDim: D, signs: "premultiply" })
      ),
  },
  {
    name: `encode ${BITS}-bit, ${ENCODE_TOKENS} tokens × ${N_KV_HEADS} KV heads × D ${D}`,
    bytes: ENCODE_TOKENS * N_KV_HEADS * (D * 4 + D + 4),
    run: () =>
      once((e) =>
        turboquantEncodeKv(e, {
          registry,
          ...cacheShape,
          source: tokens,
          packed: kPacked,
          norms: kNorms,
          position: 0,
          tokens: ENCODE_TOKENS,
        })
      ),
  },
  {
    name: `tq decode attention ${BITS}-bit (rotate Q → attend → merge → un-rotate), KV ${KV_LEN}`,
    bytes: cacheRead,
    run: () =>
      once((e) =>
        turboquantAttention(e, {
          registry,
          q,
          output,
          kPacked,
          kNorms,
          vPacked,
          vNorms,
          bits: BITS,
          nHeads: N_HEADS,
          nKvHeads: N_KV_HEADS,
          headDim: D,
          kvLen: KV_LEN,
          scale: 1 / 16,
          scratch,
        })
      ),
  },
  {
    name: `f16 decode attention (flashAttnVec f16 K/V), KV ${KV_LEN}`,
    bytes: 2 * N_KV_HEADS * KV_LEN * D * 2,
    run: () =>
      once((e) =>
        flashAttnVec(e, {
          registry,
          q,
          k: kF16,
          v: vF16,
          output,
          kvDtype: "f16",
          nHeads: N_HEADS,
          nKvHeads: N_KV_HEADS,
          headDim: D,
          kvLen: KV_LEN,
          scale: 1 / 16,
          scratch,
        })
      ),
  },
];

const largest = Math.max(...contenders.map((c) => c.bytes));
const copySrc = new Uint8Array(largest).fill(1);
const copyDst = new Uint8Array(largest);
function memcpy(bytes: number): number {
  // A copy of n bytes reads n and writes n: copy half the bytes the kernel moves. Best of three
  // (a copy is short enough for one preemption to double it on a loaded machine).
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const start = performance.now();
    copyDst.set(copySrc.subarray(0, Math.ceil(bytes / 2)));
    best = Math.min(best, performance.now() - start);
  }
  return best;
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const samples = new Map<string, { kernel: number[]; cpu: number[]; copy: number[] }>();
for (let round = 0; round < rounds + 1; round++) {
  for (const c of contenders) {
    const kernel = await c.run();
    const cpu = lastCpuMs;
    const copy = memcpy(c.bytes);
    if (round === 0) continue; // warm-up: compiles, first touches
    const s = samples.get(c.name) ?? { kernel: [], cpu: [], copy: [] };
    s.kernel.push(kernel);
    s.cpu.push(cpu);
    s.copy.push(copy);
    samples.set(c.name, s);
  }
}

const fmt = (ms: number) => (ms >= 1 ? `${ms.toFixed(2)} ms` : `${(ms * 1000).toFixed(1)} µs`);
const gbs = (bytes: number, ms: number) => (bytes / ms / 1e6).toPrecision(3);
const table = [
  "| kernel | bytes moved | time | GB/s | CPU time (all workers) | memcpy same bytes | memcpy GB/s | time / memcpy |",
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
];
for (const c of contenders) {
  const s = samples.get(c.name)!;
  const k = median(s.kernel);
  const m = median(s.copy);
  const cpu = s.cpu.reduce((a, b) => a + b, 0) / s.cpu.length; // a mean: 10 ms ticks
  const cells = [
    c.name,
    `${(c.bytes / MiB).toFixed(2)} MiB`,
    fmt(k),
    gbs(c.bytes, k),
    Number.isNaN(cpu) ? "n/a" : fmt(cpu),
    fmt(m),
    gbs(c.bytes, m),
    (k / m).toFixed(1),
  ];
  table.push(`| ${cells.join(" | ")} |`);
}
const fwhtCpu = samples.get(contenders[0].name)!.cpu;
const perRow = fwhtCpu.reduce((a, b) => a + b, 0) / fwhtCpu.length / KV_LEN * 1000;
const note = device.backend !== "cpu" || Number.isNaN(perRow)
  ? ""
  : `The FWHT costs ${
    perRow.toFixed(1)
  } µs of CPU per 256-value row: each row is one SIMD-group whose five cross-lane butterfly stages are ten float4 simd_shuffle_xor calls, and on the CPU backend every collective switches through the 32 lanes' fibers (the encoder adds a simd_sum and the codebook search). The attention kernel needs three collectives per 32-key chunk and is bound by its codebook lookups.`;
const body = [
  `Command: \`deno run --allow-all bench/turboquant.ts --rounds ${rounds}\`. Machine: ${machine()}. Backend: ${device.backend} (${device.name}).`,
  "",
  `Medians of ${rounds} interleaved rounds after one warm-up. Time is encode + commit + wait of one command buffer (the attention row: its four dispatches). The caches hold ${BITS}-bit indices (one byte per coordinate) and one f32 norm per position: ${
    (cacheRead / MiB).toFixed(2)
  } MiB for K and V against ${
    (2 * N_KV_HEADS * KV_LEN * D * 2 / MiB).toFixed(0)
  } MiB in f16. GB/s = bytes moved / time; memcpy copies the same bytes (TypedArray.set, one thread, best of three per round). CPU time is the process's user + system time over the run (mean per run, 10 ms ticks): on a shared machine the wall time also counts waiting for a core. Load average when measured: ${
    (() => {
      try {
        return Deno.readTextFileSync("/proc/loadavg").split(" ")[0];
      } catch {
        return "n/a";
      }
    })()
  } on ${navigator.hardwareConcurrency} cores.`,
  "",
  ...table,
  "",
  note,
].join("\n");
console.log(body);
writeSection("turboquant", "TurboQuant KV cache (bench/turboquant.ts)", body);
