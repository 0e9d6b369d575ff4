// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// Conformance: templates with [[host_name]] instantiations (several per file), and function
// constants of every type, derived constants, is_function_constant_defined, and a constant
// sizing a threadgroup array.
import assert from "node:assert";
import type { FunctionConstants } from "../../constants.ts";
import { FunctionConstantError, InvalidArgumentError } from "../../errors.ts";
import { halfBitsToNumber, Harness, numberToHalfBits } from "./_harness.ts";

const h = new Harness();

const TEMPLATES = `
template <typename T, int SCALE>
kernel void scale_t(device const T* in [[buffer(0)]], device T* out [[buffer(1)]],
                    uint i [[thread_position_in_grid]]) {
  out[i] = in[i] * T(SCALE) + T(sizeof(T));
}
template [[host_name("scale_f32_x2")]] kernel void scale_t<float, 2>(device const float*, device float*, uint);
template [[host_name("scale_f32_x3")]] kernel void scale_t<float, 3>(device const float*, device float*, uint);
template [[host_name("scale_i32_x5")]] kernel void scale_t<int, 5>(device const int*, device int*, uint);
template [[host_name("scale_f16_x2")]] [[kernel]] decltype(scale_t<half, 2>) scale_t<half, 2>;
`;

Deno.test("msl templates: several [[host_name]] instantiations of one template", async () => {
  const input = [1, 2, 3, 4];
  for (
    const [kernel, data, read, expected] of [
      ["scale_f32_x2", new Float32Array(input), Float32Array, input.map((v) => v * 2 + 4)],
      ["scale_f32_x3", new Float32Array(input), Float32Array, input.map((v) => v * 3 + 4)],
      ["scale_i32_x5", new Int32Array(input), Int32Array, input.map((v) => v * 5 + 4)],
    ] as const
  ) {
    const [, out] = await h.run({
      kernel,
      source: TEMPLATES,
      buffers: [data, 16],
      grid: [4],
      threads: [4],
    });
    assert.deepStrictEqual([...new read(out)], expected, kernel);
  }
  const [, out] = await h.run({
    kernel: "scale_f16_x2",
    source: TEMPLATES,
    buffers: [new Uint16Array(input.map(numberToHalfBits)), 8],
    grid: [4],
    threads: [4],
  });
  assert.deepStrictEqual(
    [...new Uint16Array(out)].map(halfBitsToNumber),
    input.map((v) => v * 2 + 2),
  );
});

const CONSTANTS = `
constant bool use_bias [[function_constant(0)]];
constant int offset_i [[function_constant(1)]];
constant uint block [[function_constant(2)]];
constant float scale_f [[function_constant(3)]];
constant half scale_h [[function_constant(4)]];
constant int optional_i [[function_constant(5)]];
constant bool has_optional = is_function_constant_defined(optional_i);
constant bool no_bias = !use_bias;
constant uint block2 = block * 2;
kernel void fc(device float* out [[buffer(0)]], device const float* bias [[buffer(1)]],
               uint tid [[thread_index_in_threadgroup]]) {
  threadgroup float tile[block2];
  tile[tid] = float(tid);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (tid == 0) {
    float s = 0.0f;
    for (uint k = 0; k < block2; ++k) s += tile[k];
    out[0] = s;
    out[1] = float(offset_i) * scale_f + float(scale_h);
    out[2] = use_bias ? bias[0] : -1.0f;
    out[3] = no_bias ? 1.0f : 0.0f;
    out[4] = has_optional ? float(optional_i) : -7.0f;
    out[5] = float(block2);
  }
}
`;

Deno.test("msl function constants: every type, derived constants, threadgroup array size", async () => {
  const run = async (constants: FunctionConstants, threads: number) =>
    new Float32Array(
      (await h.run({
        kernel: "fc",
        source: CONSTANTS,
        constants,
        buffers: [6 * 4, new Float32Array([42])],
        groups: [1],
        threads: [threads],
      }))[0],
    );
  const a = await run({
    0: true,
    1: -3,
    2: { type: "uint", value: 4 },
    3: { type: "float", value: 0.5 },
    4: { type: "half", value: 0.25 },
  }, 8);
  assert.deepStrictEqual([...a], [28, -1.25, 42, 0, -7, 8]);
  const b = await run({
    0: false,
    1: 4,
    2: { type: "uint", value: 2 },
    3: { type: "float", value: 2 },
    4: { type: "half", value: 1 },
    5: 9,
  }, 4);
  assert.deepStrictEqual([...b], [6, 9, -1, 1, 9, 4]);
});

Deno.test("msl function constants: a missing required constant or a wrong type is refused", async () => {
  await assert.rejects(
    () => h.pipeline(CONSTANTS, "fc", { 0: true }),
    (e: Error) => e instanceof FunctionConstantError && /offset_i|required/.test(e.message),
  );
  await assert.rejects(
    () =>
      h.pipeline(CONSTANTS, "fc", {
        0: 1,
        1: 1,
        2: { type: "uint", value: 1 },
        3: { type: "float", value: 1 },
        4: { type: "half", value: 1 },
      }),
    (e: Error) => e instanceof FunctionConstantError && /use_bias/.test(e.message),
  );
});

Deno.test("msl constant arguments: structs and scalars by reference; a short binding is refused", async () => {
  // The CPU backend copies `constant T&` arguments once per threadgroup (read-only for the
  // dispatch). A binding shorter than T is refused at dispatch, as Metal's validation layer does.
  const source = `
struct P { uint n; float scale; float bias[6]; };
struct Wide { uint first; uint rest[7]; };
kernel void constant_args(device float* out [[buffer(0)]],
                          constant P& p [[buffer(1)]],
                          constant float& s [[buffer(2)]],
                          constant Wide& w [[buffer(3)]],
                          uint i [[thread_position_in_grid]]) {
  if (i >= p.n) return;
  out[i] = float(i) * p.scale + p.bias[i % 6] + s + float(w.first);
}`;
  const params = new ArrayBuffer(32);
  new Uint32Array(params, 0, 1)[0] = 37;
  new Float32Array(params, 4, 7).set([0.5, 1, 2, 3, 4, 5, 6]);
  const launch = (wide: Uint32Array) =>
    h.run({
      kernel: "constant_args",
      source,
      buffers: [64 * 4, new Uint8Array(params), new Float32Array([100]), wide],
      grid: [64],
      threads: [16],
    });
  const [out] = await launch(new Uint32Array([7000, 0, 0, 0, 0, 0, 0, 0]));
  const got = new Float32Array(out);
  const bias = [1, 2, 3, 4, 5, 6];
  for (let i = 0; i < 64; ++i) {
    assert.strictEqual(got[i], i < 37 ? i * 0.5 + bias[i % 6] + 100 + 7000 : 0, `out[${i}]`);
  }
  await assert.rejects(
    () => launch(new Uint32Array([7000])),
    (e: Error) =>
      e instanceof InvalidArgumentError && e.message.includes("[[buffer(3)]] has 4 bytes") &&
      e.message.includes("needs 32"),
  );
});

Deno.test("msl function constants: a [[buffer(n), function_constant(c)]] binding exists only when c is true", async () => {
  // Metal leaves a gated argument out of the function when its constant is false: it need not
  // be bound then, and must be (with its length) when the constant is true.
  const source = `
constant bool has_bias [[function_constant(0)]];
template <typename T>
kernel void gated(device T* out [[buffer(0)]],
                  device const T* bias [[buffer(1), function_constant(has_bias)]],
                  uint i [[thread_position_in_grid]]) {
  out[i] = T(i) + (has_bias ? bias[i] : T(0));
}
template [[host_name("gated_f32")]] kernel void gated<float>(device float*, device const float*, uint);
`;
  const run = async (constants: FunctionConstants, buffers: (ArrayBufferView | number)[]) =>
    new Float32Array(
      (await h.run({ kernel: "gated_f32", source, constants, buffers, grid: [4], threads: [4] }))[
        0
      ],
    );
  assert.deepStrictEqual([...await run({ 0: false }, [16])], [0, 1, 2, 3]);
  assert.deepStrictEqual(
    [...await run({ 0: true }, [16, new Float32Array([10, 20, 30, 40])])],
    [10, 21, 32, 43],
  );
  await assert.rejects(
    () => run({ 0: true }, [16]),
    (e: Error) =>
      e instanceof InvalidArgumentError && /buffer\(1\)\]\] is not bound/.test(e.message),
  );
});
