// Copyright 2026 the @metal-compute/kernels authors. MIT license.
import assert from "node:assert";
import { testContext } from "../_helpers.ts";
import type { Device } from "../../device.ts";
import { HNR_MAX_SIMDGROUPS, SMS_MAX_SIMDGROUPS } from "../../ops/_defines.ts";
import {
  headNormRope,
  type HeadNormRopeOptions,
  headNormRopeSync,
  scaleMaskSoftmax,
  scaleMaskSoftmaxSync,
} from "../../ops/attention_prep.ts";
import { headNormRopeRef, scaleMaskSoftmaxRef } from "../../ops/attention_prep_ref.ts";
import {
  assertClose,
  assertRejectsBeforeNative,
  download,
  ROW_WIDTHS,
  run,
  type Tolerance,
  TOLERANCES,
  uniform,
  upload,
  widthLabel,
} from "./_helpers.ts";

const { device, registry } = testContext();

/**
 * Head-norm-RoPE tolerance: the dtype's rtol (one rounding on store) plus an absolute term.
 * After the norm the values are O(1) (|y| ≤ ~3.5 for inputs uniform in [-1, 1] and weights in
 * [0.5, 1.5]); the RoPE angle is accurate to ~1e-6 rad at any position below 2^24
 * (rope_test.ts), and the norm's sum of up to 512 squares plus rsqrt costs a few f32 ulps
 * relative. So the absolute error stays below ~3.5 · (1e-6 + 1e-6) = 7e-6 in f32 (measured:
 * 2.0e-6 for 8 heads × 256 at positions 8191 … 1.3e7); 1e-5 leaves margin.
 */
function hnrTolerance(dtype: "f32" | "bf16"): Tolerance {
  return { rtol: TOLERANCES[dtype].rtol, atol: 1e-5 };
}

interface HnrCase {
  seqLen: number;
  nHeads: number;
  headDim: number;
  positions: number[];
  base: number;
  weighted: boolean;
  ropeDim?: number;
  partialRotary?: "truncated" | "proportional";
}

function range(start: number, length: number): number[] {
  return Array.from({ length }, (_, i) => start + i);
}

const HNR_CASES: readonly HnrCase[] = [
  // Decode far from 0 (Qwen3: 32 heads × 128, base 1e6); prefill of several hundred tokens.
  { seqLen: 1, nHeads: 32, headDim: 128, positions: [8191], base: 1e6, weighted: true },
  { seqLen: 300, nHeads: 16, headDim: 64, positions: range(0, 300), base: 1e4, weighted: true },
  { seqLen: 33, nHeads: 8, headDim: 256, positions: range(8000, 33), base: 1e6, weighted: false },
  // Edge: 40 pairs (head dim 80), one head, a head of 2.
  { seqLen: 3, nHeads: 3, headDim: 80, positions: [0, 5, 70000], base: 1e4, weighted: true },
  { seqLen: 2, nHeads: 1, headDim: 2, positions: [1, 2], base: 1e4, weighted: true },
  // Partial rotary: Gemma 4-style proportional, llama.cpp-style truncated.
  {
    seqLen: 4,
    nHeads: 8,
    headDim: 512,
    ropeDim: 128,
    partialRotary: "proportional",
    positions: [0, 1, 4095, 4096],
    base: 1e6,
    weighted: true,
  },
  {
    seqLen: 4,
    nHeads: 4,
    headDim: 128,
    ropeDim: 32,
    partialRotary: "truncated",
    positions: range(8188, 4),
    base: 1e4,
    weighted: true,
  },
];

async function checkHnr(
  dtype: "f32" | "bf16",
  c: HnrCase,
  seed: number,
  how: "buffer" | "inline" | "sync" = "buffer",
  threadsPerRow?: number,
): Promise<void> {
  const n = c.seqLen * c.nHeads * c.headDim;
  const { buffer, values } = upload(device, dtype, uniform(n, -1, 1, seed));
  using input = buffer;
  using output = device.newBuffer(n * (dtype === "f32" ? 4 : 2));
  const w = upload(device, dtype, uniform(c.headDim, 0.5, 1.5, seed + 1));
  using weight = w.buffer;
  using positions = device.newBuffer(Uint32Array.from(c.positions));
  const options: HeadNormRopeOptions = {
    registry,
    input,
    output,
    weight: c.weighted ? weight : undefined,
    dtype,
    ...(how === "inline" ? { position: c.positions[0] } : { positions }),
    seqLen: c.seqLen,
    nHeads: c.nHeads,
    headDim: c.headDim,
    eps: 1e-6,
    base: c.base,
    ropeDim: c.ropeDim,
    partialRotary: c.partialRotary,
    threadsPerRow,
  };
  await run(
    device,
    (e) => how === "sync" ? headNormRopeSync(e, options) : headNormRope(e, options),
  );
  assertClose(
    download(output, dtype, n),
    headNormRopeRef(values, c.weighted ? w.values : undefined, { ...c, eps: 1e-6 }),
    hnrTolerance(dtype),
    `headNormRope ${dtype} ${JSON.stringify({ ...c, positions: c.positions.length })}${
      widthLabel(threadsPerRow)
    }`,
  );
}

/**
 * Every case at the backend's default width; the cases of at most 64 heads × tokens at the
 * other row widths (these kernels run on fibers on the CPU backend, where the cost grows with
 * rows × threads).
 */
const HNR_WIDTH_CASES = ROW_WIDTHS.flatMap((width) =>
  HNR_CASES.filter((c) => width === undefined || c.seqLen * c.nHeads <= 64).map((c) =>
    [c, width] as const
  )
);

Deno.test("fused_head_norm_rope_f32: headNormRope() matches the f64 reference at every row width", async () => {
  let seed = 1;
  for (const [c, width] of HNR_WIDTH_CASES) await checkHnr("f32", c, seed++ * 10, "buffer", width);
});

Deno.test("fused_head_norm_rope_batch_bf16: headNormRope() matches the f64 reference at every row width", async () => {
  let seed = 100;
  for (const [c, width] of HNR_WIDTH_CASES) {
    await checkHnr("bf16", c, seed++ * 10, "buffer", width);
  }
});

Deno.test("fused_head_norm_rope_bf16: headNormRope() with an inline position matches the f64 reference", async () => {
  let seed = 200;
  for (const c of HNR_CASES) {
    await checkHnr(
      "bf16",
      { ...c, seqLen: 1, positions: c.positions.slice(-1) },
      seed++ * 10,
      "inline",
    );
  }
});

Deno.test("fused_head_norm_rope_f32: headNormRope() writes the bf16 and head-major copies", async () => {
  const [seqLen, nHeads, headDim] = [37, 8, 128];
  const n = seqLen * nHeads * headDim;
  const { buffer, values } = upload(device, "f32", uniform(n, -1, 1, 5));
  using data = buffer; // in place
  using bf16Natural = device.newBuffer(n * 2);
  using bf16Perm = device.newBuffer(n * 2);
  using f32Perm = device.newBuffer(n * 4);
  using positions = device.newBuffer(Uint32Array.from(range(8100, seqLen)));
  const shape = { seqLen, nHeads, headDim, eps: 1e-5, base: 1e4 };
  const expected = headNormRopeRef(values, undefined, { ...shape, positions: range(8100, seqLen) });
  const permuted = new Float64Array(n);
  for (let t = 0; t < seqLen; t++) {
    for (let h = 0; h < nHeads; h++) {
      for (let j = 0; j < headDim; j++) {
        permuted[(h * seqLen + t) * headDim + j] = expected[(t * nHeads + h) * headDim + j];
      }
    }
  }
  await run(device, async (e) => {
    const base = { registry, input: data, dtype: "f32", positions, ...shape } as const;
    // Two dispatches: the first writes the natural bf16 copy only, reading the untouched input.
    await headNormRope(e, { ...base, output: f32Perm, bf16Output: bf16Natural });
    await headNormRope(e, {
      ...base,
      output: data,
      bf16Output: bf16Perm,
      bf16Permuted: true,
      permutedOutput: f32Perm,
    });
  });
  const tol = hnrTolerance("f32");
  assertClose(download(data, "f32", n), expected, tol, "f32 in place");
  assertClose(download(f32Perm, "f32", n), permuted, tol, "f32 head-major");
  assertClose(download(bf16Natural, "bf16", n), expected, hnrTolerance("bf16"), "bf16 natural");
  assertClose(download(bf16Perm, "bf16", n), permuted, hnrTolerance("bf16"), "bf16 head-major");
});

Deno.test("fused_head_norm_rope_batch_bf16: headNormRopeSync() runs in place", async () => {
  const c = HNR_CASES[0];
  const n = c.seqLen * c.nHeads * c.headDim;
  const { buffer, values } = upload(device, "bf16", uniform(n, -1, 1, 9));
  using data = buffer;
  using positions = device.newBuffer(Uint32Array.from(c.positions));
  const shape = { seqLen: c.seqLen, nHeads: c.nHeads, headDim: c.headDim, eps: 1e-6, base: c.base };
  await run(device, (e) =>
    headNormRopeSync(e, {
      registry,
      input: data,
      output: data,
      dtype: "bf16",
      positions,
      ...shape,
    }));
  assertClose(
    download(data, "bf16", n),
    headNormRopeRef(values, undefined, { ...shape, positions: c.positions }),
    hnrTolerance("bf16"),
    "in place",
  );
});

/**
 * A YaRN-style table `[seqLen, ropeDim / 2, 2]`: per pair a frequency between the
 * interpolated (ω/s) and original ω by a ramp over the pair index, times the attention factor
 * 0.1 · ln(s) + 1 on both cos and sin (so not on the unit circle).
 */
function yarnTable(positions: number[], ropeDim: number, base: number, s: number): number[] {
  const mscale = 0.1 * Math.log(s) + 1;
  const out: number[] = [];
  for (const pos of positions) {
    for (let p = 0; p < ropeDim / 2; p++) {
      const omega = base ** (-2 * p / ropeDim);
      const ramp = Math.min(1, Math.max(0, (p - 4) / 8)); // 0: interpolate, 1: keep ω
      const theta = pos * (omega / s * (1 - ramp) + omega * ramp);
      out.push(Math.cos(theta) * mscale, Math.sin(theta) * mscale);
    }
  }
  return out;
}

async function checkCosSinTable(
  c: {
    seqLen: number;
    nHeads: number;
    headDim: number;
    ropeDim?: number;
    partialRotary?: "truncated" | "proportional";
  },
  table: number[],
  seed: number,
): Promise<void> {
  const n = c.seqLen * c.nHeads * c.headDim;
  const { buffer, values } = upload(device, "bf16", uniform(n, -1, 1, seed));
  using input = buffer;
  using output = device.newBuffer(n * 2);
  const w = upload(device, "bf16", uniform(c.headDim, 0.5, 1.5, seed + 1));
  using weight = w.buffer;
  using cosSin = device.newBuffer(new Float32Array(table));
  await run(
    device,
    (e) =>
      headNormRope(e, { registry, input, output, weight, cosSin, dtype: "bf16", eps: 1e-6, ...c }),
  );
  assertClose(
    download(output, "bf16", n),
    headNormRopeRef(values, w.values, { ...c, eps: 1e-6, cosSin: new Float32Array(table) }),
    hnrTolerance("bf16"),
    `headNormRope bf16 cosSin ${JSON.stringify(c)}`,
  );
}

Deno.test("fused_head_norm_rope_bf16: a host cos/sin table (YaRN-style) for one token, partial rotary", async () => {
  const c = {
    seqLen: 1,
    nHeads: 4,
    headDim: 128,
    ropeDim: 64,
    partialRotary: "proportional" as const,
  };
  await checkCosSinTable(c, yarnTable([70000], 64, 1e6, 4), 300);
});

Deno.test("fused_head_norm_rope_batch_bf16: a host cos/sin table per token", async () => {
  const c = { seqLen: 5, nHeads: 3, headDim: 64 };
  await checkCosSinTable(c, yarnTable([0, 1, 2, 500, 9000], 64, 1e4, 8), 310);
});

Deno.test("headNormRope(): a cos/sin table of pos · ω gives the positions-and-base result", async () => {
  const c = HNR_CASES[3]; // head dim 80, positions 0, 5, 70000
  const table = c.positions.flatMap((pos) =>
    Array.from({ length: c.headDim / 2 }, (_, p) => {
      const theta = pos * c.base ** (-2 * p / c.headDim);
      return [Math.cos(theta), Math.sin(theta)];
    }).flat()
  );
  const n = c.seqLen * c.nHeads * c.headDim;
  const { buffer, values } = upload(device, "bf16", uniform(n, -1, 1, 320));
  using input = buffer;
  using output = device.newBuffer(n * 2);
  using cosSin = device.newBuffer(new Float32Array(table));
  const shape = { seqLen: c.seqLen, nHeads: c.nHeads, headDim: c.headDim, eps: 1e-6 };
  await run(
    device,
    (e) => headNormRope(e, { registry, input, output, cosSin, dtype: "bf16", ...shape }),
  );
  assertClose(
    download(output, "bf16", n),
    headNormRopeRef(values, undefined, { ...shape, positions: c.positions, base: c.base }),
    hnrTolerance("bf16"),
    "table of pos · ω",
  );
});

Deno.test("headNormRope() refuses a cos/sin table with f32, with positions or frequencies, or too small", async () => {
  using buffer = device.newBuffer(4 * 128 * 4);
  using small = device.newBuffer(100);
  const base = { input: buffer, output: buffer, seqLen: 4, nHeads: 1, headDim: 128, eps: 1e-6 };
  const check = assertRejectsBeforeNative(headNormRope, headNormRopeSync);
  await check(
    device,
    (registry) => ({ registry, ...base, dtype: "f32", cosSin: buffer }),
    TypeError,
    /^Cannot encode headNormRope: "cosSin" is given with dtype "f32", expected dtype "bf16"$/,
  );
  await check(
    device,
    (registry) => ({
      registry,
      ...base,
      dtype: "bf16",
      cosSin: buffer,
      positions: buffer,
      base: 1e4,
    }),
    TypeError,
    /"cosSin" is given with "positions", "base", expected the table alone/,
  );
  await check(
    device,
    (registry) => ({ registry, ...base, dtype: "bf16", cosSin: small }),
    RangeError,
    /^Cannot encode fused_head_norm_rope_batch_bf16: "cosSin" holds 100 bytes, expected at least 2048 \(seqLen 4 × ropeDim \/ 2 64 × \(cos, sin\) 2 × 4 bytes\)$/,
  );
  await check(
    device,
    (registry) => ({ registry, ...base, dtype: "bf16", positions: buffer }),
    TypeError,
    /"base" is undefined, expected a finite number/,
  );
});

Deno.test("headNormRope() rejects inconsistent options before any native call", async () => {
  using buffer = device.newBuffer(4 * 128 * 4);
  const base = {
    input: buffer,
    output: buffer,
    seqLen: 4,
    nHeads: 1,
    headDim: 128,
    eps: 1e-6,
    base: 1e4,
  };
  const check = assertRejectsBeforeNative(headNormRope, headNormRopeSync);
  await check(
    device,
    (registry) => ({ registry, ...base, dtype: "f32" }),
    TypeError,
    /^Cannot encode headNormRope: neither "position" nor "positions" is given, expected exactly one$/,
  );
  await check(
    device,
    (registry) => ({ registry, ...base, dtype: "f32", seqLen: 1, position: 3 }),
    TypeError,
    /"position source" is "position", expected one of "positions"/,
  );
  await check(
    device,
    (registry) => ({ registry, ...base, dtype: "bf16", position: 3 }),
    RangeError,
    /^Cannot encode fused_head_norm_rope_bf16: "seqLen" is 4, expected 1 with an inline "position"$/,
  );
  await check(
    device,
    (registry) => ({ registry, ...base, dtype: "bf16", seqLen: 1, position: 2 ** 24 }),
    RangeError,
    /"position" is 16777216, expected an integer from 0 to 16777215/,
  );
  await check(
    device,
    (registry) => ({ registry, ...base, dtype: "bf16", positions: buffer, bf16Output: buffer }),
    TypeError,
    /"bf16Output" and "permutedOutput" need dtype "f32"/,
  );
  await check(
    device,
    (registry) => ({ registry, ...base, dtype: "f32", positions: buffer, seqLen: 5 }),
    RangeError,
    /^Cannot encode fused_head_norm_rope_f32: "input" holds 2048 bytes, expected at least 2560 \(seqLen 5 × nHeads 1 × headDim 128 × 4 bytes\)$/,
  );
  await check(
    device,
    (registry) => ({ registry, ...base, dtype: "f32", positions: buffer, ropeDim: 64 }),
    TypeError,
    /"partialRotary" is undefined/,
  );
});

Deno.test("headNormRope() refuses bf16 on a device without bfloat16, before compiling", async () => {
  using buffer = device.newBuffer(4096);
  const oldGpu = { name: "Old GPU", capabilities: { bfloat16: false } } as unknown as Device;
  await assertRejectsBeforeNative(headNormRope, headNormRopeSync)(
    oldGpu,
    (registry) => ({
      registry,
      input: buffer,
      output: buffer,
      dtype: "bf16",
      positions: buffer,
      seqLen: 1,
      nHeads: 1,
      headDim: 64,
      eps: 1e-6,
      base: 1e4,
    }),
    TypeError,
    /^Cannot encode fused_head_norm_rope_batch_bf16: device "Old GPU" has no bfloat16 support/,
  );
});

/** A causal bf16 mask `[seqQ, seqK]` for queries at the end of the keys (0 or -Infinity). */
function causalMask(seqQ: number, seqK: number): Float64Array {
  const mask = new Float64Array(seqQ * seqK);
  for (let q = 0; q < seqQ; q++) {
    for (let k = 0; k < seqK; k++) {
      if (k > seqK - seqQ + q) mask[q * seqK + k] = -Infinity;
    }
  }
  return mask;
}

Deno.test("scale_mask_softmax_f32: scaleMaskSoftmax() matches the f64 reference at every row width", async () => {
  // [heads, seqQ, seqK, mask kind]
  const cases = [
    [32, 1, 4096, "none"], // decode over 4096 keys
    [8, 300, 300, "causal"], // prefill with a causal mask
    [4, 33, 65, "causal"], // queries at the end of a longer key run
    [2, 3, 1, "causal"],
    [3, 5, 31, "random"], // finite biases plus holes
    [1, 1, 33, "none"],
  ] as const;
  let seed = 300;
  for (const threadsPerRow of ROW_WIDTHS) {
    for (const [heads, seqQ, seqK, kind] of cases) {
      const rows = heads * seqQ;
      const { buffer, values } = upload(device, "f32", uniform(rows * seqK, -30, 30, seed++));
      using input = buffer;
      using output = device.newBuffer(rows * seqK * 4);
      let maskValues: Float64Array | undefined;
      if (kind === "causal") maskValues = causalMask(seqQ, seqK);
      if (kind === "random") {
        maskValues = uniform(seqQ * seqK, -4, 4, seed++).map((v) => v > 3 ? -Infinity : v);
      }
      const m = maskValues ? upload(device, "bf16", maskValues) : undefined;
      using _mask = m?.buffer;
      const options = {
        registry,
        input,
        output,
        mask: m?.buffer,
        rows,
        seqQ,
        seqK,
        scale: 0.125,
        threadsPerRow,
      };
      await run(
        device,
        (e) => seed % 2 ? scaleMaskSoftmaxSync(e, options) : scaleMaskSoftmax(e, options),
      );
      assertClose(
        download(output, "f32", rows * seqK),
        scaleMaskSoftmaxRef(values, m?.values, { rows, seqQ, seqK, scale: 0.125 }),
        TOLERANCES.f32,
        `scaleMaskSoftmax ${JSON.stringify({ heads, seqQ, seqK, kind })}${
          widthLabel(threadsPerRow)
        }`,
      );
    }
  }
});

Deno.test("scale_mask_softmax_f32: scaleMaskSoftmax() gives a fully masked row zeros, in place", async () => {
  const [rows, seqQ, seqK] = [4, 2, 100];
  const { buffer, values } = upload(device, "f32", uniform(rows * seqK, -5, 5, 7));
  using data = buffer;
  const maskValues = new Float64Array(seqQ * seqK).fill(-Infinity); // query 0: all masked
  maskValues.fill(0, seqK); // query 1: nothing masked
  const { buffer: maskBuffer, values: mask } = upload(device, "bf16", maskValues);
  using maskData = maskBuffer;
  await run(device, (e) =>
    scaleMaskSoftmax(e, {
      registry,
      input: data,
      output: data,
      mask: maskData,
      rows,
      seqQ,
      seqK,
      scale: 1,
    }));
  const got = download(data, "f32", rows * seqK);
  assertClose(
    got,
    scaleMaskSoftmaxRef(values, mask, { rows, seqQ, seqK, scale: 1 }),
    TOLERANCES.f32,
    "masked",
  );
  assert.ok(got.every(Number.isFinite), "no NaN");
  assert.deepStrictEqual([...got.subarray(0, seqK)], new Array(seqK).fill(0));
});

Deno.test("scaleMaskSoftmax() rejects bad sizes and small buffers before any native call", async () => {
  using buffer = device.newBuffer(8 * 64 * 4);
  using small = device.newBuffer(2 * 64 * 2 - 2);
  const check = assertRejectsBeforeNative(scaleMaskSoftmax, scaleMaskSoftmaxSync);
  const base = { input: buffer, output: buffer, rows: 8, seqQ: 2, seqK: 64, scale: 1 };
  await check(
    device,
    (registry) => ({ registry, ...base, mask: small }),
    RangeError,
    /^Cannot encode scale_mask_softmax_f32: "mask" holds 254 bytes, expected at least 256 \(seqQ 2 × seqK 64 × 2 bytes\)$/,
  );
  await check(
    device,
    (registry) => ({ registry, ...base, seqQ: 3 }),
    RangeError,
    /"rows" is 8, expected a multiple of seqQ 3/,
  );
  await check(
    device,
    (registry) => ({ registry, ...base, rows: 16 }),
    RangeError,
    /"input" holds 2048 bytes, expected at least 4096/,
  );
  await check(
    device,
    (registry) => ({ registry, ...base, scale: NaN }),
    RangeError,
    /"scale" is NaN, expected a finite number/,
  );
});

Deno.test("HNR_MAX_SIMDGROUPS and SMS_MAX_SIMDGROUPS match their shaders", () => {
  const read = (file: string) =>
    Deno.readTextFileSync(new URL(`../../shaders/${file}`, import.meta.url));
  for (const file of ["fused_head_norm_rope_f32.metal", "fused_head_norm_rope_bf16.metal"]) {
    const match = read(file).match(/constant constexpr uint HNR_MAX_SIMDGROUPS = (\d+);/);
    assert.strictEqual(Number(match?.[1]), HNR_MAX_SIMDGROUPS, file);
  }
  const match = read("scale_mask_softmax.metal").match(
    /constant constexpr uint SMS_MAX_SIMDGROUPS = (\d+);/,
  );
  assert.strictEqual(Number(match?.[1]), SMS_MAX_SIMDGROUPS);
});
