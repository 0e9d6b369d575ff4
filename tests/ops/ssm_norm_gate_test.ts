// Copyright 2026 the @metal-compute/kernels authors. MIT license.
import assert from "node:assert";
import { testContext } from "../_helpers.ts";
import { ssmNormGate, ssmNormGateSync } from "../../ops/ssm_norm_gate.ts";
import { ssmNormGateRef } from "../../ops/ssm_norm_gate_ref.ts";
import {
  assertRejectsBeforeNative,
  checkOp,
  ROW_WIDTHS,
  TOLERANCES,
  uniform,
  widthLabel,
} from "./_helpers.ts";

const { device, registry } = testContext();

const EPS = 1e-6;

/** Runs ssmNormGate (or the Sync twin, or writing over x or z) and checks it. */
function checkNormGate(
  [rows, dim]: readonly [number, number],
  seed: number,
  { sync = false, inPlace, threadsPerRow }: {
    sync?: boolean;
    inPlace?: "x" | "z";
    threadsPerRow?: number;
  } = {},
): Promise<Record<"output", Float64Array>> {
  return checkOp<"x" | "weight" | "z", "output">(device, {
    label: `ssm_norm_gate_f32 [${rows}, ${dim}]${widthLabel(threadsPerRow)}${sync ? " sync" : ""}${
      inPlace ? ` over ${inPlace}` : ""
    }`,
    inputs: {
      x: { dtype: "f32", values: uniform(rows * dim, -3, 3, seed) },
      weight: { dtype: "f32", values: uniform(dim, 0.5, 1.5, seed + 1) },
      z: { dtype: "f32", values: uniform(rows * dim, -12, 12, seed + 2) },
    },
    outputs: { output: { dtype: "f32", length: rows * dim, inPlace } },
    encode: (encoder, { x, weight, z, output }) => {
      const options = { registry, x, weight, z, output, rows, dim, eps: EPS, threadsPerRow };
      return sync ? ssmNormGateSync(encoder, options) : ssmNormGate(encoder, options);
    },
    reference: ({ x, weight, z }) => ({
      output: ssmNormGateRef({ x, weight, z, rows, dim, eps: EPS }),
    }),
    // f32 sum of ≤ 1000 squares, rsqrt, precise exp and four products, rounded once: the
    // shared f32 tolerance (rtol 1e-5).
    tolerance: TOLERANCES.f32,
  });
}

Deno.test("ssm_norm_gate_f32: ssmNormGate() matches the f64 reference on edge and realistic shapes at every row width", async () => {
  // [rows, dim]: one element, a column, odd lengths around a SIMD-group, Qwen3-Next's
  // D_v = 128 over 32 value heads × 3 tokens, a long row.
  let seed = 1;
  for (const threadsPerRow of ROW_WIDTHS) {
    for (const shape of [[1, 1], [5, 1], [3, 33], [7, 129], [96, 128], [2, 1000]] as const) {
      await checkNormGate(shape, seed += 10, { threadsPerRow });
    }
  }
});

Deno.test("ssmNormGate() writes over x or over z (in place)", async () => {
  await checkNormGate([9, 128], 5, { inPlace: "x" });
  await checkNormGate([9, 128], 6, { inPlace: "z" });
});

Deno.test("ssmNormGateSync() matches the f64 reference", async () => {
  await checkNormGate([4, 257], 7, { sync: true });
});

Deno.test("ssmNormGate() uses the mean of squares and gives 0 where the gate saturates low", async () => {
  using x = device.newBuffer(new Float32Array([3, 3, 3, 3]));
  using weight = device.newBuffer(new Float32Array([1, 1, 1, 1]));
  using z = device.newBuffer(new Float32Array([200, -200, 0, 1]));
  using output = device.newBuffer(16);
  using commands = device.newCommandBuffer();
  const encoder = commands.computeEncoder();
  await ssmNormGate(encoder, { registry, x, weight, z, output, rows: 1, dim: 4, eps: 0 });
  encoder.end();
  commands.commit();
  await commands.completed();
  const out = new Float32Array(output.contents);
  assert.ok(Math.abs(out[0] - 200) < 2e-3, `x / rms = 1, silu(200) = 200: ${out[0]}`);
  assert.strictEqual(Math.abs(out[1]), 0); // exp(200) overflows: -200 / inf
  assert.strictEqual(out[2], 0);
  assert.ok(Math.abs(out[3] - 1 / (1 + Math.exp(-1))) < 1e-6);
});

Deno.test("ssmNormGate() rejects a too small weight before any native call", async () => {
  using big = device.newBuffer(256);
  using weight = device.newBuffer(60);
  await assertRejectsBeforeNative(ssmNormGate, ssmNormGateSync)(
    device,
    (registry) => ({
      registry,
      x: big,
      weight,
      z: big,
      output: big,
      rows: 2,
      dim: 16,
      eps: EPS,
    }),
    RangeError,
    /^Cannot encode ssm_norm_gate_f32: "weight" holds 60 bytes, expected at least 64 \(dim 16 × 4 bytes\)$/,
  );
});

Deno.test("ssmNormGate() rejects a too small z, bad sizes and a negative eps", async () => {
  using big = device.newBuffer(256);
  using small = device.newBuffer(100);
  await assertRejectsBeforeNative(ssmNormGate, ssmNormGateSync)(
    device,
    (registry) => ({
      registry,
      x: big,
      weight: big,
      z: small,
      output: big,
      rows: 2,
      dim: 16,
      eps: EPS,
    }),
    RangeError,
    /"z" holds 100 bytes, expected at least 128 \(rows 2 × dim 16 × 4 bytes\)/,
  );
  for (const [rows, dim, eps] of [[0, 4, EPS], [2, 1.5, EPS], [2, 4, -1]]) {
    await assertRejectsBeforeNative(ssmNormGate, ssmNormGateSync)(
      device,
      (registry) => ({ registry, x: big, weight: big, z: big, output: big, rows, dim, eps }),
      RangeError,
      /^Cannot encode ssm_norm_gate_f32: "(rows|dim|eps)" is /,
    );
  }
});
