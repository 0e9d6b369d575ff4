// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// flash_attn_vec_[f16kv_]dk{256,512} and flash_attn_vec_reduce_dk{256,512} against the f64
// attention reference (Q staged as f16) and the split-K merge reference.
import assert from "node:assert";
import { testContext } from "../_helpers.ts";
import {
  flashAttnVec,
  type FlashAttnVecOptions,
  flashAttnVecReduce,
  flashAttnVecReduceSync,
  flashAttnVecScratchBytes,
  flashAttnVecSplits,
  flashAttnVecSync,
} from "../../ops/flash_attn_vec.ts";
import { attentionRef, splitKMergeRef } from "../../ops/attention_ref.ts";
import { assertRejectsBeforeNative, checkOp, type Tolerance, uniform } from "./_helpers.ts";

const { device, registry } = testContext();

/**
 * The output is a convex combination of values in [-2, 2] computed in f32 (fast-math exp,
 * sums of at most a few hundred weights); the reference rounds Q to f16 as the kernel does,
 * so what is left is f32 arithmetic: ~1e-6 of the value range, bounded at 2e-5 absolute.
 */
const TOLERANCE: Tolerance = { rtol: 1e-4, atol: 2e-5 };

interface VecCase {
  kvDtype: "f32" | "f16";
  nHeads: number;
  nKvHeads: number;
  headDim: 256 | 512;
  kvLen: number;
  kvCapacity?: number;
  window?: number;
  ringStart?: number;
  /** Split count; "auto" passes a scratch and lets the op choose. */
  splits?: number | "auto";
  sync?: boolean;
}

function checkVec(c: VecCase, seed: number): Promise<Record<"output", Float64Array>> {
  const { kvDtype, nHeads, nKvHeads, headDim, kvLen, window, ringStart } = c;
  const kvCapacity = c.kvCapacity ?? kvLen;
  const scale = 1 / Math.sqrt(headDim);
  const kvCount = nKvHeads * kvCapacity * headDim;
  const splits = c.splits ?? 1;
  return checkOp<"q" | "k" | "v" | "scratch", "output">(device, {
    label: `flash_attn_vec ${kvDtype} H${nHeads}/${nKvHeads} D${headDim} kv${kvLen}/${kvCapacity}` +
      `${window ? ` W${window}` : ""}${ringStart ? ` ring@${ringStart}` : ""} splits ${splits}`,
    inputs: {
      q: { dtype: "f32", values: uniform(nHeads * headDim, -2, 2, seed) },
      k: { dtype: kvDtype, values: uniform(kvCount, -2, 2, seed + 1) },
      v: { dtype: kvDtype, values: uniform(kvCount, -2, 2, seed + 2) },
      scratch: {
        dtype: "f32",
        values: new Float64Array(flashAttnVecScratchBytes(nHeads, headDim) / 4),
      },
    },
    outputs: { output: { dtype: "f32", length: nHeads * headDim } },
    encode: (encoder, { q, k, v, output, scratch }) => {
      const options: FlashAttnVecOptions = {
        registry,
        q,
        k,
        v,
        output,
        kvDtype,
        nHeads,
        nKvHeads,
        headDim,
        kvLen,
        kvCapacity,
        scale,
        window,
        ringStart,
        ...(splits === "auto" ? { scratch } : splits > 1 ? { scratch, splits } : {}),
      };
      return c.sync ? flashAttnVecSync(encoder, options) : flashAttnVec(encoder, options);
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
        window,
        ringStart,
        roundQuery: "f16",
      }),
    }),
    tolerance: TOLERANCE,
  });
}

Deno.test("flash_attn_vec_dk256: one workgroup per head, GQA 4, 33 keys, spare capacity", async () => {
  await checkVec({
    kvDtype: "f32",
    nHeads: 8,
    nKvHeads: 2,
    headDim: 256,
    kvLen: 33,
    kvCapacity: 40,
  }, 1);
});

Deno.test("flash_attn_vec_dk512, flash_attn_vec_reduce_dk512: two splits over 31 keys (one split empty)", async () => {
  await checkVec({ kvDtype: "f32", nHeads: 2, nKvHeads: 1, headDim: 512, kvLen: 31, splits: 2 }, 2);
});

Deno.test("flash_attn_vec_f16kv_dk256: one key; 32 keys over three splits", async () => {
  await checkVec({ kvDtype: "f16", nHeads: 2, nKvHeads: 2, headDim: 256, kvLen: 1 }, 3);
  await checkVec({ kvDtype: "f16", nHeads: 4, nKvHeads: 1, headDim: 256, kvLen: 32, splits: 3 }, 4);
});

Deno.test("flash_attn_vec_f16kv_dk512: window of 40 keys in a wrapped ring buffer, GQA 5, four splits", async () => {
  await checkVec({
    kvDtype: "f16",
    nHeads: 5,
    nKvHeads: 1,
    headDim: 512,
    kvLen: 100,
    window: 40,
    ringStart: 77,
    splits: 4,
  }, 5);
});

Deno.test("flashAttnVec() with a scratch picks its own split count; flashAttnVecSync() matches", async () => {
  await checkVec({
    kvDtype: "f32",
    nHeads: 1,
    nKvHeads: 1,
    headDim: 256,
    kvLen: 130,
    splits: "auto",
  }, 6);
  await checkVec({
    kvDtype: "f32",
    nHeads: 2,
    nKvHeads: 1,
    headDim: 256,
    kvLen: 70,
    ringStart: 3,
    splits: 3,
    sync: true,
  }, 7);
});

Deno.test("flashAttnVecSplits() fills the device without exceeding the chunks or 32", () => {
  assert.strictEqual(flashAttnVecSplits(32, 4096, "metal"), 32);
  assert.strictEqual(flashAttnVecSplits(64, 4096, "metal"), 16);
  assert.strictEqual(flashAttnVecSplits(8, 33, "metal"), 2);
  assert.strictEqual(flashAttnVecSplits(1, 1, "metal"), 1);
  assert.strictEqual(flashAttnVecSplits(64, 4096, "cpu"), 1);
  const cpu = flashAttnVecSplits(1, 4096, "cpu");
  assert.strictEqual(cpu, Math.min(32, 2 * navigator.hardwareConcurrency));
});

Deno.test("flash_attn_vec_reduce_dk256: merges partials as splitKMergeRef, skipping empty ones", async () => {
  const rows = 3, splits = 5, headDim = 256;
  const partials = uniform(rows * splits * headDim, -4, 4, 30);
  const sums = uniform(rows * splits, 0.5, 3, 31);
  const maxima = uniform(rows * splits, -5, 5, 32);
  sums[1] = 0; // row 0, split 1 saw no key
  maxima[1] = 1e30;
  for (let w = 0; w < splits; w++) sums[2 * splits + w] = 0; // row 2 saw none at all
  const scratch = new Float64Array(rows * splits * (headDim + 2));
  scratch.set(partials);
  for (let i = 0; i < rows * splits; i++) {
    scratch[rows * splits * headDim + 2 * i] = sums[i];
    scratch[rows * splits * headDim + 2 * i + 1] = maxima[i];
  }
  for (const sync of [false, true]) {
    const { output } = await checkOp<"scratch", "output">(device, {
      label: `flash_attn_vec_reduce_dk256${sync ? " sync" : ""}`,
      inputs: { scratch: { dtype: "f32", values: scratch } },
      outputs: { output: { dtype: "f32", length: rows * headDim } },
      encode: (encoder, { scratch, output }) => {
        const options = { registry, scratch, output, rows, headDim, splits };
        return sync
          ? flashAttnVecReduceSync(encoder, options)
          : flashAttnVecReduce(encoder, options);
      },
      reference: ({ scratch }) => ({
        output: splitKMergeRef({
          partials: scratch.subarray(0, rows * splits * headDim),
          sums: scratch.filter((_, i) => i >= rows * splits * headDim && i % 2 === 0),
          maxima: scratch.filter((_, i) => i >= rows * splits * headDim && i % 2 === 1),
          rows,
          splits,
          headDim,
        }),
      }),
      tolerance: { rtol: 1e-5, atol: 1e-6 },
    });
    assert.ok(output.subarray(2 * headDim).every((x) => x === 0));
  }
});

Deno.test("flashAttnVec() rejects head dims, GQA ratios, windows, ring starts and scratch it cannot use", async () => {
  using q = device.newBuffer(512 * 4 * 4);
  using kv = device.newBuffer(1 << 16);
  using output = device.newBuffer(1 << 14);
  using small = device.newBuffer(1024);
  const base: Omit<FlashAttnVecOptions, "registry"> = {
    q,
    k: kv,
    v: kv,
    output,
    kvDtype: "f32",
    nHeads: 4,
    nKvHeads: 2,
    headDim: 256,
    kvLen: 8,
    scale: 1,
  };
  const cases: [Partial<FlashAttnVecOptions>, typeof RangeError | typeof TypeError, RegExp][] = [
    [
      { headDim: 128 },
      RangeError,
      /^Cannot encode flashAttnVec: "headDim" is 128, expected 256 or 512$/,
    ],
    [{ kvDtype: "bf16" as "f32" }, TypeError, /"kvDtype" is "bf16", expected one of "f32", "f16"/],
    [{ nKvHeads: 3 }, RangeError, /^Cannot encode flash_attn_vec_dk256: "nKvHeads" is 3/],
    [{ window: -1 }, RangeError, /"window" is -1/],
    [
      { ringStart: 8 },
      RangeError,
      /"ringStart" is 8, expected an integer from 0 to 7 \(kvCapacity 8\)/,
    ],
    [
      { splits: 2 },
      TypeError,
      /"scratch" is undefined, expected a DeviceBuffer of at least 8256 bytes for 2 splits/,
    ],
    [{ splits: 33, scratch: kv }, RangeError, /"splits" is 33, expected at most 32/],
    [
      { splits: 2, scratch: small },
      RangeError,
      /"scratch" holds 1024 bytes, expected at least 8256/,
    ],
    [{ splits: 2, scratch: output }, RangeError, /"scratch" is the same buffer as "output"/],
    [{ kvLen: 100 }, RangeError, /"k" holds 65536 bytes, expected at least 204800/],
  ];
  for (const [change, errorClass, message] of cases) {
    await assertRejectsBeforeNative(flashAttnVec, flashAttnVecSync)(
      device,
      (registry) => ({ ...base, registry, ...change }),
      errorClass,
      message,
    );
  }
});
