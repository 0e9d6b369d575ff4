// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// The ten steel_attention_* prefill kernels against the f64 attention reference (scaled Q
// rounded to the I/O dtype), through each function-constant path: aligned and ragged query
// and key tiles, mask on/off (additive and boolean), causal, tile skipping.
import assert from "node:assert";
import { testContext } from "../_helpers.ts";
import {
  flashAttnPrefill,
  type FlashAttnPrefillDType,
  type FlashAttnPrefillOptions,
  flashAttnPrefillSync,
  flashAttnPrefillTileShape,
} from "../../ops/flash_attn_prefill.ts";
import { attentionRef, type AttentionRefOptions } from "../../ops/attention_ref.ts";
import { assertRejectsBeforeNative, checkOp, type Tolerance, uniform } from "./_helpers.ts";

const { device, registry } = testContext();

/**
 * Outputs are convex combinations of values in [-2, 2] with f32 scores, exp2 and sums; the
 * reference rounds the scaled query as the kernel does, so what is left is the output's one
 * rounding to the I/O dtype (f16 u = 2^-11, bf16 u = 2^-8, relative) and f32 arithmetic
 * (~1e-6 of the value range; an absolute bound for entries near zero, and for the f32
 * rounding of the scaled query before its rounding to the 16-bit dtype).
 */
const TOLERANCE: Record<FlashAttnPrefillDType, Tolerance> = {
  f32: { rtol: 1e-4, atol: 2e-5 },
  f16: { rtol: 1e-3, atol: 1e-4 },
  bf16: { rtol: 8e-3, atol: 1e-4 },
};

interface PrefillCase {
  dtype: FlashAttnPrefillDType;
  headDim: 256 | 512;
  batch?: number;
  nHeads: number;
  nKvHeads: number;
  qLen: number;
  kvLen: number;
  kvCapacity?: number;
  causal: boolean;
  queryOffset?: number;
  /** Mask values (additive: any number or −Infinity; boolean: 0/1), read at `maskStrides`. */
  mask?: { kind: "additive" | "boolean"; values: number[]; strides?: [number, number, number] };
  /**
   * Tile codes, and the mask values the kernel reads in place of the reference's where the
   * code is 2 (it must not read them).
   */
  tileSkip?: { codes: number[]; maskOnDevice: number[] };
  sync?: boolean;
}

function checkPrefill(c: PrefillCase, seed: number): Promise<Record<"output", Float64Array>> {
  const { dtype, headDim, batch = 1, nHeads, nKvHeads, qLen, kvLen, causal, mask } = c;
  const kvCapacity = c.kvCapacity ?? kvLen;
  const scale = 1 / Math.sqrt(headDim);
  const qCount = batch * nHeads * qLen * headDim;
  const kvCount = batch * nKvHeads * kvCapacity * headDim;
  const deviceMask = c.tileSkip?.maskOnDevice ?? mask?.values;
  const maskBuffer = mask === undefined
    ? undefined
    : mask.kind === "boolean"
    ? device.newBuffer(new Uint8Array(deviceMask!))
    : undefined;
  const tileBuffer = c.tileSkip ? device.newBuffer(new Uint8Array(c.tileSkip.codes)) : undefined;
  const additive = mask?.kind === "additive";
  const label =
    `${dtype} D${headDim} B${batch} H${nHeads}/${nKvHeads} q${qLen} kv${kvLen}/${kvCapacity}` +
    `${causal ? " causal" : ""}${mask ? ` ${mask.kind} mask` : ""}${
      c.tileSkip ? " tile skip" : ""
    }`;
  return checkOp<"q" | "k" | "v" | "maskValues", "output">(device, {
    label,
    inputs: {
      q: { dtype, values: uniform(qCount, -2, 2, seed) },
      k: { dtype, values: uniform(kvCount, -2, 2, seed + 1) },
      v: { dtype, values: uniform(kvCount, -2, 2, seed + 2) },
      // The additive mask travels as an input of the I/O dtype (a 1-element stand-in otherwise).
      maskValues: { dtype, values: additive ? deviceMask! : [0] },
    },
    outputs: { output: { dtype, length: qCount } },
    encode: (encoder, { q, k, v, output, maskValues }) => {
      const options: FlashAttnPrefillOptions = {
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
        causal,
        queryOffset: c.queryOffset,
        ...(mask && {
          mask: { kind: mask.kind, buffer: maskBuffer ?? maskValues, strides: mask.strides },
        }),
        ...(tileBuffer && { tileSkip: tileBuffer }),
      };
      return c.sync ? flashAttnPrefillSync(encoder, options) : flashAttnPrefill(encoder, options);
    },
    reference: ({ q, k, v }) => {
      const options: AttentionRefOptions = {
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
        causal,
        queryOffset: c.queryOffset,
        roundScaledQuery: dtype,
      };
      if (mask) {
        // The reference reads the mask as rounded to the I/O dtype (additive) or as given.
        const values = additive
          ? mask.values.map((x) => x === -Infinity ? x : roundTo(dtype, x))
          : mask.values;
        options.mask = { kind: mask.kind, values, strides: mask.strides };
      }
      return { output: attentionRef(options) };
    },
    tolerance: TOLERANCE[dtype],
  }).finally(() => {
    maskBuffer?.close();
    tileBuffer?.close();
  });
}

function roundTo(dtype: FlashAttnPrefillDType, x: number): number {
  if (dtype === "f32") return Math.fround(x);
  if (dtype === "f16") return Math.f16round(x);
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer);
  u[0] = ((u[0] + 0x7fff + ((u[0] >>> 16) & 1)) >>> 16) << 16;
  return f[0];
}

/** A boolean plane `[qLen, kvLen]`: key j visible from row i when causal and within `window` keys. */
function windowPlane(qLen: number, kvLen: number, window: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < qLen; i++) {
    const position = kvLen - qLen + i;
    for (let j = 0; j < kvLen; j++) out.push(j <= position && position - j < window ? 1 : 0);
  }
  return out;
}

// Each specialisation (function-constant set) is one compile of the whole file on the CPU
// backend, so the cases share three: ragged tiles + mask + causal (every name), aligned tiles
// without mask or causal, and aligned tiles + mask + tile skipping.

Deno.test("steel_attention_float32_bq32_bk16_bd256_wm4_wn1_maskfloat32, steel_attention_float32_bq32_bk16_bd256_wm4_wn1_maskbool_: ragged tiles, causal, GQA 2", async () => {
  const values = [...uniform(33 * 33, -3, 1, 9)].map((x, i) => i % 7 === 3 ? -Infinity : x);
  await checkPrefill({
    dtype: "f32",
    headDim: 256,
    nHeads: 2,
    nKvHeads: 1,
    qLen: 33,
    kvLen: 33,
    causal: true,
    mask: { kind: "additive", values },
  }, 1);
  // A sliding window expressed through a boolean mask.
  await checkPrefill({
    dtype: "f32",
    headDim: 256,
    nHeads: 1,
    nKvHeads: 1,
    qLen: 20,
    kvLen: 31,
    causal: true,
    mask: { kind: "boolean", values: windowPlane(20, 31, 5) },
  }, 2);
});

Deno.test("steel_attention_float16_bq32_bk16_bd256_wm4_wn1_maskfloat16, steel_attention_float16_bq32_bk16_bd256_wm4_wn1_maskbool_: per-head additive mask with batch 2 and GQA 5; GQA 8 with spare capacity", async () => {
  const [qLen, kvLen, nHeads] = [5, 17, 5];
  await checkPrefill({
    dtype: "f16",
    headDim: 256,
    batch: 2,
    nHeads,
    nKvHeads: 1,
    qLen,
    kvLen,
    causal: true,
    mask: {
      kind: "additive",
      values: [...uniform(2 * nHeads * qLen * kvLen, -2, 2, 4)],
      strides: [nHeads * qLen * kvLen, qLen * kvLen, kvLen],
    },
  }, 3);
  await checkPrefill({
    dtype: "f16",
    headDim: 256,
    nHeads: 8,
    nKvHeads: 1,
    qLen: 3,
    kvLen: 31,
    kvCapacity: 40,
    causal: true,
    mask: { kind: "boolean", values: windowPlane(3, 31, 12) },
  }, 4);
});

Deno.test("steel_attention_float16_bq8_bk8_bd512_wm1_wn1_maskfloat16, steel_attention_float16_bq8_bk8_bd512_wm1_wn1_maskbool_: ragged 8×8 tiles, right-aligned and offset queries", async () => {
  await checkPrefill({
    dtype: "f16",
    headDim: 512,
    nHeads: 2,
    nKvHeads: 2,
    qLen: 9,
    kvLen: 17,
    causal: true,
    mask: { kind: "additive", values: [...uniform(9 * 17, -1, 1, 70)] },
  }, 5);
  await checkPrefill({
    dtype: "f16",
    headDim: 512,
    nHeads: 1,
    nKvHeads: 1,
    qLen: 9,
    kvLen: 17,
    causal: true,
    queryOffset: 2,
    mask: { kind: "boolean", values: windowPlane(9, 17, 17) },
  }, 6);
});

Deno.test("steel_attention_bfloat16_bq32_bk16_bd256_wm4_wn1_maskbfloat16, steel_attention_bfloat16_bq32_bk16_bd256_wm4_wn1_maskbool_: 31 keys with GQA 8; one query, one key", async () => {
  await checkPrefill({
    dtype: "bf16",
    headDim: 256,
    nHeads: 8,
    nKvHeads: 1,
    qLen: 3,
    kvLen: 31,
    kvCapacity: 40,
    causal: true,
    mask: { kind: "additive", values: [...uniform(3 * 31, -1, 1, 80)] },
  }, 7);
  await checkPrefill({
    dtype: "bf16",
    headDim: 256,
    nHeads: 1,
    nKvHeads: 1,
    qLen: 1,
    kvLen: 1,
    causal: true,
    mask: { kind: "boolean", values: [1] },
  }, 8);
});

Deno.test("steel_attention_bfloat16_bq8_bk8_bd512_wm1_wn1_maskbfloat16, steel_attention_bfloat16_bq8_bk8_bd512_wm1_wn1_maskbool_: rows before the first key are zeros; sync", async () => {
  const { output } = await checkPrefill({
    dtype: "bf16",
    headDim: 512,
    nHeads: 1,
    nKvHeads: 1,
    qLen: 3,
    kvLen: 1,
    causal: true,
    mask: { kind: "boolean", values: [1, 1, 1] },
  }, 9);
  assert.ok(output.subarray(0, 2 * 512).every((x) => x === 0));
  await checkPrefill({
    dtype: "bf16",
    headDim: 512,
    nHeads: 4,
    nKvHeads: 2,
    qLen: 7,
    kvLen: 33,
    causal: true,
    mask: { kind: "additive", values: [...uniform(7 * 33, -1, 1, 90)] },
    sync: true,
  }, 10);
});

Deno.test("steel_attention_float32_bq32_bk16_bd256_wm4_wn1_maskfloat32, steel_attention_bfloat16_bq8_bk8_bd512_wm1_wn1_maskbfloat16: no mask and no causal masking, aligned tiles", async () => {
  await checkPrefill({
    dtype: "f32",
    headDim: 256,
    nHeads: 1,
    nKvHeads: 1,
    qLen: 32,
    kvLen: 48,
    causal: false,
  }, 11);
  await checkPrefill({
    dtype: "bf16",
    headDim: 512,
    nHeads: 2,
    nKvHeads: 1,
    qLen: 8,
    kvLen: 16,
    causal: false,
  }, 12);
});

Deno.test("steel_attention_float16_bq32_bk16_bd256_wm4_wn1_maskbool_: tile skipping (skip, normal, no-mask tiles)", async () => {
  // Two query tiles × three key tiles of 32 × 16. Codes per (query tile, key tile).
  const [qLen, kvLen] = [64, 48];
  const codes = [1, 0, 2, 2, 1, 0];
  const { bq, bk } = flashAttnPrefillTileShape("f16", 256);
  const truth: number[] = [];
  const onDevice: number[] = [];
  for (let i = 0; i < qLen; i++) {
    for (let j = 0; j < kvLen; j++) {
      const code = codes[Math.floor(i / bq) * 3 + Math.floor(j / bk)];
      const random = (i * 31 + j * 17) % 5 !== 0 ? 1 : 0;
      truth.push(code === 0 ? 0 : code === 2 ? 1 : random);
      onDevice.push(code === 2 ? 0 : random); // a code-2 tile must not be read
    }
  }
  await checkPrefill({
    dtype: "f16",
    headDim: 256,
    nHeads: 1,
    nKvHeads: 1,
    qLen,
    kvLen,
    causal: false,
    mask: { kind: "boolean", values: truth },
    tileSkip: { codes, maskOnDevice: onDevice },
  }, 13);
});

Deno.test("flashAttnPrefill() rejects dtypes, head dims, masks and tables it cannot use, before any native call", async () => {
  using big = device.newBuffer(1 << 16);
  using other = device.newBuffer(1 << 16);
  using small = device.newBuffer(8);
  const base: Omit<FlashAttnPrefillOptions, "registry"> = {
    q: big,
    k: other,
    v: other,
    output: big,
    dtype: "f16",
    nHeads: 2,
    nKvHeads: 1,
    headDim: 256,
    qLen: 4,
    kvLen: 20,
    scale: 0.1,
    causal: true,
  };
  const cases: [Partial<FlashAttnPrefillOptions>, typeof RangeError | typeof TypeError, RegExp][] =
    [
      [
        { dtype: "f32", headDim: 512 },
        RangeError,
        /^Cannot encode flashAttnPrefill: "headDim" is 512, expected 256 for dtype "f32"$/,
      ],
      [{ headDim: 128 }, RangeError, /"headDim" is 128, expected 256 or 512 for dtype "f16"/],
      [
        { dtype: "i32" as "f16" },
        TypeError,
        /"dtype" is "i32", expected one of "f32", "f16", "bf16"/,
      ],
      [{ nKvHeads: 3 }, RangeError, /"nKvHeads" is 3, expected a divisor of nHeads 2/],
      [
        { causal: undefined as unknown as boolean },
        TypeError,
        /"causal" is undefined, expected true or false/,
      ],
      [
        { mask: { kind: "boolean", buffer: small } },
        RangeError,
        /^Cannot encode steel_attention_float16_bq32_bk16_bd256_wm4_wn1_maskbool_: "mask.buffer" holds 8 bytes, expected at least 80/,
      ],
      [
        { mask: { kind: "additive", buffer: big, strides: [0, -1, 20] } },
        RangeError,
        /"mask.strides" is \[0,-1,20\]/,
      ],
      [{ mask: { kind: "soft" as "boolean", buffer: big } }, TypeError, /"mask.kind" is "soft"/],
      [
        { tileSkip: small, qLen: 40, kvLen: 80 },
        RangeError,
        /"tileSkip" holds 8 bytes, expected at least 10 \(query tiles 2 × key tiles 5 × 1 bytes\)/,
      ],
      [{ kvCapacity: 10 }, RangeError, /"kvCapacity" is 10, expected at least kvLen 20/],
    ];
  for (const [change, errorClass, message] of cases) {
    await assertRejectsBeforeNative(flashAttnPrefill, flashAttnPrefillSync)(
      device,
      (registry) => ({ ...base, registry, ...change }),
      errorClass,
      message,
    );
  }
});
