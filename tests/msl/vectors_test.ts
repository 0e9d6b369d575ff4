// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// Conformance: scalar and vector types, swizzles, constructors, conversions vs as_type,
// packed types, struct layout (sizeof/alignof), bool vectors.
import assert from "node:assert";
import { assertClose, Harness } from "./_harness.ts";

const h = new Harness();

Deno.test("msl vectors: swizzle reads and writes, .lo/.hi, element access", async () => {
  const [out] = await h.run({
    kernel: "swizzle",
    source: `
kernel void swizzle(device float* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  float4 v = float4(1.0f, 2.0f, 3.0f, 4.0f);
  float4 w = v.wzyx;                 // 4 3 2 1
  float2 p = v.xz;                   // 1 3
  float3 c = v.rgb;                  // 1 2 3
  v.xy = float2(10.0f, 20.0f);       // 10 20 3 4
  v.zw = v.yx;                       // 10 20 20 10
  float4 q = float4(0.0f);
  q.yw = p;                          // 0 1 0 3
  float2 lo = w.lo, hi = w.hi;       // 4 3 | 2 1
  q[0] = v[3] + 0.5f;                // 10.5 1 0 3
  float4 s = v.xxyy;                 // 10 10 20 20
  int i0 = 0;
  for (; i0 < 4; ++i0) out[i0] = w[i0];
  out[4] = p.x; out[5] = p.y;
  out[6] = c.b;
  for (int k = 0; k < 4; ++k) out[7 + k] = v[k];
  for (int k = 0; k < 4; ++k) out[11 + k] = q[k];
  out[15] = lo.x; out[16] = lo.y; out[17] = hi.x; out[18] = hi.y;
  for (int k = 0; k < 4; ++k) out[19 + k] = s[k];
}`,
    buffers: [23 * 4],
    grid: [1],
    threads: [1],
  });
  assert.deepStrictEqual([...new Float32Array(out)], [
    4,
    3,
    2,
    1,
    1,
    3,
    3,
    10,
    20,
    20,
    10,
    10.5,
    1,
    0,
    3,
    4,
    3,
    2,
    1,
    10,
    10,
    20,
    20,
  ]);
});

Deno.test("msl vectors: constructors splat, flatten and convert values", async () => {
  const [fout, iout] = await h.run({
    kernel: "ctors",
    source: `
kernel void ctors(device float* out [[buffer(0)]], device int* iout [[buffer(1)]],
                  uint i [[thread_position_in_grid]]) {
  float4 a = float4(2.5f);                          // splat
  float4 b = float4(float2(1.0f, 2.0f), 3.0f, 4.0f);  // flatten
  float4 c = float4(1.0f, float3(5.0f, 6.0f, 7.0f));
  float3 d = float3(float2(8.0f, 9.0f), 10.0f);
  int4 e = int4(float4(1.9f, -1.9f, 2.5f, -0.5f));  // value conversion truncates
  float4 f = float4(int4(1, 2, 3, 4));
  uint2 g = uint2(7);
  half4 hv = half4(float4(0.5f, 1.5f, 2.5f, 3.5f));
  float4 k = float4(hv);
  short2 sh = short2(int2(70000, -70000));          // wraps as in C
  float4 st = static_cast<float4>(int4(9, 8, 7, 6));
  for (int j = 0; j < 4; ++j) out[j] = a[j];
  for (int j = 0; j < 4; ++j) out[4 + j] = b[j];
  for (int j = 0; j < 4; ++j) out[8 + j] = c[j];
  for (int j = 0; j < 3; ++j) out[12 + j] = d[j];
  for (int j = 0; j < 4; ++j) iout[j] = e[j];
  for (int j = 0; j < 4; ++j) out[15 + j] = f[j];
  iout[4] = g.x; iout[5] = g.y;
  for (int j = 0; j < 4; ++j) out[19 + j] = k[j];
  iout[6] = sh.x; iout[7] = sh.y;
  for (int j = 0; j < 4; ++j) out[23 + j] = st[j];
}`,
    buffers: [27 * 4, 8 * 4],
    grid: [1],
    threads: [1],
  });
  assert.deepStrictEqual([...new Int32Array(iout)], [1, -1, 2, 0, 7, 7, 4464, -4464]);
  assert.deepStrictEqual([...new Float32Array(fout)], [
    2.5,
    2.5,
    2.5,
    2.5,
    1,
    2,
    3,
    4,
    1,
    5,
    6,
    7,
    8,
    9,
    10,
    1,
    2,
    3,
    4,
    0.5,
    1.5,
    2.5,
    3.5,
    9,
    8,
    7,
    6,
  ]);
});

Deno.test("msl vectors: value conversion vs as_type bitcast", async () => {
  const [out] = await h.run({
    kernel: "bitcast",
    source: `
kernel void bitcast(device uint* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  float x = 1.0f;
  out[0] = as_type<uint>(x);             // 0x3f800000
  out[1] = uint(x);                       // 1
  out[2] = (uint)2.75f;                   // 2
  half2 hh = half2(1.0h, -2.0h);
  out[3] = as_type<uint>(hh);             // 0xc0003c00
  float2 f2 = as_type<float2>(uint2(0x40000000u, 0x3f000000u));
  out[4] = uint(f2.x * 10.0f);            // 20
  out[5] = uint(f2.y * 10.0f);            // 5
  uchar4 bytes = as_type<uchar4>(0x04030201u);
  out[6] = bytes.x + 10u * bytes.y + 100u * bytes.z + 1000u * bytes.w;  // 4321
  out[7] = as_type<uint>(int(-1));
  ushort us = as_type<ushort>(half(1.0h));
  out[8] = us;                            // 0x3c00
}`,
    buffers: [9 * 4],
    grid: [1],
    threads: [1],
  });
  assert.deepStrictEqual([...new Uint32Array(out)], [
    0x3f800000,
    1,
    2,
    0xc0003c00,
    20,
    5,
    4321,
    0xffffffff,
    0x3c00,
  ]);
});

Deno.test("msl vectors: sizeof/alignof follow MSL (float3 16 bytes, packed_float3 12)", async () => {
  const [out] = await h.run({
    kernel: "layout",
    source: `
struct S { float3 a; float b; };             // 32 bytes in MSL (float3 is 16, align 16)
struct P { packed_float3 a; float b; };      // 16 bytes
struct Q { char c; float4 v; };              // 32
struct R { half h; packed_half3 p; int2 i; }; // 2 + 6 -> 8, int2 at 8: 16
kernel void layout(device uint* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  uint k = 0;
  out[k++] = sizeof(float3);  out[k++] = alignof(float3);
  out[k++] = sizeof(packed_float3); out[k++] = alignof(packed_float3);
  out[k++] = sizeof(float4);  out[k++] = sizeof(float2);
  out[k++] = sizeof(half3);   out[k++] = alignof(half3);
  out[k++] = sizeof(packed_half4); out[k++] = alignof(packed_half4);
  out[k++] = sizeof(packed_float4); out[k++] = alignof(packed_float4);
  out[k++] = sizeof(char3);   out[k++] = sizeof(short3);
  out[k++] = sizeof(S); out[k++] = alignof(S);
  out[k++] = sizeof(P); out[k++] = sizeof(Q); out[k++] = sizeof(R);
  out[k++] = sizeof(bool); out[k++] = sizeof(bool2); out[k++] = sizeof(bool3); out[k++] = sizeof(bool4);
  out[k++] = sizeof(half); out[k++] = sizeof(bfloat); out[k++] = sizeof(bfloat4);
  out[k++] = sizeof(long); out[k++] = sizeof(ulong2); out[k++] = sizeof(uint3);
}`,
    buffers: [29 * 4],
    grid: [1],
    threads: [1],
  });
  assert.deepStrictEqual([...new Uint32Array(out)], [
    16,
    16,
    12,
    4,
    16,
    8,
    8,
    8,
    8,
    2,
    16,
    4,
    4,
    8,
    32,
    16,
    16,
    32,
    16,
    1,
    2,
    4,
    4,
    2,
    2,
    8,
    8,
    16,
    16,
  ]);
});

Deno.test("msl vectors: structs and packed types read from a buffer with MSL layout", async () => {
  // struct Item { packed_float3 p; uint tag; float3 v; } -> p at 0 (12), tag at 12, v at 16, 32 bytes.
  const n = 4;
  const data = new ArrayBuffer(32 * n);
  const f = new Float32Array(data), u = new Uint32Array(data);
  for (let i = 0; i < n; ++i) {
    f[i * 8 + 0] = i + 1;
    f[i * 8 + 1] = 2 * (i + 1);
    f[i * 8 + 2] = 3 * (i + 1);
    u[i * 8 + 3] = 100 + i;
    f[i * 8 + 4] = 0.5;
    f[i * 8 + 5] = 0.25;
    f[i * 8 + 6] = 0.125;
    f[i * 8 + 7] = 999; // padding
  }
  const [, out] = await h.run({
    kernel: "packed_struct",
    source: `
struct Item { packed_float3 p; uint tag; float3 v; };
kernel void packed_struct(device const Item* items [[buffer(0)]], device float* out [[buffer(1)]],
                          uint i [[thread_position_in_grid]]) {
  Item it = items[i];
  float3 p = float3(it.p);
  out[i] = dot(p, it.v) + float(it.tag) + it.p[1] * 0.0f + float(sizeof(Item));
}`,
    buffers: [new Uint8Array(data), n * 4],
    grid: [n],
    threads: [n],
  });
  const expected = [];
  for (let i = 0; i < n; ++i) {
    expected.push((i + 1) * (0.5 + 2 * 0.25 + 3 * 0.125) + 100 + i + 32);
  }
  assertClose(new Float32Array(out), expected, 1e-6);
});

Deno.test("msl vectors: bool vectors from comparisons, all/any/select, logical ops", async () => {
  const [out] = await h.run({
    kernel: "boolvec",
    source: `
kernel void boolvec(device int* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  float4 a = float4(1.0f, 5.0f, 3.0f, 0.0f), b = float4(2.0f, 4.0f, 3.0f, -1.0f);
  bool4 m = a > b;                     // F T F T
  bool4 e = a == b;                    // F F T F
  bool4 n = !m;                        // T F T F
  bool4 o = m || e;                    // F T T T
  bool4 x = m && bool4(true, true, false, false);  // F T F F
  bool2 sw = bool2(m.y, m.w);          // T T
  float4 s = select(a, b, m);          // 1 4 3 -1
  int k = 0;
  for (int j = 0; j < 4; ++j) out[k++] = m[j] ? 1 : 0;
  for (int j = 0; j < 4; ++j) out[k++] = n[j];
  for (int j = 0; j < 4; ++j) out[k++] = o[j];
  for (int j = 0; j < 4; ++j) out[k++] = x[j];
  out[k++] = all(sw); out[k++] = any(e); out[k++] = all(m); out[k++] = any(bool4(false));
  for (int j = 0; j < 4; ++j) out[k++] = int(s[j]);
  out[k++] = m.y; out[k++] = e.z;
  int4 asint = int4(m);                // 0 1 0 1
  for (int j = 0; j < 4; ++j) out[k++] = asint[j];
  bool2 c2 = uint2(3u, 0u) != uint2(3u, 1u);  // F T
  out[k++] = c2.x; out[k++] = c2.y;
}`,
    buffers: [32 * 4],
    grid: [1],
    threads: [1],
  });
  assert.deepStrictEqual([...new Int32Array(out)], [
    0,
    1,
    0,
    1,
    1,
    0,
    1,
    0,
    0,
    1,
    1,
    1,
    0,
    1,
    0,
    0,
    1,
    1,
    0,
    0,
    1,
    4,
    3,
    -1,
    1,
    1,
    0,
    1,
    0,
    1,
    0,
    1,
  ]);
});

Deno.test("msl vectors: integer widths wrap and convert like MSL", async () => {
  const [out] = await h.run({
    kernel: "ints",
    source: `
kernel void ints(device int* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  uchar c = 250; c += 10;              // 4
  char sc = char(200);                 // -56
  ushort us = 65535; us++;             // 0
  long l = long(1) << 40;
  ulong ul = ~0ul;
  uint u = uint(-1.0f * 0.0f);
  int4 v = int4(1, -2, 3, -4) * 3 / 2; // 1 -3 4 -6
  uint3 sh = uint3(1u, 2u, 3u) << 2;   // 4 8 12
  out[0] = c; out[1] = sc; out[2] = us; out[3] = int(l >> 38); out[4] = int(ul >> 62);
  out[5] = int(u);
  for (int j = 0; j < 4; ++j) out[6 + j] = v[j];
  for (int j = 0; j < 3; ++j) out[10 + j] = int(sh[j]);
  out[13] = -7 / 2; out[14] = -7 % 3;
}`,
    buffers: [15 * 4],
    grid: [1],
    threads: [1],
  });
  assert.deepStrictEqual([...new Int32Array(out)], [
    4,
    -56,
    0,
    4,
    3,
    0,
    1,
    -3,
    4,
    -6,
    4,
    8,
    12,
    -3,
    -1,
  ]);
});

Deno.test("msl vectors: vec<T, N>(...) converts values in templates (backend_issues)", async () => {
  const [out] = await h.run({
    kernel: "vec_template",
    source: `
template <typename T> vec<T, 4> widen(float4 f) { return vec<T, 4>(f) + metal::vec<T, 4>(1); }
kernel void vec_template(device float* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  vec<bfloat, 4> b = widen<bfloat>(float4(1.0f, 2.0f, 3.0f, 4.0f));
  vec<half, 2> hh = vec<half, 2>(int2(5, -6));
  float4 f = float4(b);
  for (int k = 0; k < 4; ++k) out[k] = f[k];
  out[4] = float(hh.x); out[5] = float(hh.y);
  // Aliases of vector types convert values too (int4 <- float4 is the same size: no bitcast).
  typedef int4 i4;
  using h2 = vec<half, 2>;
  i4 iv = i4(float4(1.5f, -2.5f, 3.0f, 4.0f));
  h2 hv = h2(float2(0.5f, 8.0f));
  out[6] = float(iv.x + iv.y + iv.z + iv.w); out[7] = float(hv.x) + float(hv.y);
}`,
    buffers: [8 * 4],
    grid: [1],
    threads: [1],
  });
  assert.deepStrictEqual([...new Float32Array(out)], [2, 3, 4, 5, 5, -6, 6, 8.5]);
});
