// Copyright 2026 the @metal-compute/kernels authors. MIT license.
import assert from "node:assert";
import { testContext } from "../_helpers.ts";
import {
  moeSoftmaxTopk,
  type MoeSoftmaxTopkOptions,
  moeSoftmaxTopkSync,
} from "../../ops/moe_softmax_topk.ts";
import { moeSoftmaxTopkRef } from "../../ops/moe_softmax_topk_ref.ts";
import { moeGateRef } from "../../ops/moe_gate_ref.ts";
import {
  assertClose,
  assertRejectsBeforeNative,
  checkOp,
  EXACT,
  type Tolerance,
  uniform,
} from "./_helpers.ts";

const { device, registry } = testContext();

/**
 * Weights: a softmax in f32 with precise exp, sums over ≤ 4096 terms: rtol 1e-5 plus atol 1e-7
 * for the tiny probabilities of far-behind experts (without renormalisation). Ids are exact:
 * logits are drawn on a grid of 1/64 with distinct values per token, so the order has no
 * near-ties.
 */
const WEIGHTS: Tolerance = { rtol: 1e-5, atol: 1e-7 };

/** `tokens × nExperts` logits: a random permutation of a 1/64 grid per token (no ties). */
function distinctLogits(tokens: number, nExperts: number, seed: number): Float64Array {
  const keys = uniform(tokens * nExperts, 0, 1, seed);
  const out = new Float64Array(tokens * nExperts);
  for (let t = 0; t < tokens; t++) {
    const order = Array.from({ length: nExperts }, (_, e) => e).sort((a, b) =>
      keys[t * nExperts + a] - keys[t * nExperts + b]
    );
    order.forEach((e, rank) => out[t * nExperts + e] = (rank - nExperts / 2) / 64);
  }
  return out;
}

async function checkTopk(
  tokens: number,
  nExperts: number,
  topK: number,
  seed: number,
  { renormalize = true, sync = false, logits = distinctLogits(tokens, nExperts, seed) } = {},
) {
  return await checkOp<"logits", "ids" | "weights">(device, {
    label: `moe_softmax_topk_f32 [tokens ${tokens}, experts ${nExperts}, top ${topK}]${
      renormalize ? "" : " raw"
    }${sync ? " sync" : ""}`,
    inputs: { logits: { dtype: "f32", values: logits } },
    outputs: {
      ids: { dtype: "u32", length: tokens * topK },
      weights: { dtype: "f32", length: tokens * topK },
    },
    encode: (encoder, { logits, ids, weights }) => {
      const options = { registry, logits, ids, weights, tokens, nExperts, topK, renormalize };
      return sync ? moeSoftmaxTopkSync(encoder, options) : moeSoftmaxTopk(encoder, options);
    },
    reference: ({ logits }) => moeSoftmaxTopkRef({ logits, nExperts, topK, renormalize }),
    tolerance: { ids: EXACT, weights: WEIGHTS },
  });
}

Deno.test("moe_softmax_topk_f32: moeSoftmaxTopk() matches the f64 reference for 128 experts top 8, renormalised or raw", async () => {
  await checkTopk(5, 128, 8, 1);
  await checkTopk(5, 128, 8, 2, { renormalize: false });
});

Deno.test("moe_softmax_topk_f32: moeSoftmaxTopk() matches the f64 reference on edge shapes (1 expert, topK = nExperts, 33 and 4096 experts)", async () => {
  await checkTopk(1, 1, 1, 3);
  await checkTopk(3, 7, 7, 4);
  await checkTopk(4, 33, 5, 5, { sync: true });
  await checkTopk(2, 4096, 64, 6);
});

Deno.test("moeSoftmaxTopk() breaks ties towards the lower expert index", async () => {
  const got = await checkTopk(1, 6, 3, 0, { logits: new Float64Array([1, 2, 0, 2, 1, 2]) });
  assert.deepStrictEqual([...got.ids], [1, 3, 5]);
});

Deno.test("the two renormalisation rules agree: softmax over all then renormalised equals softmax over the selected k (moe_gate's rule)", async () => {
  const tokens = 3;
  const nExperts = 128;
  const topK = 8;
  const logits = distinctLogits(tokens, nExperts, 9);
  const got = await checkTopk(tokens, nExperts, topK, 9, { logits });
  for (let t = 0; t < tokens; t++) {
    // moe_gate's rule on the same logits: hidden [1] with unit norm weight makes the router
    // column the logits; unit expert scales.
    const gate = moeGateRef({
      hidden: [1],
      router: logits.subarray(t * nExperts, (t + 1) * nExperts),
      normWeight: [1],
      expertScale: new Float64Array(nExperts).fill(1),
      hiddenDim: 1,
      nExperts,
      topK,
      eps: 0,
    });
    assert.deepStrictEqual([...got.ids.subarray(t * topK, (t + 1) * topK)], gate.ids);
    assertClose(
      got.weights.subarray(t * topK, (t + 1) * topK),
      gate.weights,
      WEIGHTS,
      `token ${t}: softmax over the selected k`,
    );
  }
});

Deno.test("moeSoftmaxTopk() rejects topK above nExperts, too many experts and aliased outputs before any native call", async () => {
  using a = device.newBuffer(1 << 16);
  using b = device.newBuffer(1 << 16);
  const base = (r: MoeSoftmaxTopkOptions["registry"]): MoeSoftmaxTopkOptions => ({
    registry: r,
    logits: a,
    ids: a,
    weights: b,
    tokens: 1,
    nExperts: 8,
    topK: 2,
  });
  const reject = assertRejectsBeforeNative(moeSoftmaxTopk, moeSoftmaxTopkSync);
  await reject(
    device,
    (r) => ({ ...base(r), topK: 9 }),
    RangeError,
    /^Cannot encode moe_softmax_topk_f32: "topK" is 9, expected at most nExperts 8$/,
  );
  await reject(
    device,
    (r) => ({ ...base(r), nExperts: 5000 }),
    RangeError,
    /^Cannot encode moe_softmax_topk_f32: "nExperts" is 5000, expected at most 4096/,
  );
  await reject(
    device,
    (r) => ({ ...base(r), weights: a }),
    RangeError,
    /^Cannot encode moe_softmax_topk_f32: "weights" is the same buffer as "ids"/,
  );
});
