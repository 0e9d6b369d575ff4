// Copyright 2026 the @metal-compute/kernels authors. MIT license.
import assert from "node:assert";
import { testContext } from "../_helpers.ts";
import {
  placeholder,
  placeholderConstants,
  type PlaceholderOptions,
  placeholderSync,
} from "../../ops/placeholder.ts";
import { placeholderRef } from "../../ops/placeholder_ref.ts";
import { assertClose, assertRejectsBeforeNative, download, EXACT, run } from "./_helpers.ts";

const { device, registry } = testContext();

/** Runs the placeholder kernel with a specialisation and returns its output. */
async function ramp(
  length: number,
  constants: Pick<PlaceholderOptions, "step" | "negate">,
  sync = false,
): Promise<Float64Array> {
  using output = device.newBuffer(length * 4);
  const options = { registry, output, length, ...constants };
  await run(
    device,
    (encoder) => sync ? placeholderSync(encoder, options) : placeholder(encoder, options),
  );
  return download(output, "f32", length);
}

Deno.test("placeholder() without constants writes output[i] = i", async () => {
  for (const length of [1, 31, 33, 1000, 4096]) {
    assertClose(await ramp(length, {}), placeholderRef(length), EXACT, `length ${length}`);
  }
});

Deno.test("placeholder: placeholder() specialisations give distinct, correct results", async () => {
  const length = 1000;
  const cases = [{}, { step: 4 }, { negate: true }, { step: 4, negate: true }, {
    step: -3,
    negate: false,
  }];
  const results = [];
  for (const constants of cases) {
    const got = await ramp(length, constants);
    assertClose(got, placeholderRef(length, constants), EXACT, JSON.stringify(constants));
    results.push(got);
  }
  for (let i = 0; i < results.length; i++) {
    for (let j = i + 1; j < results.length; j++) {
      assert.notDeepStrictEqual(results[i], results[j], `cases ${i} and ${j}`);
    }
  }
});

Deno.test("placeholder constants {200: true, 100: 4} and {100: 4, 200: true} are one pipeline", async () => {
  const a = await registry.getPipeline("placeholder", device, { 200: true, 100: 4 });
  const b = await registry.getPipeline("placeholder", device, { 100: 4, 200: true });
  const c = registry.getPipelineSync(
    "placeholder",
    device,
    placeholderConstants({
      negate: true,
      step: 4,
    }),
  );
  assert.strictEqual(a, b);
  assert.strictEqual(a, c);
  const d = await registry.getPipeline("placeholder", device, { 100: 4 });
  assert.notStrictEqual(a, d);
});

Deno.test("placeholderSync() matches the reference", async () => {
  const constants = { step: 7, negate: true };
  assertClose(await ramp(33, constants, true), placeholderRef(33, constants), EXACT, "sync");
});

Deno.test("placeholder() rejects a too small output before any native call", async () => {
  using output = device.newBuffer(12);
  await assertRejectsBeforeNative(placeholder, placeholderSync)(
    device,
    (registry) => ({ registry, output, length: 4 }),
    RangeError,
    /^Cannot encode placeholder: "output" holds 12 bytes, expected at least 16 \(length 4 × 4 bytes\)$/,
  );
});

Deno.test("placeholder() rejects mistyped constants before any native call", async () => {
  using output = device.newBuffer(16);
  await assertRejectsBeforeNative(placeholder, placeholderSync)(
    device,
    (registry) => ({ registry, output, length: 4, negate: 1 as unknown as boolean }),
    TypeError,
    /"negate" is number, expected a boolean/,
  );
  await assertRejectsBeforeNative(placeholder, placeholderSync)(
    device,
    (registry) => ({ registry, output, length: 4, step: 2.5 }),
    RangeError,
    /"step" is 2.5, expected a 32-bit integer/,
  );
});
