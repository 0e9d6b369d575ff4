// Copyright 2026 the @metal-compute/kernels authors. MIT license.
import assert from "node:assert";
import { testContext } from "../_helpers.ts";
import { ROPE_HEADS_PER_THREAD } from "../../ops/_defines.ts";
import {
  ropeMulti,
  type RopeMultiDType,
  type RopeMultiMode,
  type RopeMultiOptions,
  ropeMultiSync,
} from "../../ops/rope_multi.ts";
import { ropeMultiRef } from "../../ops/rope_multi_ref.ts";
import { ropeRef } from "../../ops/rope_ref.ts";
import {
  assertClose,
  assertRejectsBeforeNative,
  download,
  rng,
  run,
  type Tolerance,
  TOLERANCES,
  uniform,
  upload,
} from "./_helpers.ts";

const { device, registry } = testContext();

/**
 * As for rope.metal (tests/ops/rope_test.ts): the dtype's rtol for the one rounding of each
 * output, plus atol 4e-6 for the reduced angle (~1e-6 rad at any position below 2^24) and
 * the f32 cos/sin, products and sum, on pairs of norm ≤ √2.
 */
function tolerance(dtype: RopeMultiDType): Tolerance {
  return { rtol: TOLERANCES[dtype].rtol, atol: 4e-6 };
}

type Shape = Pick<
  RopeMultiOptions,
  "seqLen" | "nHeads" | "headDim" | "base" | "ropeDim" | "partialRotary" | "sections"
>;

/** Axis-major positions: time up to `far`, the spatial axes small, the extra axis 0. */
function multiPositions(seqLen: number, seed: number, far: number): Uint32Array {
  const next = rng(seed);
  const positions = new Uint32Array(4 * seqLen);
  for (let t = 0; t < seqLen; t++) {
    positions[t] = Math.floor(next() * far);
    positions[seqLen + t] = Math.floor(next() * 64);
    positions[2 * seqLen + t] = Math.floor(next() * 64);
  }
  return positions;
}

async function checkRopeMulti(
  dtype: RopeMultiDType,
  mode: RopeMultiMode,
  shape: Shape,
  seed: number,
  { sync = false, inPlace = false, positions = multiPositions(shape.seqLen, seed, 1 << 20) } = {},
): Promise<Float64Array> {
  const nHeads = shape.nHeads ?? 1;
  const count = shape.seqLen * nHeads * shape.headDim;
  const input = upload(device, dtype, uniform(count, -1, 1, seed));
  using inputBuffer = input.buffer;
  using output = inPlace ? undefined : device.newBuffer(input.buffer.byteLength);
  using positionBuffer = device.newBuffer(positions);
  const options: RopeMultiOptions = {
    registry,
    input: inputBuffer,
    output: output ?? inputBuffer,
    positions: positionBuffer,
    dtype,
    mode,
    ...shape,
  };
  await run(
    device,
    (encoder) => sync ? ropeMultiSync(encoder, options) : ropeMulti(encoder, options),
  );
  const got = download(options.output, dtype, count);
  const expected = ropeMultiRef(input.values, { ...shape, positions, mode });
  assertClose(
    got,
    expected,
    tolerance(dtype),
    `rope_multi_${dtype} ${mode} [${shape.seqLen}, ${nHeads}, ${shape.headDim}] ropeDim ${
      shape.ropeDim ?? shape.headDim
    } sections ${shape.sections}${sync ? " sync" : ""}${inPlace ? " in place" : ""}`,
  );
  return got;
}

// Qwen3.5 full-attention heads (256 wide, 64 rotated, truncated as in Hugging Face), Qwen2-VL
// heads (128, sections [16, 24, 24, 0] covering all 64 pairs), and an odd small case whose
// sections do not add up to the pairs (the sector pattern repeats).
const SHAPES: readonly Shape[] = [
  {
    seqLen: 5,
    nHeads: 3,
    headDim: 256,
    ropeDim: 64,
    partialRotary: "truncated",
    sections: [11, 11, 10, 0],
    base: 1e7,
  },
  { seqLen: 3, nHeads: 2, headDim: 128, sections: [16, 24, 24, 0], base: 1e6 },
  { seqLen: 7, nHeads: 5, headDim: 12, sections: [1, 2, 1, 1], base: 1e4 },
];

for (const dtype of ["f32", "bf16"] as const) {
  Deno.test(`rope_multi_${dtype}: ropeMulti() matches the f64 reference in both modes, with distinct positions per axis`, async () => {
    let seed = dtype === "f32" ? 1 : 51;
    for (const mode of ["mrope", "imrope"] as const) {
      for (const shape of SHAPES) await checkRopeMulti(dtype, mode, shape, seed += 7);
    }
  });
}

Deno.test("ropeMulti() imrope with one position on every axis equals plain NeoX RoPE (Qwen3.5 text)", async () => {
  const shape: Shape = {
    seqLen: 4,
    nHeads: 2,
    headDim: 256,
    ropeDim: 64,
    partialRotary: "truncated",
    sections: [11, 11, 10, 0],
    base: 1e7,
  };
  const text = [3, 100, 4097, 65535];
  const positions = new Uint32Array([...text, ...text, ...text, ...text]);
  const got = await checkRopeMulti("f32", "imrope", shape, 3, { positions });
  const count = 4 * 2 * 256;
  const input = upload(device, "f32", uniform(count, -1, 1, 3));
  input.buffer[Symbol.dispose]();
  const plain = ropeRef(input.values, { ...shape, positions: text, mode: "neox" });
  assertClose(got, plain, tolerance("f32"), "rope_multi_f32 imrope vs plain NeoX");
});

Deno.test("ropeMulti() rotates in place, and ropeMultiSync() matches the reference", async () => {
  await checkRopeMulti("f32", "imrope", SHAPES[2], 9, { inPlace: true });
  await checkRopeMulti("bf16", "mrope", SHAPES[1], 10, { sync: true });
});

Deno.test("ROPE_HEADS_PER_THREAD matches rope_multi.metal", () => {
  const text = Deno.readTextFileSync(new URL("../../shaders/rope_multi.metal", import.meta.url));
  const match = text.match(/constant constexpr uint ROPE_MULTI_HEADS_PER_THREAD = (\d+);/);
  assert.strictEqual(Number(match?.[1]), ROPE_HEADS_PER_THREAD);
});

Deno.test("ropeMulti() rejects an unknown mode, bad sections and short positions before any native call", async () => {
  using buffer = device.newBuffer(4096);
  using small = device.newBuffer(16);
  const base = (r: RopeMultiOptions["registry"]): RopeMultiOptions => ({
    registry: r,
    input: buffer,
    output: buffer,
    positions: buffer,
    dtype: "f32",
    mode: "imrope",
    sections: [11, 11, 10, 0],
    seqLen: 2,
    nHeads: 2,
    headDim: 64,
    base: 1e7,
  });
  const reject = assertRejectsBeforeNative(ropeMulti, ropeMultiSync);
  await reject(
    device,
    (r) => ({ ...base(r), mode: "vision" as RopeMultiMode }),
    TypeError,
    /^Cannot encode rope_multi_f32: "mode" is "vision", expected "mrope" or "imrope"$/,
  );
  await reject(
    device,
    (r) => ({ ...base(r), sections: [0, 0, 0, 0] }),
    RangeError,
    /^Cannot encode rope_multi_f32: "sections" is \[0,0,0,0\], expected at least one non-zero section$/,
  );
  await reject(
    device,
    (r) => ({ ...base(r), sections: [11, -1, 10, 0] }),
    RangeError,
    /^Cannot encode rope_multi_f32: "sections" is \[11,-1,10,0\], expected 4 integers from 0 to 65535$/,
  );
  await reject(
    device,
    (r) => ({ ...base(r), sections: [11, 11, 10] as unknown as RopeMultiOptions["sections"] }),
    TypeError,
    /^Cannot encode rope_multi_f32: "sections" is not an array of 4 numbers/,
  );
  await reject(
    device,
    (r) => ({ ...base(r), positions: small }),
    RangeError,
    /^Cannot encode rope_multi_f32: "positions" holds 16 bytes, expected at least 32 \(axes 4 × seqLen 2 × 4 bytes\)$/,
  );
  await reject(
    device,
    (r) => ({ ...base(r), ropeDim: 32 }),
    TypeError,
    /^Cannot encode rope_multi_f32: "partialRotary" is undefined, expected "truncated" or "proportional"/,
  );
});
