// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Function constants: the values a kernel is specialised with, and their normal form.
 *
 * @module
 */
import { FunctionConstantError } from "./errors.ts";

/** The MSL types a function constant can have. */
export type FunctionConstantType = "bool" | "int" | "uint" | "float" | "half" | "short" | "ushort";

/**
 * One constant's value: `true`/`false` is a `bool`, an integer number is an `int` (int32);
 * other types are spelled out, e.g. `{ type: "float", value: 0.5 }`.
 */
export type FunctionConstantValue =
  | boolean
  | number
  | { readonly type: FunctionConstantType; readonly value: number | boolean };

/**
 * Function constants by `[[function_constant(index)]]`: `{ 200: true, 100: 4 }` sets bool
 * 200 and int 100. The order of entries never matters.
 */
export type FunctionConstants = Readonly<Record<number, FunctionConstantValue>>;

/** Constants in normal form: sorted by index, typed, as the C ABI takes them. */
export interface NormalizedConstants {
  /** A stable text key, e.g. `"100:i4,200:b1"`; `""` for none. */
  key: string;
  /** Three uint32 per constant: index, type code, value bits. */
  words: Uint32Array<ArrayBuffer>;
  /** The number of constants. */
  count: number;
}

const TYPE_CODES: Record<FunctionConstantType, number> = {
  bool: 1,
  int: 2,
  uint: 3,
  float: 4,
  half: 5,
  short: 6,
  ushort: 7,
};

const TYPE_TAGS: Record<FunctionConstantType, string> = {
  bool: "b",
  int: "i",
  uint: "u",
  float: "f",
  half: "h",
  short: "s",
  ushort: "us",
};

const NONE: NormalizedConstants = { key: "", words: new Uint32Array(0), count: 0 };
const scratch = new DataView(new ArrayBuffer(4));

/**
 * Checks and normalises constants for kernel `kernel`: the same constants in any order give
 * the same key.
 *
 * @param kernel The kernel being specialised (for messages).
 * @param constants The constants, or undefined for none.
 * @returns The normal form.
 * @throws {FunctionConstantError} For a bad index, type or value.
 *
 * @example Usage
 * ```ts
 * import { normalizeConstants } from "./constants.ts";
 * import assert from "node:assert";
 *
 * const a = normalizeConstants("k", { 200: true, 100: 4 });
 * const b = normalizeConstants("k", { 100: 4, 200: true });
 * assert.strictEqual(a.key, "100:i4,200:b1");
 * assert.strictEqual(a.key, b.key);
 * ```
 */
export function normalizeConstants(
  kernel: string,
  constants: FunctionConstants | undefined,
): NormalizedConstants {
  if (constants === undefined) return NONE;
  if (constants === null || typeof constants !== "object" || Array.isArray(constants)) {
    throw new FunctionConstantError(kernel, "constants must be an object keyed by index");
  }
  const entries = Object.entries(constants).map(([text, value]) => {
    const index = Number(text);
    if (!Number.isInteger(index) || index < 0 || index > 65535) {
      throw new FunctionConstantError(
        kernel,
        `constant index "${text}" is not an integer from 0 to 65535`,
      );
    }
    const [type, bits] = encode(kernel, index, value);
    return { index, type, bits };
  }).sort((a, b) => a.index - b.index);
  if (entries.length === 0) return NONE;
  const words = new Uint32Array(entries.length * 3);
  entries.forEach(({ index, type, bits }, i) => {
    words.set([index, TYPE_CODES[type], bits], i * 3);
  });
  const key = entries.map(({ index, type, bits }) => `${index}:${TYPE_TAGS[type]}${bits}`).join(
    ",",
  );
  return { key, words, count: entries.length };
}

function encode(
  kernel: string,
  index: number,
  value: FunctionConstantValue,
): [FunctionConstantType, number] {
  if (typeof value === "boolean") return ["bool", value ? 1 : 0];
  if (typeof value === "number") return ["int", int32Bits(kernel, index, value)];
  if (value === null || typeof value !== "object" || !(value.type in TYPE_CODES)) {
    throw new FunctionConstantError(
      kernel,
      `constant ${index} has an unsupported value ${
        JSON.stringify(value)
      }; expected a boolean, an integer, or { type: "bool" | "int" | "uint" | "float" | "half" | "short" | "ushort", value }`,
    );
  }
  const { type, value: v } = value;
  if (type === "bool") {
    if (typeof v !== "boolean") throw mismatch(kernel, index, type, v);
    return [type, v ? 1 : 0];
  }
  if (typeof v !== "number") throw mismatch(kernel, index, type, v);
  switch (type) {
    case "int":
      return [type, int32Bits(kernel, index, v)];
    case "uint":
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw mismatch(kernel, index, type, v);
      return [type, v];
    case "float":
      scratch.setFloat32(0, v, true);
      return [type, scratch.getUint32(0, true)];
    case "half":
      scratch.setFloat16(0, v, true);
      return [type, scratch.getUint16(0, true)];
    case "short":
      if (!Number.isInteger(v) || v < -0x8000 || v > 0x7fff) throw mismatch(kernel, index, type, v);
      return [type, v & 0xffff];
    case "ushort":
      if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw mismatch(kernel, index, type, v);
      return [type, v];
  }
}

function int32Bits(kernel: string, index: number, value: number): number {
  if (!Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff) {
    throw new FunctionConstantError(
      kernel,
      `constant ${index}: ${value} is not an int32; pass { type: "float", value: ${value} } for a float`,
    );
  }
  return value >>> 0;
}

function mismatch(
  kernel: string,
  index: number,
  type: FunctionConstantType,
  value: unknown,
): FunctionConstantError {
  return new FunctionConstantError(
    kernel,
    `constant ${index}: ${JSON.stringify(value)} is not a valid ${type}`,
  );
}
