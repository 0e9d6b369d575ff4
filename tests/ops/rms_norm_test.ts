// Copyright 2026 the @metal-compute/kernels authors. MIT license.
import assert from "node:assert";
import { testContext } from "../_helpers.ts";
import type { DeviceBuffer } from "../../buffer.ts";
import type { Device } from "../../device.ts";
import { bf16Round, type FloatDType } from "../../dtype.ts";
import { RMS_NORM_MAX_SIMDGROUPS } from "../../ops/_defines.ts";
import {
  fusedPostAttnTripleNorm,
  fusedPostAttnTripleNormSync,
  RMS_NORM_KERNELS,
  rmsNorm,
  type RmsNormDType,
  rmsNormMul,
  rmsNormMulSync,
  rmsNormNoScale,
  rmsNormNoScaleDual,
  rmsNormNoScaleDualPerm,
  rmsNormNoScaleDualPermSync,
  rmsNormNoScaleDualSync,
  rmsNormNoScaleSync,
  rmsNormSync,
  rmsNormTriple,
  rmsNormTripleSync,
} from "../../ops/rms_norm.ts";
import { fusedPostAttnTripleNormRef, inverseRmsRef, rmsNormRef } from "../../ops/rms_norm_ref.ts";
import { KERNELS } from "../../shaders/catalog.ts";
import {
  assertClose,
  assertRejectsBeforeNative,
  download,
  EXACT,
  ROW_WIDTHS,
  run,
  spies,
  type Tolerance,
  TOLERANCES,
  uniform,
  upload,
  widthLabel,
} from "./_helpers.ts";

const { device, registry } = testContext();
const EPS = 1e-6;

/**
 * [rows, dim]: edge shapes (one element; lengths that are not multiples of 4 or 32, around
 * one SIMD-group; a row longer than the 16384 columns a 1024-wide threadgroup keeps in
 * registers, with and without the 4-vector path) and realistic ones (32 heads of 128 for
 * one token, 8 heads of 256, one 4096 hidden row, 300 tokens of 2048).
 */
const SHAPES: readonly (readonly [number, number])[] = [
  [1, 1],
  [3, 31],
  [2, 33],
  [5, 130],
  [32, 128],
  [16, 256],
  [1, 4096],
  [300, 2048],
  [2, 20000],
  [1, 20001],
];

/**
 * Row widths: the shared ones (the backend's default, 32, and 80 with a partial last
 * SIMD-group) and 1024, so the register-cached and the re-read column groups both run.
 */
const WIDTHS = [...ROW_WIDTHS, 1024] as const;

/** Every shape under every row width. */
const CASES = WIDTHS.flatMap((width) => SHAPES.map(([rows, dim]) => [rows, dim, width] as const));

function bytes(dtype: FloatDType, count: number): number {
  return count * (dtype === "f32" ? 4 : 2);
}

/** Weight dtype of rmsNorm / rmsNormMul for an activation dtype. */
function weightDType(dtype: RmsNormDType): FloatDType {
  return dtype === "bf16" ? "bf16" : "f32";
}

/** Uploads seeded rows of mixed magnitude: row r is scaled by 2^(r % 7 - 3). */
function rowsOf(dtype: FloatDType, rows: number, dim: number, seed: number) {
  const values = uniform(rows * dim, -2, 2, seed);
  for (let i = 0; i < values.length; i++) values[i] *= 2 ** ((Math.floor(i / dim) % 7) - 3);
  return upload(device, dtype, values);
}

for (const dtype of ["f32", "f16", "bf16"] as const) {
  Deno.test(`rms_norm_${dtype}: rmsNorm() matches the f64 reference on edge and realistic shapes`, async () => {
    let seed = 1;
    for (const [rows, dim, threadsPerRow] of CASES) {
      const x = rowsOf(dtype, rows, dim, seed++);
      const w = upload(device, weightDType(dtype), uniform(dim, 0.5, 1.5, seed++));
      using input = x.buffer;
      using weight = w.buffer;
      using output = device.newBuffer(bytes(dtype, rows * dim));
      const options = {
        registry,
        input,
        weight,
        output,
        dtype,
        rows,
        dim,
        eps: EPS,
        threadsPerRow,
      };
      await run(device, (encoder) => rmsNorm(encoder, options));
      assertClose(
        download(output, dtype, rows * dim),
        rmsNormRef(x.values, { rows, dim, eps: EPS, weight: w.values }),
        TOLERANCES[dtype],
        `rms_norm_${dtype} [${rows}, ${dim}]${widthLabel(threadsPerRow)}`,
      );
    }
  });
}

for (const dtype of ["f32", "bf16"] as const) {
  Deno.test(`rms_norm_no_scale_${dtype}: rmsNormNoScale() matches the f64 reference on edge and realistic shapes`, async () => {
    let seed = 100;
    for (const [rows, dim, threadsPerRow] of CASES) {
      const x = rowsOf(dtype, rows, dim, seed++);
      using input = x.buffer;
      using output = device.newBuffer(bytes(dtype, rows * dim));
      const options = { registry, input, output, dtype, rows, dim, eps: EPS, threadsPerRow };
      await run(device, (encoder) => rmsNormNoScale(encoder, options));
      assertClose(
        download(output, dtype, rows * dim),
        rmsNormRef(x.values, { rows, dim, eps: EPS }),
        TOLERANCES[dtype],
        `rms_norm_no_scale_${dtype} [${rows}, ${dim}]${widthLabel(threadsPerRow)}`,
      );
    }
  });
}

for (const dtype of ["f32", "f16", "bf16"] as const) {
  Deno.test(`rms_norm_mul_${dtype}: rmsNormMul() matches the f64 reference on edge and realistic shapes`, async () => {
    let seed = 200;
    for (const [rows, dim, threadsPerRow] of CASES) {
      const x = rowsOf(dtype, rows, dim, seed++);
      const w = upload(device, weightDType(dtype), uniform(dim, 0.5, 1.5, seed++));
      const m = upload(device, dtype, uniform(rows * dim, -3, 3, seed++));
      using input = x.buffer;
      using weight = w.buffer;
      using multiplier = m.buffer;
      using output = device.newBuffer(bytes(dtype, rows * dim));
      const options = {
        registry,
        input,
        weight,
        multiplier,
        output,
        dtype,
        rows,
        dim,
        eps: EPS,
        threadsPerRow,
      };
      await run(device, (encoder) => rmsNormMul(encoder, options));
      assertClose(
        download(output, dtype, rows * dim),
        rmsNormRef(x.values, { rows, dim, eps: EPS, weight: w.values, multiplier: m.values }),
        TOLERANCES[dtype],
        `rms_norm_mul_${dtype} [${rows}, ${dim}]${widthLabel(threadsPerRow)}`,
      );
    }
  });
}

/** Three seeded f32 [dim] weights. */
function threeWeights(dim: number, seed: number) {
  return [0, 1, 2].map((k) => upload(device, "f32", uniform(dim, -1.5, 1.5, seed + k)));
}

function threeBuffers(count: number): [DeviceBuffer, DeviceBuffer, DeviceBuffer] {
  return [0, 1, 2].map(() => device.newBuffer(count * 4)) as [
    DeviceBuffer,
    DeviceBuffer,
    DeviceBuffer,
  ];
}

Deno.test("rms_norm_f32_triple: rmsNormTriple() matches three f64 references on edge and realistic shapes", async () => {
  let seed = 300;
  for (const [rows, dim, threadsPerRow] of CASES) {
    const x = rowsOf("f32", rows, dim, seed++);
    const w = threeWeights(dim, seed);
    seed += 3;
    const outputs = threeBuffers(rows * dim);
    try {
      const weights = w.map((t) => t.buffer) as [DeviceBuffer, DeviceBuffer, DeviceBuffer];
      const options = {
        registry,
        input: x.buffer,
        weights,
        outputs,
        rows,
        dim,
        eps: EPS,
        threadsPerRow,
      };
      await run(device, (encoder) => rmsNormTriple(encoder, options));
      for (let k = 0; k < 3; k++) {
        assertClose(
          download(outputs[k], "f32", rows * dim),
          rmsNormRef(x.values, { rows, dim, eps: EPS, weight: w[k].values }),
          TOLERANCES.f32,
          `rms_norm_f32_triple [${rows}, ${dim}]${widthLabel(threadsPerRow)} output ${k}`,
        );
      }
    } finally {
      [x, ...w].forEach((t) => t.buffer.close());
      outputs.forEach((b) => b.close());
    }
  }
});

Deno.test("rms_norm_no_scale_f32_dual: rmsNormNoScaleDual() matches the f64 reference; the bf16 copy rounds the f32 result", async () => {
  let seed = 400;
  for (const [rows, dim, threadsPerRow] of CASES) {
    const x = rowsOf("f32", rows, dim, seed++);
    using input = x.buffer;
    using output = device.newBuffer(rows * dim * 4);
    using outputBf16 = device.newBuffer(rows * dim * 2);
    const options = { registry, input, output, outputBf16, rows, dim, eps: EPS, threadsPerRow };
    await run(device, (encoder) => rmsNormNoScaleDual(encoder, options));
    const got = download(output, "f32", rows * dim);
    const label = `rms_norm_no_scale_f32_dual [${rows}, ${dim}]${widthLabel(threadsPerRow)}`;
    assertClose(got, rmsNormRef(x.values, { rows, dim, eps: EPS }), TOLERANCES.f32, label);
    assertClose(download(outputBf16, "bf16", rows * dim), got.map(bf16Round), EXACT, label);
  }
});

/** `[seqLen, heads, dim]` → `[heads, seqLen, dim]`. */
function headMajor(values: ArrayLike<number>, seqLen: number, heads: number, dim: number) {
  const out = new Float64Array(seqLen * heads * dim);
  for (let t = 0; t < seqLen; t++) {
    for (let h = 0; h < heads; h++) {
      for (let j = 0; j < dim; j++) {
        out[(h * seqLen + t) * dim + j] = values[(t * heads + h) * dim + j];
      }
    }
  }
  return out;
}

Deno.test("rms_norm_no_scale_f32_dual_perm: rmsNormNoScaleDualPerm() matches the f64 reference; the bf16 copy is head-major", async () => {
  // [seqLen, heads, dim]: one token of 32 heads, a prefill of 300 tokens x 8 heads of 256,
  // and odd sizes.
  const shapes = [[1, 1, 1], [1, 32, 128], [7, 3, 33], [5, 4, 31], [300, 8, 256]] as const;
  let seed = 500;
  for (const threadsPerRow of WIDTHS) {
    for (const [seqLen, heads, dim] of shapes) {
      const rows = seqLen * heads;
      const x = rowsOf("f32", rows, dim, seed++);
      using input = x.buffer;
      using output = device.newBuffer(rows * dim * 4);
      using outputBf16 = device.newBuffer(rows * dim * 2);
      const options = {
        registry,
        input,
        output,
        outputBf16,
        seqLen,
        heads,
        dim,
        eps: EPS,
        threadsPerRow,
      };
      await run(device, (encoder) => rmsNormNoScaleDualPerm(encoder, options));
      const got = download(output, "f32", rows * dim);
      const label = `rms_norm_no_scale_f32_dual_perm [${seqLen}, ${heads}, ${dim}]${
        widthLabel(threadsPerRow)
      }`;
      assertClose(got, rmsNormRef(x.values, { rows, dim, eps: EPS }), TOLERANCES.f32, label);
      assertClose(
        download(outputBf16, "bf16", rows * dim),
        headMajor(got.map(bf16Round), seqLen, heads, dim),
        EXACT,
        label,
      );
    }
  }
});

/**
 * The residual `h + n` (n = the normed attention output) is computed in f32, so its error is a
 * few units of roundoff u = 2^-24 of |h| + |n|, not of |h + n|, which cancellation can make
 * much smaller. Residuals are compared with an absolute term of 4u · max(|h| + |n|) on top
 * of TOLERANCES.f32; the outputs, `res · r_res · w_k`, carry that error times
 * max(r_res) · max|w_k|, so theirs is 4u · max(|h| + |n|) · max(r_res) · max|w_k|. All maxima
 * are taken from the test's own data (with rowsOf's magnitudes, |h| + |n| < 19).
 */
function residualTolerance(absolute: number): Tolerance {
  return { rtol: TOLERANCES.f32.rtol, atol: TOLERANCES.f32.atol + 4 * 2 ** -24 * absolute };
}

function maxAbs(values: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < values.length; i++) max = Math.max(max, Math.abs(values[i]));
  return max;
}

async function checkPostAttn(
  rows: number,
  dim: number,
  seed: number,
  options: { inPlace?: boolean; sync?: boolean; threadsPerRow?: number } = {},
): Promise<void> {
  const h = rowsOf("f32", rows, dim, seed);
  const a = rowsOf("f32", rows, dim, seed + 1);
  const post = upload(device, "f32", uniform(dim, 0.5, 1.5, seed + 2));
  const w = threeWeights(dim, seed + 3);
  const residual = options.inPlace ? h.buffer : device.newBuffer(rows * dim * 4);
  const outputs = threeBuffers(rows * dim);
  try {
    const opOptions = {
      registry,
      hidden: h.buffer,
      attention: a.buffer,
      postWeight: post.buffer,
      weights: w.map((t) => t.buffer) as [DeviceBuffer, DeviceBuffer, DeviceBuffer],
      residual,
      outputs,
      rows,
      dim,
      eps: EPS,
      threadsPerRow: options.threadsPerRow,
    };
    await run(
      device,
      (encoder) =>
        options.sync
          ? fusedPostAttnTripleNormSync(encoder, opOptions)
          : fusedPostAttnTripleNorm(encoder, opOptions),
    );
    const expected = fusedPostAttnTripleNormRef(h.values, a.values, {
      rows,
      dim,
      eps: EPS,
      postWeight: post.values,
      weights: [w[0].values, w[1].values, w[2].values],
    });
    const label = `fused_post_attn_triple_norm_f32 [${rows}, ${dim}]${
      options.inPlace ? " in place" : ""
    }${widthLabel(options.threadsPerRow)}`;
    const sizes = h.values.map((v, i) => Math.abs(v) + Math.abs(expected.residual[i] - v));
    const scale = maxAbs(sizes);
    assertClose(
      download(residual, "f32", rows * dim),
      expected.residual,
      residualTolerance(scale),
      `${label} residual`,
    );
    const rRes = maxAbs(inverseRmsRef(expected.residual, { rows, dim, eps: EPS }));
    for (let k = 0; k < 3; k++) {
      assertClose(
        download(outputs[k], "f32", rows * dim),
        expected.outputs[k],
        residualTolerance(scale * rRes * maxAbs(w[k].values)),
        `${label} output ${k}`,
      );
    }
  } finally {
    [h, a, post, ...w].forEach((t) => t.buffer.close());
    if (!options.inPlace) residual.close();
    outputs.forEach((b) => b.close());
  }
}

Deno.test("fused_post_attn_triple_norm_f32: fusedPostAttnTripleNorm() matches the f64 reference on edge and realistic shapes", async () => {
  let seed = 600;
  for (const threadsPerRow of WIDTHS) {
    for (const [rows, dim] of [[1, 1], [3, 31], [2, 33], [1, 2816], [300, 2048], [1, 20001]]) {
      await checkPostAttn(rows, dim, seed, { threadsPerRow });
      seed += 10;
    }
  }
});

Deno.test("fusedPostAttnTripleNorm() updates the residual in place (residual === hidden)", async () => {
  await checkPostAttn(4, 2816, 700, { inPlace: true });
});

Deno.test("rmsNorm() runs in place (output === input)", async () => {
  const rows = 3;
  const dim = 1000;
  const x = rowsOf("bf16", rows, dim, 7);
  const w = upload(device, "bf16", uniform(dim, 0.5, 1.5, 8));
  using data = x.buffer;
  using weight = w.buffer;
  await run(
    device,
    (encoder) =>
      rmsNorm(encoder, {
        registry,
        input: data,
        weight,
        output: data,
        dtype: "bf16",
        rows,
        dim,
        eps: EPS,
      }),
  );
  assertClose(
    download(data, "bf16", rows * dim),
    rmsNormRef(x.values, { rows, dim, eps: EPS, weight: w.values }),
    TOLERANCES.bf16,
    "in place",
  );
});

Deno.test("rmsNorm() maps an all-zero row to zeros and normalises rows of extreme magnitude", async () => {
  // Row 0 zeros; row 1 of magnitude 1e15 (x² ≈ 1e30, a sum of 4096 stays below f32's
  // 3.4e38); row 2 of magnitude 1e-15, where eps dominates the mean of squares.
  const rows = 3;
  const dim = 4096;
  const values = uniform(rows * dim, -1, 1, 9).map((v, i) =>
    i < dim ? 0 : i < 2 * dim ? v * 1e15 : v * 1e-15
  );
  const x = upload(device, "f32", values);
  const w = upload(device, "f32", uniform(dim, 0.5, 1.5, 10));
  using input = x.buffer;
  using weight = w.buffer;
  using output = device.newBuffer(rows * dim * 4);
  await run(
    device,
    (encoder) =>
      rmsNorm(encoder, { registry, input, weight, output, dtype: "f32", rows, dim, eps: EPS }),
  );
  const got = download(output, "f32", rows * dim);
  assert.deepStrictEqual([...got.subarray(0, dim)], new Array(dim).fill(0));
  assertClose(
    got,
    rmsNormRef(x.values, { rows, dim, eps: EPS, weight: w.values }),
    TOLERANCES.f32,
    "extreme magnitudes",
  );
});

Deno.test("rmsNormSync() and the other *Sync twins match the f64 reference", async () => {
  const rows = 9;
  const dim = 4097;
  const x = rowsOf("f16", rows, dim, 11);
  const w = upload(device, "f32", uniform(dim, 0.5, 1.5, 12));
  const m = upload(device, "f16", uniform(rows * dim, -3, 3, 13));
  using input = x.buffer;
  using weight = w.buffer;
  using multiplier = m.buffer;
  using output = device.newBuffer(rows * dim * 2);
  const base = { registry, rows, dim, eps: EPS };
  await run(device, (e) => rmsNormSync(e, { ...base, input, weight, output, dtype: "f16" }));
  assertClose(
    download(output, "f16", rows * dim),
    rmsNormRef(x.values, { rows, dim, eps: EPS, weight: w.values }),
    TOLERANCES.f16,
    "rmsNormSync",
  );
  await run(
    device,
    (e) => rmsNormMulSync(e, { ...base, input, weight, multiplier, output, dtype: "f16" }),
  );
  assertClose(
    download(output, "f16", rows * dim),
    rmsNormRef(x.values, { rows, dim, eps: EPS, weight: w.values, multiplier: m.values }),
    TOLERANCES.f16,
    "rmsNormMulSync",
  );
  const y = rowsOf("f32", rows, dim, 14);
  using input32 = y.buffer;
  using output32 = device.newBuffer(rows * dim * 4);
  using output16 = device.newBuffer(rows * dim * 2);
  const expected = rmsNormRef(y.values, { rows, dim, eps: EPS });
  await run(
    device,
    (e) => rmsNormNoScaleSync(e, { ...base, input: input32, output: output32, dtype: "f32" }),
  );
  assertClose(download(output32, "f32", rows * dim), expected, TOLERANCES.f32, "noScaleSync");
  await run(
    device,
    (e) =>
      rmsNormNoScaleDualSync(e, {
        ...base,
        input: input32,
        output: output32,
        outputBf16: output16,
      }),
  );
  assertClose(download(output16, "bf16", rows * dim), expected, TOLERANCES.bf16, "dualSync");
  await run(device, (e) =>
    rmsNormNoScaleDualPermSync(e, {
      registry,
      input: input32,
      output: output32,
      outputBf16: output16,
      seqLen: 3,
      heads: 3,
      dim,
      eps: EPS,
    }));
  assertClose(
    download(output16, "bf16", rows * dim),
    headMajor(expected, 3, 3, dim),
    TOLERANCES.bf16,
    "dualPermSync",
  );
  const w3 = threeWeights(dim, 15);
  const outputs = threeBuffers(rows * dim);
  try {
    const weights = w3.map((t) => t.buffer) as [DeviceBuffer, DeviceBuffer, DeviceBuffer];
    await run(device, (e) => rmsNormTripleSync(e, { ...base, input: input32, weights, outputs }));
    assertClose(
      download(outputs[2], "f32", rows * dim),
      rmsNormRef(y.values, { rows, dim, eps: EPS, weight: w3[2].values }),
      TOLERANCES.f32,
      "tripleSync",
    );
  } finally {
    w3.forEach((t) => t.buffer.close());
    outputs.forEach((b) => b.close());
  }
  await checkPostAttn(2, 300, 16, { sync: true });
});

Deno.test("rmsNorm() rejects a too small input, weight or output before any native call", async () => {
  using small = device.newBuffer(96);
  using big = device.newBuffer(4096);
  const cases = [
    [{ input: small, weight: big, output: big }, /"input" holds 96 bytes, expected at least 128/],
    [{ input: big, weight: small, output: big }, /"weight" holds 96 bytes, expected at least 128/],
    [{ input: big, weight: big, output: small }, /"output" holds 96 bytes, expected at least 128/],
  ] as const;
  for (const [buffers, message] of cases) {
    await assertRejectsBeforeNative(rmsNorm, rmsNormSync)(
      device,
      (registry) => ({ registry, ...buffers, dtype: "f32", rows: 1, dim: 32, eps: EPS }),
      RangeError,
      message,
    );
  }
  await assertRejectsBeforeNative(rmsNorm, rmsNormSync)(
    device,
    (registry) => ({
      registry,
      input: small,
      weight: big,
      output: big,
      dtype: "f16",
      rows: 2,
      dim: 32,
      eps: EPS,
    }),
    RangeError,
    /^Cannot encode rms_norm_f16: "input" holds 96 bytes, expected at least 128 \(rows 2 × dim 32 × 2 bytes\)$/,
  );
  // rms_norm_f16 takes f32 weights: 32 × 4 bytes.
  using weight64 = device.newBuffer(64);
  await assertRejectsBeforeNative(rmsNorm, rmsNormSync)(
    device,
    (registry) => ({
      registry,
      input: big,
      weight: weight64,
      output: big,
      dtype: "f16",
      rows: 2,
      dim: 32,
      eps: EPS,
    }),
    RangeError,
    /^Cannot encode rms_norm_f16: "weight" holds 64 bytes, expected at least 128 \(dim 32 × 4 bytes\)$/,
  );
});

Deno.test("rmsNormMul() and fusedPostAttnTripleNorm() reject too small buffers before any native call", async () => {
  using small = device.newBuffer(100);
  using big = device.newBuffer(4096);
  await assertRejectsBeforeNative(rmsNormMul, rmsNormMulSync)(
    device,
    (registry) => ({
      registry,
      input: big,
      weight: big,
      multiplier: small,
      output: big,
      dtype: "bf16",
      rows: 2,
      dim: 32,
      eps: EPS,
    }),
    RangeError,
    /^Cannot encode rms_norm_mul_bf16: "multiplier" holds 100 bytes, expected at least 128/,
  );
  using o1 = device.newBuffer(4096);
  using o2 = device.newBuffer(4096);
  using o3 = device.newBuffer(4096);
  await assertRejectsBeforeNative(fusedPostAttnTripleNorm, fusedPostAttnTripleNormSync)(
    device,
    (registry) => ({
      registry,
      hidden: big,
      attention: big,
      postWeight: big,
      weights: [big, small, big],
      residual: big,
      outputs: [o1, o2, o3],
      rows: 2,
      dim: 32,
      eps: EPS,
    }),
    RangeError,
    /^Cannot encode fused_post_attn_triple_norm_f32: "weights\[1\]" holds 100 bytes, expected at least 128/,
  );
  await assertRejectsBeforeNative(fusedPostAttnTripleNorm, fusedPostAttnTripleNormSync)(
    device,
    (registry) => ({
      registry,
      hidden: big,
      attention: big,
      postWeight: big,
      weights: [big, big, big],
      residual: o2,
      outputs: [o1, o2, o3],
      rows: 2,
      dim: 32,
      eps: EPS,
    }),
    RangeError,
    /"outputs\[1\]" is the same buffer as "residual"/,
  );
});

Deno.test("rmsNormTriple() rejects repeated outputs and rmsNormNoScaleDualPerm() a too small bf16 copy", async () => {
  using big = device.newBuffer(4096);
  using other = device.newBuffer(4096);
  await assertRejectsBeforeNative(rmsNormTriple, rmsNormTripleSync)(
    device,
    (registry) => ({
      registry,
      input: big,
      weights: [big, big, big],
      outputs: [other, big, other],
      rows: 2,
      dim: 32,
      eps: EPS,
    }),
    RangeError,
    /^Cannot encode rms_norm_f32_triple: "outputs\[2\]" is the same buffer as "outputs\[0\]"/,
  );
  using small = device.newBuffer(2 * 3 * 32 * 2 - 2);
  await assertRejectsBeforeNative(rmsNormNoScaleDualPerm, rmsNormNoScaleDualPermSync)(
    device,
    (registry) => ({
      registry,
      input: big,
      output: big,
      outputBf16: small,
      seqLen: 2,
      heads: 3,
      dim: 32,
      eps: EPS,
    }),
    RangeError,
    /^Cannot encode rms_norm_no_scale_f32_dual_perm: "outputBf16" holds 382 bytes, expected at least 384 \(seqLen 2 × heads 3 × dim 32 × 2 bytes\)$/,
  );
  await assertRejectsBeforeNative(rmsNormNoScaleDual, rmsNormNoScaleDualSync)(
    device,
    (registry) => ({
      registry,
      input: big,
      output: big,
      outputBf16: big,
      rows: 2,
      dim: 32,
      eps: EPS,
    }),
    RangeError,
    /"outputBf16" is the same buffer as "input"/,
  );
});

Deno.test("rmsNorm() and rmsNormNoScale() reject unsupported dtypes, bad sizes and bad eps", async () => {
  using buffer = device.newBuffer(4096);
  await assertRejectsBeforeNative(rmsNormNoScale, rmsNormNoScaleSync)(
    device,
    (registry) => ({
      registry,
      input: buffer,
      output: buffer,
      dtype: "f16" as "f32",
      rows: 2,
      dim: 32,
      eps: EPS,
    }),
    TypeError,
    /^Cannot encode rmsNormNoScale: "dtype" is "f16", expected one of "f32", "bf16"$/,
  );
  for (const [rows, dim] of [[0, 4], [2, 0], [1.5, 4], [2, -1]]) {
    await assertRejectsBeforeNative(rmsNorm, rmsNormSync)(
      device,
      (registry) => ({
        registry,
        input: buffer,
        weight: buffer,
        output: buffer,
        dtype: "f32",
        rows,
        dim,
        eps: EPS,
      }),
      RangeError,
      /^Cannot encode rms_norm_f32: "(rows|dim)" is .*, expected a positive integer/,
    );
  }
  for (const eps of [-1e-6, NaN, Infinity]) {
    await assertRejectsBeforeNative(rmsNorm, rmsNormSync)(
      device,
      (registry) => ({
        registry,
        input: buffer,
        weight: buffer,
        output: buffer,
        dtype: "f32",
        rows: 2,
        dim: 32,
        eps,
      }),
      RangeError,
      /^Cannot encode rms_norm_f32: "eps" is .*, expected a finite number/,
    );
  }
});

Deno.test("rmsNorm() and the _dual helpers refuse bf16 on a device without bfloat16, before compiling", async () => {
  using buffer = device.newBuffer(4096);
  using copy = device.newBuffer(4096);
  const oldGpu = { name: "Old GPU", capabilities: { bfloat16: false } } as unknown as Device;
  await assertRejectsBeforeNative(rmsNorm, rmsNormSync)(
    oldGpu,
    (registry) => ({
      registry,
      input: buffer,
      weight: buffer,
      output: buffer,
      dtype: "bf16",
      rows: 2,
      dim: 32,
      eps: EPS,
    }),
    TypeError,
    /^Cannot encode rms_norm_bf16: device "Old GPU" has no bfloat16 support/,
  );
  await assertRejectsBeforeNative(rmsNormNoScaleDual, rmsNormNoScaleDualSync)(
    oldGpu,
    (registry) => ({
      registry,
      input: buffer,
      output: buffer,
      outputBf16: copy,
      rows: 2,
      dim: 32,
      eps: EPS,
    }),
    TypeError,
    /^Cannot encode rms_norm_no_scale_f32_dual: device "Old GPU" has no bfloat16 support/,
  );
  // f16 on the same device goes on to the registry.
  const { encoder, registry: spyRegistry, calls } = spies(oldGpu);
  await assert.rejects(
    rmsNorm(encoder, {
      registry: spyRegistry,
      input: buffer,
      weight: buffer,
      output: buffer,
      dtype: "f16",
      rows: 2,
      dim: 32,
      eps: EPS,
    }),
    /spy registry/,
  );
  assert.deepStrictEqual(calls, ["getPipeline(rms_norm_f16)"]);
});

Deno.test("rms_norm.metal defines exactly its 12 catalogue names, all in RMS_NORM_KERNELS; RMS_NORM_MAX_SIMDGROUPS matches", () => {
  const text = Deno.readTextFileSync(new URL("../../shaders/rms_norm.metal", import.meta.url));
  // host_name instantiations, and plain kernels (not the templates: their line follows a `>`).
  const defined = [
    ...[...text.matchAll(/\[\[host_name\("([A-Za-z0-9_]+)"\)\]\]/g)].map((m) => m[1]),
    ...[...text.matchAll(/(?<!>\n)^\[\[kernel\]\] void ([A-Za-z0-9_]+)\(/gm)].map((m) => m[1]),
  ].sort();
  const catalogue = Object.entries(KERNELS)
    .filter(([, e]) => e.file === "rms_norm.metal")
    .map(([n]) => n)
    .sort();
  const table = Object.values(RMS_NORM_KERNELS).flatMap((t) => Object.values(t)).sort();
  assert.strictEqual(catalogue.length, 12);
  assert.deepStrictEqual(defined, catalogue);
  assert.deepStrictEqual(table, catalogue);
  const match = text.match(/constant constexpr uint RMS_NORM_MAX_SIMDGROUPS = (\d+);/);
  assert.strictEqual(Number(match?.[1]), RMS_NORM_MAX_SIMDGROUPS);
});
