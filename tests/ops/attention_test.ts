// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// sdpa, sdpa_bf16, sdpa_sliding, sdpa_sliding_bf16 and sdpa_decode against the f64 attention
// reference, on the smallest shapes that reach each path, and their argument checks.
import assert from "node:assert";
import { testContext } from "../_helpers.ts";
import {
  sdpa,
  sdpaDecode,
  sdpaDecodeSync,
  type SdpaOptions,
  sdpaSync,
} from "../../ops/attention.ts";
import { attentionRef } from "../../ops/attention_ref.ts";
import { assertRejectsBeforeNative, checkOp, type Tolerance, uniform } from "./_helpers.ts";

const { device, registry } = testContext();

/**
 * Attention outputs are convex combinations of values in [-2, 2]; entries near zero come from
 * cancellation, so the bound is absolute as well as relative. f32: scores and weights in f32
 * with fast-math exp over at most a few hundred keys, ~1e-6 of the value range; 2e-5 leaves
 * margin. bf16: the output is rounded once to bf16 (u = 2^-8 relative), the rest is f32.
 */
const ATTENTION_TOLERANCE: Record<"f32" | "bf16", Tolerance> = {
  f32: { rtol: 1e-4, atol: 2e-5 },
  bf16: { rtol: 8e-3, atol: 2e-5 },
};

interface SdpaCase {
  dtype: "f32" | "bf16";
  batch?: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  qLen: number;
  kvLen: number;
  kvCapacity?: number;
  window?: number;
  sync?: boolean;
}

function checkSdpa(c: SdpaCase, seed: number): Promise<Record<"output", Float64Array>> {
  const { dtype, batch = 1, nHeads, nKvHeads, headDim, qLen, kvLen } = c;
  const kvCapacity = c.kvCapacity ?? kvLen;
  const scale = 1 / Math.sqrt(headDim);
  const qCount = batch * nHeads * qLen * headDim;
  const kvCount = batch * nKvHeads * kvCapacity * headDim;
  return checkOp<"q" | "k" | "v", "output">(device, {
    label: `sdpa${
      c.window ? "_sliding" : ""
    } ${dtype} B${batch} H${nHeads}/${nKvHeads} D${headDim} q${qLen} kv${kvLen}/${kvCapacity}${
      c.window ? ` W${c.window}` : ""
    }`,
    inputs: {
      q: { dtype, values: uniform(qCount, -2, 2, seed) },
      k: { dtype, values: uniform(kvCount, -2, 2, seed + 1) },
      v: { dtype, values: uniform(kvCount, -2, 2, seed + 2) },
    },
    outputs: { output: { dtype, length: qCount } },
    encode: (encoder, { q, k, v, output }) => {
      const options: SdpaOptions = {
        registry,
        q,
        k,
        v,
        output,
        dtype,
        batch,
        nHeads,
        nKvHeads,
        headDim,
        qLen,
        kvLen,
        kvCapacity,
        scale,
        window: c.window,
      };
      return c.sync ? sdpaSync(encoder, options) : sdpa(encoder, options);
    },
    reference: ({ q, k, v }) => ({
      output: attentionRef({
        q,
        k,
        v,
        batch,
        nHeads,
        nKvHeads,
        headDim,
        qLen,
        kvLen,
        kvCapacity,
        scale,
        causal: true,
        window: c.window,
        windowKeys: "size+1",
      }),
    }),
    tolerance: ATTENTION_TOLERANCE[dtype],
  });
}

Deno.test("sdpa: f32 causal attention with GQA 2 and 5, batch 2, spare capacity, D 64", async () => {
  await checkSdpa({
    dtype: "f32",
    batch: 2,
    nHeads: 4,
    nKvHeads: 2,
    headDim: 64,
    qLen: 3,
    kvLen: 33,
    kvCapacity: 40,
  }, 1);
  await checkSdpa({ dtype: "f32", nHeads: 5, nKvHeads: 1, headDim: 64, qLen: 33, kvLen: 33 }, 2);
});

Deno.test("sdpa_bf16: bf16 causal attention, GQA 4, D 128, 31 keys", async () => {
  await checkSdpa({ dtype: "bf16", nHeads: 8, nKvHeads: 2, headDim: 128, qLen: 5, kvLen: 31 }, 3);
});

Deno.test("sdpa: query rows before the first key are zeros; D 512 with one key", async () => {
  const { output } = await checkSdpa({
    dtype: "f32",
    nHeads: 1,
    nKvHeads: 1,
    headDim: 16,
    qLen: 4,
    kvLen: 2,
  }, 4);
  assert.ok(output.subarray(0, 32).every((x) => x === 0));
  await checkSdpa({ dtype: "f32", nHeads: 2, nKvHeads: 1, headDim: 512, qLen: 1, kvLen: 1 }, 5);
});

Deno.test("sdpa_sliding, sdpa_sliding_bf16: window W sees W + 1 keys", async () => {
  await checkSdpa({
    dtype: "f32",
    nHeads: 4,
    nKvHeads: 1,
    headDim: 64,
    qLen: 6,
    kvLen: 32,
    window: 4,
  }, 6);
  await checkSdpa({
    dtype: "bf16",
    nHeads: 2,
    nKvHeads: 2,
    headDim: 64,
    qLen: 3,
    kvLen: 31,
    kvCapacity: 33,
    window: 1,
  }, 7);
});

Deno.test("sdpaSync() matches the f64 reference", async () => {
  await checkSdpa({
    dtype: "f32",
    nHeads: 2,
    nKvHeads: 1,
    headDim: 32,
    qLen: 2,
    kvLen: 5,
    window: 2,
    sync: true,
  }, 8);
});

interface DecodeCase {
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  kvLen: number;
  kvCapacity?: number;
  sync?: boolean;
}

function checkDecode(c: DecodeCase, seed: number): Promise<Record<"output", Float64Array>> {
  const { nHeads, nKvHeads, headDim, kvLen } = c;
  const kvCapacity = c.kvCapacity ?? kvLen;
  const scale = 1 / Math.sqrt(headDim);
  const kvCount = nKvHeads * kvCapacity * headDim;
  return checkOp<"q" | "k" | "v", "output">(device, {
    label: `sdpa_decode H${nHeads}/${nKvHeads} D${headDim} kv${kvLen}/${kvCapacity}`,
    inputs: {
      q: { dtype: "f32", values: uniform(nHeads * headDim, -2, 2, seed) },
      k: { dtype: "f32", values: uniform(kvCount, -2, 2, seed + 1) },
      v: { dtype: "f32", values: uniform(kvCount, -2, 2, seed + 2) },
    },
    outputs: { output: { dtype: "f32", length: nHeads * headDim } },
    encode: (encoder, { q, k, v, output }) => {
      const options = {
        registry,
        q,
        k,
        v,
        output,
        nHeads,
        nKvHeads,
        headDim,
        kvLen,
        kvCapacity,
        scale,
      };
      return c.sync ? sdpaDecodeSync(encoder, options) : sdpaDecode(encoder, options);
    },
    reference: ({ q, k, v }) => ({
      output: attentionRef({
        q,
        k,
        v,
        nHeads,
        nKvHeads,
        headDim,
        qLen: 1,
        kvLen,
        kvCapacity,
        scale,
      }),
    }),
    tolerance: ATTENTION_TOLERANCE.f32,
  });
}

Deno.test("sdpa_decode: one, two and four SIMD-groups (kvLen 1, 31, 32, 33, 200), GQA 5 and 8", async () => {
  await checkDecode({ nHeads: 10, nKvHeads: 2, headDim: 128, kvLen: 1, kvCapacity: 4 }, 11);
  await checkDecode({ nHeads: 8, nKvHeads: 1, headDim: 64, kvLen: 31 }, 12);
  await checkDecode({ nHeads: 2, nKvHeads: 2, headDim: 32, kvLen: 32 }, 13);
  await checkDecode({ nHeads: 4, nKvHeads: 2, headDim: 256, kvLen: 33, kvCapacity: 40 }, 14);
  await checkDecode({ nHeads: 2, nKvHeads: 1, headDim: 128, kvLen: 200 }, 15);
});

Deno.test("sdpa_decode: D 512, and sdpaDecodeSync()", async () => {
  await checkDecode({ nHeads: 2, nKvHeads: 1, headDim: 512, kvLen: 33 }, 16);
  await checkDecode({ nHeads: 1, nKvHeads: 1, headDim: 96, kvLen: 130, sync: true }, 17);
});

Deno.test("sdpa() rejects a GQA ratio, head dim, capacity and window it cannot serve, before any native call", async () => {
  using big = device.newBuffer(1 << 16);
  using other = device.newBuffer(1 << 16);
  const base = {
    q: big,
    k: other,
    v: other,
    output: big,
    dtype: "f32" as const,
    nHeads: 4,
    nKvHeads: 2,
    headDim: 16,
    qLen: 2,
    kvLen: 8,
    scale: 0.25,
  };
  const cases: [Partial<SdpaOptions>, typeof RangeError | typeof TypeError, RegExp][] = [
    [
      { nKvHeads: 3 },
      RangeError,
      /^Cannot encode sdpa: "nKvHeads" is 3, expected a divisor of nHeads 4/,
    ],
    [{ headDim: 520 }, RangeError, /"headDim" is 520, expected at most 512/],
    [{ kvCapacity: 7 }, RangeError, /"kvCapacity" is 7, expected at least kvLen 8/],
    [{ window: 0 }, RangeError, /^Cannot encode sdpa_sliding: "window" is 0/],
    [{ scale: NaN }, RangeError, /"scale" is NaN, expected a finite number/],
    [{ output: other }, RangeError, /"output" is the same buffer as "k"/],
    [
      { dtype: "f16" as "f32" },
      TypeError,
      /^Cannot encode sdpa: "dtype" is "f16", expected one of "f32", "bf16"/,
    ],
    [
      { qLen: 1000 },
      RangeError,
      /"q" holds 65536 bytes, expected at least 256000 \(batch 1 × nHeads 4 × qLen 1000 × headDim 16 × 4 bytes\)/,
    ],
  ];
  for (const [change, errorClass, message] of cases) {
    await assertRejectsBeforeNative(sdpa, sdpaSync)(
      device,
      (registry) => ({ ...base, registry, ...change }),
      errorClass,
      message,
    );
  }
});

Deno.test("sdpaDecode() rejects head dims that are not multiples of 32, batches, and small K", async () => {
  using big = device.newBuffer(1 << 14);
  using small = device.newBuffer(100);
  using out = device.newBuffer(256);
  const base = {
    q: big,
    k: big,
    v: big,
    output: out,
    nHeads: 2,
    nKvHeads: 1,
    headDim: 32,
    kvLen: 4,
    scale: 1,
  };
  const cases: [object, RegExp][] = [
    [
      { headDim: 48 },
      /^Cannot encode sdpa_decode: "headDim" is 48, expected a multiple of 32 at most 512/,
    ],
    [{ batch: 2 }, /"batch" is 2, expected 1/],
    [{ k: small }, /"k" holds 100 bytes, expected at least 512/],
    [{ nKvHeads: 4 }, /"nKvHeads" is 4, expected a divisor of nHeads 2/],
  ];
  for (const [change, message] of cases) {
    await assertRejectsBeforeNative(sdpaDecode, sdpaDecodeSync)(
      device,
      (registry) => ({ ...base, registry, ...change }),
      RangeError,
      message,
    );
  }
});
