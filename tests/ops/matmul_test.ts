// Copyright 2026 the @metal-compute/kernels authors. MIT license.
import assert from "node:assert";
import { testContext } from "../_helpers.ts";
import type { Device } from "../../device.ts";
import type { FloatDType } from "../../dtype.ts";
import {
  DENSE_GEMM_THREADS,
  DENSE_GEMM_TILE_M,
  DENSE_GEMM_TILE_N,
  DENSE_GEMV_MAX_SIMDGROUPS,
  DENSE_GEMV_ROWS,
  DENSE_MATVEC_ROWS_PER_SIMDGROUP,
  DENSE_MATVEC_SIMDGROUPS,
} from "../../ops/_defines.ts";
import {
  denseGemm,
  denseGemmSync,
  denseGemvBf16,
  denseGemvBf16Sync,
  denseMatvec,
  type DenseMatvecDTypes,
  denseMatvecSync,
  MATMUL_KERNELS,
} from "../../ops/matmul.ts";
import { gemvBatchedRef, matmulAbsRef, matmulRef } from "../../ops/matmul_ref.ts";
import {
  assertRejectsBeforeNative,
  download,
  run,
  shaderConstant,
  shaderText,
  spies,
  type Tolerance,
  TOLERANCES,
  uniform,
  upload,
} from "./_helpers.ts";

const { device, registry } = testContext();

const dataCache = new Map<string, Float64Array>();

/** A seed per shape, so that kernels tested on the same shape share their data. */
function seedOf(m: number, n: number, k: number): number {
  return (m * 7919 + n) * 7907 + k;
}

/**
 * {@linkcode uniform} in [−1, 1), memoised: the dtype variants of one shape share their
 * random data (each still rounds it to its own dtype on upload), which keeps this file's
 * run time down on the CPU backend.
 */
function data(length: number, seed: number): Float64Array {
  const key = `${length}:${seed}`;
  let values = dataCache.get(key);
  if (!values) {
    values = uniform(length, -1, 1, seed);
    dataCache.set(key, values);
  }
  return values;
}

/**
 * Error bound for a dot product of length `k` accumulated in f32 and stored as `dtype`,
 * against the f64 sum of the exact values the kernel read:
 *
 *   |got − ref| ≤ atol + rtol · |ref| + 4 · √k · 2⁻²⁴ · Σ|a·b|
 *
 * - `atol + rtol · |ref|` (TOLERANCES[dtype]) covers the one rounding of the result to the
 *   storage dtype (f16: rtol 1e-3 ≈ 2u; f32: 1e-5).
 * - The last term covers f32 accumulation. Each of the k − 1 additions (and each f32
 *   product of an f32 activation with a half/bfloat weight) errs by at most u = 2⁻²⁴ times
 *   a partial sum bounded by Σ|a·b|: worst case γ_k ≈ k·u·Σ|a·b|, but the errors are
 *   independent and of random sign for random data, so they grow like √k·u·Σ|a·b|
 *   (Higham, "Accuracy and Stability of Numerical Algorithms", §4.2 / probabilistic
 *   analysis). Factor 4 is headroom. For the shapes here (k ≤ 4096, data in [−1, 1)) it is
 *   ≤ 4 · 64 · 6e-8 · Σ|a·b| ≈ 1.5e-5 · Σ|a·b|. Relative error alone is not usable: sums of
 *   random signs can cancel to near 0 while the accumulated error cannot.
 * For f16 output the storage rounding dominates; for f32 output the accumulation term does.
 */
function matmulBound(dtype: FloatDType, k: number): (ref: number, abs: number) => number {
  const { rtol, atol }: Tolerance = TOLERANCES[dtype];
  const acc = 4 * Math.sqrt(k) * 2 ** -24;
  return (ref, abs) => atol + rtol * Math.abs(ref) + acc * abs;
}

function assertMatmulClose(
  got: ArrayLike<number>,
  ref: ArrayLike<number>,
  abs: ArrayLike<number>,
  bound: (ref: number, abs: number) => number,
  label: string,
): void {
  assert.strictEqual(got.length, ref.length, `${label}: length`);
  let failures = 0;
  let first = -1;
  for (let i = 0; i < ref.length; i++) {
    if (!(Math.abs(got[i] - ref[i]) <= bound(ref[i], abs[i]))) {
      failures++;
      if (first < 0) first = i;
    }
  }
  if (failures > 0) {
    assert.fail(
      `${label}: ${failures} of ${ref.length} outputs out of tolerance; first at [${first}]: got ${
        got[first]
      }, expected ${ref[first]} ± ${bound(ref[first], abs[first])}`,
    );
  }
}

/** The four (weightDType, dtype) pairs of denseMatvec, with their kernel names. */
const MATVEC_PAIRS: readonly (DenseMatvecDTypes & { kernel: string })[] = [
  { weightDType: "f32", dtype: "f32", kernel: "dense_matvec_f32" },
  { weightDType: "f16", dtype: "f16", kernel: "dense_matvec_f16" },
  { weightDType: "f16", dtype: "f32", kernel: "dense_matvec_f16w_f32io" },
  { weightDType: "bf16", dtype: "f32", kernel: "dense_matvec_bf16w_f32io" },
];

/**
 * [m, n, k]: edge shapes (1 × 1, counts around 32 and around the 8 rows of a threadgroup,
 * k not a multiple of 4 so the scalar path runs) and realistic decode projections (hidden
 * 2048 → 2048, 4096 → 1024 (GQA k/v), a 32000-token vocabulary over k = 64, several rows).
 */
const MATVEC_SHAPES: readonly (readonly [number, number, number])[] = [
  [1, 1, 1],
  [1, 31, 33],
  [1, 33, 31],
  [2, 9, 4],
  [3, 1000, 1000],
  [1, 2048, 2048],
  [1, 1024, 4096],
  [1, 32000, 64],
  [4, 100, 4096],
];

async function checkMatvec(
  pair: DenseMatvecDTypes,
  [m, n, k]: readonly [number, number, number],
  sync = false,
): Promise<void> {
  const seed = seedOf(m, n, k);
  const a = upload(device, pair.dtype, data(m * k, seed));
  const b = upload(device, pair.weightDType, data(n * k, seed + 1000));
  using input = a.buffer;
  using weight = b.buffer;
  using output = device.newBuffer(m * n * (pair.dtype === "f32" ? 4 : 2));
  const options = { registry, input, weight, output, m, n, k, ...pair };
  await run(
    device,
    (encoder) => sync ? denseMatvecSync(encoder, options) : denseMatvec(encoder, options),
  );
  assertMatmulClose(
    download(output, pair.dtype, m * n),
    matmulRef(a.values, b.values, m, n, k),
    matmulAbsRef(a.values, b.values, m, n, k),
    matmulBound(pair.dtype, k),
    `${pair.weightDType}w/${pair.dtype} [${m}, ${n}, ${k}]`,
  );
}

for (const pair of MATVEC_PAIRS) {
  Deno.test(`${pair.kernel}: denseMatvec() matches the f64 reference on edge and realistic shapes`, async () => {
    for (const shape of MATVEC_SHAPES) await checkMatvec(pair, shape);
  });
}

/**
 * [m, n, k] for the f16 GEMM: edge shapes (1 × 1 × 1, one row, counts of 31/33, k below
 * one 16-wide step, n not a multiple of 4 so stores are scalar, partial 64-tiles on every
 * side) and prefill-like ones kept small enough for the CPU backend (bigger ones are in
 * bench/matmul_bench.ts).
 */
const GEMM_SHAPES: readonly (readonly [number, number, number])[] = [
  [1, 1, 1],
  [1, 64, 64],
  [31, 33, 17],
  [33, 31, 1000],
  [64, 64, 64],
  [65, 130, 33],
  [100, 1000, 64],
  [128, 256, 2048],
  [200, 256, 1024],
];

async function checkGemm(
  [m, n, k]: readonly [number, number, number],
  sync = false,
): Promise<void> {
  const seed = seedOf(m, n, k);
  const a = upload(device, "f16", data(m * k, seed));
  const b = upload(device, "f16", data(n * k, seed + 1000));
  using input = a.buffer;
  using weight = b.buffer;
  using output = device.newBuffer(m * n * 2);
  const options = { registry, input, weight, output, dtype: "f16" as const, m, n, k };
  await run(
    device,
    (encoder) => sync ? denseGemmSync(encoder, options) : denseGemm(encoder, options),
  );
  assertMatmulClose(
    download(output, "f16", m * n),
    matmulRef(a.values, b.values, m, n, k),
    matmulAbsRef(a.values, b.values, m, n, k),
    matmulBound("f16", k),
    `gemm f16 [${m}, ${n}, ${k}]`,
  );
}

Deno.test("dense_gemm_f16: denseGemm() matches the f64 reference on edge and realistic shapes", async () => {
  for (const shape of GEMM_SHAPES) await checkGemm(shape);
});

/** A batched gemv case: sizes, and the weight layout (strides default to contiguous). */
interface GemvCase {
  batches: number;
  weightBatches: number;
  m: number;
  n: number;
  k: number;
  weightRowStride?: number;
  weightBatchStride?: number;
}

/**
 * Plain mat-vec (hidden 2048, 4096 → 1024, vocab 32000 over k = 64), edge sizes (n = 1,
 * odd n, k = 4, k = 36 not a multiple of 32), several rows, and GQA attention scores:
 * 32 query heads over 8 KV heads of a strided cache (capacity 320, 300 live keys, head
 * dims 64/128/256), with 1 and several query rows.
 */
const GEMV_CASES: readonly GemvCase[] = [
  { batches: 1, weightBatches: 1, m: 1, n: 1, k: 4 },
  { batches: 1, weightBatches: 1, m: 3, n: 31, k: 36 },
  { batches: 2, weightBatches: 2, m: 1, n: 33, k: 1000 },
  { batches: 1, weightBatches: 1, m: 1, n: 2048, k: 2048 },
  { batches: 1, weightBatches: 1, m: 1, n: 1024, k: 4096 },
  { batches: 1, weightBatches: 1, m: 1, n: 32000, k: 64 },
  { batches: 32, weightBatches: 8, m: 1, n: 300, k: 128, weightBatchStride: 320 * 128 },
  { batches: 16, weightBatches: 4, m: 5, n: 257, k: 64, weightBatchStride: 320 * 64 },
  {
    batches: 8,
    weightBatches: 2,
    m: 1,
    n: 100,
    k: 256,
    weightRowStride: 260,
    weightBatchStride: 101 * 260,
  },
];

async function checkGemv(c: GemvCase, sync = false): Promise<void> {
  const seed = seedOf(c.batches * c.m, c.n, c.k);
  const rowStride = c.weightRowStride ?? c.k;
  const batchStride = c.weightBatchStride ?? c.n * rowStride;
  const weightElements = (c.weightBatches - 1) * batchStride + (c.n - 1) * rowStride + c.k;
  const w = upload(device, "bf16", data(weightElements, seed));
  const x = upload(device, "f32", data(c.batches * c.m * c.k, seed + 1000));
  using weight = w.buffer;
  using input = x.buffer;
  const outLength = c.batches * c.m * c.n;
  using output = device.newBuffer(outLength * 4);
  const options = { registry, weight, input, output, ...c };
  await run(
    device,
    (encoder) => sync ? denseGemvBf16Sync(encoder, options) : denseGemvBf16(encoder, options),
  );
  const abs = (v: number) => Math.abs(v);
  assertMatmulClose(
    download(output, "f32", outLength),
    gemvBatchedRef(w.values, x.values, c),
    gemvBatchedRef(Array.from(w.values, abs), Array.from(x.values, abs), c),
    matmulBound("f32", c.k),
    `gemv bf16 ${JSON.stringify(c)}`,
  );
}

Deno.test("hf2q_dense_gemv_bf16_f32_4: denseGemvBf16() matches the f64 reference, with GQA broadcast and strided weights", async () => {
  for (const c of GEMV_CASES) await checkGemv(c);
});

Deno.test("denseMatvecSync(), denseGemmSync() and denseGemvBf16Sync() match the f64 reference", async () => {
  await checkMatvec({ weightDType: "bf16", dtype: "f32" }, [2, 77, 300], true);
  await checkGemm([70, 65, 50], true);
  await checkGemv({ batches: 4, weightBatches: 2, m: 2, n: 45, k: 512 }, true);
});

Deno.test("denseGemm() handles f16 results near the top of the f16 range and overflow to Infinity", async () => {
  // Row 0 of A · row 0 of B = 64 · 1000 · 1 = 64000 (representable); row 1 · row 0 = 128000
  // (beyond 65504: +Infinity, the documented f16 store).
  const m = 2;
  const n = 1;
  const k = 64;
  const aValues = new Float64Array(m * k).fill(1000);
  aValues.fill(2000, k);
  const a = upload(device, "f16", aValues);
  const b = upload(device, "f16", new Float64Array(n * k).fill(1));
  using input = a.buffer;
  using weight = b.buffer;
  using output = device.newBuffer(m * n * 2);
  await run(
    device,
    (encoder) => denseGemm(encoder, { registry, input, weight, output, dtype: "f16", m, n, k }),
  );
  assert.deepStrictEqual([...download(output, "f16", m * n)], [64000, Infinity]);
});

Deno.test("denseMatvec() rejects a too small weight before any native call", async () => {
  using input = device.newBuffer(64 * 4);
  using weight = device.newBuffer(8 * 64 * 2 - 2);
  using output = device.newBuffer(8 * 4);
  await assertRejectsBeforeNative(denseMatvec, denseMatvecSync)(
    device,
    (registry) => ({
      registry,
      input,
      weight,
      output,
      weightDType: "f16",
      dtype: "f32",
      n: 8,
      k: 64,
    }),
    RangeError,
    /^Cannot encode dense_matvec_f16w_f32io: "weight" holds 1022 bytes, expected at least 1024 \(n 8 × k 64 × 2 bytes\)$/,
  );
});

Deno.test("denseGemm() rejects a too small input or output before any native call", async () => {
  using small = device.newBuffer(100);
  using big = device.newBuffer(1 << 16);
  await assertRejectsBeforeNative(denseGemm, denseGemmSync)(
    device,
    (registry) => ({
      registry,
      input: small,
      weight: big,
      output: big,
      dtype: "f16",
      m: 2,
      n: 3,
      k: 32,
    }),
    RangeError,
    /^Cannot encode dense_gemm_f16: "input" holds 100 bytes, expected at least 128 \(m 2 × k 32 × 2 bytes\)$/,
  );
  using weight = device.newBuffer(1 << 16);
  await assertRejectsBeforeNative(denseGemm, denseGemmSync)(
    device,
    (registry) => ({
      registry,
      input: big,
      weight,
      output: small,
      dtype: "f16",
      m: 2,
      n: 33,
      k: 8,
    }),
    RangeError,
    /"output" holds 100 bytes, expected at least 132 \(m 2 × n 33 × 2 bytes\)/,
  );
});

Deno.test("denseGemvBf16() rejects a too small strided weight before any native call", async () => {
  // 2 weight batches, stride 320 · 128, 300 rows of 128: needs (320 + 299) · 128 + 128 elements.
  const needed = ((2 - 1) * 320 * 128 + 299 * 128 + 128) * 2;
  using weight = device.newBuffer(needed - 2);
  using input = device.newBuffer(4 * 128 * 4);
  using output = device.newBuffer(4 * 300 * 4);
  await assertRejectsBeforeNative(denseGemvBf16, denseGemvBf16Sync)(
    device,
    (registry) => ({
      registry,
      weight,
      input,
      output,
      n: 300,
      k: 128,
      batches: 4,
      weightBatches: 2,
      weightBatchStride: 320 * 128,
    }),
    RangeError,
    new RegExp(
      `^Cannot encode hf2q_dense_gemv_bf16_f32_4: "weight" holds ${
        needed - 2
      } bytes, expected at least ${needed} \\(`,
    ),
  );
});

Deno.test("denseGemvBf16() rejects k, strides not multiple of 4 and a batches/weightBatches mismatch", async () => {
  using buffer = device.newBuffer(1 << 20);
  const base = { input: buffer, weight: buffer, n: 8, k: 64 };
  const cases: [Record<string, number>, RegExp][] = [
    [{ k: 30 }, /"k" is 30, expected a multiple of 4/],
    [{ weightRowStride: 66 }, /"weightRowStride" is 66, expected a multiple of 4/],
    [{ weightRowStride: 60 }, /"weightRowStride" is 60, expected an integer from 64 to/],
    [{ weightBatchStride: 514 }, /"weightBatchStride" is 514, expected a multiple of 4/],
    [{ batches: 6, weightBatches: 4 }, /"batches" is 6, expected a multiple of "weightBatches" 4/],
  ];
  using output = device.newBuffer(1 << 20);
  for (const [extra, message] of cases) {
    await assertRejectsBeforeNative(denseGemvBf16, denseGemvBf16Sync)(
      device,
      (registry) => ({ registry, ...base, output, ...extra }),
      RangeError,
      message,
    );
  }
});

Deno.test("denseMatvec() rejects an unsupported dtype pair with a TypeError", async () => {
  using buffer = device.newBuffer(1024);
  await assertRejectsBeforeNative(denseMatvec, denseMatvecSync)(
    device,
    (registry) => ({
      registry,
      input: buffer,
      weight: buffer,
      output: buffer,
      weightDType: "bf16",
      dtype: "f16",
      n: 4,
      k: 4,
    } as unknown as Parameters<typeof denseMatvec>[1]),
    TypeError,
    /^Cannot encode denseMatvec with bf16 weights: "dtype" is "f16", expected one of "f32"$/,
  );
  await assertRejectsBeforeNative(denseGemm, denseGemmSync)(
    device,
    (registry) => ({
      registry,
      input: buffer,
      weight: buffer,
      output: buffer,
      dtype: "f32" as "f16",
      m: 1,
      n: 4,
      k: 4,
    }),
    TypeError,
    /^Cannot encode denseGemm: "dtype" is "f32", expected one of "f16"$/,
  );
});

Deno.test("denseMatvec() and denseGemm() reject zero or fractional sizes and an output aliasing an input", async () => {
  using a = device.newBuffer(1 << 16);
  using b = device.newBuffer(1 << 16);
  for (const [m, n, k] of [[0, 4, 4], [1, 0, 4], [1, 4, 1.5]]) {
    await assertRejectsBeforeNative(denseGemm, denseGemmSync)(
      device,
      (registry) => ({ registry, input: a, weight: b, output: b, dtype: "f16", m, n, k }),
      RangeError,
      /^Cannot encode dense_gemm_f16: "(m|n|k)" is .*, expected a positive integer/,
    );
  }
  await assertRejectsBeforeNative(denseMatvec, denseMatvecSync)(
    device,
    (registry) => ({
      registry,
      input: a,
      weight: b,
      output: a,
      weightDType: "f32",
      dtype: "f32",
      n: 4,
      k: 4,
    }),
    RangeError,
    /^Cannot encode dense_matvec_f32: "output" is the same buffer as "input"/,
  );
});

Deno.test("denseMatvec() and denseGemvBf16() refuse bf16 on a device without bfloat16, before compiling", async () => {
  using buffer = device.newBuffer(1 << 12);
  using output = device.newBuffer(1 << 12);
  const oldGpu = { name: "Old GPU", capabilities: { bfloat16: false } } as unknown as Device;
  await assertRejectsBeforeNative(denseMatvec, denseMatvecSync)(
    oldGpu,
    (registry) => ({
      registry,
      input: buffer,
      weight: buffer,
      output,
      weightDType: "bf16",
      dtype: "f32",
      n: 4,
      k: 4,
    }),
    TypeError,
    /^Cannot encode dense_matvec_bf16w_f32io: device "Old GPU" has no bfloat16 support/,
  );
  await assertRejectsBeforeNative(denseGemvBf16, denseGemvBf16Sync)(
    oldGpu,
    (registry) => ({ registry, input: buffer, weight: buffer, output, n: 4, k: 4 }),
    TypeError,
    /^Cannot encode hf2q_dense_gemv_bf16_f32_4: device "Old GPU" has no bfloat16 support/,
  );
  // f16 weights on the same device go on to the registry.
  const { encoder, registry: spyRegistry, calls } = spies(oldGpu);
  await assert.rejects(
    denseMatvec(encoder, {
      registry: spyRegistry,
      input: buffer,
      weight: buffer,
      output,
      weightDType: "f16",
      dtype: "f32",
      n: 4,
      k: 4,
    }),
    /spy registry/,
  );
  assert.deepStrictEqual(calls, ["getPipeline(dense_matvec_f16w_f32io)"]);
});

Deno.test("dense matmul tuning numbers in ops/_defines.ts match dense_gemm.metal and dense_gemv_bf16.metal", () => {
  const gemm = shaderText("dense_gemm.metal");
  const gemv = shaderText("dense_gemv_bf16.metal");
  assert.strictEqual(
    shaderConstant(gemm, "DENSE_MATVEC_ROWS_PER_SIMDGROUP"),
    DENSE_MATVEC_ROWS_PER_SIMDGROUP,
  );
  assert.strictEqual(shaderConstant(gemm, "DENSE_MATVEC_SIMDGROUPS"), DENSE_MATVEC_SIMDGROUPS);
  assert.strictEqual(shaderConstant(gemm, "DENSE_GEMM_TILE_M"), DENSE_GEMM_TILE_M);
  assert.strictEqual(shaderConstant(gemm, "DENSE_GEMM_TILE_N"), DENSE_GEMM_TILE_N);
  assert.strictEqual(shaderConstant(gemm, "DENSE_GEMM_THREADS"), DENSE_GEMM_THREADS);
  // One 4 × 4 block of the tile per thread.
  assert.strictEqual(DENSE_GEMM_TILE_M * DENSE_GEMM_TILE_N, 16 * DENSE_GEMM_THREADS);
  assert.strictEqual(shaderConstant(gemv, "DENSE_GEMV_ROWS"), DENSE_GEMV_ROWS);
  assert.strictEqual(shaderConstant(gemv, "DENSE_GEMV_MAX_SIMDGROUPS"), DENSE_GEMV_MAX_SIMDGROUPS);
});

Deno.test("MATMUL_KERNELS names exactly the catalogue names of dense_gemm.metal and dense_gemv_bf16.metal", async () => {
  const { KERNELS } = await import("../../shaders/catalog.ts");
  const leaves = (t: object): string[] =>
    Object.values(t).flatMap((v) => typeof v === "string" ? [v] : leaves(v));
  const catalogue = Object.entries(KERNELS)
    .filter(([, e]) => e.file === "dense_gemm.metal" || e.file === "dense_gemv_bf16.metal")
    .map(([name]) => name).sort();
  assert.deepStrictEqual(leaves(MATMUL_KERNELS).sort(), catalogue);
  assert.strictEqual(catalogue.length, 6);
});
