// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// Conformance: threadgroup memory (static arrays, [[threadgroup(n)]] sized by
// setThreadgroupMemoryLength, barriers with each mem_flags) and atomics in device and
// threadgroup memory (int, uint, float; fetch add/sub/min/max/and/or/xor, exchange,
// compare-exchange; many threads and threadgroups on one address).
import assert from "node:assert";
import { Harness } from "./_harness.ts";

const h = new Harness();

Deno.test("msl threadgroup: static array, dynamic [[threadgroup(n)]], every mem_flags barrier", async () => {
  const groups = 3, threads = 64;
  const [out] = await h.run({
    kernel: "tg_reduce",
    source: `
kernel void tg_reduce(device uint* out [[buffer(0)]],
                      threadgroup uint* dyn [[threadgroup(0)]],
                      threadgroup float4* dyn2 [[threadgroup(1)]],
                      uint tid [[thread_index_in_threadgroup]],
                      uint gid [[threadgroup_position_in_grid]],
                      uint n [[threads_per_threadgroup]]) {
  threadgroup uint fixed[64];
  fixed[tid] = tid + gid;
  dyn[tid] = 2 * tid;
  dyn2[tid] = float4(float(tid));
  threadgroup_barrier(mem_flags::mem_threadgroup);
  // Tree reduction over the static array, a barrier per level.
  for (uint s = n / 2; s > 0; s /= 2) {
    if (tid < s) fixed[tid] += fixed[tid + s];
    threadgroup_barrier(mem_flags::mem_threadgroup);
  }
  // Neighbour read of the dynamic arrays after the other flags' barriers.
  uint left = dyn[(tid + n - 1) % n];
  threadgroup_barrier(mem_flags::mem_device);
  threadgroup_barrier(mem_flags::mem_none);
  threadgroup_barrier(mem_flags::mem_device | mem_flags::mem_threadgroup);
  threadgroup_barrier(mem_flags::mem_texture);
  simdgroup_barrier(mem_flags::mem_threadgroup);
  float4 right = dyn2[(tid + 1) % n];
  out[gid * (n + 1) + 1 + tid] = left + uint(right.w) * 1000u;
  if (tid == 0) out[gid * (n + 1)] = fixed[0];
}`,
    buffers: [groups * (threads + 1) * 4],
    groups: [groups],
    threads: [threads],
    threadgroupMemory: { 0: threads * 4, 1: threads * 16 },
  });
  const expected: number[] = [];
  for (let g = 0; g < groups; ++g) {
    expected.push((threads * (threads - 1)) / 2 + g * threads);
    for (let t = 0; t < threads; ++t) {
      expected.push(2 * ((t + threads - 1) % threads) + ((t + 1) % threads) * 1000);
    }
  }
  assert.deepStrictEqual([...new Uint32Array(out)], expected);
});

Deno.test("msl atomics: device int/uint/float RMW ops from many threadgroups", async () => {
  const groups = 16, threads = 128, total = groups * threads;
  const [iout, fout] = await h.run({
    kernel: "atomics_device",
    source: `
kernel void atomics_device(device atomic_int* a [[buffer(0)]], device atomic_float* f [[buffer(1)]],
                           uint i [[thread_position_in_grid]]) {
  device atomic_uint* u = (device atomic_uint*)(a + 8);
  atomic_fetch_add_explicit(&a[0], 1, memory_order_relaxed);
  atomic_fetch_sub_explicit(&a[1], 2, memory_order_relaxed);
  atomic_fetch_max_explicit(&a[2], int(i), memory_order_relaxed);
  atomic_fetch_min_explicit(&a[3], -int(i), memory_order_relaxed);
  atomic_fetch_or_explicit(&u[0], 1u << (i % 32), memory_order_relaxed);
  atomic_fetch_and_explicit(&u[1], ~(1u << (i % 16)), memory_order_relaxed);
  atomic_fetch_xor_explicit(&u[2], i, memory_order_relaxed);
  atomic_fetch_add_explicit(&u[3], i, memory_order_relaxed);
  atomic_fetch_add_explicit(&f[0], 0.5f, memory_order_relaxed);
  atomic_fetch_max_explicit(&u[4], i * 3u, memory_order_relaxed);
  // A spin-free CAS increment: retry until it lands.
  int expected = atomic_load_explicit(&a[4], memory_order_relaxed);
  while (!atomic_compare_exchange_weak_explicit(&a[4], &expected, expected + 3,
                                                memory_order_relaxed, memory_order_relaxed)) {}
  int old = atomic_exchange_explicit(&a[5], int(i) + 1, memory_order_relaxed);
  if (old == 0) atomic_fetch_add_explicit(&a[6], 1, memory_order_relaxed);  // exactly one sees 0
}`,
    buffers: [new Int32Array([0, 0, -1, 0, 0, 0, 0, 0, 0, -1, 0, 0, 0]), 4],
    groups: [groups],
    threads: [threads],
  });
  const a = new Int32Array(iout), u = new Uint32Array(iout);
  let xor = 0, sum = 0;
  for (let i = 0; i < total; ++i) {
    xor ^= i;
    sum = (sum + i) >>> 0;
  }
  assert.deepStrictEqual([...a.slice(0, 5)], [
    total,
    -2 * total,
    total - 1,
    -(total - 1),
    3 * total,
  ]);
  assert.ok(a[5] >= 1 && a[5] <= total);
  assert.strictEqual(a[6], 1);
  assert.deepStrictEqual([...u.slice(8, 13)], [0xffffffff, 0xffff0000, xor, sum, (total - 1) * 3]);
  assert.strictEqual(new Float32Array(fout)[0], total * 0.5);
});

Deno.test("msl atomics: threadgroup atomics (histogram), then published with device atomics", async () => {
  const groups = 4, threads = 256, bins = 8;
  const [out] = await h.run({
    kernel: "atomics_tg",
    source: `
kernel void atomics_tg(device atomic_uint* hist [[buffer(0)]],
                       uint tid [[thread_index_in_threadgroup]],
                       uint i [[thread_position_in_grid]]) {
  threadgroup atomic_uint local[8];
  threadgroup atomic_int lmin;
  threadgroup atomic_float lsum;
  if (tid < 8) atomic_store_explicit(&local[tid], 0u, memory_order_relaxed);
  if (tid == 0) { atomic_store_explicit(&lmin, 1000000, memory_order_relaxed);
                  atomic_store_explicit(&lsum, 0.0f, memory_order_relaxed); }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  atomic_fetch_add_explicit(&local[(i * 7) % 8], 1u, memory_order_relaxed);
  atomic_fetch_min_explicit(&lmin, int(i), memory_order_relaxed);
  atomic_fetch_add_explicit(&lsum, 0.25f, memory_order_relaxed);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (tid < 8) atomic_fetch_add_explicit(&hist[tid], atomic_load_explicit(&local[tid], memory_order_relaxed), memory_order_relaxed);
  if (tid == 0) {
    atomic_fetch_add_explicit(&hist[8], uint(atomic_load_explicit(&lmin, memory_order_relaxed)), memory_order_relaxed);
    atomic_fetch_add_explicit(&hist[9], uint(atomic_load_explicit(&lsum, memory_order_relaxed)), memory_order_relaxed);
  }
}`,
    buffers: [10 * 4],
    groups: [groups],
    threads: [threads],
  });
  const expected = new Array(bins).fill(0);
  for (let i = 0; i < groups * threads; ++i) expected[(i * 7) % 8]++;
  let minSum = 0;
  for (let g = 0; g < groups; ++g) minSum += g * threads;
  assert.deepStrictEqual([...new Uint32Array(out)], [...expected, minSum, groups * threads * 0.25]);
});
