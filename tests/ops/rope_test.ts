// Copyright 2026 the @metal-compute/kernels authors. MIT license.
import assert from "node:assert";
import { testContext } from "../_helpers.ts";
import type { KernelRegistry } from "../../registry.ts";
import type { Device } from "../../device.ts";
import { ROPE_HEADS_PER_THREAD } from "../../ops/_defines.ts";
import {
  rope,
  ROPE_KERNELS,
  type RopeDType,
  type RopeMode,
  type RopeOptions,
  ropeSync,
} from "../../ops/rope.ts";
import { ropeRef, type RopeRefOptions } from "../../ops/rope_ref.ts";
import {
  assertClose,
  assertRejectsBeforeNative,
  download,
  rng,
  run,
  spies,
  type Tolerance,
  TOLERANCES,
  uniform,
  upload,
} from "./_helpers.ts";

const { device, registry } = testContext();

/**
 * Tolerance for inputs in [-1, 1): the storage dtype's rtol (one rounding of each output)
 * plus an absolute term for what f32 cannot avoid, proportional to the pair's norm (≤ √2):
 * the reduced angle is accurate to ~1e-6 rad at any position below 2^24 (a few 2^-24
 * turns, see rope.metal "Angles"), cos/sin and the two products and sum add ~3 f32 ulps.
 * So |error| ≤ √2 · (1e-6 + 4e-7) < 2.5e-6 (measured: ≤ 8.2e-7 over random positions
 * below 2^24); 4e-6 leaves margin. Outputs that nearly cancel
 * need this absolute term. (A kernel computing pos·ω in plain f32 misses it by ~500× at
 * position 8191: error ~1e-3 rad; see the "far positions" test.)
 */
function tolerance(dtype: RopeDType): Tolerance {
  return { rtol: TOLERANCES[dtype].rtol, atol: 4e-6 };
}

const CASES: readonly (readonly [RopeMode, RopeDType])[] = [
  ["normal", "f32"],
  ["normal", "f16"],
  ["normal", "bf16"],
  ["neox", "f32"],
  ["neox", "bf16"],
];

type Shape = Pick<
  RopeOptions,
  | "seqLen"
  | "nHeads"
  | "headDim"
  | "base"
  | "ropeDim"
  | "partialRotary"
  | "freqScale"
  | "freqFactors"
>;

async function checkRope(
  mode: RopeMode,
  dtype: RopeDType,
  shape: Shape,
  positionList: ArrayLike<number>,
  seed: number,
  sync = false,
): Promise<void> {
  const n = shape.seqLen * (shape.nHeads ?? 1) * shape.headDim;
  const { buffer, values } = upload(device, dtype, uniform(n, -1, 1, seed));
  using input = buffer;
  using output = device.newBuffer(n * (dtype === "f32" ? 4 : 2));
  using positions = device.newBuffer(Uint32Array.from(positionList));
  const options: RopeOptions = { registry, input, output, positions, dtype, mode, ...shape };
  await run(device, (encoder) => sync ? ropeSync(encoder, options) : rope(encoder, options));
  const refOptions: RopeRefOptions = { ...shape, mode, positions: positionList };
  assertClose(
    download(output, dtype, n),
    ropeRef(values, refOptions),
    tolerance(dtype),
    `${ROPE_KERNELS[mode][dtype as "f32"]} ${JSON.stringify({ ...shape, freqFactors: undefined })}`,
  );
}

function range(start: number, length: number): number[] {
  return Array.from({ length }, (_, i) => start + i);
}

for (const [mode, dtype] of CASES) {
  const kernel = ROPE_KERNELS[mode][dtype as "f32"];
  Deno.test(`${kernel}: rope() matches the f64 reference on realistic shapes`, async () => {
    // Decode (one token far from 0) and prefill (several hundred tokens), head dims 64/128/256.
    await checkRope(mode, dtype, { seqLen: 1, nHeads: 32, headDim: 128, base: 1e6 }, [8191], 1);
    await checkRope(mode, dtype, { seqLen: 1, nHeads: 8, headDim: 256, base: 1e4 }, [4000], 2);
    await checkRope(
      mode,
      dtype,
      { seqLen: 300, nHeads: 32, headDim: 64, base: 1e4 },
      range(0, 300),
      3,
    );
    await checkRope(
      mode,
      dtype,
      { seqLen: 257, nHeads: 8, headDim: 128, base: 5e5 },
      range(7935, 257),
      4,
    );
  });

  Deno.test(`${kernel}: rope() matches the f64 reference on edge shapes`, async () => {
    // One pair; head counts around ROPE_HEADS_PER_THREAD; 40 pairs (head dim 80).
    await checkRope(mode, dtype, { seqLen: 1, nHeads: 1, headDim: 2, base: 1e4 }, [3], 5);
    await checkRope(mode, dtype, { seqLen: 3, nHeads: 5, headDim: 80, base: 1e4 }, [0, 17, 33], 6);
    await checkRope(
      mode,
      dtype,
      { seqLen: 31, nHeads: ROPE_HEADS_PER_THREAD + 3, headDim: 96, base: 1e4 },
      range(100, 31).reverse(),
      7,
    );
  });
}

Deno.test("rope_f32, rope_neox_f32: rope() stays accurate at positions up to 2^24 - 1", async () => {
  const next = rng(42);
  const positions = Array.from({ length: 33 }, () => Math.floor(next() * 2 ** 24));
  positions.push(2 ** 24 - 1, 8191, 65535, 1 << 20);
  for (const mode of ["normal", "neox"] as const) {
    await checkRope(
      mode,
      "f32",
      { seqLen: positions.length, nHeads: 4, headDim: 128, base: 1e4 },
      positions,
      8,
    );
  }
});

Deno.test("rope_neox_f32, rope_neox_bf16, rope_f32: rope() partial rotary, truncated and proportional", async () => {
  for (const partialRotary of ["truncated", "proportional"] as const) {
    for (const [mode, dtype] of [["neox", "f32"], ["neox", "bf16"], ["normal", "f32"]] as const) {
      // Phi-style 25% of 256 and a Gemma 4-style global head of 512 with 128 rotated.
      await checkRope(
        mode,
        dtype,
        { seqLen: 5, nHeads: 8, headDim: 256, ropeDim: 64, partialRotary, base: 1e4 },
        range(8187, 5),
        9,
      );
      await checkRope(
        mode,
        dtype,
        { seqLen: 2, nHeads: 4, headDim: 512, ropeDim: 128, partialRotary, base: 1e6 },
        [0, 1234],
        10,
      );
    }
  }
});

Deno.test("rope_neox_f32, rope_f16: rope() applies freqScale and freqFactors", async () => {
  // Llama 3-style factors: high frequencies 1, low ones 8, a ramp between; one Infinity.
  const factors = Array.from(
    { length: 64 },
    (_, p) => p < 20 ? 1 : p < 40 ? 1 + (p - 20) * 0.35 : 8,
  );
  factors[63] = Infinity;
  for (const [mode, dtype] of [["neox", "f32"], ["normal", "f16"]] as const) {
    await checkRope(
      mode,
      dtype,
      { seqLen: 9, nHeads: 8, headDim: 128, base: 5e5, freqScale: 0.25, freqFactors: factors },
      range(8183, 9),
      11,
    );
  }
});

Deno.test("rope() runs in place and ropeSync() matches the reference", async () => {
  const shape = { seqLen: 7, nHeads: 6, headDim: 64, base: 1e4 };
  const n = 7 * 6 * 64;
  const { buffer, values } = upload(device, "bf16", uniform(n, -1, 1, 12));
  using data = buffer;
  using positions = device.newBuffer(Uint32Array.from(range(50, 7)));
  await run(device, (encoder) =>
    rope(encoder, {
      registry,
      input: data,
      output: data,
      positions,
      dtype: "bf16",
      mode: "neox",
      ...shape,
    }));
  assertClose(
    download(data, "bf16", n),
    ropeRef(values, { ...shape, positions: range(50, 7), mode: "neox" }),
    tolerance("bf16"),
    "in place",
  );
  await checkRope("normal", "f32", shape, range(9000, 7), 13, true);
});

Deno.test("rope() rejects a too small buffer before any native call", async () => {
  using input = device.newBuffer(2 * 4 * 64 * 2 - 2);
  using output = device.newBuffer(2 * 4 * 64 * 2);
  using positions = device.newBuffer(8);
  const base = {
    dtype: "f16",
    mode: "normal",
    seqLen: 2,
    nHeads: 4,
    headDim: 64,
    base: 1e4,
  } as const;
  await assertRejectsBeforeNative(rope, ropeSync)(
    device,
    (registry) => ({ registry, input, output, positions, ...base }),
    RangeError,
    /^Cannot encode rope_f16: "input" holds 1022 bytes, expected at least 1024 \(seqLen 2 × nHeads 4 × headDim 64 × 2 bytes\)$/,
  );
  await assertRejectsBeforeNative(rope, ropeSync)(
    device,
    (registry) => ({ registry, input: output, output, positions, ...base, seqLen: 3, nHeads: 2 }),
    RangeError,
    /^Cannot encode rope_f16: "positions" holds 8 bytes, expected at least 12 \(seqLen 3 × 4 bytes\)$/,
  );
});

Deno.test("rope() rejects bad modes, dtypes and frequency options before any native call", async () => {
  using buffer = device.newBuffer(4096);
  const base = {
    input: buffer,
    output: buffer,
    positions: buffer,
    seqLen: 1,
    headDim: 64,
    base: 1e4,
  };
  const check = assertRejectsBeforeNative(rope, ropeSync);
  await check(
    device,
    (registry) => ({ registry, ...base, dtype: "f16", mode: "neox" }),
    TypeError,
    /^Cannot encode rope \(mode "neox"\): "dtype" is "f16", expected one of "f32", "bf16"$/,
  );
  await check(
    device,
    (registry) => ({ registry, ...base, dtype: "f32", mode: "gptj" as RopeMode }),
    TypeError,
    /^Cannot encode rope: "mode" is "gptj", expected one of "normal", "neox"$/,
  );
  await check(
    device,
    (registry) => ({ registry, ...base, dtype: "f32", mode: "neox", ropeDim: 32 }),
    TypeError,
    /"partialRotary" is undefined, expected "truncated" or "proportional" when ropeDim 32 < headDim 64/,
  );
  for (
    const [extra, message] of [
      [{ headDim: 63 }, /"headDim" is 63, expected an even number/],
      [
        { ropeDim: 66, partialRotary: "truncated" },
        /"ropeDim" is 66, expected an even number up to headDim 64/,
      ],
      [{ base: 0 }, /"base" is 0, expected a positive number/],
      [{ freqScale: -1 }, /"freqScale" is -1, expected a positive number/],
      [{ freqFactors: [1, 2] }, /"freqFactors" holds 2 values, expected 32 \(ropeDim \/ 2\)/],
      [
        { freqFactors: new Array(32).fill(0) },
        /"freqFactors\[0\]" is 0, expected a positive number/,
      ],
    ] as const
  ) {
    await check(
      device,
      (registry) => ({ registry, ...base, dtype: "f32", mode: "neox", ...extra }),
      RangeError,
      message,
    );
  }
});

Deno.test("rope() refuses bf16 on a device without bfloat16, before compiling", async () => {
  using buffer = device.newBuffer(4096);
  const oldGpu = { name: "Old GPU", capabilities: { bfloat16: false } } as unknown as Device;
  const options = (registry: KernelRegistry): RopeOptions => ({
    registry,
    input: buffer,
    output: buffer,
    positions: buffer,
    dtype: "bf16",
    mode: "neox",
    seqLen: 1,
    headDim: 64,
    base: 1e4,
  });
  await assertRejectsBeforeNative(rope, ropeSync)(
    oldGpu,
    options,
    TypeError,
    /^Cannot encode rope_neox_bf16: device "Old GPU" has no bfloat16 support/,
  );
  const { encoder, registry: spyRegistry, calls } = spies(oldGpu);
  await assert.rejects(rope(encoder, { ...options(spyRegistry), dtype: "f32" }), /spy registry/);
  assert.deepStrictEqual(calls, ["getPipeline(rope_neox_f32)"]);
});

Deno.test("ROPE_HEADS_PER_THREAD matches rope.metal", () => {
  const text = Deno.readTextFileSync(new URL("../../shaders/rope.metal", import.meta.url));
  const match = text.match(/constant constexpr uint ROPE_HEADS_PER_THREAD = (\d+);/);
  assert.strictEqual(Number(match?.[1]), ROPE_HEADS_PER_THREAD);
});
