// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// Conformance: simdgroup_matrix 8x8 (float, half, bfloat): load/store with stride, origin and
// transpose, multiply, multiply_accumulate, make_filled / diagonal constructors, and
// thread_elements() with Apple's lane ownership layout.
import assert from "node:assert";
import {
  assertClose,
  bfloatBitsToNumber,
  halfBitsToNumber,
  Harness,
  numberToBfloatBits,
  numberToHalfBits,
  toBfloat,
  toHalf,
} from "./_harness.ts";

const h = new Harness();

/** Lane l owns row ((l/4)&4) + (l/2)%4, columns c and c+1 with c = ((l/4)&2)*2 + (l%2)*2. */
function owned(lane: number): [number, number] {
  const q = lane >> 2;
  return [(q & 4) + ((lane >> 1) % 4), (q & 2) * 2 + (lane % 2) * 2];
}

Deno.test("msl simdgroup_matrix: thread_elements() follows Apple's lane layout", async () => {
  const m = new Float32Array(64).map((_, i) => i);
  const [, out, back] = await h.run({
    kernel: "sgm_layout",
    source: `
kernel void sgm_layout(device const float* m [[buffer(0)]], device float* out [[buffer(1)]],
                       device float* back [[buffer(2)]],
                       ushort lane [[thread_index_in_simdgroup]]) {
  simdgroup_float8x8 a;
  simdgroup_load(a, m);
  float2 e = a.thread_elements();
  out[lane * 2] = e.x;
  out[lane * 2 + 1] = e[1];
  // Writing thread_elements() changes the matrix: each element becomes its owner's lane.
  a.thread_elements()[0] = float(lane);
  a.thread_elements()[1] = float(lane) + 0.5f;
  simdgroup_store(a, back);
}`,
    buffers: [m, 64 * 4, 64 * 4],
    groups: [1],
    threads: [32],
  });
  const expected = [], owners = new Array(64);
  for (let l = 0; l < 32; ++l) {
    const [r, c] = owned(l);
    expected.push(r * 8 + c, r * 8 + c + 1);
    owners[r * 8 + c] = l;
    owners[r * 8 + c + 1] = l + 0.5;
  }
  assert.deepStrictEqual([...new Float32Array(out)], expected);
  assert.deepStrictEqual([...new Float32Array(back)], owners);
});

/** C = A(8xK rows of a 8x16 matrix) ... reference products in f64. */
function matmul(a: number[][], b: number[][]): number[][] {
  return a.map((row) => b[0].map((_, j) => row.reduce((s, v, k) => s + v * b[k][j], 0)));
}

Deno.test("msl simdgroup_matrix: float load/store with stride, origin, transpose; multiply(-accumulate)", async () => {
  // X is 16 x 16 (row-major); A = X[rows 8..15, cols 4..11]; B = transpose of X[0..7, 0..7];
  // C = X[0..7, 8..15]. D = A*B + C stored transposed at origin (8, 0) of a 16-wide output;
  // E = A*B stored plainly with stride 8; F = diag(2) * A (the diagonal constructor).
  const X = Array.from(
    { length: 16 },
    (_, r) => Array.from({ length: 16 }, (_, c) => ((r * 7 + c * 3) % 11 - 5) / 4),
  );
  const [, out, e, f, fill] = await h.run({
    kernel: "sgm_float",
    source: `
kernel void sgm_float(device const float* x [[buffer(0)]], device float* out [[buffer(1)]],
                      device float* e [[buffer(2)]], device float* f [[buffer(3)]],
                      device float* fill [[buffer(4)]],
                      uint tid [[thread_index_in_threadgroup]]) {
  threadgroup float tile[16 * 16];
  for (uint i = tid; i < 256; i += 32) tile[i] = x[i];
  threadgroup_barrier(mem_flags::mem_threadgroup);
  simdgroup_float8x8 a, b, c, d, p;
  simdgroup_load(a, tile, 16, ulong2(4, 8));
  simdgroup_load(b, x, 16, ulong2(0, 0), true);
  simdgroup_load(c, x, 16, ulong2(8, 0));
  simdgroup_multiply_accumulate(d, a, b, c);
  simdgroup_store(d, out, 16, ulong2(8, 0), true);
  simdgroup_multiply(p, a, b);
  simdgroup_store(p, e, 8);
  simdgroup_float8x8 two = simdgroup_float8x8(2.0f);
  simdgroup_float8x8 q;
  simdgroup_multiply(q, two, a);
  simdgroup_store(q, f);
  simdgroup_float8x8 z = make_filled_simdgroup_matrix<float, 8, 8>(1.5f);
  simdgroup_store(z, fill);
}`,
    buffers: [new Float32Array(X.flat()), 8 * 16 * 4, 64 * 4, 64 * 4, 64 * 4],
    groups: [1],
    threads: [32],
  });
  const A = X.slice(8, 16).map((r) => r.slice(4, 12));
  const B = X.slice(0, 8).map((_, i) => X.slice(0, 8).map((r) => r[i]));
  const C = X.slice(0, 8).map((r) => r.slice(8, 16));
  const AB = matmul(A, B);
  const D = AB.map((row, i) => row.map((v, j) => v + C[i][j]));
  const expectedOut = new Array(8 * 16).fill(0);
  for (let r = 0; r < 8; ++r) for (let c = 0; c < 8; ++c) expectedOut[c * 16 + 8 + r] = D[r][c];
  assertClose(new Float32Array(out), expectedOut, 1e-5, "D^T");
  assertClose(new Float32Array(e), AB.flat(), 1e-5, "A*B");
  assertClose(new Float32Array(f), A.flat().map((v) => 2 * v), 1e-6, "diag(2)*A");
  assert.ok(new Float32Array(fill).every((v) => v === 1.5));
});

Deno.test("msl simdgroup_matrix: half and bfloat instantiations of one template", async () => {
  const A = Array.from(
    { length: 8 },
    (_, r) => Array.from({ length: 8 }, (_, c) => ((r * 5 + c) % 9 - 4) / 8),
  );
  const B = Array.from(
    { length: 8 },
    (_, r) => Array.from({ length: 8 }, (_, c) => ((r + c * 3) % 7 - 3) / 4),
  );
  const source = `
template <typename T>
kernel void sgm_t(device const T* a [[buffer(0)]], device const T* b [[buffer(1)]],
                  device T* d [[buffer(2)]], uint lane [[thread_index_in_simdgroup]]) {
  simdgroup_matrix<T, 8, 8> ma, mb, mc;
  simdgroup_load(ma, a);
  simdgroup_load(mb, b);
  mc = make_filled_simdgroup_matrix<T, 8, 8>(T(1.0f));
  simdgroup_multiply_accumulate(mc, ma, mb, mc);
  simdgroup_store(mc, d);
}
template [[host_name("sgm_half")]] kernel void sgm_t<half>(device const half*, device const half*, device half*, uint);
template [[host_name("sgm_bfloat")]] kernel void sgm_t<bfloat>(device const bfloat*, device const bfloat*, device bfloat*, uint);
`;
  const ref = matmul(A, B).map((row) => row.map((v) => v + 1));
  for (
    const [kernel, enc, dec, round, tol] of [
      ["sgm_half", numberToHalfBits, halfBitsToNumber, toHalf, 1e-3],
      ["sgm_bfloat", numberToBfloatBits, bfloatBitsToNumber, toBfloat, 8e-3],
    ] as const
  ) {
    const [, , d] = await h.run({
      kernel,
      source,
      buffers: [
        new Uint16Array(A.flat().map(enc)),
        new Uint16Array(B.flat().map(enc)),
        64 * 2,
      ],
      groups: [1],
      threads: [32],
    });
    const got = [...new Uint16Array(d)].map(dec);
    assertClose(got, ref.flat().map(round), tol, kernel);
  }
});

Deno.test("msl simdgroup_matrix: several simdgroups each multiply their own tile", async () => {
  // 4 simdgroups; simdgroup s computes tile s of a 8 x 32 product (A 8x8 times B 8x32).
  const A = Array.from({ length: 8 }, (_, r) => Array.from({ length: 8 }, (_, c) => (r - c) / 4));
  const B = Array.from(
    { length: 8 },
    (_, r) => Array.from({ length: 32 }, (_, c) => ((r * c) % 5) / 2),
  );
  const [, , out] = await h.run({
    kernel: "sgm_tiles",
    source: `
kernel void sgm_tiles(device const float* a [[buffer(0)]], device const float* b [[buffer(1)]],
                      device float* out [[buffer(2)]],
                      uint sg [[simdgroup_index_in_threadgroup]]) {
  simdgroup_float8x8 ma, mb, mc;
  simdgroup_load(ma, a, 8);
  simdgroup_load(mb, b + sg * 8, 32);
  simdgroup_multiply(mc, ma, mb);
  simdgroup_store(mc, out, 32, ulong2(sg * 8, 0));
}`,
    buffers: [new Float32Array(A.flat()), new Float32Array(B.flat()), 8 * 32 * 4],
    groups: [1],
    threads: [128],
  });
  assertClose(new Float32Array(out), matmul(A, B).flat(), 1e-5);
});
