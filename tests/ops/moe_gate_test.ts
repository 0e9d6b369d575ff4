// Copyright 2026 the @metal-compute/kernels authors. MIT license.
import assert from "node:assert";
import { testContext } from "../_helpers.ts";
import { moeGate, type MoeGateOptions, moeGateSync } from "../../ops/moe_gate.ts";
import { moeGateRef } from "../../ops/moe_gate_ref.ts";
import { assertRejectsBeforeNative, checkOp, EXACT, type Tolerance, uniform } from "./_helpers.ts";

const { device, registry } = testContext();

/**
 * Weight tolerance. Logits are f32 dot products over the hidden size (≲ 1e-6 relative on
 * logits of size ~10 here); the weights are exponentials of logit differences, so an
 * absolute logit error δ moves them by ~δ relative: rtol 1e-4, atol 1e-6. The ids must be
 * exact: the inputs keep a gap of at least 1e-3 between the k-th and the (k+1)-th logit, so
 * f32 rounding cannot reorder the selection (checked on the reference).
 */
const WEIGHTS: Tolerance = { rtol: 1e-4, atol: 1e-6 };

interface Shape {
  tokens: number;
  hiddenDim: number;
  nExperts: number;
  topK: number;
}

/**
 * Router inputs where token t prefers its own block of `topK` experts: the router has a strong
 * diagonal (expert e reads hidden dimension e mod hiddenDim), and token t's hidden state is
 * large on its block's dimensions. So consecutive tokens route to disjoint expert sets (a
 * token shares no expert with the others).
 */
function routedInputs({ tokens, hiddenDim, nExperts, topK }: Shape, seed: number) {
  const router = uniform(nExperts * hiddenDim, -0.1, 0.1, seed);
  for (let e = 0; e < nExperts; e++) router[e * hiddenDim + (e % hiddenDim)] += 2;
  const hidden = uniform(tokens * hiddenDim, -1, 1, seed + 1);
  for (let t = 0; t < tokens; t++) {
    for (let j = 0; j < topK; j++) {
      const e = (t * topK + j) % nExperts;
      hidden[t * hiddenDim + (e % hiddenDim)] += 4 + j * 0.5;
    }
  }
  return {
    hidden,
    router,
    normWeight: uniform(hiddenDim, 0.8, 1.2, seed + 2),
    expertScale: uniform(nExperts, 0.5, 2, seed + 3),
  };
}

async function checkGate(shape: Shape, seed: number, sync = false) {
  const { tokens, hiddenDim, nExperts, topK } = shape;
  const inputs = routedInputs(shape, seed);
  const eps = 1e-6;
  const got = await checkOp<"hidden" | "router" | "normWeight" | "expertScale", "ids" | "weights">(
    device,
    {
      label: `moe_gate [tokens ${tokens}, hidden ${hiddenDim}, experts ${nExperts}, top ${topK}]${
        sync ? " sync" : ""
      }`,
      inputs: {
        hidden: { dtype: "bf16", values: inputs.hidden },
        router: { dtype: "f32", values: inputs.router },
        normWeight: { dtype: "f32", values: inputs.normWeight },
        expertScale: { dtype: "f32", values: inputs.expertScale },
      },
      outputs: {
        ids: { dtype: "u32", length: tokens * topK },
        weights: { dtype: "f32", length: tokens * topK },
      },
      encode: (encoder, buffers) => {
        const options = { registry, ...buffers, ...shape, eps };
        return sync ? moeGateSync(encoder, options) : moeGate(encoder, options);
      },
      reference: (read) => {
        const expected = moeGateRef({ ...read, ...shape, eps });
        for (let t = 0; t < tokens && topK < nExperts; t++) {
          const row = [...expected.logits.subarray(t * nExperts, (t + 1) * nExperts)].sort((a, b) =>
            b - a
          );
          assert.ok(row[topK - 1] - row[topK] > 1e-3, `token ${t}: a near-tie at the cut`);
        }
        return expected;
      },
      tolerance: { ids: EXACT, weights: WEIGHTS },
    },
  );
  for (let t = 0; t < tokens; t++) {
    const sum = got.weights.subarray(t * topK, (t + 1) * topK).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 1) < 1e-5, `token ${t}: weights sum to ${sum}`);
  }
  return got;
}

Deno.test("moe_gate: moeGate() routes 3 tokens over 128 experts (top 8, hidden 2048) as the f64 reference, one token to experts no other token uses", async () => {
  const got = await checkGate({ tokens: 3, hiddenDim: 2048, nExperts: 128, topK: 8 }, 1);
  const sets = [0, 1, 2].map((t) => new Set(got.ids.subarray(t * 8, t * 8 + 8)));
  assert.ok([...sets[1]].every((e) => !sets[0].has(e) && !sets[2].has(e)));
});

Deno.test("moe_gate: moeGate() matches the f64 reference on edge shapes (one expert, topK = nExperts, 300 experts, odd hidden sizes)", async () => {
  let seed = 10;
  const shapes: Shape[] = [
    { tokens: 1, hiddenDim: 1, nExperts: 1, topK: 1 },
    { tokens: 2, hiddenDim: 33, nExperts: 5, topK: 5 },
    { tokens: 4, hiddenDim: 2816, nExperts: 300, topK: 3 },
    { tokens: 5, hiddenDim: 65, nExperts: 64, topK: 4 },
  ];
  for (const shape of shapes) await checkGate(shape, seed += 10);
});

Deno.test("moeGateSync() matches the f64 reference", async () => {
  await checkGate({ tokens: 2, hiddenDim: 96, nExperts: 40, topK: 6 }, 5, true);
});

Deno.test("moeGate() breaks ties towards the lower expert index", async () => {
  // Router rows 1 and 3 equal, 0 and 2 lower: top 2 is [1, 3].
  const got = await checkOp<"hidden" | "router" | "normWeight" | "expertScale", "ids" | "weights">(
    device,
    {
      label: "moe_gate ties",
      inputs: {
        hidden: { dtype: "bf16", values: [1, 1] },
        router: { dtype: "f32", values: [0, 0, 1, 1, 0, 0, 1, 1] },
        normWeight: { dtype: "f32", values: [1, 1] },
        expertScale: { dtype: "f32", values: [1, 1, 1, 1] },
      },
      outputs: { ids: { dtype: "u32", length: 2 }, weights: { dtype: "f32", length: 2 } },
      encode: (encoder, buffers) =>
        moeGate(encoder, {
          registry,
          ...buffers,
          tokens: 1,
          hiddenDim: 2,
          nExperts: 4,
          topK: 2,
          eps: 0,
        }),
      reference: () => ({ ids: [1, 3], weights: [0.5, 0.5] }),
      tolerance: EXACT,
    },
  );
  assert.deepStrictEqual([...got.ids], [1, 3]);
});

Deno.test("moeGate() rejects topK above nExperts, too many experts and aliased outputs before any native call", async () => {
  using a = device.newBuffer(1 << 16);
  using b = device.newBuffer(1 << 16);
  const base = (r: MoeGateOptions["registry"]): MoeGateOptions => ({
    registry: r,
    hidden: a,
    router: a,
    normWeight: a,
    expertScale: a,
    ids: a,
    weights: b,
    tokens: 1,
    hiddenDim: 2,
    nExperts: 128,
    topK: 8,
    eps: 1e-6,
  });
  const reject = assertRejectsBeforeNative(moeGate, moeGateSync);
  await reject(
    device,
    (r) => ({ ...base(r), topK: 129 }),
    RangeError,
    /^Cannot encode moe_gate: "topK" is 129, expected at most nExperts 128$/,
  );
  await reject(
    device,
    (r) => ({ ...base(r), nExperts: 4097, hiddenDim: 1 }),
    RangeError,
    /^Cannot encode moe_gate: "nExperts" is 4097, expected at most 4096 \(the logits live in threadgroup memory\)$/,
  );
  await reject(
    device,
    (r) => ({ ...base(r), weights: a }),
    RangeError,
    /^Cannot encode moe_gate: "weights" is the same buffer as "ids", expected two outputs$/,
  );
  await reject(
    device,
    (r) => ({ ...base(r), eps: -1 }),
    RangeError,
    /^Cannot encode moe_gate: "eps" is -1, expected a finite number of at least 0$/,
  );
});
