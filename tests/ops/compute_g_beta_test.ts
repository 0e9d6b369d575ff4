// Copyright 2026 the @metal-compute/kernels authors. MIT license.
import assert from "node:assert";
import { testContext } from "../_helpers.ts";
import { computeGBeta, computeGBetaSync } from "../../ops/compute_g_beta.ts";
import { computeGBetaRef } from "../../ops/compute_g_beta_ref.ts";
import { assertRejectsBeforeNative, checkOp, type Tolerance, uniform } from "./_helpers.ts";

const { device, registry } = testContext();

/**
 * Tolerances. beta and g are one f32 exp/log (precise) and a few f32 operations from the
 * inputs: rtol 1e-5 as for other f32 kernels. g also gets atol 1e-7: where a + dtBias lands
 * within an f32 rounding of the −20 clamp, kernel (f32 sum) and reference (f64 sum) may fall
 * on different sides, a jump of softplus(−20)·|ssmA| ≈ 2e-9 · 8.
 */
const G_TOLERANCE: Tolerance = { rtol: 1e-5, atol: 1e-7 };
const BETA_TOLERANCE: Tolerance = { rtol: 1e-5, atol: 2 ** -126 };

/** Runs computeGBeta on seeded inputs spanning both softplus clamps and checks it. */
function checkGBeta(
  tokens: number,
  heads: number,
  seed: number,
  { sync = false, inPlace = false } = {},
): Promise<Record<"g" | "beta", Float64Array>> {
  const n = tokens * heads;
  const ssmA = uniform(heads, -3, 2, seed + 3).map((v) => -Math.exp(v));
  return checkOp<"a" | "b" | "dtBias" | "ssmA", "g" | "beta">(device, {
    label: `compute_g_beta_f32 [${tokens}, ${heads}]${sync ? " sync" : ""}${
      inPlace ? " in place" : ""
    }`,
    inputs: {
      a: { dtype: "f32", values: uniform(n, -30, 30, seed) },
      b: { dtype: "f32", values: uniform(n, -20, 20, seed + 1) },
      dtBias: { dtype: "f32", values: uniform(heads, -2, 2, seed + 2) },
      ssmA: { dtype: "f32", values: ssmA },
    },
    outputs: {
      g: { dtype: "f32", length: n, inPlace: inPlace ? "a" : undefined },
      beta: { dtype: "f32", length: n, inPlace: inPlace ? "b" : undefined },
    },
    encode: (encoder, { a, b, dtBias, ssmA, g, beta }) => {
      const options = { registry, a, b, dtBias, ssmA, g, beta, tokens, heads };
      return sync ? computeGBetaSync(encoder, options) : computeGBeta(encoder, options);
    },
    reference: (inputs) => computeGBetaRef({ ...inputs, heads }),
    tolerance: { g: G_TOLERANCE, beta: BETA_TOLERANCE },
  });
}

Deno.test("compute_g_beta_f32: computeGBeta() matches the f64 reference on edge and realistic shapes", async () => {
  // [tokens, heads]: one of each, odd counts, Qwen3-Next's 32 value heads for 1 and 65 tokens.
  let seed = 1;
  for (const [tokens, heads] of [[1, 1], [7, 3], [1, 32], [65, 32], [33, 1]]) {
    await checkGBeta(tokens, heads, seed += 10);
  }
});

Deno.test("computeGBeta() clamps softplus at ±20 and keeps g ≥ 0", async () => {
  using a = device.newBuffer(new Float32Array([25, -25, 0, -19.5, 19.5, -5]));
  using b = device.newBuffer(new Float32Array([0, 100, -100, 1, -1, 3]));
  using dtBias = device.newBuffer(new Float32Array([0, 0, 0, 0, 0, 0]));
  using ssmA = device.newBuffer(new Float32Array([-2, -2, -2, -2, -2, -2]));
  using g = device.newBuffer(24);
  using beta = device.newBuffer(24);
  using commands = device.newCommandBuffer();
  const encoder = commands.computeEncoder();
  await computeGBeta(encoder, { registry, a, b, dtBias, ssmA, g, beta, tokens: 1, heads: 6 });
  encoder.end();
  commands.commit();
  await commands.completed();
  const gs = new Float32Array(g.contents);
  assert.strictEqual(gs[0], 50); // x > 20: softplus = x
  assert.strictEqual(gs[1], 0); // x < -20: softplus = 0
  assert.ok(gs.every((v) => v >= 0));
  const small = 2 * Math.log1p(Math.exp(-19.5)); // ≈ 6.7e-9: the series branch, not log(1 + u)
  assert.ok(Math.abs(gs[3] - small) <= 1e-6 * small, `g(-19.5) = ${gs[3]}, expected ${small}`);
  const betas = new Float32Array(beta.contents);
  assert.strictEqual(betas[0], 0.5);
  assert.strictEqual(betas[1], 1);
  assert.ok(betas[2] >= 0 && betas[2] < 1e-40); // e^-100 is below f32 normals: 0 or subnormal
});

Deno.test("computeGBeta() writes g over a and beta over b (in place)", async () => {
  await checkGBeta(9, 16, 5, { inPlace: true });
});

Deno.test("computeGBetaSync() matches the f64 reference", async () => {
  await checkGBeta(3, 32, 7, { sync: true });
});

Deno.test("computeGBeta() rejects g and beta in one buffer before any native call", async () => {
  using buffer = device.newBuffer(64);
  await assertRejectsBeforeNative(computeGBeta, computeGBetaSync)(
    device,
    (registry) => ({
      registry,
      a: buffer,
      b: buffer,
      dtBias: buffer,
      ssmA: buffer,
      g: buffer,
      beta: buffer,
      tokens: 2,
      heads: 4,
    }),
    RangeError,
    /^Cannot encode compute_g_beta_f32: "beta" is the same buffer as "g", expected two output buffers$/,
  );
});

Deno.test("computeGBeta() rejects a too small per-head buffer before any native call", async () => {
  using big = device.newBuffer(64);
  using small = device.newBuffer(12);
  using g = device.newBuffer(64);
  await assertRejectsBeforeNative(computeGBeta, computeGBetaSync)(
    device,
    (registry) => ({
      registry,
      a: big,
      b: big,
      dtBias: big,
      ssmA: small,
      g,
      beta: big,
      tokens: 4,
      heads: 4,
    }),
    RangeError,
    /^Cannot encode compute_g_beta_f32: "ssmA" holds 12 bytes, expected at least 16 \(heads 4 × 4 bytes\)$/,
  );
});

Deno.test("computeGBeta() rejects zero, fractional and over-u32 sizes", async () => {
  using buffer = device.newBuffer(64);
  using g = device.newBuffer(64);
  for (const [tokens, heads] of [[0, 4], [2, 0], [1.5, 4], [2 ** 20, 2 ** 13]]) {
    await assertRejectsBeforeNative(computeGBeta, computeGBetaSync)(
      device,
      (registry) => ({
        registry,
        a: buffer,
        b: buffer,
        dtBias: buffer,
        ssmA: buffer,
        g,
        beta: buffer,
        tokens,
        heads,
      }),
      RangeError,
      /^Cannot encode compute_g_beta_f32: ("(tokens|heads)" is .*, expected a positive integer|tokens 1048576 × heads 8192 is 8589934592, expected at most 4294967295 elements)/,
    );
  }
});
