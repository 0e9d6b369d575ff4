// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Private helpers for crossing the C ABI: C strings, out-pointers, and {@linkcode unwrap},
 * the only place a status code becomes an exception.
 *
 * @module
 */
import { errorForStatus, type StatusName } from "../errors.ts";
import type { BridgeSymbols } from "./symbols.ts";

const encoder = new TextEncoder();

/** A NUL-terminated UTF-8 copy of `text` for a `const char*` parameter. */
export function cString(text: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(`${text}\0`);
}

/** Reads a NUL-terminated string the bridge owns; `""` for NULL. */
export function readCString(pointer: Deno.PointerValue): string {
  return pointer === null ? "" : Deno.UnsafePointerView.getCString(pointer);
}

/** A `T**` out-parameter: pass `.cell` to C, then read `.pointer`. */
export class OutPointer {
  /** The 8 bytes C writes the pointer into. */
  readonly cell: BigUint64Array<ArrayBuffer> = new BigUint64Array(1);

  /** The pointer C wrote, or null. */
  get pointer(): Deno.PointerValue {
    return Deno.UnsafePointer.create(this.cell[0]);
  }
}

/**
 * Builds the error to throw for a failed status from the status name, the bridge's message
 * and what was attempted. The default is the named class for the status
 * (`errorForStatus`) with the message `"<context>: <detail>"`.
 */
export type ErrorFactory = (code: StatusName, detail: string, context: string) => Error;

function defaultError(code: StatusName, detail: string, context: string): Error {
  return errorForStatus(code, `${context}: ${detail || code}`);
}

/**
 * The bridge's message without the C function it came from: a leading `mb_…: ` or
 * `dispatch: ` is the bridge naming itself, which means nothing to a caller who wrote
 * `commit()`; the TypeScript context already says what was attempted.
 */
function userFacing(detail: string): string {
  return detail.replace(/^(?:mb_[a-z_]+|dispatch(?: of kernel "[^"]*")?): /, "");
}

/**
 * Turns a status into nothing (MB_OK) or a thrown error. Copies the native message, frees
 * the native error, and prefixes `context` (what was attempted).
 */
export function unwrap(
  symbols: BridgeSymbols,
  status: number,
  error: OutPointer,
  context: string,
  makeError: ErrorFactory = defaultError,
): void {
  if (status === 0) return;
  const code = readCString(symbols.mb_status_name(status)) as StatusName;
  const pointer = error.pointer;
  let detail = "";
  try {
    if (pointer !== null) detail = userFacing(readCString(symbols.mb_error_message(pointer)));
  } finally {
    symbols.mb_error_free(pointer);
  }
  throw makeError(code, detail, context);
}

/** Reads an environment variable, treating a denied permission as unset. */
export function tryGetEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) return undefined;
    throw error;
  }
}
