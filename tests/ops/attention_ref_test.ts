// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// The f64 attention reference (ops/attention_ref.ts) against a brute-force formula on tiny
// cases, and its conventions as properties. No kernel runs here.
import assert from "node:assert";
import {
  attentionKeyVisible,
  attentionRef,
  type AttentionRefOptions,
  splitKMergeRef,
} from "../../ops/attention_ref.ts";
import { roundToDType } from "../../dtype.ts";
import { assertClose, uniform } from "./_helpers.ts";

const TIGHT = { rtol: 1e-12, atol: 1e-13 };

/**
 * Brute force, one (batch, head) plane at a time, written from the formula: the score matrix
 * `scale · Q Kᵀ`, a mask matrix of 0 / −∞ built from explicit key ranges, a row softmax over
 * the sum, and a product with V. K and V are given per query head (GQA already expanded).
 */
function bruteForce(
  q: number[][],
  k: number[][],
  v: number[][],
  scale: number,
  allowed: (row: number, key: number) => boolean,
  bias: (row: number, key: number) => number = () => 0,
): number[][] {
  return q.map((qi, i) => {
    const logits = k.map((kj, j) =>
      allowed(i, j) ? scale * qi.reduce((s, x, d) => s + x * kj[d], 0) + bias(i, j) : -Infinity
    );
    const top = Math.max(...logits);
    if (top === -Infinity) return qi.map(() => 0);
    const weights = logits.map((s) => Math.exp(s - top));
    const total = weights.reduce((a, b) => a + b, 0);
    return qi.map((_, d) => weights.reduce((s, w, j) => s + (w / total) * v[j][d], 0));
  });
}

/** Rows of `length` from a flat array starting at `base`. */
function rows(flat: ArrayLike<number>, base: number, count: number, length: number): number[][] {
  return Array.from(
    { length: count },
    (_, r) => Array.from({ length }, (_, d) => flat[base + r * length + d]),
  );
}

interface Shape {
  batch: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  qLen: number;
  kvLen: number;
  kvCapacity: number;
}

function data(shape: Shape, seed: number): Record<"q" | "k" | "v", Float64Array> {
  const { batch, nHeads, nKvHeads, headDim, qLen, kvCapacity } = shape;
  return {
    q: uniform(batch * nHeads * qLen * headDim, -1, 1, seed),
    k: uniform(batch * nKvHeads * kvCapacity * headDim, -1, 1, seed + 1),
    v: uniform(batch * nKvHeads * kvCapacity * headDim, -2, 2, seed + 2),
  };
}

/** attentionRef against bruteForce for every (batch, head), given the allowed-key rule. */
function checkAgainstBruteForce(
  shape: Shape,
  options: Partial<AttentionRefOptions>,
  allowed: (b: number, h: number, row: number, key: number) => boolean,
  bias: (b: number, h: number, row: number, key: number) => number = () => 0,
): void {
  const inputs = data(shape, 7);
  const scale = 0.7;
  const got = attentionRef({ ...shape, ...inputs, scale, ...options });
  const { batch, nHeads, nKvHeads, headDim, qLen, kvLen, kvCapacity } = shape;
  const group = nHeads / nKvHeads;
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < nHeads; h++) {
      const kvBase = (b * nKvHeads + Math.floor(h / group)) * kvCapacity * headDim;
      const expected = bruteForce(
        rows(inputs.q, (b * nHeads + h) * qLen * headDim, qLen, headDim),
        rows(inputs.k, kvBase, kvLen, headDim),
        rows(inputs.v, kvBase, kvLen, headDim),
        scale,
        (i, j) => allowed(b, h, i, j),
        (i, j) => bias(b, h, i, j),
      );
      const base = (b * nHeads + h) * qLen * headDim;
      assertClose(
        got.subarray(base, base + qLen * headDim),
        expected.flat(),
        TIGHT,
        `batch ${b} head ${h}`,
      );
    }
  }
}

const SHAPE: Shape = {
  batch: 2,
  nHeads: 10,
  nKvHeads: 2,
  headDim: 4,
  qLen: 3,
  kvLen: 6,
  kvCapacity: 8,
};

Deno.test("attentionRef() without masks matches the brute-force formula (GQA 5, batch 2, spare capacity)", () => {
  checkAgainstBruteForce(SHAPE, {}, () => true);
});

Deno.test("attentionRef() causal masking is right-aligned to the cache", () => {
  // Rows 0..2 are the last three of six positions: row i sees keys 0 … 3 + i.
  checkAgainstBruteForce(SHAPE, { causal: true }, (_b, _h, i, j) => j <= 3 + i);
  // An explicit offset places row 0 at position 1.
  checkAgainstBruteForce(SHAPE, { causal: true, queryOffset: 1 }, (_b, _h, i, j) => j <= 1 + i);
});

Deno.test("attentionRef() windows: W keys by default, W + 1 keys for the sdpa_sliding convention", () => {
  // Window 2 at positions 3, 4, 5.
  checkAgainstBruteForce(
    SHAPE,
    { causal: true, window: 2 },
    (_b, _h, i, j) => j === 3 + i || j === 2 + i,
  );
  checkAgainstBruteForce(
    SHAPE,
    { causal: true, window: 2, windowKeys: "size+1" },
    (_b, _h, i, j) => j >= 1 + i && j <= 3 + i,
  );
});

Deno.test("attentionRef() adds an additive mask and keeps the keys a boolean mask marks true", () => {
  const { qLen, kvLen, nHeads, batch } = SHAPE;
  const plane = uniform(qLen * kvLen, -3, 3, 40);
  plane[1] = -Infinity;
  checkAgainstBruteForce(
    SHAPE,
    { mask: { kind: "additive", values: plane } },
    () => true,
    (_b, _h, i, j) => plane[i * kvLen + j],
  );
  // A per-(batch, head) boolean mask with explicit strides.
  const flags = Array.from({ length: batch * nHeads * qLen * kvLen }, (_, n) => (n * 7) % 3 !== 0);
  checkAgainstBruteForce(
    SHAPE,
    {
      mask: {
        kind: "boolean",
        values: flags.map(Number),
        strides: [nHeads * qLen * kvLen, qLen * kvLen, kvLen],
      },
    },
    (b, h, i, j) => flags[((b * nHeads + h) * qLen + i) * kvLen + j],
  );
});

Deno.test("attentionRef() boolean false equals additive −Infinity, and a constant mask shift changes nothing", () => {
  const shape = { ...SHAPE, batch: 1 };
  const inputs = data(shape, 3);
  const flags = Array.from({ length: shape.qLen * shape.kvLen }, (_, n) => n % 4 !== 1 ? 1 : 0);
  const base = { ...shape, ...inputs, scale: 0.5, causal: true };
  const asBool = attentionRef({ ...base, mask: { kind: "boolean", values: flags } });
  const asAdditive = attentionRef({
    ...base,
    mask: { kind: "additive", values: flags.map((f) => f ? 0 : -Infinity) },
  });
  assertClose(asBool, asAdditive, { rtol: 0, atol: 0 }, "boolean vs additive");
  const shifted = attentionRef({
    ...base,
    mask: { kind: "additive", values: flags.map((f) => f ? 5 : -Infinity) },
  });
  assertClose(shifted, asBool, TIGHT, "shifted");
});

Deno.test("attentionRef() GQA reads KV head ⌊h / (nHeads / nKvHeads)⌋: same as repeating the KV heads", () => {
  for (const group of [1, 2, 4, 5, 8]) {
    const shape = { ...SHAPE, batch: 1, nKvHeads: 2, nHeads: 2 * group };
    const inputs = data(shape, group);
    const perHead = shape.kvCapacity * shape.headDim;
    const repeat = (x: ArrayLike<number>) =>
      Array.from(
        { length: shape.nHeads * perHead },
        (_, n) => x[Math.floor(Math.floor(n / perHead) / group) * perHead + (n % perHead)],
      );
    const grouped = attentionRef({ ...shape, ...inputs, scale: 1, causal: true });
    const expanded = attentionRef({
      ...shape,
      ...inputs,
      k: repeat(inputs.k),
      v: repeat(inputs.v),
      nKvHeads: shape.nHeads,
      scale: 1,
      causal: true,
    });
    assertClose(grouped, expanded, { rtol: 0, atol: 0 }, `group ${group}`);
  }
});

Deno.test("attentionRef() reads a wrapped ring buffer in logical order", () => {
  const shape = { ...SHAPE, batch: 1, nHeads: 2, nKvHeads: 1, kvLen: 8, kvCapacity: 8 };
  const inputs = data(shape, 11);
  const start = 5;
  // Physical slot (start + ℓ) mod 8 holds logical key ℓ.
  const rotate = (x: ArrayLike<number>) => {
    const out = new Float64Array(x.length);
    for (let l = 0; l < 8; l++) {
      for (let d = 0; d < shape.headDim; d++) {
        out[((start + l) % 8) * shape.headDim + d] = x[l * shape.headDim + d];
      }
    }
    return out;
  };
  const options = { ...shape, scale: 0.9, causal: true, window: 3 };
  const plain = attentionRef({ ...options, ...inputs });
  const ring = attentionRef({
    ...options,
    q: inputs.q,
    k: rotate(inputs.k),
    v: rotate(inputs.v),
    ringStart: start,
  });
  assertClose(ring, plain, { rtol: 0, atol: 0 }, "ring");
});

Deno.test("attentionRef() writes zeros for a row that sees no key", () => {
  const shape = { ...SHAPE, batch: 1, qLen: 4, kvLen: 2, kvCapacity: 2 };
  const inputs = data(shape, 5);
  // Four right-aligned queries over two keys: rows 0 and 1 sit before key 0.
  const out = attentionRef({ ...shape, ...inputs, scale: 1, causal: true });
  for (let h = 0; h < shape.nHeads; h++) {
    const base = h * shape.qLen * shape.headDim;
    assert.deepStrictEqual([...out.subarray(base, base + 2 * shape.headDim)], [
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
    ]);
    assert.ok(
      out.subarray(base + 2 * shape.headDim, base + 4 * shape.headDim).some((x) => x !== 0),
    );
  }
  const masked = attentionRef({
    ...shape,
    ...inputs,
    scale: 1,
    mask: { kind: "additive", values: new Array(shape.qLen * shape.kvLen).fill(-Infinity) },
  });
  assert.ok(masked.every((x) => x === 0));
});

Deno.test("attentionRef() outputs are convex combinations of the values", () => {
  const shape = { ...SHAPE, batch: 1, nHeads: 4, nKvHeads: 4 };
  const inputs = data(shape, 21);
  const v = inputs.v.map(() => 1.25);
  const out = attentionRef({ ...shape, ...inputs, v, scale: 3, causal: true, window: 3 });
  assertClose(out, new Float64Array(out.length).fill(1.25), TIGHT, "constant V");
});

Deno.test("attentionRef() staging roundings: Q rounded to f16, or scale · log2 e · Q rounded to the I/O dtype", () => {
  const shape = { ...SHAPE, batch: 1 };
  const inputs = data(shape, 31);
  const scale = 0.37;
  const base = { ...shape, ...inputs, scale, causal: true };
  const rounded = attentionRef({ ...base, roundQuery: "f16" });
  const byHand = attentionRef({ ...base, q: inputs.q.map((x) => Math.f16round(x)) });
  assertClose(rounded, byHand, { rtol: 0, atol: 0 }, "roundQuery");
  assert.ok(rounded.some((x, i) => x !== attentionRef(base)[i]), "the rounding changes something");
  for (const dtype of ["bf16", "f16"] as const) {
    const staged = attentionRef({ ...base, roundScaledQuery: dtype });
    const manual = attentionRef({
      ...base,
      q: inputs.q.map((x) => roundToDType(dtype, x * scale * Math.LOG2E)),
      scale: 1 / Math.LOG2E,
    });
    assertClose(staged, manual, TIGHT, `roundScaledQuery ${dtype}`);
  }
});

Deno.test("splitKMergeRef() of per-split partials equals attentionRef over all keys", () => {
  const shape = { batch: 1, nHeads: 3, nKvHeads: 1, headDim: 4, qLen: 1, kvLen: 7, kvCapacity: 7 };
  const inputs = data(shape, 51);
  const scale = 0.8;
  const splits = 3; // keys {0, 3, 6}, {1, 4}, {2, 5}: strided, as the split-K kernels split them
  const partials = new Float64Array(shape.nHeads * splits * shape.headDim);
  const sums = new Float64Array(shape.nHeads * splits);
  const maxima = new Float64Array(shape.nHeads * splits);
  for (let h = 0; h < shape.nHeads; h++) {
    for (let w = 0; w < splits; w++) {
      const scores: [number, number][] = [];
      for (let j = w; j < shape.kvLen; j += splits) {
        let dot = 0;
        for (let d = 0; d < shape.headDim; d++) {
          dot += inputs.q[h * shape.headDim + d] * inputs.k[j * shape.headDim + d];
        }
        scores.push([j, dot * scale]);
      }
      const m = Math.max(...scores.map(([, s]) => s));
      maxima[h * splits + w] = m;
      for (const [j, s] of scores) {
        const e = Math.exp(s - m);
        sums[h * splits + w] += e;
        for (let d = 0; d < shape.headDim; d++) {
          partials[(h * splits + w) * shape.headDim + d] += e * inputs.v[j * shape.headDim + d];
        }
      }
    }
  }
  const merged = splitKMergeRef({ partials, sums, maxima, rows: 3, splits, headDim: 4 });
  assertClose(merged, attentionRef({ ...shape, ...inputs, scale }), TIGHT, "merged");
  // An empty split (sum 0, any maximum) is ignored; all empty gives zeros.
  sums[1] = 0;
  maxima[1] = 1e9;
  partials.fill(123, 4, 8);
  const skipping = splitKMergeRef({ partials, sums, maxima, rows: 3, splits, headDim: 4 });
  assert.ok(skipping.subarray(0, 4).every(Number.isFinite));
  const empty = splitKMergeRef({
    partials,
    sums: new Float64Array(9),
    maxima,
    rows: 3,
    splits,
    headDim: 4,
  });
  assert.ok(empty.every((x) => x === 0));
});

Deno.test("attentionKeyVisible() spells the window conventions", () => {
  assert.strictEqual(attentionKeyVisible({}, 0, 5), true);
  assert.strictEqual(attentionKeyVisible({ causal: true }, 4, 5), false);
  assert.strictEqual(attentionKeyVisible({ causal: true, window: 4 }, 9, 6), true);
  assert.strictEqual(attentionKeyVisible({ causal: true, window: 4 }, 9, 5), false);
  assert.strictEqual(
    attentionKeyVisible({ causal: true, window: 4, windowKeys: "size+1" }, 9, 5),
    true,
  );
});

Deno.test("attentionRef() refuses inconsistent shapes and options", () => {
  const shape = { ...SHAPE, batch: 1 };
  const inputs = data(shape, 1);
  const base = { ...shape, ...inputs, scale: 1 };
  const cases: [Partial<AttentionRefOptions>, RegExp][] = [
    [{ headDim: 0 }, /"headDim" is 0, expected a positive integer/],
    [{ nKvHeads: 11 }, /"nKvHeads" is 11, expected at most nHeads 10/],
    [{ kvCapacity: 5 }, /"kvCapacity" is 5, expected at least kvLen 6/],
    [{ window: 0 }, /"window" is 0/],
    [{ ringStart: 8 }, /"ringStart" is 8, expected an integer from 0 to 7/],
    [{ roundQuery: "f16", roundScaledQuery: "f16" }, /both set/],
    [{ q: [1, 2] }, /"q" holds 2 values, expected at least 120/],
    [
      { mask: { kind: "boolean", values: [1] } },
      /"mask.values" holds 1 values, expected at least 18/,
    ],
  ];
  for (const [change, message] of cases) {
    assert.throws(
      () => attentionRef({ ...base, ...change }),
      (e) => e instanceof RangeError && message.test(e.message),
    );
  }
});
