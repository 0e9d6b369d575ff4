// Copyright 2026 the @metal-compute/kernels authors. MIT license.
import assert from "node:assert";
import { testContext } from "../_helpers.ts";
import { flashAttnVecScratchBytes } from "../../ops/flash_attn_vec.ts";
import { turboquantCacheBytes, turboquantEncodeKv } from "../../ops/turboquant.ts";
import { turboquantAttention, turboquantAttentionSync } from "../../ops/turboquant_attention.ts";
import { attentionRef } from "../../ops/attention_ref.ts";
import {
  fwhtRef,
  turboquantDecodeRef,
  type TurboquantHeadDim,
  unpackTurboquantIndices,
} from "../../ops/turboquant_ref.ts";
import { assertClose, assertRejectsBeforeNative, download, rng, run, uniform } from "./_helpers.ts";

const { device, registry } = testContext();

interface Case {
  headDim: TurboquantHeadDim;
  bits: 5 | 6 | 8;
  nHeads: number;
  nKvHeads: number;
  kvLen: number;
  kvCapacity?: number;
  ringStart?: number;
  window?: number;
  splits?: number;
  scaleFactor?: number;
  sync?: boolean;
}

/**
 * Fills both caches with random indices (for 5/6 bits the unused upper bits too, which the
 * kernel must ignore) and norms, runs turboquantAttention, and compares with attentionRef over
 * the f64 decoded cache, in the rotated domain, from the rotated query the op left in `q`.
 */
async function checkAttention(c: Case, seed: number): Promise<void> {
  const { headDim, bits, nHeads, nKvHeads, kvLen } = c;
  const kvCapacity = c.kvCapacity ?? kvLen;
  const label =
    `tq_hb D ${headDim} ${bits}-bit ${nHeads}/${nKvHeads} heads kvLen ${kvLen}/${kvCapacity}` +
    `${c.ringStart ? ` ring ${c.ringStart}` : ""}${c.window ? ` window ${c.window}` : ""} splits ${
      c.splits ?? 1
    }`;
  const bytes = turboquantCacheBytes({ nKvHeads, headDim, kvCapacity, bits });
  const next = rng(seed);
  const cache = () => ({
    packed: Uint8Array.from({ length: bytes.packed }, () => Math.floor(next() * 256)),
    norms: Float32Array.from({ length: bytes.norms / 4 }, () => 8 + 16 * next()),
  });
  const kc = cache();
  const vc = cache();
  const q = Float32Array.from(uniform(nHeads * headDim, -1, 1, seed + 1));
  const scale = 1 / Math.sqrt(headDim);
  using qBuffer = device.newBuffer(q);
  using output = device.newBuffer(nHeads * headDim * 4);
  using kPacked = device.newBuffer(kc.packed);
  using kNorms = device.newBuffer(kc.norms);
  using vPacked = device.newBuffer(vc.packed);
  using vNorms = device.newBuffer(vc.norms);
  const splits = c.splits ?? 1;
  using scratch = device.newBuffer(flashAttnVecScratchBytes(nHeads, headDim, splits));
  await run(device, (encoder) => {
    const options = {
      registry,
      q: qBuffer,
      output,
      kPacked,
      kNorms,
      vPacked,
      vNorms,
      bits,
      nHeads,
      nKvHeads,
      headDim,
      kvLen,
      kvCapacity,
      scale,
      window: c.window,
      ringStart: c.ringStart,
      scaleFactor: c.scaleFactor,
      ...(splits > 1 ? { scratch, splits } : {}),
    };
    return c.sync
      ? turboquantAttentionSync(encoder, options)
      : turboquantAttention(encoder, options);
  });
  const decode = ({ packed, norms }: { packed: Uint8Array; norms: Float32Array }) =>
    turboquantDecodeRef({
      indices: unpackTurboquantIndices(packed, bits),
      norms,
      headDim,
      bits,
      scaleFactor: c.scaleFactor,
    });
  const k = decode(kc);
  const v = decode(vc);
  // The op rotated q in place: T(q) as the kernel computed it (the FWHT is tested on its own).
  const rotatedQ = download(qBuffer, "f32", q.length);
  assertClose(
    rotatedQ,
    fwhtRef(q, { headDim, signs: "premultiply" }),
    { rtol: 1e-5, atol: 1e-6 },
    `${label} T(q)`,
  );
  const rotatedOut = attentionRef({
    q: rotatedQ,
    k,
    v,
    nHeads,
    nKvHeads,
    headDim,
    qLen: 1,
    kvLen,
    kvCapacity,
    scale,
    causal: true,
    window: c.window,
    ringStart: c.ringStart,
    roundQuery: "f16",
  });
  const expected = fwhtRef(rotatedOut, { headDim, signs: "undo" });
  // f32 dot products of D terms and an f32 softmax over ≤ 40 keys, then two FWHTs: the error
  // is a few ulps of the output's scale (the largest |v̂|), not of each (possibly tiny) entry.
  const vMax = v.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
  assertClose(
    download(output, "f32", expected.length),
    expected,
    { rtol: 1e-5, atol: 2e-6 * vMax },
    label,
  );
}

Deno.test("flash_attn_vec_tq_hb_dk256: turboquantAttention() with one key, GQA 2, 8-bit", async () => {
  await checkAttention(
    { headDim: 256, bits: 8, nHeads: 4, nKvHeads: 2, kvLen: 1, kvCapacity: 3 },
    1,
  );
});

Deno.test("flash_attn_vec_tq_hb_dk256: turboquantAttention() with 31 keys (one partial chunk), 5-bit (upper bits ignored)", async () => {
  await checkAttention({ headDim: 256, bits: 5, nHeads: 2, nKvHeads: 1, kvLen: 31 }, 2);
});

Deno.test("flash_attn_vec_tq_hb_dk512: turboquantAttention() with 33 keys over 2 splits, a scale factor, GQA 5, 6-bit", async () => {
  await checkAttention(
    {
      headDim: 512,
      bits: 6,
      nHeads: 5,
      nKvHeads: 1,
      kvLen: 33,
      kvCapacity: 40,
      splits: 2,
      scaleFactor: 1.5,
    },
    3,
  );
});

Deno.test("flash_attn_vec_tq_hb_dk256, flash_attn_vec_tq_hb_dk512: turboquantAttention() over a wrapped ring buffer, whole and with a window (empty splits merged)", async () => {
  // Full ring of 40, the oldest key at slot 13: every slot visible, in logical order.
  await checkAttention({
    headDim: 256,
    bits: 8,
    nHeads: 2,
    nKvHeads: 2,
    kvLen: 40,
    ringStart: 13,
    splits: 2,
  }, 4);
  // The last 24 keys only: one chunk for three workgroups, two of which see nothing.
  await checkAttention(
    {
      headDim: 512,
      bits: 8,
      nHeads: 1,
      nKvHeads: 1,
      kvLen: 40,
      ringStart: 13,
      window: 24,
      splits: 3,
    },
    5,
  );
});

Deno.test("flash_attn_vec_tq_hb_dk512: turboquantAttentionSync() with 33 keys and a window of 16", async () => {
  await checkAttention({
    headDim: 512,
    bits: 5,
    nHeads: 2,
    nKvHeads: 1,
    kvLen: 33,
    window: 16,
    sync: true,
  }, 6);
});

Deno.test("flash_attn_vec_tq_hb_dk256: turboquantAttention() over caches written by turboquantEncodeKv() approximates exact attention", async () => {
  // End to end: real K/V rows, 8-bit cache, 33 keys; against f64 attention on the unquantised
  // rows. The 8-bit codebook's relative error (√4.1e-5 ≈ 0.6 %) bounds the difference.
  const headDim = 256;
  const nKvHeads = 2;
  const nHeads = 4;
  const kvLen = 33;
  const x = (seed: number) =>
    Float32Array.from(
      uniform(kvLen * nKvHeads * headDim, -1, 1, seed).map((v, i) => i % 97 === 0 ? 8 * v : v),
    );
  const kx = x(11);
  const vx = x(12);
  const q = Float32Array.from(uniform(nHeads * headDim, -1, 1, 13));
  const cache = { nKvHeads, headDim, kvCapacity: kvLen, bits: 8 } as const;
  const bytes = turboquantCacheBytes(cache);
  using kSource = device.newBuffer(kx);
  using vSource = device.newBuffer(vx);
  using kPacked = device.newBuffer(bytes.packed);
  using kNorms = device.newBuffer(bytes.norms);
  using vPacked = device.newBuffer(bytes.packed);
  using vNorms = device.newBuffer(bytes.norms);
  using qBuffer = device.newBuffer(q);
  using output = device.newBuffer(q.byteLength);
  using scratch = device.newBuffer(flashAttnVecScratchBytes(nHeads, headDim));
  const scale = 4 / Math.sqrt(headDim);
  await run(device, async (encoder) => {
    const write = { registry, ...cache, position: 0, tokens: kvLen };
    await turboquantEncodeKv(encoder, {
      ...write,
      source: kSource,
      packed: kPacked,
      norms: kNorms,
    });
    await turboquantEncodeKv(encoder, {
      ...write,
      source: vSource,
      packed: vPacked,
      norms: vNorms,
    });
    await turboquantAttention(encoder, {
      registry,
      q: qBuffer,
      output,
      kPacked,
      kNorms,
      vPacked,
      vNorms,
      bits: 8,
      nHeads,
      nKvHeads,
      headDim,
      kvLen,
      scale,
      scratch,
    });
  });
  // Source rows are [token, head, D]; the reference wants [head, position, D].
  const byHead = (rows: Float32Array) => {
    const out = new Float64Array(rows.length);
    for (let t = 0; t < kvLen; t++) {
      for (let h = 0; h < nKvHeads; h++) {
        out.set(
          rows.subarray((t * nKvHeads + h) * headDim, (t * nKvHeads + h + 1) * headDim),
          (h * kvLen + t) * headDim,
        );
      }
    }
    return out;
  };
  const exact = attentionRef({
    q,
    k: byHead(kx),
    v: byHead(vx),
    nHeads,
    nKvHeads,
    headDim,
    qLen: 1,
    kvLen,
    scale,
    causal: true,
  });
  const got = download(output, "f32", exact.length);
  let err = 0;
  let norm = 0;
  for (let i = 0; i < exact.length; i++) {
    err += (got[i] - exact[i]) ** 2;
    norm += exact[i] ** 2;
  }
  assert.ok(Math.sqrt(err / norm) < 0.02, `relative error ${Math.sqrt(err / norm)}`);
});

Deno.test("turboquantAttention() rejects a 4-bit cache, a ring start past the capacity and q as output before any native call", async () => {
  using big = device.newBuffer(1 << 16);
  using output = device.newBuffer(1 << 16);
  const check = assertRejectsBeforeNative(turboquantAttention, turboquantAttentionSync);
  const base = (registry: Parameters<typeof turboquantAttention>[1]["registry"]) => ({
    registry,
    q: big,
    output,
    kPacked: big,
    kNorms: big,
    vPacked: big,
    vNorms: big,
    bits: 8 as const,
    nHeads: 2,
    nKvHeads: 1,
    headDim: 256,
    kvLen: 4,
    kvCapacity: 8,
    scale: 1,
  });
  await check(
    device,
    (registry) => ({ ...base(registry), bits: 4 as 8 }),
    RangeError,
    /^Cannot encode flash_attn_vec_tq_hb_dk256: "bits" is 4, expected 5, 6 or 8/,
  );
  await check(
    device,
    (registry) => ({ ...base(registry), ringStart: 8 }),
    RangeError,
    /"ringStart" is 8, expected an integer from 0 to 7/,
  );
  await check(
    device,
    (registry) => ({ ...base(registry), output: big }),
    RangeError,
    /"output" is the same buffer as "q"/,
  );
  await check(
    device,
    (registry) => ({ ...base(registry), splits: 2 }),
    TypeError,
    /"scratch" is undefined, expected a DeviceBuffer of at least 4128 bytes for 2 splits/,
  );
  using small = device.newBuffer(8 * 256 - 1);
  await check(
    device,
    (registry) => ({ ...base(registry), vPacked: small }),
    RangeError,
    /"vPacked" holds 2047 bytes, expected at least 2048 \(nKvHeads 1 × kvCapacity 8 × headDim 256 × 1 bytes\)/,
  );
});
