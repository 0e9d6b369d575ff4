// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// Conformance: matmul2d's cooperative input tensors (MetalPerformancePrimitives'
// get_left_input_cooperative_tensor / get_right_input_cooperative_tensor), the way MLX's NAX
// kernels use them: the operands are filled element by element in registers, then run(left,
// right, destination) multiplies them as a collective of the SIMD-group. On one SIMD-group and
// whole 16 x 16 blocks the elements are laid out as on Apple's GPUs (the layout MLX's 16 x 16
// fragments rely on; metal_tensor.h describes it); the kernels here reach every element through
// get_multidimensional_index, as a portable kernel does.
import assert from "node:assert";
import { assertClose, Harness } from "./_harness.ts";

const h = new Harness();

const TENSOR_PRELUDE = `#include <metal_tensor>
#include <MetalPerformancePrimitives/MetalPerformancePrimitives.h>
using namespace mpp::tensor_ops;
`;

/** Deterministic small values (exact in half precision). */
function values(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => ((i * 7 + seed * 13) % 17) / 8 - 1);
}

/** C + A · B with A M x K, B K x N, C M x N (row-major); transposed operands stored as such. */
function reference(
  a: Float32Array,
  b: Float32Array,
  c: Float32Array,
  [M, N, K]: number[],
  transposeLeft: boolean,
  transposeRight: boolean,
): Float32Array {
  const out = new Float32Array(M * N);
  for (let m = 0; m < M; ++m) {
    for (let n = 0; n < N; ++n) {
      let s = c[m * N + n];
      for (let k = 0; k < K; ++k) {
        const l = transposeLeft ? a[k * M + m] : a[m * K + k];
        const r = transposeRight ? b[n * K + k] : b[k * N + n];
        s += l * r;
      }
      out[m * N + n] = s;
    }
  }
  return out;
}

// One kernel per transposition: fill the cooperative operands from device memory through
// get_multidimensional_index ([0] the column, [1] the row of the operand as stored), run with
// multiply_accumulate, write the destination back the same way.
function kernel(name: string, transposeLeft: boolean, transposeRight: boolean): string {
  const [lc, rc] = [transposeLeft ? 16 : 16, transposeRight ? 16 : 32];
  return TENSOR_PRELUDE + `
kernel void ${name}(device const half* a [[buffer(0)]], device const half* b [[buffer(1)]],
                    device float* c [[buffer(2)]]) {
  constexpr auto desc = matmul2d_descriptor(16, 32, 16, ${transposeLeft}, ${transposeRight}, true,
                                            matmul2d_descriptor::mode::multiply_accumulate);
  matmul2d<desc, execution_simdgroup> op;
  auto ct_a = op.template get_left_input_cooperative_tensor<half, half, float>();
  auto ct_b = op.template get_right_input_cooperative_tensor<half, half, float>();
  auto ct_c = op.template get_destination_cooperative_tensor<decltype(ct_a), decltype(ct_b), float>();
  for (uint i = 0; i < ct_a.get_capacity(); ++i)
    if (ct_a.is_valid_element(i)) {
      auto at = ct_a.get_multidimensional_index(i);
      ct_a[i] = a[at[1] * ${lc} + at[0]];
    }
  for (uint i = 0; i < ct_b.get_capacity(); ++i)
    if (ct_b.is_valid_element(i)) {
      auto at = ct_b.get_multidimensional_index(i);
      ct_b[i] = b[at[1] * ${rc} + at[0]];
    }
  for (uint i = 0; i < ct_c.get_capacity(); ++i)
    if (ct_c.is_valid_element(i)) {
      auto at = ct_c.get_multidimensional_index(i);
      ct_c[i] = c[at[1] * 32 + at[0]];
    }
  op.run(ct_a, ct_b, ct_c);
  for (uint i = 0; i < ct_c.get_capacity(); ++i)
    if (ct_c.is_valid_element(i)) {
      auto at = ct_c.get_multidimensional_index(i);
      c[at[1] * 32 + at[0]] = ct_c[i];
    }
}`;
}

async function multiply(name: string, transposeLeft: boolean, transposeRight: boolean) {
  const [M, N, K] = [16, 32, 16];
  const a = values(M * K, 1), b = values(K * N, 2), c = values(M * N, 3);
  const half = (x: Float32Array) => new Uint16Array(Array.from(x, toHalfBits));
  const [, , out] = await h.run({
    kernel: name,
    source: kernel(name, transposeLeft, transposeRight),
    buffers: [half(a), half(b), c],
    groups: [1],
    threads: [32],
  });
  const expected = reference(a, b, c, [M, N, K], transposeLeft, transposeRight);
  assertClose(new Float32Array(out), expected, 1e-6, name);
}

/** float16 bits of a value exact in half (values() gives multiples of 1/8 in [-1, 1]). */
function toHalfBits(x: number): number {
  if (x === 0) return 0;
  const sign = x < 0 ? 0x8000 : 0;
  const e = Math.floor(Math.log2(Math.abs(x)));
  const mantissa = Math.round((Math.abs(x) / 2 ** e - 1) * 1024);
  return sign | ((e + 15) << 10) | mantissa;
}

Deno.test("msl cooperative inputs: matmul2d runs on left and right operands held in registers", async () => {
  await multiply("coop_nn", false, false);
});

Deno.test("msl cooperative inputs: transposed operands are held as they are stored", async () => {
  await multiply("coop_tt", true, true);
});

Deno.test("msl cooperative inputs: one SIMD-group holds 16 x 16 blocks as Apple's GPUs do", async () => {
  // Each lane writes the coordinates of its elements of the 16 x 32 right operand; every element
  // is held once, and lane l's element j is at row (l & 16) / 4 + (l / 2) % 4 + 8 (j % 8 / 4),
  // column 16 (j / 8) + 4 (2 ((l / 8) % 2) + l % 2) + j % 4.
  const [out] = await h.run({
    kernel: "coop_layout",
    source: TENSOR_PRELUDE + `
kernel void coop_layout(device int2* where [[buffer(0)]], uint lane [[thread_index_in_simdgroup]]) {
  constexpr auto desc = matmul2d_descriptor(16, 32, 16);
  matmul2d<desc, execution_simdgroup> op;
  auto ct_b = op.template get_right_input_cooperative_tensor<float, float, float>();
  for (uint i = 0; i < ct_b.get_capacity(); ++i) {
    auto at = ct_b.get_multidimensional_index(i);
    where[lane * ct_b.get_capacity() + i] = ct_b.is_valid_element(i) ? int2(at[0], at[1]) : int2(-1);
  }
}`,
    buffers: [32 * 16 * 8],
    groups: [1],
    threads: [32],
  });
  const where = new Int32Array(out);
  const seen = new Set<number>();
  for (let lane = 0; lane < 32; ++lane) {
    for (let j = 0; j < 16; ++j) {
      const [column, row] = [where[(lane * 16 + j) * 2], where[(lane * 16 + j) * 2 + 1]];
      const r = (lane & 16) / 4 + ((lane >> 1) % 4) + 8 * ((j % 8) >> 2);
      const c = 16 * (j >> 3) + 4 * (2 * ((lane >> 3) % 2) + (lane % 2)) + (j % 4);
      assert.deepStrictEqual([column, row], [c, r], `lane ${lane} element ${j}`);
      seen.add(row * 32 + column);
    }
  }
  assert.strictEqual(seen.size, 16 * 32);
});
