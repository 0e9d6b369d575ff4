// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// How every row op (one threadgroup per row) chooses its width: the backend's default, the
// per-call `threadsPerRow` / `maxThreadsPerRow`, and their validation. Nothing here runs a
// kernel (a recording encoder and registry stand in); the family tests run the kernels at
// several widths.
import assert from "node:assert";
import { testContext } from "../_helpers.ts";
import type { DeviceBuffer } from "../../buffer.ts";
import type { ComputeEncoder } from "../../device.ts";
import type { KernelRegistry } from "../../registry.ts";
import type { RowWidthOptions } from "../../ops/_dispatch.ts";
import { softmax, softmaxSync } from "../../ops/softmax.ts";
import {
  fusedPostAttnTripleNormSync,
  rmsNorm,
  rmsNormMulSync,
  rmsNormNoScaleDualPermSync,
  rmsNormNoScaleDualSync,
  rmsNormNoScaleSync,
  rmsNormSync,
  rmsNormTripleSync,
} from "../../ops/rms_norm.ts";
import { l2NormSync } from "../../ops/l2_norm.ts";
import { cumsumSync } from "../../ops/cumsum.ts";
import { ssmNormGateSync } from "../../ops/ssm_norm_gate.ts";
import {
  fusedMoeWsumDnormAddSync,
  fusedMoeWsumNormAddSync,
  fusedNormAddScalarSync,
  fusedNormAddSync,
  fusedResidualNormScalarSync,
  fusedResidualNormSync,
} from "../../ops/fused_norm_add.ts";
import { headNormRopeSync, scaleMaskSoftmaxSync } from "../../ops/attention_prep.ts";
import { assertRejectsBeforeNative, dispatchedThreads } from "./_helpers.ts";

const { device } = testContext();

/** Row length of every case below. */
const DIM = 512;

// Distinct buffers large enough for every op below at one row (MoE: 2 experts) of DIM, opened
// by each test (`using buffers = openBuffers()`).
let [a, b, c, d, e, f] = [] as DeviceBuffer[];

function openBuffers(): Disposable {
  const stack = new DisposableStack();
  [a, b, c, d, e, f] = Array.from({ length: 6 }, () => stack.use(device.newBuffer(2 * DIM * 4)));
  return stack;
}

type Encode = (encoder: ComputeEncoder, registry: KernelRegistry, width: RowWidthOptions) => void;

/**
 * Every row op: its `*Sync` helper on one row of `DIM`, and the width it picks on a GPU (a
 * multiple of 32 near `DIM` over the columns each thread should get).
 */
const ROW_OPS: readonly (readonly [string, Encode, number])[] = [
  [
    "softmax",
    (x, registry, w) =>
      softmaxSync(x, { registry, input: a, output: b, dtype: "f32", rows: 1, cols: DIM, ...w }),
    128,
  ],
  ["rmsNorm", (x, registry, w) =>
    rmsNormSync(x, {
      registry,
      input: a,
      weight: b,
      output: c,
      dtype: "f32",
      rows: 1,
      dim: DIM,
      eps: 1e-6,
      ...w,
    }), 128],
  ["rmsNormNoScale", (x, registry, w) =>
    rmsNormNoScaleSync(x, {
      registry,
      input: a,
      output: b,
      dtype: "f32",
      rows: 1,
      dim: DIM,
      eps: 1e-6,
      ...w,
    }), 128],
  ["rmsNormMul", (x, registry, w) =>
    rmsNormMulSync(x, {
      registry,
      input: a,
      weight: b,
      multiplier: c,
      output: d,
      dtype: "f32",
      rows: 1,
      dim: DIM,
      eps: 1e-6,
      ...w,
    }), 128],
  ["rmsNormTriple", (x, registry, w) =>
    rmsNormTripleSync(x, {
      registry,
      input: a,
      weights: [b, b, b],
      outputs: [c, d, e],
      rows: 1,
      dim: DIM,
      eps: 1e-6,
      ...w,
    }), 128],
  ["rmsNormNoScaleDual", (x, registry, w) =>
    rmsNormNoScaleDualSync(x, {
      registry,
      input: a,
      output: b,
      outputBf16: c,
      rows: 1,
      dim: DIM,
      eps: 1e-6,
      ...w,
    }), 128],
  ["rmsNormNoScaleDualPerm", (x, registry, w) =>
    rmsNormNoScaleDualPermSync(x, {
      registry,
      input: a,
      output: b,
      outputBf16: c,
      seqLen: 1,
      heads: 1,
      dim: DIM,
      eps: 1e-6,
      ...w,
    }), 128],
  ["fusedPostAttnTripleNorm", (x, registry, w) =>
    fusedPostAttnTripleNormSync(x, {
      registry,
      hidden: a,
      attention: b,
      postWeight: c,
      weights: [c, c, c],
      residual: a,
      outputs: [d, e, f],
      rows: 1,
      dim: DIM,
      eps: 1e-6,
      ...w,
    }), 128],
  ["l2Norm", (x, registry, w) =>
    l2NormSync(x, {
      registry,
      input: a,
      output: b,
      dtype: "f32",
      rows: 1,
      dim: DIM,
      eps: 1e-6,
      ...w,
    }), 128],
  [
    "cumsum",
    (x, registry, w) =>
      cumsumSync(x, { registry, input: a, output: b, dtype: "f32", rows: 1, dim: DIM, ...w }),
    128,
  ],
  ["ssmNormGate", (x, registry, w) =>
    ssmNormGateSync(x, {
      registry,
      x: a,
      weight: b,
      z: c,
      output: d,
      rows: 1,
      dim: DIM,
      eps: 1e-6,
      ...w,
    }), 128],
  ["fusedNormAdd", (x, registry, w) =>
    fusedNormAddSync(x, {
      registry,
      residual: a,
      input: b,
      weight: c,
      output: d,
      dtype: "f32",
      rows: 1,
      dim: DIM,
      eps: 1e-6,
      ...w,
    }), 128],
  ["fusedNormAddScalar", (x, registry, w) =>
    fusedNormAddScalarSync(x, {
      registry,
      residual: a,
      input: b,
      weight: c,
      output: d,
      scalar: e,
      rows: 1,
      dim: DIM,
      eps: 1e-6,
      ...w,
    }), 128],
  ["fusedResidualNorm", (x, registry, w) =>
    fusedResidualNormSync(x, {
      registry,
      residual: a,
      input: b,
      weight: c,
      output: d,
      rows: 1,
      dim: DIM,
      eps: 1e-6,
      ...w,
    }), 128],
  ["fusedResidualNormScalar", (x, registry, w) =>
    fusedResidualNormScalarSync(x, {
      registry,
      residual: a,
      input: b,
      weight: c,
      output: d,
      scalar: e,
      rows: 1,
      dim: DIM,
      eps: 1e-6,
      ...w,
    }), 128],
  ["fusedMoeWsumNormAdd", (x, registry, w) =>
    fusedMoeWsumNormAddSync(x, {
      registry,
      expertOutputs: a,
      expertWeights: b,
      residual: c,
      weight: d,
      output: e,
      topK: 2,
      rows: 1,
      dim: DIM,
      eps: 1e-6,
      ...w,
    }), 128],
  ["fusedMoeWsumDnormAdd", (x, registry, w) =>
    fusedMoeWsumDnormAddSync(x, {
      registry,
      expertOutputs: a,
      expertWeights: b,
      residual: c,
      residualWeight: d,
      moeWeight: e,
      output: f,
      topK: 2,
      rows: 1,
      dim: DIM,
      eps: 1e-6,
      ...w,
    }), 128],
  // One thread per rotated pair: DIM / 2 threads on a GPU.
  ["headNormRope", (x, registry, w) =>
    headNormRopeSync(x, {
      registry,
      input: a,
      output: b,
      positions: c,
      dtype: "f32",
      seqLen: 1,
      nHeads: 1,
      headDim: DIM,
      eps: 1e-6,
      base: 10000,
      ...w,
    }), 256],
  ["scaleMaskSoftmax", (x, registry, w) =>
    scaleMaskSoftmaxSync(x, {
      registry,
      input: a,
      output: b,
      rows: 1,
      seqQ: 1,
      seqK: DIM,
      scale: 1,
      ...w,
    }), 128],
];

Deno.test("row ops choose a multiple of 32 near the row length on a GPU", () => {
  using _buffers = openBuffers();
  for (const [name, encode, gpuWidth] of ROW_OPS) {
    assert.strictEqual(dispatchedThreads("metal", (x, r) => encode(x, r, {})), gpuWidth, name);
  }
});

Deno.test("row ops run one thread per row by default on the CPU backend", () => {
  using _buffers = openBuffers();
  for (const [name, encode] of ROW_OPS) {
    assert.strictEqual(dispatchedThreads("cpu", (x, r) => encode(x, r, {})), 1, name);
  }
});

Deno.test("row ops use threadsPerRow exactly on every backend, partial SIMD-groups included", () => {
  using _buffers = openBuffers();
  for (const [name, encode] of ROW_OPS) {
    for (const backend of ["cpu", "metal"] as const) {
      for (const threadsPerRow of [1, 32, 80, 1024]) {
        const got = dispatchedThreads(backend, (x, r) => encode(x, r, { threadsPerRow }));
        assert.strictEqual(got, threadsPerRow, `${name} on ${backend}`);
      }
    }
  }
});

Deno.test("row ops cap their automatic width by maxThreadsPerRow on every backend", () => {
  using _buffers = openBuffers();
  for (const [name, encode, gpuWidth] of ROW_OPS) {
    for (const backend of ["cpu", "metal"] as const) {
      const width = (maxThreadsPerRow: number) =>
        dispatchedThreads(backend, (x, r) => encode(x, r, { maxThreadsPerRow }));
      assert.strictEqual(width(1024), gpuWidth, `${name} on ${backend}, ≤ 1024`);
      assert.strictEqual(width(100), 96, `${name} on ${backend}, ≤ 100: whole SIMD-groups`);
      assert.strictEqual(width(20), 20, `${name} on ${backend}, ≤ 20: below one SIMD-group`);
    }
  }
});

Deno.test("row ops refuse a pipeline too small for threadsPerRow when encoding", () => {
  using _buffers = openBuffers();
  assert.throws(
    () => dispatchedThreads("metal", (x, r) => ROW_OPS[0][1](x, r, { threadsPerRow: 768 }), 512),
    /^RangeError: Cannot dispatch softmax_f32: a threadgroup of 768 × 1 × 1 = 768 threads exceeds the pipeline's maximum of 512$/,
  );
});

Deno.test("row ops reject a bad row width before any native call", async () => {
  using _buffers = openBuffers();
  const check = assertRejectsBeforeNative(softmax, softmaxSync);
  const options = (width: Record<string, unknown>) => (registry: KernelRegistry) => ({
    registry,
    input: a,
    output: b,
    dtype: "f32" as const,
    rows: 1,
    cols: DIM,
    ...width,
  });
  const allowed = "expected an integer from 1 to 1024";
  for (const bad of [0, 1.5, 1025, -32, NaN]) {
    await check(
      device,
      options({ threadsPerRow: bad }),
      RangeError,
      new RegExp(`^Cannot encode softmax_f32: "threadsPerRow" is ${bad}, ${allowed}$`),
    );
  }
  await check(
    device,
    options({ maxThreadsPerRow: 2048 }),
    RangeError,
    new RegExp(`^Cannot encode softmax_f32: "maxThreadsPerRow" is 2048, ${allowed}$`),
  );
  await check(
    device,
    options({ threadsPerRow: "32" }),
    TypeError,
    new RegExp(`^Cannot encode softmax_f32: "threadsPerRow" is "32", ${allowed}$`),
  );
  await check(
    device,
    options({ threadsPerRow: 32, maxThreadsPerRow: 64 }),
    TypeError,
    /^Cannot encode softmax_f32: "threadsPerRow" \(32\) and "maxThreadsPerRow" \(64\) are both given, expected at most one of them$/,
  );
  await assertRejectsBeforeNative(rmsNorm, rmsNormSync)(
    device,
    (registry) => ({
      registry,
      input: a,
      weight: b,
      output: c,
      dtype: "f32",
      rows: 1,
      dim: DIM,
      eps: 1e-6,
      threadsPerRow: 4096,
    }),
    RangeError,
    new RegExp(`^Cannot encode rms_norm_f32: "threadsPerRow" is 4096, ${allowed}$`),
  );
});
