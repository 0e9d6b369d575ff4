// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// Conformance: every simd_* collective and the quad_* equivalents, in uniform and divergent
// control flow, on 2 simdgroups (and a partial third).
import assert from "node:assert";
import { Harness } from "./_harness.ts";

const h = new Harness();
const THREADS = 80; // simdgroups of 32, 32 and 16 lanes
const OUTS = 40; // results per thread

const SOURCE = `
kernel void simd_all_ops(device int* out [[buffer(0)]],
                         uint tid [[thread_index_in_threadgroup]],
                         uint lane [[thread_index_in_simdgroup]],
                         uint sg [[simdgroup_index_in_threadgroup]],
                         uint qlane [[thread_index_in_quadgroup]]) {
  int v = int(lane) * 2 + 1 + int(sg) * 100;
  device int* o = out + tid * ${OUTS};
  o[0] = simd_sum(v);
  o[1] = simd_product(int(lane % 3 == 0 ? 2 : 1));
  o[2] = simd_min(v);
  o[3] = simd_max(v);
  o[4] = simd_and(int(0xFF) ^ int(lane));
  o[5] = simd_or(1 << (lane % 8));
  o[6] = simd_xor(int(lane));
  o[7] = simd_prefix_inclusive_sum(v);
  o[8] = simd_prefix_exclusive_sum(v);
  o[9] = simd_prefix_inclusive_product(int(lane % 4 == 1 ? 2 : 1));
  o[10] = simd_prefix_exclusive_product(int(lane % 4 == 1 ? 2 : 1));
  o[11] = simd_shuffle(v, ushort((lane + 5) % 16));
  o[12] = simd_shuffle_up(v, 3);
  o[13] = simd_shuffle_down(v, 3);
  o[14] = simd_shuffle_xor(v, 5);
  o[15] = simd_shuffle_and_fill_up(v, -v, 2);
  o[16] = simd_shuffle_and_fill_down(v, -v, 2);
  o[17] = simd_broadcast(v, 7);
  o[18] = simd_broadcast_first(v);
  o[19] = int(static_cast<simd_vote::vote_t>(simd_ballot(lane % 2 == 1)) & 0xFFFFFFFFu);
  o[20] = simd_all(v > 0);
  o[21] = simd_any(lane == 9);
  o[22] = simd_is_first();
  o[23] = int(static_cast<simd_vote::vote_t>(simd_active_threads_mask()) & 0xFFFFFFFFu);
  // Divergent: lanes with lane % 3 == 0 take the branch; the others run other collectives.
  if (lane % 3 == 0) {
    o[24] = simd_sum(v);
    o[25] = simd_prefix_exclusive_sum(1);
    o[26] = simd_broadcast_first(v);
    o[27] = int(static_cast<simd_vote::vote_t>(simd_ballot(true)) & 0xFFFFFFFFu);
    o[28] = simd_is_first();
  } else {
    o[24] = simd_max(v);
    o[25] = simd_prefix_inclusive_sum(1);
    o[26] = simd_min(v);
    o[27] = int(static_cast<simd_vote::vote_t>(simd_active_threads_mask()) & 0xFFFFFFFFu);
    o[28] = simd_all(lane % 3 != 0);
  }
  o[29] = simd_sum(1);  // reconverged: every lane again
  // Quad-groups: lanes 4k .. 4k+3.
  o[30] = quad_sum(v);
  o[31] = quad_min(v);
  o[32] = quad_max(v);
  o[33] = quad_prefix_exclusive_sum(v);
  o[34] = quad_shuffle_xor(v, 1);
  o[35] = quad_broadcast(v, 2);
  o[36] = quad_shuffle_up(v, 1);
  o[37] = quad_shuffle_down(v, 1);
  o[38] = int(static_cast<quad_vote::vote_t>(quad_ballot(qlane >= 2)));
  o[39] = quad_any(qlane == 3) + 2 * quad_all(qlane < 3);
}`;

/** What one thread's 40 results must be (reference semantics of each collective). */
function expected(tid: number): number[] {
  const sg = Math.floor(tid / 32), lane = tid % 32;
  const width = Math.min(32, THREADS - sg * 32);
  const lanes = [...Array(width).keys()];
  const V = (l: number) => l * 2 + 1 + sg * 100;
  const v = V(lane);
  const sum = (ls: number[], f: (l: number) => number) => ls.reduce((s, l) => s + f(l), 0);
  const prod = (ls: number[], f: (l: number) => number) => ls.reduce((s, l) => s * f(l), 1);
  const p2 = (l: number) => l % 4 === 1 ? 2 : 1;
  const read = (src: number) => src >= 0 && src < width ? V(src) : v;
  const mask = (ls: number[]) => ls.reduce((m, l) => (m | (1 << l)) >>> 0, 0) | 0;
  const r: number[] = [
    sum(lanes, V),
    prod(lanes, (l) => l % 3 === 0 ? 2 : 1),
    V(0),
    V(width - 1),
    lanes.reduce((m, l) => m & (0xff ^ l), -1),
    lanes.reduce((m, l) => m | (1 << (l % 8)), 0),
    lanes.reduce((m, l) => m ^ l, 0),
    sum(lanes.filter((l) => l <= lane), V),
    sum(lanes.filter((l) => l < lane), V),
    prod(lanes.filter((l) => l <= lane), p2),
    prod(lanes.filter((l) => l < lane), p2),
    read((lane + 5) % 16),
    lane >= 3 ? V(lane - 3) : v,
    lane + 3 < width ? V(lane + 3) : v,
    read(lane ^ 5),
    // A source lane past a partial simdgroup's end is inactive: the lane keeps its own value.
    lane >= 2 ? V(lane - 2) : lane + 30 < width ? -V(lane + 30) : -v,
    lane + 2 < 32 ? read(lane + 2) : -V(lane + 2 - 32),
    V(7),
    V(0),
    mask(lanes.filter((l) => l % 2 === 1)),
    1,
    width > 9 ? 1 : 0,
    lane === 0 ? 1 : 0,
    mask(lanes),
  ];
  const inBranch = lanes.filter((l) => l % 3 === 0), other = lanes.filter((l) => l % 3 !== 0);
  if (lane % 3 === 0) {
    r.push(
      sum(inBranch, V),
      inBranch.filter((l) => l < lane).length,
      V(0),
      mask(inBranch),
      lane === 0 ? 1 : 0,
    );
  } else {
    r.push(
      Math.max(...other.map(V)),
      other.filter((l) => l <= lane).length,
      Math.min(...other.map(V)),
      mask(other),
      1,
    );
  }
  r.push(width);
  const q = lane & ~3, quad = [q, q + 1, q + 2, q + 3], ql = lane & 3;
  r.push(
    sum(quad, V),
    V(q),
    V(q + 3),
    sum(quad.filter((l) => l < lane), V),
    V(lane ^ 1),
    V(q + 2),
    ql >= 1 ? V(lane - 1) : v,
    ql <= 2 ? V(lane + 1) : v,
    0b1100,
    1,
  );
  return r;
}

Deno.test("msl simd: every simd_* and quad_* collective, uniform and divergent", async () => {
  // The last simdgroup has 16 lanes: a dispatch of 80 threads in one group.
  const [out] = await h.run({
    kernel: "simd_all_ops",
    source: SOURCE,
    buffers: [THREADS * OUTS * 4],
    groups: [1],
    threads: [THREADS],
  });
  const got = new Int32Array(out);
  const names = [
    "sum",
    "product",
    "min",
    "max",
    "and",
    "or",
    "xor",
    "prefix_incl_sum",
    "prefix_excl_sum",
    "prefix_incl_product",
    "prefix_excl_product",
    "shuffle",
    "shuffle_up",
    "shuffle_down",
    "shuffle_xor",
    "shuffle_and_fill_up",
    "shuffle_and_fill_down",
    "broadcast",
    "broadcast_first",
    "ballot",
    "all",
    "any",
    "is_first",
    "active_threads_mask",
    "branch:sum|max",
    "branch:prefix",
    "branch:broadcast_first|min",
    "branch:ballot|mask",
    "branch:is_first|all",
    "reconverged sum",
    "quad_sum",
    "quad_min",
    "quad_max",
    "quad_prefix_excl_sum",
    "quad_shuffle_xor",
    "quad_broadcast",
    "quad_shuffle_up",
    "quad_shuffle_down",
    "quad_ballot",
    "quad_any/all",
  ];
  for (let t = 0; t < THREADS; ++t) {
    const e = expected(t);
    for (let k = 0; k < OUTS; ++k) {
      assert.strictEqual(got[t * OUTS + k], e[k], `thread ${t} ${names[k]}`);
    }
  }
});

Deno.test("msl simd: float reductions and vector shuffles", async () => {
  const [out] = await h.run({
    kernel: "simd_float",
    source: `
kernel void simd_float(device float* out [[buffer(0)]], uint lane [[thread_index_in_simdgroup]]) {
  float x = float(lane) * 0.5f;
  float4 v = float4(x, -x, 1.0f, float(lane));
  float4 s = simd_sum(v);
  float4 sh = simd_shuffle_xor(v, 1);
  half hs = simd_sum(half(lane));
  out[lane * 6 + 0] = s.x; out[lane * 6 + 1] = s.z;
  out[lane * 6 + 2] = sh.w; out[lane * 6 + 3] = simd_max(x);
  out[lane * 6 + 4] = float(hs); out[lane * 6 + 5] = simd_prefix_exclusive_sum(x);
}`,
    buffers: [32 * 6 * 4],
    groups: [1],
    threads: [32],
  });
  const got = new Float32Array(out);
  for (let l = 0; l < 32; ++l) {
    assert.deepStrictEqual([...got.slice(l * 6, l * 6 + 6)], [
      248,
      32,
      l ^ 1,
      15.5,
      496,
      (l * (l - 1)) / 4 + 0,
    ], `lane ${l}`);
  }
});
