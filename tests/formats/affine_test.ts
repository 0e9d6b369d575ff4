// Copyright 2026 the @metal-compute/kernels authors. MIT license.
import assert from "node:assert";
import {
  AFFINE_BITS,
  AFFINE_GROUP_SIZES,
  affineCodes,
  affineLayout,
  type AffineMatrix,
  dequantizeAffine,
  quantizeAffine,
} from "../../formats/affine.ts";
import { bf16BitsToF32, bf16Round } from "../../dtype.ts";
import { uniform } from "../ops/_helpers.ts";

/** Code `j` of row `r`, read independently of the module: through u32 words or 24-bit packs. */
function codeByWords(matrix: AffineMatrix, r: number, j: number): number {
  const rowBytes = matrix.cols * matrix.bits / 8;
  const view = new DataView(matrix.weights.buffer, matrix.weights.byteOffset + r * rowBytes);
  switch (matrix.bits) {
    case 4:
      return (view.getUint32(4 * Math.floor(j / 8), true) >>> (4 * (j % 8))) & 0xf;
    case 8:
      return (view.getUint32(4 * Math.floor(j / 4), true) >>> (8 * (j % 4))) & 0xff;
    case 6: {
      const p = 3 * Math.floor(j / 4);
      const word = view.getUint8(p) | (view.getUint8(p + 1) << 8) | (view.getUint8(p + 2) << 16);
      return (word >>> (6 * (j % 4))) & 0x3f;
    }
  }
}

Deno.test("quantizeAffine() packs codes as MLX does: u32 words at 4 and 8 bits, 24-bit packs at 6", () => {
  for (const bits of AFFINE_BITS) {
    const values = uniform(3 * 64, -2, 2, bits);
    const matrix = quantizeAffine(values, { rows: 3, cols: 64, bits, groupSize: 32 });
    assert.strictEqual(matrix.weights.byteLength, 3 * 64 * bits / 8);
    const codes = affineCodes(matrix);
    for (let r = 0; r < 3; r++) {
      for (let j = 0; j < 64; j++) {
        assert.strictEqual(
          codes[r * 64 + j],
          codeByWords(matrix, r, j),
          `${bits}-bit [${r}][${j}]`,
        );
      }
    }
    // Every code is used: the packing is not a constant.
    assert.strictEqual(new Set(codes).size > (bits === 4 ? 12 : 40), true, `${bits}-bit codes`);
  }
});

Deno.test("quantizeAffine() / dequantizeAffine() round-trip within a step plus the bf16 rounding of scale and bias", () => {
  let seed = 1;
  for (const bits of AFFINE_BITS) {
    for (const groupSize of AFFINE_GROUP_SIZES) {
      const rows = 5;
      const cols = 2 * groupSize;
      const values = uniform(rows * cols, -3, 1, seed++);
      values[7] = 0; // a zero inside a group
      const matrix = quantizeAffine(values, { rows, cols, bits, groupSize });
      const back = dequantizeAffine(matrix);
      const levels = 2 ** bits - 1;
      for (let i = 0; i < rows * cols; i++) {
        const g = Math.floor(i / groupSize);
        const s = Math.abs(bf16BitsToF32(matrix.scales[g]));
        const b = Math.abs(bf16BitsToF32(matrix.biases[g]));
        // Rounding to a code costs half a step; MLX makes the larger edge exact, which can
        // stretch the grid so the far edge clamps by up to another half step. Codes came
        // from the f32 scale and bias; the stored ones are rounded to bf16 (relative error
        // ≤ 2⁻⁹), which moves value q by up to q·|Δs| + |Δb|.
        const bound = s + (levels * s + b) * 2 ** -9 + 1e-6;
        const err = Math.abs(back[i] - Math.fround(values[i]));
        assert.ok(err <= bound, `${bits}-bit g${groupSize} [${i}]: error ${err} > ${bound}`);
      }
    }
  }
});

Deno.test("quantizeAffine() keeps values on a bf16 grid exact, and constant groups exact", () => {
  // A group spanning [-1, 7/8] in steps of 1/8 at 4 bits: the edge of larger magnitude (-1)
  // is the bias, the scale 1/8, and every value is bias + code · scale exactly.
  const grid = Float32Array.from({ length: 32 }, (_, i) => -1 + (i % 16) / 8);
  const matrix = quantizeAffine(grid, { rows: 1, cols: 32, bits: 4, groupSize: 32 });
  assert.deepStrictEqual([...dequantizeAffine(matrix)], [...grid]);
  const constant = new Float32Array(64).fill(0.375);
  for (const bits of AFFINE_BITS) {
    const m = quantizeAffine(constant, { rows: 1, cols: 64, bits, groupSize: 64 });
    assert.deepStrictEqual([...dequantizeAffine(m)], [...constant], `${bits}-bit`);
  }
});

Deno.test("quantizeAffine() follows MLX's scale and bias rule (larger edge exact, signed scale)", () => {
  // max 2 > |min| 0.5: the scale is negative and the bias is the max.
  const values = Float32Array.from({ length: 32 }, (_, i) => -0.5 + (2.5 * i) / 31);
  const m = quantizeAffine(values, { rows: 1, cols: 32, bits: 8, groupSize: 32 });
  const scale = bf16BitsToF32(m.scales[0]);
  const bias = bf16BitsToF32(m.biases[0]);
  assert.ok(scale < 0);
  assert.strictEqual(bias, 2);
  // (max - min) / 255 = 2.5/255; q0 = round(2 / -scale) = -204; scale = 2 / -204.
  assert.strictEqual(scale, bf16Round(Math.fround(2 / -204)));
  assert.strictEqual(affineCodes(m)[31], 0); // the max maps to code 0
  // All-negative group: min is the larger edge, the scale positive.
  const negative = quantizeAffine(values.map((v) => v - 3), {
    rows: 1,
    cols: 32,
    bits: 8,
    groupSize: 32,
  });
  assert.ok(bf16BitsToF32(negative.scales[0]) > 0);
  assert.strictEqual(bf16BitsToF32(negative.biases[0]), -3.5);
});

Deno.test("dequantizeAffine() rounds to bf16 when asked", () => {
  const values = uniform(64, -1, 1, 9);
  const m = quantizeAffine(values, { rows: 1, cols: 64, bits: 8, groupSize: 64 });
  const f32 = dequantizeAffine(m);
  const bf16 = dequantizeAffine(m, { rounding: "bf16" });
  assert.deepStrictEqual([...bf16], [...f32].map(bf16Round));
  assert.ok(f32.some((v, i) => v !== bf16[i]));
});

Deno.test("affineLayout() gives the byte sizes of each buffer", () => {
  assert.deepStrictEqual(affineLayout({ rows: 3, cols: 128, bits: 6, groupSize: 64 }), {
    rowBytes: 96,
    groupsPerRow: 2,
    weightBytes: 288,
    scaleBytes: 12,
  });
});

Deno.test("the affine helpers refuse bad formats, shapes and values with a message naming them", () => {
  const shape = { rows: 1, cols: 64, bits: 4, groupSize: 64 } as const;
  assert.throws(
    () => affineLayout({ ...shape, bits: 5 as 4 }),
    (e) => e instanceof RangeError && /"bits" is 5, expected 4, 6 or 8/.test(e.message),
  );
  assert.throws(
    () => affineLayout({ ...shape, groupSize: 16 as 32 }),
    (e) => e instanceof RangeError && /"groupSize" is 16, expected 32, 64 or 128/.test(e.message),
  );
  assert.throws(
    () => affineLayout({ ...shape, cols: 96 }),
    (e) =>
      e instanceof RangeError &&
      /"cols" is 96, expected a multiple of the group size 64/.test(e.message),
  );
  assert.throws(
    () => affineLayout({ ...shape, rows: 0 }),
    (e) => e instanceof RangeError && /"rows" is 0, expected a positive integer/.test(e.message),
  );
  assert.throws(
    () => quantizeAffine(new Float32Array(63), shape),
    (e) => e instanceof RangeError && /63 values, expected at least 64/.test(e.message),
  );
  const nan = new Float32Array(64);
  nan[5] = NaN;
  assert.throws(
    () => quantizeAffine(nan, shape),
    (e) => e instanceof RangeError && /value \[0\]\[5\] is NaN/.test(e.message),
  );
  const m = quantizeAffine(new Float32Array(64), shape);
  assert.throws(
    () => dequantizeAffine({ ...m, scales: new Uint16Array(0) }),
    (e) => e instanceof RangeError && /scales 0 and biases 1 values/.test(e.message),
  );
});
