// Copyright 2026 the @metal-compute/kernels authors. MIT license.
import assert from "node:assert";
import { testContext } from "../_helpers.ts";
import { affineLayout, type AffineMatrix, quantizeAffine } from "../../formats/affine.ts";
import {
  EMBEDDING_VALUES_PER_THREAD,
  embeddingGatherAffine,
  type EmbeddingGatherAffineOptions,
  embeddingGatherAffineSync,
} from "../../ops/embedding.ts";
import { embeddingGatherAffineRef } from "../../ops/embedding_ref.ts";
import { assertClose, assertRejectsBeforeNative, EXACT, run, uniform } from "./_helpers.ts";

const { device, registry } = testContext();

/**
 * A full-vocabulary table in device buffers with only the rows in `touched` written: the rest
 * stays as newBuffer left it (zero pages on the CPU backend, never materialised). Returns the
 * buffers and, for the reference, the table of the touched rows in the order given.
 */
function sparseTable(
  vocab: number,
  touched: readonly number[],
  embedDim: number,
  bits: 4 | 6,
  seed: number,
) {
  const shape = { rows: touched.length, cols: embedDim, bits, groupSize: 64 } as const;
  const rowsOnly = quantizeAffine(uniform(touched.length * embedDim, -0.2, 0.3, seed), shape);
  const { rowBytes, groupsPerRow } = affineLayout(shape);
  const table = device.newBuffer(vocab * rowBytes);
  const scales = device.newBuffer(vocab * groupsPerRow * 2);
  const biases = device.newBuffer(vocab * groupsPerRow * 2);
  const tableBytes = new Uint8Array(table.contents);
  const scaleBits = new Uint16Array(scales.contents);
  const biasBits = new Uint16Array(biases.contents);
  touched.forEach((id, i) => {
    tableBytes.set(rowsOnly.weights.subarray(i * rowBytes, (i + 1) * rowBytes), id * rowBytes);
    scaleBits.set(
      rowsOnly.scales.subarray(i * groupsPerRow, (i + 1) * groupsPerRow),
      id * groupsPerRow,
    );
    biasBits.set(
      rowsOnly.biases.subarray(i * groupsPerRow, (i + 1) * groupsPerRow),
      id * groupsPerRow,
    );
  });
  return {
    rowsOnly,
    table,
    scales,
    biases,
    [Symbol.dispose]() {
      table.close();
      scales.close();
      biases.close();
    },
  };
}

/** Looks up `ids` and checks the output exactly against the reference. */
async function checkGather(
  buffers: {
    table: EmbeddingGatherAffineOptions["table"];
    scales: EmbeddingGatherAffineOptions["scales"];
    biases: EmbeddingGatherAffineOptions["biases"];
  },
  reference: { table: AffineMatrix; ids: number[]; rowBase?: number },
  options: {
    ids: number[];
    rows: number;
    embedDim: number;
    bits: 4 | 6;
    rowBase?: number;
    sync?: boolean;
  },
  label: string,
): Promise<void> {
  const tokens = options.ids.length;
  using ids = device.newBuffer(new Uint32Array(options.ids));
  using output = device.newBuffer(tokens * options.embedDim * 4);
  const op: EmbeddingGatherAffineOptions = {
    registry,
    ...buffers,
    ids,
    output,
    tokens,
    rows: options.rows,
    embedDim: options.embedDim,
    bits: options.bits,
    groupSize: 64,
    rowBase: options.rowBase,
  };
  await run(
    device,
    (encoder) =>
      options.sync ? embeddingGatherAffineSync(encoder, op) : embeddingGatherAffine(encoder, op),
  );
  const got = new Float32Array(output.contents);
  // f32 s·q + b with s·q exact: one rounding, the same in the kernel and the reference.
  assertClose(got, embeddingGatherAffineRef(reference), EXACT, label);
}

Deno.test("embedding_gather_4bit: a 151,936-row vocabulary, group 64, only the touched rows built", async () => {
  const vocab = 151_936;
  const touched = [0, 1, 77_777, 151_935];
  using t = sparseTable(vocab, touched, 256, 4, 1);
  // Tokens repeat and come in any order; ids map to the touched rows' positions for the reference.
  const ids = [151_935, 0, 77_777, 1, 0];
  await checkGather(t, { table: t.rowsOnly, ids: ids.map((id) => touched.indexOf(id)) }, {
    ids,
    rows: vocab,
    embedDim: 256,
    bits: 4,
  }, "4-bit vocab 151936");
});

Deno.test("embedding_gather_6bit: a 262,144-row vocabulary, group 64, only the touched rows built", async () => {
  const vocab = 262_144;
  const touched = [3, 131_072, 262_143];
  using t = sparseTable(vocab, touched, 192, 6, 2);
  const ids = [262_143, 3, 131_072];
  await checkGather(t, { table: t.rowsOnly, ids: ids.map((id) => touched.indexOf(id)) }, {
    ids,
    rows: vocab,
    embedDim: 192,
    bits: 6,
    sync: true,
  }, "6-bit vocab 262144");
});

Deno.test("embeddingGatherAffine() reads a shard of the vocabulary with rowBase; ids outside it give zeros", async () => {
  // The last 300 rows of a 151,936 vocabulary at Qwen's width 2048, as a separate buffer.
  const rowBase = 151_936 - 300;
  for (const bits of [4, 6] as const) {
    const shard = quantizeAffine(uniform(300 * 2048, -1, 1, bits), {
      rows: 300,
      cols: 2048,
      bits,
      groupSize: 64,
    });
    using table = device.newBuffer(shard.weights);
    using scales = device.newBuffer(shard.scales);
    using biases = device.newBuffer(shard.biases);
    const ids = [rowBase + 299, rowBase, 5, rowBase - 1, 151_936, rowBase + 17];
    await checkGather({ table, scales, biases }, { table: shard, ids, rowBase }, {
      ids,
      rows: 300,
      embedDim: 2048,
      bits,
      rowBase,
    }, `${bits}-bit shard`);
  }
});

Deno.test("embeddingGatherAffine() rejects bad formats, shapes and small buffers before any native call", async () => {
  using big = device.newBuffer(1 << 16);
  using small = device.newBuffer(100);
  const base = {
    table: big,
    scales: big,
    biases: big,
    ids: big,
    output: big,
    tokens: 4,
    rows: 10,
    embedDim: 128,
    bits: 4 as 4 | 6,
    groupSize: 64 as const,
  };
  const check = assertRejectsBeforeNative(embeddingGatherAffine, embeddingGatherAffineSync);
  await check(
    device,
    (registry) => ({ ...base, registry, bits: 8 as 4 }),
    RangeError,
    /^Cannot encode embeddingGatherAffine: "bits" is 8, expected 4 or 6/,
  );
  await check(
    device,
    (registry) => ({ ...base, registry, groupSize: 16 as 64 }),
    RangeError,
    /^Cannot encode embedding_gather_4bit: "groupSize" is 16, expected 32, 64 or 128$/,
  );
  await check(
    device,
    (registry) => ({ ...base, registry, embedDim: 96 }),
    RangeError,
    /"embedDim" is 96, expected a multiple of the group size 64/,
  );
  await check(
    device,
    (registry) => ({ ...base, registry, rowBase: -1 }),
    RangeError,
    /"rowBase" is -1/,
  );
  await check(
    device,
    (registry) => ({ ...base, registry, table: small }),
    RangeError,
    /"table" holds 100 bytes, expected at least 640 \(rows 10 × embedDim 128 × 4 bits \/ 8\)/,
  );
  await check(
    device,
    (registry) => ({ ...base, registry, bits: 6, scales: small, rows: 30 }),
    RangeError,
    /^Cannot encode embedding_gather_6bit: "scales" holds 100 bytes, expected at least 120/,
  );
  await check(
    device,
    (registry) => ({ ...base, registry, ids: small, tokens: 26 }),
    RangeError,
    /"ids" holds 100 bytes, expected at least 104 \(tokens 26 × 4 bytes\)/,
  );
  await check(
    device,
    (registry) => ({ ...base, registry, output: small }),
    RangeError,
    /"output" holds 100 bytes, expected at least 2048/,
  );
  await check(
    device,
    (registry) => ({ ...base, registry, tokens: 0 }),
    RangeError,
    /"tokens" is 0/,
  );
});

Deno.test("embedding.metal's values per thread match ops/embedding.ts", () => {
  const text = Deno.readTextFileSync(new URL("../../shaders/embedding.metal", import.meta.url));
  const value = Number(/constexpr uint EMBEDDING_VALUES_PER_THREAD = (\d+);/.exec(text)?.[1]);
  assert.strictEqual(value, EMBEDDING_VALUES_PER_THREAD);
  // Every group size is a multiple of it, so a thread's values share one scale and bias.
  assert.strictEqual(32 % value, 0);
});
