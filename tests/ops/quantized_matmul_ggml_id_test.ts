// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// The expert-routed (MoE) GGML products: the mat-vec, the token lists, the per-expert mat-mat,
// the routing between them, skipped rows and refusals.
import assert from "node:assert";
import { testContext } from "../_helpers.ts";
import type { ComputeEncoder } from "../../device.ts";
import { dequantizeGgml, ggmlRowBytes, quantizeGgml } from "../../formats/ggml.ts";
import {
  GGML_ID_MATVEC_MAX_TOKENS,
  ggmlMapExperts,
  ggmlMapExpertsSync,
  type GgmlMatmulIdType,
  ggmlMatvecId,
  ggmlRoutingBytes,
  QUANTIZED_MATMUL_ID_GGML_KERNELS,
  QUANTIZED_MATMUL_ID_MM_KERNELS,
  QUANTIZED_MATMUL_ID_MM_TENSOR_KERNELS,
  quantizedMatmulGgmlId,
  type QuantizedMatmulGgmlIdOptions,
  quantizedMatmulGgmlIdSync,
} from "../../ops/quantized_matmul_ggml_id.ts";
import { quantizedMatmulGgmlIdRef } from "../../ops/quantized_matmul_ggml_ref.ts";
import { assertRejectsBeforeNative, recordKernels, rng, run, uniform } from "./_helpers.ts";
import { assertGgmlClose, sharedSection } from "./_ggml_helpers.ts";

const { device, registry } = testContext();

/** Router output: `topK` distinct experts per token, never `unused`. */
function routerIds(tokens: number, topK: number, experts: number, seed: number, unused: number) {
  assert.ok(topK <= experts - (unused >= 0 ? 1 : 0), "enough experts to choose from");
  const next = rng(seed);
  const ids = new Uint32Array(tokens * topK);
  for (let t = 0; t < tokens; t++) {
    const chosen = new Set<number>();
    while (chosen.size < topK) {
      const e = Math.floor(next() * experts);
      if (e !== unused) chosen.add(e);
    }
    ids.set([...chosen], t * topK);
  }
  return ids;
}

interface MoeCase {
  type: GgmlMatmulIdType;
  experts: number;
  tokens: number;
  topK: number;
  n: number;
  k: number;
  seed: number;
  /** Ids to use instead of a router's (may hold non-experts). */
  ids?: Uint32Array;
  expertStride?: number;
  encode?: (encoder: ComputeEncoder, options: QuantizedMatmulGgmlIdOptions) => Promise<void> | void;
  checkIds?: boolean;
  /** Let the two-pass path take the tensor-API kernel (default false: the SIMD-group twin). */
  tensorApi?: boolean;
}

const SENTINEL = 7;

/** Runs one routed product (output pre-filled with 7) and checks it; returns the kernels set. */
async function checkMoe(c: MoeCase): Promise<string[]> {
  const { type, experts, tokens, topK, n, k, seed } = c;
  const matrixBytes = n * ggmlRowBytes(type, k);
  const stride = c.expertStride ?? matrixBytes;
  const weightBytes = new Uint8Array((experts - 1) * stride + matrixBytes);
  for (let e = 0; e < experts; e++) {
    weightBytes.set(quantizeGgml(uniform(n * k, -1, 1, seed + e), type), e * stride);
  }
  const x = Float64Array.from(new Float32Array(uniform(tokens * k, -1, 1, seed - 1)));
  const ids = c.ids ?? routerIds(tokens, topK, experts, seed, experts - 1);
  using weight = device.newBuffer(weightBytes);
  using input = device.newBuffer(new Float32Array(x));
  using idsBuffer = device.newBuffer(ids);
  using output = device.newBuffer(new Float32Array(tokens * topK * n).fill(SENTINEL));
  const bytes = ggmlRoutingBytes(experts, tokens);
  using counts = device.newBuffer(bytes.counts);
  using lists = device.newBuffer(bytes.lists);
  let kernels: string[] = [];
  await run(device, (encoder) => {
    kernels = recordKernels(encoder);
    return (c.encode ?? quantizedMatmulGgmlId)(encoder, {
      registry,
      type,
      weight,
      input,
      ids: idsBuffer,
      output,
      tokens,
      topK,
      experts,
      n,
      k,
      expertStride: c.expertStride,
      checkIds: c.checkIds,
      routing: { counts, lists },
      tensorApi: c.tensorApi ?? false,
    });
  });
  const halfWeights = kernels.length === 2; // the two-pass path stages half weights
  const expected = quantizedMatmulGgmlIdRef({
    type,
    weight: weightBytes,
    input: x,
    ids,
    tokens,
    topK,
    experts,
    n,
    k,
    expertStride: stride,
    halfWeights,
    halfInputs: kernels.some((name) => name.includes("_tensor_")), // the tensor path's staging
  });
  // Σ|w·x| per output, and the sentinel where a row is skipped.
  const scale = new Float64Array(expected.length);
  for (let r = 0; r < tokens * topK; r++) {
    const e = ids[r];
    if (e >= experts) {
      expected.fill(SENTINEL, r * n, (r + 1) * n);
      continue;
    }
    const w = dequantizeGgml(
      weightBytes.subarray(e * stride, e * stride + matrixBytes),
      type,
      new Float64Array(n * k),
    );
    const t = Math.floor(r / topK);
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let l = 0; l < k; l++) sum += Math.abs(w[j * k + l] * x[t * k + l]);
      scale[r * n + j] = sum;
    }
  }
  assertGgmlClose(
    new Float32Array(output.contents),
    expected,
    scale,
    `${type} experts ${experts} tokens ${tokens} top-${topK} [n ${n}, k ${k}]`,
  );
  return kernels;
}

const ALL_TYPES: readonly GgmlMatmulIdType[] = ["q4_0", "q8_0", "q5_K", "q6_K"];
const MM_TYPES = ["q4_0", "q8_0", "q6_K"] as const;

Deno.test("kernel_mul_mv_id_q4_0_f32, kernel_mul_mv_id_q8_0_f32, kernel_mul_mv_id_q5_K_f32, kernel_mul_mv_id_q6_K_f32: quantizedMatmulGgmlId() with few tokens matches the f64 reference", async () => {
  // top-2 over 8 experts (the last never chosen), top-1; n not a multiple of the 8 / 4 rows of
  // a threadgroup.
  let seed = 1;
  for (const type of ALL_TYPES) {
    for (const [tokens, topK, n] of [[3, 2, 13], [5, 1, 6]]) {
      const kernels = await checkMoe({
        type,
        experts: 8,
        tokens,
        topK,
        n,
        k: 256,
        seed: seed += 20,
      });
      assert.deepStrictEqual(kernels, [QUANTIZED_MATMUL_ID_GGML_KERNELS[type]]);
    }
  }
});

Deno.test("kernel_mul_mm_id_map0_ne20_1, kernel_mul_mm_id_map0_ne20_8: ggmlMapExperts() lists each expert's rows in order", async () => {
  // 300 tokens: two chunks of staged ids; 64 and 128 experts top-8, 16 experts top-1; one
  // expert unused each time.
  for (const [experts, topK, seed] of [[64, 8, 3], [128, 8, 5], [16, 1, 4]] as const) {
    const tokens = 300;
    const ids = routerIds(tokens, topK, experts, seed, 5);
    using idsBuffer = device.newBuffer(ids);
    const bytes = ggmlRoutingBytes(experts, tokens);
    using counts = device.newBuffer(bytes.counts);
    using lists = device.newBuffer(bytes.lists);
    await run(device, (encoder) =>
      ggmlMapExperts(encoder, {
        registry,
        ids: idsBuffer,
        routing: { counts, lists },
        tokens,
        topK,
        experts,
      }));
    const gotCounts = new Uint32Array(counts.contents);
    const gotLists = new Uint32Array(lists.contents);
    for (let e = 0; e < experts; e++) {
      const rows = [...ids.keys()].filter((r) => ids[r] === e);
      assert.strictEqual(gotCounts[e], rows.length, `expert ${e} count`);
      assert.deepStrictEqual(
        [...gotLists.subarray(e * tokens, e * tokens + rows.length)],
        rows,
        `expert ${e} rows`,
      );
    }
    assert.strictEqual(gotCounts[5], 0);
  }
});

Deno.test("kernel_mul_mm_id_q4_0_f32, kernel_mul_mm_id_q8_0_f32, kernel_mul_mm_id_q6_K_f32: quantizedMatmulGgmlId() with many tokens matches the f64 reference with half weights", async () => {
  // 33 tokens top-8 over 16 experts (one unused), n crossing a 64-wide tile; 40 tokens top-1
  // over 3 experts, so an expert gets more than one 32-row tile.
  let seed = 500;
  for (const type of MM_TYPES) {
    const cases = [
      { experts: 16, tokens: 33, topK: 8, n: 67 },
      { experts: 3, tokens: 40, topK: 1, n: 9 },
    ];
    for (const shape of cases) {
      const kernels = await checkMoe({ type, ...shape, k: 256, seed: seed += 50 });
      const map = QUANTIZED_MATMUL_ID_MM_KERNELS.map[shape.topK === 1 ? "top1" : "top8"];
      assert.deepStrictEqual(kernels, [map, QUANTIZED_MATMUL_ID_MM_KERNELS.matmul[type]]);
    }
  }
});

Deno.test("kernel_mul_mm_id_q4_0_tensor_f32, kernel_mul_mm_id_q8_0_tensor_f32, kernel_mul_mm_id_q6_K_tensor_f32: quantizedMatmulGgmlId() with many tokens on a tensor-API device matches the f64 reference with half weights and inputs", async () => {
  // 33 tokens top-8 over 10 experts with one idle (no token), n crossing a 64-wide tile; for
  // Q4_0 also 40 tokens top-1 over 2 experts, so an expert gets more than one 32-row tile.
  let seed = 700;
  for (const type of MM_TYPES) {
    const cases = type === "q4_0"
      ? [{ experts: 10, tokens: 33, topK: 8, n: 67 }, { experts: 2, tokens: 40, topK: 1, n: 9 }]
      : [{ experts: 10, tokens: 33, topK: 8, n: 67 }];
    for (const shape of cases) {
      const kernels = await checkMoe({ type, ...shape, k: 256, seed: seed += 50, tensorApi: true });
      const map = QUANTIZED_MATMUL_ID_MM_KERNELS.map[shape.topK === 1 ? "top1" : "top8"];
      assert.deepStrictEqual(kernels, [map, QUANTIZED_MATMUL_ID_MM_TENSOR_KERNELS[type]]);
    }
  }
});

Deno.test("kernel_mul_mm_id_map0_ne20_8, kernel_mul_mm_id_q4_0_f32: 128 experts, top-8, most experts with one or two rows", async () => {
  const kernels = await checkMoe({
    type: "q4_0",
    experts: 128,
    tokens: 40,
    topK: 8,
    n: 9,
    k: 64,
    seed: 900,
  });
  assert.deepStrictEqual(kernels, ["kernel_mul_mm_id_map0_ne20_8", "kernel_mul_mm_id_q4_0_f32"]);
});

Deno.test("quantizedMatmulGgmlId() takes the two passes only past 32 tokens, with top-1 or top-8, not for Q5_K", async () => {
  assert.strictEqual(GGML_ID_MATVEC_MAX_TOKENS, 32);
  const base = { experts: 4, n: 3, k: 32, type: "q8_0" as const };
  assert.deepStrictEqual(
    await checkMoe({ ...base, tokens: 32, topK: 1, seed: 1 }),
    ["kernel_mul_mv_id_q8_0_f32"],
  );
  assert.deepStrictEqual(
    await checkMoe({ ...base, tokens: 33, topK: 1, seed: 2 }),
    ["kernel_mul_mm_id_map0_ne20_1", "kernel_mul_mm_id_q8_0_f32"],
  );
  assert.deepStrictEqual(
    await checkMoe({ ...base, tokens: 33, topK: 2, seed: 3 }),
    ["kernel_mul_mv_id_q8_0_f32"],
  );
  assert.deepStrictEqual(
    await checkMoe({ ...base, type: "q5_K", k: 256, tokens: 33, topK: 1, seed: 4 }),
    ["kernel_mul_mv_id_q5_K_f32"],
  );
});

Deno.test("quantizedMatmulGgmlId() with checkIds false skips rows whose id is not an expert, on both paths", async () => {
  for (const tokens of [2, 34]) {
    const ids = routerIds(tokens, 1, 4, 9, -1);
    ids[1] = 4; // one past the last expert
    ids[0] = 0xffff_ffff;
    await checkMoe({
      type: "q4_0",
      experts: 4,
      tokens,
      topK: 1,
      n: 5,
      k: 64,
      seed: 10,
      ids,
      checkIds: false,
    });
  }
});

Deno.test("ggmlMatvecId() reads experts a padded stride apart; quantizedMatmulGgmlIdSync() runs both passes", async () => {
  const stride = 3 * ggmlRowBytes("q6_K", 256) + 100;
  await checkMoe({
    type: "q6_K",
    experts: 5,
    tokens: 4,
    topK: 2,
    n: 3,
    k: 256,
    seed: 20,
    expertStride: stride,
    encode: ggmlMatvecId,
  });
  const kernels = await checkMoe({
    type: "q4_0",
    experts: 10,
    tokens: 36,
    topK: 8,
    n: 7,
    k: 64,
    seed: 30,
    expertStride: 7 * 36 + 2,
    encode: quantizedMatmulGgmlIdSync,
  });
  assert.deepStrictEqual(kernels, ["kernel_mul_mm_id_map0_ne20_8", "kernel_mul_mm_id_q4_0_f32"]);
});

// ---- refusals -------------------------------------------------------------------------------

function refusalOptions(ids: Uint32Array, tokens: number, topK: number) {
  const weight = device.newBuffer(4 * ggmlRowBytes("q8_0", 64));
  const input = device.newBuffer(tokens * 64 * 4);
  const idsBuffer = device.newBuffer(ids);
  const output = device.newBuffer(tokens * topK * 2 * 4);
  return {
    buffers: [weight, input, idsBuffer, output],
    options: (
      registry: QuantizedMatmulGgmlIdOptions["registry"],
    ): QuantizedMatmulGgmlIdOptions => ({
      registry,
      type: "q8_0",
      weight,
      input,
      ids: idsBuffer,
      output,
      tokens,
      topK,
      experts: 2,
      n: 2,
      k: 64,
    }),
  };
}

Deno.test("quantizedMatmulGgmlId() refuses an id that is not an expert and a token naming one expert twice, before any native call", async () => {
  const bad = refusalOptions(new Uint32Array([0, 1, 1, 2]), 2, 2);
  await assertRejectsBeforeNative(quantizedMatmulGgmlId, quantizedMatmulGgmlIdSync)(
    device,
    bad.options,
    RangeError,
    /^Cannot encode kernel_mul_mv_id_q8_0_f32: "ids" \[3\] \(token 1, slot 1\) is 2, expected an expert below 2$/,
  );
  const twice = refusalOptions(new Uint32Array([0, 1, 1, 1]), 2, 2);
  await assertRejectsBeforeNative(quantizedMatmulGgmlId, quantizedMatmulGgmlIdSync)(
    device,
    twice.options,
    RangeError,
    /"ids" names expert 1 twice for token 1 \(slots 0 and 1\)/,
  );
  for (const buffer of [...bad.buffers, ...twice.buffers]) buffer.close();
});

Deno.test("quantizedMatmulGgmlId() refuses a missing routing on the two-pass path, a small stride and a small weight buffer", async () => {
  const many = refusalOptions(new Uint32Array(40).map((_, i) => i % 2), 40, 1);
  await assertRejectsBeforeNative(quantizedMatmulGgmlId, quantizedMatmulGgmlIdSync)(
    device,
    many.options,
    TypeError,
    /"routing" is undefined, expected \{ counts, lists \} buffers: 40 tokens \(over 32\) with topK 1 take the two-pass mat-mat \(ggmlRoutingBytes\(2, 40\) gives their sizes\)/,
  );
  await assertRejectsBeforeNative(quantizedMatmulGgmlId, quantizedMatmulGgmlIdSync)(
    device,
    (registry) => ({ ...many.options(registry), tokens: 2, expertStride: 100 }),
    RangeError,
    /^Cannot encode kernel_mul_mv_id_q8_0_f32: "expertStride" is 100, expected an even integer from 136 \(n 2 × 68 bytes per row\)/,
  );
  await assertRejectsBeforeNative(quantizedMatmulGgmlId, quantizedMatmulGgmlIdSync)(
    device,
    (registry) => ({ ...many.options(registry), tokens: 2, experts: 5 }),
    RangeError,
    /"weight" holds 272 bytes, expected at least 680 \(experts 5, 136 bytes apart/,
  );
  for (const buffer of many.buffers) buffer.close();
});

Deno.test("ggmlMapExperts() refuses a top-k without a token-list kernel and more than 1024 experts", async () => {
  using ids = device.newBuffer(64);
  using counts = device.newBuffer(1 << 14);
  using lists = device.newBuffer(1 << 14);
  const options = (registry: QuantizedMatmulGgmlIdOptions["registry"]) => ({
    registry,
    ids,
    routing: { counts, lists },
    tokens: 4,
    topK: 2,
    experts: 4,
  });
  await assertRejectsBeforeNative(ggmlMapExperts, ggmlMapExpertsSync)(
    device,
    options,
    RangeError,
    /^Cannot encode ggmlMapExperts(Sync)?: "topK" is 2, expected 1 or 8/,
  );
  await assertRejectsBeforeNative(ggmlMapExperts, ggmlMapExpertsSync)(
    device,
    (registry) => ({ ...options(registry), topK: 1, experts: 2000, checkIds: false }),
    RangeError,
    /"experts" is 2000, expected at most 1024/,
  );
});

Deno.test("the GGML id shaders carry the same shared sections as the dense ones", () => {
  for (
    const [name, dense, id] of [
      ["ggml block structs", "quantized_matmul_ggml.metal", "quantized_matmul_id_ggml.metal"],
      ["ggml block structs", "quantized_matmul_ggml.metal", "quantized_matmul_id_mm.metal"],
      ["ggml mat-vec", "quantized_matmul_ggml.metal", "quantized_matmul_id_ggml.metal"],
      ["ggml mat-mat", "quantized_matmul_mm.metal", "quantized_matmul_id_mm.metal"],
    ]
  ) {
    const copy = sharedSection(id, name);
    assert.ok(copy !== undefined, `${id} has "${name}"`);
    assert.strictEqual(copy, sharedSection(dense, name), `"${name}" differs in ${id}`);
  }
});
