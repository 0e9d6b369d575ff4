// Copyright 2026 the @metal-compute/kernels authors. MIT license.
import assert from "node:assert";
import { testContext } from "../_helpers.ts";
import {
  fwht,
  fwhtSync,
  turboquantCacheBytes,
  turboquantDequantizeKv,
  turboquantDequantizeKvSync,
  turboquantEncodeKv,
  turboquantEncodeKvSync,
} from "../../ops/turboquant.ts";
import {
  fwhtRef,
  type FwhtSigns,
  lloydMaxCodebook,
  packTurboquantIndices,
  quantizeIndex,
  TURBOQUANT_SIGN_BYTES,
  type TurboquantBits,
  turboquantCodebook,
  turboquantDecodeRef,
  turboquantEncodeRef,
  type TurboquantHeadDim,
  unpackTurboquantIndices,
} from "../../ops/turboquant_ref.ts";
import {
  regenerateTurboquantTables,
  TURBOQUANT_TABLE_FILES,
} from "../../tools/turboquant_tables.ts";
import { assertClose, assertRejectsBeforeNative, download, rng, run, uniform } from "./_helpers.ts";

const { device, registry } = testContext();

/** Seeded N(0, 1) samples (Box–Muller), as the rotated coordinates of real K/V look. */
function gaussian(length: number, seed: number): Float64Array {
  const next = rng(seed);
  const out = new Float64Array(length);
  for (let i = 0; i < length; i++) {
    out[i] = Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  }
  return out;
}

/** Head vectors shaped like real keys: a few large outlier channels on a small background. */
function outlierRows(rows: number, dim: number, seed: number): Float64Array {
  const x = uniform(rows * dim, -0.5, 0.5, seed);
  for (let r = 0; r < rows; r++) {
    x[r * dim + 3] = 20 + r;
    x[r * dim + dim - 7] = -12;
  }
  return x;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>, from: number, length: number): number {
  let sum = 0;
  for (let i = from; i < from + length; i++) sum += a[i] * b[i];
  return sum;
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

// ---- The f64 references -------------------------------------------------------------------------

Deno.test("TurboQuant sign table: the format's published vector (SHA-256 of the 32- and 64-byte tables)", async () => {
  assert.match(await sha256(TURBOQUANT_SIGN_BYTES.slice(0, 32)), /^3ef1038e6c232e95/);
  assert.match(await sha256(TURBOQUANT_SIGN_BYTES.slice()), /^44f13ce9f6db1eda/);
});

Deno.test('fwhtRef(): T is orthogonal, so T(q)·T(k) = q·k, and "undo" inverts "premultiply"', () => {
  for (const headDim of [256, 512] as const) {
    const q = outlierRows(1, headDim, 1);
    const k = uniform(headDim, -2, 2, 2);
    const tq = fwhtRef(q, { headDim, signs: "premultiply" });
    const tk = fwhtRef(k, { headDim, signs: "premultiply" });
    const qk = dot(q, k, 0, headDim);
    assert.ok(
      Math.abs(dot(tq, tk, 0, headDim) - qk) < 1e-12 * dot(q, q, 0, headDim),
      `D ${headDim}`,
    );
    const back = fwhtRef(tq, { headDim, signs: "undo" });
    assertClose(back, q, { rtol: 1e-13, atol: 1e-13 }, `undo(premultiply(q)) D ${headDim}`);
    // The plain transform is its own inverse; the signs make T differ from it.
    const plain = fwhtRef(fwhtRef(k, { headDim, signs: "none" }), { headDim, signs: "none" });
    assertClose(plain, k, { rtol: 1e-13, atol: 1e-13 }, `H·H/D = I, D ${headDim}`);
    assert.notDeepStrictEqual(tk, fwhtRef(k, { headDim, signs: "none" }));
  }
});

Deno.test("fwhtRef(): a Hadamard row is ±1/√D in natural (Sylvester) order", () => {
  const e = new Float64Array(256);
  e[5] = 1;
  const y = fwhtRef(e, { headDim: 256, signs: "none" });
  for (let i = 0; i < 256; i++) {
    let bits = i & 5;
    let parity = 0;
    for (; bits; bits &= bits - 1) parity ^= 1;
    assert.strictEqual(y[i], (parity ? -1 : 1) / 16);
  }
});

Deno.test("lloydMaxCodebook(): Max's 4-bit table, and every book satisfies the two Lloyd–Max conditions", () => {
  // Max (1960), 16 levels for N(0, 1), positive half.
  const max1960 = [0.1284, 0.3881, 0.6568, 0.9424, 1.2562, 1.6181, 2.0690, 2.7326];
  const four = lloydMaxCodebook(4);
  max1960.forEach((c, i) =>
    assert.ok(Math.abs(four[8 + i] - c) < 1.5e-4, `level ${i}: ${four[8 + i]}`)
  );
  // Extreme levels of the 5-, 6- and 8-bit books.
  const extremes = { 5: 3.2607, 6: 3.7441, 8: 4.6035 } as const;
  for (const [bits, extreme] of Object.entries(extremes)) {
    const book = lloydMaxCodebook(Number(bits) as TurboquantBits);
    assert.ok(Math.abs(book.at(-1)! - extreme) < 1e-4, `${bits}-bit extreme ${book.at(-1)}`);
  }
  // Centroid condition, checked by quadrature (independent of the erfc the solver uses):
  // each level is the mean of N(0, 1) over its cell between the midpoints.
  for (const bits of [4, 5, 6, 8] as const) {
    const c = lloydMaxCodebook(bits);
    for (const i of [0, 1, c.length / 2, c.length - 1]) {
      const lo = i === 0 ? -12 : (c[i - 1] + c[i]) / 2;
      const hi = i === c.length - 1 ? 12 : (c[i] + c[i + 1]) / 2;
      let mass = 0;
      let moment = 0;
      const steps = 20000;
      const h = (hi - lo) / steps;
      for (let s = 0; s <= steps; s++) {
        const x = lo + s * h;
        const w = (s === 0 || s === steps ? 1 : s % 2 ? 4 : 2) * h / 3 * Math.exp(-x * x / 2);
        mass += w;
        moment += w * x;
      }
      assert.ok(Math.abs(moment / mass - c[i]) < 1e-9, `${bits}-bit level ${i}`);
    }
  }
});

Deno.test("turboquantEncodeRef()/turboquantDecodeRef(): the round trip's error is the codebook's", () => {
  // For Gaussian-like rotated coordinates the relative squared error is about the book's MSE
  // on N(0, 1): 9.5e-3 (4-bit), 2.5e-3, 6.4e-4, 4.1e-5 (8-bit); outliers are spread out by T.
  const expected = { 4: 9.5e-3, 5: 2.5e-3, 6: 6.4e-4, 8: 4.1e-5 } as const;
  for (const headDim of [256, 512] as const) {
    const x = outlierRows(8, headDim, 3);
    for (const bits of [4, 5, 6, 8] as const) {
      const encoded = turboquantEncodeRef({ x, headDim, bits });
      const y = turboquantDecodeRef({ ...encoded, headDim, bits });
      const back = fwhtRef(y, { headDim, signs: "undo" });
      const err = x.reduce((s, v, i) => s + (v - back[i]) ** 2, 0) / dot(x, x, 0, x.length);
      assert.ok(
        err < 1.6 * expected[bits] && err > 0.4 * expected[bits],
        `D ${headDim} ${bits}-bit: ${err}`,
      );
    }
  }
});

Deno.test("packTurboquantIndices(): the 4-bit row puts coordinate 2b low and 2b + 1 high in byte b", () => {
  const indices = Uint8Array.from({ length: 256 }, (_, i) => (i * 7) % 16);
  const bytes = packTurboquantIndices(indices, 4);
  assert.strictEqual(bytes.length, 128);
  assert.strictEqual(bytes[1], indices[2] | (indices[3] << 4));
  assert.deepStrictEqual(unpackTurboquantIndices(bytes, 4), indices);
});

// ---- The generated tables of the shaders ----------------------------------------------------------

Deno.test("TurboQuant shaders: the generated tables equal tools/turboquant_tables.ts's output", async () => {
  for (const file of TURBOQUANT_TABLE_FILES) {
    const text = await Deno.readTextFile(new URL(`../../shaders/${file}`, import.meta.url));
    assert.match(text, /\/\/ BEGIN generated tables: /, file);
    assert.strictEqual(
      text,
      regenerateTurboquantTables(text),
      `${file} is out of date: run tools/turboquant_tables.ts --write`,
    );
  }
  // And the f32 boundaries are the midpoints the quantiser is defined by.
  const { centroids, boundaries } = turboquantCodebook(8);
  assert.strictEqual(boundaries[100], Math.fround((centroids[100] + centroids[101]) / 2));
});

Deno.test("TurboQuant shaders: the SIMD-group FWHT is the same text in both files that use it", async () => {
  const helper = (text: string) => {
    const start = text.indexOf("// ---- SIMD-group FWHT");
    const end = text.indexOf("// ---- end of the SIMD-group FWHT ----");
    assert.ok(start >= 0 && end > start);
    return text.slice(start, end);
  };
  const read = (file: string) =>
    Deno.readTextFile(new URL(`../../shaders/${file}`, import.meta.url));
  assert.strictEqual(
    helper(await read("hadamard_quantize_kv_fast.metal")),
    helper(await read("fwht_standalone.metal")),
  );
});

// ---- fwht_standalone.metal ----------------------------------------------------------------------

async function checkFwht(
  headDim: TurboquantHeadDim,
  signs: FwhtSigns,
  heads: number,
  sync = false,
) {
  const x = Float32Array.from(outlierRows(heads, headDim, headDim + heads));
  using data = device.newBuffer(x);
  await run(device, (encoder) => {
    const options = { registry, data, heads, headDim, signs };
    return sync ? fwhtSync(encoder, options) : fwht(encoder, options);
  });
  const expected = fwhtRef(x, { headDim, signs });
  // Each output is a ±sum of D inputs over log2(D) f32 butterfly stages: its error is a few
  // ulps of the row's norm, not of the (possibly tiny) output itself.
  const scale = Math.sqrt(dot(x, x, 0, x.length) / heads);
  assertClose(
    download(data, "f32", x.length),
    expected,
    { rtol: 1e-6, atol: 4e-7 * scale },
    `fwht ${signs} D ${headDim} × ${heads}`,
  );
}

Deno.test("fwht_standalone_f32_d256, fwht_standalone_f32_d512, fwht_sign_premult_f32_d256, fwht_sign_premult_f32_d512, fwht_sign_undo_f32_d256, fwht_sign_undo_f32_d512: fwht() matches the f64 transform at every sign placement", async () => {
  for (const signs of ["none", "premultiply", "undo"] as const) {
    for (const headDim of [256, 512] as const) await checkFwht(headDim, signs, 3);
  }
});

Deno.test("fwht_sign_premult_f32_d256, fwht_sign_undo_f32_d512: fwhtSync() on one head and on nine heads", async () => {
  await checkFwht(256, "premultiply", 1, true);
  await checkFwht(512, "undo", 9, true);
});

Deno.test("fwht_sign_undo_f32_d256: four heads per threadgroup (the GPU geometry), the last group partial", async () => {
  // The op picks one head per threadgroup on the CPU backend and up to four on a GPU; dispatch
  // the GPU shape by hand: 5 heads in 2 threadgroups of 4 SIMD-groups, 3 of them past the end.
  const heads = 5;
  const x = Float32Array.from(outlierRows(heads + 1, 256, 7)); // one more row: must stay as it is
  using data = device.newBuffer(x);
  const pipeline = await registry.getPipeline("fwht_sign_undo_f32_d256", device);
  await run(device, (encoder) => {
    encoder.setPipeline(pipeline);
    encoder.setBuffer(data, 0);
    encoder.setBytes(new Uint32Array([256, heads]), 1);
    encoder.dispatchThreadgroups([2, 1, 1], [128, 1, 1]);
  });
  const got = download(data, "f32", x.length);
  const expected = fwhtRef(x.subarray(0, heads * 256), { headDim: 256, signs: "undo" });
  const scale = Math.sqrt(dot(x, x, 0, x.length) / heads);
  assertClose(
    got.subarray(0, heads * 256),
    expected,
    { rtol: 1e-6, atol: 4e-7 * scale },
    "4 heads per group",
  );
  assert.deepStrictEqual([...got.subarray(heads * 256)], [...x.subarray(heads * 256)]);
});

Deno.test("fwht_sign_premult_f32_d512: rotating a query and a key preserves their dot product (T(q)·T(k) = q·k)", async () => {
  const headDim = 512;
  const qk = Float32Array.from(outlierRows(2, headDim, 11));
  using data = device.newBuffer(qk);
  await run(
    device,
    (encoder) => fwht(encoder, { registry, data, heads: 2, headDim, signs: "premultiply" }),
  );
  const rotated = download(data, "f32", 2 * headDim);
  const before = dot(qk, qk.subarray(headDim), 0, headDim);
  const after = dot(rotated, rotated.subarray(headDim), 0, headDim);
  assert.ok(
    Math.abs(after - before) < 1e-5 * Math.sqrt(dot(qk, qk, 0, 2 * headDim)) ** 2,
    `${after} vs ${before}`,
  );
});

Deno.test("fwht() rejects a bad head dimension, sign placement or buffer before any native call", async () => {
  using data = device.newBuffer(256 * 4);
  const check = assertRejectsBeforeNative(fwht, fwhtSync);
  await check(
    device,
    (registry) => ({ registry, data, heads: 2, headDim: 256, signs: "none" }),
    RangeError,
    /^Cannot encode fwht_standalone_f32_d256: "data" holds 1024 bytes, expected at least 2048 \(heads 2 × headDim 256 × 4 bytes\)$/,
  );
  await check(
    device,
    (registry) => ({ registry, data, heads: 1, headDim: 128 as 256, signs: "none" }),
    RangeError,
    /^Cannot encode fwht: "headDim" is 128, expected 256 or 512$/,
  );
  await check(
    device,
    (registry) => ({ registry, data, heads: 1, headDim: 256, signs: "both" as "none" }),
    TypeError,
    /"signs" is "both", expected one of "none", "premultiply", "undo"/,
  );
});

// ---- hadamard_quantize_kv_fast.metal --------------------------------------------------------------

interface EncodeCase {
  headDim: TurboquantHeadDim;
  bits: TurboquantBits;
  nKvHeads: number;
  kvCapacity: number;
  position: number;
  tokens: number;
  sliding?: boolean;
  scaleFactor?: number;
  sync?: boolean;
}

/** Encodes `tokens` rows into a zeroed cache and checks every written row and untouched slot. */
async function checkEncode(c: EncodeCase, seed: number): Promise<void> {
  const { headDim, bits, nKvHeads, kvCapacity, tokens } = c;
  const label =
    `encode D ${headDim} ${bits}-bit heads ${nKvHeads} tokens ${tokens} @${c.position}/${kvCapacity}${
      c.sliding ? " ring" : ""
    }`;
  const x = Float32Array.from(outlierRows(tokens * nKvHeads, headDim, seed));
  const bytes = turboquantCacheBytes(c);
  using source = device.newBuffer(x);
  using packed = device.newBuffer(bytes.packed);
  using norms = device.newBuffer(bytes.norms);
  using probe = device.newBuffer(x.byteLength);
  const withProbe = bits === 4;
  await run(device, (encoder) => {
    const options = {
      registry,
      source,
      packed,
      norms,
      ...c,
      ...(withProbe ? { probe } : {}),
    };
    return c.sync ? turboquantEncodeKvSync(encoder, options) : turboquantEncodeKv(encoder, options);
  });
  const ref = turboquantEncodeRef({ x, headDim, bits, scaleFactor: c.scaleFactor });
  const perPos = headDim / 256;
  const rowBytes = bits === 4 ? headDim / 2 : headDim;
  const gotBytes = new Uint8Array(packed.contents);
  const gotNorms = new Float32Array(norms.contents);
  const written = new Set<number>();
  const { boundaries } = turboquantCodebook(bits);
  const probed = withProbe ? download(probe, "f32", x.length) : undefined;
  if (probed) {
    // u = y·16/n: f32 FWHT, norm and scale; a few ulps of the scale of u (≈ 1).
    assertClose(probed, ref.scaled, { rtol: 2e-5, atol: 2e-5 }, `${label} probe`);
  }
  let nearBoundary = 0;
  for (let t = 0; t < tokens; t++) {
    const p = c.position + t;
    const slot = c.sliding ? p % kvCapacity : p;
    for (let h = 0; h < nKvHeads; h++) {
      const v = t * nKvHeads + h;
      const row = h * kvCapacity + slot;
      written.add(row);
      const indices = unpackTurboquantIndices(
        gotBytes.subarray(row * rowBytes, (row + 1) * rowBytes),
        bits,
      );
      for (let j = 0; j < headDim; j++) {
        const want = ref.indices[v * headDim + j];
        const got = indices[j];
        if (probed) {
          // Exact: the index is the quantiser's own decision on the u it wrote.
          assert.strictEqual(
            got,
            quantizeIndex(probed[v * headDim + j], boundaries),
            `${label} [${v}][${j}]`,
          );
        }
        if (got !== want) {
          // Only where u lies within f32 error of the boundary between the two levels.
          const u = ref.scaled[v * headDim + j];
          const between = boundaries[Math.min(got, want)];
          assert.ok(
            Math.abs(got - want) === 1 && Math.abs(u - between) < 3e-5,
            `${label} [${v}][${j}]: ${got} vs ${want}, u ${u}`,
          );
          nearBoundary++;
        }
      }
      if (bits !== 4) {
        const top = gotBytes.subarray(row * rowBytes, (row + 1) * rowBytes).some((b) =>
          b >= 2 ** bits
        );
        assert.ok(!top, `${label}: index bits above ${bits}`);
      }
      assertClose(
        gotNorms.subarray(row * perPos, (row + 1) * perPos),
        ref.norms.subarray(v * perPos, (v + 1) * perPos),
        { rtol: 1e-5, atol: 1e-30 },
        `${label} norms [${v}]`,
      );
    }
  }
  assert.ok(nearBoundary <= 2, `${label}: ${nearBoundary} boundary cases`);
  for (let row = 0; row < nKvHeads * kvCapacity; row++) {
    if (written.has(row)) continue;
    assert.ok(
      gotBytes.subarray(row * rowBytes, (row + 1) * rowBytes).every((b) => b === 0),
      `${label}: row ${row} written`,
    );
    assert.ok(
      gotNorms.subarray(row * perPos, (row + 1) * perPos).every((n) => n === 0),
      `${label}: norm ${row} written`,
    );
  }
}

Deno.test("hadamard_quantize_kv_fast_d256, hadamard_quantize_kv_fast_d512: turboquantEncodeKv() 4-bit (probe, nibble layout, norms) matches the reference", async () => {
  await checkEncode(
    { headDim: 256, bits: 4, nKvHeads: 2, kvCapacity: 5, position: 1, tokens: 3 },
    21,
  );
  await checkEncode(
    { headDim: 512, bits: 4, nKvHeads: 3, kvCapacity: 2, position: 0, tokens: 1 },
    22,
  );
});

Deno.test("hadamard_quantize_kv_hb_d256, hadamard_quantize_kv_hb_d512: turboquantEncodeKv() 5-, 6- and 8-bit match the reference", async () => {
  let seed = 30;
  for (const bits of [5, 6, 8] as const) {
    for (const headDim of [256, 512] as const) {
      await checkEncode(
        { headDim, bits, nKvHeads: 2, kvCapacity: 3, position: 1, tokens: 2 },
        seed++,
      );
    }
  }
});

Deno.test("hadamard_quantize_kv_hb_d256, hadamard_quantize_kv_fast_d512: turboquantEncodeKv() wraps positions past the capacity of a ring", async () => {
  // Positions 8..11 into capacity 5: slots 3, 4, 0, 1.
  await checkEncode({
    headDim: 256,
    bits: 8,
    nKvHeads: 1,
    kvCapacity: 5,
    position: 8,
    tokens: 4,
    sliding: true,
  }, 41);
  await checkEncode({
    headDim: 512,
    bits: 4,
    nKvHeads: 2,
    kvCapacity: 3,
    position: 4,
    tokens: 3,
    sliding: true,
    sync: true,
  }, 42);
});

Deno.test("hadamard_quantize_kv_hb_d512, hadamard_quantize_kv_fast_d256: turboquantEncodeKv() with a D = 512 scale factor, and a zero vector (norm 0 → index of u = 0)", async () => {
  await checkEncode({
    headDim: 512,
    bits: 6,
    nKvHeads: 1,
    kvCapacity: 1,
    position: 0,
    tokens: 1,
    scaleFactor: 2,
  }, 51);
  using source = device.newBuffer(256 * 4);
  using packed = device.newBuffer(128);
  using norms = device.newBuffer(4);
  await run(
    device,
    (encoder) =>
      turboquantEncodeKv(encoder, {
        registry,
        source,
        packed,
        norms,
        nKvHeads: 1,
        headDim: 256,
        kvCapacity: 1,
        bits: 4,
        position: 0,
      }),
  );
  assert.strictEqual(new Float32Array(norms.contents)[0], 0);
  // u = 0 sits on the middle boundary 0: index 7 (the boundary is not strictly below).
  assert.ok(new Uint8Array(packed.contents).every((b) => b === 0x77));
});

Deno.test("turboquantEncodeKv() rejects positions past the capacity, oversized rings and probes it cannot write", async () => {
  using big = device.newBuffer(4096);
  const check = assertRejectsBeforeNative(turboquantEncodeKv, turboquantEncodeKvSync);
  const cache = { nKvHeads: 1, headDim: 256, kvCapacity: 4, bits: 4 } as const;
  await check(
    device,
    (registry) => ({
      registry,
      ...cache,
      source: big,
      packed: big,
      norms: big,
      position: 3,
      tokens: 2,
    }),
    RangeError,
    /^Cannot encode hadamard_quantize_kv_fast_d256: "position" is 3, expected an integer from 0 to 2 /,
  );
  await check(
    device,
    (registry) => ({
      registry,
      ...cache,
      source: big,
      packed: big,
      norms: big,
      position: 9,
      tokens: 5,
      sliding: true,
    }),
    RangeError,
    /5 tokens into a ring of capacity 4, expected at most 4/,
  );
  await check(
    device,
    (registry) => ({
      registry,
      ...cache,
      bits: 8,
      source: big,
      packed: big,
      norms: big,
      position: 0,
      probe: big,
    }),
    TypeError,
    /"probe" is only written by the 4-bit encoder, got bits 8/,
  );
  await check(
    device,
    (registry) => ({
      registry,
      ...cache,
      bits: 7 as 8,
      source: big,
      packed: big,
      norms: big,
      position: 0,
    }),
    RangeError,
    /^Cannot encode turboquantEncodeKv: "bits" is 7, expected 4, 5, 6 or 8$/,
  );
  using small = device.newBuffer(511);
  await check(
    device,
    (registry) => ({ registry, ...cache, source: big, packed: small, norms: big, position: 0 }),
    RangeError,
    /"packed" holds 511 bytes, expected at least 512 \(nKvHeads 1 × kvCapacity 4 × row 128 × 1 bytes\)/,
  );
});

// ---- tq_dequantize_kv.metal ---------------------------------------------------------------------

async function checkDequantize(
  headDim: TurboquantHeadDim,
  bits: TurboquantBits,
  { nKvHeads, kvCapacity, slot, positions, sync = false }: {
    nKvHeads: number;
    kvCapacity: number;
    slot: number;
    positions: number;
    sync?: boolean;
  },
  seed: number,
) {
  const label = `dequantize D ${headDim} ${bits}-bit slot ${slot} × ${positions} of ${kvCapacity}`;
  const bytes = turboquantCacheBytes({ nKvHeads, headDim, kvCapacity, bits });
  // Random bytes: for 5/6 bits the unused upper bits are set too, and must be ignored.
  const next = rng(seed);
  const packedBytes = Uint8Array.from({ length: bytes.packed }, () => Math.floor(next() * 256));
  const normValues = Float32Array.from({ length: bytes.norms / 4 }, () => 0.1 + 30 * next());
  using packed = device.newBuffer(packedBytes);
  using norms = device.newBuffer(normValues);
  using output = device.newBuffer(positions * nKvHeads * headDim * 4);
  const scaleFactor = headDim === 512 ? 1.5 : undefined;
  await run(device, (encoder) => {
    const options = {
      registry,
      packed,
      norms,
      output,
      nKvHeads,
      headDim,
      kvCapacity,
      bits,
      slot,
      positions,
      scaleFactor,
    };
    return sync
      ? turboquantDequantizeKvSync(encoder, options)
      : turboquantDequantizeKv(encoder, options);
  });
  const rowBytes = bits === 4 ? headDim / 2 : headDim;
  const perPos = headDim / 256;
  const expected: number[] = [];
  for (let t = 0; t < positions; t++) {
    const s = (slot + t) % kvCapacity;
    for (let h = 0; h < nKvHeads; h++) {
      const row = h * kvCapacity + s;
      const indices = unpackTurboquantIndices(
        packedBytes.subarray(row * rowBytes, (row + 1) * rowBytes),
        bits,
      );
      const n = normValues.subarray(row * perPos, (row + 1) * perPos);
      expected.push(...turboquantDecodeRef({ indices, norms: n, headDim, bits, scaleFactor }));
    }
  }
  // One f32 product (and a division by f for D = 512): two roundings.
  assertClose(download(output, "f32", expected.length), expected, { rtol: 2.5e-7, atol: 0 }, label);
}

Deno.test("tq_dequantize_kv, tq_dequantize_hb_kv: turboquantDequantizeKv() matches the reference for every codebook at D = 256 and 512", async () => {
  let seed = 60;
  for (const bits of [4, 5, 6, 8] as const) {
    for (const headDim of [256, 512] as const) {
      await checkDequantize(
        headDim,
        bits,
        { nKvHeads: 2, kvCapacity: 3, slot: 1, positions: 1 },
        seed++,
      );
    }
  }
});

Deno.test("tq_dequantize_kv, tq_dequantize_hb_kv: turboquantDequantizeKv() reads positions that wrap around a ring", async () => {
  await checkDequantize(256, 4, { nKvHeads: 3, kvCapacity: 4, slot: 2, positions: 4 }, 70);
  await checkDequantize(
    512,
    8,
    { nKvHeads: 1, kvCapacity: 3, slot: 2, positions: 2, sync: true },
    71,
  );
});

Deno.test('turboquantEncodeKv() then turboquantDequantizeKv() then fwht("undo") gives x back within the codebook\'s error', async () => {
  const headDim = 256;
  const tokens = 4;
  const nKvHeads = 2;
  const x = Float32Array.from(
    gaussian(tokens * nKvHeads * headDim, 80).map((v, i) => v * (1 + (i % 5))),
  );
  const cache = { nKvHeads, headDim, kvCapacity: tokens, bits: 8 } as const;
  const bytes = turboquantCacheBytes(cache);
  using source = device.newBuffer(x);
  using packed = device.newBuffer(bytes.packed);
  using norms = device.newBuffer(bytes.norms);
  using output = device.newBuffer(x.byteLength);
  await run(device, async (encoder) => {
    await turboquantEncodeKv(encoder, {
      registry,
      ...cache,
      packed,
      norms,
      source,
      position: 0,
      tokens,
    });
    await turboquantDequantizeKv(encoder, {
      registry,
      ...cache,
      packed,
      norms,
      output,
      slot: 0,
      positions: tokens,
    });
    await fwht(encoder, {
      registry,
      data: output,
      heads: tokens * nKvHeads,
      headDim,
      signs: "undo",
    });
  });
  const back = download(output, "f32", x.length);
  const err = x.reduce((s, v, i) => s + (v - back[i]) ** 2, 0) / dot(x, x, 0, x.length);
  assert.ok(err < 8e-5, `8-bit relative squared error ${err}`); // the book's MSE is 4.1e-5
});

Deno.test("turboquantDequantizeKv() rejects a slot past the capacity and a short output before any native call", async () => {
  using big = device.newBuffer(8192);
  using small = device.newBuffer(1000);
  const check = assertRejectsBeforeNative(turboquantDequantizeKv, turboquantDequantizeKvSync);
  const cache = { nKvHeads: 1, headDim: 256, kvCapacity: 4, bits: 5 } as const;
  await check(
    device,
    (registry) => ({ registry, ...cache, packed: big, norms: big, output: big, slot: 4 }),
    RangeError,
    /^Cannot encode tq_dequantize_hb_kv: "slot" is 4, expected an integer from 0 to 3/,
  );
  await check(
    device,
    (registry) => ({ registry, ...cache, packed: big, norms: big, output: small, slot: 0 }),
    RangeError,
    /"output" holds 1000 bytes, expected at least 1024 \(positions 1 × nKvHeads 1 × headDim 256 × 4 bytes\)/,
  );
  await check(
    device,
    (registry) => ({
      registry,
      ...cache,
      packed: big,
      norms: big,
      output: big,
      slot: 0,
      scaleFactor: 0,
    }),
    RangeError,
    /"scaleFactor" is 0, expected a positive number/,
  );
});
