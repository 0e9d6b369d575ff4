// Copyright 2026 the @metal-compute/kernels authors. MIT license.
import { testContext } from "../_helpers.ts";
import {
  moeWeightedReduce,
  type MoeWeightedReduceOptions,
  moeWeightedReduceSync,
} from "../../ops/moe_weighted_reduce.ts";
import { moeWeightedReduceRef } from "../../ops/moe_weighted_reduce_ref.ts";
import { assertRejectsBeforeNative, checkOp, type Tolerance, uniform } from "./_helpers.ts";

const { device, registry } = testContext();

/**
 * Up to 8 f32 fma terms of O(1), a precise-exp sigmoid and two adds: a few ulps of the terms'
 * size; rtol 1e-5 and atol 1e-6 for sums that cancel towards 0.
 */
const TOLERANCE: Tolerance = { rtol: 1e-5, atol: 1e-6 };

type In = "weights" | "y" | "sharedY" | "gate" | "residual";

async function checkReduce(
  tokens: number,
  topK: number,
  hidden: number,
  seed: number,
  { shared = false, residual = false, inPlace = false, sync = false } = {},
) {
  await checkOp<In, "out">(device, {
    label: `moe_weighted_reduce_f32 [${tokens}, ${topK}, ${hidden}]${shared ? " shared" : ""}${
      residual ? " residual" : ""
    }${inPlace ? " in place" : ""}${sync ? " sync" : ""}`,
    inputs: {
      weights: { dtype: "f32", values: uniform(tokens * topK, 0, 1, seed) },
      y: { dtype: "f32", values: uniform(tokens * topK * hidden, -2, 2, seed + 1) },
      sharedY: { dtype: "f32", values: uniform(tokens * hidden, -2, 2, seed + 2) },
      gate: { dtype: "f32", values: uniform(tokens, -20, 20, seed + 3) },
      residual: { dtype: "f32", values: uniform(tokens * hidden, -2, 2, seed + 4) },
    },
    outputs: {
      out: { dtype: "f32", length: tokens * hidden, inPlace: inPlace ? "residual" : undefined },
    },
    encode: (encoder, buffers) => {
      const options: MoeWeightedReduceOptions = {
        registry,
        weights: buffers.weights,
        y: buffers.y,
        out: buffers.out,
        tokens,
        topK,
        hidden,
        shared: shared ? { y: buffers.sharedY, gate: buffers.gate } : undefined,
        residual: residual ? buffers.residual : undefined,
      };
      return sync ? moeWeightedReduceSync(encoder, options) : moeWeightedReduce(encoder, options);
    },
    reference: (read) => ({
      out: moeWeightedReduceRef({
        weights: read.weights,
        y: read.y,
        topK,
        hidden,
        shared: shared ? { y: read.sharedY, gate: read.gate } : undefined,
        residual: residual ? read.residual : undefined,
      }),
    }),
    tolerance: TOLERANCE,
  });
}

Deno.test("moe_weighted_reduce_f32: moeWeightedReduce() matches the f64 reference with and without the shared expert and the residual", async () => {
  await checkReduce(3, 8, 2048, 1, { shared: true, residual: true });
  await checkReduce(2, 8, 2048, 2);
  await checkReduce(1, 1, 1, 3, { shared: true });
  await checkReduce(5, 3, 33, 4, { residual: true });
});

Deno.test("moeWeightedReduce() adds into the residual in place, and moeWeightedReduceSync() matches", async () => {
  await checkReduce(2, 4, 257, 5, { shared: true, residual: true, inPlace: true });
  await checkReduce(2, 4, 100, 6, { shared: true, sync: true });
});

Deno.test("moeWeightedReduce() rejects short buffers and a malformed shared expert before any native call", async () => {
  using a = device.newBuffer(64);
  using small = device.newBuffer(4);
  const base = (r: MoeWeightedReduceOptions["registry"]): MoeWeightedReduceOptions => ({
    registry: r,
    weights: a,
    y: a,
    out: a,
    tokens: 2,
    topK: 2,
    hidden: 2,
  });
  const reject = assertRejectsBeforeNative(moeWeightedReduce, moeWeightedReduceSync);
  await reject(
    device,
    (r) => ({ ...base(r), shared: { y: a, gate: small } }),
    RangeError,
    /^Cannot encode moe_weighted_reduce_f32: "shared.gate" holds 4 bytes, expected at least 8 \(tokens 2 × 4 bytes\)$/,
  );
  await reject(
    device,
    (r) => ({ ...base(r), shared: null as unknown as MoeWeightedReduceOptions["shared"] }),
    TypeError,
    /^Cannot encode moe_weighted_reduce_f32: "shared" is not an object/,
  );
  await reject(
    device,
    (r) => ({ ...base(r), residual: small }),
    RangeError,
    /^Cannot encode moe_weighted_reduce_f32: "residual" holds 4 bytes, expected at least 16/,
  );
});
