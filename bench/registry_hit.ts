// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * The registry's cache hit with two function constants, min and median side by side in one
 * run: a fresh object literal per call, a frozen object, no constants, and the floors (a bare
 * Map lookup; a fresh literal alone; `Object.keys` of one, what a hit that enumerated the keys
 * would pay on top). Rounds interleave every case;
 * each sample is the mean per call over a batch, so min and median are over batches.
 *
 * Run: deno run --allow-all bench/registry_hit.ts [--rounds N] [--write]
 *
 * @module
 */
import { Device, KernelRegistry } from "../mod.ts";
import { machine, parseRounds, roundsOption, WRITE_OPTION, writeSection } from "./_results.ts";
import { parseCli } from "../tools/_cli.ts";

const { values } = parseCli({
  usage: "deno run --allow-all bench/registry_hit.ts [options]",
  summary: "The registry's cache hit with constants, side by side with its floors.",
  options: {
    rounds: roundsOption(201),
    write: WRITE_OPTION,
  },
});
const rounds = parseRounds(values.rounds, 201);
// Short batches (~0.1-1 ms): a batch that a time slice of another process lands in is an
// outlier, not the median, even on a busy machine.
const BATCH = 2_000;

const device = Device.systemDefault();
const registry = new KernelRegistry();
const declared = await registry.getPipeline("placeholder", device, { 100: 4, 200: true });
await registry.getPipeline("softmax_f32", device);
const frozen = Object.freeze({ 200: true, 100: 4 });
const floor = new Map([["softmax_f32", 1]]);
let sink = 0;
let kept: Record<number, number | boolean> = {};

const cases: readonly (readonly [string, () => void])[] = [
  ["Map.get (floor)", () => {
    sink += floor.get("softmax_f32")!;
  }],
  ["getPipelineSync, no constants", () => {
    registry.getPipelineSync("softmax_f32", device);
  }],
  ["getPipelineSync, two constants, a fresh literal", () => {
    registry.getPipelineSync("placeholder", device, { 200: true, 100: 4 });
  }],
  ["getPipelineSync, two constants, one frozen object", () => {
    registry.getPipelineSync("placeholder", device, frozen);
  }],
  ["a fresh literal of two constants alone (what every call above builds)", () => {
    kept = { 200: true, 100: 4 }; // kept, so the object is really allocated
  }],
  ["Object.keys of a fresh literal of two constants", () => {
    sink += Object.keys({ 200: true, 100: 4 }).length;
  }],
];

// The hit answers from the cache with the pipeline built above.
if (registry.getPipelineSync("placeholder", device, { 200: true, 100: 4 }) !== declared) {
  throw new Error("a hit returned another pipeline");
}

const samples = cases.map(() => [] as number[]);
for (let round = 0; round < rounds + 2; round++) {
  cases.forEach(([, run], i) => {
    const start = performance.now();
    for (let k = 0; k < BATCH; k++) run();
    const ns = (performance.now() - start) * 1e6 / BATCH;
    if (round >= 2) samples[i].push(ns); // two warm-up rounds
  });
}
const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const ns = (x: number) => `${x.toFixed(0)} ns`;
const lines = [
  `${rounds} interleaved rounds (after 2 warm-up rounds) of ${BATCH} calls per case; per call.`,
  "",
  "| case | min | median |",
  "| --- | ---: | ---: |",
  ...cases.map(([name], i) =>
    `| ${name} | ${ns(Math.min(...samples[i]))} | ${ns(median(samples[i]))} |`
  ),
];
console.log(lines.join("\n"));
writeSection(
  "registry-hit",
  "Cache hit with constants (registry_hit.ts)",
  [
    `Command: \`deno run --allow-all bench/registry_hit.ts --rounds ${rounds}\` (also run by \`deno task bench\`). Machine: ${machine()}. Backend: ${device.backend}.`,
    "",
    "A hit with constants reads the indices the kernel declares (`Pipeline.functionConstants`,",
    "in order) from the object given and compares each value with the cached specialisation's:",
    "no key is enumerated. Keys the kernel does not declare are not read on a hit; the slow path",
    "(every call without a cached specialisation) refuses them, naming the declared constants.",
    "`Object.keys` of a fresh literal is what a hit that enumerated the keys would add (the",
    "path before this one counted them on every hit). Each sample is one batch's mean per call:",
    "it includes the young-generation collections a fresh literal per call causes and any time",
    "the process waited for a core (see the load), so on a busy machine the median says more",
    "about the machine than about the hit; the minimum is the hit itself. The fresh literal",
    "alone shows what building the object costs the caller, before any lookup.",
    "",
    ...lines,
  ].join("\n"),
);
if (sink === -1) console.log(sink, kept);
registry.close();
device.close();
