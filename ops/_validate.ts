// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Argument checks shared by the op helpers (private). Every check runs before any native
 * call and throws a `TypeError` (wrong kind of value) or `RangeError` (right kind, wrong
 * size) whose message names the kernel or helper, the argument, what was given and what
 * was expected:
 *
 * `Cannot encode softmax_f16: "input" holds 96 bytes, expected at least 128 (rows 2 × cols 32 × 2 bytes)`
 *
 * @module
 */
import type { DeviceBuffer } from "../buffer.ts";
import type { RowWidth, RowWidthOptions } from "./_dispatch.ts";

/** The largest size a kernel's `uint` parameter can carry. */
export const U32_MAX = 0xffff_ffff;

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || value == null) {
    return String(value);
  }
  if (typeof value === "bigint") return `${value}n`;
  return `a ${typeof value === "object" ? (value.constructor?.name ?? "object") : typeof value}`;
}

/**
 * Checks the registry option: anything with a `getPipeline` method.
 *
 * @param subject The helper, for messages ("softmax").
 * @param registry The value given.
 * @throws {TypeError} When it is not a registry.
 */
export function checkRegistry(subject: string, registry: unknown): void {
  if (
    typeof registry !== "object" || registry === null ||
    typeof (registry as { getPipeline?: unknown }).getPipeline !== "function"
  ) {
    throw new TypeError(
      `Cannot encode ${subject}: "registry" is ${describe(registry)}, expected a KernelRegistry`,
    );
  }
}

/**
 * Picks a kernel name from a typed table by a key the caller chose (a dtype, usually).
 * This is both the dtype check and the only way op helpers turn options into names.
 *
 * @param subject The helper, for messages ("elementwiseAdd").
 * @param table Key → kernel name (or → a nested table, picked again by the caller).
 * @param name The option's name ("dtype").
 * @param key The option's value.
 * @returns The kernel name.
 * @throws {TypeError} When `key` is not one of the table's keys.
 */
export function pickKernel<T extends object>(
  subject: string,
  table: T,
  name: string,
  key: unknown,
): T[keyof T] {
  if (typeof key !== "string" || !Object.hasOwn(table, key)) {
    const expected = Object.keys(table).map((k) => `"${k}"`).join(", ");
    throw new TypeError(
      `Cannot encode ${subject}: "${name}" is ${describe(key)}, expected one of ${expected}`,
    );
  }
  return table[key as keyof T];
}

/**
 * Checks a size: a positive integer a `uint` can hold.
 *
 * @param subject The kernel, for messages.
 * @param name The option's name.
 * @param value The value given.
 * @returns The value.
 * @throws {TypeError} When it is not a number.
 * @throws {RangeError} When it is not a positive integer up to {@linkcode U32_MAX}.
 */
export function checkCount(subject: string, name: string, value: unknown): number {
  if (typeof value !== "number") {
    throw new TypeError(
      `Cannot encode ${subject}: "${name}" is ${describe(value)}, expected a positive integer`,
    );
  }
  if (!Number.isInteger(value) || value < 1 || value > U32_MAX) {
    throw new RangeError(
      `Cannot encode ${subject}: "${name}" is ${value}, expected a positive integer up to ${U32_MAX}`,
    );
  }
  return value;
}

/**
 * Checks the row-width options of a row op ({@linkcode RowWidthOptions}): at most one of
 * `threadsPerRow` and `maxThreadsPerRow`, an integer from 1 to the kernel's maximum.
 *
 * @param subject The kernel, for messages ("softmax_f32").
 * @param options The op's options.
 * @param kernelMax The most threads the kernel takes per threadgroup.
 * @returns The checked choice.
 * @throws {TypeError} When both are given or one is not a number.
 * @throws {RangeError} When one is not an integer from 1 to `kernelMax`.
 */
export function checkRowWidth(
  subject: string,
  options: RowWidthOptions,
  kernelMax: number,
): RowWidth {
  const { threadsPerRow, maxThreadsPerRow } = options;
  if (threadsPerRow !== undefined && maxThreadsPerRow !== undefined) {
    throw new TypeError(
      `Cannot encode ${subject}: "threadsPerRow" (${
        describe(threadsPerRow)
      }) and "maxThreadsPerRow" (${
        describe(maxThreadsPerRow)
      }) are both given, expected at most one of them`,
    );
  }
  if (threadsPerRow !== undefined) {
    return {
      kind: "exact",
      threads: checkWidth(subject, "threadsPerRow", threadsPerRow, kernelMax),
    };
  }
  if (maxThreadsPerRow !== undefined) {
    return {
      kind: "max",
      threads: checkWidth(subject, "maxThreadsPerRow", maxThreadsPerRow, kernelMax),
    };
  }
  return { kind: "default" };
}

function checkWidth(subject: string, name: string, value: unknown, kernelMax: number): number {
  if (typeof value !== "number") {
    throw new TypeError(
      `Cannot encode ${subject}: "${name}" is ${
        describe(value)
      }, expected an integer from 1 to ${kernelMax}`,
    );
  }
  if (!Number.isInteger(value) || value < 1 || value > kernelMax) {
    throw new RangeError(
      `Cannot encode ${subject}: "${name}" is ${value}, expected an integer from 1 to ${kernelMax}`,
    );
  }
  return value;
}

/**
 * Checks an index into `[0, limit)`.
 *
 * @param subject The kernel, for messages.
 * @param name The option's name.
 * @param value The value given.
 * @param limit One past the largest valid index.
 * @param limitName What `limit` is ("vocabSize 32000").
 * @returns The value.
 * @throws {TypeError} When it is not a number.
 * @throws {RangeError} When it is not an integer in range.
 */
export function checkIndex(
  subject: string,
  name: string,
  value: unknown,
  limit: number,
  limitName: string,
): number {
  if (typeof value !== "number") {
    throw new TypeError(
      `Cannot encode ${subject}: "${name}" is ${describe(value)}, expected an integer index`,
    );
  }
  if (!Number.isInteger(value) || value < 0 || value >= limit) {
    throw new RangeError(
      `Cannot encode ${subject}: "${name}" is ${value}, expected an integer from 0 to ${
        limit - 1
      } (${limitName})`,
    );
  }
  return value;
}

/**
 * Checks a finite number (a scale or scalar).
 *
 * @param subject The kernel, for messages.
 * @param name The option's name.
 * @param value The value given.
 * @returns The value.
 * @throws {TypeError} When it is not a number.
 * @throws {RangeError} When it is NaN or infinite.
 */
export function checkFinite(subject: string, name: string, value: unknown): number {
  if (typeof value !== "number") {
    throw new TypeError(
      `Cannot encode ${subject}: "${name}" is ${describe(value)}, expected a finite number`,
    );
  }
  if (!Number.isFinite(value)) {
    throw new RangeError(
      `Cannot encode ${subject}: "${name}" is ${value}, expected a finite number`,
    );
  }
  return value;
}

/**
 * Checks a norm's `eps` (added to the squares inside the square root): finite and at least 0.
 *
 * @param subject The kernel, for messages.
 * @param eps The value given.
 * @returns The value.
 * @throws {TypeError} When it is not a number.
 * @throws {RangeError} When it is NaN, infinite or negative.
 */
export function checkEps(subject: string, eps: unknown): number {
  const value = checkFinite(subject, "eps", eps);
  if (value < 0) {
    throw new RangeError(
      `Cannot encode ${subject}: "eps" is ${value}, expected a finite number of at least 0`,
    );
  }
  return value;
}

/**
 * The byte-count breakdown used in buffer messages.
 *
 * @param factors Named sizes, e.g. `[["rows", 2], ["cols", 32]]`.
 * @param bytesPerElement Element size.
 * @returns `"rows 2 × cols 32 × 2 bytes"`.
 */
export function sizeDetail(
  factors: readonly (readonly [string, number])[],
  bytesPerElement: number,
): string {
  return [...factors.map(([n, v]) => `${n} ${v}`), `${bytesPerElement} bytes`].join(" × ");
}

/**
 * Checks that a buffer option is a buffer of at least `bytes` bytes.
 *
 * @param subject The kernel, for messages.
 * @param name The option's name ("input").
 * @param buffer The value given.
 * @param bytes The bytes the kernel will touch.
 * @param detail How `bytes` was computed (see {@linkcode sizeDetail}).
 * @throws {TypeError} When it is not a buffer.
 * @throws {RangeError} When it is too small.
 */
export function checkBuffer(
  subject: string,
  name: string,
  buffer: unknown,
  bytes: number,
  detail: string,
): asserts buffer is DeviceBuffer {
  if (
    typeof buffer !== "object" || buffer === null ||
    typeof (buffer as { byteLength?: unknown }).byteLength !== "number"
  ) {
    throw new TypeError(
      `Cannot encode ${subject}: "${name}" is ${describe(buffer)}, expected a DeviceBuffer`,
    );
  }
  const held = (buffer as DeviceBuffer).byteLength;
  if (held < bytes) {
    throw new RangeError(
      `Cannot encode ${subject}: "${name}" holds ${held} bytes, expected at least ${bytes} (${detail})`,
    );
  }
}

/**
 * Checks the `input` and `output` buffers of a row op: each holds `rows × length` elements of
 * `bytesPerElement` bytes (`length` named `lengthName` in messages, e.g. "dim" or "cols").
 *
 * @param subject The kernel, for messages.
 * @param buffers The op's `input` and `output` options.
 * @param rows Rows, checked.
 * @param lengthName The row length's option name.
 * @param length Row length, checked.
 * @param bytesPerElement Element size.
 * @throws {TypeError} When one is not a buffer.
 * @throws {RangeError} When one is too small.
 */
export function checkRowBuffers(
  subject: string,
  buffers: { readonly input: unknown; readonly output: unknown },
  rows: number,
  lengthName: string,
  length: number,
  bytesPerElement: number,
): void {
  const detail = sizeDetail([["rows", rows], [lengthName, length]], bytesPerElement);
  checkBuffer(subject, "input", buffers.input, rows * length * bytesPerElement, detail);
  checkBuffer(subject, "output", buffers.output, rows * length * bytesPerElement, detail);
}

/**
 * Checks that two buffer options are different buffers (for kernels that cannot run in
 * place).
 *
 * @param subject The kernel, for messages.
 * @param names The two options' names.
 * @param a The first buffer.
 * @param b The second buffer.
 * @param why Why the kernel needs them distinct.
 * @throws {RangeError} When they are the same buffer.
 */
export function checkDistinct(
  subject: string,
  names: readonly [string, string],
  a: unknown,
  b: unknown,
  why: string,
): void {
  if (a === b) {
    throw new RangeError(
      `Cannot encode ${subject}: "${names[1]}" is the same buffer as "${names[0]}", ${why}`,
    );
  }
}
