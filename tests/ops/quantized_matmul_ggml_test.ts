// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// The dense GGML quantized matmuls (mat-vec and mat-mat) against the f64 reference, the
// routing by m, refusals, and the shaders' shared sections and geometry numbers.
import assert from "node:assert";
import { testContext } from "../_helpers.ts";
import type { ComputeEncoder } from "../../device.ts";
import { quantizeGgml } from "../../formats/ggml.ts";
import {
  GGML_MATVEC_MAX_ROWS,
  ggmlMatmul,
  ggmlMatmulPerm021,
  ggmlMatmulPerm021Sync,
  ggmlMatmulTensorSync,
  type GgmlMatmulType,
  ggmlMatvec,
  ggmlMatvecSync,
  QUANTIZED_MATMUL_GGML_KERNELS,
  QUANTIZED_MATMUL_MM_KERNELS,
  QUANTIZED_MATMUL_MM_TENSOR_KERNELS,
  quantizedMatmulGgml,
  type QuantizedMatmulGgmlOptions,
  quantizedMatmulGgmlSync,
} from "../../ops/quantized_matmul_ggml.ts";
import {
  quantizedMatmulGgmlPerm021Ref,
  quantizedMatmulGgmlRef,
} from "../../ops/quantized_matmul_ggml_ref.ts";
import { toBf16Array } from "../../dtype.ts";
import {
  GGML_MM_THREADS,
  GGML_MM_TILE_M,
  GGML_MM_TILE_N,
  GGML_MV_ROWS,
  GGML_MV_SIMDGROUPS,
} from "../../ops/_ggml.ts";
import {
  assertRejectsBeforeNative,
  recordKernels,
  run,
  shaderConstant,
  shaderText,
  spies,
  uniform,
} from "./_helpers.ts";
import { KernelRegistry } from "../../registry.ts";
import { TENSOR_API_PROBE_KERNEL, TensorApiUnsupportedError } from "../../ops/tensor_api.ts";
import { assertGgmlClose, magnitudes, sharedSection } from "./_ggml_helpers.ts";

const { device, registry } = testContext();
const sharedRegistry = registry;

type Encode = (
  encoder: ComputeEncoder,
  options: QuantizedMatmulGgmlOptions,
) => Promise<void> | void;

/** Runs one dense product on random data and checks it; returns the kernels it set. */
async function checkDense(
  type: GgmlMatmulType,
  [m, n, k]: readonly [number, number, number],
  seed: number,
  {
    encode = quantizedMatmulGgml as Encode,
    halfWeights = m > GGML_MATVEC_MAX_ROWS,
    tensorApi = false,
    registry = sharedRegistry,
  } = {},
): Promise<string[]> {
  const label = `${type} [m ${m}, n ${n}, k ${k}]`;
  const weightBytes = quantizeGgml(uniform(n * k, -1, 1, seed), type);
  const x = Float64Array.from(new Float32Array(uniform(m * k, -1, 1, seed + 1)));
  using weight = device.newBuffer(weightBytes);
  using input = device.newBuffer(new Float32Array(x));
  using output = device.newBuffer(m * n * 4);
  let kernels: string[] = [];
  await run(device, (encoder) => {
    kernels = recordKernels(encoder);
    return encode(encoder, { registry, type, weight, input, output, m, n, k, tensorApi });
  });
  // The tensor-API kernels stage the inputs in half too.
  const halfInputs = kernels.some((name) => name.includes("_tensor_"));
  const expected = quantizedMatmulGgmlRef({
    type,
    weight: weightBytes,
    input: x,
    m,
    n,
    k,
    halfWeights,
    halfInputs,
  });
  assertGgmlClose(
    new Float32Array(output.contents),
    expected,
    magnitudes(type, weightBytes, x, m, n, k),
    label,
  );
  return kernels;
}

const TYPES: readonly GgmlMatmulType[] = ["q4_0", "q8_0", "q6_K"];

Deno.test("kernel_mul_mv_q4_0_f32, kernel_mul_mv_q8_0_f32, kernel_mul_mv_q6_K_f32: quantizedMatmulGgml() at m ≤ 8 matches the f64 reference", async () => {
  // n not a multiple of the rows per threadgroup (8 or 4), m across 1..8, one row of weights.
  let seed = 1;
  for (const type of TYPES) {
    for (const shape of [[1, 67, 512], [8, 13, 256], [3, 1, 256]] as const) {
      const kernels = await checkDense(type, shape, seed += 10);
      assert.deepStrictEqual(kernels, [QUANTIZED_MATMUL_GGML_KERNELS[type]]);
    }
  }
});

Deno.test("kernel_mul_mv_q4_0_f32, kernel_mul_mv_q8_0_f32: one 32-value block per row", async () => {
  await checkDense("q4_0", [2, 9, 32], 3);
  await checkDense("q8_0", [2, 9, 32], 4);
});

Deno.test("kernel_mul_mm_q4_0_f32, kernel_mul_mm_q8_0_f32, kernel_mul_mm_q6_K_f32: quantizedMatmulGgml() at m > 8 matches the f64 reference with half weights", async () => {
  // m = 9 (just past the switch) and 33 (a second, partial row tile); n = 67 crosses a 64-wide
  // tile; [32, 64] is one full tile (stored straight from the SIMD-group matrices).
  let seed = 100;
  for (const type of TYPES) {
    for (const shape of [[9, 67, 256], [33, 20, 512], [32, 64, 256]] as const) {
      const kernels = await checkDense(type, shape, seed += 10);
      assert.deepStrictEqual(kernels, [QUANTIZED_MATMUL_MM_KERNELS[type]]);
    }
  }
});

Deno.test("kernel_mul_mm_q4_0_tensor_f32, kernel_mul_mm_q8_0_tensor_f32, kernel_mul_mm_q6_K_tensor_f32: quantizedMatmulGgml() at m > 8 on a tensor-API device matches the f64 reference with half weights and inputs", async () => {
  // m = 33 and n = 70: one full 32 x 64 tile (stored straight from the cooperative tensor) and
  // edge tiles in both directions; the CPU backend compiles the tensor API, so the probe says yes.
  let seed = 300;
  for (const type of TYPES) {
    const kernels = await checkDense(type, [33, 70, 256], seed += 10, { tensorApi: true });
    assert.deepStrictEqual(kernels, [QUANTIZED_MATMUL_MM_TENSOR_KERNELS.f32[type]]);
  }
  // The direct entry point, m below the switch and one tile.
  const one = await checkDense("q4_0", [1, 3, 64], 350, {
    encode: ggmlMatmulTensorSync,
    halfWeights: true,
  });
  assert.deepStrictEqual(one, ["kernel_mul_mm_q4_0_tensor_f32"]);
});

Deno.test("quantizedMatmulGgml() takes kernel_mul_mm_<type>_f32 where the tensor-API probe fails; ggmlMatmulPerm021() and ggmlMatmulTensor() refuse", async () => {
  // A registry whose probe kernel does not compile stands for Metal before macOS 26.
  using old = new KernelRegistry();
  old.registerSource(
    TENSOR_API_PROBE_KERNEL,
    `#include <metal_stdlib>
using namespace metal;
kernel void hf2q_dense_mm_f32_f32_tensor(device float* x [[buffer(0)]]) { x[0] = no_such_thing; }`,
    "dense_mm_f32_f32.metal",
  );
  const kernels = await checkDense("q8_0", [9, 5, 64], 360, { tensorApi: true, registry: old });
  assert.deepStrictEqual(kernels, ["kernel_mul_mm_q8_0_f32"]);
  using big = device.newBuffer(4096);
  const s = spies(device);
  const perm = { registry: old, type: "q4_0" as const, weight: big, input: big, heads: 1 };
  using out = device.newBuffer(4096);
  const options = { ...perm, output: out, m: 1, headDim: 32, n: 1 };
  await assert.rejects(
    () => ggmlMatmulPerm021(s.encoder, options),
    (e) =>
      e instanceof TensorApiUnsupportedError &&
      e.kernel === "kernel_mul_mm_q4_0_tensor_bf16_perm021",
  );
  assert.throws(() => ggmlMatmulPerm021Sync(s.encoder, options), TensorApiUnsupportedError);
  assert.throws(
    () =>
      ggmlMatmulTensorSync(s.encoder, {
        registry: old,
        type: "q4_0",
        weight: big,
        input: big,
        output: out,
        m: 1,
        n: 1,
        k: 32,
      }),
    TensorApiUnsupportedError,
  );
  assert.deepStrictEqual(s.calls, []);
});

/** Runs one perm021 product on random data and checks it against the reference. */
async function checkPerm021(
  type: "q4_0" | "q6_K",
  heads: number,
  m: number,
  headDim: number,
  n: number,
  seed: number,
  encode: typeof ggmlMatmulPerm021 | typeof ggmlMatmulPerm021Sync = ggmlMatmulPerm021,
): Promise<string[]> {
  const k = heads * headDim;
  const weightBytes = quantizeGgml(uniform(n * k, -1, 1, seed), type);
  const bf16 = toBf16Array(uniform(heads * m * headDim, -1, 1, seed + 1));
  // The bf16 values the kernel reads, widened.
  const x = Float64Array.from(new Float32Array(new Uint32Array(bf16).map((b) => b << 16).buffer));
  using weight = device.newBuffer(weightBytes);
  using input = device.newBuffer(bf16);
  using output = device.newBuffer(m * n * 4);
  let kernels: string[] = [];
  await run(device, (encoder) => {
    kernels = recordKernels(encoder);
    return encode(encoder, { registry, type, weight, input, output, heads, m, headDim, n });
  });
  const expected = quantizedMatmulGgmlPerm021Ref({
    type,
    weight: weightBytes,
    input: x,
    heads,
    m,
    headDim,
    n,
  });
  // Σ|w·x| per output over the permuted rows.
  const permuted = new Float64Array(m * k);
  for (let h = 0; h < heads; h++) {
    for (let t = 0; t < m; t++) {
      for (let f = 0; f < headDim; f++) {
        permuted[t * k + h * headDim + f] = x[(h * m + t) * headDim + f];
      }
    }
  }
  assertGgmlClose(
    new Float32Array(output.contents),
    expected,
    magnitudes(type, weightBytes, permuted, m, n, k),
    `${type} perm021 [heads ${heads}, m ${m}, headDim ${headDim}, n ${n}]`,
  );
  return kernels;
}

Deno.test("kernel_mul_mm_q4_0_tensor_bf16_perm021, kernel_mul_mm_q6_K_tensor_bf16_perm021: ggmlMatmulPerm021() reads a [heads, m, headDim] bf16 input and matches the f64 reference with half staging", async () => {
  // Q4_0: 3 heads of 128 (k 384), m = 33 crosses a row tile, n = 70 a column tile; Q6_K: 2
  // heads of 256 (k 512), a single partial tile.
  assert.deepStrictEqual(await checkPerm021("q4_0", 3, 33, 128, 70, 400), [
    QUANTIZED_MATMUL_MM_TENSOR_KERNELS.bf16Perm021.q4_0,
  ]);
  assert.deepStrictEqual(await checkPerm021("q6_K", 2, 5, 256, 9, 410, ggmlMatmulPerm021Sync), [
    QUANTIZED_MATMUL_MM_TENSOR_KERNELS.bf16Perm021.q6_K,
  ]);
});

Deno.test("ggmlMatmulPerm021() rejects a head size that is not a multiple of 32, a k off the block and a type without a kernel, before any native call", async () => {
  using weight = device.newBuffer(4096);
  using input = device.newBuffer(4096);
  using output = device.newBuffer(4096);
  const base = { weight, input, output, heads: 2, m: 1, n: 1 };
  await assertRejectsBeforeNative(ggmlMatmulPerm021, ggmlMatmulPerm021Sync)(
    device,
    (registry) => ({ registry, ...base, type: "q4_0" as const, headDim: 48 }),
    RangeError,
    /^Cannot encode kernel_mul_mm_q4_0_tensor_bf16_perm021: "headDim" is 48, expected a multiple of 32 \(a staged step of 32 values stays in one head\)$/,
  );
  await assertRejectsBeforeNative(ggmlMatmulPerm021, ggmlMatmulPerm021Sync)(
    device,
    (registry) => ({ registry, ...base, type: "q6_K" as const, headDim: 64 }),
    RangeError,
    /^Cannot encode kernel_mul_mm_q6_K_tensor_bf16_perm021: "k" is 128, expected a multiple of 256/,
  );
  await assertRejectsBeforeNative(ggmlMatmulPerm021, ggmlMatmulPerm021Sync)(
    device,
    (registry) => ({ registry, ...base, type: "q8_0" as "q4_0", headDim: 32 }),
    TypeError,
    /^Cannot encode ggmlMatmulPerm021(Sync)?: "type" is "q8_0", expected one of "q4_0", "q6_K"$/,
  );
});

Deno.test("quantizedMatmulGgml() switches from the mat-vec to the mat-mat after 8 rows", async () => {
  assert.strictEqual(GGML_MATVEC_MAX_ROWS, 8);
  assert.deepStrictEqual(await checkDense("q8_0", [8, 5, 64], 7), ["kernel_mul_mv_q8_0_f32"]);
  assert.deepStrictEqual(await checkDense("q8_0", [9, 5, 64], 8), ["kernel_mul_mm_q8_0_f32"]);
});

Deno.test("ggmlMatvec() and ggmlMatmul() run their kernel for any m", async () => {
  const mv = await checkDense("q4_0", [12, 10, 64], 9, { encode: ggmlMatvec, halfWeights: false });
  assert.deepStrictEqual(mv, ["kernel_mul_mv_q4_0_f32"]);
  const mm = await checkDense("q6_K", [1, 10, 256], 10, { encode: ggmlMatmul, halfWeights: true });
  assert.deepStrictEqual(mm, ["kernel_mul_mm_q6_K_f32"]);
});

Deno.test("quantizedMatmulGgmlSync() and ggmlMatvecSync() match the f64 reference", async () => {
  await checkDense("q8_0", [10, 7, 64], 11, { encode: quantizedMatmulGgmlSync });
  await checkDense("q6_K", [2, 7, 256], 12, { encode: ggmlMatvecSync });
});

Deno.test("quantizedMatmulGgml() rejects a k that is not a multiple of the block, before any native call", async () => {
  using big = device.newBuffer(1 << 16);
  using other = device.newBuffer(1 << 16);
  await assertRejectsBeforeNative(quantizedMatmulGgml, quantizedMatmulGgmlSync)(
    device,
    (registry) => ({
      registry,
      type: "q6_K",
      weight: big,
      input: big,
      output: other,
      m: 1,
      n: 2,
      k: 288,
    }),
    RangeError,
    /^Cannot encode kernel_mul_mv_q6_K_f32: "k" is 288, expected a multiple of 256 \(one q6_K block holds 256 values\)$/,
  );
});

Deno.test("quantizedMatmulGgml() rejects a too small weight buffer, an output over the input and an unknown type", async () => {
  using weight = device.newBuffer(18 * 2 * 3 - 1);
  using big = device.newBuffer(4096);
  using other = device.newBuffer(4096);
  const options = (registry: QuantizedMatmulGgmlOptions["registry"]) => ({
    registry,
    type: "q4_0" as GgmlMatmulType,
    weight,
    input: big,
    output: other,
    m: 9,
    n: 3,
    k: 64,
  });
  await assertRejectsBeforeNative(quantizedMatmulGgml, quantizedMatmulGgmlSync)(
    device,
    options,
    RangeError,
    /^Cannot encode kernel_mul_mm_q4_0_f32: "weight" holds 107 bytes, expected at least 108 \(n 3 × 36 bytes per row of k 64 in q4_0\)$/,
  );
  await assertRejectsBeforeNative(quantizedMatmulGgml, quantizedMatmulGgmlSync)(
    device,
    (registry) => ({ ...options(registry), weight: big, output: big }),
    RangeError,
    /"output" is the same buffer as "input"/,
  );
  await assertRejectsBeforeNative(quantizedMatmulGgml, quantizedMatmulGgmlSync)(
    device,
    (registry) => ({ ...options(registry), type: "q5_K" as GgmlMatmulType }),
    TypeError,
    /^Cannot encode quantizedMatmulGgml(Sync)?: "type" is "q5_K", expected one of "q4_0", "q8_0", "q6_K"$/,
  );
});

// ---- the shaders' text --------------------------------------------------------------------

Deno.test("the GGML shaders carry identical copies of their shared sections", () => {
  const groups: [string, string[]][] = [
    ["ggml block structs", [
      "quantized_matmul_ggml.metal",
      "quantized_matmul_mm.metal",
      "quantized_matmul_mm_tensor.metal",
      "quantized_matmul_id_mm_tensor.metal",
    ]],
    ["ggml tensor mat-mat", [
      "quantized_matmul_mm_tensor.metal",
      "quantized_matmul_id_mm_tensor.metal",
    ]],
    ["ggml mat-vec", ["quantized_matmul_ggml.metal"]],
    ["ggml mat-mat", ["quantized_matmul_mm.metal"]],
  ];
  for (const [name, files] of groups) {
    const copies = files.map((file) => sharedSection(file, name));
    assert.ok(copies[0] !== undefined, `${files[0]} has the section "${name}"`);
    for (const [i, copy] of copies.entries()) {
      assert.strictEqual(copy, copies[0], `"${name}" differs in ${files[i]}`);
    }
  }
});

Deno.test("ops/_ggml.ts mirrors the GGML shaders' geometry numbers", () => {
  const mv = shaderText("quantized_matmul_ggml.metal");
  const mm = shaderText("quantized_matmul_mm.metal");
  const constant = shaderConstant;
  assert.strictEqual(constant(mv, "GGML_MV_SIMDGROUPS"), GGML_MV_SIMDGROUPS);
  assert.strictEqual(constant(mm, "GGML_MM_TILE_M"), GGML_MM_TILE_M);
  assert.strictEqual(constant(mm, "GGML_MM_TILE_N"), GGML_MM_TILE_N);
  assert.strictEqual(constant(mm, "GGML_MM_THREADS"), GGML_MM_THREADS);
  // host_name("kernel_mul_mv_<type>_f32") ... <Block, Format, VALUES, LANES, ROWS, NX>
  for (const type of TYPES) {
    const match = new RegExp(
      `host_name\\("kernel_mul_mv_${type}_f32"\\)\\]\\] \\[\\[kernel\\]\\] decltype\\(ggml_mul_mv<\\w+, \\w+, \\d+, \\d+, (\\d+),`,
    ).exec(mv);
    assert.strictEqual(Number(match?.[1]), GGML_MV_ROWS[type], type);
  }
});
