// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// Conformance: barrier kernels in the shapes the CPU backend runs as work-item loops (values
// kept across barriers, barriers inside uniform loops, SIMD-group functions under divergent
// branches and loops), the shapes it leaves on fibers, and barriers not every thread reaches.
// tests/msl/fibers_test.ts runs this file again with every barrier kernel on fibers.
import assert from "node:assert";
import { CommandBufferError } from "../../errors.ts";
import type { Pipeline, PipelineExecution } from "../../pipeline.ts";
import { Harness } from "./_harness.ts";

const h = new Harness();

/** What a kernel the split covers reports: work-item loops unless fibers are forced. */
function splitExecution(): PipelineExecution {
  if (h.device.backend !== "cpu") return "gpu";
  return Deno.env.get("METAL_COMPUTE_CPU_EXECUTION") === "fibers" ? "fibers" : "work-item-loops";
}

function assertExecution(pipeline: Pipeline, expected: PipelineExecution): void {
  assert.strictEqual(pipeline.execution, expected, `execution of "${pipeline.name}"`);
}

const REDUCE = `
kernel void wi_reduce(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                      uint tid [[thread_position_in_threadgroup]],
                      uint n [[threads_per_threadgroup]],
                      uint group [[threadgroup_position_in_grid]]) {
  threadgroup float partial[64];
  float4 kept[2];
  kept[0] = float4(in[group * n + tid]);
  kept[1] = kept[0] * 2.0f;
  const float mine = in[group * n + tid];
  partial[tid] = mine;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  float total = 0.0f;
  for (uint i = 0; i < n; ++i) total += partial[i];
  threadgroup_barrier(mem_flags::mem_threadgroup);
  partial[n - 1 - tid] = mine;  // written after every thread has read
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[group * n + tid] = total + kept[1].y - kept[0].x + partial[tid] * 0.5f;
}`;

Deno.test("msl work items: values declared before a barrier keep each thread's copy after it", async () => {
  const n = 48, groups = 2;
  const input = Float32Array.from({ length: n * groups }, (_, i) => (i * 7) % 13 - 6);
  assertExecution(await h.pipeline(REDUCE, "wi_reduce"), splitExecution());
  const [, out] = await h.run({
    source: REDUCE,
    kernel: "wi_reduce",
    buffers: [input, n * groups * 4],
    groups: [groups],
    threads: [n],
  });
  const got = new Float32Array(out);
  for (let g = 0; g < groups; g++) {
    let total = 0;
    for (let i = 0; i < n; i++) total += input[g * n + i];
    for (let t = 0; t < n; t++) {
      const mine = input[g * n + t];
      const expected = total + mine + input[g * n + (n - 1 - t)] * 0.5;
      assert.strictEqual(got[g * n + t], Math.fround(expected), `group ${g} thread ${t}`);
    }
  }
});

const TREE = `
kernel void wi_tree(device const uint* in [[buffer(0)]], device uint* out [[buffer(1)]],
                    uint tid [[thread_index_in_threadgroup]],
                    uint n [[threads_per_threadgroup]]) {
  threadgroup uint buf[64];
  buf[tid] = in[tid];
  threadgroup_barrier(mem_flags::mem_threadgroup);
  for (uint stride = n / 2; stride > 0; stride >>= 1) {
    if (tid < stride) {
      buf[tid] += buf[tid + stride];
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
  }
  uint rounds = 0;
  while (rounds < 3) {
    ++rounds;
    threadgroup_barrier(mem_flags::mem_threadgroup);
  }
  out[tid] = buf[0] + rounds;
}`;

Deno.test("msl work items: a barrier inside a uniform for and while loop", async () => {
  const input = Uint32Array.from({ length: 64 }, (_, i) => i * 3 + 1);
  assertExecution(await h.pipeline(TREE, "wi_tree"), splitExecution());
  const [, out] = await h.run({
    source: TREE,
    kernel: "wi_tree",
    buffers: [input, 64 * 4],
    groups: [1],
    threads: [64],
  });
  const sum = input.reduce((a, b) => a + b, 0);
  assert.deepStrictEqual([...new Uint32Array(out)], new Array(64).fill(sum + 3));
});

const DIVERGENT = `
kernel void wi_divergent(device int* out [[buffer(0)]],
                         uint tid [[thread_index_in_threadgroup]],
                         uint lane [[thread_index_in_simdgroup]]) {
  const int v = int(lane) + 1;
  int a = -1;
  if (lane < 12) {
    a = simd_sum(v);
  } else if (lane % 2 == 0) {
    a = simd_max(v) * 1000;
  }
  int b = 0;
  for (uint i = 0; i < lane % 4; ++i) {
    b += simd_sum(1);
  }
  const int c = simd_prefix_exclusive_sum(v);
  out[tid * 3 + 0] = a;
  out[tid * 3 + 1] = b;
  out[tid * 3 + 2] = c;
}`;

Deno.test("msl work items: SIMD-group functions under divergent branches and loops see the lanes inside", async () => {
  const threads = 40; // a full simdgroup and one of 8 lanes
  assertExecution(await h.pipeline(DIVERGENT, "wi_divergent"), splitExecution());
  const [out] = await h.run({
    source: DIVERGENT,
    kernel: "wi_divergent",
    buffers: [threads * 3 * 4],
    groups: [1],
    threads: [threads],
  });
  const got = new Int32Array(out);
  for (let t = 0; t < threads; t++) {
    const base = t - (t % 32), width = Math.min(32, threads - base), lane = t % 32;
    const lanes = Array.from({ length: width }, (_, l) => l);
    let a = -1;
    if (lane < 12) a = lanes.filter((l) => l < 12).reduce((s, l) => s + l + 1, 0);
    else if (lane % 2 === 0) {
      a = Math.max(...lanes.filter((l) => l >= 12 && l % 2 === 0)) * 1000 + 1000;
    }
    let b = 0;
    for (let i = 0; i < lane % 4; i++) b += lanes.filter((l) => l % 4 > i).length;
    const c = lanes.filter((l) => l < lane).reduce((s, l) => s + l + 1, 0);
    assert.deepStrictEqual([...got.subarray(t * 3, t * 3 + 3)], [a, b, c], `thread ${t}`);
  }
});

const HELPER = `
static float group_sum(float v, threadgroup float* scratch, uint tid, uint n) {
  scratch[tid] = v;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  float s = 0.0f;
  for (uint i = 0; i < n; ++i) s += scratch[i];
  return s;
}
kernel void wi_helper(device float* out [[buffer(0)]],
                      uint tid [[thread_position_in_threadgroup]],
                      uint n [[threads_per_threadgroup]]) {
  threadgroup float scratch[32];
  out[tid] = group_sum(float(tid), scratch, tid, n);
}`;

Deno.test("msl work items: a function with a barrier runs as a group function", async () => {
  const pipeline = await h.pipeline(HELPER, "wi_helper");
  assertExecution(pipeline, splitExecution());
  const [out] = await h.run({
    source: HELPER,
    kernel: "wi_helper",
    buffers: [32 * 4],
    groups: [1],
    threads: [32],
  });
  assert.deepStrictEqual([...new Float32Array(out)], new Array(32).fill(496));
});

// Library functions that synchronise, in the shapes group functions cover: a template
// (explicit and deduced arguments) returning a value, two calls in one statement, a reference
// parameter, a collective under a divergent branch, one function calling another.
const CALLS = `
template <typename T, uint N>
static T group_total(T v, threadgroup T* scratch, uint tid) {
  scratch[tid] = v;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  T s = T(0);
  for (uint i = 0; i < N; ++i) s += scratch[i];
  threadgroup_barrier(mem_flags::mem_threadgroup);
  return s;
}
static int lane_sum(int v) {
  return simd_sum(v);
}
static void add_lane_max(thread int& acc, int v) {
  acc += simd_max(v);
}
struct Scaled {
  device const float* in;
  float scale;
  float value(uint i) const { return in[i] * scale; }
};
template <class Op>
static float scaled_total(thread const Op& op, threadgroup float* scratch, uint tid) {
  const float mine = op.value(tid);
  const float total = group_total<float, 32>(mine, scratch, tid);
  return total - mine;
}
kernel void wi_template(device float* out [[buffer(0)]],
                        uint tid [[thread_index_in_threadgroup]]) {
  threadgroup float f[32];
  threadgroup int n[32];
  out[tid] = group_total<float, 32>(float(tid), f, tid) + float(group_total<int, 32>(int(tid) * 2, n, tid));
}
kernel void wi_divergent_call(device int* out [[buffer(0)]],
                              uint lane [[thread_index_in_simdgroup]]) {
  int a = 100;
  if (lane < 12) {
    a = lane_sum(int(lane) + 1);
  } else {
    add_lane_max(a, int(lane));
  }
  out[lane] = a;
}
kernel void wi_nested(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                      uint tid [[thread_index_in_threadgroup]]) {
  threadgroup float scratch[32];
  const Scaled op = {in, 2.0f};
  out[tid] = scaled_total(op, scratch, tid);
}`;

Deno.test("msl work items: template functions with barriers, two calls in one statement", async () => {
  assertExecution(await h.pipeline(CALLS, "wi_template"), splitExecution());
  const [out] = await h.run({
    source: CALLS,
    kernel: "wi_template",
    buffers: [32 * 4],
    groups: [1],
    threads: [32],
  });
  assert.deepStrictEqual([...new Float32Array(out)], new Array(32).fill(496 + 992));
});

Deno.test("msl work items: functions with collectives called under a divergent branch see the lanes inside", async () => {
  assertExecution(await h.pipeline(CALLS, "wi_divergent_call"), splitExecution());
  const [out] = await h.run({
    source: CALLS,
    kernel: "wi_divergent_call",
    buffers: [32 * 4],
    groups: [1],
    threads: [32],
  });
  const inside = Array.from({ length: 12 }, (_, l) => l + 1).reduce((a, b) => a + b, 0);
  const expected = Array.from({ length: 32 }, (_, l) => l < 12 ? inside : 100 + 31);
  assert.deepStrictEqual([...new Int32Array(out)], expected);
});

Deno.test("msl work items: a function reached through another (deduced template, reference parameter)", async () => {
  assertExecution(await h.pipeline(CALLS, "wi_nested"), splitExecution());
  const input = Float32Array.from({ length: 32 }, (_, i) => i % 5);
  const [, out] = await h.run({
    source: CALLS,
    kernel: "wi_nested",
    buffers: [input, 32 * 4],
    groups: [1],
    threads: [32],
  });
  const total = input.reduce((a, b) => a + 2 * b, 0);
  assert.deepStrictEqual([...new Float32Array(out)], [...input].map((v) => total - 2 * v));
});

const EARLY = `
kernel void wi_early(device int* out [[buffer(0)]],
                     uint tid [[thread_index_in_threadgroup]],
                     uint sg [[simdgroup_index_in_threadgroup]],
                     uint lane [[thread_index_in_simdgroup]],
                     uint group [[threadgroup_position_in_grid]]) {
  out[group * 64 + tid] = -1;
  if (group == 1) {
    return;  // the whole group
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (sg == 1) return;  // a whole SIMD-group, before a collective
  const int s = simd_sum(int(lane));
  out[group * 64 + tid] = s;
}
kernel void wi_break(device uint* out [[buffer(0)]], uint tid [[thread_index_in_threadgroup]]) {
  threadgroup uint shared_round[1];
  uint rounds = 0;
  for (uint r = 0; r < 10; ++r) {
    if (tid == 0) shared_round[0] = r;
    threadgroup_barrier(mem_flags::mem_threadgroup);
    const uint seen = shared_round[0];
    threadgroup_barrier(mem_flags::mem_threadgroup);
    ++rounds;
    if (seen == 3) break;  // uniform: every thread leaves the loop together
  }
  out[tid] = rounds * 100 + tid;
}`;

Deno.test("msl work items: threads that return before a barrier or collective leave the loops", async () => {
  assertExecution(await h.pipeline(EARLY, "wi_early"), splitExecution());
  const [out] = await h.run({
    source: EARLY,
    kernel: "wi_early",
    buffers: [128 * 4],
    groups: [2],
    threads: [64],
  });
  const expected = Array.from({ length: 128 }, (_, i) => i < 32 ? 496 : -1);
  assert.deepStrictEqual([...new Int32Array(out)], expected);
});

Deno.test("msl work items: a break out of a loop holding a barrier", async () => {
  assertExecution(await h.pipeline(EARLY, "wi_break"), splitExecution());
  const [out] = await h.run({
    source: EARLY,
    kernel: "wi_break",
    buffers: [64 * 4],
    groups: [1],
    threads: [64],
  });
  assert.deepStrictEqual([...new Uint32Array(out)], Array.from({ length: 64 }, (_, t) => 400 + t));
});

const PARTIAL_BARRIER = `
kernel void wi_partial_barrier(device uint* out [[buffer(0)]],
                               uint tid [[thread_index_in_threadgroup]]) {
  uint v = tid;
  for (uint i = 0; i < tid % 3; ++i) {
    v += 1;
    threadgroup_barrier(mem_flags::mem_threadgroup);
  }
  out[tid] = v;
}`;

Deno.test({
  name: "msl work items: a barrier only some threads reach fails the command buffer, never hangs",
  ignore: h.device.backend !== "cpu", // on a GPU this is undefined behaviour
  async fn() {
    assertExecution(await h.pipeline(PARTIAL_BARRIER, "wi_partial_barrier"), splitExecution());
    await assert.rejects(
      h.run({
        source: PARTIAL_BARRIER,
        kernel: "wi_partial_barrier",
        buffers: [64 * 4],
        groups: [1],
        threads: [64],
      }),
      (error: unknown) =>
        error instanceof CommandBufferError &&
        /kernel "wi_partial_barrier".*threadgroup_barrier divergence/s.test(error.message),
    );
  },
});

const MATRIX = `
kernel void wi_matrix(device const float* a [[buffer(0)]], device const float* b [[buffer(1)]],
                      device float* out [[buffer(2)]],
                      uint tid [[thread_index_in_threadgroup]],
                      uint sg [[simdgroup_index_in_threadgroup]]) {
  threadgroup float ta[128];
  threadgroup float tb[128];
  threadgroup float tc[128];
  simdgroup_float8x8 acc(2.0f);  // the diagonal constructor reads the lane
  for (uint k = 0; k < 3; ++k) {
    threadgroup_barrier(mem_flags::mem_threadgroup);
    for (uint i = tid; i < 128; i += 64) {
      ta[i] = a[k * 128 + i];
      tb[i] = b[k * 128 + i];
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
    simdgroup_float8x8 m[2];
    simdgroup_load(m[0], ta + sg * 64, 8);
    simdgroup_load(m[1], tb + sg * 64, 8, ulong2(0, 0), true);
    simdgroup_multiply_accumulate(acc, m[0], m[1], acc);
  }
  simdgroup_store(acc, tc + sg * 64, 8);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[tid * 2] = tc[127 - tid * 2];
  out[tid * 2 + 1] = tc[126 - tid * 2];
}`;

Deno.test("msl work items: SIMD-group matrix loads, multiplies and stores between barriers", async () => {
  const a = Float32Array.from({ length: 3 * 128 }, (_, i) => (i * 5) % 7 - 3);
  const b = Float32Array.from({ length: 3 * 128 }, (_, i) => (i * 3) % 5 - 2);
  assertExecution(await h.pipeline(MATRIX, "wi_matrix"), splitExecution());
  const [, , out] = await h.run({
    source: MATRIX,
    kernel: "wi_matrix",
    buffers: [a, b, 128 * 4],
    groups: [1],
    threads: [64],
  });
  // Per simdgroup: 2·I + Σ_k A_k · B_kᵀ (B loaded transposed), stored row-major in tc.
  const tc = new Array(128).fill(0);
  for (let sg = 0; sg < 2; sg++) {
    for (let r = 0; r < 8; r++) {
      for (let c = 0; c < 8; c++) {
        let sum = r === c ? 2 : 0;
        for (let k = 0; k < 3; k++) {
          for (let j = 0; j < 8; j++) {
            sum += a[k * 128 + sg * 64 + r * 8 + j] * b[k * 128 + sg * 64 + c * 8 + j];
          }
        }
        tc[sg * 64 + r * 8 + c] = sum;
      }
    }
  }
  const expected = Array.from({ length: 128 }, (_, i) => tc[127 - i]);
  assert.deepStrictEqual([...new Float32Array(out)], expected);
});

const MATRIX_PRODUCT = `
kernel void wi_matrix_product(device float* out [[buffer(0)]],
                              uint tid [[thread_index_in_threadgroup]]) {
  threadgroup float t[64];
  simdgroup_float8x8 a = simdgroup_float8x8(3.0f);
  simdgroup_float8x8 b = make_filled_simdgroup_matrix<float, 8>(0.5f);
  simdgroup_store(a * b, t, 8);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[tid] = t[tid] + t[63 - tid];
}`;

Deno.test("msl work items: a SIMD-group matrix product written as '*' keeps fibers", async () => {
  assertExecution(
    await h.pipeline(MATRIX_PRODUCT, "wi_matrix_product"),
    h.device.backend === "cpu" ? "fibers" : "gpu",
  );
  const [out] = await h.run({
    source: MATRIX_PRODUCT,
    kernel: "wi_matrix_product",
    buffers: [64 * 4],
    groups: [1],
    threads: [32],
  });
  // 3I · (all 0.5) is 1.5 everywhere; each thread adds two elements.
  assert.deepStrictEqual([...new Float32Array(out)].slice(0, 32), new Array(32).fill(3));
});

const CONTINUE = `
kernel void wi_continue(device const uint* skip [[buffer(0)]], device int* out [[buffer(1)]],
                        uint tid [[thread_index_in_threadgroup]]) {
  threadgroup int t[64];
  int acc = 0;
  for (uint k = 0; k < 5; ++k) {
    if (k == skip[0]) continue;  // every thread skips the same round
    threadgroup_barrier(mem_flags::mem_threadgroup);
    t[tid] = int(tid * 10 + k);
    threadgroup_barrier(mem_flags::mem_threadgroup);
    if ((tid + k) % 3 == 0) continue;  // after the round's last barrier: per thread
    acc += t[(tid + 1) % 64];
  }
  out[tid] = acc;
}`;

Deno.test("msl work items: a continue in a loop holding a barrier", async () => {
  assertExecution(await h.pipeline(CONTINUE, "wi_continue"), splitExecution());
  const [, out] = await h.run({
    source: CONTINUE,
    kernel: "wi_continue",
    buffers: [Uint32Array.of(2), 64 * 4],
    groups: [1],
    threads: [64],
  });
  const expected = Array.from({ length: 64 }, (_, tid) => {
    let acc = 0;
    for (let k = 0; k < 5; k++) {
      if (k === 2 || (tid + k) % 3 === 0) continue;
      acc += ((tid + 1) % 64) * 10 + k;
    }
    return acc;
  });
  assert.deepStrictEqual([...new Int32Array(out)], expected);
});

const CONSTANT_DECLARATIONS = `
constant float TABLE_A[4] = {1.0f, 2.0f, 3.0f, 4.0f};
constant float TABLE_B[4] = {10.0f, 20.0f, 30.0f, 40.0f};
kernel void wi_constant_declarations(device const uint* pick [[buffer(0)]],
                                     device float* out [[buffer(1)]],
                                     uint tid [[thread_index_in_threadgroup]]) {
  constant float* first = pick[0] == 0 ? TABLE_A : TABLE_B;
  threadgroup float t[32];
  constant float* second = pick[0] == 0 ? TABLE_B : TABLE_A;
  t[tid] = first[tid % 4];
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[tid] = t[31 - tid] + second[tid % 4];
}`;

Deno.test("msl work items: declarations that begin with 'constant' (a macro here)", async () => {
  assertExecution(
    await h.pipeline(CONSTANT_DECLARATIONS, "wi_constant_declarations"),
    splitExecution(),
  );
  const [, out] = await h.run({
    source: CONSTANT_DECLARATIONS,
    kernel: "wi_constant_declarations",
    buffers: [Uint32Array.of(1), 32 * 4],
    groups: [1],
    threads: [32],
  });
  const expected = Array.from({ length: 32 }, (_, t) => 10 * (((31 - t) % 4) + 1) + (t % 4) + 1);
  assert.deepStrictEqual([...new Float32Array(out)], expected);
});

const CONTINUE_IN_BRANCH = `
kernel void wi_continue_in_branch(device int* out [[buffer(0)]],
                                  uint tid [[thread_index_in_threadgroup]]) {
  int acc = 0;
  uint k = 0;
  do {
    ++k;
    if (k % 2 == 0) {  // uniform, and holds a barrier: split
      threadgroup_barrier(mem_flags::mem_threadgroup);
      if (tid < 8) continue;  // leaves the branch and the rest of the body, not the loop
      acc += 100;
    } else {
      acc += 1;
    }
    acc += 10;
  } while (k < 4);
  out[tid] = acc;
}`;

Deno.test("msl work items: a continue inside a split branch of a split do loop", async () => {
  assertExecution(
    await h.pipeline(CONTINUE_IN_BRANCH, "wi_continue_in_branch"),
    splitExecution(),
  );
  const [out] = await h.run({
    source: CONTINUE_IN_BRANCH,
    kernel: "wi_continue_in_branch",
    buffers: [32 * 4],
    groups: [1],
    threads: [32],
  });
  const expected = Array.from({ length: 32 }, (_, tid) => (tid < 8 ? 22 : 242));
  assert.deepStrictEqual([...new Int32Array(out)], expected);
});

const NOT_COPYABLE = `
struct Counted {
  float v;
  Counted(float x) : v(x) {}
  Counted(thread const Counted& other) : v(other.v) {}
};
kernel void wi_not_copyable(device float* out [[buffer(0)]],
                            uint tid [[thread_position_in_threadgroup]]) {
  threadgroup float t[32];
  Counted kept{float(tid)};
  t[tid] = kept.v * 2.0f;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[tid] = kept.v + t[31 - tid];
}`;

Deno.test("msl work items: a kernel whose loops do not compile (a kept value that is not trivially copyable) runs on fibers", async () => {
  assertExecution(
    await h.pipeline(NOT_COPYABLE, "wi_not_copyable"),
    h.device.backend === "cpu" ? "fibers" : "gpu",
  );
  const [out] = await h.run({
    source: NOT_COPYABLE,
    kernel: "wi_not_copyable",
    buffers: [32 * 4],
    groups: [1],
    threads: [32],
  });
  const expected = Array.from({ length: 32 }, (_, t) => t + (31 - t) * 2);
  assert.deepStrictEqual([...new Float32Array(out)], expected);
});
