// Copyright 2026 the @metal-compute/kernels authors. MIT license.
import assert from "node:assert";
import { testContext } from "../_helpers.ts";
import {
  FUSED_NORM_ADD_KERNELS,
  fusedMoeRouting,
  fusedMoeRoutingSync,
  fusedMoeWsumDnormAdd,
  fusedMoeWsumNormAdd,
  fusedMoeWsumNormAddSync,
  fusedNormAdd,
  type FusedNormAddDType,
  fusedNormAddScalar,
  fusedNormAddSync,
  fusedResidualNorm,
  fusedResidualNormScalar,
  fusedResidualNormSync,
} from "../../ops/fused_norm_add.ts";
import {
  fusedMoeRoutingRef,
  fusedMoeWsumNormAddRef,
  fusedNormAddRef,
  fusedResidualNormRef,
} from "../../ops/fused_norm_add_ref.ts";
import {
  FUSED_MOE_MAX_EXPERTS,
  FUSED_MOE_MAX_TOP_K,
  FUSED_NORM_MAX_SIMDGROUPS,
} from "../../ops/_defines.ts";
import { KERNELS, type ShaderFile } from "../../shaders/catalog.ts";
import {
  assertClose,
  assertRejectsBeforeNative,
  download,
  ROW_WIDTHS,
  run,
  shaderText,
  type Tolerance,
  TOLERANCES,
  uniform,
  upload,
  widthLabel,
} from "./_helpers.ts";

const { device, registry } = testContext();

/**
 * Tolerances of the row kernels. rtol is the dtype's (one rounding of an f32 result, plus
 * f32 sums over up to 20000 squares). atol 1e-5: an output `residual + normed` can cancel
 * to near zero, where the f32 error of the two O(1) terms (a few ulps of values up to ~5,
 * about 1e-6) is absolute, not relative to the tiny result.
 */
const NORM_TOLERANCES: Readonly<Record<FusedNormAddDType, Tolerance>> = {
  f32: { rtol: TOLERANCES.f32.rtol, atol: 1e-5 },
  bf16: { rtol: TOLERANCES.bf16.rtol, atol: 1e-5 },
};

/** Routing weights: fast-math exp and one division, a few f32 ulps; weights are ≤ 1. */
const ROUTING_TOLERANCE: Tolerance = { rtol: 1e-5, atol: 1e-7 };

const EPS = 1e-6;
const EPS_F32 = Math.fround(EPS);

/**
 * [rows, dim]: edge shapes (a single element, counts around one SIMD-group, dims that are
 * not multiples of 4, so the scalar load path runs) and realistic ones (Gemma/Llama/Qwen
 * hidden sizes, one token and a few hundred; 20000 runs past the register cache, 16385 does
 * too on the scalar path).
 */
const SHAPES: readonly (readonly [number, number])[] = [
  [1, 1],
  [2, 3],
  [3, 31],
  [2, 33],
  [5, 127],
  [1, 2048],
  [3, 2816],
  [2, 4096],
  [300, 256],
  [257, 2048],
  [1, 16385],
  [2, 20000],
];

/**
 * Every shape at the backend's default width, the shapes of at most 5 rows (all row lengths)
 * at the other row widths: these kernels run on fibers on the CPU backend, where the cost
 * grows with rows × threads.
 */
const CASES = ROW_WIDTHS.flatMap((width) =>
  SHAPES.filter(([rows]) => width === undefined || rows <= 5).map(([rows, dim]) =>
    [rows, dim, width] as const
  )
);

function bytes(dtype: FusedNormAddDType, n: number): number {
  return n * (dtype === "f32" ? 4 : 2);
}

async function checkNormAdd(
  dtype: FusedNormAddDType,
  rows: number,
  dim: number,
  seed: number,
  withWeight: boolean,
  sync = false,
  threadsPerRow?: number,
): Promise<void> {
  const residual = upload(device, dtype, uniform(rows * dim, -2, 2, seed));
  const input = upload(device, dtype, uniform(rows * dim, -3, 3, seed + 1));
  const weight = upload(device, dtype, uniform(dim, 0.5, 1.5, seed + 2));
  using _r = residual.buffer;
  using _i = input.buffer;
  using _w = weight.buffer;
  using output = device.newBuffer(bytes(dtype, rows * dim));
  const options = {
    registry,
    residual: residual.buffer,
    input: input.buffer,
    weight: withWeight ? weight.buffer : undefined,
    output,
    dtype,
    rows,
    dim,
    eps: EPS,
    threadsPerRow,
  };
  await run(device, (e) => sync ? fusedNormAddSync(e, options) : fusedNormAdd(e, options));
  const expected = fusedNormAddRef({
    residual: residual.values,
    input: input.values,
    weight: withWeight ? weight.values : undefined,
    rows,
    dim,
    eps: EPS_F32,
  });
  assertClose(
    download(output, dtype, rows * dim),
    expected,
    NORM_TOLERANCES[dtype],
    `fusedNormAdd ${dtype}${withWeight ? "" : " no weight"} [${rows}, ${dim}]${
      widthLabel(threadsPerRow)
    }`,
  );
}

for (const dtype of ["f32", "bf16"] as const) {
  Deno.test(`fused_norm_add_${dtype}: fusedNormAdd() matches the f64 reference on edge and realistic shapes`, async () => {
    let seed = 1;
    for (const [rows, dim, width] of CASES) {
      await checkNormAdd(dtype, rows, dim, seed += 3, true, false, width);
    }
  });
}

Deno.test("fused_norm_add_no_weight_bf16: fusedNormAdd() without a weight matches the f64 reference", async () => {
  let seed = 100;
  for (const [rows, dim, width] of CASES) {
    await checkNormAdd("bf16", rows, dim, seed += 3, false, false, width);
  }
});

Deno.test("fusedNormAddSync() matches the f64 reference", async () => {
  await checkNormAdd("f32", 9, 1000, 7, true, true);
});

Deno.test("fusedNormAdd() updates the residual stream in place (output === residual)", async () => {
  const rows = 4;
  const dim = 2816;
  const { buffer, values } = upload(device, "bf16", uniform(rows * dim, -2, 2, 21));
  using residual = buffer;
  const input = upload(device, "bf16", uniform(rows * dim, -3, 3, 22));
  const weight = upload(device, "bf16", uniform(dim, 0.5, 1.5, 23));
  using _i = input.buffer;
  using _w = weight.buffer;
  await run(device, (e) =>
    fusedNormAdd(e, {
      registry,
      residual,
      input: input.buffer,
      weight: weight.buffer,
      output: residual,
      dtype: "bf16",
      rows,
      dim,
      eps: EPS,
    }));
  assertClose(
    download(residual, "bf16", rows * dim),
    fusedNormAddRef({
      residual: values,
      input: input.values,
      weight: weight.values,
      rows,
      dim,
      eps: EPS_F32,
    }),
    NORM_TOLERANCES.bf16,
    "in place",
  );
});

Deno.test("fused_norm_add_scalar_f32: fusedNormAddScalar() matches the f64 reference with one and per-column scalars", async () => {
  let seed = 200;
  for (const [rows, dim, threadsPerRow] of CASES) {
    for (const perElementScalar of [false, true]) {
      seed += 4;
      const residual = upload(device, "f32", uniform(rows * dim, -2, 2, seed));
      const input = upload(device, "f32", uniform(rows * dim, -3, 3, seed + 1));
      const weight = upload(device, "f32", uniform(dim, 0.5, 1.5, seed + 2));
      const scalar = upload(device, "f32", uniform(perElementScalar ? dim : 1, 0.2, 2, seed + 3));
      using _a = residual.buffer;
      using _b = input.buffer;
      using _c = weight.buffer;
      using _d = scalar.buffer;
      using output = device.newBuffer(rows * dim * 4);
      await run(device, (e) =>
        fusedNormAddScalar(e, {
          registry,
          residual: residual.buffer,
          input: input.buffer,
          weight: weight.buffer,
          output,
          scalar: scalar.buffer,
          perElementScalar,
          rows,
          dim,
          eps: EPS,
          threadsPerRow,
        }));
      assertClose(
        download(output, "f32", rows * dim),
        fusedNormAddRef({
          residual: residual.values,
          input: input.values,
          weight: weight.values,
          rows,
          dim,
          eps: EPS_F32,
          scalar: scalar.values,
          perElementScalar,
        }),
        NORM_TOLERANCES.f32,
        `fusedNormAddScalar [${rows}, ${dim}]${
          widthLabel(threadsPerRow)
        } perElement ${perElementScalar}`,
      );
    }
  }
});

Deno.test("fused_residual_norm_f32: fusedResidualNorm() matches the f64 reference, with and without the sum", async () => {
  let seed = 300;
  for (const [rows, dim, threadsPerRow] of CASES) {
    for (const writeSum of [true, false]) {
      seed += 3;
      const residual = upload(device, "f32", uniform(rows * dim, -2, 2, seed));
      const input = upload(device, "f32", uniform(rows * dim, -3, 3, seed + 1));
      const weight = upload(device, "f32", uniform(dim, 0.5, 1.5, seed + 2));
      using _a = residual.buffer;
      using _b = input.buffer;
      using _c = weight.buffer;
      using output = device.newBuffer(rows * dim * 4);
      using sumOutput = device.newBuffer(new Float32Array(rows * dim).fill(-7));
      await run(device, (e) =>
        fusedResidualNorm(e, {
          registry,
          residual: residual.buffer,
          input: input.buffer,
          weight: weight.buffer,
          output,
          sumOutput: writeSum ? sumOutput : undefined,
          rows,
          dim,
          eps: EPS,
          threadsPerRow,
        }));
      const expected = fusedResidualNormRef({
        residual: residual.values,
        input: input.values,
        weight: weight.values,
        rows,
        dim,
        eps: EPS_F32,
      });
      const label = `fusedResidualNorm [${rows}, ${dim}]${widthLabel(threadsPerRow)}`;
      assertClose(download(output, "f32", rows * dim), expected.out, NORM_TOLERANCES.f32, label);
      const sum = download(sumOutput, "f32", rows * dim);
      if (writeSum) assertClose(sum, expected.sum, TOLERANCES.f32, `${label} sum`);
      else assert.ok(sum.every((v) => v === -7), `${label}: sumOutput untouched`);
    }
  }
});

Deno.test("fusedResidualNormSync() writes the sum over the residual (sumOutput === residual)", () => {
  const rows = 3;
  const dim = 4096;
  const { buffer, values } = upload(device, "f32", uniform(rows * dim, -2, 2, 31));
  using residual = buffer;
  const input = upload(device, "f32", uniform(rows * dim, -3, 3, 32));
  const weight = upload(device, "f32", uniform(dim, 0.5, 1.5, 33));
  using _i = input.buffer;
  using _w = weight.buffer;
  using output = device.newBuffer(rows * dim * 4);
  using commands = device.newCommandBuffer();
  const encoder = commands.computeEncoder();
  fusedResidualNormSync(encoder, {
    registry,
    residual,
    input: input.buffer,
    weight: weight.buffer,
    output,
    sumOutput: residual,
    rows,
    dim,
    eps: EPS,
  });
  encoder.end();
  commands.commit();
  commands.waitUntilCompleted();
  const expected = fusedResidualNormRef({
    residual: values,
    input: input.values,
    weight: weight.values,
    rows,
    dim,
    eps: EPS_F32,
  });
  assertClose(download(output, "f32", rows * dim), expected.out, NORM_TOLERANCES.f32, "out");
  assertClose(download(residual, "f32", rows * dim), expected.sum, TOLERANCES.f32, "sum");
});

Deno.test("fused_residual_norm_scalar_f32: fusedResidualNormScalar() matches the f64 reference with one and per-column scalars", async () => {
  let seed = 400;
  for (const [rows, dim, threadsPerRow] of CASES) {
    for (const perElementScalar of [false, true]) {
      seed += 4;
      const residual = upload(device, "f32", uniform(rows * dim, -2, 2, seed));
      const input = upload(device, "f32", uniform(rows * dim, -3, 3, seed + 1));
      const weight = upload(device, "f32", uniform(dim, 0.5, 1.5, seed + 2));
      const scalar = upload(device, "f32", uniform(perElementScalar ? dim : 1, 0.2, 2, seed + 3));
      using _a = residual.buffer;
      using _b = input.buffer;
      using _c = weight.buffer;
      using _d = scalar.buffer;
      using output = device.newBuffer(rows * dim * 4);
      await run(device, (e) =>
        fusedResidualNormScalar(e, {
          registry,
          residual: residual.buffer,
          input: input.buffer,
          weight: weight.buffer,
          output,
          scalar: scalar.buffer,
          perElementScalar,
          rows,
          dim,
          eps: EPS,
          threadsPerRow,
        }));
      assertClose(
        download(output, "f32", rows * dim),
        fusedResidualNormRef({
          residual: residual.values,
          input: input.values,
          weight: weight.values,
          rows,
          dim,
          eps: EPS_F32,
          scalar: scalar.values,
          perElementScalar,
        }).out,
        NORM_TOLERANCES.f32,
        `fusedResidualNormScalar [${rows}, ${dim}]${
          widthLabel(threadsPerRow)
        } perElement ${perElementScalar}`,
      );
    }
  }
});

/** [rows, dim, topK]: edge and realistic MoE shapes (Gemma 4: 2816 × 8; Qwen3: 2048 × 8). */
const MOE_SHAPES: readonly (readonly [number, number, number])[] = [
  [1, 1, 1],
  [3, 31, 2],
  [2, 33, 4],
  [1, 2816, 8],
  [5, 2048, 8],
  [64, 512, 2],
  [1, 20000, 2],
];

/** {@linkcode MOE_SHAPES} as {@linkcode CASES} chooses shapes for each row width. */
const MOE_CASES = ROW_WIDTHS.flatMap((width) =>
  MOE_SHAPES.filter(([rows]) => width === undefined || rows <= 5).map(([rows, dim, topK]) =>
    [rows, dim, topK, width] as const
  )
);

async function checkMoeWsum(dnorm: boolean, sync: boolean): Promise<void> {
  let seed = dnorm ? 500 : 600;
  for (const [rows, dim, topK, threadsPerRow] of MOE_CASES) {
    seed += 5;
    const y = upload(device, "f32", uniform(rows * topK * dim, -2, 2, seed));
    const w = upload(device, "f32", uniform(rows * topK, 0, 1, seed + 1));
    const residual = upload(device, "f32", uniform(rows * dim, -2, 2, seed + 2));
    const moeWeight = upload(device, "f32", uniform(dim, 0.5, 1.5, seed + 3));
    const residualWeight = upload(device, "f32", uniform(dim, 0.5, 1.5, seed + 4));
    using _a = y.buffer;
    using _b = w.buffer;
    using _c = residual.buffer;
    using _d = moeWeight.buffer;
    using _e = residualWeight.buffer;
    using output = device.newBuffer(rows * dim * 4);
    const common = {
      registry,
      expertOutputs: y.buffer,
      expertWeights: w.buffer,
      residual: residual.buffer,
      output,
      rows,
      dim,
      topK,
      eps: EPS,
      threadsPerRow,
    };
    if (dnorm) {
      await run(device, (e) =>
        fusedMoeWsumDnormAdd(e, {
          ...common,
          residualWeight: residualWeight.buffer,
          moeWeight: moeWeight.buffer,
        }));
    } else {
      const options = { ...common, weight: moeWeight.buffer };
      await run(
        device,
        (e) => sync ? fusedMoeWsumNormAddSync(e, options) : fusedMoeWsumNormAdd(e, options),
      );
    }
    assertClose(
      download(output, "f32", rows * dim),
      fusedMoeWsumNormAddRef({
        expertOutputs: y.values,
        expertWeights: w.values,
        residual: residual.values,
        moeWeight: moeWeight.values,
        residualWeight: dnorm ? residualWeight.values : undefined,
        rows,
        dim,
        topK,
        eps: EPS_F32,
      }),
      NORM_TOLERANCES.f32,
      `${dnorm ? "fusedMoeWsumDnormAdd" : "fusedMoeWsumNormAdd"} [${rows}, ${topK}, ${dim}]${
        widthLabel(threadsPerRow)
      }`,
    );
  }
}

Deno.test("fused_moe_wsum_norm_add_f32: fusedMoeWsumNormAdd() matches the f64 reference", async () => {
  await checkMoeWsum(false, false);
});

Deno.test("fusedMoeWsumNormAddSync() matches the f64 reference", async () => {
  await checkMoeWsum(false, true);
});

Deno.test("fused_moe_wsum_dnorm_add_f32: fusedMoeWsumDnormAdd() matches the f64 reference", async () => {
  await checkMoeWsum(true, false);
});

// ---------------------------------------------------------------------------------------
// Routing.

interface RoutingResult {
  ids: Uint32Array;
  weights: Float64Array;
}

async function route(
  logits: ArrayLike<number>,
  scale: ArrayLike<number>,
  tokens: number,
  numExperts: number,
  topK: number,
  sync = false,
): Promise<RoutingResult & { logits: Float64Array; scale: Float64Array }> {
  const l = upload(device, "f32", logits);
  const s = upload(device, "f32", scale);
  using _l = l.buffer;
  using _s = s.buffer;
  using expertIds = device.newBuffer(new Uint32Array(tokens * topK).fill(0xdead));
  using routingWeights = device.newBuffer(new Float32Array(tokens * topK).fill(NaN));
  const options = {
    registry,
    logits: l.buffer,
    expertIds,
    routingWeights,
    expertScale: s.buffer,
    tokens,
    numExperts,
    topK,
  };
  await run(device, (e) => sync ? fusedMoeRoutingSync(e, options) : fusedMoeRouting(e, options));
  return {
    ids: new Uint32Array(expertIds.contents.slice(0, tokens * topK * 4)),
    weights: download(routingWeights, "f32", tokens * topK),
    logits: l.values,
    scale: s.values,
  };
}

function checkRouting(
  got: RoutingResult,
  logits: ArrayLike<number>,
  scale: ArrayLike<number>,
  sizes: { tokens: number; numExperts: number; topK: number },
  label: string,
): void {
  const expected = fusedMoeRoutingRef(logits, scale, sizes);
  assert.deepStrictEqual([...got.ids], [...expected.ids], `${label}: ids`);
  assertClose(got.weights, expected.weights, ROUTING_TOLERANCE, `${label}: weights`);
}

/** [tokens, numExperts, topK]: Mixtral 8×2, Qwen/DeepSeek-style 64 and 128 experts, edges. */
function routingShapes(tokens: number): (readonly [number, number, number])[] {
  const shapes: (readonly [number, number, number])[] = [];
  for (const numExperts of [8, 64, 128]) {
    for (const topK of [2, 4, 8]) shapes.push([tokens, numExperts, topK]);
  }
  return shapes;
}

Deno.test("fused_moe_routing_f32: fusedMoeRouting() of one token matches the f64 reference (8/64/128 experts, k 2/4/8, edges)", async () => {
  let seed = 700;
  const shapes = [
    ...routingShapes(1),
    [1, 1, 1],
    [1, 33, 5],
    [1, 256, 8],
    [1, 1024, FUSED_MOE_MAX_TOP_K],
  ] as const;
  for (const [tokens, numExperts, topK] of shapes) {
    const logits = uniform(tokens * numExperts, -8, 8, seed++);
    const scale = uniform(numExperts, 0.5, 2, seed++);
    const got = await route(logits, scale, tokens, numExperts, topK);
    checkRouting(got, got.logits, got.scale, { tokens, numExperts, topK }, `${numExperts}/${topK}`);
  }
});

Deno.test("fused_moe_routing_batch_f32: fusedMoeRouting() of many tokens matches the f64 reference (8/64/128 experts, k 2/4/8)", async () => {
  let seed = 800;
  const shapes = [...routingShapes(300), [2, 1, 1], [37, 33, 5], [64, 256, 8]] as const;
  for (const [tokens, numExperts, topK] of shapes) {
    const logits = uniform(tokens * numExperts, -8, 8, seed++);
    const scale = uniform(numExperts, 0.5, 2, seed++);
    const got = await route(logits, scale, tokens, numExperts, topK);
    checkRouting(
      got,
      got.logits,
      got.scale,
      { tokens, numExperts, topK },
      `${tokens} × ${numExperts}/${topK}`,
    );
  }
});

Deno.test("fused_moe_routing_f32, fused_moe_routing_batch_f32: fusedMoeRouting() breaks ties toward the lowest expert index", async () => {
  for (const [numExperts, topK] of [[8, 2], [64, 4], [128, 8], [1000, 8]] as const) {
    for (const tokens of [1, 3]) {
      const logits = new Float64Array(tokens * numExperts);
      const scale = new Float64Array(numExperts).fill(1);
      // Token 0: every logit equal -> experts 0 .. k-1, weights 1/k.
      // Token 1: the top value at a high and a low index in different SIMD-groups, and a
      //   three-way tie for second place -> [low, high, then the three in index order].
      // Token 2: equal logits everywhere but a band at the end -> the band first, in order.
      for (let t = 0; t < tokens; t++) {
        const row = logits.subarray(t * numExperts, (t + 1) * numExperts);
        if (t === 1) {
          row.set(uniform(numExperts, -4, 0, 9));
          const top = [numExperts - 1, 3];
          for (const e of top) row[e] = 2;
          for (const e of [numExperts - 2, 1, Math.floor(numExperts / 2)]) row[e] = 1.5;
        } else if (t === 2) {
          row.fill(0.25);
          for (let e = numExperts - topK; e < numExperts; e++) row[e] = 1;
        }
      }
      const got = await route(logits, scale, tokens, numExperts, topK);
      const sizes = { tokens, numExperts, topK };
      checkRouting(got, got.logits, got.scale, sizes, `ties ${tokens} × ${numExperts}/${topK}`);
      assert.deepStrictEqual(
        [...got.ids.subarray(0, topK)],
        Array.from({ length: topK }, (_, i) => i),
      );
      for (let k = 0; k < topK; k++) {
        assert.ok(Math.abs(got.weights[k] - 1 / topK) < 1e-6, `uniform weight ${got.weights[k]}`);
      }
      if (tokens > 1) {
        const second = [...got.ids.subarray(topK, topK + Math.min(topK, 5))];
        const want = [3, numExperts - 1, 1, Math.floor(numExperts / 2), numExperts - 2];
        assert.deepStrictEqual(second, want.slice(0, second.length));
      }
    }
  }
});

Deno.test("fused_moe_routing_f32, fused_moe_routing_batch_f32: fusedMoeRouting() applies the expert scale after renormalising", async () => {
  // Two experts of equal probability, scales 2 and 0.5: weights 1 and 0.25 (sum 1.25).
  const got = await route([0, 3, 3, -1], [1, 2, 0.5, 1], 1, 4, 2);
  assert.deepStrictEqual([...got.ids], [1, 2]);
  assertClose(got.weights, [1, 0.25], ROUTING_TOLERANCE, "scaled");
  const batch = await route([3, 3, 0, -1, 0, 0, 0, 9], [2, 0.5, 1, 1], 2, 4, 2);
  assert.deepStrictEqual([...batch.ids], [0, 1, 3, 0]);
  assertClose(batch.weights.subarray(0, 2), [1, 0.25], ROUTING_TOLERANCE, "batch scaled");
});

Deno.test("fused_moe_routing_f32, fused_moe_routing_batch_f32: fusedMoeRouting() picks -Infinity (masked) experts last, with weight 0", async () => {
  const numExperts = 64;
  const topK = 8;
  const tokens = 2;
  const logits = uniform(tokens * numExperts, -4, 4, 77);
  // Token 0: only 5 live experts; token 1: all masked.
  for (let e = 0; e < numExperts; e++) {
    if (e % 13 !== 2) logits[e] = -Infinity;
    logits[numExperts + e] = -Infinity;
  }
  const scale = new Float64Array(numExperts).fill(1);
  for (const t of [1, tokens]) {
    const got = await route(logits, scale, t, numExperts, topK, true);
    checkRouting(got, got.logits, got.scale, { tokens: t, numExperts, topK }, `masked ${t}`);
    assert.ok(got.weights.every((w) => Number.isFinite(w)), "no NaN");
    assert.deepStrictEqual([...got.ids.subarray(5, 8)], [0, 1, 3]);
    if (t === tokens) {
      assert.deepStrictEqual([...got.ids.subarray(topK)], [0, 1, 2, 3, 4, 5, 6, 7]);
      assert.ok(got.weights.subarray(topK).every((w) => w === 0));
    }
  }
});

// ---------------------------------------------------------------------------------------
// Validation and shader text.

Deno.test("fusedNormAdd() rejects a too small input before any native call", async () => {
  using small = device.newBuffer(4094);
  using big = device.newBuffer(4096);
  await assertRejectsBeforeNative(fusedNormAdd, fusedNormAddSync)(
    device,
    (registry) => ({
      registry,
      residual: big,
      input: small,
      weight: big,
      output: big,
      dtype: "bf16",
      rows: 2,
      dim: 1024,
      eps: EPS,
    }),
    RangeError,
    /^Cannot encode fused_norm_add_bf16: "input" holds 4094 bytes, expected at least 4096 \(rows 2 × dim 1024 × 2 bytes\)$/,
  );
});

Deno.test("fusedNormAdd() without a weight refuses f32, which has no such kernel", async () => {
  using buffer = device.newBuffer(256);
  await assertRejectsBeforeNative(fusedNormAdd, fusedNormAddSync)(
    device,
    (registry) => ({
      registry,
      residual: buffer,
      input: buffer,
      output: buffer,
      dtype: "f32",
      rows: 1,
      dim: 8,
      eps: EPS,
    }),
    TypeError,
    /^Cannot encode fusedNormAdd without weight: "dtype" is "f32", expected one of "bf16"$/,
  );
});

Deno.test("fusedNormAdd() rejects a negative or non-finite eps and zero sizes", async () => {
  using buffer = device.newBuffer(256);
  for (const [eps, rows, dim] of [[-1e-6, 1, 8], [NaN, 1, 8], [EPS, 0, 8], [EPS, 1, 2.5]]) {
    await assertRejectsBeforeNative(fusedNormAdd, fusedNormAddSync)(
      device,
      (registry) => ({
        registry,
        residual: buffer,
        input: buffer,
        weight: buffer,
        output: buffer,
        dtype: "f32",
        rows,
        dim,
        eps,
      }),
      RangeError,
      /^Cannot encode fused_norm_add_f32: "(eps|rows|dim)" is /,
    );
  }
});

Deno.test("fusedResidualNorm() rejects a too small weight and sumOutput === output before any native call", async () => {
  using rowsBuffer = device.newBuffer(2 * 64 * 4);
  using weight = device.newBuffer(63 * 4);
  const base = {
    residual: rowsBuffer,
    input: rowsBuffer,
    output: rowsBuffer,
    rows: 2,
    dim: 64,
    eps: EPS,
  };
  await assertRejectsBeforeNative(fusedResidualNorm, fusedResidualNormSync)(
    device,
    (registry) => ({ ...base, registry, weight }),
    RangeError,
    /^Cannot encode fused_residual_norm_f32: "weight" holds 252 bytes, expected at least 256 \(dim 64 × 4 bytes\)$/,
  );
  using goodWeight = device.newBuffer(64 * 4);
  await assertRejectsBeforeNative(fusedResidualNorm, fusedResidualNormSync)(
    device,
    (registry) => ({ ...base, registry, weight: goodWeight, sumOutput: rowsBuffer }),
    RangeError,
    /"sumOutput" is the same buffer as "output"/,
  );
});

Deno.test("fusedMoeWsumNormAdd() rejects too small expert outputs before any native call", async () => {
  using rowsBuffer = device.newBuffer(3 * 100 * 4);
  using weights = device.newBuffer(3 * 8 * 4);
  using experts = device.newBuffer(3 * 8 * 100 * 4 - 4);
  await assertRejectsBeforeNative(fusedMoeWsumNormAdd, fusedMoeWsumNormAddSync)(
    device,
    (registry) => ({
      registry,
      expertOutputs: experts,
      expertWeights: weights,
      residual: rowsBuffer,
      weight: rowsBuffer,
      output: rowsBuffer,
      rows: 3,
      dim: 100,
      topK: 8,
      eps: EPS,
    }),
    RangeError,
    /^Cannot encode fused_moe_wsum_norm_add_f32: "expertOutputs" holds 9596 bytes, expected at least 9600 \(rows 3 × topK 8 × dim 100 × 4 bytes\)$/,
  );
});

Deno.test("fusedMoeRouting() rejects bad topK, too many experts and small buffers before any native call", async () => {
  using big = device.newBuffer(1 << 16);
  using ids = device.newBuffer(1 << 12);
  using weights = device.newBuffer(1 << 12);
  const base = { logits: big, expertIds: ids, routingWeights: weights, expertScale: big };
  const cases: [Record<string, number>, RegExp][] = [
    [
      { numExperts: 8, topK: 9 },
      /^Cannot encode fused_moe_routing_f32: "topK" is 9, expected at most 8 \(numExperts 8\)$/,
    ],
    [{ numExperts: 128, topK: 33 }, /"topK" is 33, expected at most 32 \(the kernel's limit\)$/],
    [{ numExperts: 128, topK: 0 }, /"topK" is 0, expected a positive integer/],
    [
      { numExperts: FUSED_MOE_MAX_EXPERTS + 1, topK: 2 },
      /"numExperts" is 1025, expected at most 1024$/,
    ],
    [
      { tokens: 2, numExperts: 128, topK: 8, idsBytes: 60 },
      /^Cannot encode fused_moe_routing_batch_f32: "expertIds" holds 60 bytes, expected at least 64 \(tokens 2 × topK 8 × 4 bytes\)$/,
    ],
  ];
  for (const [{ idsBytes, ...sizes }, message] of cases) {
    using smallIds = device.newBuffer(idsBytes ?? 4);
    await assertRejectsBeforeNative(fusedMoeRouting, fusedMoeRoutingSync)(
      device,
      (registry) => ({
        ...base,
        ...(idsBytes ? { expertIds: smallIds } : {}),
        registry,
        numExperts: sizes.numExperts,
        topK: sizes.topK,
        tokens: sizes.tokens,
      }),
      RangeError,
      message,
    );
  }
  await assertRejectsBeforeNative(fusedMoeRouting, fusedMoeRoutingSync)(
    device,
    (registry) => ({ ...base, routingWeights: ids, registry, numExperts: 8, topK: 2 }),
    RangeError,
    /"routingWeights" is the same buffer as "expertIds"/,
  );
});

Deno.test("fused_norm_add_*.metal define exactly their catalogue names, all in FUSED_NORM_ADD_KERNELS, and the mirrored constants", () => {
  const files: ShaderFile[] = ["fused_norm_add_bf16.metal", "fused_norm_add_f32.metal"];
  const defined = files.flatMap((file) =>
    [...shaderText(file).matchAll(/^\[\[kernel\]\] void ([A-Za-z0-9_]+)\(/gm)].map((m) => m[1])
  ).sort();
  const catalogue = Object.entries(KERNELS).filter(([, e]) => files.includes(e.file)).map((
    [n],
  ) => n).sort();
  assert.strictEqual(catalogue.length, 10);
  assert.deepStrictEqual(defined, catalogue);
  const table = Object.values(FUSED_NORM_ADD_KERNELS).flatMap((t) => Object.values(t)).sort();
  assert.deepStrictEqual(table, catalogue);
  for (const file of files) {
    const match = shaderText(file).match(
      /constant constexpr uint FUSED_NORM_MAX_SIMDGROUPS = (\d+);/,
    );
    assert.strictEqual(Number(match?.[1]), FUSED_NORM_MAX_SIMDGROUPS, file);
  }
  const topK = shaderText("fused_norm_add_f32.metal").match(
    /constant constexpr uint FUSED_MOE_MAX_TOP_K = (\d+);/,
  );
  assert.strictEqual(Number(topK?.[1]), FUSED_MOE_MAX_TOP_K);
});
