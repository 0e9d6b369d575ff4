// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// The composed check of issue "linear attention": one Qwen3-Next-style Gated DeltaNet layer
// step (conv → split → L2 norms → g/beta → delta rule → gated norm) encoded end to end through
// the registry, over a 4-token prefill and then a 1-token decode that carries both states,
// against an f64 reference of the whole block.
import assert from "node:assert";
import { testContext } from "../_helpers.ts";
import type { DeviceBuffer } from "../../buffer.ts";
import { ssmConv } from "../../ops/ssm_conv.ts";
import { stridedCopy } from "../../ops/copy.ts";
import { l2Norm } from "../../ops/l2_norm.ts";
import { scalarMul } from "../../ops/elementwise.ts";
import { computeGBeta } from "../../ops/compute_g_beta.ts";
import { gatedDeltaNet } from "../../ops/gated_delta_net.ts";
import { ssmNormGate } from "../../ops/ssm_norm_gate.ts";
import { ssmConvRef } from "../../ops/ssm_conv_ref.ts";
import { l2NormRef } from "../../ops/l2_norm_ref.ts";
import { computeGBetaRef } from "../../ops/compute_g_beta_ref.ts";
import { gatedDeltaNetRef } from "../../ops/gated_delta_net_ref.ts";
import { ssmNormGateRef } from "../../ops/ssm_norm_gate_ref.ts";
import { assertClose, download, run, type Tolerance, uniform, upload } from "./_helpers.ts";

const { device, registry } = testContext();

// Qwen3-Next linear-attention heads: 16 key heads and 32 value heads of 128, conv width 4.
const DK = 128;
const DV = 128;
const HK = 16;
const HV = 32;
const WIDTH = 4;
const QK = HK * DK; // query (and key) channels of the conv
const CHANNELS = 2 * QK + HV * DV; // 8192: q, k, v side by side
const EPS = 1e-6;

/**
 * The block is f32 throughout on the device; against the f64 block, the errors of the steps
 * (each within a few f32 ulps, see their own tests) add up and pass through the gated norm's
 * 1/rms, which magnifies absolute errors of small read-outs. rtol 1e-4 and atol 1e-5 on outputs
 * of size ~1 (measured on the CPU backend: largest absolute error 1.8e-6 on the outputs, 7e-8
 * on the memory); the carried states are compared the same way.
 */
const TOLERANCE: Tolerance = { rtol: 1e-4, atol: 1e-5 };

/** One call's per-token inputs (the in-projection outputs of the layer). */
interface StepInputs {
  tokens: number;
  mixed: Float64Array; // [tokens, CHANNELS]: q, k, v before the conv
  a: Float64Array; // [tokens, HV] decay logits
  b: Float64Array; // [tokens, HV] write-strength logits
  z: Float64Array; // [tokens, HV, DV] output gate
}

/** The layer's weights. */
interface Weights {
  convW: Float64Array; // [CHANNELS, WIDTH]
  dtBias: Float64Array; // [HV]
  ssmA: Float64Array; // [HV], −exp(A_log)
  normW: Float64Array; // [DV]
}

function stepInputs(tokens: number, seed: number): StepInputs {
  return {
    tokens,
    mixed: uniform(tokens * CHANNELS, -1, 1, seed),
    a: uniform(tokens * HV, -3, 3, seed + 1),
    b: uniform(tokens * HV, -3, 3, seed + 2),
    z: uniform(tokens * HV * DV, -2, 2, seed + 3),
  };
}

/** Rows `[rows, cols]` of a `[rows, stride]` matrix, from column `offset`. */
function columns(x: Float64Array, rows: number, stride: number, offset: number, cols: number) {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    out.set(x.subarray(r * stride + offset, r * stride + offset + cols), r * cols);
  }
  return out;
}

/** The whole layer step in f64: returns the output and the states after it. */
function layerRef(
  step: StepInputs,
  weights: Weights,
  state: { conv: Float64Array; delta: Float64Array },
) {
  const t = step.tokens;
  const conv = ssmConvRef({
    x: step.mixed,
    w: weights.convW,
    state: state.conv,
    channels: CHANNELS,
    width: WIDTH,
  });
  const q = l2NormRef(columns(conv.y, t, CHANNELS, 0, QK), t * HK, DK, EPS).map((v) =>
    v / Math.sqrt(DK)
  );
  const k = l2NormRef(columns(conv.y, t, CHANNELS, QK, QK), t * HK, DK, EPS);
  const v = columns(conv.y, t, CHANNELS, 2 * QK, HV * DV);
  const { g, beta } = computeGBetaRef({ ...step, ...weights, heads: HV });
  const delta = gatedDeltaNetRef({
    q,
    k,
    v,
    g,
    beta,
    state: state.delta,
    dk: DK,
    dv: DV,
    nKHeads: HK,
    nVHeads: HV,
    gqa: "grouped",
  });
  const out = ssmNormGateRef({
    x: delta.out,
    weight: weights.normW,
    z: step.z,
    rows: t * HV,
    dim: DV,
    eps: EPS,
  });
  return { out, state: { conv: conv.newState, delta: delta.state } };
}

Deno.test("composed: a Qwen3-Next linear-attention layer (prefill of 4 tokens, then 1 decode token) matches the f64 block, states carried on the device", async () => {
  using stack = new DisposableStack();
  const f32 = (values: ArrayLike<number>) => {
    const uploaded = upload(device, "f32", values);
    stack.use(uploaded.buffer);
    return uploaded;
  };
  const scratch = (elements: number): DeviceBuffer => stack.use(device.newBuffer(elements * 4));
  const weights = {
    convW: f32(uniform(CHANNELS * WIDTH, -0.6, 0.6, 1)),
    dtBias: f32(uniform(HV, -1, 1, 2)),
    ssmA: f32(uniform(HV, -2, 1, 3).map((x) => -Math.exp(x))),
    normW: f32(uniform(DV, 0.5, 1.5, 4)),
  };
  const weightValues: Weights = {
    convW: weights.convW.values,
    dtBias: weights.dtBias.values,
    ssmA: weights.ssmA.values,
    normW: weights.normW.values,
  };
  // States left by earlier tokens: a conv history and a memory of moderate size.
  let convState = f32(uniform(CHANNELS * (WIDTH - 1), -1, 1, 5));
  const deltaState = f32(uniform(HV * DV * DK, -0.2, 0.2, 6));
  let refState = { conv: convState.values, delta: deltaState.values };
  let convNext = f32(new Float64Array(CHANNELS * (WIDTH - 1)));

  let seed = 100;
  for (const tokens of [4, 1]) {
    const step = stepInputs(tokens, seed += 10);
    const mixed = f32(step.mixed);
    const a = f32(step.a);
    const b = f32(step.b);
    const z = f32(step.z);
    // Read back what the device holds (f32-rounded inputs) for the reference.
    const read: StepInputs = { tokens, mixed: mixed.values, a: a.values, b: b.values, z: z.values };
    const conv = scratch(tokens * CHANNELS);
    const q = scratch(tokens * QK);
    const k = scratch(tokens * QK);
    const v = scratch(tokens * HV * DV);
    const g = scratch(tokens * HV);
    const beta = scratch(tokens * HV);
    const attn = scratch(tokens * HV * DV);
    const out = scratch(tokens * HV * DV);

    await run(device, async (encoder) => {
      await ssmConv(encoder, {
        registry,
        x: mixed.buffer,
        w: weights.convW.buffer,
        state: convState.buffer,
        y: conv,
        newState: convNext.buffer,
        dtype: "f32",
        channels: CHANNELS,
        tokens,
        width: WIDTH,
      });
      const split = { registry, input: conv, rows: tokens, rowStride: CHANNELS };
      await stridedCopy(encoder, { ...split, output: q, cols: QK, offset: 0 });
      await stridedCopy(encoder, { ...split, output: k, cols: QK, offset: QK });
      await stridedCopy(encoder, { ...split, output: v, cols: HV * DV, offset: 2 * QK });
      const norm = { registry, dtype: "f32", rows: tokens * HK, dim: DK, eps: EPS } as const;
      await l2Norm(encoder, { ...norm, input: q, output: q });
      await l2Norm(encoder, { ...norm, input: k, output: k });
      await scalarMul(encoder, {
        registry,
        input: q,
        output: q,
        dtype: "f32",
        scalar: 1 / Math.sqrt(DK),
        length: tokens * QK,
      });
      await computeGBeta(encoder, {
        registry,
        a: a.buffer,
        b: b.buffer,
        dtBias: weights.dtBias.buffer,
        ssmA: weights.ssmA.buffer,
        g,
        beta,
        tokens,
        heads: HV,
      });
      await gatedDeltaNet(encoder, {
        registry,
        q,
        k,
        v,
        g,
        beta,
        state: deltaState.buffer,
        out: attn,
        newState: deltaState.buffer,
        dk: DK,
        dv: DV,
        nKHeads: HK,
        nVHeads: HV,
        tokens,
        gqa: "grouped",
      });
      await ssmNormGate(encoder, {
        registry,
        x: attn,
        weight: weights.normW.buffer,
        z: z.buffer,
        output: out,
        rows: tokens * HV,
        dim: DV,
        eps: EPS,
      });
    });

    const expected = layerRef(read, weightValues, refState);
    const got = download(out, "f32", tokens * HV * DV);
    assertClose(got, expected.out, TOLERANCE, `linear-attention layer, ${tokens} token(s): output`);
    assert.ok(got.some((x) => Math.abs(x) > 0.1), "the output is not trivially small");
    assertClose(
      download(convNext.buffer, "f32", CHANNELS * (WIDTH - 1)),
      expected.state.conv,
      { rtol: 0, atol: 0 },
      `linear-attention layer, ${tokens} token(s): conv state`,
    );
    assertClose(
      download(deltaState.buffer, "f32", HV * DV * DK),
      expected.state.delta,
      TOLERANCE,
      `linear-attention layer, ${tokens} token(s): delta-rule memory`,
    );
    // The next call continues from the device's states; the reference from its own.
    [convState, convNext] = [convNext, convState];
    refState = expected.state;
  }
});
