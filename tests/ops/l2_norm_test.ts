// Copyright 2026 the @metal-compute/kernels authors. MIT license.
import assert from "node:assert";
import { testContext } from "../_helpers.ts";
import { l2Norm, type L2NormDType, l2NormSync } from "../../ops/l2_norm.ts";
import { l2NormRef } from "../../ops/l2_norm_ref.ts";
import {
  assertRejectsBeforeNative,
  checkOp,
  ROW_WIDTHS,
  TOLERANCES,
  uniform,
  widthLabel,
} from "./_helpers.ts";

const { device, registry } = testContext();

const DTYPES: readonly L2NormDType[] = ["f32", "f16", "bf16"];
const EPS = 1e-6;

/**
 * [rows, dim]: edge shapes (one element, a column, odd lengths around one SIMD-group, a row
 * longer than one CPU threadgroup's pass) and realistic ones (Qwen3-Next q/k heads: 16 heads ×
 * 128 for a few tokens; a 4096-wide row).
 */
const SHAPES: readonly (readonly [number, number])[] = [
  [1, 1],
  [5, 1],
  [1, 31],
  [3, 33],
  [7, 129],
  [2, 1000],
  [48, 128],
  [4, 4096],
];

/** Runs l2Norm (or l2NormSync, or in place) and checks it against l2NormRef. */
function checkL2Norm(
  dtype: L2NormDType,
  [rows, dim]: readonly [number, number],
  values: ArrayLike<number>,
  { sync = false, inPlace = false, eps = EPS, threadsPerRow = undefined as number | undefined } =
    {},
): Promise<Record<"output", Float64Array>> {
  return checkOp(device, {
    label: `l2_norm_${dtype} [${rows}, ${dim}]${widthLabel(threadsPerRow)}${sync ? " sync" : ""}${
      inPlace ? " in place" : ""
    }`,
    inputs: { input: { dtype, values } },
    outputs: { output: { dtype, length: rows * dim, inPlace: inPlace ? "input" : undefined } },
    encode: (encoder, { input, output }) => {
      const options = { registry, input, output, dtype, rows, dim, eps, threadsPerRow };
      return sync ? l2NormSync(encoder, options) : l2Norm(encoder, options);
    },
    reference: ({ input }) => ({ output: l2NormRef(input, rows, dim, eps) }),
    // One rounding to the storage dtype after an f32 sum of ≤ 4096 squares and an rsqrt
    // (a few f32 ulps): the shared per-dtype tolerances (f32 1e-5, f16 1e-3, bf16 8e-3).
    tolerance: TOLERANCES[dtype],
  });
}

for (const dtype of DTYPES) {
  Deno.test(`l2_norm_${dtype}: l2Norm() matches the f64 reference on edge and realistic shapes at every row width`, async () => {
    let seed = 1;
    for (const threadsPerRow of ROW_WIDTHS) {
      for (const shape of SHAPES) {
        const values = uniform(shape[0] * shape[1], -4, 4, seed++);
        await checkL2Norm(dtype, shape, values, { threadsPerRow });
      }
    }
  });
}

Deno.test("l2Norm() gives each row unit length and keeps eps inside the root", async () => {
  const dim = 100;
  // Row 0 has norm² = 0.01 · 100 = 1 before eps; with eps = 3 the norm is 2: output 0.05.
  const values = new Float64Array(2 * dim).fill(0.1);
  for (let j = 0; j < dim; j++) values[dim + j] = j % 2 ? 5 : -5;
  const { output } = await checkL2Norm("f32", [2, dim], values, { eps: 3 });
  assert.ok(Math.abs(output[0] - 0.05) < 1e-6, `eps inside the root: ${output[0]}`);
  const norm1 = Math.hypot(...output.subarray(dim));
  assert.ok(Math.abs(norm1 - 1) < 2e-3, `row 1 norm ${norm1}`); // eps = 3 vs Σx² = 2500
});

Deno.test("l2Norm() maps a zero row to zeros for eps > 0", async () => {
  const { output } = await checkL2Norm("bf16", [2, 65], new Float64Array(130));
  assert.ok(output.every((v) => v === 0));
});

Deno.test("l2Norm() runs in place (output === input)", async () => {
  await checkL2Norm("f16", [9, 128], uniform(9 * 128, -2, 2, 7), { inPlace: true });
});

Deno.test("l2NormSync() matches the f64 reference", async () => {
  await checkL2Norm("f32", [6, 257], uniform(6 * 257, -3, 3, 3), { sync: true });
});

Deno.test("l2Norm() rejects a too small buffer before any native call", async () => {
  using input = device.newBuffer(96);
  using output = device.newBuffer(128);
  await assertRejectsBeforeNative(l2Norm, l2NormSync)(
    device,
    (registry) => ({ registry, input, output, dtype: "f16", rows: 2, dim: 32, eps: EPS }),
    RangeError,
    /^Cannot encode l2_norm_f16: "input" holds 96 bytes, expected at least 128 \(rows 2 × dim 32 × 2 bytes\)$/,
  );
});

Deno.test("l2Norm() rejects an unsupported dtype with a TypeError", async () => {
  using buffer = device.newBuffer(256);
  await assertRejectsBeforeNative(l2Norm, l2NormSync)(
    device,
    (registry) => ({
      registry,
      input: buffer,
      output: buffer,
      dtype: "i32" as L2NormDType,
      rows: 2,
      dim: 32,
      eps: EPS,
    }),
    TypeError,
    /^Cannot encode l2Norm: "dtype" is "i32", expected one of "f32", "f16", "bf16"$/,
  );
});

Deno.test("l2Norm() rejects zero or fractional sizes and a negative eps", async () => {
  using buffer = device.newBuffer(256);
  for (const [rows, dim, eps] of [[0, 4, EPS], [2, 0, EPS], [1.5, 4, EPS], [2, 4, -1e-6]]) {
    await assertRejectsBeforeNative(l2Norm, l2NormSync)(
      device,
      (registry) => ({ registry, input: buffer, output: buffer, dtype: "f32", rows, dim, eps }),
      RangeError,
      /^Cannot encode l2_norm_f32: "(rows|dim|eps)" is .*, expected a (positive integer|finite number of at least 0)/,
    );
  }
});
