// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// The composed check of issue "MoE routing": one mixture-of-experts block (router → expert
// gate/up mat-vecs → GeGLU → expert down mat-vecs → weighted reduction with a sigmoid-gated
// shared expert and the residual) encoded through the registry with the dense ops for the
// expert matmuls, against an f64 reference of the whole block.
import assert from "node:assert";
import { testContext } from "../_helpers.ts";
import type { DeviceBuffer } from "../../buffer.ts";
import { moeGate } from "../../ops/moe_gate.ts";
import { moeGegluSeq, naiveMatvec } from "../../ops/moe_dispatch.ts";
import { moeWeightedReduce } from "../../ops/moe_weighted_reduce.ts";
import { denseMatvec } from "../../ops/matmul.ts";
import { offsetCopy } from "../../ops/copy.ts";
import { moeGateRef } from "../../ops/moe_gate_ref.ts";
import { gegluRowsRef, matvecRef } from "../../ops/moe_dispatch_ref.ts";
import { moeWeightedReduceRef } from "../../ops/moe_weighted_reduce_ref.ts";
import { assertClose, download, run, type Tolerance, uniform, upload } from "./_helpers.ts";

const { device, registry } = testContext();

const TOKENS = 3;
const HIDDEN = 256;
const INTER = 64;
const EXPERTS = 128;
const TOP_K = 8;
const EPS = 1e-6;

/**
 * All steps are f32 on the device (dot products of ≤ 256 terms, GeGLU, sums of 9 terms);
 * against the f64 block: rtol 1e-4, atol 1e-5 on outputs of size ~1 (measured on the CPU
 * backend: largest absolute error 2.4e-6).
 * Routing ids must be exact (the router inputs keep a clear gap at the top-k cut).
 */
const TOLERANCE: Tolerance = { rtol: 1e-4, atol: 1e-5 };

/** Expert e's gate/up `[2·INTER, HIDDEN]` and down `[HIDDEN, INTER]` weights (seeded by e). */
function expertWeights(e: number) {
  return {
    gateUp: uniform(2 * INTER * HIDDEN, -0.15, 0.15, 1000 + 2 * e),
    down: uniform(HIDDEN * INTER, -0.15, 0.15, 1001 + 2 * e),
  };
}

/** The f64 expert MLP: down · GeGLU(gateUp · x). */
function expertRef(w: { gateUp: ArrayLike<number>; down: ArrayLike<number> }, x: Float64Array) {
  return matvecRef(w.down, gegluRowsRef(matvecRef(w.gateUp, x), INTER));
}

Deno.test("composed: a MoE block (128 experts, top 8, shared expert, residual) matches the f64 block, with a token routed to experts no other token uses", async () => {
  using stack = new DisposableStack();
  const f32 = (values: ArrayLike<number>) => {
    const uploaded = upload(device, "f32", values);
    stack.use(uploaded.buffer);
    return uploaded;
  };
  const scratch = (elements: number): DeviceBuffer => stack.use(device.newBuffer(elements * 4));

  // Router: a strong diagonal (expert e reads hidden dimension e) plus noise; token t is large
  // on the dimensions of experts 8t .. 8t+7, so each token has its own block of experts.
  const routerValues = uniform(EXPERTS * HIDDEN, -0.05, 0.05, 1);
  for (let e = 0; e < EXPERTS; e++) routerValues[e * HIDDEN + e] += 2;
  const xValues = uniform(TOKENS * HIDDEN, -1, 1, 2);
  for (let t = 0; t < TOKENS; t++) {
    for (let j = 0; j < TOP_K; j++) xValues[t * HIDDEN + t * TOP_K + j] += 4 + 0.5 * j;
  }
  const hidden = upload(device, "bf16", xValues); // the router reads bf16
  stack.use(hidden.buffer);
  const x = f32(hidden.values); // the experts read the same values in f32
  const router = f32(routerValues);
  const normWeight = f32(uniform(HIDDEN, 0.8, 1.2, 3));
  const expertScale = f32(uniform(EXPERTS, 0.5, 2, 4));
  const shared = {
    gateUp: f32(uniform(2 * INTER * HIDDEN, -0.15, 0.15, 5)),
    down: f32(uniform(HIDDEN * INTER, -0.15, 0.15, 6)),
  };
  const sharedGateW = f32(uniform(HIDDEN, -0.1, 0.1, 7));

  // 1. Route (the host reads the ids back to pick the experts' weights, as a decode loop does).
  const ids = scratch(TOKENS * TOP_K);
  const weights = scratch(TOKENS * TOP_K);
  await run(device, (encoder) =>
    moeGate(encoder, {
      registry,
      hidden: hidden.buffer,
      router: router.buffer,
      normWeight: normWeight.buffer,
      expertScale: expertScale.buffer,
      ids,
      weights,
      tokens: TOKENS,
      hiddenDim: HIDDEN,
      nExperts: EXPERTS,
      topK: TOP_K,
      eps: EPS,
    }));
  const routed = [...new Uint32Array(ids.contents, 0, TOKENS * TOP_K)];
  const expected = moeGateRef({
    hidden: hidden.values,
    router: router.values,
    normWeight: normWeight.values,
    expertScale: expertScale.values,
    hiddenDim: HIDDEN,
    nExperts: EXPERTS,
    topK: TOP_K,
    eps: EPS,
  });
  assert.deepStrictEqual(routed, expected.ids, "routing");
  const perToken = [0, 1, 2].map((t) => new Set(routed.slice(t * TOP_K, (t + 1) * TOP_K)));
  assert.ok(
    [...perToken[1]].every((e) => !perToken[0].has(e) && !perToken[2].has(e)),
    "token 1 shares no expert with the others",
  );

  // 2. Experts and reduction, in one command buffer.
  const used = [...new Set(routed)].sort((a, b) => a - b);
  const expert = new Map(used.map((e) => {
    const w = expertWeights(e);
    return [e, { gateUp: f32(w.gateUp), down: f32(w.down) }];
  }));
  const slots = TOKENS * TOP_K;
  const gateUp = scratch(slots * 2 * INTER); // [TOKENS, TOP_K, 2·INTER]
  const act = scratch(slots * INTER); // [TOKENS, TOP_K, INTER]
  const y = scratch(slots * HIDDEN); // [TOKENS, TOP_K, HIDDEN]
  const perExpertGateUp = scratch(TOKENS * 2 * INTER);
  const perExpertDown = scratch(slots * HIDDEN);
  const sharedGateUp = scratch(TOKENS * 2 * INTER);
  const sharedAct = scratch(TOKENS * INTER);
  const sharedY = scratch(TOKENS * HIDDEN);
  const sharedGate = scratch(TOKENS);
  const out = scratch(TOKENS * HIDDEN);
  await run(device, async (encoder) => {
    const matvec = { registry, weightDType: "f32", dtype: "f32" } as const;
    // Gate/up: each used expert over every token's x, then its rows moved to their slots.
    for (const e of used) {
      await denseMatvec(encoder, {
        ...matvec,
        input: x.buffer,
        weight: expert.get(e)!.gateUp.buffer,
        output: perExpertGateUp,
        m: TOKENS,
        n: 2 * INTER,
        k: HIDDEN,
      });
      for (let slot = 0; slot < slots; slot++) {
        if (routed[slot] !== e) continue;
        const t = Math.floor(slot / TOP_K);
        await offsetCopy(encoder, {
          registry,
          input: perExpertGateUp,
          output: gateUp,
          count: 2 * INTER,
          inputOffset: t * 2 * INTER,
          outputOffset: slot * 2 * INTER,
        });
      }
    }
    await moeGegluSeq(encoder, {
      registry,
      input: gateUp,
      output: act,
      dtype: "f32",
      inter: INTER,
      topK: TOP_K,
      tokens: TOKENS,
    });
    // Down: each used expert over every slot's activation, its own slots moved to y.
    for (const e of used) {
      await denseMatvec(encoder, {
        ...matvec,
        input: act,
        weight: expert.get(e)!.down.buffer,
        output: perExpertDown,
        m: slots,
        n: HIDDEN,
        k: INTER,
      });
      for (let slot = 0; slot < slots; slot++) {
        if (routed[slot] !== e) continue;
        await offsetCopy(encoder, {
          registry,
          input: perExpertDown,
          output: y,
          count: HIDDEN,
          inputOffset: slot * HIDDEN,
          outputOffset: slot * HIDDEN,
        });
      }
    }
    // The shared expert and its gate logit (x_t · w for each token: W = x, vector = w).
    await denseMatvec(encoder, {
      ...matvec,
      input: x.buffer,
      weight: shared.gateUp.buffer,
      output: sharedGateUp,
      m: TOKENS,
      n: 2 * INTER,
      k: HIDDEN,
    });
    await moeGegluSeq(encoder, {
      registry,
      input: sharedGateUp,
      output: sharedAct,
      dtype: "f32",
      inter: INTER,
      topK: 1,
      tokens: TOKENS,
    });
    await denseMatvec(encoder, {
      ...matvec,
      input: sharedAct,
      weight: shared.down.buffer,
      output: sharedY,
      m: TOKENS,
      n: HIDDEN,
      k: INTER,
    });
    await naiveMatvec(encoder, {
      registry,
      w: x.buffer,
      x: sharedGateW.buffer,
      out: sharedGate,
      rows: TOKENS,
      cols: HIDDEN,
    });
    await moeWeightedReduce(encoder, {
      registry,
      weights,
      y,
      out,
      tokens: TOKENS,
      topK: TOP_K,
      hidden: HIDDEN,
      shared: { y: sharedY, gate: sharedGate },
      residual: x.buffer,
    });
  });

  // 3. The whole block in f64.
  const yRef = new Float64Array(slots * HIDDEN);
  const sharedYRef = new Float64Array(TOKENS * HIDDEN);
  const gateRef = new Float64Array(TOKENS);
  const sharedW = { gateUp: shared.gateUp.values, down: shared.down.values };
  for (let t = 0; t < TOKENS; t++) {
    const xt = x.values.subarray(t * HIDDEN, (t + 1) * HIDDEN);
    for (let k = 0; k < TOP_K; k++) {
      yRef.set(expertRef(expertWeights(routed[t * TOP_K + k]), xt), (t * TOP_K + k) * HIDDEN);
    }
    sharedYRef.set(expertRef(sharedW, xt), t * HIDDEN);
    gateRef[t] = matvecRef(sharedGateW.values, xt)[0];
  }
  const outRef = moeWeightedReduceRef({
    weights: expected.weights,
    y: yRef,
    topK: TOP_K,
    hidden: HIDDEN,
    shared: { y: sharedYRef, gate: gateRef },
    residual: x.values,
  });
  const got = download(out, "f32", TOKENS * HIDDEN);
  assertClose(got, outRef, TOLERANCE, "MoE block output");
  // The experts matter: the block without its residual is not small.
  assert.ok(got.some((v, i) => Math.abs(v - x.values[i]) > 0.05));
});
