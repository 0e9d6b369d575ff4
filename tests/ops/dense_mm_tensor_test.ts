// Copyright 2026 the @metal-compute/kernels authors. MIT license.
import assert from "node:assert";
import { testContext } from "../_helpers.ts";
import { bf16Round, toDTypeArray } from "../../dtype.ts";
import {
  DENSE_MM_THREADS,
  DENSE_MM_TILE_M,
  DENSE_MM_TILE_N,
  denseMmTensor,
  type DenseMmTensorOptions,
  denseMmTensorSync,
} from "../../ops/dense_mm_tensor.ts";
import { gemvBatchedRef } from "../../ops/matmul_ref.ts";
import {
  chooseTensorKernel,
  chooseTensorKernelSync,
  TENSOR_API_PROBE_KERNEL,
  tensorApiSupported,
  tensorApiSupportedSync,
  TensorApiUnsupportedError,
} from "../../ops/tensor_api.ts";
import { KernelRegistry } from "../../registry.ts";
import { assertRejectsBeforeNative, run, spies, TOLERANCES, uniform } from "./_helpers.ts";

const { device, registry } = testContext();

type Shape = readonly [batches: number, weightBatches: number, m: number, n: number, k: number];

/**
 * Checks one product against gemvBatchedRef of the values the kernel read (bf16 weights; f32
 * activations, rounded to bf16 for the bf16 kernel, which stages them so). Bound per output:
 * TOLERANCES.f32 (rtol 1e-5) plus 4·√k·2⁻²⁴·Σ|w·x| for the f32 accumulation (the argument of
 * tests/ops/matmul_test.ts; bf16 × bf16 products are exact in f32).
 */
async function checkProduct(
  [batches, weightBatches, m, n, k]: Shape,
  weightDType: "f32" | "bf16",
  seed: number,
  sync = false,
): Promise<void> {
  const wValues = toDTypeArray(weightDType, uniform(weightBatches * n * k, -1, 1, seed));
  const xValues = new Float32Array(uniform(batches * m * k, -2, 2, seed + 1));
  using weight = device.newBuffer(wValues);
  using input = device.newBuffer(xValues);
  using output = device.newBuffer(batches * m * n * 4);
  const options: DenseMmTensorOptions = {
    registry,
    weight,
    input,
    output,
    weightDType,
    m,
    n,
    k,
    batches,
    weightBatches,
  };
  await run(
    device,
    (encoder) => sync ? denseMmTensorSync(encoder, options) : denseMmTensor(encoder, options),
  );
  const w = weightDType === "bf16"
    ? Array.from(
      wValues as Uint16Array,
      (b) => new Float32Array(new Uint32Array([b << 16]).buffer)[0],
    )
    : Array.from(wValues as Float32Array);
  const x = weightDType === "bf16" ? Array.from(xValues, bf16Round) : Array.from(xValues);
  const shape = { batches, weightBatches, m, n, k };
  const ref = gemvBatchedRef(w, x, shape);
  const abs = gemvBatchedRef(w.map(Math.abs), x.map(Math.abs), shape);
  const got = new Float32Array(output.contents);
  const acc = 4 * Math.sqrt(k) * 2 ** -24;
  for (let i = 0; i < ref.length; i++) {
    const bound = TOLERANCES.f32.atol + TOLERANCES.f32.rtol * Math.abs(ref[i]) + acc * abs[i];
    assert.ok(
      Math.abs(got[i] - ref[i]) <= bound,
      `${weightDType} [${batches}, ${weightBatches}, ${m}, ${n}, ${k}] [${i}]: got ${
        got[i]
      }, expected ${ref[i]}`,
    );
  }
}

Deno.test("hf2q_dense_mm_f32_f32_tensor: full and edge tiles, a K tail, GQA batches", async () => {
  // [batches, weightBatches, m, n, k]: one element; exactly one tile; edge tiles in m and n
  // with k not a multiple of 32; 4 query heads over 2 key heads.
  let seed = 1;
  for (
    const shape of [[1, 1, 1, 1, 1], [1, 1, 32, 64, 64], [1, 1, 33, 70, 40], [
      4,
      2,
      9,
      65,
      96,
    ]] as const
  ) {
    await checkProduct(shape, "f32", seed += 10);
  }
});

Deno.test("hf2q_dense_mm_bf16_f32_tensor: bf16 weights, activations rounded to bf16", async () => {
  await checkProduct([1, 1, 32, 64, 96], "bf16", 3);
  await checkProduct([2, 1, 17, 100, 33], "bf16", 4, true);
});

Deno.test("tensorApiSupported(): the CPU backend compiles the tensor API, and the answer is cached", async () => {
  assert.strictEqual(
    await tensorApiSupported(device, registry),
    device.backend === "cpu" ? true : await tensorApiSupported(device, registry),
  );
  assert.strictEqual(
    tensorApiSupportedSync(device, registry),
    await tensorApiSupported(device, registry),
  );
  if (device.backend === "cpu") {
    assert.strictEqual(
      await chooseTensorKernel(device, registry, TENSOR_API_PROBE_KERNEL, "dense_gemm_f16"),
      TENSOR_API_PROBE_KERNEL,
    );
  }
});

Deno.test("tensorApiSupported(): a device that cannot compile the probe gets the SIMD-group twin, or a typed error", async () => {
  // A registry whose probe kernel does not compile stands for Metal before macOS 26.
  using old = new KernelRegistry();
  old.registerSource(
    TENSOR_API_PROBE_KERNEL,
    `#include <metal_stdlib>
using namespace metal;
kernel void hf2q_dense_mm_f32_f32_tensor(device float* x [[buffer(0)]]) { x[0] = no_such_thing; }`,
    "dense_mm_f32_f32.metal",
  );
  assert.strictEqual(await tensorApiSupported(device, old), false);
  assert.strictEqual(tensorApiSupportedSync(device, old), false);
  assert.strictEqual(
    await chooseTensorKernel(device, old, TENSOR_API_PROBE_KERNEL, "dense_gemm_f16"),
    "dense_gemm_f16",
  );
  assert.strictEqual(
    chooseTensorKernelSync(device, old, TENSOR_API_PROBE_KERNEL, "dense_gemm_f16"),
    "dense_gemm_f16",
  );
  // No twin: the op refuses before encoding anything.
  using big = device.newBuffer(4096);
  using out = device.newBuffer(4096);
  const s = spies(device);
  const options: DenseMmTensorOptions = {
    registry: old,
    weight: big,
    input: big,
    output: out,
    weightDType: "f32",
    m: 2,
    n: 2,
    k: 2,
  };
  await assert.rejects(
    () => denseMmTensor(s.encoder, options),
    (e) =>
      e instanceof TensorApiUnsupportedError && e.kernel === TENSOR_API_PROBE_KERNEL &&
      /does not compile Metal 4's tensor API .* no SIMD-group twin/.test(e.message),
  );
  assert.throws(() => denseMmTensorSync(s.encoder, options), TensorApiUnsupportedError);
  assert.deepStrictEqual(s.calls, []);
});

Deno.test("denseMmTensor() rejects bad dtypes, batches and small buffers before any native call", async () => {
  using big = device.newBuffer(1 << 16);
  using other = device.newBuffer(1 << 16);
  using small = device.newBuffer(100);
  const base = {
    weight: big,
    input: big,
    output: other,
    weightDType: "f32" as const,
    m: 4,
    n: 8,
    k: 16,
  };
  const check = assertRejectsBeforeNative(denseMmTensor, denseMmTensorSync);
  await check(
    device,
    (registry) => ({ ...base, registry, weightDType: "f16" as "f32" }),
    TypeError,
    /"weightDType" is "f16", expected one of "f32", "bf16"/,
  );
  await check(
    device,
    (registry) => ({ ...base, registry, batches: 3, weightBatches: 2 }),
    RangeError,
    /"batches" 3 is not a multiple of "weightBatches" 2/,
  );
  await check(
    device,
    (registry) => ({ ...base, registry, weight: small }),
    RangeError,
    /^Cannot encode hf2q_dense_mm_f32_f32_tensor: "weight" holds 100 bytes, expected at least 512 \(weightBatches 1 × n 8 × k 16 × 4 bytes\)$/,
  );
  await check(
    device,
    (registry) => ({ ...base, registry, weightDType: "bf16", input: small }),
    RangeError,
    /^Cannot encode hf2q_dense_mm_bf16_f32_tensor: "input" holds 100 bytes, expected at least 256/,
  );
  await check(
    device,
    (registry) => ({ ...base, registry, output: big }),
    RangeError,
    /"output" is the same buffer as "input"/,
  );
  await check(device, (registry) => ({ ...base, registry, k: 0 }), RangeError, /"k" is 0/);
});

Deno.test("the dense tensor shaders' tile constants match ops/dense_mm_tensor.ts", () => {
  for (
    const [file, prefix] of [["dense_mm_f32_f32.metal", "DENSE_MM_"], [
      "dense_mm_bf16_tensor.metal",
      "DENSE_MM_BF16_",
    ]]
  ) {
    const text = Deno.readTextFileSync(new URL(`../../shaders/${file}`, import.meta.url));
    const value = (name: string) =>
      Number(new RegExp(`constexpr int ${prefix}${name} = (\\d+);`).exec(text)?.[1]);
    assert.strictEqual(value("TILE_M"), DENSE_MM_TILE_M, file);
    assert.strictEqual(value("TILE_N"), DENSE_MM_TILE_N, file);
    assert.strictEqual(value("THREADS"), DENSE_MM_THREADS, file);
  }
});
