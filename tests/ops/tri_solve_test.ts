// Copyright 2026 the @metal-compute/kernels authors. MIT license.
import assert from "node:assert";
import { testContext } from "../_helpers.ts";
import { roundToDType } from "../../dtype.ts";
import {
  type TriSolveDType,
  triSolveLowerUnit,
  triSolveLowerUnitSync,
} from "../../ops/tri_solve.ts";
import { triSolveLowerUnitRef } from "../../ops/tri_solve_ref.ts";
import { assertRejectsBeforeNative, checkOp, type Tolerance, uniform } from "./_helpers.ts";

const { device, registry } = testContext();

/**
 * Tolerances against the reference that stores X in the kernel's dtype (bf16 rows are
 * rounded before later rows use them, as the kernel reads them back).
 * - f32: dot products of up to 64 terms of size ≲ 1 in f32 (fma), errors ≲ 64 · 2⁻²⁴ ≈ 4e-6
 *   absolute, carried into later rows by L's entries (|L| ≤ 0.2): rtol 1e-5, atol 1e-5.
 * - bf16: the reference rounds each row too, so kernel and reference differ only where an
 *   f32-vs-f64 difference flips one bf16 rounding (one bf16 ulp, 2⁻⁸ relative), carried on
 *   through later rows: rtol 8e-3 as elsewhere, atol 2e-2 for such carried ulps on O(1)
 *   values that cancel to small ones.
 */
const TOLERANCE: Record<TriSolveDType, Tolerance> = {
  f32: { rtol: 1e-5, atol: 1e-5 },
  bf16: { rtol: 8e-3, atol: 2e-2 },
};

const DTYPES: readonly TriSolveDType[] = ["f32", "bf16"];

/** Runs the solve on seeded systems (|L| ≤ 0.2, as in a chunked delta rule) and checks it. */
function checkSolve(
  dtype: TriSolveDType,
  [batch, n, m]: readonly [number, number, number],
  seed: number,
  { sync = false, inPlace = false } = {},
): Promise<Record<"x", Float64Array>> {
  return checkOp<"l" | "b", "x">(device, {
    label: `tri_solve_lower_unit_${dtype} [${batch}, ${n}, ${m}]${sync ? " sync" : ""}${
      inPlace ? " in place" : ""
    }`,
    inputs: {
      // Diagonal and upper triangle hold garbage (up to ±50) the kernel must not read.
      l: {
        dtype,
        values: uniform(batch * n * n, -0.2, 0.2, seed).map((v, k) =>
          (k % n) >= Math.floor(k / n) % n ? 50 * v : v
        ),
      },
      b: { dtype, values: uniform(batch * n * m, -1, 1, seed + 1) },
    },
    outputs: { x: { dtype, length: batch * n * m, inPlace: inPlace ? "b" : undefined } },
    encode: (encoder, { l, b, x }) => {
      const options = { registry, l, b, x, dtype, n, m, batch };
      return sync ? triSolveLowerUnitSync(encoder, options) : triSolveLowerUnit(encoder, options);
    },
    reference: ({ l, b }) => ({
      x: triSolveLowerUnitRef({
        l,
        b,
        n,
        m,
        batch,
        roundStored: (v) => roundToDType(dtype, v),
      }),
    }),
    tolerance: TOLERANCE[dtype],
  });
}

for (const dtype of DTYPES) {
  Deno.test(`tri_solve_lower_unit_${dtype}: triSolveLowerUnit() matches the f64 reference on edge and realistic shapes`, async () => {
    // [batch, n, m]: 1×1 systems, one row, odd sizes not multiples of 32, and chunked
    // delta-rule shapes (64-token chunks, 128-wide heads, a few heads).
    let seed = 1;
    for (
      const shape of [[1, 1, 1], [2, 1, 5], [1, 5, 1], [3, 7, 33], [1, 33, 129], [
        3,
        64,
        128,
      ]] as const
    ) {
      await checkSolve(dtype, shape, seed += 10);
    }
  });
}

Deno.test("triSolveLowerUnit() writes X over B (in place)", async () => {
  await checkSolve("f32", [2, 64, 40], 5, { inPlace: true });
  await checkSolve("bf16", [2, 17, 9], 6, { inPlace: true });
});

Deno.test("triSolveLowerUnitSync() matches the f64 reference", async () => {
  await checkSolve("f32", [2, 20, 3], 7, { sync: true });
});

Deno.test("triSolveLowerUnit() recovers X from B = L·X exactly for small integers", async () => {
  // L with unit diagonal implied, X of small integers: every step is exact in f32.
  const n = 6;
  const l = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) l[i * n + j] = (i + j) % 3 - 1;
  const want = [3, -1, 4, 1, -5, 9];
  const rhs = want.map((_, i) =>
    want[i] + want.slice(0, i).reduce((s, v, j) => s + l[i * n + j] * v, 0)
  );
  using lBuf = device.newBuffer(l);
  using b = device.newBuffer(new Float32Array(rhs));
  using commands = device.newCommandBuffer();
  const encoder = commands.computeEncoder();
  await triSolveLowerUnit(encoder, { registry, l: lBuf, b, x: b, dtype: "f32", n, m: 1, batch: 1 });
  encoder.end();
  commands.commit();
  await commands.completed();
  assert.deepStrictEqual([...new Float32Array(b.contents)], want);
});

Deno.test("triSolveLowerUnit() rejects a too small L before any native call", async () => {
  using l = device.newBuffer(4 * 64 - 4);
  using b = device.newBuffer(4 * 8 * 3);
  await assertRejectsBeforeNative(triSolveLowerUnit, triSolveLowerUnitSync)(
    device,
    (registry) => ({ registry, l, b, x: b, dtype: "f32", n: 8, m: 3, batch: 1 }),
    RangeError,
    /^Cannot encode tri_solve_lower_unit_f32: "l" holds 252 bytes, expected at least 256 \(batch 1 × n 8 × n 8 × 4 bytes\)$/,
  );
});

Deno.test("triSolveLowerUnit() rejects a too small X, an unsupported dtype and bad sizes", async () => {
  using big = device.newBuffer(1024);
  using small = device.newBuffer(40);
  await assertRejectsBeforeNative(triSolveLowerUnit, triSolveLowerUnitSync)(
    device,
    (registry) => ({ registry, l: big, b: big, x: small, dtype: "bf16", n: 4, m: 3, batch: 2 }),
    RangeError,
    /"x" holds 40 bytes, expected at least 48 \(batch 2 × n 4 × m 3 × 2 bytes\)/,
  );
  await assertRejectsBeforeNative(triSolveLowerUnit, triSolveLowerUnitSync)(
    device,
    (registry) => ({
      registry,
      l: big,
      b: big,
      x: big,
      dtype: "f16" as TriSolveDType,
      n: 4,
      m: 3,
      batch: 2,
    }),
    TypeError,
    /^Cannot encode triSolveLowerUnit: "dtype" is "f16", expected one of "f32", "bf16"$/,
  );
  for (const [n, m, batch] of [[0, 1, 1], [2, 0, 1], [2, 1, 0.5]]) {
    await assertRejectsBeforeNative(triSolveLowerUnit, triSolveLowerUnitSync)(
      device,
      (registry) => ({ registry, l: big, b: big, x: big, dtype: "f32", n, m, batch }),
      RangeError,
      /^Cannot encode tri_solve_lower_unit_f32: "(n|m|batch)" is .*, expected a positive integer/,
    );
  }
});
