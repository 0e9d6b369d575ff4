// Copyright 2026 the @metal-compute/kernels authors. MIT license.
import assert from "node:assert";
import { testContext } from "../_helpers.ts";
import { type AffineBits, type AffineGroupSize, quantizeAffine } from "../../formats/affine.ts";
import {
  QMV_ID_ROWS_PER_TG,
  QMV_ID_SIMDGROUPS,
  quantizedMatmulId,
  type QuantizedMatmulIdOptions,
  quantizedMatmulIdSync,
} from "../../ops/quantized_matmul_id.ts";
import { quantizedMatmulIdRef } from "../../ops/quantized_matmul_id_ref.ts";
import {
  assertRejectsBeforeNative,
  rng,
  run,
  shaderConstant,
  shaderText,
  TOLERANCES,
  uniform,
} from "./_helpers.ts";

const { device, registry } = testContext();

interface Case {
  experts: number;
  topK: number;
  m: number;
  n: number;
  k: number;
  bits: AffineBits;
  groupSize: AffineGroupSize;
  /** Expert ids, `m · topK` of them; random distinct per token when omitted. */
  ids?: number[];
  sync?: boolean;
}

/** Distinct random experts per token, never `skip` (an expert that gets no token). */
function route(c: Case, seed: number, skip: number): number[] {
  const next = rng(seed);
  const ids: number[] = [];
  for (let t = 0; t < c.m; t++) {
    const chosen = new Set<number>();
    while (chosen.size < c.topK) {
      const e = Math.floor(next() * c.experts);
      if (e !== skip) chosen.add(e);
    }
    ids.push(...chosen);
  }
  return ids;
}

/**
 * Runs quantized_matmul_id and checks it against the f64 reference: the f32 accumulation bound
 * of tests/ops/quantized_matmul_test.ts (rtol 1e-5 + 4·√k·2⁻²⁴·Σ(|s·q| + |b|)·|x|); rows the
 * kernel must not write (ids past the experts) must still hold the NaN they started with.
 */
async function checkRouted(c: Case, seed: number): Promise<void> {
  const { experts, topK, m, n, k, bits, groupSize } = c;
  const ids = c.ids ?? route(c, seed, experts >> 1);
  const stacked = quantizeAffine(uniform(experts * n * k, -1, 1, seed), {
    rows: experts * n,
    cols: k,
    bits,
    groupSize,
  });
  const x = new Float32Array(uniform(m * k, -2, 2, seed + 1));
  using xb = device.newBuffer(x);
  using weights = device.newBuffer(stacked.weights);
  using scales = device.newBuffer(stacked.scales);
  using biases = device.newBuffer(stacked.biases);
  using idb = device.newBuffer(new Uint32Array(ids));
  using output = device.newBuffer(new Float32Array(m * topK * n).fill(NaN));
  const options: QuantizedMatmulIdOptions = {
    registry,
    x: xb,
    weights,
    scales,
    biases,
    ids: idb,
    output,
    m,
    topK,
    n,
    k,
    bits,
    groupSize,
    experts,
  };
  await run(
    device,
    (encoder) =>
      c.sync ? quantizedMatmulIdSync(encoder, options) : quantizedMatmulId(encoder, options),
  );
  const ref = quantizedMatmulIdRef({ x, weights: stacked, experts, ids, m, topK });
  const abs = quantizedMatmulIdRef({ x, weights: stacked, experts, ids, m, topK, absolute: true });
  const got = new Float32Array(output.contents);
  const acc = 4 * Math.sqrt(k) * 2 ** -24;
  for (let i = 0; i < ref.length; i++) {
    const label = `experts ${experts} top-${topK} m ${m} ${bits}-bit g${groupSize} [${i}]`;
    if (Number.isNaN(ref[i])) {
      assert.ok(Number.isNaN(got[i]), `${label}: a row with no expert was written (${got[i]})`);
      continue;
    }
    const bound = TOLERANCES.f32.atol + TOLERANCES.f32.rtol * Math.abs(ref[i]) + acc * abs[i];
    assert.ok(Math.abs(got[i] - ref[i]) <= bound, `${label}: got ${got[i]}, expected ${ref[i]}`);
  }
}

Deno.test("quantized_matmul_id: 64 experts, top-8, one expert receiving no token", async () => {
  await checkRouted({ experts: 64, topK: 8, m: 5, n: 12, k: 64, bits: 4, groupSize: 64 }, 1);
});

Deno.test("quantized_matmul_id: 128 experts, top-1, 6 and 8 bits, n not a multiple of 8", async () => {
  await checkRouted({ experts: 128, topK: 1, m: 9, n: 13, k: 128, bits: 6, groupSize: 32 }, 2);
  await checkRouted(
    { experts: 128, topK: 1, m: 3, n: 20, k: 640, bits: 8, groupSize: 128, sync: true },
    3,
  );
});

Deno.test("quantized_matmul_id: a row routed to an id past the experts is left unwritten", async () => {
  await checkRouted(
    { experts: 4, topK: 2, m: 2, n: 9, k: 96, bits: 4, groupSize: 32, ids: [3, 4, 0xffffffff, 1] },
    4,
  );
});

Deno.test("quantizedMatmulId() rejects bad formats, shapes and small buffers before any native call", async () => {
  using big = device.newBuffer(1 << 16);
  using other = device.newBuffer(1 << 16);
  using small = device.newBuffer(100);
  const base = {
    x: big,
    weights: big,
    scales: big,
    biases: big,
    ids: big,
    output: other,
    m: 2,
    topK: 2,
    n: 8,
    k: 64,
    bits: 4 as AffineBits,
    groupSize: 64 as AffineGroupSize,
    experts: 4,
  };
  const check = assertRejectsBeforeNative(quantizedMatmulId, quantizedMatmulIdSync);
  await check(
    device,
    (registry) => ({ ...base, registry, bits: 3 as 4 }),
    RangeError,
    /^Cannot encode quantized_matmul_id: "bits" is 3, expected 4, 6 or 8$/,
  );
  await check(
    device,
    (registry) => ({ ...base, registry, k: 96 }),
    RangeError,
    /"k" is 96, expected a multiple of the group size 64/,
  );
  await check(
    device,
    (registry) => ({ ...base, registry, weights: small }),
    RangeError,
    /"weights" holds 100 bytes, expected at least 1024 \(experts 4 × n 8 × k 64 × 4 bits \/ 8\)/,
  );
  await check(
    device,
    (registry) => ({ ...base, registry, ids: small, m: 26 }),
    RangeError,
    /"ids" holds 100 bytes, expected at least 208 \(m 26 × topK 2 × 4 bytes\)/,
  );
  await check(
    device,
    (registry) => ({ ...base, registry, output: small }),
    RangeError,
    /"output" holds 100 bytes, expected at least 128/,
  );
  await check(
    device,
    (registry) => ({ ...base, registry, output: big }),
    RangeError,
    /"output" is the same buffer as "x"/,
  );
  await check(
    device,
    (registry) => ({ ...base, registry, experts: 0 }),
    RangeError,
    /"experts" is 0/,
  );
});

Deno.test("quantized_matmul_id.metal's geometry constants match ops/quantized_matmul_id.ts", () => {
  const text = shaderText("quantized_matmul_id.metal");
  const value = (name: string) => shaderConstant(text, name);
  assert.strictEqual(value("QMV_ID_ROWS_PER_TG"), QMV_ID_ROWS_PER_TG);
  assert.strictEqual(value("QMV_ID_SIMDGROUPS"), QMV_ID_SIMDGROUPS);
  assert.strictEqual(value("QMV_ID_ROWS_PER_SG") * QMV_ID_SIMDGROUPS, QMV_ID_ROWS_PER_TG);
});
