// Copyright 2026 the @metal-compute/kernels authors. MIT license.
import assert from "node:assert";
import { testContext } from "../_helpers.ts";
import {
  gather,
  gatherSync,
  offsetCopy,
  offsetCopySync,
  stridedCopy,
  stridedCopySync,
} from "../../ops/copy.ts";
import { gatherRef, offsetCopyRef, stridedCopyRef } from "../../ops/copy_ref.ts";
import { COPY_N_READS, GATHER_N_READS } from "../../ops/_defines.ts";
import {
  assertClose,
  assertRejectsBeforeNative,
  download,
  EXACT,
  rng,
  run,
  shaderConstant,
  shaderText,
  uniform,
  upload,
} from "./_helpers.ts";

const { device, registry } = testContext();

/**
 * Views [rows, cols, rowStride, colStride, offset]: a row slice, a column slice, transposes of
 * [4096, 32] and [31, 33], broadcasts (stride 0), a 300-token × 128 head-dim slice of a
 * [300, 32 × 128] Q projection (head 5), single elements.
 */
const VIEWS: readonly (readonly [number, number, number, number, number])[] = [
  [1, 1, 0, 0, 0],
  [1, 33, 33, 1, 7],
  [32, 64, 4096, 1, 64],
  [32, 4096, 1, 32, 0],
  [33, 31, 1, 33, 0],
  [5, 100, 0, 1, 3],
  [100, 5, 1, 0, 2],
  [300, 128, 32 * 128, 1, 5 * 128],
];

Deno.test("strided_copy_f32: stridedCopy() matches the reference on slices, transposes and broadcasts", async () => {
  let seed = 1;
  for (const [rows, cols, rowStride, colStride, offset] of VIEWS) {
    const size = offset + (rows - 1) * rowStride + (cols - 1) * colStride + 1 + (seed % 3);
    const { buffer, values } = upload(device, "f32", uniform(size, -1e3, 1e3, seed++));
    using input = buffer;
    using output = device.newBuffer(rows * cols * 4);
    const options = { registry, input, output, rows, cols, rowStride, colStride, offset };
    await run(device, (e) => seed % 2 ? stridedCopy(e, options) : stridedCopySync(e, options));
    assertClose(
      download(output, "f32", rows * cols),
      stridedCopyRef(values, rows, cols, rowStride, colStride, offset),
      EXACT,
      `strided_copy [${rows}, ${cols}] strides (${rowStride}, ${colStride}) + ${offset}`,
    );
  }
});

Deno.test("offset_copy_f32: offsetCopy() matches the reference for any offsets and counts", async () => {
  // [count, inputOffset, outputOffset]: unaligned offsets, tails of 1..3, a 4096-wide row
  // appended at position 299 of a cache, 300 tokens × 2048.
  const cases = [[1, 0, 0], [3, 1, 2], [4, 3, 5], [33, 7, 1], [31, 0, 9], [4096, 0, 299 * 4096], [
    300 * 2048,
    13,
    2,
  ]];
  let seed = 50;
  for (const [count, inputOffset, outputOffset] of cases) {
    const src = upload(device, "f32", uniform(inputOffset + count, -5, 5, seed++));
    const dst = upload(device, "f32", uniform(outputOffset + count + 5, -5, 5, seed++));
    using input = src.buffer;
    using output = dst.buffer;
    const options = { registry, input, output, count, inputOffset, outputOffset };
    await run(device, (e) => seed % 4 ? offsetCopy(e, options) : offsetCopySync(e, options));
    assertClose(
      download(output, "f32", outputOffset + count + 5),
      offsetCopyRef(src.values, dst.values, count, inputOffset, outputOffset),
      EXACT,
      `offset_copy ${count} from ${inputOffset} to ${outputOffset}`,
    );
  }
});

Deno.test("offset_copy_f32: offsetCopy() moves a range within one buffer when the ranges are disjoint", async () => {
  const { buffer, values } = upload(device, "f32", uniform(1000, -5, 5, 77));
  using data = buffer;
  await run(
    device,
    (e) =>
      offsetCopy(e, {
        registry,
        input: data,
        output: data,
        count: 333,
        inputOffset: 3,
        outputOffset: 600,
      }),
  );
  assertClose(
    download(data, "f32", 1000),
    offsetCopyRef(values, values, 333, 3, 600),
    EXACT,
    "in buffer",
  );
});

Deno.test("gather_f32: gather() matches the reference, with repeated and out-of-range ids", async () => {
  // [inputRows, width, count]: widths that are and are not multiples of 4, one row, a
  // 32000 × 256 table (a vocabulary of embeddings, kept narrow), 300 tokens of width 2048.
  const cases = [[1, 1, 1], [7, 3, 9], [50, 33, 17], [64, 31, 40], [32000, 256, 64], [
    512,
    2048,
    300,
  ]];
  let seed = 90;
  for (const [inputRows, width, count] of cases) {
    const table = upload(device, "f32", uniform(inputRows * width, -1, 1, seed++));
    const next = rng(seed++);
    const idValues = Array.from(
      { length: count },
      (_, i) => i % 7 === 3 ? inputRows + (i % 2) * 1e6 : Math.floor(next() * inputRows),
    );
    using input = table.buffer;
    using ids = device.newBuffer(new Uint32Array(idValues));
    using output = device.newBuffer(count * width * 4);
    const options = { registry, input, ids, output, inputRows, width, count };
    await run(device, (e) => seed % 3 ? gather(e, options) : gatherSync(e, options));
    assertClose(
      download(output, "f32", count * width),
      gatherRef(table.values, idValues, width),
      EXACT,
      `gather [${inputRows}, ${width}] × ${count}`,
    );
  }
});

Deno.test("COPY_N_READS and GATHER_N_READS match copy.metal and gather.metal", () => {
  for (
    const [file, name, value] of [["copy", "COPY_N_READS", COPY_N_READS], [
      "gather",
      "GATHER_N_READS",
      GATHER_N_READS,
    ]] as const
  ) {
    assert.strictEqual(shaderConstant(shaderText(`${file}.metal`), name), value, file);
  }
});

Deno.test("stridedCopy() rejects a too small input and in-place use before any native call", async () => {
  using small = device.newBuffer(4 * 100);
  using big = device.newBuffer(4 * 10000);
  await assertRejectsBeforeNative(stridedCopy, stridedCopySync)(
    device,
    (registry) => ({ registry, input: small, output: big, rows: 10, cols: 10, rowStride: 11 }),
    RangeError,
    /^Cannot encode strided_copy_f32: "input" holds 400 bytes, expected at least 436 \(\(offset 0 \+ \(rows 10 - 1\) × rowStride 11 \+ \(cols 10 - 1\) × colStride 1 \+ 1\) × 4 bytes\)$/,
  );
  await assertRejectsBeforeNative(stridedCopy, stridedCopySync)(
    device,
    (registry) => ({
      registry,
      input: big,
      output: big,
      rows: 10,
      cols: 10,
      rowStride: 1,
      colStride: 10,
    }),
    RangeError,
    /"output" is the same buffer as "input"/,
  );
  await assertRejectsBeforeNative(stridedCopy, stridedCopySync)(
    device,
    (registry) => ({ registry, input: big, output: small, rows: 2, cols: 2, rowStride: -1 }),
    RangeError,
    /"rowStride" is -1, expected a non-negative integer/,
  );
});

Deno.test("offsetCopy() rejects a too small output and overlapping ranges before any native call", async () => {
  using buffer = device.newBuffer(4 * 100);
  using other = device.newBuffer(4 * 100);
  await assertRejectsBeforeNative(offsetCopy, offsetCopySync)(
    device,
    (registry) => ({ registry, input: buffer, output: other, count: 60, outputOffset: 50 }),
    RangeError,
    /^Cannot encode offset_copy_f32: "output" holds 400 bytes, expected at least 440 \(\(outputOffset 50 \+ count 60\) × 4 bytes\)$/,
  );
  await assertRejectsBeforeNative(offsetCopy, offsetCopySync)(
    device,
    (registry) => ({
      registry,
      input: buffer,
      output: buffer,
      count: 20,
      inputOffset: 0,
      outputOffset: 10,
    }),
    RangeError,
    /ranges \[0, 20\) and \[10, 30\) of one buffer overlap/,
  );
});

Deno.test("gather() rejects a too small ids buffer before any native call", async () => {
  using table = device.newBuffer(4 * 64);
  using ids = device.newBuffer(4 * 3);
  using output = device.newBuffer(4 * 64);
  await assertRejectsBeforeNative(gather, gatherSync)(
    device,
    (registry) => ({ registry, input: table, ids, output, inputRows: 8, width: 8, count: 4 }),
    RangeError,
    /^Cannot encode gather_f32: "ids" holds 12 bytes, expected at least 16 \(count 4 × 4 bytes\)$/,
  );
});
