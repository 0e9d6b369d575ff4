// Copyright 2026 the @metal-compute/kernels authors. MIT license.
import assert from "node:assert";
import { testContext } from "../_helpers.ts";
import { GATED_DELTA_NET_MAX_DK } from "../../ops/_defines.ts";
import {
  type DeltaNetGqa,
  gatedDeltaNet,
  type GatedDeltaNetOptions,
  gatedDeltaNetSync,
} from "../../ops/gated_delta_net.ts";
import { gatedDeltaNetRef } from "../../ops/gated_delta_net_ref.ts";
import { assertRejectsBeforeNative, checkOp, type Tolerance, uniform } from "./_helpers.ts";

const { device, registry } = testContext();

/**
 * Tolerance of the read-outs and the final memory. Keys are L2-normalised (as the layer
 * feeds them), so each step multiplies S by a contraction (e^(−g)·(I − β·k·kᵀ)) and f32
 * rounding errors do not grow with the number of tokens: they stay a few ulps of the O(1)
 * entries. Measured on the CPU backend: largest absolute error 6e-8 after 3 tokens of
 * Qwen3-Next heads, 2.9e-7 on the memory after 512 tokens of slow decay. Entries that cancel
 * to near 0 make a relative bound meaningless: atol 2e-6 (7× the worst measured), rtol 1e-5.
 */
const TOLERANCE: Tolerance = { rtol: 1e-5, atol: 2e-6 };

interface Shape {
  dk: number;
  dv: number;
  nKHeads: number;
  nVHeads: number;
  tokens: number;
  seqs: number;
  gqa?: DeltaNetGqa;
}

/** `rows` rows of `dim` seeded values, each scaled to unit L2 norm (times `scale`). */
function unitRows(rows: number, dim: number, seed: number, scale = 1): Float64Array {
  const values = uniform(rows * dim, -1, 1, seed);
  for (let r = 0; r < rows; r++) {
    const row = values.subarray(r * dim, (r + 1) * dim);
    const norm = Math.hypot(...row);
    row.forEach((x, j) => row[j] = (scale * x) / norm);
  }
  return values;
}

type In = "q" | "k" | "v" | "g" | "beta" | "state";

/** Runs the delta rule on seeded layer-like inputs and checks reads and final memory. */
function checkDeltaNet(
  shape: Shape,
  seed: number,
  { sync = false, inPlace = false, gMax = 2 } = {},
): Promise<Record<"out" | "newState", Float64Array>> {
  const { dk, dv, nKHeads, nVHeads, tokens, seqs } = shape;
  const qk = seqs * tokens * nKHeads;
  const gates = seqs * tokens * nVHeads;
  const stateCount = seqs * nVHeads * dv * dk;
  return checkOp<In, "out" | "newState">(device, {
    label: `gated_delta_net_f32 [dk ${dk}, dv ${dv}, heads ${nKHeads}/${nVHeads} ${
      shape.gqa ?? "tiled"
    }, tokens ${tokens}, seqs ${seqs}]${sync ? " sync" : ""}${inPlace ? " in place" : ""}`,
    inputs: {
      q: { dtype: "f32", values: unitRows(qk, dk, seed, 1 / Math.sqrt(dk) * 4) },
      k: { dtype: "f32", values: unitRows(qk, dk, seed + 1) },
      v: { dtype: "f32", values: uniform(gates * dv, -1, 1, seed + 2) },
      g: { dtype: "f32", values: uniform(gates, 0, gMax, seed + 3) },
      beta: { dtype: "f32", values: uniform(gates, 0.05, 0.95, seed + 4) },
      state: { dtype: "f32", values: uniform(stateCount, -0.5, 0.5, seed + 5) },
    },
    outputs: {
      out: { dtype: "f32", length: gates * dv, inPlace: inPlace ? "v" : undefined },
      newState: { dtype: "f32", length: stateCount, inPlace: inPlace ? "state" : undefined },
    },
    encode: (encoder, { q, k, v, g, beta, state, out, newState }) => {
      const options = { registry, q, k, v, g, beta, state, out, newState, ...shape };
      return sync ? gatedDeltaNetSync(encoder, options) : gatedDeltaNet(encoder, options);
    },
    reference: (inputs) => {
      const { out, state } = gatedDeltaNetRef({ ...inputs, ...shape });
      return { out, newState: state };
    },
    tolerance: TOLERANCE,
  });
}

Deno.test("gated_delta_net_f32: gatedDeltaNet() matches the f64 recurrence on Qwen3-Next heads (dk = dv = 128, 16 key / 32 value heads)", async () => {
  for (const tokens of [1, 3]) {
    await checkDeltaNet({ dk: 128, dv: 128, nKHeads: 16, nVHeads: 32, tokens, seqs: 1 }, tokens);
  }
});

Deno.test("gated_delta_net_f32: gatedDeltaNet() matches the f64 recurrence on edge shapes and both GQA mappings", async () => {
  let seed = 20;
  const shapes: Shape[] = [
    { dk: 1, dv: 1, nKHeads: 1, nVHeads: 1, tokens: 1, seqs: 1 },
    { dk: 40, dv: 24, nKHeads: 2, nVHeads: 6, tokens: 5, seqs: 2, gqa: "tiled" },
    { dk: 40, dv: 24, nKHeads: 2, nVHeads: 6, tokens: 5, seqs: 2, gqa: "grouped" },
    { dk: GATED_DELTA_NET_MAX_DK, dv: 3, nKHeads: 1, nVHeads: 2, tokens: 2, seqs: 1 },
    { dk: 33, dv: 65, nKHeads: 3, nVHeads: 3, tokens: 4, seqs: 1 },
  ];
  for (const shape of shapes) await checkDeltaNet(shape, seed += 10);
});

Deno.test("gated_delta_net_f32: the memory after 512 tokens of slow decay stays within f32 rounding of the f64 recurrence", async () => {
  // Small g (decay ≥ e^−0.02 per token) keeps a long memory, where drift would build up.
  const got = await checkDeltaNet(
    { dk: 64, dv: 64, nKHeads: 1, nVHeads: 2, tokens: 512, seqs: 1 },
    77,
    { gMax: 0.02 },
  );
  assert.ok(got.newState.some((x) => Math.abs(x) > 0.05), "the memory is not trivially small");
});

Deno.test("gatedDeltaNet() writes reads over v and the memory in place", async () => {
  await checkDeltaNet({ dk: 32, dv: 16, nKHeads: 2, nVHeads: 4, tokens: 3, seqs: 2 }, 5, {
    inPlace: true,
  });
});

Deno.test("gatedDeltaNetSync() matches the f64 recurrence", async () => {
  await checkDeltaNet({ dk: 16, dv: 8, nKHeads: 1, nVHeads: 2, tokens: 2, seqs: 1 }, 9, {
    sync: true,
  });
});

Deno.test("GATED_DELTA_NET_MAX_DK matches gated_delta_net.metal", () => {
  const text = Deno.readTextFileSync(
    new URL("../../shaders/gated_delta_net.metal", import.meta.url),
  );
  const match = text.match(/constant constexpr uint GATED_DELTA_NET_MAX_DK = (\d+);/);
  assert.strictEqual(Number(match?.[1]), GATED_DELTA_NET_MAX_DK);
});

Deno.test("gatedDeltaNet() rejects dk above 256, uneven heads, an unknown gqa and short buffers before any native call", async () => {
  using big = device.newBuffer(4096);
  using small = device.newBuffer(16);
  const base = (r: GatedDeltaNetOptions["registry"]): GatedDeltaNetOptions => ({
    registry: r,
    q: big,
    k: big,
    v: big,
    g: big,
    beta: big,
    state: big,
    out: big,
    newState: big,
    dk: 8,
    dv: 8,
    nKHeads: 2,
    nVHeads: 4,
    tokens: 1,
  });
  const reject = assertRejectsBeforeNative(gatedDeltaNet, gatedDeltaNetSync);
  await reject(
    device,
    (r) => ({ ...base(r), dk: 257, dv: 1, nKHeads: 1, nVHeads: 1 }),
    RangeError,
    /^Cannot encode gated_delta_net_f32: "dk" is 257, expected at most 256 \(the state row a SIMD-group keeps in registers\)$/,
  );
  await reject(
    device,
    (r) => ({ ...base(r), nVHeads: 3 }),
    RangeError,
    /^Cannot encode gated_delta_net_f32: "nVHeads" is 3, expected a multiple of nKHeads 2$/,
  );
  await reject(
    device,
    (r) => ({ ...base(r), gqa: "blocked" as DeltaNetGqa }),
    TypeError,
    /^Cannot encode gated_delta_net_f32: "gqa" is "blocked", expected "tiled" or "grouped"$/,
  );
  await reject(
    device,
    (r) => ({ ...base(r), newState: small }),
    RangeError,
    /^Cannot encode gated_delta_net_f32: "newState" holds 16 bytes, expected at least 1024 \(seqs 1 × nVHeads 4 × dv 8 × dk 8 × 4 bytes\)$/,
  );
});
