// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// The GGML block formats on the host: bytes pinned against the format definitions (written
// out by hand here, independently of formats/ggml.ts), round trips within each format's error
// bound, and refusals.
import assert from "node:assert";
import {
  dequantizeGgml,
  GGML_BLOCKS,
  GGML_TYPES,
  ggmlRowBytes,
  type GgmlType,
  quantizeGgml,
} from "../../formats/ggml.ts";
import { uniform } from "../ops/_helpers.ts";

Deno.test("quantizeGgml('q4_0') writes f16 d then 16 bytes of (low: value j, high: value j + 16) nibbles", () => {
  // Largest magnitude -8 → d = -8 / -8 = 1, so q = v + 8 exactly.
  const values = Array.from({ length: 32 }, (_, i) => i < 16 ? i - 8 : 7 - (i - 16) % 16);
  const bytes = quantizeGgml(values, "q4_0");
  const expected = [0x00, 0x3c]; // f16 1.0, little-endian
  for (let j = 0; j < 16; j++) expected.push((values[j] + 8) | ((values[j + 16] + 8) << 4));
  assert.deepStrictEqual([...bytes], expected);
  assert.deepStrictEqual([...dequantizeGgml(bytes, "q4_0")], values);
});

Deno.test("quantizeGgml('q8_0') writes f16 d then 32 int8 quants", () => {
  // Largest magnitude 127 → d = 1.
  const values = Array.from({ length: 32 }, (_, i) => 127 - 8 * i);
  const bytes = quantizeGgml(values, "q8_0");
  assert.deepStrictEqual([...bytes], [0x00, 0x3c, ...values.map((v) => v & 0xff)]);
});

Deno.test("dequantizeGgml('q6_K') reads ql, qh, int8 scales and a trailing f16 d as defined", () => {
  const block = new Uint8Array(210);
  block.set([0x00, 0x40], 208); // d = 2
  for (let j = 0; j < 16; j++) block[192 + j] = j % 2 ? 256 - (j + 1) : j + 1; // 1, -2, 3, -4, ...
  block[5] = 0xa3; // ql[5]: value 5 (low nibble), value 69 (high)
  block[37] = 0x5c; // ql[37]: value 37 (low), value 101 (high)
  block[128 + 5] = 0b11_10_01_00; // qh[5]: top bits of values 5, 37, 69, 101
  block[64] = 0x0f; // second half, l = 0: value 128 (low nibble 15)
  block[128 + 32] = 0b00_00_00_11; // qh[32]: value 128 gets top bits 3
  const values = dequantizeGgml(block, "q6_K", new Float64Array(256));
  // value = d · scales[e / 16] · (q − 32)
  assert.strictEqual(values[5], 2 * 1 * (3 - 32));
  assert.strictEqual(values[37], 2 * 3 * ((12 | (1 << 4)) - 32)); // scales[2] = 3
  assert.strictEqual(values[69], 2 * 5 * ((10 | (2 << 4)) - 32)); // scales[4] = 5
  assert.strictEqual(values[101], 2 * 7 * ((5 | (3 << 4)) - 32)); // scales[6] = 7
  assert.strictEqual(values[128], 2 * 9 * ((15 | (3 << 4)) - 32)); // scales[8] = 9
  assert.strictEqual(values[6], 2 * 1 * -32); // all-zero quants are −32
});

Deno.test("dequantizeGgml('q5_K') unpacks the 6-bit scales and mins and the fifth bits as defined", () => {
  const block = new Uint8Array(176);
  block.set([0x00, 0x3c, 0x00, 0x38]); // d = 1, dmin = 0.5
  // scales[12] at byte 4: sc0 = 5, m0 = 3; sc4 = 1 | 2 << 4 = 33, m4 = 4 | 1 << 4 = 20;
  // sc5 = 3 | 2 << 4 = 35, m5 = 6 | 1 << 4 = 22.
  block[4 + 0] = 0b10_000101; // sc0 = 5; top bits 2 of sc4
  block[4 + 1] = 0b10_000000; // top bits 2 of sc5
  block[4 + 4] = 0b01_000011; // m0 = 3; top bits 1 of m4
  block[4 + 5] = 0b01_000000; // top bits 1 of m5
  block[4 + 8] = 0x41; // sc4 low 1, m4 low 4
  block[4 + 9] = 0x63; // sc5 low 3, m5 low 6
  // qh[32] at 16, qs[128] at 48.
  block[48 + 0] = 0x07; // value 0: nibble 7, fifth bit (qh[0] bit 0) clear → q 7
  block[48 + 64] = 0x02; // value 128 (chunk 2, low): nibble 2
  block[16 + 0] = 1 << 4; // value 128's fifth bit: qh[0] bit 2·2 → q 18
  block[48 + 64 + 7] = 0x90; // value 167 (chunk 2, high, l = 7): nibble 9
  block[16 + 7] = 1 << 5; // its fifth bit: qh[7] bit 2·2 + 1 → q 25
  const values = dequantizeGgml(block, "q5_K", new Float64Array(256));
  // value = d · sc · q − dmin · m
  assert.strictEqual(values[0], 5 * 7 - 0.5 * 3);
  assert.strictEqual(values[128], 33 * 18 - 0.5 * 20);
  assert.strictEqual(values[167], 35 * 25 - 0.5 * 22);
  assert.strictEqual(values[1], -0.5 * 3); // q 0 gives −dmin·m
});

/** The largest error a round trip may make, for one block of values, by format. */
function errorBound(type: GgmlType, block: Float64Array): number {
  const amax = Math.max(...block.map(Math.abs));
  switch (type) {
    case "q4_0": // step amax / 8; the largest positive value may clamp from q 16 to 15
      return (amax / 8) * 1.002;
    case "q8_0": // half a step of amax / 127 (f16 rounding of d: 1.001)
      return (amax / 127 / 2) * 1.002;
    case "q6_K": // per 16 values a step ≈ sub-block max / 32, the step itself rounded to 1/128
      return amax / 32 + amax / 256;
    case "q5_K": { // per 32 values a step ≈ range / 31; scale and min rounded to 1/63
      const range = Math.max(...block) - Math.min(0, ...block);
      return range / 31 + range / 63;
    }
  }
}

for (const type of GGML_TYPES) {
  Deno.test(`quantizeGgml('${type}') round-trips within the format's error bound`, () => {
    const { values: perBlock } = GGML_BLOCKS[type];
    const values = uniform(4 * perBlock, -3, 3, 11);
    values.fill(0, perBlock, perBlock + 7); // some exact zeros
    for (let i = 2 * perBlock; i < 3 * perBlock; i++) values[i] *= 1e-3; // a small-scale block
    const bytes = quantizeGgml(values, type);
    assert.strictEqual(bytes.length, ggmlRowBytes(type, values.length));
    const back = dequantizeGgml(bytes, type, new Float64Array(values.length));
    let squared = 0;
    for (let b = 0; b < 4; b++) {
      const block = values.subarray(b * perBlock, (b + 1) * perBlock);
      const bound = errorBound(type, block);
      for (let i = 0; i < perBlock; i++) {
        const e = b * perBlock + i;
        const error = Math.abs(back[e] - values[e]);
        squared += error * error;
        assert.ok(error <= bound, `${type} value ${e}: ${values[e]} came back ${back[e]}`);
      }
    }
    // And the typical error is well inside the bound (uniform data, RMS value √3).
    const rms = Math.sqrt(squared / values.length) / Math.sqrt(3);
    const typical = { q4_0: 0.06, q8_0: 0.004, q6_K: 0.015, q5_K: 0.03 }[type];
    assert.ok(rms < typical, `${type}: relative RMS error ${rms}`);
  });
}

Deno.test("quantizeGgml() of all zeros gives zero scales and dequantizes to zeros", () => {
  for (const type of GGML_TYPES) {
    const back = dequantizeGgml(quantizeGgml(new Float32Array(256), type), type);
    assert.ok(back.every((v) => v === 0), type);
  }
});

Deno.test("quantizeGgml() is the same for a matrix and for its rows one by one", () => {
  const values = uniform(3 * 512, -1, 1, 5);
  for (const type of GGML_TYPES) {
    const whole = quantizeGgml(values, type);
    const rows = [0, 1, 2].map((r) => quantizeGgml(values.subarray(r * 512, (r + 1) * 512), type));
    assert.deepStrictEqual(whole, new Uint8Array(rows.flatMap((row) => [...row])), type);
  }
});

Deno.test("dequantizeGgml() reads blocks from a view at an offset into a larger buffer", () => {
  const bytes = quantizeGgml(uniform(64, -1, 1, 9), "q4_0");
  const file = new Uint8Array(7 + bytes.length);
  file.set(bytes, 7);
  assert.deepStrictEqual(
    dequantizeGgml(file.subarray(7), "q4_0"),
    dequantizeGgml(bytes, "q4_0"),
  );
});

Deno.test("quantizeGgml() and dequantizeGgml() refuse bad types, counts, values and outputs", () => {
  assert.throws(() => quantizeGgml([1], "q4_1" as GgmlType), TypeError);
  assert.throws(
    () => quantizeGgml(new Float32Array(255), "q6_K"),
    /^RangeError: Cannot quantize: 255 values, expected a positive multiple of 256 \(the q6_K block\)$/,
  );
  const nan = new Float32Array(32);
  nan[3] = NaN;
  assert.throws(() => quantizeGgml(nan, "q8_0"), /value 3 is NaN, expected a finite number/);
  assert.throws(
    () => quantizeGgml(new Float32Array(32).fill(1e7), "q8_0"),
    /the q8_0 scale at 0 is .*past the f16 range/,
  );
  assert.throws(
    () => dequantizeGgml(new Uint8Array(35), "q8_0"),
    /^RangeError: Cannot dequantize: 35 bytes, expected whole q8_0 blocks of 34 bytes$/,
  );
  assert.throws(
    () => dequantizeGgml(new Uint8Array(34), "q8_0", new Float32Array(31)),
    /the output holds 31 values, expected at least 32/,
  );
  assert.throws(() => ggmlRowBytes("q4_0", 48), /"cols" is 48, expected a positive multiple of 32/);
});
