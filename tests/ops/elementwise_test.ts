// Copyright 2026 the @metal-compute/kernels authors. MIT license.
import assert from "node:assert";
import { testContext } from "../_helpers.ts";
import type { FloatDType } from "../../dtype.ts";
import {
  cast,
  type CastDTypes,
  castSync,
  elementwiseAdd,
  elementwiseAddSync,
  type ElementwiseBinaryDType,
  elementwiseMul,
  elementwiseMulSync,
  embeddingGatherScale,
  embeddingGatherScaleBatch,
  embeddingGatherScaleBatchSync,
  embeddingGatherScaleSync,
  permute021,
  type Permute021DTypes,
  permute021Sync,
  scalarMul,
  scalarMulSync,
  transpose2d,
  transpose2dSync,
  transposeLast2,
  transposeLast2Sync,
} from "../../ops/elementwise.ts";
import {
  castRef,
  elementwiseAddRef,
  elementwiseMulRef,
  embeddingGatherScaleBatchRef,
  embeddingGatherScaleRef,
  permute021Ref,
  scalarMulRef,
  transpose2dRef,
  transposeLast2Ref,
} from "../../ops/elementwise_ref.ts";
import {
  assertClose,
  assertRejectsBeforeNative,
  download,
  EXACT,
  run,
  TOLERANCES,
  uniform,
  upload,
} from "./_helpers.ts";

const { device, registry } = testContext();

/**
 * Flat lengths: one element, around one SIMD-group (31, 33: partial 4-vectors), a
 * non-multiple of 32, and a hidden state of 8 tokens × 4096 plus a 3-element tail.
 */
const LENGTHS = [1, 2, 31, 33, 1000, 8 * 4096 + 3];

const BYTES: Readonly<Record<FloatDType, number>> = { f32: 4, f16: 2, bf16: 2 };

// ---- add / mul --------------------------------------------------------------------------------

const BINARY = [
  {
    name: "elementwiseAdd",
    kernel: "elementwise_add",
    op: elementwiseAdd,
    opSync: elementwiseAddSync,
    ref: elementwiseAddRef,
  },
  {
    name: "elementwiseMul",
    kernel: "elementwise_mul",
    op: elementwiseMul,
    opSync: elementwiseMulSync,
    ref: elementwiseMulRef,
  },
] as const;

for (const { name, kernel, op, opSync, ref } of BINARY) {
  for (const dtype of ["f32", "f16", "bf16"] as const satisfies readonly ElementwiseBinaryDType[]) {
    Deno.test(`${kernel}_${dtype}: ${name}() matches the f64 reference`, async () => {
      let seed = 10;
      for (const length of LENGTHS) {
        const a = upload(device, dtype, uniform(length, -8, 8, seed++));
        const b = upload(device, dtype, uniform(length, -8, 8, seed++));
        using _a = a.buffer;
        using _b = b.buffer;
        using output = device.newBuffer(length * BYTES[dtype]);
        await run(
          device,
          (encoder) => op(encoder, { registry, a: a.buffer, b: b.buffer, output, dtype, length }),
        );
        assertClose(
          download(output, dtype, length),
          ref(a.values, b.values),
          TOLERANCES[dtype],
          `${name} ${dtype} length ${length}`,
        );
      }
    });
  }

  Deno.test(`${name}Sync() runs in place (output === a)`, async () => {
    const length = 1000;
    const a = upload(device, "bf16", uniform(length, -8, 8, 5));
    const b = upload(device, "bf16", uniform(length, -8, 8, 6));
    using _a = a.buffer;
    using _b = b.buffer;
    await run(
      device,
      (encoder) =>
        opSync(encoder, {
          registry,
          a: a.buffer,
          b: b.buffer,
          output: a.buffer,
          dtype: "bf16",
          length,
        }),
    );
    assertClose(download(a.buffer, "bf16", length), ref(a.values, b.values), TOLERANCES.bf16, name);
  });

  Deno.test(`${name}() rejects a too small operand before any native call`, async () => {
    using a = device.newBuffer(4000);
    using b = device.newBuffer(3996);
    using output = device.newBuffer(4000);
    const kernel = name === "elementwiseAdd" ? "elementwise_add_f32" : "elementwise_mul_f32";
    await assertRejectsBeforeNative(op, opSync)(
      device,
      (registry) => ({ registry, a, b, output, dtype: "f32", length: 1000 }),
      RangeError,
      new RegExp(
        `^Cannot encode ${kernel}: "b" holds 3996 bytes, expected at least 4000 \\(length 1000 × 4 bytes\\)$`,
      ),
    );
  });
}

Deno.test("elementwiseAdd() rejects an unsupported dtype and a zero length", async () => {
  using buffer = device.newBuffer(64);
  await assertRejectsBeforeNative(elementwiseAdd, elementwiseAddSync)(
    device,
    (registry) => ({
      registry,
      a: buffer,
      b: buffer,
      output: buffer,
      dtype: "u32" as ElementwiseBinaryDType,
      length: 4,
    }),
    TypeError,
    /^Cannot encode elementwiseAdd: "dtype" is "u32", expected one of "f32", "f16", "bf16"$/,
  );
  await assertRejectsBeforeNative(elementwiseAdd, elementwiseAddSync)(
    device,
    (registry) => ({ registry, a: buffer, b: buffer, output: buffer, dtype: "f32", length: 0 }),
    RangeError,
    /"length" is 0, expected a positive integer/,
  );
});

// ---- casts ------------------------------------------------------------------------------------

const CASTS: readonly CastDTypes[] = [
  { from: "f16", to: "f32" },
  { from: "bf16", to: "f32" },
  { from: "f32", to: "f16" },
  { from: "f32", to: "bf16" },
];

for (const { from, to } of CASTS) {
  Deno.test(`cast_${from}_to_${to}: cast() matches the reference`, async () => {
    let seed = 40;
    for (const length of LENGTHS) {
      // Values over many binades, with some beyond the f16 range.
      const values = uniform(length, -1, 1, seed++).map((u, i) =>
        Math.sign(u) * 2 ** (Math.abs(u) * 36 - 20) * (i % 97 === 5 ? 1e3 : 1)
      );
      const input = upload(device, from, values);
      using _input = input.buffer;
      using output = device.newBuffer(length * BYTES[to]);
      await run(
        device,
        (encoder) =>
          cast(
            encoder,
            { registry, input: input.buffer, output, from, to, length } as Parameters<
              typeof cast
            >[1],
          ),
      );
      // Widening is exact; narrowing is one correctly rounded conversion.
      assertClose(
        download(output, to, length),
        castRef(input.values, to),
        to === "f32" ? EXACT : TOLERANCES[to],
        `cast ${from}→${to} length ${length}`,
      );
    }
  });
}

Deno.test("cast() f32 → f16 overflows to ±Infinity without clamping", async () => {
  const input = upload(device, "f32", [65504, -65504, 70000, -70000, 1e9]);
  using _input = input.buffer;
  using output = device.newBuffer(10);
  await run(
    device,
    (encoder) =>
      castSync(encoder, {
        registry,
        input: input.buffer,
        output,
        from: "f32",
        to: "f16",
        length: 5,
      }),
  );
  assert.deepStrictEqual(
    [...download(output, "f16", 5)],
    [65504, -65504, Infinity, -Infinity, Infinity],
  );
});

Deno.test("cast() rejects an unsupported pair and in-place use before any native call", async () => {
  using buffer = device.newBuffer(64);
  using other = device.newBuffer(64);
  await assertRejectsBeforeNative(cast, castSync)(
    device,
    (registry) => ({
      registry,
      input: buffer,
      output: other,
      from: "f16",
      to: "bf16",
      length: 4,
    } as unknown as Parameters<typeof cast>[1]),
    TypeError,
    /^Cannot encode cast from f16: "to" is "bf16", expected one of "f32"$/,
  );
  await assertRejectsBeforeNative(cast, castSync)(
    device,
    (registry) => ({ registry, input: buffer, output: buffer, from: "f32", to: "f16", length: 4 }),
    RangeError,
    /cast_f32_to_f16: "output" is the same buffer as "input"/,
  );
});

Deno.test("cast() rejects a too small output before any native call", async () => {
  using input = device.newBuffer(4000);
  using output = device.newBuffer(1998);
  await assertRejectsBeforeNative(cast, castSync)(
    device,
    (registry) => ({ registry, input, output, from: "f32", to: "bf16", length: 1000 }),
    RangeError,
    /^Cannot encode cast_f32_to_bf16: "output" holds 1998 bytes, expected at least 2000 \(length 1000 × 2 bytes\)$/,
  );
});

// ---- scalar_mul -------------------------------------------------------------------------------

for (const dtype of ["f32", "bf16"] as const) {
  Deno.test(`scalar_mul_${dtype}: scalarMul() matches the f64 reference`, async () => {
    let seed = 70;
    for (const length of LENGTHS) {
      const scalar = seed % 2 === 0 ? 0.125 : -3.5;
      const input = upload(device, dtype, uniform(length, -8, 8, seed++));
      using _input = input.buffer;
      using output = device.newBuffer(length * BYTES[dtype]);
      await run(
        device,
        (encoder) =>
          scalarMul(encoder, { registry, input: input.buffer, output, dtype, scalar, length }),
      );
      assertClose(
        download(output, dtype, length),
        scalarMulRef(input.values, scalar),
        TOLERANCES[dtype],
        `scalarMul ${dtype} length ${length}`,
      );
    }
  });
}

Deno.test("scalarMul() rejects a non-finite scalar and a too small input", async () => {
  using input = device.newBuffer(64);
  using output = device.newBuffer(64);
  await assertRejectsBeforeNative(scalarMul, scalarMulSync)(
    device,
    (registry) => ({ registry, input, output, dtype: "f32", scalar: NaN, length: 16 }),
    RangeError,
    /^Cannot encode scalar_mul_f32: "scalar" is NaN, expected a finite number$/,
  );
  await assertRejectsBeforeNative(scalarMul, scalarMulSync)(
    device,
    (registry) => ({ registry, input, output, dtype: "bf16", scalar: 2, length: 33 }),
    RangeError,
    /^Cannot encode scalar_mul_bf16: "input" holds 64 bytes, expected at least 66 \(length 33 × 2 bytes\)$/,
  );
});

// ---- embedding gathers ------------------------------------------------------------------------

Deno.test("embedding_gather_scale_f32: embeddingGatherScale() gathers and scales one row (vocab 1000 × hidden 4096, and 7 × 33)", async () => {
  for (
    const [vocabSize, hiddenSize, tokenId, scale] of [[1000, 4096, 999, 64], [7, 33, 0, -0.5], [
      1,
      1,
      0,
      1,
    ]]
  ) {
    const table = upload(device, "f32", uniform(vocabSize * hiddenSize, -1, 1, vocabSize));
    using _table = table.buffer;
    using output = device.newBuffer(hiddenSize * 4);
    await run(device, (encoder) =>
      embeddingGatherScale(encoder, {
        registry,
        table: table.buffer,
        output,
        vocabSize,
        hiddenSize,
        tokenId,
        scale,
      }));
    assertClose(
      download(output, "f32", hiddenSize),
      embeddingGatherScaleRef(table.values, hiddenSize, tokenId, scale),
      TOLERANCES.f32,
      `embedding [${vocabSize}, ${hiddenSize}] token ${tokenId}`,
    );
  }
});

Deno.test("embedding_gather_scale_batch_f32: embeddingGatherScaleBatch() gathers rows and zeroes out-of-range ids", async () => {
  for (
    const [vocabSize, hiddenSize, ids] of [
      [1000, 4096, [0, 999, 17, 17, 1000, 3, 998, 500]],
      [7, 33, [6]],
      [5, 31, [4, 0, 4294967295, 2]],
    ] as const
  ) {
    const tokens = ids.length;
    const table = upload(device, "f32", uniform(vocabSize * hiddenSize, -1, 1, hiddenSize));
    using _table = table.buffer;
    using idBuffer = device.newBuffer(new Uint32Array(ids));
    using output = device.newBuffer(tokens * hiddenSize * 4);
    await run(device, (encoder) =>
      embeddingGatherScaleBatch(encoder, {
        registry,
        table: table.buffer,
        ids: idBuffer,
        output,
        vocabSize,
        hiddenSize,
        tokens,
        scale: 2,
      }));
    assertClose(
      download(output, "f32", tokens * hiddenSize),
      embeddingGatherScaleBatchRef(table.values, hiddenSize, ids, 2),
      TOLERANCES.f32,
      `batch [${vocabSize}, ${hiddenSize}] ids ${ids}`,
    );
  }
});

Deno.test("embeddingGatherScale() rejects a token id outside the vocabulary and a small table", async () => {
  using table = device.newBuffer(7 * 33 * 4);
  using output = device.newBuffer(33 * 4);
  await assertRejectsBeforeNative(embeddingGatherScale, embeddingGatherScaleSync)(
    device,
    (registry) => ({ registry, table, output, vocabSize: 7, hiddenSize: 33, tokenId: 7 }),
    RangeError,
    /^Cannot encode embedding_gather_scale_f32: "tokenId" is 7, expected an integer from 0 to 6 \(vocabSize 7\)$/,
  );
  await assertRejectsBeforeNative(embeddingGatherScale, embeddingGatherScaleSync)(
    device,
    (registry) => ({ registry, table, output, vocabSize: 8, hiddenSize: 33, tokenId: 0 }),
    RangeError,
    /"table" holds 924 bytes, expected at least 1056 \(vocabSize 8 × hiddenSize 33 × 4 bytes\)/,
  );
});

Deno.test("embeddingGatherScaleBatch() rejects a too small ids buffer before any native call", async () => {
  using table = device.newBuffer(7 * 33 * 4);
  using ids = device.newBuffer(12);
  using output = device.newBuffer(4 * 33 * 4);
  await assertRejectsBeforeNative(embeddingGatherScaleBatch, embeddingGatherScaleBatchSync)(
    device,
    (registry) => ({ registry, table, ids, output, vocabSize: 7, hiddenSize: 33, tokens: 4 }),
    RangeError,
    /^Cannot encode embedding_gather_scale_batch_f32: "ids" holds 12 bytes, expected at least 16 \(tokens 4 × 4 bytes\)$/,
  );
});

// ---- permutations -----------------------------------------------------------------------------

/** [A, B, C]: heads × seq × head_dim, odd sizes around 32, and degenerate axes. */
const SHAPES3: readonly (readonly [number, number, number])[] = [
  [1, 1, 1],
  [8, 128, 64],
  [3, 31, 33],
  [33, 1, 100],
  [1, 1000, 3],
];

const PERMUTES: readonly Permute021DTypes[] = [
  { dtype: "f32" },
  { dtype: "bf16" },
  { dtype: "bf16", outputDType: "f32" },
];

for (const { dtype, outputDType } of PERMUTES) {
  const out = outputDType ?? dtype;
  const kernel = dtype === out ? `permute_021_${dtype}` : `permute_021_${dtype}_to_${out}`;
  Deno.test(`${kernel}: permute021() matches the reference`, async () => {
    let seed = 90;
    for (const shape of SHAPES3) {
      const n = shape[0] * shape[1] * shape[2];
      const input = upload(device, dtype, uniform(n, -4, 4, seed++));
      using _input = input.buffer;
      using output = device.newBuffer(n * BYTES[out]);
      await run(device, (encoder) =>
        permute021(
          encoder,
          {
            registry,
            input: input.buffer,
            output,
            dtype,
            outputDType,
            shape,
          } as Parameters<typeof permute021>[1],
        ));
      assertClose(download(output, out, n), permute021Ref(input.values, shape), EXACT, `${shape}`);
    }
  });
}

Deno.test("transpose_last2_bf16: transposeLast2() matches the reference", async () => {
  let seed = 120;
  for (const shape of SHAPES3) {
    const n = shape[0] * shape[1] * shape[2];
    const input = upload(device, "bf16", uniform(n, -4, 4, seed++));
    using _input = input.buffer;
    using output = device.newBuffer(n * 2);
    await run(
      device,
      (encoder) =>
        transposeLast2(encoder, { registry, input: input.buffer, output, dtype: "bf16", shape }),
    );
    assertClose(
      download(output, "bf16", n),
      transposeLast2Ref(input.values, shape),
      EXACT,
      `${shape}`,
    );
  }
});

for (const dtype of ["f32", "f16"] as const) {
  Deno.test(`transpose_2d_${dtype}: transpose2d() matches the reference`, async () => {
    let seed = 150;
    for (const [rows, cols] of [[1, 1], [1, 4096], [4096, 1], [31, 1000], [33, 257], [256, 4096]]) {
      const input = upload(device, dtype, uniform(rows * cols, -4, 4, seed++));
      using _input = input.buffer;
      using output = device.newBuffer(rows * cols * BYTES[dtype]);
      await run(
        device,
        (encoder) =>
          transpose2d(encoder, { registry, input: input.buffer, output, dtype, rows, cols }),
      );
      assertClose(
        download(output, dtype, rows * cols),
        transpose2dRef(input.values, rows, cols),
        EXACT,
        `[${rows}, ${cols}]`,
      );
    }
  });
}

Deno.test("permutation Sync twins match the references", async () => {
  const shape = [3, 31, 33] as const;
  const n = 3 * 31 * 33;
  const input = upload(device, "bf16", uniform(n, -4, 4, 7));
  using _input = input.buffer;
  using a = device.newBuffer(n * 4);
  using b = device.newBuffer(n * 2);
  using c = device.newBuffer(n * 2);
  await run(device, (encoder) => {
    permute021Sync(encoder, {
      registry,
      input: input.buffer,
      output: a,
      dtype: "bf16",
      outputDType: "f32",
      shape,
    });
    transposeLast2Sync(encoder, { registry, input: input.buffer, output: b, dtype: "bf16", shape });
    transpose2dSync(encoder, {
      registry,
      input: b,
      output: c,
      dtype: "f16",
      rows: 3 * 33,
      cols: 31,
    });
  });
  assertClose(download(a, "f32", n), permute021Ref(input.values, shape), EXACT, "permute021Sync");
  const transposed = transposeLast2Ref(input.values, shape);
  assertClose(download(b, "bf16", n), transposed, EXACT, "transposeLast2Sync");
  // transpose2d moves 2-byte elements whatever they encode: compare the bits as bf16.
  assertClose(
    download(c, "bf16", n),
    transpose2dRef(transposed, 3 * 33, 31),
    EXACT,
    "transpose2dSync",
  );
});

Deno.test("flat Sync twins (scalarMulSync, embedding *Sync) match the references", async () => {
  const input = upload(device, "f32", uniform(33, -4, 4, 8));
  using _input = input.buffer;
  using scaled = device.newBuffer(33 * 4);
  using row = device.newBuffer(11 * 4);
  using rows = device.newBuffer(2 * 11 * 4);
  using ids = device.newBuffer(new Uint32Array([2, 0]));
  await run(device, (encoder) => {
    scalarMulSync(encoder, {
      registry,
      input: input.buffer,
      output: scaled,
      dtype: "f32",
      scalar: 3,
      length: 33,
    });
    embeddingGatherScaleSync(encoder, {
      registry,
      table: input.buffer,
      output: row,
      vocabSize: 3,
      hiddenSize: 11,
      tokenId: 1,
      scale: 2,
    });
    embeddingGatherScaleBatchSync(encoder, {
      registry,
      table: input.buffer,
      ids,
      output: rows,
      vocabSize: 3,
      hiddenSize: 11,
      tokens: 2,
    });
  });
  assertClose(
    download(scaled, "f32", 33),
    scalarMulRef(input.values, 3),
    TOLERANCES.f32,
    "scalarMulSync",
  );
  assertClose(
    download(row, "f32", 11),
    embeddingGatherScaleRef(input.values, 11, 1, 2),
    TOLERANCES.f32,
    "embeddingGatherScaleSync",
  );
  assertClose(
    download(rows, "f32", 22),
    embeddingGatherScaleBatchRef(input.values, 11, [2, 0], 1),
    TOLERANCES.f32,
    "embeddingGatherScaleBatchSync",
  );
});

Deno.test("permutations reject in-place use, bad shapes and small buffers before any native call", async () => {
  using buffer = device.newBuffer(3 * 31 * 33 * 4);
  using small = device.newBuffer(100);
  await assertRejectsBeforeNative(permute021, permute021Sync)(
    device,
    (registry) => ({ registry, input: buffer, output: buffer, dtype: "f32", shape: [3, 31, 33] }),
    RangeError,
    /permute_021_f32: "output" is the same buffer as "input", but permute021 cannot run in place/,
  );
  await assertRejectsBeforeNative(permute021, permute021Sync)(
    device,
    (registry) => ({
      registry,
      input: buffer,
      output: small,
      dtype: "bf16",
      outputDType: "f32",
      shape: [3, 31, 33],
    }),
    RangeError,
    /^Cannot encode permute_021_bf16_to_f32: "output" holds 100 bytes, expected at least 12276 \(A 3 × B 31 × C 33 × 4 bytes\)$/,
  );
  await assertRejectsBeforeNative(transposeLast2, transposeLast2Sync)(
    device,
    (registry) => ({
      registry,
      input: small,
      output: buffer,
      dtype: "bf16",
      shape: [3, 31] as unknown as [number, number, number],
    }),
    TypeError,
    /"shape" is an array of 2, expected \[A, B, C\]/,
  );
  await assertRejectsBeforeNative(transposeLast2, transposeLast2Sync)(
    device,
    (registry) => ({ registry, input: small, output: buffer, dtype: "bf16", shape: [3, 31, 33] }),
    RangeError,
    /transpose_last2_bf16: "input" holds 100 bytes, expected at least 6138/,
  );
  await assertRejectsBeforeNative(transpose2d, transpose2dSync)(
    device,
    (registry) => ({ registry, input: buffer, output: small, dtype: "f16", rows: 31, cols: 33 }),
    RangeError,
    /^Cannot encode transpose_2d_f16: "output" holds 100 bytes, expected at least 2046 \(rows 31 × cols 33 × 2 bytes\)$/,
  );
});
