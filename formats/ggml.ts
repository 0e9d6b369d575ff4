// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * GGUF / GGML block formats on the host: quantize f32 values into blocks byte-compatible with
 * a GGUF file's tensor data, and dequantize such blocks back. The GGML kernels
 * (`ops/quantized_matmul_ggml.ts`) read exactly these bytes, so weights taken from a model
 * file can be uploaded as they are, and weights made here can be written to one.
 *
 * A row of a weight matrix `[N, K]` is `K / values` consecutive blocks; the matrix is its rows
 * one after the other (so quantizing the whole matrix at once gives the same bytes as
 * quantizing it row by row). The formats, all little-endian, `f16` = IEEE half:
 *
 * | type | values | bytes | fields in order | value `e` of the block |
 * | --- | --- | --- | --- | --- |
 * | `q4_0` | 32 | 18 | f16 `d`, `qs[16]` | `d·(q − 8)`; `q` = low nibble of `qs[e]` (e < 16) or high nibble of `qs[e − 16]` |
 * | `q8_0` | 32 | 34 | f16 `d`, int8 `qs[32]` | `d·qs[e]` |
 * | `q5_K` | 256 | 176 | f16 `d`, f16 `dmin`, `scales[12]`, `qh[32]`, `qs[128]` | `d·sc_j·q − dmin·m_j`, sub-block `j = e / 32`, 5-bit `q` |
 * | `q6_K` | 256 | 210 | `ql[128]`, `qh[64]`, int8 `scales[16]`, f16 `d` | `d·scales[e / 16]·(q − 32)`, 6-bit `q` |
 *
 * Q5_K: the 6-bit scale `sc_j` and min `m_j` of the eight 32-value sub-blocks are packed in
 * `scales[12]`: for `j < 4` in the low 6 bits of `scales[j]` and `scales[j + 4]`; for `j ≥ 4`
 * their low 4 bits in the two nibbles of `scales[j + 4]` and their top 2 bits in the top bits
 * of `scales[j − 4]` and `scales[j]`. Values come in four 64-value chunks `c`: `qs[32c + l]`
 * holds value `64c + l` in its low nibble and `64c + 32 + l` in its high nibble, and bit
 * `2c` (resp. `2c + 1`) of `qh[l]` is their fifth bit.
 *
 * Q6_K: two 128-value halves `h`; with `l < 32`, value `128h + l + 32i` (`i = 0..3`) takes
 * its low 4 bits from `ql[64h + l]` (i = 0), `ql[64h + l + 32]` (1), the high nibble of
 * `ql[64h + l]` (2) or of `ql[64h + l + 32]` (3), and its top 2 bits from bits `2i, 2i + 1` of
 * `qh[32h + l]`.
 *
 * The quantizers: Q4_0 maps the block's value of largest magnitude to −8 (`d = v / −8`),
 * Q8_0 the largest magnitude to ±127; Q6_K does the same per 16-value sub-block (to −32) and
 * stores the sub-block scales as int8 multiples of one f16 `d` (rounded up in magnitude); Q5_K spans each 32-value
 * sub-block's range `[min(0, lo), hi]` with 31 steps and stores the 6-bit scales and mins as
 * multiples of `d` and `dmin`. Every value is rounded to the nearest step.
 *
 * @example Usage
 * ```ts
 * import { dequantizeGgml, GGML_BLOCKS, quantizeGgml } from "./ggml.ts";
 * import assert from "node:assert";
 *
 * const values = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i));
 * const blocks = quantizeGgml(values, "q8_0");
 * assert.strictEqual(blocks.length, 2 * GGML_BLOCKS.q8_0.bytes);
 * const back = dequantizeGgml(blocks, "q8_0");
 * assert.ok(back.every((v, i) => Math.abs(v - values[i]) < 1 / 127));
 * ```
 *
 * @module
 */

/** A GGML block type, spelled as in GGML's type names (`GGML_TYPE_Q6_K` is `"q6_K"`). */
export type GgmlType = "q4_0" | "q8_0" | "q5_K" | "q6_K";

/** The shape of one block type. */
export interface GgmlBlockLayout {
  /** Values per block (the K granularity of a row). */
  readonly values: number;
  /** Bytes per block on disk and in a buffer. */
  readonly bytes: number;
  /** The type's number in a GGUF tensor-info record (`ggml_type`). */
  readonly ggufType: number;
}

/** Values and bytes per block of each {@linkcode GgmlType}, and its GGUF type number. */
export const GGML_BLOCKS: Readonly<Record<GgmlType, GgmlBlockLayout>> = Object.freeze({
  q4_0: Object.freeze({ values: 32, bytes: 18, ggufType: 2 }),
  q8_0: Object.freeze({ values: 32, bytes: 34, ggufType: 8 }),
  q5_K: Object.freeze({ values: 256, bytes: 176, ggufType: 13 }),
  q6_K: Object.freeze({ values: 256, bytes: 210, ggufType: 14 }),
});

/** Every {@linkcode GgmlType}, in {@linkcode GGML_BLOCKS} order. */
export const GGML_TYPES: readonly GgmlType[] = Object.freeze(
  Object.keys(GGML_BLOCKS) as GgmlType[],
);

function layoutOf(subject: string, type: unknown): GgmlBlockLayout {
  if (typeof type !== "string" || !Object.hasOwn(GGML_BLOCKS, type)) {
    throw new TypeError(
      `Cannot ${subject}: "type" is ${JSON.stringify(type)}, expected one of ${
        GGML_TYPES.map((t) => `"${t}"`).join(", ")
      }`,
    );
  }
  return GGML_BLOCKS[type as GgmlType];
}

/**
 * Bytes of one row of `cols` values in a block format.
 *
 * @param type The block type.
 * @param cols Values per row: a positive multiple of the type's block size.
 * @returns `cols / values · bytes`.
 * @throws {TypeError} For an unknown type.
 * @throws {RangeError} When `cols` is not a positive multiple of the block size.
 *
 * @example Usage
 * ```ts
 * import { ggmlRowBytes } from "./ggml.ts";
 * import assert from "node:assert";
 *
 * assert.strictEqual(ggmlRowBytes("q4_0", 4096), 128 * 18);
 * assert.strictEqual(ggmlRowBytes("q6_K", 4096), 16 * 210);
 * ```
 */
export function ggmlRowBytes(type: GgmlType, cols: number): number {
  const layout = layoutOf("size a GGML row", type);
  if (!Number.isInteger(cols) || cols < 1 || cols % layout.values !== 0) {
    throw new RangeError(
      `Cannot size a GGML row: "cols" is ${cols}, expected a positive multiple of ${layout.values} (the ${type} block)`,
    );
  }
  return (cols / layout.values) * layout.bytes;
}

const f32 = Math.fround;

/** Rounds half away from zero, as C's `roundf`. */
function roundAway(x: number): number {
  return Math.sign(x) * Math.floor(Math.abs(x) + 0.5);
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

/** Stores `value` as an f16 and returns the stored value; refuses values past the half range. */
function putHalf(view: DataView, at: number, value: number, what: () => string): number {
  const half = Math.f16round(value);
  if (!Number.isFinite(half)) {
    throw new RangeError(`Cannot quantize: ${what()} is ${value}, past the f16 range (±65504)`);
  }
  view.setFloat16(at, half, true);
  return half;
}

const halfBits = new DataView(new ArrayBuffer(2));

/**
 * The f16 nearest `value` whose magnitude is at least `|value|`: a K-quant super-scale rounded
 * down would push its largest sub-block past the int range (it matters for tiny blocks, whose
 * scales are f16 subnormals with few significant bits).
 */
function halfAtLeast(value: number): number {
  const half = Math.f16round(value);
  if (Math.abs(half) >= Math.abs(value)) return half;
  halfBits.setFloat16(0, half);
  halfBits.setUint16(0, halfBits.getUint16(0) + 1); // one ulp further from zero
  return halfBits.getFloat16(0);
}

/** The value of largest magnitude (the first of equal magnitudes), signed. */
function signedMax(values: ArrayLike<number>, from: number, count: number): number {
  let best = 0;
  for (let i = from; i < from + count; i++) {
    if (Math.abs(values[i]) > Math.abs(best)) best = values[i];
  }
  return best;
}

function quantizeQ4Zero(x: ArrayLike<number>, at: number, view: DataView, out: number): void {
  const d = putHalf(view, out, f32(signedMax(x, at, 32) / -8), () => `the q4_0 scale at ${at}`);
  const inverse = d === 0 ? 0 : 1 / d;
  for (let j = 0; j < 16; j++) {
    const lo = clamp(Math.floor(x[at + j] * inverse + 8.5), 0, 15);
    const hi = clamp(Math.floor(x[at + j + 16] * inverse + 8.5), 0, 15);
    view.setUint8(out + 2 + j, lo | (hi << 4));
  }
}

function quantizeQ8Zero(x: ArrayLike<number>, at: number, view: DataView, out: number): void {
  const d = putHalf(
    view,
    out,
    f32(Math.abs(signedMax(x, at, 32)) / 127),
    () => `the q8_0 scale at ${at}`,
  );
  const inverse = d === 0 ? 0 : 1 / d;
  for (let j = 0; j < 32; j++) {
    view.setInt8(out + 2 + j, clamp(roundAway(x[at + j] * inverse), -127, 127));
  }
}

function quantizeQ6K(x: ArrayLike<number>, at: number, view: DataView, out: number): void {
  // Sub-block scales with the sub-block's largest magnitude at -32, then one f16 d putting the
  // largest sub-block scale at -128 (the int8 end with the wider range).
  const sub = new Float64Array(16);
  for (let j = 0; j < 16; j++) sub[j] = signedMax(x, at + 16 * j, 16) / -32;
  const biggest = signedMax(sub, 0, 16);
  const d = putHalf(view, out + 208, halfAtLeast(biggest / -128), () => `the q6_K scale at ${at}`);
  const q = new Uint8Array(256);
  for (let j = 0; j < 16; j++) {
    const sc = d === 0 ? 0 : clamp(roundAway(sub[j] / d), -128, 127);
    view.setInt8(out + 192 + j, sc);
    const step = d * sc;
    for (let i = 0; i < 16; i++) {
      const e = 16 * j + i;
      q[e] = step === 0 ? 32 : clamp(roundAway(x[at + e] / step), -32, 31) + 32;
    }
  }
  for (let h = 0; h < 2; h++) {
    for (let l = 0; l < 32; l++) {
      const [q0, q1, q2, q3] = [0, 1, 2, 3].map((i) => q[128 * h + l + 32 * i]);
      view.setUint8(out + 64 * h + l, (q0 & 15) | ((q2 & 15) << 4));
      view.setUint8(out + 64 * h + l + 32, (q1 & 15) | ((q3 & 15) << 4));
      view.setUint8(
        out + 128 + 32 * h + l,
        (q0 >> 4) | ((q1 >> 4) << 2) | ((q2 >> 4) << 4) | ((q3 >> 4) << 6),
      );
    }
  }
}

function quantizeQ5K(x: ArrayLike<number>, at: number, view: DataView, out: number): void {
  // Per 32-value sub-block: x ≈ scale·q − min with q in 0..31 over [min(0, lo), hi].
  const scale = new Float64Array(8);
  const min = new Float64Array(8);
  for (let j = 0; j < 8; j++) {
    let lo = 0;
    let hi = -Infinity;
    for (let i = 0; i < 32; i++) {
      const v = x[at + 32 * j + i];
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    scale[j] = Math.max(0, hi - lo) / 31;
    min[j] = -lo;
  }
  const d = putHalf(
    view,
    out,
    halfAtLeast(Math.max(...scale) / 63),
    () => `the q5_K scale at ${at}`,
  );
  const dmin = putHalf(
    view,
    out + 2,
    halfAtLeast(Math.max(...min) / 63),
    () => `the q5_K min at ${at}`,
  );
  const sc = scale.map((s) => d === 0 ? 0 : clamp(Math.round(s / d), 0, 63));
  const m = min.map((v) => dmin === 0 ? 0 : clamp(Math.round(v / dmin), 0, 63));
  for (let j = 0; j < 4; j++) {
    view.setUint8(out + 4 + j, (sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
    view.setUint8(out + 4 + j + 4, (m[j] & 63) | ((m[j + 4] >> 4) << 6));
    view.setUint8(out + 4 + j + 8, (sc[j + 4] & 15) | ((m[j + 4] & 15) << 4));
  }
  const q = new Uint8Array(256);
  for (let j = 0; j < 8; j++) {
    const step = d * sc[j];
    const offset = dmin * m[j];
    for (let i = 0; i < 32; i++) {
      const e = 32 * j + i;
      q[e] = step === 0 ? 0 : clamp(Math.round((x[at + e] + offset) / step), 0, 31);
    }
  }
  for (let c = 0; c < 4; c++) {
    for (let l = 0; l < 32; l++) {
      const lo = q[64 * c + l];
      const hi = q[64 * c + 32 + l];
      view.setUint8(out + 48 + 32 * c + l, (lo & 15) | ((hi & 15) << 4));
      const bits = view.getUint8(out + 16 + l) | ((lo >> 4) << (2 * c)) |
        ((hi >> 4) << (2 * c + 1));
      view.setUint8(out + 16 + l, bits);
    }
  }
}

const QUANTIZERS: Record<
  GgmlType,
  (x: ArrayLike<number>, at: number, view: DataView, out: number) => void
> = { "q4_0": quantizeQ4Zero, "q8_0": quantizeQ8Zero, "q5_K": quantizeQ5K, "q6_K": quantizeQ6K };

/**
 * Quantizes values into GGML blocks: `values.length / values-per-block` blocks, one after the
 * other (a row-major `[N, K]` matrix with K a multiple of the block size gives its rows'
 * blocks in order, as in a GGUF file).
 *
 * @param values The values (f32 or f64; each block's scale is rounded to f16).
 * @param type The block type.
 * @returns The blocks' bytes.
 * @throws {TypeError} For an unknown type.
 * @throws {RangeError} When the count is not a positive multiple of the block size, a value
 * is not finite, or a block's scale does not fit in an f16.
 *
 * @example Usage
 * ```ts
 * import { quantizeGgml } from "./ggml.ts";
 * import assert from "node:assert";
 *
 * // One Q4_0 block: the largest magnitude, -8, gives d = 1 (f16 0x3c00), so q = v + 8.
 * const values = Array.from({ length: 32 }, (_, i) => (i % 16) - 8);
 * const bytes = quantizeGgml(values, "q4_0");
 * assert.deepStrictEqual([...bytes.subarray(0, 4)], [0x00, 0x3c, 0x00, 0x11]);
 * ```
 */
export function quantizeGgml(values: ArrayLike<number>, type: GgmlType): Uint8Array {
  const layout = layoutOf("quantize", type);
  const count = values?.length;
  if (!Number.isInteger(count) || count < 1 || count % layout.values !== 0) {
    throw new RangeError(
      `Cannot quantize: ${count} values, expected a positive multiple of ${layout.values} (the ${type} block)`,
    );
  }
  for (let i = 0; i < count; i++) {
    if (!Number.isFinite(values[i])) {
      throw new RangeError(`Cannot quantize: value ${i} is ${values[i]}, expected a finite number`);
    }
  }
  const blocks = count / layout.values;
  const bytes = new Uint8Array(blocks * layout.bytes);
  const view = new DataView(bytes.buffer);
  const quantize = QUANTIZERS[type];
  for (let b = 0; b < blocks; b++) quantize(values, b * layout.values, view, b * layout.bytes);
  return bytes;
}

function dequantizeQ4Zero(
  view: DataView,
  at: number,
  out: Float32Array | Float64Array,
  to: number,
) {
  const d = view.getFloat16(at, true);
  for (let j = 0; j < 16; j++) {
    const byte = view.getUint8(at + 2 + j);
    out[to + j] = d * ((byte & 15) - 8);
    out[to + j + 16] = d * ((byte >> 4) - 8);
  }
}

function dequantizeQ8Zero(
  view: DataView,
  at: number,
  out: Float32Array | Float64Array,
  to: number,
) {
  const d = view.getFloat16(at, true);
  for (let j = 0; j < 32; j++) out[to + j] = d * view.getInt8(at + 2 + j);
}

/** The 6-bit scale and min of Q5_K sub-block `j` (0..7) from the 12 packed bytes at `at`. */
function unpackQ5KScale(
  view: DataView,
  at: number,
  j: number,
): readonly [scale: number, min: number] {
  const s = (i: number) => view.getUint8(at + i);
  return j < 4
    ? [s(j) & 63, s(j + 4) & 63]
    : [(s(j + 4) & 15) | ((s(j - 4) >> 6) << 4), (s(j + 4) >> 4) | ((s(j) >> 6) << 4)];
}

function dequantizeQ5K(view: DataView, at: number, out: Float32Array | Float64Array, to: number) {
  const d = view.getFloat16(at, true);
  const dmin = view.getFloat16(at + 2, true);
  for (let c = 0; c < 4; c++) {
    const [sc0, m0] = unpackQ5KScale(view, at + 4, 2 * c);
    const [sc1, m1] = unpackQ5KScale(view, at + 4, 2 * c + 1);
    for (let l = 0; l < 32; l++) {
      const byte = view.getUint8(at + 48 + 32 * c + l);
      const high = view.getUint8(at + 16 + l);
      const q0 = (byte & 15) | (((high >> (2 * c)) & 1) << 4);
      const q1 = (byte >> 4) | (((high >> (2 * c + 1)) & 1) << 4);
      out[to + 64 * c + l] = d * sc0 * q0 - dmin * m0;
      out[to + 64 * c + 32 + l] = d * sc1 * q1 - dmin * m1;
    }
  }
}

function dequantizeQ6K(view: DataView, at: number, out: Float32Array | Float64Array, to: number) {
  const d = view.getFloat16(at + 208, true);
  for (let h = 0; h < 2; h++) {
    for (let l = 0; l < 32; l++) {
      const a = view.getUint8(at + 64 * h + l);
      const b = view.getUint8(at + 64 * h + l + 32);
      const high = view.getUint8(at + 128 + 32 * h + l);
      const q = [
        (a & 15) | ((high & 3) << 4),
        (b & 15) | (((high >> 2) & 3) << 4),
        (a >> 4) | (((high >> 4) & 3) << 4),
        (b >> 4) | (((high >> 6) & 3) << 4),
      ];
      for (let i = 0; i < 4; i++) {
        const e = 128 * h + l + 32 * i;
        out[to + e] = d * view.getInt8(at + 192 + (e >> 4)) * (q[i] - 32);
      }
    }
  }
}

const DEQUANTIZERS: Record<
  GgmlType,
  (view: DataView, at: number, out: Float32Array | Float64Array, to: number) => void
> = {
  "q4_0": dequantizeQ4Zero,
  "q8_0": dequantizeQ8Zero,
  "q5_K": dequantizeQ5K,
  "q6_K": dequantizeQ6K,
};

/**
 * Dequantizes GGML blocks: every block of `bytes` (which may be a view into a larger buffer,
 * e.g. a tensor inside a GGUF file read into memory). Each value is computed exactly (in f64)
 * and stored in the output array, so a `Float64Array` output gets the exact block values and a
 * `Float32Array` the nearest f32.
 *
 * @param bytes Whole blocks.
 * @param type The block type.
 * @param output Where to write (`bytes.length / bytes-per-block · values` elements, at least);
 * a new `Float32Array` when omitted.
 * @returns `output`, or the new array.
 * @throws {TypeError} For an unknown type.
 * @throws {RangeError} When `bytes` is not a whole number of blocks or `output` is too short.
 *
 * @example Usage
 * ```ts
 * import { dequantizeGgml } from "./ggml.ts";
 * import assert from "node:assert";
 *
 * // A Q8_0 block: d = 0.5 (f16 0x3800), then 32 int8 quants.
 * const block = new Uint8Array(34);
 * block.set([0x00, 0x38, 3, 0xfe]); // q[0] = 3, q[1] = -2
 * const values = dequantizeGgml(block, "q8_0");
 * assert.deepStrictEqual([...values.subarray(0, 3)], [1.5, -1, 0]);
 * ```
 */
export function dequantizeGgml<O extends Float32Array | Float64Array = Float32Array>(
  bytes: Uint8Array,
  type: GgmlType,
  output?: O,
): O {
  const layout = layoutOf("dequantize", type);
  if (!(bytes instanceof Uint8Array) || bytes.length % layout.bytes !== 0) {
    throw new RangeError(
      `Cannot dequantize: ${
        bytes instanceof Uint8Array ? `${bytes.length} bytes` : "not a Uint8Array"
      }, expected whole ${type} blocks of ${layout.bytes} bytes`,
    );
  }
  const blocks = bytes.length / layout.bytes;
  const out = output ?? new Float32Array(blocks * layout.values);
  if (out.length < blocks * layout.values) {
    throw new RangeError(
      `Cannot dequantize: the output holds ${out.length} values, expected at least ${
        blocks * layout.values
      } (${blocks} ${type} blocks)`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dequantize = DEQUANTIZERS[type];
  for (let b = 0; b < blocks; b++) dequantize(view, b * layout.bytes, out, b * layout.values);
  return out as O;
}
