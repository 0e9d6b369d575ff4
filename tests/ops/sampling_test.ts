// Copyright 2026 the @metal-compute/kernels authors. MIT license.
import assert from "node:assert";
import { testContext } from "../_helpers.ts";
import {
  argmax,
  argmaxSync,
  argsort,
  argsortScratchBytes,
  argsortSync,
  softmaxSample,
  softmaxSampleSync,
  topK,
  topKSync,
} from "../../ops/sampling.ts";
import { argmaxRef, argsortRef, softmaxSampleRef, topKRef } from "../../ops/sampling_ref.ts";
import {
  ARGMAX_MAX_SIMDGROUPS,
  ARGSORT_TG_ELEMENTS,
  SAMPLE_MAX_SIMDGROUPS,
  TOP_K_MAX,
} from "../../ops/_defines.ts";
import {
  assertClose,
  assertRejectsBeforeNative,
  download,
  EXACT,
  rng,
  run,
  shaderConstant,
  shaderText,
  TOLERANCES,
  uniform,
  upload,
} from "./_helpers.ts";

const { device, registry } = testContext();

/** Values rounded to steps of `step`, so that a row holds many ties. */
function quantised(length: number, step: number, seed: number): Float64Array {
  return uniform(length, -8, 8, seed).map((v) => Math.round(v / step) * step);
}

function indicesOf(buffer: { contents: ArrayBuffer }, length: number): number[] {
  return [...new Uint32Array(buffer.contents, 0, length)];
}

// ---- argmax ---------------------------------------------------------------------------------

Deno.test("argmax_f32: argmax() matches the reference on edge shapes, ties and vocabulary rows", async () => {
  // [rows, cols, tie step (0: continuous)]: one element, around one SIMD-group, many ties,
  // Llama-2's 32000 and Qwen2's 151936 vocabularies.
  const cases = [[1, 1, 0], [3, 31, 0], [5, 33, 1], [7, 1000, 4], [4, 32000, 0], [2, 151936, 0], [
    2,
    5000,
    16,
  ]];
  let seed = 1;
  for (const [rows, cols, step] of cases) {
    const data = step
      ? quantised(rows * cols, step, seed++)
      : uniform(rows * cols, -30, 30, seed++);
    const { buffer, values } = upload(device, "f32", data);
    using input = buffer;
    using indices = device.newBuffer(rows * 4);
    using valuesOut = device.newBuffer(rows * 4);
    const options = { registry, input, indices, values: valuesOut, rows, cols };
    await run(device, (e) => seed % 2 ? argmax(e, options) : argmaxSync(e, options));
    const expected = argmaxRef(values, rows, cols);
    assert.deepStrictEqual(
      indicesOf(indices, rows),
      [...expected.indices],
      `argmax [${rows}, ${cols}]`,
    );
    assertClose(download(valuesOut, "f32", rows), expected.values, EXACT, "argmax values");
  }
});

Deno.test("argmax_f32: argmax() gives ties to the lowest index and NaN to the first NaN", async () => {
  const cols = 3000;
  const rows = [
    new Array(cols).fill(1.5), // all equal -> 0
    new Array(cols).fill(-Infinity), // all -inf -> 0
    Array.from({ length: cols }, (_, j) => (j === 2999 || j === 1234 || j === 77) ? 9 : 0), // -> 77
    Array.from({ length: cols }, (_, j) => j === 2000 ? NaN : j === 100 ? NaN : j), // -> 100
    Array.from({ length: cols }, (_, j) => j === 5 ? -0 : j === 3 ? 0 : -1), // -0 == +0 -> 3
  ];
  const { buffer } = upload(device, "f32", rows.flat());
  using input = buffer;
  using indices = device.newBuffer(rows.length * 4);
  using values = device.newBuffer(rows.length * 4);
  await run(
    device,
    (e) => argmax(e, { registry, input, indices, values, rows: rows.length, cols }),
  );
  assert.deepStrictEqual(indicesOf(indices, rows.length), [0, 0, 77, 100, 3]);
  const got = download(values, "f32", rows.length);
  assert.ok(Number.isNaN(got[3]), "the value of a NaN row is NaN");
  assert.deepStrictEqual([got[0], got[1], got[2]], [1.5, -Infinity, 9]);
});

// ---- argsort --------------------------------------------------------------------------------

Deno.test("argsort_desc_f32: argsort() matches the reference in threadgroup memory and through device scratch", async () => {
  // [rows, cols, tie step]: tiny rows, around a SIMD-group, MoE router rows (128 experts,
  // 300 tokens), a full threadgroup chunk (2048), one past it (device path) and a
  // 32000-token vocabulary with ties (device path).
  const cases = [
    [1, 1, 0],
    [3, 2, 0],
    [5, 31, 0],
    [4, 33, 1],
    [300, 128, 0],
    [2, 1000, 2],
    [
      2,
      ARGSORT_TG_ELEMENTS,
      0,
    ],
    [2, ARGSORT_TG_ELEMENTS + 1, 1],
    [1, 32000, 0.25],
  ];
  let seed = 100;
  for (const [rows, cols, step] of cases) {
    const data = step
      ? quantised(rows * cols, step, seed++)
      : uniform(rows * cols, -30, 30, seed++);
    const { buffer, values } = upload(device, "f32", data);
    using input = buffer;
    using output = device.newBuffer(rows * cols * 4);
    using scratch = device.newBuffer(Math.max(4, argsortScratchBytes(rows, cols)));
    const options = { registry, input, output, scratch, rows, cols };
    await run(device, (e) => seed % 2 ? argsort(e, options) : argsortSync(e, options));
    const got = indicesOf(output, rows * cols);
    const expected = argsortRef(values, rows, cols);
    const bad = got.findIndex((v, i) => v !== expected[i]);
    assert.strictEqual(
      bad,
      -1,
      `argsort [${rows}, ${cols}] step ${step}: first difference at ${bad}`,
    );
  }
});

Deno.test("argsort_desc_f32: argsort() orders ties by index, NaN first, -0 with +0", async () => {
  const row = [0, 3, NaN, 3, -Infinity, -0, Infinity, 3, NaN, 0];
  const { buffer } = upload(device, "f32", row);
  using input = buffer;
  using output = device.newBuffer(row.length * 4);
  await run(device, (e) => argsort(e, { registry, input, output, cols: row.length }));
  assert.deepStrictEqual(indicesOf(output, row.length), [2, 8, 6, 1, 3, 7, 0, 5, 9, 4]);
});

// ---- top_k ----------------------------------------------------------------------------------

Deno.test("top_k_f32: topK() matches the reference on vocabularies, router rows, ties and k = cols", async () => {
  // [rows, cols, k, tie step]
  const cases = [
    [1, 1, 1, 0],
    [3, 33, 33, 0],
    [2, 31, 7, 1],
    [300, 128, 8, 0],
    [4, 32000, 40, 0],
    [
      1,
      151936,
      50,
      0,
    ],
    [2, 5000, TOP_K_MAX, 0],
    [3, 10000, 64, 0.5],
    [2, 4096, 100, 8],
  ];
  let seed = 200;
  for (const [rows, cols, k, step] of cases) {
    const data = step
      ? quantised(rows * cols, step, seed++)
      : uniform(rows * cols, -30, 30, seed++);
    const { buffer, values } = upload(device, "f32", data);
    using input = buffer;
    using indices = device.newBuffer(rows * k * 4);
    using valuesOut = device.newBuffer(rows * k * 4);
    const options = { registry, input, indices, values: valuesOut, rows, cols, k };
    await run(device, (e) => seed % 2 ? topK(e, options) : topKSync(e, options));
    const expected = topKRef(values, rows, cols, k);
    const got = indicesOf(indices, rows * k);
    const bad = got.findIndex((v, i) => v !== expected.indices[i]);
    assert.strictEqual(
      bad,
      -1,
      `top_k [${rows}, ${cols}] k ${k} step ${step}: first difference at ${bad}`,
    );
    assertClose(download(valuesOut, "f32", rows * k), expected.values, EXACT, "top_k values");
  }
});

Deno.test("top_k_f32: topK() keeps the lowest indices among ties and puts NaN first", async () => {
  const cols = 1000;
  const rows = [
    new Array(cols).fill(2), // all tied -> 0..4
    Array.from({ length: cols }, (_, j) => j % 100 === 7 ? 5 : j % 10), // five 5s... and 9s
    Array.from({ length: cols }, (_, j) => j === 500 ? NaN : j === 3 ? Infinity : -j),
  ];
  const k = 5;
  const { buffer, values } = upload(device, "f32", rows.flat());
  using input = buffer;
  using indices = device.newBuffer(rows.length * k * 4);
  using valuesOut = device.newBuffer(rows.length * k * 4);
  await run(
    device,
    (e) => topK(e, { registry, input, indices, values: valuesOut, rows: rows.length, cols, k }),
  );
  const got = indicesOf(indices, rows.length * k);
  assert.deepStrictEqual(got.slice(0, 5), [0, 1, 2, 3, 4]);
  assert.deepStrictEqual(got.slice(5, 10), [9, 19, 29, 39, 49]);
  assert.deepStrictEqual(got.slice(10, 15), [500, 3, 0, 1, 2]);
  assert.deepStrictEqual(got, [...topKRef(values, rows.length, cols, k).indices]);
});

// ---- softmax_sample -------------------------------------------------------------------------

interface SampleRun {
  tokens: number[];
  logprobs: Float64Array;
  probs: Float64Array;
}

async function sample(
  logits: ArrayLike<number>,
  rows: number,
  cols: number,
  temperature: number,
  uniforms: number[],
  topP = 1,
  sync = false,
): Promise<SampleRun> {
  using input = upload(device, "f32", logits).buffer;
  using probs = device.newBuffer(rows * cols * 4);
  using tokens = device.newBuffer(rows * 4);
  using logprobs = device.newBuffer(rows * 4);
  const options = {
    registry,
    logits: input,
    probs,
    tokens,
    logprobs,
    rows,
    cols,
    temperature,
    topP,
    uniforms,
  };
  await run(device, (e) => sync ? softmaxSampleSync(e, options) : softmaxSample(e, options));
  return {
    tokens: indicesOf(tokens, rows),
    logprobs: download(logprobs, "f32", rows),
    probs: download(probs, "f32", rows * cols),
  };
}

/**
 * Checks a drawn token against the f64 reference: the same token, or (when the target lies
 * within f32 rounding of a CDF step) a neighbour whose CDF interval the target touches.
 */
function checkDraw(
  token: number,
  row: ArrayLike<number>,
  invT: number,
  topP: number,
  u: number,
  label: string,
) {
  const ref = softmaxSampleRef(row, invT, topP, Math.fround(u));
  if (token === ref.token) return ref;
  const slack = 1e-5;
  const lo = token === 0 ? 0 : ref.cdf[token - 1];
  assert.ok(
    ref.probs[token] > 0 && token <= ref.last + 1 && lo - slack <= ref.target &&
      ref.target <= ref.cdf[token] + slack,
    `${label}: drew ${token}, reference ${ref.token} (target ${ref.target})`,
  );
  return ref;
}

Deno.test("softmax_sample_f32: softmaxSample() is deterministic for fixed uniforms and matches the reference", async () => {
  // [rows, cols, temperature]: tiny rows, SIMD-group edges, a 32000 vocabulary at T 0.7.
  const cases = [[1, 1, 1], [4, 31, 1], [3, 33, 0.5], [2, 1000, 2], [2, 32000, 0.7]] as const;
  let seed = 300;
  for (const [rows, cols, temperature] of cases) {
    const logits = uniform(rows * cols, -10, 10, seed++);
    const next = rng(seed++);
    const uniforms = Array.from({ length: rows }, () => next());
    const first = await sample(logits, rows, cols, temperature, uniforms);
    const again = await sample(logits, rows, cols, temperature, uniforms, 1, true);
    assert.deepStrictEqual(again.tokens, first.tokens, "same uniforms, same tokens");
    const invT = Math.fround(1 / temperature);
    const values = Float64Array.from(logits, Math.fround);
    for (let r = 0; r < rows; r++) {
      const row = values.subarray(r * cols, (r + 1) * cols);
      const ref = checkDraw(
        first.tokens[r],
        row,
        invT,
        1,
        uniforms[r],
        `[${rows}, ${cols}] row ${r}`,
      );
      assertClose(
        first.probs.subarray(r * cols, (r + 1) * cols),
        ref.probs,
        TOLERANCES.f32,
        "probs",
      );
      const lp = Math.log(ref.probs[first.tokens[r]]);
      assert.ok(
        Math.abs(first.logprobs[r] - lp) <= 1e-5 * Math.max(1, Math.abs(lp)),
        `logprob ${first.logprobs[r]} vs ${lp}`,
      );
    }
  }
});

Deno.test("softmax_sample_f32: softmaxSample() never draws a -Infinity logit; u = 0 picks the first live token", async () => {
  const cols = 200;
  const row = Array.from({ length: cols }, (_, j) => j % 3 === 0 ? -Infinity : (j % 7) - 3);
  const uniforms = [0, 0.25, 0.5, 0.999999, 0.7, 0.1, 0.9, 0.3];
  const rows = uniforms.length;
  const logits = Array.from({ length: rows }, () => row).flat();
  const got = await sample(logits, rows, cols, 1, uniforms);
  assert.strictEqual(got.tokens[0], 1, "u = 0 -> the first token of nonzero probability");
  for (let r = 0; r < rows; r++) {
    assert.ok(got.tokens[r] % 3 !== 0, `row ${r} drew masked token ${got.tokens[r]}`);
    checkDraw(
      got.tokens[r],
      Float64Array.from(row, Math.fround),
      1,
      1,
      uniforms[r],
      `masked row ${r}`,
    );
  }
});

/** Pearson's chi-square of observed counts against expected probabilities. */
function chiSquare(counts: number[], probs: ArrayLike<number>, draws: number): number {
  let chi = 0;
  for (let j = 0; j < counts.length; j++) {
    const expected = probs[j] * draws;
    if (expected > 0) chi += (counts[j] - expected) ** 2 / expected;
    else assert.strictEqual(counts[j], 0, `token ${j} has probability 0 but was drawn`);
  }
  return chi;
}

Deno.test("softmax_sample_f32: softmaxSample() draws follow softmax(logits / T) (chi-square, 4096 draws)", async () => {
  const cols = 8;
  const logits = [2, 1, 0.5, 0, -0.5, -1, -2, -Infinity];
  const temperature = 0.8;
  const rows = 1024;
  const counts = new Array(cols).fill(0);
  const next = rng(4242);
  for (let pass = 0; pass < 4; pass++) {
    const uniforms = Array.from({ length: rows }, () => next());
    const got = await sample(
      Array.from({ length: rows }, () => logits).flat(),
      rows,
      cols,
      temperature,
      uniforms,
    );
    for (const t of got.tokens) counts[t]++;
  }
  const expected = softmaxSampleRef(logits, 1 / temperature, 1, 0).probs;
  // 6 degrees of freedom among the 7 live tokens: P(chi2 > 22.46) = 0.001.
  const chi = chiSquare(counts, expected, 4 * rows);
  assert.ok(chi < 22.46, `chi-square ${chi.toFixed(2)} for counts ${counts}`);
});

Deno.test("softmax_sample_f32, top_k_f32: top-p on topK() values samples the renormalised nucleus (chi-square)", async () => {
  // Candidates as topK leaves them: sorted by descending logit.
  const vocab = 500;
  const k = 16;
  const full = uniform(vocab, -4, 4, 77);
  const { buffer, values } = upload(device, "f32", full);
  using input = buffer;
  using indices = device.newBuffer(k * 4);
  using valuesOut = device.newBuffer(k * 4);
  await run(
    device,
    (e) => topK(e, { registry, input, indices, values: valuesOut, cols: vocab, k }),
  );
  const top = download(valuesOut, "f32", k);
  assert.deepStrictEqual(indicesOf(indices, k), [...topKRef(values, 1, vocab, k).indices]);

  const topP = 0.6;
  const rows = 1024;
  const next = rng(99);
  const counts = new Array(k).fill(0);
  for (let pass = 0; pass < 3; pass++) {
    const uniforms = Array.from({ length: rows }, () => next());
    const got = await sample(
      Array.from({ length: rows }, () => [...top]).flat(),
      rows,
      k,
      1,
      uniforms,
      topP,
    );
    got.tokens.forEach((t, r) => {
      counts[t]++;
      if (pass === 0) checkDraw(t, top, 1, topP, uniforms[r], `top-p row ${r}`);
    });
  }
  const ref = softmaxSampleRef(top, 1, topP, 0);
  const nucleus = Array.from(ref.probs, (p, j) => j <= ref.last ? p / ref.cdf[ref.last] : 0);
  const chi = chiSquare(counts, nucleus, 3 * rows);
  // ref.last degrees of freedom (≤ 15): P(chi2 > 37.7 | 15 dof) = 0.001, stricter for fewer.
  assert.ok(ref.last >= 1 && ref.last < k - 1, `nucleus of ${ref.last + 1} tokens`);
  assert.ok(chi < 37.7, `chi-square ${chi.toFixed(2)} for counts ${counts}`);
});

// ---- defines and validation ----------------------------------------------------------------

Deno.test("sampling defines match argmax.metal, argsort.metal, top_k.metal and softmax_sample.metal", () => {
  const checks = [
    ["argmax", "ARGMAX_MAX_SIMDGROUPS", ARGMAX_MAX_SIMDGROUPS],
    ["argsort", "ARGSORT_TG_ELEMENTS", ARGSORT_TG_ELEMENTS],
    ["top_k", "TOP_K_MAX", TOP_K_MAX],
    ["softmax_sample", "SAMPLE_MAX_SIMDGROUPS", SAMPLE_MAX_SIMDGROUPS],
  ] as const;
  for (const [file, name, value] of checks) {
    assert.strictEqual(shaderConstant(shaderText(`${file}.metal`), name), value, file);
  }
});

Deno.test("argmax() rejects a too small values buffer before any native call", async () => {
  using input = device.newBuffer(4 * 1000);
  using small = device.newBuffer(4);
  using indices = device.newBuffer(8);
  await assertRejectsBeforeNative(argmax, argmaxSync)(
    device,
    (registry) => ({ registry, input, indices, values: small, rows: 2, cols: 500 }),
    RangeError,
    /^Cannot encode argmax_f32: "values" holds 4 bytes, expected at least 8 \(rows 2 × 4 bytes\)$/,
  );
});

Deno.test("argsort() rejects a missing or too small scratch for long rows before any native call", async () => {
  using input = device.newBuffer(4 * 4000);
  using output = device.newBuffer(4 * 4000);
  await assertRejectsBeforeNative(argsort, argsortSync)(
    device,
    (registry) => ({ registry, input, output, cols: 4000 }),
    TypeError,
    /^Cannot encode argsort_desc_f32: "scratch" is undefined, expected a DeviceBuffer$/,
  );
  await assertRejectsBeforeNative(argsort, argsortSync)(
    device,
    (registry) => ({ registry, input, output, scratch: output, cols: 4000 }),
    RangeError,
    /"scratch" holds 16000 bytes, expected at least 32768 \(rows 1 × nextPow2\(cols 4000\) 4096 × 8 bytes/,
  );
});

Deno.test("topK() rejects k above cols or 1024 and a too small indices buffer before any native call", async () => {
  using big = device.newBuffer(4 * 5000);
  using small = device.newBuffer(4 * 10);
  for (const [cols, k] of [[10, 11], [5000, 1025]]) {
    await assertRejectsBeforeNative(topK, topKSync)(
      device,
      (registry) => ({ registry, input: big, indices: big, values: big, cols, k }),
      RangeError,
      /^Cannot encode top_k_f32: "k" is \d+, expected at most/,
    );
  }
  await assertRejectsBeforeNative(topK, topKSync)(
    device,
    (registry) => ({ registry, input: big, indices: small, values: big, cols: 100, k: 20 }),
    RangeError,
    /"indices" holds 40 bytes, expected at least 80 \(rows 1 × k 20 × 4 bytes\)$/,
  );
});

Deno.test("softmaxSample() rejects bad temperature, topP, uniforms and a small probs buffer before any native call", async () => {
  using big = device.newBuffer(4 * 1000);
  using small = device.newBuffer(4 * 10);
  const base = {
    logits: big,
    probs: big,
    tokens: big,
    logprobs: big,
    cols: 100,
    temperature: 1,
    uniforms: [0.5],
  };
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ temperature: 0 }, /"temperature" is 0, expected a finite number greater than 0/],
    [{ temperature: Infinity }, /"temperature" is Infinity/],
    [{ topP: 0 }, /"topP" is 0, expected a number in \(0, 1\]/],
    [{ topP: 1.5 }, /"topP" is 1.5/],
    [{ uniforms: [1] }, /"uniforms\[0\]" is 1, expected a number in \[0, 1\)/],
    [{ uniforms: [0.5], rows: 2, logits: big }, /"uniforms" holds 1 numbers, expected 2/],
    [
      { probs: small },
      /^Cannot encode softmax_sample_f32: "probs" holds 40 bytes, expected at least 400/,
    ],
    [{ rows: 1025, uniforms: new Array(1025).fill(0) }, /"rows" is 1025, expected at most 1024/],
  ];
  for (const [change, message] of bad) {
    await assertRejectsBeforeNative(softmaxSample, softmaxSampleSync)(
      device,
      (registry) => ({ registry, ...base, ...change } as Parameters<typeof softmaxSample>[1]),
      RangeError,
      message,
    );
  }
});
