// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// Conformance: the math and integer library (fast:: and precise:: variants, fma, exp, exp2,
// log, tanh, atan, rsqrt, pow, clamp, mix, select, saturate, vector min/max, dot, abs, clz,
// popcount, mulhi, extract_bits, numeric_limits). Metal has no erf, erfc, log1p, expm1 or cbrt:
// real libraries define their own under those names, so the compatibility header must not.
import assert from "node:assert";
import { assertClose, f32, Harness } from "./_harness.ts";

const h = new Harness();

const X = [-2.5, -1, -0.3, 0, 0.2, 0.5, 1, 1.7, 3, 10];

Deno.test("msl math: transcendental functions, plain, fast:: and precise::", async () => {
  const n = X.length;
  const [, out] = await h.run({
    kernel: "transcendental",
    source: `
kernel void transcendental(device const float* x [[buffer(0)]], device float* out [[buffer(1)]],
                           uint i [[thread_position_in_grid]]) {
  float v = x[i];
  device float* o = out + i * 16;
  o[0] = exp(v); o[1] = fast::exp(v); o[2] = precise::exp(v);
  o[3] = exp2(v); o[4] = log(abs(v) + 1.0f); o[5] = precise::log(abs(v) + 1.0f);
  o[6] = tanh(v); o[7] = fast::tanh(v); o[8] = atan(v);
  o[9] = rsqrt(abs(v) + 0.5f); o[10] = precise::rsqrt(abs(v) + 0.5f);
  o[11] = pow(abs(v) + 0.1f, 1.5f); o[12] = fast::pow(abs(v) + 0.1f, 0.5f);
  o[13] = fma(v, 3.0f, 0.25f); o[14] = sqrt(abs(v)); o[15] = metal::precise::sin(v);
}`,
    buffers: [new Float32Array(X), n * 16 * 4],
    grid: [n],
    threads: [n],
  });
  const expected = X.flatMap((v) => {
    const a = Math.abs(v);
    return [
      Math.exp(v),
      Math.exp(v),
      Math.exp(v),
      2 ** v,
      Math.log(a + 1),
      Math.log(a + 1),
      Math.tanh(v),
      Math.tanh(v),
      Math.atan(v),
      1 / Math.sqrt(a + 0.5),
      1 / Math.sqrt(a + 0.5),
      f32(a + 0.1) ** 1.5,
      Math.sqrt(f32(a + 0.1)),
      v * 3 + 0.25,
      Math.sqrt(a),
      Math.sin(v),
    ];
  });
  assertClose(new Float32Array(out), expected, 4e-6);
});

Deno.test("msl math: clamp, mix, select, saturate, vector min/max, dot, abs", async () => {
  const [out] = await h.run({
    kernel: "common",
    source: `
kernel void common(device float* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  float4 a = float4(-1.5f, 0.25f, 2.0f, 7.0f), b = float4(1.0f, -3.0f, 2.5f, 0.5f);
  float4 c = clamp(a, -1.0f, 1.0f);                  // -1 .25 1 1
  float4 m = mix(a, b, 0.25f);
  float4 s = select(a, b, a < b);                     // b where a < b
  float4 t = saturate(a);                             // 0 .25 1 1
  float4 mn = min(a, b), mx = max(a, b);
  float d = dot(a, b);
  float4 ab = abs(b);
  float3 cr = cross(float3(1.0f, 0.0f, 0.0f), float3(0.0f, 1.0f, 0.0f));
  int4 ic = clamp(int4(-5, 3, 9, 0), int4(0), int4(4));
  uint2 um = max(uint2(3u, 9u), uint2(5u, 1u));
  int k = 0;
  for (int j = 0; j < 4; ++j) out[k++] = c[j];
  for (int j = 0; j < 4; ++j) out[k++] = m[j];
  for (int j = 0; j < 4; ++j) out[k++] = s[j];
  for (int j = 0; j < 4; ++j) out[k++] = t[j];
  for (int j = 0; j < 4; ++j) out[k++] = mn[j];
  for (int j = 0; j < 4; ++j) out[k++] = mx[j];
  out[k++] = d;
  for (int j = 0; j < 4; ++j) out[k++] = ab[j];
  for (int j = 0; j < 3; ++j) out[k++] = cr[j];
  for (int j = 0; j < 4; ++j) out[k++] = float(ic[j]);
  out[k++] = float(um.x); out[k++] = float(um.y);
  out[k++] = fmax(NAN, 1.0f);       // 1 (NaN ignored)
  out[k++] = clamp(5.0f, 0.0f, 2.0f);
  out[k++] = fract(-1.25f);         // 0.75
  out[k++] = sign(-3.0f);
  out[k++] = step(0.5f, 0.7f);
  out[k++] = smoothstep(0.0f, 1.0f, 0.5f);
}`,
    buffers: [44 * 4],
    grid: [1],
    threads: [1],
  });
  const a = [-1.5, 0.25, 2, 7], b = [1, -3, 2.5, 0.5];
  const expected = [
    -1,
    0.25,
    1,
    1,
    ...a.map((x, j) => x + (b[j] - x) * 0.25),
    ...a.map((x, j) => x < b[j] ? b[j] : x),
    0,
    0.25,
    1,
    1,
    ...a.map((x, j) => Math.min(x, b[j])),
    ...a.map((x, j) => Math.max(x, b[j])),
    a.reduce((s, x, j) => s + x * b[j], 0),
    ...b.map(Math.abs),
    0,
    0,
    1,
    0,
    3,
    4,
    0,
    5,
    9,
    1,
    2,
    0.75,
    -1,
    1,
    0.5,
  ];
  assertClose(new Float32Array(out), expected, 1e-6);
});

Deno.test("msl math: integer functions (clz, popcount, mulhi, extract_bits, ...)", async () => {
  const [out] = await h.run({
    kernel: "intfn",
    source: `
kernel void intfn(device uint* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  int k = 0;
  out[k++] = clz(1u);                       // 31
  out[k++] = clz(0u);                       // 32
  out[k++] = clz(ushort(1));                // 15
  out[k++] = uint(clz(int(-1)));            // 0
  out[k++] = popcount(0xF0F0u);             // 8
  uint2 pc = popcount(uint2(7u, 0xFFFFFFFFu));
  out[k++] = pc.x; out[k++] = pc.y;         // 3 32
  out[k++] = mulhi(0x80000000u, 6u);        // 3
  out[k++] = as_type<uint>(mulhi(-2, 0x40000000)); // -1 (0xffffffff)
  out[k++] = extract_bits(0xABCD1234u, 8u, 12u);   // 0xD12
  out[k++] = as_type<uint>(extract_bits(int(0xF00), 8u, 4u)); // -1 (sign-extended)
  out[k++] = insert_bits(0u, 0x5u, 4u, 3u);        // 0x50
  out[k++] = reverse_bits(1u);                     // 0x80000000
  out[k++] = ctz(8u);                              // 3
  out[k++] = rotate(0x80000001u, 1u);              // 3
  out[k++] = addsat(0xFFFFFFF0u, 0x100u);          // 0xffffffff
  out[k++] = as_type<uint>(abs(-7));               // 7
  out[k++] = absdiff(3u, 10u);                     // 7
  out[k++] = hadd(7u, 9u);                         // 8
  out[k++] = numeric_limits<uint>::max();
  out[k++] = as_type<uint>(numeric_limits<int>::min());
  out[k++] = as_type<uint>(numeric_limits<float>::max());
  out[k++] = as_type<uint>(numeric_limits<float>::infinity());
  out[k++] = as_type<uint>(numeric_limits<float>::epsilon());
  out[k++] = numeric_limits<ushort>::max();
  out[k++] = as_type<uint>(numeric_limits<float>::lowest());
  out[k++] = uint(numeric_limits<short>::min() + 40000);
}`,
    buffers: [27 * 4],
    grid: [1],
    threads: [1],
  });
  const bits = (x: number) => new Uint32Array(new Float32Array([x]).buffer)[0];
  assert.deepStrictEqual([...new Uint32Array(out)], [
    31,
    32,
    15,
    0,
    8,
    3,
    32,
    3,
    0xffffffff,
    0xd12,
    0xffffffff,
    0x50,
    0x80000000,
    3,
    3,
    0xffffffff,
    7,
    7,
    8,
    0xffffffff,
    0x80000000,
    0x7f7fffff,
    0x7f800000,
    bits(2 ** -23),
    0xffff,
    0xff7fffff,
    40000 - 32768,
  ]);
});

Deno.test("msl math: half math runs through the same functions", async () => {
  const [out] = await h.run({
    kernel: "halfmath",
    source: `
kernel void halfmath(device half* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  half x = 0.5h;
  out[0] = exp(x); out[1] = tanh(x); out[2] = rsqrt(x); out[3] = fma(x, x, x);
  half4 v = max(half4(1.0h, -2.0h, 3.0h, -4.0h), half4(0.0h));
  out[4] = dot(v, v); out[5] = clamp(x * 10.0h, 0.0h, 1.0h); out[6] = pow(x, 2.0h);
}`,
    buffers: [7 * 2],
    grid: [1],
    threads: [1],
  });
  const { halfBitsToNumber, toHalf } = await import("./_harness.ts");
  const got = [...new Uint16Array(out)].map(halfBitsToNumber);
  const expected = [Math.exp(0.5), Math.tanh(0.5), Math.SQRT2, 0.75, 10, 1, 0.25].map(toHalf);
  assertClose(got, expected, 1e-3);
});
