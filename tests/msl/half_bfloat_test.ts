// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// Conformance: half and bfloat conversions round to nearest even; arithmetic rounds per
// operation (no excess precision).
import assert from "node:assert";
import {
  bfloatBitsToNumber,
  f32,
  halfBitsToNumber,
  Harness,
  numberToBfloatBits,
  numberToHalfBits,
} from "./_harness.ts";

const h = new Harness();

// Values on and around rounding ties of half (spacing 2^-10 at 1) and bfloat (2^-7 at 1).
const INPUTS = [
  1,
  1 + 2 ** -11, // tie: half rounds to even (1)
  1 + 3 * 2 ** -11, // tie: half rounds up to 1 + 2^-9
  1 + 2 ** -11 + 2 ** -20, // above the tie
  1 + 2 ** -8, // bfloat tie -> 1
  1 + 3 * 2 ** -8, // bfloat tie -> 1 + 2^-6
  65504,
  65520, // half overflows to infinity (tie at max, rounds to even = inf)
  2 ** -24, // smallest half subnormal
  3 * 2 ** -26, // subnormal rounding
  -2.5,
  1e-3,
  3.14159265,
  -0,
  1e30,
];

Deno.test("msl half/bfloat: float -> half and float -> bfloat round to nearest even", async () => {
  const [, hb, bb] = await h.run({
    kernel: "narrow",
    source: `
kernel void narrow(device const float* x [[buffer(0)]], device half* hv [[buffer(1)]],
                   device bfloat* bv [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  hv[i] = half(x[i]);
  bv[i] = bfloat(x[i]);
}`,
    buffers: [new Float32Array(INPUTS), INPUTS.length * 2, INPUTS.length * 2],
    grid: [INPUTS.length],
    threads: [INPUTS.length],
  });
  assert.deepStrictEqual([...new Uint16Array(hb)], INPUTS.map(numberToHalfBits));
  assert.deepStrictEqual([...new Uint16Array(bb)], INPUTS.map(numberToBfloatBits));
});

Deno.test("msl half/bfloat: each operation rounds (no excess precision)", async () => {
  // a + b + c in half: (a + b) rounds to half before + c.
  const a = [1, 2048, 1, 0.1, 3],
    b = [2 ** -11, 1, 2 ** -11, 0.2, 1 / 3],
    c = [2 ** -11, 1, -1, 0.3, 7];
  const hA = a.map(numberToHalfBits), hB = b.map(numberToHalfBits), hC = c.map(numberToHalfBits);
  const bA = a.map(numberToBfloatBits),
    bB = b.map(numberToBfloatBits),
    bC = c.map(numberToBfloatBits);
  const n = a.length;
  const [, , , , , , ho, bo] = await h.run({
    kernel: "perop",
    source: `
kernel void perop(device const half* a [[buffer(0)]], device const half* b [[buffer(1)]],
                  device const half* c [[buffer(2)]], device const bfloat* x [[buffer(3)]],
                  device const bfloat* y [[buffer(4)]], device const bfloat* z [[buffer(5)]],
                  device half* ho [[buffer(6)]], device bfloat* bo [[buffer(7)]],
                  uint i [[thread_position_in_grid]]) {
  half s = a[i] + b[i] + c[i];
  half p = a[i] * b[i];
  half q = a[i] / c[i];
  ho[i * 3] = s; ho[i * 3 + 1] = p; ho[i * 3 + 2] = q;
  bfloat t = x[i] + y[i] + z[i];
  bfloat u = x[i] * y[i];
  bfloat v = x[i] - y[i] * z[i];
  bo[i * 3] = t; bo[i * 3 + 1] = u; bo[i * 3 + 2] = v;
}`,
    buffers: [
      new Uint16Array(hA),
      new Uint16Array(hB),
      new Uint16Array(hC),
      new Uint16Array(bA),
      new Uint16Array(bB),
      new Uint16Array(bC),
      n * 3 * 2,
      n * 3 * 2,
    ],
    grid: [n],
    threads: [n],
  });
  const rh = (x: number) => halfBitsToNumber(numberToHalfBits(x));
  const rb = (x: number) => bfloatBitsToNumber(numberToBfloatBits(x));
  const expectHalf: number[] = [], expectBf: number[] = [];
  for (let i = 0; i < n; ++i) {
    const [x, y, z] = [hA[i], hB[i], hC[i]].map(halfBitsToNumber);
    expectHalf.push(numberToHalfBits(rh(x + y) + z), numberToHalfBits(x * y));
    // Division: the exact quotient rounded via float32 first (as the CPU computes it).
    expectHalf.push(numberToHalfBits(f32(x / z)));
    const [p, q, r] = [bA[i], bB[i], bC[i]].map(bfloatBitsToNumber);
    expectBf.push(numberToBfloatBits(rb(p + q) + r), numberToBfloatBits(p * q));
    expectBf.push(numberToBfloatBits(p - rb(q * r)));
  }
  assert.deepStrictEqual([...new Uint16Array(ho)], expectHalf);
  assert.deepStrictEqual([...new Uint16Array(bo)], expectBf);
});

Deno.test("msl half/bfloat: vectors, literals, limits and conversions back to float", async () => {
  const [out] = await h.run({
    kernel: "hvec",
    source: `
kernel void hvec(device float* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  half4 v = half4(1.5h, -2.0h, 0.25h, 1024.0h);
  half4 w = v * 2.0h + half4(1.0h);
  bfloat2 bf = bfloat2(3.0f, 0.5f) * bfloat(2.0f);
  float4 f = float4(w);
  for (int k = 0; k < 4; ++k) out[k] = f[k];
  out[4] = float(bf.x); out[5] = float(bf.y);
  out[6] = float(numeric_limits<half>::max());
  out[7] = float(numeric_limits<half>::epsilon());
  out[8] = float(HALF_MAX);
  out[9] = float(half(70000.0f));  // +inf
  out[10] = float(numeric_limits<bfloat>::max());
  out[11] = float(as_type<half>(ushort(0x3555)));
}`,
    buffers: [12 * 4],
    grid: [1],
    threads: [1],
  });
  assert.deepStrictEqual([...new Float32Array(out)], [
    4,
    -3,
    1.5,
    2048, // 2049 is a tie in half: rounds to even
    6,
    1,
    65504,
    2 ** -10,
    65504,
    Infinity,
    f32(bfloatBitsToNumber(0x7f7f)),
    halfBitsToNumber(0x3555),
  ]);
});
