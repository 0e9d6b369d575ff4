// Copyright 2026 the @metal-compute/kernels authors. MIT license.
import assert from "node:assert";
import { testContext } from "../_helpers.ts";
import { cumsum, type CumsumDType, cumsumSync } from "../../ops/cumsum.ts";
import { cumsumRef } from "../../ops/cumsum_ref.ts";
import {
  assertRejectsBeforeNative,
  checkOp,
  ROW_WIDTHS,
  type Tolerance,
  TOLERANCES,
  uniform,
  widthLabel,
} from "./_helpers.ts";

const { device, registry } = testContext();

const DTYPES: readonly CumsumDType[] = ["f32", "bf16"];

/**
 * [rows, dim]: edge shapes (one element, a column, odd lengths around one thread's 4 elements
 * and one SIMD-group's 128, several tiles at every width) and realistic ones (64-token chunks
 * of 32 heads' log-decays, a 4097-long row).
 */
const SHAPES: readonly (readonly [number, number])[] = [
  [1, 1],
  [5, 1],
  [1, 3],
  [3, 33],
  [2, 129],
  [4, 1000],
  [32, 64],
  [2, 4097],
];

/** Runs cumsum (or cumsumSync, or in place) and checks it against cumsumRef. */
function checkCumsum(
  dtype: CumsumDType,
  [rows, dim]: readonly [number, number],
  values: ArrayLike<number>,
  tolerance: Tolerance,
  { sync = false, inPlace = false, threadsPerRow = undefined as number | undefined } = {},
): Promise<Record<"output", Float64Array>> {
  return checkOp(device, {
    label: `cumsum_${dtype} [${rows}, ${dim}]${widthLabel(threadsPerRow)}${sync ? " sync" : ""}${
      inPlace ? " in place" : ""
    }`,
    inputs: { input: { dtype, values } },
    outputs: { output: { dtype, length: rows * dim, inPlace: inPlace ? "input" : undefined } },
    encode: (encoder, { input, output }) => {
      const options = { registry, input, output, dtype, rows, dim, threadsPerRow };
      return sync ? cumsumSync(encoder, options) : cumsum(encoder, options);
    },
    reference: ({ input }) => ({ output: cumsumRef(input, rows, dim) }),
    tolerance,
  });
}

// Tolerances. With terms of one sign (log-decays, the kernels' use) every partial sum is at
// most its final size, and the f32 sum of ≤ 4097 terms in per-thread, SIMD-group and
// per-tile steps costs ≲ 50 f32 ulps (3e-6) before the one rounding to storage: the shared
// per-dtype tolerances (f32 1e-5, bf16 8e-3) hold. With mixed signs a prefix can cancel to
// near 0 while the rounding errors scale with Σ|x|: there the bound is absolute,
// atol = 64 · 2⁻²⁴ · dim for |x| ≤ 1 (f32), plus the storage rounding of the result for bf16.

for (const dtype of DTYPES) {
  Deno.test(`cumsum_${dtype}: cumsum() matches the f64 reference on edge and realistic shapes at every row width`, async () => {
    let seed = 1;
    for (const threadsPerRow of ROW_WIDTHS) {
      for (const shape of SHAPES) {
        const values = uniform(shape[0] * shape[1], 0, 1, seed++);
        await checkCumsum(dtype, shape, values, TOLERANCES[dtype], { threadsPerRow });
      }
    }
  });
}

for (const dtype of DTYPES) {
  Deno.test(`cumsum_${dtype}: cumsum() of mixed signs stays within an absolute bound`, async () => {
    const [rows, dim] = [3, 2049];
    const atol = 64 * 2 ** -24 * dim;
    await checkCumsum(dtype, [rows, dim], uniform(rows * dim, -1, 1, 17), {
      rtol: TOLERANCES[dtype].rtol,
      atol,
    });
  });
}

Deno.test("cumsum() carries exactly across tiles (integers)", async () => {
  // Small integers sum exactly in f32: every output must equal j + 1 for a row of ones,
  // across the tile boundaries (4 × the row width: 4 by default on the CPU backend, 4096 on a
  // GPU).
  const dim = 5000;
  const { output } = await checkCumsum("f32", [1, dim], new Float64Array(dim).fill(1), {
    rtol: 0,
    atol: 0,
  });
  assert.strictEqual(output[dim - 1], dim);
});

Deno.test("cumsum() runs in place (output === input)", async () => {
  await checkCumsum("bf16", [7, 300], uniform(7 * 300, 0, 1, 7), TOLERANCES.bf16, {
    inPlace: true,
  });
});

Deno.test("cumsumSync() matches the f64 reference", async () => {
  await checkCumsum("f32", [6, 257], uniform(6 * 257, 0, 2, 3), TOLERANCES.f32, { sync: true });
});

Deno.test("cumsum() rejects a too small buffer before any native call", async () => {
  using input = device.newBuffer(256);
  using output = device.newBuffer(252);
  await assertRejectsBeforeNative(cumsum, cumsumSync)(
    device,
    (registry) => ({ registry, input, output, dtype: "f32", rows: 2, dim: 32 }),
    RangeError,
    /^Cannot encode cumsum_f32: "output" holds 252 bytes, expected at least 256 \(rows 2 × dim 32 × 4 bytes\)$/,
  );
});

Deno.test("cumsum() rejects f16 (not in the catalogue) with a TypeError", async () => {
  using buffer = device.newBuffer(256);
  await assertRejectsBeforeNative(cumsum, cumsumSync)(
    device,
    (registry) => ({
      registry,
      input: buffer,
      output: buffer,
      dtype: "f16" as CumsumDType,
      rows: 2,
      dim: 32,
    }),
    TypeError,
    /^Cannot encode cumsum: "dtype" is "f16", expected one of "f32", "bf16"$/,
  );
});

Deno.test("cumsum() rejects zero, fractional and over-u32 sizes with a RangeError", async () => {
  using buffer = device.newBuffer(256);
  for (const [rows, dim] of [[0, 4], [2, 0], [1.5, 4], [1, 2 ** 32]]) {
    await assertRejectsBeforeNative(cumsum, cumsumSync)(
      device,
      (registry) => ({ registry, input: buffer, output: buffer, dtype: "f32", rows, dim }),
      RangeError,
      /^Cannot encode cumsum_f32: "(rows|dim)" is .*, expected a positive integer up to 4294967295/,
    );
  }
});
