// Copyright 2026 the @metal-compute/kernels authors. MIT license.
import assert from "node:assert";
import { testContext } from "../_helpers.ts";
import type { DeviceBuffer } from "../../buffer.ts";
import {
  type AffineBits,
  type AffineGroupSize,
  type AffineMatrix,
  quantizeAffine,
} from "../../formats/affine.ts";
import { fromDTypeBytes, toDTypeArray } from "../../dtype.ts";
import {
  QMV_COLS_PER_TG,
  QMV_ROWS_PER_TG,
  QMV_SIMDGROUPS,
  quantizedMatmul,
  quantizedMatmulExpert,
  quantizedMatmulExpertSync,
  type QuantizedMatmulOptions,
  quantizedMatmulSync,
} from "../../ops/quantized_matmul.ts";
import { quantizedMatmulRef } from "../../ops/quantized_matmul_ref.ts";
import {
  assertRejectsBeforeNative,
  run,
  shaderConstant,
  shaderText,
  spies,
  TOLERANCES,
  uniform,
} from "./_helpers.ts";

const { device, registry } = testContext();

/** The buffers of an affine matrix. */
function upload(
  matrix: AffineMatrix,
): { weights: DeviceBuffer; scales: DeviceBuffer; biases: DeviceBuffer } & Disposable {
  const weights = device.newBuffer(matrix.weights);
  const scales = device.newBuffer(matrix.scales);
  const biases = device.newBuffer(matrix.biases);
  return {
    weights,
    scales,
    biases,
    [Symbol.dispose]() {
      weights.close();
      scales.close();
      biases.close();
    },
  };
}

/**
 * Error bound of an f32-accumulated product against the f64 reference of the values the kernel
 * read: `atol + rtol·|ref|` (TOLERANCES of the output dtype: its one rounding at the store)
 * plus `4·√k·2⁻²⁴·Σ(|s·q| + |b|)·|x|`. The last term is the f32 accumulation: each addition
 * errs by at most 2⁻²⁴ of a partial sum, and the partial sums of either kernel order (whole
 * weights, or s·Σq·x + b·Σx) are bounded by Σ(|s·q| + |b|)·|x|; for random data the errors add
 * like √k (see tests/ops/matmul_test.ts); 4 is headroom.
 */
function assertProductClose(
  got: ArrayLike<number>,
  ref: ArrayLike<number>,
  abs: ArrayLike<number>,
  k: number,
  dtype: "f32" | "bf16",
  label: string,
): void {
  const { rtol, atol } = TOLERANCES[dtype];
  const acc = 4 * Math.sqrt(k) * 2 ** -24;
  let failures = 0;
  let first = -1;
  for (let i = 0; i < ref.length; i++) {
    if (!(Math.abs(got[i] - ref[i]) <= atol + rtol * Math.abs(ref[i]) + acc * abs[i])) {
      failures++;
      if (first < 0) first = i;
    }
  }
  assert.strictEqual(got.length, ref.length);
  assert.strictEqual(
    failures,
    0,
    `${label}: ${failures} of ${ref.length} out of tolerance; first [${first}] got ${
      got[first]
    }, expected ${ref[first]}`,
  );
}

type Shape = readonly [m: number, n: number, k: number];

interface Case {
  shape: Shape;
  bits: AffineBits;
  groupSize: AffineGroupSize;
  dtype: "f32" | "bf16";
  path?: "simd" | "scalar";
  sync?: boolean;
}

/** Quantizes a random W, runs the op and checks it against the reference of its path. */
async function checkProduct(c: Case, seed: number): Promise<void> {
  const [m, n, k] = c.shape;
  const matrix = quantizeAffine(uniform(n * k, -1, 1.5, seed), {
    rows: n,
    cols: k,
    bits: c.bits,
    groupSize: c.groupSize,
  });
  const xValues = toDTypeArray(c.dtype, uniform(m * k, -2, 2, seed + 1));
  const xRead = fromDTypeBytes(c.dtype, xValues);
  using packed = upload(matrix);
  using x = device.newBuffer(xValues);
  using output = device.newBuffer(m * n * (c.dtype === "bf16" ? 2 : 4));
  const options: QuantizedMatmulOptions = {
    registry,
    x,
    ...packed,
    output,
    m,
    n,
    k,
    bits: c.bits,
    groupSize: c.groupSize,
    dtype: c.dtype,
    path: c.path,
  };
  await run(
    device,
    (encoder) => c.sync ? quantizedMatmulSync(encoder, options) : quantizedMatmul(encoder, options),
  );
  const scalar = c.path === "scalar";
  const ref = quantizedMatmulRef({
    x: xRead,
    weights: matrix,
    m,
    weightRounding: scalar ? "bf16" : "none",
    inputRounding: "bf16", // f32 kernels round x; bf16 x is already exact
  });
  const abs = quantizedMatmulRef({ x: xRead, weights: matrix, m, absolute: true });
  const got = fromDTypeBytes(c.dtype, output.contents, m * n);
  const label = `${
    c.path ?? "simd"
  } ${c.dtype} ${c.bits}-bit g${c.groupSize} [m ${m}, n ${n}, k ${k}]`;
  assertProductClose(got, ref, abs, k, c.dtype, label);
}

Deno.test("quantized_matmul_simd: every bit width and group size, m across 1, 8, 9, 33, n not a multiple of 8 or 64", async () => {
  // k below one 512-wide block, between blocks and at several; n with a partial 8-row tile.
  const cases: readonly [AffineBits, AffineGroupSize, Shape][] = [
    [4, 32, [8, 37, 96]],
    [4, 64, [1, 70, 1024]],
    [4, 128, [33, 5, 512]],
    [6, 32, [1, 100, 192]],
    [6, 64, [8, 9, 192]],
    [6, 128, [9, 19, 640]],
    [8, 32, [9, 65, 160]],
    [8, 64, [33, 13, 256]],
    [8, 128, [1, 130, 384]],
  ];
  let seed = 1;
  for (const [bits, groupSize, shape] of cases) {
    await checkProduct({ shape, bits, groupSize, dtype: "f32" }, seed += 10);
  }
});

Deno.test("quantized_matmul_simd: realistic decode rows (k = 2048 and 2816)", async () => {
  await checkProduct({ shape: [1, 136, 2048], bits: 4, groupSize: 64, dtype: "f32" }, 3);
  await checkProduct({ shape: [1, 72, 2816], bits: 6, groupSize: 64, dtype: "f32", sync: true }, 4);
});

Deno.test("quantized_matmul_simd_bf16: bf16 in and out, each bit width", async () => {
  await checkProduct({ shape: [1, 70, 640], bits: 4, groupSize: 64, dtype: "bf16" }, 5);
  await checkProduct({ shape: [9, 33, 384], bits: 6, groupSize: 128, dtype: "bf16" }, 6);
  await checkProduct(
    { shape: [33, 17, 128], bits: 8, groupSize: 32, dtype: "bf16", sync: true },
    7,
  );
});

Deno.test("quantized_matmul: the scalar path (weights and inputs rounded to bf16) matches the reference at each bit width", async () => {
  await checkProduct(
    { shape: [1, 21, 64], bits: 4, groupSize: 32, dtype: "f32", path: "scalar" },
    8,
  );
  await checkProduct(
    { shape: [9, 13, 128], bits: 6, groupSize: 64, dtype: "f32", path: "scalar" },
    9,
  );
  await checkProduct(
    { shape: [33, 5, 256], bits: 8, groupSize: 128, dtype: "f32", path: "scalar", sync: true },
    10,
  );
});

Deno.test("quantized_matmul, quantized_matmul_simd: the scalar path rounds each weight to bf16, the SIMD path does not", async () => {
  // One group whose weights are not bf16 values: s·q + b with s = 2^-7·(1 + 2^-7)... chosen so
  // that rounding w to bf16 changes the product measurably.
  const [m, n, k] = [1, 1, 32];
  const values = Float32Array.from({ length: k }, (_, i) => 1 + i * 0.0123);
  const matrix = quantizeAffine(values, { rows: n, cols: k, bits: 8, groupSize: 32 });
  const x = new Float32Array(k).fill(1);
  const exact = quantizedMatmulRef({ x, weights: matrix, m });
  const rounded = quantizedMatmulRef({ x, weights: matrix, m, weightRounding: "bf16" });
  assert.ok(Math.abs(exact[0] - rounded[0]) > 1e-3, "the data distinguishes the two roundings");
  using packed = upload(matrix);
  using xb = device.newBuffer(x);
  for (const path of ["scalar", "simd"] as const) {
    using output = device.newBuffer(4);
    await run(device, (encoder) =>
      quantizedMatmul(encoder, {
        registry,
        x: xb,
        ...packed,
        output,
        m,
        n,
        k,
        bits: 8,
        groupSize: 32,
        dtype: "f32",
        path,
      }));
    const got = new Float32Array(output.contents)[0];
    const want = path === "scalar" ? rounded[0] : exact[0];
    assert.ok(Math.abs(got - want) < 1e-4, `${path}: got ${got}, expected ${want}`);
  }
});

Deno.test("quantized_matmul_simd_bf16_expert: a routed MoE layer, one expert receiving no token", async () => {
  // 4 experts of [n 24, k 256] 4-bit g64; 6 tokens routed top-1; expert 2 gets none.
  const [experts, n, k, tokens] = [4, 24, 256, 6];
  const route = [0, 3, 1, 0, 3, 3];
  const stacked = quantizeAffine(uniform(experts * n * k, -1, 1, 11), {
    rows: experts * n,
    cols: k,
    bits: 4,
    groupSize: 64,
  });
  const xAll = toDTypeArray("bf16", uniform(tokens * k, -2, 2, 12));
  using packed = upload(stacked);
  const perExpert = stacked.weights.byteLength / experts;
  const pairs = stacked.scales.length / experts;
  for (let e = 0; e < experts; e++) {
    const mine = route.flatMap((to, t) => to === e ? [t] : []);
    const m = mine.length;
    const x = new Uint16Array(Math.max(1, m) * k);
    mine.forEach((t, i) => x.set(xAll.subarray(t * k, (t + 1) * k), i * k));
    using xb = device.newBuffer(x);
    using output = device.newBuffer(Math.max(1, m) * n * 2);
    const options = {
      registry,
      x: xb,
      ...packed,
      output,
      m,
      n,
      k,
      bits: 4 as const,
      groupSize: 64 as const,
      experts,
      expert: e,
    };
    if (m === 0) {
      // Validated, and nothing encoded.
      const s = spies(device);
      await quantizedMatmulExpert(s.encoder, { ...options, registry: s.registry });
      quantizedMatmulExpertSync(s.encoder, { ...options, registry: s.registry });
      assert.deepStrictEqual(s.calls, []);
      assert.strictEqual(e, 2);
      continue;
    }
    await run(device, (encoder) => quantizedMatmulExpert(encoder, options));
    const slice: AffineMatrix = {
      ...stacked,
      rows: n,
      weights: stacked.weights.subarray(e * perExpert, (e + 1) * perExpert),
      scales: stacked.scales.subarray(e * pairs, (e + 1) * pairs),
      biases: stacked.biases.subarray(e * pairs, (e + 1) * pairs),
    };
    const xRead = fromDTypeBytes("bf16", x);
    const ref = quantizedMatmulRef({ x: xRead, weights: slice, m });
    const abs = quantizedMatmulRef({ x: xRead, weights: slice, m, absolute: true });
    assertProductClose(
      fromDTypeBytes("bf16", output.contents, m * n),
      ref,
      abs,
      k,
      "bf16",
      `expert ${e}`,
    );
  }
});

Deno.test("quantizedMatmul() rejects bad bits, group sizes, k and paths before any native call", async () => {
  using big = device.newBuffer(1 << 16);
  using other = device.newBuffer(1 << 16);
  const base = {
    x: big,
    weights: big,
    scales: big,
    biases: big,
    output: other,
    m: 2,
    n: 8,
    k: 64,
    bits: 4 as AffineBits,
    groupSize: 32 as AffineGroupSize,
    dtype: "f32" as const,
  };
  const check = assertRejectsBeforeNative(quantizedMatmul, quantizedMatmulSync);
  await check(
    device,
    (registry) => ({ ...base, registry, bits: 5 as 4 }),
    RangeError,
    /^Cannot encode quantized_matmul_simd: "bits" is 5, expected 4, 6 or 8$/,
  );
  await check(
    device,
    (registry) => ({ ...base, registry, groupSize: 16 as 32 }),
    RangeError,
    /"groupSize" is 16, expected 32, 64 or 128/,
  );
  await check(
    device,
    (registry) => ({ ...base, registry, k: 48 }),
    RangeError,
    /"k" is 48, expected a multiple of the group size 32/,
  );
  await check(
    device,
    (registry) => ({ ...base, registry, dtype: "f16" as "f32" }),
    TypeError,
    /"dtype" is "f16", expected one of "f32", "bf16"/,
  );
  await check(
    device,
    (registry) => ({ ...base, registry, dtype: "bf16", path: "scalar" }),
    TypeError,
    /"dtype \(the scalar path\)" is "bf16", expected one of "f32"/,
  );
  await check(
    device,
    (registry) => ({ ...base, registry, path: "fast" as "simd" }),
    TypeError,
    /"path" is "fast", expected one of "simd", "scalar"/,
  );
  await check(
    device,
    (registry) => ({ ...base, registry, output: big }),
    RangeError,
    /"output" is the same buffer as "x"/,
  );
  await check(
    device,
    (registry) => ({ ...base, registry, m: 0 }),
    RangeError,
    /"m" is 0, expected a positive integer/,
  );
});

Deno.test("quantizedMatmul() rejects buffers too small for the shape and format", async () => {
  using big = device.newBuffer(1 << 16);
  using other = device.newBuffer(1 << 16);
  using small = device.newBuffer(100);
  const base = {
    x: big,
    weights: big,
    scales: big,
    biases: big,
    output: other,
    m: 2,
    n: 8,
    k: 64,
    bits: 6 as AffineBits,
    groupSize: 32 as AffineGroupSize,
    dtype: "bf16" as const,
  };
  const check = assertRejectsBeforeNative(quantizedMatmul, quantizedMatmulSync);
  await check(
    device,
    (registry) => ({ ...base, registry, weights: small }),
    RangeError,
    /^Cannot encode quantized_matmul_simd_bf16: "weights" holds 100 bytes, expected at least 384 \(n 8 × k 64 × 6 bits \/ 8\)$/,
  );
  await check(
    device,
    (registry) => ({ ...base, registry, n: 32, scales: small }),
    RangeError,
    /"scales" holds 100 bytes, expected at least 128 \(n 32 × k \/ groupSize 2 × 2 bytes\)/,
  );
  await check(
    device,
    (registry) => ({ ...base, registry, m: 64, x: small }),
    RangeError,
    /"x" holds 100 bytes, expected at least 8192 \(m 64 × k 64 × 2 bytes\)/,
  );
  await check(
    device,
    (registry) => ({ ...base, registry, output: small, n: 30 }),
    RangeError,
    /"output" holds 100 bytes, expected at least 120/,
  );
});

Deno.test("quantizedMatmulExpert() rejects an expert out of range and stacked buffers too small", async () => {
  using big = device.newBuffer(1 << 16);
  using other = device.newBuffer(1 << 16);
  using small = device.newBuffer(1024);
  const base = {
    x: big,
    weights: big,
    scales: big,
    biases: big,
    output: other,
    m: 1,
    n: 16,
    k: 64,
    bits: 8 as AffineBits,
    groupSize: 64 as AffineGroupSize,
    experts: 4,
    expert: 0,
  };
  const check = assertRejectsBeforeNative(quantizedMatmulExpert, quantizedMatmulExpertSync);
  await check(
    device,
    (registry) => ({ ...base, registry, expert: 4 }),
    RangeError,
    /^Cannot encode quantized_matmul_simd_bf16_expert: "expert" is 4, expected an integer from 0 to 3 \(experts 4\)$/,
  );
  await check(
    device,
    (registry) => ({ ...base, registry, expert: -1 }),
    RangeError,
    /"expert" is -1/,
  );
  await check(
    device,
    (registry) => ({ ...base, registry, weights: small }),
    RangeError,
    /"weights" holds 1024 bytes, expected at least 4096 \(experts 4 × n 16 × k 64 × 8 bits \/ 8\)/,
  );
  await check(
    device,
    (registry) => ({ ...base, registry, m: 0, experts: 0 }),
    RangeError,
    /"experts" is 0/,
  );
});

Deno.test("quantized_matmul.metal's geometry constants match ops/quantized_matmul.ts", () => {
  const text = shaderText("quantized_matmul.metal");
  const constant = (name: string) => shaderConstant(text, name);
  assert.strictEqual(constant("QMV_SIMDGROUPS"), QMV_SIMDGROUPS);
  assert.strictEqual(constant("QMV_ROWS_PER_TG"), QMV_ROWS_PER_TG);
  assert.strictEqual(constant("QMV_COLS_PER_TG"), QMV_COLS_PER_TG);
  assert.strictEqual(constant("QMV_ROWS_PER_SG") * QMV_SIMDGROUPS, QMV_ROWS_PER_TG);
});
