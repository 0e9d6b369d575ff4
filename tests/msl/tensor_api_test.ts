// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// Conformance: Metal 4's tensor API (<metal_tensor>, MetalPerformancePrimitives): extents listed
// innermost first, tensor_inline with packed and explicit strides, slice, matmul2d with
// execution_simdgroups<N> (multiply and multiply_accumulate, transposed operands, zero reads
// outside an operand, dropped writes outside the destination), and cooperative tensors (every
// element owned by exactly one thread of the scope, load and store).
import assert from "node:assert";
import { assertClose, Harness, numberToHalfBits, toHalf } from "./_harness.ts";

const h = new Harness();

const TENSOR_PRELUDE = `#include <metal_tensor>
#include <MetalPerformancePrimitives/MetalPerformancePrimitives.h>
using namespace mpp::tensor_ops;
`;

Deno.test("msl tensor: dextents list the innermost dimension first; tensor_inline strides and slice", async () => {
  const [out] = await h.run({
    kernel: "tensor_basics",
    source: TENSOR_PRELUDE + `
kernel void tensor_basics(device float* out [[buffer(0)]], uint tid [[thread_position_in_grid]]) {
  if (tid != 0) return;
  threadgroup float m[6];
  for (int i = 0; i < 6; ++i) m[i] = float(i);  // row-major 2 rows x 3 columns
  auto t = tensor<threadgroup float, dextents<int32_t, 2>, tensor_inline>(m, dextents<int32_t, 2>(3, 2));
  out[0] = float(t.get_rank());
  out[1] = float(t.get_extent(0));  // columns
  out[2] = float(t.get_extent(1));  // rows
  out[3] = float(t.get_stride(0));
  out[4] = float(t.get_stride(1));
  out[5] = t(2, 1);  // column 2 of row 1
  auto s = t.slice(1, 1);  // from column 1 of row 1 to the end
  out[6] = float(s.get_extent(0));
  out[7] = float(s.get_extent(1));
  out[8] = s(0, 0);
  s(1, 0) = 50.0f;  // writes through to m[5]
  out[9] = m[5];
  // Explicit strides: the transpose view of the same memory (3 rows x 2 columns).
  int strides[2] = {3, 1};
  auto tt = tensor<threadgroup float, dextents<int32_t, 2>, tensor_inline>(m, dextents<int32_t, 2>(2, 3), strides);
  out[10] = tt(1, 2);  // row 2, column 1 of the transpose = m[1 * 3 + 2]
}`,
    buffers: [11 * 4],
    grid: [1],
    threads: [1],
  });
  assert.deepStrictEqual([...new Float32Array(out)], [2, 3, 2, 1, 3, 5, 2, 1, 4, 50, 50]);
});

/** f64 C[m][n] = Σ_k A[m][k]·B[k][n] (+ C0). */
function reference(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  [m, n, k]: [number, number, number],
  c0?: ArrayLike<number>,
): number[] {
  const out: number[] = [];
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = c0 ? c0[i * n + j] : 0;
      for (let l = 0; l < k; l++) s += a[i * k + l] * b[l * n + j];
      out.push(s);
    }
  }
  return out;
}

function values(length: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length }, () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return Math.fround((s / 2 ** 32) * 2 - 1);
  });
}

Deno.test("msl tensor: matmul2d multiplies half operands into a float cooperative tensor on one SIMD-group", async () => {
  // A: 16 x 8 (M x K) half, B: 8 x 24 (K x N) half, both row-major in device memory.
  const [M, N, K] = [16, 24, 8];
  const a = values(M * K, 1).map(toHalf);
  const b = values(K * N, 2).map(toHalf);
  const [, , out] = await h.run({
    kernel: "tensor_mm_half",
    source: TENSOR_PRELUDE + `
kernel void tensor_mm_half(device half* a [[buffer(0)]], device half* b [[buffer(1)]],
                           device float* c [[buffer(2)]]) {
  auto tA = tensor<device half, dextents<int32_t, 2>, tensor_inline>(a, dextents<int32_t, 2>(8, 16));
  auto tB = tensor<device half, dextents<int32_t, 2>, tensor_inline>(b, dextents<int32_t, 2>(24, 8));
  auto tC = tensor<device float, dextents<int32_t, 2>, tensor_inline>(c, dextents<int32_t, 2>(24, 16));
  constexpr auto desc = matmul2d_descriptor(16, 24, 8, false, false, false);
  matmul2d<desc, execution_simdgroups<1>> op;
  auto cT = op.get_destination_cooperative_tensor<decltype(op), decltype(tA), float>();
  op.run(tA, tB, cT);
  cT.store(tC);
}`,
    buffers: [
      new Uint16Array(Array.from(a, numberToHalfBits)),
      new Uint16Array(Array.from(b, numberToHalfBits)),
      M * N * 4,
    ],
    groups: [1],
    threads: [32],
  });
  assertClose(new Float32Array(out), reference(a, b, [M, N, K]), 1e-6, "C");
});

Deno.test("msl tensor: matmul2d with a transposed right operand accumulates over K steps on 4 SIMD-groups", async () => {
  // The mat-mat tile of a quantized/dense kernel: C (32 x 64) += X (32 x 32) · W (64 x 32)ᵀ
  // over two K steps staged through threadgroup memory, then an edge tile of 20 x 50 stored
  // into a smaller tensor (the rest dropped).
  const [M, N, K] = [32, 64, 64];
  const x = values(M * K, 3);
  const w = values(N * K, 4);
  const [, , full, edge] = await h.run({
    kernel: "tensor_mm_acc",
    source: TENSOR_PRELUDE + `
kernel void tensor_mm_acc(device const float* x [[buffer(0)]], device const float* w [[buffer(1)]],
                          device float* full [[buffer(2)]], device float* edge [[buffer(3)]],
                          uint tid [[thread_index_in_threadgroup]]) {
  threadgroup float sx[32 * 32];
  threadgroup float sw[64 * 32];
  auto tX = tensor<threadgroup float, dextents<int32_t, 2>, tensor_inline>(sx, dextents<int32_t, 2>(32, 32));
  auto tW = tensor<threadgroup float, dextents<int32_t, 2>, tensor_inline>(sw, dextents<int32_t, 2>(32, 64));
  matmul2d<matmul2d_descriptor(32, 64, 32, false, true, false,
                               matmul2d_descriptor::mode::multiply_accumulate),
           execution_simdgroups<4>> op;
  auto cT = op.get_destination_cooperative_tensor<decltype(tX), decltype(tW), float>();
  for (uint i = 0; i < cT.get_capacity(); ++i) if (cT.is_valid_element(i)) cT[i] = 0.0f;
  for (int k0 = 0; k0 < 64; k0 += 32) {
    threadgroup_barrier(mem_flags::mem_threadgroup);
    for (uint i = tid; i < 32 * 32; i += 128) sx[i] = x[(i / 32) * 64 + k0 + i % 32];
    for (uint i = tid; i < 64 * 32; i += 128) sw[i] = w[(i / 32) * 64 + k0 + i % 32];
    threadgroup_barrier(mem_flags::mem_threadgroup);
    op.run(tX.slice(0, 0), tW.slice(0, 0), cT);
  }
  cT.store(tensor<device float, dextents<int32_t, 2>, tensor_inline>(full, dextents<int32_t, 2>(64, 32)));
  // An edge tile: 50 columns of 20 rows, row stride 64.
  int strides[2] = {1, 64};
  cT.store(tensor<device float, dextents<int32_t, 2>, tensor_inline>(edge, dextents<int32_t, 2>(50, 20), strides));
}`,
    buffers: [x, w, M * N * 4, new Float32Array(M * N).fill(-7)],
    groups: [1],
    threads: [128],
  });
  // W transposed: B[k][n] = w[n][k].
  const b = Array.from({ length: K * N }, (_, i) => w[(i % N) * K + Math.floor(i / N)]);
  const expected = reference(x, b, [M, N, K]);
  assertClose(new Float32Array(full), expected, 1e-5, "full tile");
  const expectedEdge = expected.map((v, i) => (Math.floor(i / 64) < 20 && i % 64 < 50 ? v : -7));
  assertClose(new Float32Array(edge), expectedEdge, 1e-5, "edge tile");
});

Deno.test("msl tensor: matmul2d reads zeros outside an operand's extents and writes a device tensor directly", async () => {
  // K = 8 in the descriptor, but the left operand holds only 5 columns: columns 5..7 count as 0.
  const [M, N] = [8, 8];
  const a = values(M * 5, 5);
  const b = values(8 * N, 6);
  const [, , out] = await h.run({
    kernel: "tensor_mm_bounds",
    source: TENSOR_PRELUDE + `
kernel void tensor_mm_bounds(device float* a [[buffer(0)]], device float* b [[buffer(1)]],
                             device float* c [[buffer(2)]]) {
  auto tA = tensor<device float, dextents<int32_t, 2>, tensor_inline>(a, dextents<int32_t, 2>(5, 8));
  auto tB = tensor<device float, dextents<int32_t, 2>, tensor_inline>(b, dextents<int32_t, 2>(8, 8));
  auto tC = tensor<device float, dextents<int32_t, 2>, tensor_inline>(c, dextents<int32_t, 2>(8, 8));
  matmul2d<matmul2d_descriptor(8, 8, 8), execution_simdgroups<1>> op;
  op.run(tA, tB, tC);
}`,
    buffers: [a, b, M * N * 4],
    groups: [1],
    threads: [32],
  });
  const bTop = b.slice(0, 5 * N);
  assertClose(new Float32Array(out), reference(a, bTop, [M, N, 5]), 1e-6, "C");
});

Deno.test("msl tensor: a cooperative tensor's elements are each owned by exactly one thread of the scope", async () => {
  // A 32 x 64 destination over execution_simdgroups<4>: every thread stamps its elements with
  // its own index through get_multidimensional_index; load then reads a tensor back.
  const [owners, loaded] = await h.run({
    kernel: "tensor_coop",
    source: TENSOR_PRELUDE + `
kernel void tensor_coop(device float* owners [[buffer(0)]], device float* loaded [[buffer(1)]],
                        uint tid [[thread_index_in_threadgroup]]) {
  threadgroup float a[1];
  auto tA = tensor<threadgroup float, dextents<int32_t, 2>, tensor_inline>(a, dextents<int32_t, 2>(1, 1));
  matmul2d<matmul2d_descriptor(32, 64, 1), execution_simdgroups<4>> op;
  auto cT = op.get_destination_cooperative_tensor<decltype(tA), decltype(tA), float>();
  for (uint i = 0; i < cT.get_capacity(); ++i) {
    if (!cT.is_valid_element(i)) continue;
    auto at = cT.get_multidimensional_index(i);
    owners[at[1] * 64 + at[0]] += float(tid + 1);
  }
  auto tO = tensor<device float, dextents<int32_t, 2>, tensor_inline>(owners, dextents<int32_t, 2>(64, 32));
  threadgroup_barrier(mem_flags::mem_device);
  cT.load(tO);
  for (uint i = 0; i < cT.get_capacity(); ++i) if (cT.is_valid_element(i)) cT[i] *= 2.0f;
  cT.store(tensor<device float, dextents<int32_t, 2>, tensor_inline>(loaded, dextents<int32_t, 2>(64, 32)));
}`,
    buffers: [32 * 64 * 4, 32 * 64 * 4],
    groups: [1],
    threads: [128],
  });
  const o = new Float32Array(owners);
  const seen = new Set<number>();
  for (const v of o) {
    assert.ok(Number.isInteger(v) && v >= 1 && v <= 128, `owner ${v}`);
    seen.add(v);
  }
  assert.strictEqual(seen.size, 128, "every thread of the scope owns elements");
  // 2048 elements over 128 threads, 16 each: a collision would add two stamps and skew this.
  for (const owner of seen) {
    assert.strictEqual(o.filter((v) => v === owner).length, 16, `thread ${owner - 1}'s elements`);
  }
  assert.deepStrictEqual([...new Float32Array(loaded)], [...o].map((v) => 2 * v));
});
