// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Element types of kernel buffers ({@linkcode DType}) and host-side conversions: sizes,
 * bfloat16 rounding (JavaScript has no bfloat16 array, so bf16 data lives in a
 * `Uint16Array` of raw bits), and typed-array encode/decode for every dtype. f16 uses the
 * built-in `Float16Array` and `Math.f16round`.
 *
 * @example Usage
 * ```ts
 * import { bf16BitsToF32, bytesPerElement, f32ToBf16Bits } from "./dtype.ts";
 * import assert from "node:assert";
 *
 * assert.strictEqual(bytesPerElement("bf16"), 2);
 * assert.strictEqual(f32ToBf16Bits(1), 0x3f80);
 * assert.strictEqual(bf16BitsToF32(0x4049), 3.140625);
 * ```
 *
 * @module
 */

/**
 * An element type of a kernel buffer, spelt as in kernel names (`softmax_bf16`):
 * `f32` float, `f16` half, `bf16` bfloat, `i32` int, `u32` uint.
 */
export type DType = "f32" | "f16" | "bf16" | "i32" | "u32";

/** The floating-point subset of {@linkcode DType}. */
export type FloatDType = "f32" | "f16" | "bf16";

/** Every {@linkcode DType}, in a fixed order. */
export const DTYPES: readonly DType[] = Object.freeze(["f32", "f16", "bf16", "i32", "u32"]);

const BYTES_PER_ELEMENT: Readonly<Record<DType, number>> = Object.freeze({
  f32: 4,
  f16: 2,
  bf16: 2,
  i32: 4,
  u32: 4,
});

/**
 * The typed array that holds one dtype's elements on the host: `Float32Array`,
 * `Float16Array`, `Uint16Array` (bf16 bits), `Int32Array` or `Uint32Array`.
 */
export type DTypeArray<D extends DType = DType> = D extends "f32" ? Float32Array
  : D extends "f16" ? Float16Array
  : D extends "bf16" ? Uint16Array
  : D extends "i32" ? Int32Array
  : D extends "u32" ? Uint32Array
  : never;

/**
 * Whether `value` names a {@linkcode DType}.
 *
 * @param value Anything.
 * @returns `true` for `"f32"`, `"f16"`, `"bf16"`, `"i32"` and `"u32"`.
 *
 * @example Usage
 * ```ts
 * import { isDType } from "./dtype.ts";
 * import assert from "node:assert";
 *
 * assert.ok(isDType("bf16"));
 * assert.ok(!isDType("f64"));
 * ```
 */
export function isDType(value: unknown): value is DType {
  return typeof value === "string" && Object.hasOwn(BYTES_PER_ELEMENT, value);
}

/**
 * The size of one element of `dtype` in bytes.
 *
 * @param dtype The element type.
 * @returns 4 for `f32`, `i32`, `u32`; 2 for `f16`, `bf16`.
 * @throws {TypeError} When `dtype` is not a {@linkcode DType}.
 *
 * @example Usage
 * ```ts
 * import { bytesPerElement } from "./dtype.ts";
 * import assert from "node:assert";
 *
 * assert.strictEqual(bytesPerElement("f16"), 2);
 * ```
 */
export function bytesPerElement(dtype: DType): number {
  if (!isDType(dtype)) {
    throw new TypeError(
      `Cannot size dtype ${JSON.stringify(dtype)}: expected one of ${
        DTYPES.map((d) => `"${d}"`).join(", ")
      }`,
    );
  }
  return BYTES_PER_ELEMENT[dtype];
}

// One shared scratch word for bit casts between f32 and u32.
const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/**
 * Rounds a number to bfloat16 and returns its 16 bits, as the GPU's `float → bfloat`
 * conversion does: the number is first rounded to f32, then to bf16 with
 * round-to-nearest-even. NaN stays NaN (quiet); values past the bf16 range become ±Infinity.
 *
 * @param value Any number.
 * @returns The bf16 bit pattern, 0 to 0xffff.
 *
 * @example Usage
 * ```ts
 * import { f32ToBf16Bits } from "./dtype.ts";
 * import assert from "node:assert";
 *
 * assert.strictEqual(f32ToBf16Bits(1), 0x3f80);
 * assert.strictEqual(f32ToBf16Bits(-2), 0xc000);
 * assert.strictEqual(f32ToBf16Bits(1 + 2 ** -8), 0x3f80); // tie: rounds to even
 * ```
 */
export function f32ToBf16Bits(value: number): number {
  scratchF32[0] = value;
  const bits = scratchU32[0];
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x007fffff) !== 0) {
    return ((bits >>> 16) | 0x0040) & 0xffff; // NaN: keep sign and top payload, set quiet bit
  }
  // Add half an ulp of bf16 minus one, plus the lowest kept bit: ties go to even.
  // Never exceeds 2^32 for non-NaN input; overflow past the largest finite gives Infinity.
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/**
 * The value of a bfloat16 bit pattern (exact: every bf16 is an f32).
 *
 * @param bits A bf16 bit pattern; only the low 16 bits are used.
 * @returns The number it encodes.
 *
 * @example Usage
 * ```ts
 * import { bf16BitsToF32 } from "./dtype.ts";
 * import assert from "node:assert";
 *
 * assert.strictEqual(bf16BitsToF32(0x3f80), 1);
 * assert.strictEqual(bf16BitsToF32(0xff80), -Infinity);
 * ```
 */
export function bf16BitsToF32(bits: number): number {
  scratchU32[0] = (bits & 0xffff) << 16;
  return scratchF32[0];
}

/**
 * Rounds a number to the nearest bfloat16 value (the bf16 twin of `Math.f16round`).
 *
 * @param value Any number.
 * @returns The nearest bf16 value, as a number.
 *
 * @example Usage
 * ```ts
 * import { bf16Round } from "./dtype.ts";
 * import assert from "node:assert";
 *
 * assert.strictEqual(bf16Round(Math.PI), 3.140625);
 * ```
 */
export function bf16Round(value: number): number {
  return bf16BitsToF32(f32ToBf16Bits(value));
}

/**
 * Encodes numbers as bfloat16 bits ({@linkcode f32ToBf16Bits} per element).
 *
 * @param values The numbers.
 * @returns A new `Uint16Array` of bf16 bit patterns.
 *
 * @example Usage
 * ```ts
 * import { toBf16Array } from "./dtype.ts";
 * import assert from "node:assert";
 *
 * assert.deepStrictEqual(toBf16Array([1, -2]), new Uint16Array([0x3f80, 0xc000]));
 * ```
 */
export function toBf16Array(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32ToBf16Bits(values[i]);
  return out;
}

/**
 * Decodes bfloat16 bits to numbers ({@linkcode bf16BitsToF32} per element).
 *
 * @param bits The bf16 bit patterns.
 * @returns A new `Float32Array` holding the same values exactly.
 *
 * @example Usage
 * ```ts
 * import { fromBf16Array } from "./dtype.ts";
 * import assert from "node:assert";
 *
 * assert.deepStrictEqual(fromBf16Array(new Uint16Array([0x3f80, 0xc000])), new Float32Array([1, -2]));
 * ```
 */
export function fromBf16Array(bits: ArrayLike<number>): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = bf16BitsToF32(bits[i]);
  return out;
}

/**
 * Rounds a number to the nearest value of `dtype`: `Math.fround` for f32, `Math.f16round`
 * for f16, {@linkcode bf16Round} for bf16; integer dtypes wrap like `Int32Array` /
 * `Uint32Array` stores (fraction truncated, modulo 2^32).
 *
 * @param dtype The element type.
 * @param value Any number.
 * @returns The value a buffer of `dtype` would hold.
 * @throws {TypeError} When `dtype` is not a {@linkcode DType}.
 *
 * @example Usage
 * ```ts
 * import { roundToDType } from "./dtype.ts";
 * import assert from "node:assert";
 *
 * assert.strictEqual(roundToDType("f16", 1 / 3), 0.333251953125);
 * assert.strictEqual(roundToDType("u32", -1), 4294967295);
 * ```
 */
export function roundToDType(dtype: DType, value: number): number {
  switch (dtype) {
    case "f32":
      return Math.fround(value);
    case "f16":
      return Math.f16round(value);
    case "bf16":
      return bf16Round(value);
    case "i32":
      return value | 0;
    case "u32":
      return value >>> 0;
    default:
      return bytesPerElement(dtype); // throws the TypeError for an unknown dtype
  }
}

/**
 * Encodes numbers into the host array type of `dtype` (see {@linkcode DTypeArray}):
 * ready for `device.newBuffer(...)`.
 *
 * @param dtype The element type.
 * @param values The numbers; rounded as {@linkcode roundToDType} does.
 * @returns A new typed array of `values.length` elements.
 * @throws {TypeError} When `dtype` is not a {@linkcode DType}.
 *
 * @example Usage
 * ```ts
 * import { toDTypeArray } from "./dtype.ts";
 * import assert from "node:assert";
 *
 * const bits = toDTypeArray("bf16", [1, 2]);
 * assert.ok(bits instanceof Uint16Array);
 * assert.deepStrictEqual([...bits], [0x3f80, 0x4000]);
 * ```
 */
export function toDTypeArray<D extends DType>(dtype: D, values: ArrayLike<number>): DTypeArray<D> {
  let out: DTypeArray;
  switch (dtype as DType) {
    case "f32":
      out = Float32Array.from(values);
      break;
    case "f16":
      out = Float16Array.from(values);
      break;
    case "bf16":
      out = toBf16Array(values);
      break;
    case "i32":
      out = Int32Array.from(values);
      break;
    case "u32":
      out = Uint32Array.from(values);
      break;
    default:
      bytesPerElement(dtype); // throws
      throw new TypeError("unreachable");
  }
  return out as DTypeArray<D>;
}

/**
 * Decodes `length` elements of `dtype` from raw bytes (for example a buffer's `contents`)
 * into numbers.
 *
 * @param dtype The element type of the bytes.
 * @param bytes An `ArrayBuffer` or a view of one; decoding starts at its first byte.
 * @param length How many elements to decode.
 * @returns A new `Float64Array` of the values (bf16 decoded exactly).
 * @throws {TypeError} When `dtype` is not a {@linkcode DType}.
 * @throws {RangeError} When the bytes hold fewer than `length` elements.
 *
 * @example Usage
 * ```ts
 * import { fromDTypeBytes } from "./dtype.ts";
 * import assert from "node:assert";
 *
 * const bytes = new Float16Array([0.5, -1]).buffer;
 * assert.deepStrictEqual(fromDTypeBytes("f16", bytes), new Float64Array([0.5, -1]));
 * ```
 */
export function fromDTypeBytes(
  dtype: DType,
  bytes: ArrayBuffer | ArrayBufferView,
  length?: number,
): Float64Array {
  const size = bytesPerElement(dtype);
  const buffer = ArrayBuffer.isView(bytes) ? bytes.buffer : bytes;
  const byteOffset = ArrayBuffer.isView(bytes) ? bytes.byteOffset : 0;
  const byteLength = ArrayBuffer.isView(bytes) ? bytes.byteLength : bytes.byteLength;
  const count = length ?? Math.floor(byteLength / size);
  if (!Number.isSafeInteger(count) || count < 0 || count * size > byteLength) {
    throw new RangeError(
      `Cannot decode ${count} ${dtype} elements: ${byteLength} bytes hold ${
        Math.floor(byteLength / size)
      }`,
    );
  }
  // Copy first: typed-array views need an aligned offset, the caller's view may not be.
  const copy = new Uint8Array(count * size);
  copy.set(new Uint8Array(buffer, byteOffset, count * size));
  switch (dtype) {
    case "f32":
      return Float64Array.from(new Float32Array(copy.buffer));
    case "f16":
      return Float64Array.from(new Float16Array(copy.buffer));
    case "bf16":
      return Float64Array.from(fromBf16Array(new Uint16Array(copy.buffer)));
    case "i32":
      return Float64Array.from(new Int32Array(copy.buffer));
    case "u32":
      return Float64Array.from(new Uint32Array(copy.buffer));
  }
}
