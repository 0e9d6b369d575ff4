// Copyright 2026 the @metal-compute/kernels authors. MIT license.
import assert from "node:assert";
import { testContext } from "../_helpers.ts";
import type { Device } from "../../device.ts";
import { softmax, type SoftmaxDType, softmaxSync } from "../../ops/softmax.ts";
import { softmaxRef } from "../../ops/softmax_ref.ts";
import {
  assertRejectsBeforeNative,
  checkOp,
  download,
  ROW_WIDTHS,
  run,
  spies,
  TOLERANCES,
  uniform,
  widthLabel,
} from "./_helpers.ts";

const { device, registry } = testContext();

const DTYPES: readonly SoftmaxDType[] = ["f32", "f16", "bf16"];

/**
 * [rows, cols]: edge shapes (one element, one row, one column, counts that are not
 * multiples of 32 around one SIMD-group and one threadgroup) and realistic ones (attention
 * rows over 4096 keys, a 32000-token vocabulary, several hundred rows).
 */
const SHAPES: readonly (readonly [number, number])[] = [
  [1, 1],
  [5, 1],
  [1, 31],
  [3, 33],
  [2, 1000],
  [7, 1025],
  [257, 100],
  [32, 4096],
  [64, 32000],
];

/** Runs softmax (or softmaxSync, or in place) on `logits` and checks it against softmaxRef. */
function checkSoftmax(
  dtype: SoftmaxDType,
  [rows, cols]: readonly [number, number],
  logits: ArrayLike<number>,
  { sync = false, inPlace = false, threadsPerRow = undefined as number | undefined } = {},
): Promise<Record<"output", Float64Array>> {
  return checkOp(device, {
    label: `softmax_${dtype} [${rows}, ${cols}]${widthLabel(threadsPerRow)}${sync ? " sync" : ""}${
      inPlace ? " in place" : ""
    }`,
    inputs: { input: { dtype, values: logits } },
    outputs: { output: { dtype, length: rows * cols, inPlace: inPlace ? "input" : undefined } },
    encode: (encoder, { input, output }) => {
      const options = { registry, input, output, dtype, rows, cols, threadsPerRow };
      return sync ? softmaxSync(encoder, options) : softmax(encoder, options);
    },
    reference: ({ input }) => ({ output: softmaxRef(input, rows, cols) }),
    tolerance: TOLERANCES[dtype],
  });
}

for (const dtype of DTYPES) {
  Deno.test(`softmax_${dtype}: softmax() matches the f64 reference on edge and realistic shapes at every row width`, async () => {
    let seed = 1;
    for (const threadsPerRow of ROW_WIDTHS) {
      for (const shape of SHAPES) {
        const values = uniform(shape[0] * shape[1], -20, 20, seed++);
        await checkSoftmax(dtype, shape, values, { threadsPerRow });
      }
    }
  });
}

for (const dtype of DTYPES) {
  Deno.test(`softmax_${dtype}: softmax() gives -Infinity entries 0 and an all -Infinity row zeros`, async () => {
    const rows = 4;
    const cols = 300;
    const logits = uniform(rows * cols, -20, 20, 99);
    for (let j = 0; j < cols; j++) {
      if (j % 3 === 0) logits[j] = -Infinity; // row 0: causal-style holes
      if (j > 0) logits[cols + j] = -Infinity; // row 1: a single live entry -> 1
      logits[2 * cols + j] = -Infinity; // row 2: fully masked -> zeros
    }
    const { output: got } = await checkSoftmax(dtype, [rows, cols], logits);
    assert.ok(got.every((v) => Number.isFinite(v)), "no NaN or Infinity");
    assert.ok(Math.abs(got[cols] - 1) <= TOLERANCES[dtype].rtol, `lone live entry: ${got[cols]}`);
    assert.deepStrictEqual([...got.subarray(2 * cols, 3 * cols)], new Array(cols).fill(0));
  });
}

Deno.test("softmax() runs in place (output === input)", async () => {
  await checkSoftmax("f32", [3, 1000], uniform(3 * 1000, -20, 20, 7), { inPlace: true });
});

Deno.test("softmaxSync() matches the f64 reference", async () => {
  await checkSoftmax("f16", [9, 4097], uniform(9 * 4097, -20, 20, 3), { sync: true });
});

Deno.test("softmax() rows sum to 1 for logits of large magnitude", async () => {
  const rows = 2;
  const cols = 2048;
  const logits = uniform(rows * cols, -20, 20, 11).map((v, i) => i < cols ? v + 1e4 : v - 1e4);
  using input = device.newBuffer(new Float32Array(logits));
  using output = device.newBuffer(rows * cols * 4);
  await run(
    device,
    (encoder) => softmax(encoder, { registry, input, output, dtype: "f32", rows, cols }),
  );
  const got = download(output, "f32", rows * cols);
  for (let r = 0; r < rows; r++) {
    const sum = got.subarray(r * cols, (r + 1) * cols).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 1) < 1e-4, `row ${r} sums to ${sum}`);
  }
});

Deno.test("softmax() rejects a too small input before any native call", async () => {
  using input = device.newBuffer(96);
  using output = device.newBuffer(128);
  await assertRejectsBeforeNative(softmax, softmaxSync)(
    device,
    (registry) => ({ registry, input, output, dtype: "f16", rows: 2, cols: 32 }),
    RangeError,
    /^Cannot encode softmax_f16: "input" holds 96 bytes, expected at least 128 \(rows 2 × cols 32 × 2 bytes\)$/,
  );
});

Deno.test("softmax() rejects a too small output before any native call", async () => {
  using input = device.newBuffer(256);
  using output = device.newBuffer(252);
  await assertRejectsBeforeNative(softmax, softmaxSync)(
    device,
    (registry) => ({ registry, input, output, dtype: "f32", rows: 2, cols: 32 }),
    RangeError,
    /"output" holds 252 bytes, expected at least 256/,
  );
});

Deno.test("softmax() rejects an unsupported dtype with a TypeError", async () => {
  using buffer = device.newBuffer(256);
  await assertRejectsBeforeNative(softmax, softmaxSync)(
    device,
    (registry) => ({
      registry,
      input: buffer,
      output: buffer,
      dtype: "i32" as SoftmaxDType,
      rows: 2,
      cols: 32,
    }),
    TypeError,
    /^Cannot encode softmax: "dtype" is "i32", expected one of "f32", "f16", "bf16"$/,
  );
});

Deno.test("softmax() rejects zero or fractional sizes with a RangeError", async () => {
  using buffer = device.newBuffer(256);
  for (const [rows, cols] of [[0, 4], [2, 0], [1.5, 4], [2, -1]]) {
    await assertRejectsBeforeNative(softmax, softmaxSync)(
      device,
      (registry) => ({ registry, input: buffer, output: buffer, dtype: "f32", rows, cols }),
      RangeError,
      /^Cannot encode softmax_f32: "(rows|cols)" is .*, expected a positive integer/,
    );
  }
});

Deno.test("softmax() refuses bf16 on a device without bfloat16, before compiling", async () => {
  using buffer = device.newBuffer(256);
  const oldGpu = { name: "Old GPU", capabilities: { bfloat16: false } } as unknown as Device;
  await assertRejectsBeforeNative(softmax, softmaxSync)(
    oldGpu,
    (registry) => ({ registry, input: buffer, output: buffer, dtype: "bf16", rows: 2, cols: 32 }),
    TypeError,
    /^Cannot encode softmax_bf16: device "Old GPU" has no bfloat16 support/,
  );
  // f16 on the same device goes on to the registry.
  const { encoder, registry: spyRegistry, calls } = spies(oldGpu);
  await assert.rejects(
    softmax(encoder, {
      registry: spyRegistry,
      input: buffer,
      output: buffer,
      dtype: "f16",
      rows: 2,
      cols: 32,
    }),
    /spy registry/,
  );
  assert.deepStrictEqual(calls, ["getPipeline(softmax_f16)"]);
});
