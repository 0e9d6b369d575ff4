// Copyright 2026 the @metal-compute/kernels authors. MIT license.
import assert from "node:assert";
import { testContext } from "../_helpers.ts";
import {
  ssmConv,
  type SsmConvDType,
  ssmConvForward,
  ssmConvForwardSync,
  type SsmConvOptions,
  ssmConvStateUpdate,
  ssmConvStateUpdateSync,
  ssmConvSync,
} from "../../ops/ssm_conv.ts";
import { ssmConvRef } from "../../ops/ssm_conv_ref.ts";
import {
  assertClose,
  assertRejectsBeforeNative,
  checkOp,
  download,
  EXACT,
  run,
  type Tolerance,
  TOLERANCES,
  uniform,
  upload,
} from "./_helpers.ts";

const { device, registry } = testContext();

/**
 * Tolerances of y. Each output is a sum of `width` products of O(1) values (f32 fma, error
 * ≲ width · 2⁻²⁴ of the terms' size ≈ 3e-7), SiLU with precise exp, one rounding on store.
 * rtol is the dtype's (1e-5 f32, 8e-3 bf16); atol 1e-6 covers sums that cancel to almost 0,
 * where the f32 error of the terms is large relative to the result. The new state is a copy:
 * exact.
 */
function yTolerance(dtype: SsmConvDType): Tolerance {
  return { rtol: TOLERANCES[dtype].rtol, atol: 1e-6 };
}

interface Shape {
  channels: number;
  tokens: number;
  seqs: number;
  width: number;
}

/** One call of ssmConv on seeded inputs, checked against the reference. */
function checkConv(dtype: SsmConvDType, shape: Shape, seed: number, sync = false) {
  const { channels, tokens, seqs, width } = shape;
  const n = seqs * tokens * channels;
  const stateLength = seqs * channels * (width - 1);
  return checkOp<"x" | "w" | "state", "y" | "newState">(device, {
    label:
      `ssm_conv_${dtype} [seqs ${seqs}, tokens ${tokens}, channels ${channels}, width ${width}]${
        sync ? " sync" : ""
      }`,
    inputs: {
      x: { dtype, values: uniform(n, -2, 2, seed) },
      w: { dtype, values: uniform(channels * width, -1, 1, seed + 1) },
      state: { dtype, values: uniform(stateLength, -2, 2, seed + 2) },
    },
    outputs: {
      y: { dtype, length: n },
      newState: { dtype, length: stateLength },
    },
    encode: (encoder, { x, w, state, y, newState }) => {
      const options = { registry, x, w, state, y, newState, dtype, ...shape };
      return sync ? ssmConvSync(encoder, options) : ssmConv(encoder, options);
    },
    reference: (inputs) => ssmConvRef({ ...inputs, channels, width, seqs }),
    tolerance: { y: yTolerance(dtype), newState: EXACT },
  });
}

// [channels, tokens, seqs, width]: the smallest case; tokens < width − 1 (the new state reaches
// back into the old one); odd channels over 2 sequences; Qwen3-Next's 8192 conv channels
// (q, k: 16 heads × 128; v: 32 × 128) for one decode token; a prefill of 9 tokens, width 4.
const SHAPES: readonly Shape[] = [
  { channels: 1, tokens: 1, seqs: 1, width: 2 },
  { channels: 37, tokens: 2, seqs: 2, width: 4 },
  { channels: 33, tokens: 5, seqs: 3, width: 3 },
  { channels: 8192, tokens: 1, seqs: 1, width: 4 },
  { channels: 96, tokens: 9, seqs: 1, width: 4 },
];

for (const dtype of ["f32", "bf16"] as const) {
  Deno.test(`ssm_conv_forward_${dtype}, ssm_conv_state_update_${dtype}: ssmConv() matches the f64 reference on edge and realistic shapes`, async () => {
    let seed = dtype === "f32" ? 1 : 101;
    for (const shape of SHAPES) await checkConv(dtype, shape, seed += 10);
  });

  Deno.test(`ssmConv() ${dtype}: calls of 3, 1, 1, 2 and 6 tokens with the rolling state equal one call over all 13`, async () => {
    const channels = 19;
    const seqs = 2;
    const width = 4;
    const chunks = [3, 1, 1, 2, 6];
    const total = chunks.reduce((a, b) => a + b);
    const xAll = uniform(seqs * total * channels, -2, 2, 7);
    const w = upload(device, dtype, uniform(channels * width, -1, 1, 8));
    const zeros = new Float64Array(seqs * channels * (width - 1));
    using wBuffer = w.buffer;
    let state = upload(device, dtype, zeros);
    const got = new Float64Array(xAll.length);
    const xUsed = new Float64Array(xAll.length);
    let start = 0;
    for (const tokens of chunks) {
      // This call's slice [seqs, tokens, channels] of the whole [seqs, total, channels].
      const slice = new Float64Array(seqs * tokens * channels);
      for (let s = 0; s < seqs; s++) {
        const from = (s * total + start) * channels;
        slice.set(xAll.subarray(from, from + tokens * channels), s * tokens * channels);
      }
      const x = upload(device, dtype, slice);
      using xBuffer = x.buffer;
      using y = device.newBuffer(slice.length * (dtype === "f32" ? 4 : 2));
      const next = upload(device, dtype, zeros);
      await run(device, (encoder) =>
        ssmConv(encoder, {
          registry,
          x: xBuffer,
          w: wBuffer,
          state: state.buffer,
          y,
          newState: next.buffer,
          dtype,
          channels,
          tokens,
          seqs,
          width,
        }));
      state.buffer[Symbol.dispose]();
      state = next;
      const out = download(y, dtype, slice.length);
      for (let s = 0; s < seqs; s++) {
        const to = (s * total + start) * channels;
        got.set(out.subarray(s * tokens * channels, (s + 1) * tokens * channels), to);
        xUsed.set(x.values.subarray(s * tokens * channels, (s + 1) * tokens * channels), to);
      }
      start += tokens;
    }
    const expected = ssmConvRef({ x: xUsed, w: w.values, channels, width, seqs });
    assertClose(got, expected.y, yTolerance(dtype), `ssm_conv_${dtype} chunked y`);
    assertClose(
      download(state.buffer, dtype, zeros.length),
      expected.newState,
      EXACT,
      `ssm_conv_${dtype} chunked final state`,
    );
    state.buffer[Symbol.dispose]();
  });
}

Deno.test("ssmConvForward() and ssmConvStateUpdate() each match their half of the reference", async () => {
  const channels = 5;
  const tokens = 2;
  const width = 4;
  for (const sync of [false, true]) {
    await checkOp<"x" | "w" | "state", "y" | "newState">(device, {
      label: `ssm_conv_f32 forward + state update${sync ? " sync" : ""}`,
      inputs: {
        x: { dtype: "f32", values: uniform(tokens * channels, -1, 1, 3) },
        w: { dtype: "f32", values: uniform(channels * width, -1, 1, 4) },
        state: { dtype: "f32", values: uniform(channels * 3, -1, 1, 5) },
      },
      outputs: {
        y: { dtype: "f32", length: tokens * channels },
        newState: { dtype: "f32", length: 15 },
      },
      encode: async (encoder, { x, w, state, y, newState }) => {
        const shape = { registry, dtype: "f32", channels, tokens, width } as const;
        if (sync) {
          ssmConvStateUpdateSync(encoder, { ...shape, x, state, newState });
          ssmConvForwardSync(encoder, { ...shape, x, w, state, y });
        } else {
          await ssmConvStateUpdate(encoder, { ...shape, x, state, newState });
          await ssmConvForward(encoder, { ...shape, x, w, state, y });
        }
      },
      reference: (inputs) => ssmConvRef({ ...inputs, channels, width }),
      tolerance: { y: yTolerance("f32"), newState: EXACT },
    });
  }
});

Deno.test("ssmConv() rejects aliased outputs, width 1, f16 and short buffers before any native call", async () => {
  using a = device.newBuffer(256);
  using b = device.newBuffer(256);
  using c = device.newBuffer(256);
  using small = device.newBuffer(20);
  const base = (registry: SsmConvOptions["registry"]): SsmConvOptions => ({
    registry,
    x: a,
    w: a,
    state: b,
    y: c,
    newState: small,
    dtype: "f32",
    channels: 2,
    tokens: 3,
    width: 4,
  });
  const reject = assertRejectsBeforeNative(ssmConv, ssmConvSync);
  await reject(
    device,
    (r) => ({ ...base(r), y: a }),
    RangeError,
    /^Cannot encode ssm_conv_forward_f32: "y" is the same buffer as "x", expected a separate output/,
  );
  await reject(
    device,
    (r) => ({ ...base(r), newState: b }),
    RangeError,
    /^Cannot encode ssm_conv_state_update_f32: "newState" is the same buffer as "state"/,
  );
  await reject(
    device,
    (r) => ({ ...base(r), newState: c }),
    RangeError,
    /^Cannot encode ssm_conv_state_update_f32: "y" is the same buffer as "newState"/,
  );
  await reject(
    device,
    (r) => ({ ...base(r), width: 1 }),
    RangeError,
    /^Cannot encode ssm_conv_forward_f32: "width" is 1, expected at least 2/,
  );
  await reject(
    device,
    (r) => ({ ...base(r), dtype: "f16" as SsmConvDType }),
    TypeError,
    /^Cannot encode ssmConvForward: "dtype" is "f16", expected one of "f32", "bf16"$/,
  );
  await reject(
    device,
    (r) => ({ ...base(r), seqs: 2 }),
    RangeError,
    /^Cannot encode ssm_conv_state_update_f32: "newState" holds 20 bytes, expected at least 48 \(seqs 2 × channels 2 × width − 1 3 × 4 bytes\)$/,
  );
  assert.ok(true);
});
