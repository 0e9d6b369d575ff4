// Copyright 2026 the @metal-compute/kernels authors. MIT license.
import assert from "node:assert";
import { testContext } from "../_helpers.ts";
import type { Device } from "../../device.ts";
import { roundToDType } from "../../dtype.ts";
import { KV_COPY_N_READS } from "../../ops/_defines.ts";
import {
  KV_CACHE_KERNELS,
  kvCacheCopy,
  kvCacheCopyBatch,
  kvCacheCopyBatchSync,
  type KvCacheCopyOptions,
  kvCacheCopySeq,
  kvCacheCopySeqDual,
  kvCacheCopySeqDualSync,
  kvCacheCopySeqSync,
  kvCacheCopySync,
} from "../../ops/kv_cache.ts";
import { kvCacheCopyRef, kvCacheCopySeqRef } from "../../ops/kv_cache_ref.ts";
import {
  assertClose,
  assertRejectsBeforeNative,
  download,
  EXACT,
  run,
  spies,
  uniform,
  upload,
} from "./_helpers.ts";

const { device, registry } = testContext();

// Copies are exact; a conversion to f16 is one round-to-nearest-even, which the expected
// values apply too (roundToDType), so every comparison is EXACT.
function rounded(dtype: "f32" | "f16", values: Float64Array): Float64Array {
  return values.map((v) => roundToDType(dtype, v));
}

for (const dtype of ["f16", "f32"] as const) {
  const kernel = KV_CACHE_KERNELS.flat[dtype];
  Deno.test(`${kernel}: kvCacheCopy() matches the reference, appending and wrapping`, async () => {
    // [writePos, rowSize, nNew, capacity, sliding]: a 300-token prefill into 8 heads × 128,
    // a decode token, a ring that wraps, a full ring, odd row sizes (element-wise tail).
    const cases = [
      [100, 1024, 300, 512, false],
      [511, 1024, 1, 512, false],
      [4090, 1024, 9, 4096, true],
      [7, 256, 64, 64, true],
      [3, 33, 31, 40, false],
      [2 ** 32 - 1, 1, 2, 5, true],
    ] as const;
    let seed = 1;
    for (const [writePos, rowSize, nNew, capacity, sliding] of cases) {
      const { buffer, values: old } = upload(
        device,
        dtype,
        uniform(capacity * rowSize, -9, 9, seed++),
      );
      using cache = buffer;
      const { buffer: src, values } = upload(device, dtype, uniform(nNew * rowSize, -9, 9, seed++));
      using source = src;
      const options = {
        registry,
        source,
        cache,
        dtype,
        writePos,
        rowSize,
        nNew,
        capacity,
        sliding,
      };
      await run(
        device,
        (e) => seed % 4 === 1 ? kvCacheCopySync(e, options) : kvCacheCopy(e, options),
      );
      assertClose(
        download(cache, dtype, capacity * rowSize),
        kvCacheCopyRef(old, values, options),
        EXACT,
        `${kernel} ${JSON.stringify({ writePos, rowSize, nNew, capacity, sliding })}`,
      );
    }
  });
}

for (const cacheDtype of ["f32", "f16"] as const) {
  const kernel = KV_CACHE_KERNELS.batch.f32[cacheDtype];
  Deno.test(`${kernel}: kvCacheCopyBatch() matches the reference`, async () => {
    // [nHeads, headDim, capacity, seqPos]
    const cases = [[32, 128, 256, 255], [8, 64, 512, 0], [16, 256, 96, 37], [3, 33, 5, 4], [
      1,
      1,
      1,
      0,
    ]];
    let seed = 10;
    for (const [nHeads, headDim, capacity, seqPos] of cases) {
      const { buffer, values: old } = upload(
        device,
        cacheDtype,
        uniform(nHeads * capacity * headDim, -9, 9, seed++),
      );
      using cache = buffer;
      const data = uniform(nHeads * headDim, -9, 9, seed++);
      data[0] = 70000; // beyond f16: +inf in an f16 cache
      data[data.length - 1] = 1 + 2 ** -12; // rounds to 1 in f16
      const { buffer: src, values } = upload(device, "f32", data);
      using source = src;
      const options = { registry, source, cache, cacheDtype, nHeads, headDim, capacity, seqPos };
      await run(
        device,
        (e) => seed % 2 ? kvCacheCopyBatchSync(e, options) : kvCacheCopyBatch(e, options),
      );
      assertClose(
        download(cache, cacheDtype, nHeads * capacity * headDim),
        rounded(
          cacheDtype,
          kvCacheCopySeqRef(old, values, {
            nHeads,
            headDim,
            capacity,
            seqPosStart: seqPos,
            nTokens: 1,
          }),
        ),
        EXACT,
        `${kernel} ${JSON.stringify({ nHeads, headDim, capacity, seqPos })}`,
      );
    }
  });
}

/** [nHeads, headDim, capacity, seqPosStart, nTokens, sourceTokenOffset, sourceTokens] */
const SEQ_CASES = [
  [8, 128, 512, 0, 300, 0, 300], // prefill
  [32, 64, 300, 250, 100, 20, 120], // wraps around the ring, from the middle of the source
  [4, 256, 1024, 8191, 1, 0, 1], // decode far from 0
  [3, 80, 7, 5, 7, 2, 9], // a full ring; head dim 80
  [5, 33, 40, 39, 31, 0, 31], // odd head dim: element-wise path
] as const;

for (
  const [sourceDtype, cacheDtype] of [["f32", "f32"], ["f32", "f16"], ["bf16", "f32"]] as const
) {
  const kernel = KV_CACHE_KERNELS.seq[sourceDtype][cacheDtype as "f32"];
  Deno.test(`${kernel}: kvCacheCopySeq() matches the reference, appending and wrapping`, async () => {
    let seed = 20;
    for (
      const [nHeads, headDim, capacity, seqPosStart, nTokens, sourceTokenOffset, tokens]
        of SEQ_CASES
    ) {
      const { buffer, values: old } = upload(
        device,
        cacheDtype,
        uniform(nHeads * capacity * headDim, -9, 9, seed++),
      );
      using cache = buffer;
      const { buffer: src, values } = upload(
        device,
        sourceDtype,
        uniform(tokens * nHeads * headDim, -9, 9, seed++),
      );
      using source = src;
      const shape = { nHeads, headDim, capacity, seqPosStart, nTokens, sourceTokenOffset };
      const options = { registry, source, sourceDtype, cache, cacheDtype, ...shape };
      await run(
        device,
        (e) => seed % 4 === 2 ? kvCacheCopySeqSync(e, options) : kvCacheCopySeq(e, options),
      );
      assertClose(
        download(cache, cacheDtype, nHeads * capacity * headDim),
        rounded(cacheDtype, kvCacheCopySeqRef(old, values, shape)),
        EXACT,
        `${kernel} ${JSON.stringify(shape)}`,
      );
    }
  });
}

for (const cacheDtype of ["f32", "f16"] as const) {
  const kernel = KV_CACHE_KERNELS.seqDual.f32[cacheDtype];
  Deno.test(`${kernel}: kvCacheCopySeqDual() matches the reference for K and V`, async () => {
    let seed = 40;
    for (
      const [nHeads, headDim, capacity, seqPosStart, nTokens, sourceTokenOffset, tokens]
        of SEQ_CASES
    ) {
      const size = nHeads * capacity * headDim;
      const { buffer: ck, values: oldK } = upload(device, cacheDtype, uniform(size, -9, 9, seed++));
      const { buffer: cv, values: oldV } = upload(device, cacheDtype, uniform(size, -9, 9, seed++));
      const { buffer: sk, values: k } = upload(
        device,
        "f32",
        uniform(tokens * nHeads * headDim, -9, 9, seed++),
      );
      const { buffer: sv, values: v } = upload(
        device,
        "f32",
        uniform(tokens * nHeads * headDim, -9, 9, seed++),
      );
      using cacheK = ck;
      using cacheV = cv;
      using sourceK = sk;
      using sourceV = sv;
      const shape = { nHeads, headDim, capacity, seqPosStart, nTokens, sourceTokenOffset };
      const options = { registry, sourceK, sourceV, cacheK, cacheV, cacheDtype, ...shape };
      await run(
        device,
        (e) => seed % 8 === 4 ? kvCacheCopySeqDualSync(e, options) : kvCacheCopySeqDual(e, options),
      );
      const label = `${kernel} ${JSON.stringify(shape)}`;
      assertClose(
        download(cacheK, cacheDtype, size),
        rounded(cacheDtype, kvCacheCopySeqRef(oldK, k, shape)),
        EXACT,
        `${label} K`,
      );
      assertClose(
        download(cacheV, cacheDtype, size),
        rounded(cacheDtype, kvCacheCopySeqRef(oldV, v, shape)),
        EXACT,
        `${label} V`,
      );
    }
  });
}

Deno.test("kvCacheCopy() rejects a too small cache, an overflowing append and overlapping slots", async () => {
  using source = device.newBuffer(4 * 1024 * 2);
  using cache = device.newBuffer(16 * 1024 * 2);
  const base = {
    source,
    cache,
    dtype: "f16",
    writePos: 0,
    rowSize: 1024,
    nNew: 4,
    capacity: 16,
  } as const;
  const check = assertRejectsBeforeNative(kvCacheCopy, kvCacheCopySync);
  await check(
    device,
    (registry): KvCacheCopyOptions => ({ registry, ...base, capacity: 17 }),
    RangeError,
    /^Cannot encode kv_cache_copy: "cache" holds 32768 bytes, expected at least 34816 \(capacity 17 × rowSize 1024 × 2 bytes\)$/,
  );
  await check(
    device,
    (registry): KvCacheCopyOptions => ({ registry, ...base, writePos: 13 }),
    RangeError,
    /^Cannot encode kv_cache_copy: "writePos" is 13, expected an integer from 0 to 12 \(capacity 16 − nNew 4 \+ 1\)$/,
  );
  await check(
    device,
    (registry): KvCacheCopyOptions => ({ registry, ...base, nNew: 17, sliding: true }),
    RangeError,
    /"nNew" is 17, expected at most capacity 16 \(two rows would share a slot\)/,
  );
  await check(
    device,
    (registry): KvCacheCopyOptions => ({ registry, ...base, cache: source, capacity: 4 }),
    RangeError,
    /"cache" is the same buffer as "source", the copy cannot run in place/,
  );
  await check(
    device,
    (registry): KvCacheCopyOptions => ({ registry, ...base, dtype: "bf16" as "f16" }),
    TypeError,
    /^Cannot encode kvCacheCopy: "dtype" is "bf16", expected one of "f16", "f32"$/,
  );
});

Deno.test("kvCacheCopyBatch(), kvCacheCopySeq(), kvCacheCopySeqDual() reject bad options before any native call", async () => {
  using small = device.newBuffer(8 * 64 * 4 - 4);
  using big = device.newBuffer(8 * 128 * 64 * 4);
  using big2 = device.newBuffer(8 * 128 * 64 * 4);
  const shape = { nHeads: 8, headDim: 64, capacity: 128 };
  await assertRejectsBeforeNative(kvCacheCopyBatch, kvCacheCopyBatchSync)(
    device,
    (registry) => ({ registry, source: small, cache: big, cacheDtype: "f32", ...shape, seqPos: 0 }),
    RangeError,
    /^Cannot encode kv_cache_copy_batch_f32: "source" holds 2044 bytes, expected at least 2048 \(nHeads 8 × headDim 64 × 4 bytes\)$/,
  );
  await assertRejectsBeforeNative(kvCacheCopyBatch, kvCacheCopyBatchSync)(
    device,
    (registry) => ({
      registry,
      source: big2,
      cache: big,
      cacheDtype: "f16",
      ...shape,
      seqPos: 128,
    }),
    RangeError,
    /"seqPos" is 128, expected an integer from 0 to 127 \(capacity 128\)/,
  );
  const seqCheck = assertRejectsBeforeNative(kvCacheCopySeq, kvCacheCopySeqSync);
  await seqCheck(
    device,
    (registry) => ({
      registry,
      source: big2,
      sourceDtype: "bf16",
      cache: big,
      cacheDtype: "f16",
      ...shape,
      seqPosStart: 0,
      nTokens: 1,
    }),
    TypeError,
    /^Cannot encode kvCacheCopySeq \(sourceDtype "bf16"\): "cacheDtype" is "f16", expected one of "f32"$/,
  );
  await seqCheck(
    device,
    (registry) => ({
      registry,
      source: big2,
      sourceDtype: "f32",
      cache: big,
      cacheDtype: "f32",
      ...shape,
      seqPosStart: 0,
      nTokens: 4,
      sourceTokenOffset: 125,
    }),
    RangeError,
    /"source" holds 262144 bytes, expected at least 264192 \(sourceTokenOffset \+ nTokens 129 × nHeads 8 × headDim 64 × 4 bytes\)/,
  );
  await seqCheck(
    device,
    (registry) => ({
      registry,
      source: big2,
      sourceDtype: "f32",
      cache: big,
      cacheDtype: "f32",
      ...shape,
      seqPosStart: 0,
      nTokens: 129,
    }),
    RangeError,
    /"nTokens" is 129, expected at most capacity 128/,
  );
  await assertRejectsBeforeNative(kvCacheCopySeqDual, kvCacheCopySeqDualSync)(
    device,
    (registry) => ({
      registry,
      sourceK: big2,
      sourceV: big2,
      cacheK: big,
      cacheV: big,
      cacheDtype: "f32",
      ...shape,
      seqPosStart: 0,
      nTokens: 1,
    }),
    RangeError,
    /"cacheV" is the same buffer as "cacheK", K and V need separate caches/,
  );
});

Deno.test("kvCacheCopySeq() refuses a bf16 source on a device without bfloat16, before compiling", async () => {
  using buffer = device.newBuffer(4096);
  using cache = device.newBuffer(4096);
  const oldGpu = { name: "Old GPU", capabilities: { bfloat16: false } } as unknown as Device;
  const options = {
    source: buffer,
    cache,
    cacheDtype: "f32",
    nHeads: 1,
    headDim: 64,
    capacity: 4,
    seqPosStart: 0,
    nTokens: 1,
  } as const;
  await assertRejectsBeforeNative(kvCacheCopySeq, kvCacheCopySeqSync)(
    oldGpu,
    (registry) => ({ registry, ...options, sourceDtype: "bf16" }),
    TypeError,
    /^Cannot encode kv_cache_copy_seq_bf16: device "Old GPU" has no bfloat16 support/,
  );
  const { encoder, registry: spy, calls } = spies(oldGpu);
  await assert.rejects(
    kvCacheCopySeq(encoder, { registry: spy, ...options, sourceDtype: "f32" }),
    /spy registry/,
  );
  assert.deepStrictEqual(calls, ["getPipeline(kv_cache_copy_seq_f32)"]);
});

Deno.test("KV_COPY_N_READS matches kv_cache_copy.metal", () => {
  const text = Deno.readTextFileSync(new URL("../../shaders/kv_cache_copy.metal", import.meta.url));
  const match = text.match(/constant constexpr uint KV_COPY_N_READS = (\d+);/);
  assert.strictEqual(Number(match?.[1]), KV_COPY_N_READS);
});
