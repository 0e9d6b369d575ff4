// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * MLX's affine quantization format, on the host: quantize an f32 matrix to 4, 6 or 8 bits
 * with one bf16 scale and bias per group of 32, 64 or 128 consecutive values of a row, pack
 * it byte for byte as MLX stores it (so weights read from an MLX `safetensors` file bind
 * as they are), and unpack or dequantize it back.
 *
 * The layout, for a `[rows, cols]` matrix (an MLX linear layer's weight is `[N, K]`: one
 * row per output feature):
 * - **weights**: each row is a little-endian bit stream of `cols` codes of `bits` bits,
 *   code `j` at bit `j · bits` of the row (least significant bit first): 8 codes per u32
 *   word at 4 bits, 4 per word at 8 bits, 4 codes per 3 bytes at 6 bits. A row is
 *   `cols · bits / 8` bytes (whole u32 words, since `cols` is a multiple of the group).
 * - **scales**, **biases**: `[rows, cols / groupSize]` bf16 bit patterns (`Uint16Array`).
 * - Value `j` of row `r` is `scale · code + bias` with the scale and bias of group
 *   `j / groupSize` of that row.
 *
 * Quantization follows MLX's `affine_quantize`: per group, with `n = 2^bits − 1`, the
 * scale is `(max − min) / n` (at least 1e-7) signed so that the edge of larger magnitude
 * maps to a whole code, then nudged so that this edge is exact and zero stays
 * representable; the bias is that edge (or 0). Codes are `round((value − bias) / scale)`
 * clamped to `[0, n]`, computed with the f32 scale and bias; the stored scale and bias are
 * then rounded to bf16. Rounding is half to even (MLX's `round`).
 *
 * The GGUF block formats (Q4_0, Q8_0, Q6_K, Q5_K) live beside this in `formats/ggml.ts`.
 *
 * @example Usage
 * ```ts
 * import { dequantizeAffine, quantizeAffine } from "./affine.ts";
 * import assert from "node:assert";
 *
 * const values = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i));
 * const matrix = quantizeAffine(values, { rows: 1, cols: 64, bits: 8, groupSize: 32 });
 * assert.strictEqual(matrix.weights.byteLength, 64); // 8 bits per value
 * assert.strictEqual(matrix.scales.length, 2); // one bf16 scale per group of 32
 * const back = dequantizeAffine(matrix);
 * assert.ok(back.every((v, i) => Math.abs(v - values[i]) < 0.01));
 * ```
 *
 * @module
 */
import { bf16BitsToF32, bf16Round, f32ToBf16Bits } from "../dtype.ts";

/** Bits per code of an MLX affine matrix: 4, 6 or 8. */
export type AffineBits = 4 | 6 | 8;

/** Values per scale/bias pair along a row: 32, 64 or 128 (MLX's default is 64). */
export type AffineGroupSize = 32 | 64 | 128;

/** The bit widths {@linkcode quantizeAffine} supports. */
export const AFFINE_BITS: readonly AffineBits[] = Object.freeze([4, 6, 8]);

/** The group sizes {@linkcode quantizeAffine} supports. */
export const AFFINE_GROUP_SIZES: readonly AffineGroupSize[] = Object.freeze([32, 64, 128]);

/** The shape and format of an MLX affine matrix. */
export interface AffineShape {
  /** Rows (output features of a linear layer, or vocabulary entries of an embedding). */
  rows: number;
  /** Values per row (input features, or the embedding width); a multiple of `groupSize`. */
  cols: number;
  /** Bits per code. */
  bits: AffineBits;
  /** Values per scale/bias pair. */
  groupSize: AffineGroupSize;
}

/** A matrix in MLX affine format: packed codes plus bf16 scales and biases. */
export interface AffineMatrix extends AffineShape {
  /** `rows · rowBytes` bytes of packed codes (see the module documentation). */
  weights: Uint8Array;
  /** `[rows, cols / groupSize]` bf16 bit patterns. */
  scales: Uint16Array;
  /** `[rows, cols / groupSize]` bf16 bit patterns. */
  biases: Uint16Array;
}

/** Byte sizes of an MLX affine matrix, for allocating or binding its buffers. */
export interface AffineLayout {
  /** Bytes of one packed row: `cols · bits / 8`. */
  rowBytes: number;
  /** Scale/bias pairs per row: `cols / groupSize`. */
  groupsPerRow: number;
  /** Bytes of all packed rows. */
  weightBytes: number;
  /** Bytes of the scales (and, equally, of the biases). */
  scaleBytes: number;
}

/** How {@linkcode dequantizeAffine} rounds each value. */
export interface DequantizeAffineOptions {
  /**
   * `"f32"`: `scale · code + bias` rounded once to f32. `"bf16"`: then rounded to bf16, as
   * MLX's dequantize of a bf16 model and the scalar `quantized_matmul` kernel do.
   *
   * @default {"f32"}
   */
  rounding?: "f32" | "bf16";
}

/**
 * Checks an affine shape and returns its byte sizes.
 *
 * @param shape Rows, columns, bits and group size.
 * @returns The byte sizes of its buffers.
 * @throws {RangeError} For bits or a group size MLX does not define here, rows or columns
 * that are not positive integers, or columns that are not a multiple of the group size.
 *
 * @example Usage
 * ```ts
 * import { affineLayout } from "./affine.ts";
 * import assert from "node:assert";
 *
 * // A 4-bit [14336, 4096] projection with groups of 64.
 * const layout = affineLayout({ rows: 14336, cols: 4096, bits: 4, groupSize: 64 });
 * assert.strictEqual(layout.rowBytes, 2048);
 * assert.strictEqual(layout.groupsPerRow, 64);
 * assert.strictEqual(layout.scaleBytes, 14336 * 64 * 2);
 * ```
 */
export function affineLayout(shape: AffineShape): AffineLayout {
  const { rows, cols, bits, groupSize } = shape;
  if (!AFFINE_BITS.includes(bits)) {
    throw new RangeError(`Cannot use the affine format: "bits" is ${bits}, expected 4, 6 or 8`);
  }
  if (!AFFINE_GROUP_SIZES.includes(groupSize)) {
    throw new RangeError(
      `Cannot use the affine format: "groupSize" is ${groupSize}, expected 32, 64 or 128`,
    );
  }
  for (const [name, value] of [["rows", rows], ["cols", cols]] as const) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(
        `Cannot use the affine format: "${name}" is ${value}, expected a positive integer`,
      );
    }
  }
  if (cols % groupSize !== 0) {
    throw new RangeError(
      `Cannot use the affine format: "cols" is ${cols}, expected a multiple of the group size ${groupSize}`,
    );
  }
  const rowBytes = cols * bits / 8;
  const groupsPerRow = cols / groupSize;
  return {
    rowBytes,
    groupsPerRow,
    weightBytes: rows * rowBytes,
    scaleBytes: rows * groupsPerRow * 2,
  };
}

/** Round half to even (MLX's and NumPy's `round`). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Quantizes a row-major f32 matrix to MLX affine format (the rule is in the module
 * documentation). Values are read as f32.
 *
 * @param values `rows · cols` values, row-major.
 * @param shape Rows, columns, bits and group size.
 * @returns The packed matrix.
 * @throws {RangeError} For unsupported bits or group size, a bad shape, too few values, or
 * a value that is not finite.
 *
 * @example Usage
 * ```ts
 * import { affineCodes, quantizeAffine } from "./affine.ts";
 * import assert from "node:assert";
 *
 * // 0..31 in one group of 32 at 6 bits. The larger edge, 31, becomes the bias and the
 * // scale is −31/63: code 0 is 31 and code 63 is 0, both exact.
 * const values = Float32Array.from({ length: 32 }, (_, i) => i);
 * const matrix = quantizeAffine(values, { rows: 1, cols: 32, bits: 6, groupSize: 32 });
 * assert.strictEqual(matrix.weights.byteLength, 24); // 4 codes per 3 bytes
 * const codes = affineCodes(matrix);
 * assert.strictEqual(codes[0], 63);
 * assert.strictEqual(codes[31], 0);
 * ```
 */
export function quantizeAffine(values: ArrayLike<number>, shape: AffineShape): AffineMatrix {
  const { rowBytes, groupsPerRow, weightBytes } = affineLayout(shape);
  const { rows, cols, bits, groupSize } = shape;
  if (values.length < rows * cols) {
    throw new RangeError(
      `Cannot quantizeAffine: ${values.length} values, expected at least ${
        rows * cols
      } (rows ${rows} × cols ${cols})`,
    );
  }
  const levels = 2 ** bits - 1;
  const weights = new Uint8Array(weightBytes);
  const scales = new Uint16Array(rows * groupsPerRow);
  const biases = new Uint16Array(rows * groupsPerRow);
  const f32 = Math.fround;
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groupsPerRow; g++) {
      const start = r * cols + g * groupSize;
      let min = Infinity;
      let max = -Infinity;
      for (let i = 0; i < groupSize; i++) {
        const v = f32(values[start + i]);
        if (!Number.isFinite(v)) {
          throw new RangeError(
            `Cannot quantizeAffine: value [${r}][${
              g * groupSize + i
            }] is ${v}, expected a finite number`,
          );
        }
        if (v < min) min = v;
        if (v > max) max = v;
      }
      // MLX's rule, in f32: the edge of larger magnitude becomes an exact code.
      let scale = Math.max(f32(f32(max - min) / levels), f32(1e-7));
      const minSide = Math.abs(min) > Math.abs(max);
      if (!minSide) scale = -scale;
      const edge = minSide ? min : max;
      const q0 = roundHalfEven(f32(edge / scale));
      if (q0 !== 0) scale = f32(edge / q0);
      const bias = q0 === 0 ? 0 : edge;
      scales[r * groupsPerRow + g] = f32ToBf16Bits(scale);
      biases[r * groupsPerRow + g] = f32ToBf16Bits(bias);
      for (let i = 0; i < groupSize; i++) {
        const q = roundHalfEven(f32(f32(f32(values[start + i]) - bias) / scale));
        writeCode(weights, r * rowBytes, g * groupSize + i, bits, Math.min(levels, Math.max(0, q)));
      }
    }
  }
  return { rows, cols, bits, groupSize, weights, scales, biases };
}

/** ORs code `j` into the row starting at byte `base` (the row must start zeroed). */
function writeCode(bytes: Uint8Array, base: number, j: number, bits: number, code: number): void {
  const bit = j * bits;
  const byte = base + (bit >>> 3);
  const shift = bit & 7;
  bytes[byte] |= (code << shift) & 0xff;
  if (shift + bits > 8) bytes[byte + 1] |= code >>> (8 - shift);
}

/** Reads code `j` of the row starting at byte `base`. */
function readCode(bytes: Uint8Array, base: number, j: number, bits: number): number {
  const bit = j * bits;
  const byte = base + (bit >>> 3);
  const shift = bit & 7;
  let word = bytes[byte] >>> shift;
  if (shift + bits > 8) word |= bytes[byte + 1] << (8 - shift);
  return word & ((1 << bits) - 1);
}

function checkMatrix(subject: string, matrix: AffineMatrix): AffineLayout {
  const layout = affineLayout(matrix);
  const pairs = matrix.rows * layout.groupsPerRow;
  if (
    matrix.weights.byteLength < layout.weightBytes || matrix.scales.length < pairs ||
    matrix.biases.length < pairs
  ) {
    throw new RangeError(
      `Cannot ${subject}: weights ${matrix.weights.byteLength} bytes, scales ${matrix.scales.length} and biases ${matrix.biases.length} values, expected ${layout.weightBytes} bytes and ${pairs} values each`,
    );
  }
  return layout;
}

/**
 * Unpacks the codes of an affine matrix, one byte per value, row-major.
 *
 * @param matrix The packed matrix.
 * @returns `rows · cols` codes, each in `[0, 2^bits)`.
 * @throws {RangeError} For a bad shape or buffers shorter than it.
 *
 * @example Usage
 * ```ts
 * import { affineCodes } from "./affine.ts";
 * import assert from "node:assert";
 *
 * // Four 6-bit codes 1, 2, 3, 4 packed LSB first into 3 bytes, padded to one group of 32.
 * const weights = new Uint8Array(24);
 * weights.set([1 | (2 << 6), (2 >> 2) | (3 << 4), (3 >> 4) | (4 << 2)]);
 * const matrix = {
 *   rows: 1, cols: 32, bits: 6, groupSize: 32,
 *   weights, scales: new Uint16Array(1), biases: new Uint16Array(1),
 * } as const;
 * assert.deepStrictEqual([...affineCodes(matrix).subarray(0, 5)], [1, 2, 3, 4, 0]);
 * ```
 */
export function affineCodes(matrix: AffineMatrix): Uint8Array {
  const { rowBytes } = checkMatrix("affineCodes", matrix);
  const { rows, cols, bits, weights } = matrix;
  const codes = new Uint8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < cols; j++) codes[r * cols + j] = readCode(weights, r * rowBytes, j, bits);
  }
  return codes;
}

/**
 * Dequantizes an affine matrix: value `j` of row `r` is `scale · code + bias` with its
 * group's bf16 scale and bias.
 *
 * @param matrix The packed matrix.
 * @param options How to round each value.
 * @returns `rows · cols` values, row-major.
 * @throws {TypeError} For an unknown rounding.
 * @throws {RangeError} For a bad shape or buffers shorter than it.
 *
 * @example Usage
 * ```ts
 * import { dequantizeAffine, quantizeAffine } from "./affine.ts";
 * import assert from "node:assert";
 *
 * const values = Float32Array.from({ length: 128 }, (_, i) => (i % 16) / 8 - 1);
 * const matrix = quantizeAffine(values, { rows: 2, cols: 64, bits: 4, groupSize: 64 });
 * const back = dequantizeAffine(matrix, { rounding: "bf16" });
 * assert.ok(back.every((v, i) => Math.abs(v - values[i]) <= 0.07)); // half a 4-bit step
 * ```
 */
export function dequantizeAffine(
  matrix: AffineMatrix,
  options: DequantizeAffineOptions = {},
): Float32Array {
  const rounding = options.rounding ?? "f32";
  if (rounding !== "f32" && rounding !== "bf16") {
    throw new TypeError(
      `Cannot dequantizeAffine: "rounding" is ${
        JSON.stringify(rounding)
      }, expected "f32" or "bf16"`,
    );
  }
  const { rowBytes, groupsPerRow } = checkMatrix("dequantizeAffine", matrix);
  const { rows, cols, bits, groupSize, weights, scales, biases } = matrix;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groupsPerRow; g++) {
      const scale = bf16BitsToF32(scales[r * groupsPerRow + g]);
      const bias = bf16BitsToF32(biases[r * groupsPerRow + g]);
      for (let i = 0; i < groupSize; i++) {
        const j = g * groupSize + i;
        const value = Math.fround(scale * readCode(weights, r * rowBytes, j, bits) + bias);
        out[r * cols + j] = rounding === "bf16" ? bf16Round(value) : value;
      }
    }
  }
  return out;
}
