// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// Conformance: every position/index attribute in 1, 2 and 3 dimensions; dispatchThreads with
// partial edge threadgroups; [[max_total_threads_per_threadgroup]].
import assert from "node:assert";
import { Harness } from "./_harness.ts";

const h = new Harness();
const FIELDS = 24;

const SOURCE = `
kernel void ids3(device uint* out [[buffer(0)]],
                 uint3 gpos [[thread_position_in_grid]],
                 uint3 tpos [[thread_position_in_threadgroup]],
                 uint3 group [[threadgroup_position_in_grid]],
                 uint3 tpg [[threads_per_threadgroup]],
                 uint3 dtpg [[dispatch_threads_per_threadgroup]],
                 uint3 groups [[threadgroups_per_grid]],
                 uint3 grid [[threads_per_grid]],
                 uint tindex [[thread_index_in_threadgroup]],
                 ushort lane [[thread_index_in_simdgroup]],
                 ushort sg [[simdgroup_index_in_threadgroup]],
                 uint sgs [[simdgroups_per_threadgroup]],
                 uint width [[thread_execution_width]],
                 uint qlane [[thread_index_in_quadgroup]],
                 uint quad [[quadgroup_index_in_threadgroup]]) {
  uint linear = gpos.x + grid.x * (gpos.y + grid.y * gpos.z);
  device uint* o = out + linear * ${FIELDS};
  o[0] = gpos.x; o[1] = gpos.y; o[2] = gpos.z;
  o[3] = tpos.x; o[4] = tpos.y; o[5] = tpos.z;
  o[6] = group.x; o[7] = group.y; o[8] = group.z;
  o[9] = tpg.x; o[10] = tpg.y; o[11] = tpg.z;
  o[12] = dtpg.x * 10000 + dtpg.y * 100 + dtpg.z;
  o[13] = groups.x * 10000 + groups.y * 100 + groups.z;
  o[14] = grid.x * 10000 + grid.y * 100 + grid.z;
  o[15] = tindex; o[16] = lane; o[17] = sg; o[18] = sgs; o[19] = width;
  o[20] = qlane; o[21] = quad; o[22] = 1;
  o[23] = 0;
}
kernel void ids2(device uint* out [[buffer(0)]],
                 ushort2 gpos [[thread_position_in_grid]],
                 uint2 tpos [[thread_position_in_threadgroup]],
                 uint2 group [[threadgroup_position_in_grid]],
                 uint2 grid [[threads_per_grid]]) {
  uint linear = gpos.x + grid.x * gpos.y;
  out[linear * 4 + 0] = gpos.x; out[linear * 4 + 1] = gpos.y;
  out[linear * 4 + 2] = tpos.x + 100 * tpos.y; out[linear * 4 + 3] = group.x + 100 * group.y;
}
kernel void ids1(device uint* out [[buffer(0)]], uint i [[thread_position_in_grid]],
                 uint n [[threads_per_grid]], uint t [[thread_position_in_threadgroup]],
                 uint g [[threadgroup_position_in_grid]], uint tpg [[threads_per_threadgroup]]) {
  out[i * 3] = n; out[i * 3 + 1] = t + 1000 * g; out[i * 3 + 2] = tpg;
}
`;

Deno.test("msl positions: every attribute in 3D with partial edge groups (dispatchThreads)", async () => {
  const grid = [7, 5, 3], tg = [4, 2, 2];
  const total = grid[0] * grid[1] * grid[2];
  const [out] = await h.run({
    kernel: "ids3",
    source: SOURCE,
    buffers: [total * FIELDS * 4],
    grid: grid as [number, number, number],
    threads: tg as [number, number, number],
  });
  const got = new Uint32Array(out);
  const groups = grid.map((g, d) => Math.ceil(g / tg[d]));
  for (let z = 0; z < grid[2]; ++z) {
    for (let y = 0; y < grid[1]; ++y) {
      for (let x = 0; x < grid[0]; ++x) {
        const pos = [x, y, z];
        const group = pos.map((p, d) => Math.floor(p / tg[d]));
        const tpos = pos.map((p, d) => p % tg[d]);
        // The actual size of this (maybe partial) group.
        const tpg = group.map((g, d) => Math.min(tg[d], grid[d] - g * tg[d]));
        const tindex = tpos[0] + tpg[0] * (tpos[1] + tpg[1] * tpos[2]);
        const count = tpg[0] * tpg[1] * tpg[2];
        const e = [
          ...pos,
          ...tpos,
          ...group,
          ...tpg,
          tg[0] * 10000 + tg[1] * 100 + tg[2],
          groups[0] * 10000 + groups[1] * 100 + groups[2],
          grid[0] * 10000 + grid[1] * 100 + grid[2],
          tindex,
          tindex % 32,
          Math.floor(tindex / 32),
          Math.ceil(count / 32),
          32,
          tindex % 4,
          Math.floor(tindex / 4),
          1,
          0,
        ];
        const linear = x + grid[0] * (y + grid[1] * z);
        assert.deepStrictEqual([...got.slice(linear * FIELDS, (linear + 1) * FIELDS)], e, `${pos}`);
      }
    }
  }
});

Deno.test("msl positions: 2D ushort2/uint2 ids with dispatchThreadgroups", async () => {
  const [out] = await h.run({
    kernel: "ids2",
    source: SOURCE,
    buffers: [6 * 4 * 4 * 4],
    groups: [3, 2],
    threads: [2, 2],
  });
  const got = new Uint32Array(out);
  for (let y = 0; y < 4; ++y) {
    for (let x = 0; x < 6; ++x) {
      const l = x + 6 * y;
      assert.deepStrictEqual([...got.slice(l * 4, l * 4 + 4)], [
        x,
        y,
        (x % 2) + 100 * (y % 2),
        Math.floor(x / 2) + 100 * Math.floor(y / 2),
      ]);
    }
  }
});

Deno.test("msl positions: 1D dispatchThreads with a partial last group", async () => {
  const n = 100, tg = 32;
  const [out] = await h.run({
    kernel: "ids1",
    source: SOURCE,
    buffers: [n * 3 * 4],
    grid: [n],
    threads: [tg],
  });
  const got = new Uint32Array(out);
  for (let i = 0; i < n; ++i) {
    const g = Math.floor(i / tg);
    assert.deepStrictEqual(
      [...got.slice(i * 3, i * 3 + 3)],
      [n, (i % tg) + 1000 * g, Math.min(tg, n - g * tg)],
    );
  }
});

Deno.test("msl positions: [[max_total_threads_per_threadgroup]] limits the pipeline", async () => {
  const source = `
[[max_total_threads_per_threadgroup(64)]]
kernel void limited(device uint* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = i;
}`;
  const pipeline = await h.pipeline(source, "limited");
  assert.strictEqual(pipeline.maxTotalThreadsPerThreadgroup, 64);
  assert.strictEqual(pipeline.threadExecutionWidth, 32);
  const [out] = await h.run({
    kernel: "limited",
    source,
    buffers: [128 * 4],
    grid: [128],
    threads: [64],
  });
  assert.strictEqual(new Uint32Array(out)[127], 127);
  await assert.rejects(() =>
    h.run({ kernel: "limited", source, buffers: [128 * 4], grid: [128], threads: [128] })
  );
});
