// Copyright 2026 the @metal-compute/kernels authors. MIT license.
import assert from "node:assert";
import { testContext } from "../_helpers.ts";
import {
  geluMul,
  geluMulSync,
  moeAccumulate,
  moeAccumulateSync,
  type MoeDispatchDType,
  moeGatherTopkWeights,
  moeGatherTopkWeightsSync,
  moeGegluBatch,
  moeGegluBatchSync,
  moeGegluFused,
  moeGegluFusedSync,
  moeGegluSeq,
  moeGegluSeqSync,
  moeWeightedSum,
  moeWeightedSumSeq,
  moeWeightedSumSeqSync,
  moeWeightedSumSync,
  naiveMatvec,
  naiveMatvecSync,
  zeroBuffer,
  zeroBufferSync,
} from "../../ops/moe_dispatch.ts";
import {
  gatherTopkWeightsRef,
  gegluRef,
  gegluRowsRef,
  matvecRef,
  weightedSumRef,
} from "../../ops/moe_dispatch_ref.ts";
import { siluMulRef } from "../../ops/activations_ref.ts";
import {
  assertRejectsBeforeNative,
  checkOp,
  EXACT,
  type Tolerance,
  TOLERANCES,
  uniform,
} from "./_helpers.ts";

const { device, registry } = testContext();

/**
 * Tolerances. GeGLU: one precise exp, a division and two products in f32 (a few ulps), one
 * rounding on store: the dtype's rtol, atol at its smallest normal. Weighted sums over k ≤ 8
 * terms of O(1): rtol 1e-5, atol 1e-5 for results that cancel (measured ≤ 6e-7); the
 * bf16-input sum reads exact bf16 values and accumulates in f32: the same. The mat-vec sums
 * up to 2816 products serially in one thread: the error is a random walk of ~√2816 roundings
 * of partial sums of size ~30, ~1e-4 (measured 5e-5): atol 2e-4.
 */
const GEGLU: Record<MoeDispatchDType, Tolerance> = TOLERANCES;
const SUM: Tolerance = { rtol: 1e-5, atol: 1e-5 };
const MATVEC: Tolerance = { rtol: 1e-5, atol: 2e-4 };

const DTYPES = ["f32", "bf16"] as const;

for (const dtype of DTYPES) {
  Deno.test(`fused_gelu_mul${dtype === "f32" ? "" : "_bf16"}: geluMul() matches gelu(gate)·up in f64`, async () => {
    for (const [n, sync] of [[1, false], [1001, false], [4096 + 3, true]] as const) {
      await checkOp<"gate" | "up", "out">(device, {
        label: `fused_gelu_mul ${dtype} [${n}]${sync ? " sync" : ""}`,
        inputs: {
          gate: { dtype, values: uniform(n, -8, 8, n) },
          up: { dtype, values: uniform(n, -2, 2, n + 1) },
        },
        outputs: { out: { dtype, length: n, inPlace: n === 1001 ? "up" : undefined } },
        encode: (encoder, { gate, up, out }) => {
          const options = { registry, gate, up, out, dtype, n };
          return sync ? geluMulSync(encoder, options) : geluMul(encoder, options);
        },
        reference: ({ gate, up }) => ({ out: gegluRef(gate, up) }),
        tolerance: GEGLU[dtype],
      });
    }
  });
}

Deno.test("moe_swiglu_fused: moeGegluFused() computes GeGLU (not SwiGLU) of a gate ‖ up row", async () => {
  for (const [n, sync] of [[1, false], [2816, true], [77, false]] as const) {
    const got = await checkOp<"input", "output">(device, {
      label: `moe_swiglu_fused [${n}]${sync ? " sync" : ""}`,
      inputs: { input: { dtype: "f32", values: uniform(2 * n, -6, 6, n + 5) } },
      outputs: { output: { dtype: "f32", length: n } },
      encode: (encoder, { input, output }) => {
        const options = { registry, input, output, n };
        return sync ? moeGegluFusedSync(encoder, options) : moeGegluFused(encoder, options);
      },
      reference: ({ input }) => ({ output: gegluRowsRef(input, n) }),
      tolerance: GEGLU.f32,
    });
    if (n === 77) {
      // The naming trap, made visible: SwiGLU of the same input is far from the result.
      const input = uniform(2 * n, -6, 6, n + 5).map((v) => Math.fround(v));
      const swiglu = siluMulRef(input.subarray(0, n), input.subarray(n));
      assert.ok(got.output.some((v, i) => Math.abs(v - swiglu[i]) > 0.1));
    }
  }
});

Deno.test("moe_swiglu_batch: moeGegluBatch() computes GeGLU per expert slot", async () => {
  for (const [inter, topK, sync] of [[1, 1, false], [704, 8, false], [33, 3, true]] as const) {
    await checkOp<"input", "output">(device, {
      label: `moe_swiglu_batch [${topK}, ${inter}]${sync ? " sync" : ""}`,
      inputs: { input: { dtype: "f32", values: uniform(2 * topK * inter, -6, 6, inter) } },
      outputs: { output: { dtype: "f32", length: topK * inter } },
      encode: (encoder, { input, output }) => {
        const options = { registry, input, output, inter, topK };
        return sync ? moeGegluBatchSync(encoder, options) : moeGegluBatch(encoder, options);
      },
      reference: ({ input }) => ({ output: gegluRowsRef(input, inter) }),
      tolerance: GEGLU.f32,
    });
  }
});

for (const dtype of DTYPES) {
  Deno.test(`moe_swiglu_seq${dtype === "f32" ? "" : "_bf16"}: moeGegluSeq() computes GeGLU per token and slot`, async () => {
    for (
      const [inter, topK, tokens, sync] of [[1, 1, 1, false], [96, 8, 3, false], [
        65,
        2,
        5,
        true,
      ]] as const
    ) {
      await checkOp<"input", "output">(device, {
        label: `moe_swiglu_seq ${dtype} [${tokens}, ${topK}, ${inter}]${sync ? " sync" : ""}`,
        inputs: {
          input: { dtype, values: uniform(2 * tokens * topK * inter, -6, 6, inter + tokens) },
        },
        outputs: { output: { dtype, length: tokens * topK * inter } },
        encode: (encoder, { input, output }) => {
          const options = { registry, input, output, dtype, inter, topK, tokens };
          return sync ? moeGegluSeqSync(encoder, options) : moeGegluSeq(encoder, options);
        },
        reference: ({ input }) => ({ output: gegluRowsRef(input, inter) }),
        tolerance: GEGLU[dtype],
      });
    }
  });
}

Deno.test("moe_accumulate, zero_buffer: moeAccumulate() adds weight·y in place; zeroBuffer() clears n elements", async () => {
  for (const sync of [false, true]) {
    const n = 1027;
    await checkOp<"acc" | "y", "sum">(device, {
      label: `moe_accumulate [${n}]${sync ? " sync" : ""}`,
      inputs: {
        acc: { dtype: "f32", values: uniform(n, -1, 1, 3) },
        y: { dtype: "f32", values: uniform(n, -1, 1, 4) },
      },
      outputs: { sum: { dtype: "f32", length: n, inPlace: "acc" } },
      encode: (encoder, { acc, y }) => {
        const options = { registry, acc, y, n, weight: 0.375 };
        return sync ? moeAccumulateSync(encoder, options) : moeAccumulate(encoder, options);
      },
      reference: ({ acc, y }) => ({ sum: acc.map((a, i) => a + 0.375 * y[i]) }),
      tolerance: TOLERANCES.f32,
    });
    const got = await checkOp<"buffer", "cleared">(device, {
      label: `zero_buffer [${n}]${sync ? " sync" : ""}`,
      inputs: { buffer: { dtype: "f32", values: uniform(n + 1, 1, 2, 5) } },
      outputs: { cleared: { dtype: "f32", length: n, inPlace: "buffer" } },
      encode: (encoder, { buffer }) => {
        const options = { registry, buffer, n };
        return sync ? zeroBufferSync(encoder, options) : zeroBuffer(encoder, options);
      },
      reference: () => ({ cleared: new Float64Array(n) }),
      tolerance: EXACT,
    });
    assert.strictEqual(got.cleared.length, n);
  }
});

Deno.test("moe_weighted_sum: moeWeightedSum() matches Σ_k y[k]·w[k] in f64", async () => {
  for (const [hidden, topK, sync] of [[1, 1, false], [2048, 8, false], [33, 3, true]] as const) {
    await checkOp<"y" | "weights", "out">(device, {
      label: `moe_weighted_sum [${topK}, ${hidden}]${sync ? " sync" : ""}`,
      inputs: {
        y: { dtype: "f32", values: uniform(topK * hidden, -2, 2, hidden) },
        weights: { dtype: "f32", values: uniform(topK, 0, 1, topK) },
      },
      outputs: { out: { dtype: "f32", length: hidden } },
      encode: (encoder, { y, weights, out }) => {
        const options = { registry, y, weights, out, hidden, topK };
        return sync ? moeWeightedSumSync(encoder, options) : moeWeightedSum(encoder, options);
      },
      reference: ({ y, weights }) => ({ out: weightedSumRef(y, weights, topK, hidden) }),
      tolerance: SUM,
    });
  }
});

for (const dtype of DTYPES) {
  const name = dtype === "f32" ? "moe_weighted_sum_seq" : "moe_weighted_sum_seq_bf16_input";
  Deno.test(`${name}: moeWeightedSumSeq() matches Σ_k y[t][k]·w[t][k] in f64 (y ${dtype})`, async () => {
    for (
      const [hidden, topK, tokens, sync] of [[1, 1, 1, false], [2048, 8, 3, false], [
        45,
        2,
        7,
        true,
      ]] as const
    ) {
      await checkOp<"y" | "weights", "out">(device, {
        label: `${name} [${tokens}, ${topK}, ${hidden}]${sync ? " sync" : ""}`,
        inputs: {
          y: { dtype, values: uniform(tokens * topK * hidden, -2, 2, hidden + 1) },
          weights: { dtype: "f32", values: uniform(tokens * topK, 0, 1, tokens) },
        },
        outputs: { out: { dtype: "f32", length: tokens * hidden } },
        encode: (encoder, { y, weights, out }) => {
          const options = { registry, y, weights, out, yDtype: dtype, hidden, topK, tokens };
          return sync
            ? moeWeightedSumSeqSync(encoder, options)
            : moeWeightedSumSeq(encoder, options);
        },
        reference: ({ y, weights }) => ({ out: weightedSumRef(y, weights, topK, hidden) }),
        tolerance: SUM,
      });
    }
  });
}

Deno.test("naive_matvec_f32: naiveMatvec() matches the f64 mat-vec", async () => {
  for (const [rows, cols, sync] of [[1, 1, false], [129, 2816, false], [64, 33, true]] as const) {
    await checkOp<"w" | "x", "out">(device, {
      label: `naive_matvec_f32 [${rows}, ${cols}]${sync ? " sync" : ""}`,
      inputs: {
        w: { dtype: "f32", values: uniform(rows * cols, -1, 1, rows) },
        x: { dtype: "f32", values: uniform(cols, -1, 1, cols) },
      },
      outputs: { out: { dtype: "f32", length: rows } },
      encode: (encoder, { w, x, out }) => {
        const options = { registry, w, x, out, rows, cols };
        return sync ? naiveMatvecSync(encoder, options) : naiveMatvec(encoder, options);
      },
      reference: ({ w, x }) => ({ out: matvecRef(w, x) }),
      tolerance: MATVEC,
    });
  }
});

Deno.test("moe_gather_topk_weights: moeGatherTopkWeights() renormalises then scales, and gives zeros for a zero sum", async () => {
  const nExperts = 128;
  const topK = 8;
  // A ranking of all experts by probability (the argsort a caller would have run).
  const probs = uniform(nExperts, 0, 1, 3).map((v) => v ** 4);
  const sorted = Array.from({ length: nExperts }, (_, e) => e).sort((a, b) => probs[b] - probs[a]);
  for (
    const [label, p, sync] of [["", probs, false], [
      " zero probabilities",
      new Float64Array(nExperts),
      true,
    ]] as const
  ) {
    await checkOp<"probs" | "sorted" | "scale", "ids" | "weights">(device, {
      label: `moe_gather_topk_weights [${nExperts}, top ${topK}]${label}`,
      inputs: {
        probs: { dtype: "f32", values: p },
        sorted: { dtype: "u32", values: sorted },
        scale: { dtype: "f32", values: uniform(nExperts, 0.5, 2, 4) },
      },
      outputs: { ids: { dtype: "u32", length: topK }, weights: { dtype: "f32", length: topK } },
      encode: (encoder, { probs, sorted, scale, ids, weights }) => {
        const options = { registry, probs, sorted, scale, ids, weights, nExperts, topK };
        return sync
          ? moeGatherTopkWeightsSync(encoder, options)
          : moeGatherTopkWeights(encoder, options);
      },
      reference: ({ probs, sorted, scale }) => gatherTopkWeightsRef(probs, sorted, scale, topK),
      tolerance: { ids: EXACT, weights: TOLERANCES.f32 },
    });
  }
});

Deno.test("moe_dispatch helpers reject aliased outputs, unknown dtypes and short buffers before any native call", async () => {
  using a = device.newBuffer(64);
  using b = device.newBuffer(64);
  using small = device.newBuffer(8);
  await assertRejectsBeforeNative(moeGegluFused, moeGegluFusedSync)(
    device,
    (registry) => ({ registry, input: a, output: a, n: 4 }),
    RangeError,
    /^Cannot encode moe_swiglu_fused: "output" is the same buffer as "input", expected a separate output$/,
  );
  await assertRejectsBeforeNative(moeGegluSeq, moeGegluSeqSync)(
    device,
    (registry) => ({
      registry,
      input: a,
      output: b,
      dtype: "f16" as MoeDispatchDType,
      inter: 1,
      topK: 1,
      tokens: 1,
    }),
    TypeError,
    /^Cannot encode moeGegluSeq: "dtype" is "f16", expected one of "f32", "bf16"$/,
  );
  await assertRejectsBeforeNative(moeWeightedSumSeq, moeWeightedSumSeqSync)(
    device,
    (registry) => ({
      registry,
      y: a,
      weights: a,
      out: small,
      yDtype: "bf16",
      hidden: 2,
      topK: 2,
      tokens: 2,
    }),
    RangeError,
    /^Cannot encode moe_weighted_sum_seq_bf16_input: "out" holds 8 bytes, expected at least 16 \(tokens 2 × hidden 2 × 4 bytes\)$/,
  );
  await assertRejectsBeforeNative(moeGatherTopkWeights, moeGatherTopkWeightsSync)(
    device,
    (registry) => ({
      registry,
      probs: a,
      sorted: a,
      scale: a,
      ids: b,
      weights: small,
      nExperts: 2,
      topK: 3,
    }),
    RangeError,
    /^Cannot encode moe_gather_topk_weights: "topK" is 3, expected at most nExperts 2$/,
  );
  await assertRejectsBeforeNative(moeAccumulate, moeAccumulateSync)(
    device,
    (registry) => ({ registry, acc: a, y: b, n: 4, weight: NaN }),
    RangeError,
    /^Cannot encode moe_accumulate: "weight" is NaN, expected a finite number$/,
  );
  await assertRejectsBeforeNative(naiveMatvec, naiveMatvecSync)(
    device,
    (registry) => ({ registry, w: a, x: b, out: b, rows: 2, cols: 2 }),
    RangeError,
    /^Cannot encode naive_matvec_f32: "out" is the same buffer as "x"/,
  );
  await assertRejectsBeforeNative(zeroBuffer, zeroBufferSync)(
    device,
    (registry) => ({ registry, buffer: small, n: 3 }),
    RangeError,
    /^Cannot encode zero_buffer: "buffer" holds 8 bytes, expected at least 12/,
  );
  await assertRejectsBeforeNative(geluMul, geluMulSync)(
    device,
    (registry) => ({ registry, gate: a, up: a, out: a, dtype: "f32", n: 0 }),
    RangeError,
    /^Cannot encode fused_gelu_mul: "n" is 0, expected a positive integer/,
  );
  await assertRejectsBeforeNative(moeGegluBatch, moeGegluBatchSync)(
    device,
    (registry) => ({ registry, input: small, output: b, inter: 2, topK: 1 }),
    RangeError,
    /^Cannot encode moe_swiglu_batch: "input" holds 8 bytes, expected at least 16/,
  );
  await assertRejectsBeforeNative(moeWeightedSum, moeWeightedSumSync)(
    device,
    (registry) => ({ registry, y: a, weights: b, out: a, hidden: 2, topK: 1 }),
    RangeError,
    /^Cannot encode moe_weighted_sum: "out" is the same buffer as "y"/,
  );
});
