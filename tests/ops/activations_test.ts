// Copyright 2026 the @metal-compute/kernels authors. MIT license.
import assert from "node:assert";
import { testContext } from "../_helpers.ts";
import type { Device } from "../../device.ts";
import type { FloatDType } from "../../dtype.ts";
import {
  gelu,
  type GeluDType,
  geluSync,
  sigmoidMul,
  type SigmoidMulDType,
  sigmoidMulSync,
  siluMul,
  siluMulSync,
  softcap,
  type SoftcapDType,
  softcapSync,
} from "../../ops/activations.ts";
import { geluRef, sigmoidMulRef, siluMulRef, softcapRef } from "../../ops/activations_ref.ts";
import { ACTIVATION_N_READS } from "../../ops/_defines.ts";
import {
  assertClose,
  assertRejectsBeforeNative,
  checkOp,
  download,
  run,
  spies,
  TOLERANCES,
  uniform,
  upload,
} from "./_helpers.ts";

const { device, registry } = testContext();

/**
 * Element counts: edge sizes (one element, around one 4-vector and one SIMD-group of
 * 4-vectors, not multiples of 4 or 32) and realistic ones (a 4096 hidden state, Llama-3 8B's
 * 14336 MLP width, a 300-token prefill of a 2048-wide layer).
 */
const LENGTHS = [1, 3, 4, 5, 31, 33, 127, 129, 4096, 14336, 300 * 2048];

const FLOAT_DTYPES: readonly FloatDType[] = ["f32", "f16", "bf16"];

for (const dtype of FLOAT_DTYPES) {
  Deno.test(`gelu_${dtype}: gelu() matches the f64 reference on edge and realistic lengths`, async () => {
    let seed = 1;
    for (const n of LENGTHS) {
      await checkOp(device, {
        label: `gelu_${dtype} ${n}`,
        inputs: { input: { dtype, values: uniform(n, -8, 8, seed++) } },
        outputs: { output: { dtype, length: n } },
        encode: (e, { input, output }) => {
          const options = { registry, input, output, dtype: dtype as GeluDType, length: n };
          return n % 2 ? geluSync(e, options) : gelu(e, options);
        },
        reference: ({ input }) => ({ output: geluRef(input) }),
        tolerance: TOLERANCES[dtype],
      });
    }
  });
}

Deno.test("gelu_f32: gelu() keeps relative accuracy for negative inputs, runs in place, and passes NaN", async () => {
  const x = [-12, -9, -6, -4, -2, -1e-3, -1e-20, 0, 1e-20, 1e-3, 2, 4, 100, 1e20, NaN];
  const { output: got } = await checkOp(device, {
    label: "gelu tails",
    inputs: { input: { dtype: "f32", values: x } },
    outputs: { output: { dtype: "f32", length: x.length, inPlace: "input" } },
    encode: (e, { input, output }) =>
      gelu(e, { registry, input, output, dtype: "f32", length: x.length }),
    reference: ({ input }) => ({ output: geluRef(input) }),
    tolerance: TOLERANCES.f32,
  });
  assert.ok(
    got[1] < 0 && got[6] < 0,
    `tiny negative results keep their sign: ${got[1]}, ${got[6]}`,
  );
});

for (const dtype of FLOAT_DTYPES) {
  Deno.test(`softcap_${dtype}: softcap() matches the f64 reference for caps 30 and 50`, async () => {
    let seed = 100;
    for (const n of LENGTHS) {
      const cap = n % 2 ? 30 : 50;
      await checkOp(device, {
        label: `softcap_${dtype} ${n}`,
        inputs: { input: { dtype, values: uniform(n, -200, 200, seed++) } },
        outputs: { output: { dtype, length: n } },
        encode: (e, { input, output }) => {
          const options = { registry, input, output, dtype: dtype as SoftcapDType, cap, length: n };
          return n % 3 ? softcap(e, options) : softcapSync(e, options);
        },
        reference: ({ input }) => ({ output: softcapRef(input, cap) }),
        tolerance: TOLERANCES[dtype],
      });
    }
  });
}

Deno.test("softcap_f32: softcap() maps ±Infinity to ±cap, keeps tiny values and NaN, in place", async () => {
  const x = [Infinity, -Infinity, 1e30, -1e30, 1e-30, -1e-30, 0, 29.99, NaN];
  const { output: got } = await checkOp(device, {
    label: "softcap specials",
    inputs: { input: { dtype: "f32", values: x } },
    outputs: { output: { dtype: "f32", length: x.length, inPlace: "input" } },
    encode: (e, { input, output }) =>
      softcap(e, { registry, input, output, dtype: "f32", cap: 30, length: x.length }),
    reference: ({ input }) => ({ output: softcapRef(input, 30) }),
    tolerance: TOLERANCES.f32,
  });
  assert.deepStrictEqual([...got.subarray(0, 2)], [30, -30]);
});

for (const dtype of ["f32", "bf16"] as const) {
  Deno.test(`sigmoid_mul_${dtype}: sigmoidMul() matches the f64 reference on edge and realistic lengths`, async () => {
    let seed = 200;
    for (const n of LENGTHS) {
      const xValues = uniform(n, -4, 4, seed++);
      await checkOp(device, {
        label: `sigmoid_mul_${dtype} ${n}`,
        inputs: {
          x: { dtype, values: xValues },
          gate: { dtype, values: uniform(n, -12, 12, seed++) },
        },
        outputs: { output: { dtype, length: n } },
        encode: (e, { x, gate, output }) => {
          const options = { registry, x, gate, output, dtype: dtype as SigmoidMulDType, length: n };
          return n % 2 ? sigmoidMul(e, options) : sigmoidMulSync(e, options);
        },
        reference: ({ x, gate }) => ({ output: sigmoidMulRef(x, gate) }),
        tolerance: TOLERANCES[dtype],
      });
    }
  });
}

Deno.test("silu_mul_f32: siluMul() matches the f64 reference on edge and realistic lengths", async () => {
  let seed = 300;
  for (const n of LENGTHS) {
    await checkOp(device, {
      label: `silu_mul ${n}`,
      inputs: {
        gate: { dtype: "f32", values: uniform(n, -12, 12, seed++) },
        up: { dtype: "f32", values: uniform(n, -4, 4, seed++) },
      },
      outputs: { output: { dtype: "f32", length: n } },
      encode: (e, { gate, up, output }) => {
        const options = { registry, gate, up, output, length: n };
        return n % 2 ? siluMul(e, options) : siluMulSync(e, options);
      },
      reference: ({ gate, up }) => ({ output: siluMulRef(gate, up) }),
      tolerance: TOLERANCES.f32,
    });
  }
});

Deno.test("silu_mul_f32, sigmoid_mul_f32: run in place and give exact 0 for gates of -Infinity", async () => {
  const g = upload(device, "f32", [-Infinity, -200, 0, 3, 200, -1e-30]);
  const u = upload(device, "f32", [5, 5, 5, 5, 5, 5]);
  using gate = g.buffer;
  using up = u.buffer;
  await run(device, (e) => siluMul(e, { registry, gate, up, output: up, length: 6 }));
  const silu = download(up, "f32", 6);
  assertClose(silu, siluMulRef(g.values, u.values), TOLERANCES.f32, "silu specials");
  using x = upload(device, "f32", [4, 4, 4, 4, 4, 4]).buffer;
  await run(
    device,
    (e) => sigmoidMul(e, { registry, x, gate, output: gate, dtype: "f32", length: 6 }),
  );
  const gated = download(gate, "f32", 6);
  assertClose(
    gated,
    sigmoidMulRef([4, 4, 4, 4, 4, 4], g.values),
    TOLERANCES.f32,
    "sigmoid specials",
  );
  assert.strictEqual(gated[0], 0);
});

Deno.test("ACTIVATION_N_READS matches gelu.metal, softcap.metal, sigmoid_mul.metal and silu_mul.metal", () => {
  for (const file of ["gelu", "softcap", "sigmoid_mul", "silu_mul"]) {
    const text = Deno.readTextFileSync(new URL(`../../shaders/${file}.metal`, import.meta.url));
    const match = text.match(/constant constexpr uint ACTIVATION_N_READS = (\d+);/);
    assert.ok(match, `${file}.metal declares ACTIVATION_N_READS`);
    assert.strictEqual(Number(match[1]), ACTIVATION_N_READS, file);
  }
});

Deno.test("gelu() rejects a too small output before any native call", async () => {
  using input = device.newBuffer(64);
  using output = device.newBuffer(62);
  await assertRejectsBeforeNative(gelu, geluSync)(
    device,
    (registry) => ({ registry, input, output, dtype: "f16", length: 32 }),
    RangeError,
    /^Cannot encode gelu_f16: "output" holds 62 bytes, expected at least 64 \(length 32 × 2 bytes\)$/,
  );
});

Deno.test("softcap() rejects a zero, negative or non-finite cap before any native call", async () => {
  using buffer = device.newBuffer(64);
  for (const cap of [0, -30, Infinity, NaN, 1e-50]) {
    await assertRejectsBeforeNative(softcap, softcapSync)(
      device,
      (registry) => ({ registry, input: buffer, output: buffer, dtype: "f32", cap, length: 16 }),
      RangeError,
      /^Cannot encode softcap_f32: "cap" is .*, expected a finite number greater than 0$/,
    );
  }
});

Deno.test("sigmoidMul() rejects a too small gate and an unsupported dtype before any native call", async () => {
  using big = device.newBuffer(4096);
  using small = device.newBuffer(100);
  await assertRejectsBeforeNative(sigmoidMul, sigmoidMulSync)(
    device,
    (registry) => ({ registry, x: big, gate: small, output: big, dtype: "f32", length: 1000 }),
    RangeError,
    /^Cannot encode sigmoid_mul_f32: "gate" holds 100 bytes, expected at least 4000/,
  );
  await assertRejectsBeforeNative(sigmoidMul, sigmoidMulSync)(
    device,
    (registry) => ({
      registry,
      x: big,
      gate: big,
      output: big,
      dtype: "f16" as SigmoidMulDType,
      length: 10,
    }),
    TypeError,
    /^Cannot encode sigmoidMul: "dtype" is "f16", expected one of "f32", "bf16"$/,
  );
});

Deno.test("siluMul() rejects a zero length and a too small up before any native call", async () => {
  using big = device.newBuffer(4096);
  using small = device.newBuffer(16);
  await assertRejectsBeforeNative(siluMul, siluMulSync)(
    device,
    (registry) => ({ registry, gate: big, up: big, output: big, length: 0 }),
    RangeError,
    /^Cannot encode silu_mul_f32: "length" is 0, expected a positive integer/,
  );
  await assertRejectsBeforeNative(siluMul, siluMulSync)(
    device,
    (registry) => ({ registry, gate: big, up: small, output: big, length: 5 }),
    RangeError,
    /"up" holds 16 bytes, expected at least 20/,
  );
});

Deno.test("gelu() refuses bf16 on a device without bfloat16, before compiling", async () => {
  using buffer = device.newBuffer(64);
  const oldGpu = { name: "Old GPU", capabilities: { bfloat16: false } } as unknown as Device;
  await assertRejectsBeforeNative(gelu, geluSync)(
    oldGpu,
    (registry) => ({ registry, input: buffer, output: buffer, dtype: "bf16", length: 16 }),
    TypeError,
    /^Cannot encode gelu_bf16: device "Old GPU" has no bfloat16 support/,
  );
  const { encoder, registry: spyRegistry, calls } = spies(oldGpu);
  await assert.rejects(
    gelu(encoder, {
      registry: spyRegistry,
      input: buffer,
      output: buffer,
      dtype: "f16",
      length: 16,
    }),
    /spy registry/,
  );
  assert.deepStrictEqual(calls, ["getPipeline(gelu_f16)"]);
});
