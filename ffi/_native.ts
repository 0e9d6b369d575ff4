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
 * The out-parameters of synchronous calls: such a call returns before any other JavaScript
 * runs, so one pair serves them all and a hot path (encode, commit, wait) allocates no typed
 * array per call (about 0.6 µs each here). Read `.pointer` right after the call. Never pass
 * them to a `nonblocking` call, whose cells must outlive an `await`.
 */
export const SYNC_OUT: OutPointer = new OutPointer();
/** The error cell of synchronous calls (see {@linkcode SYNC_OUT}). */
export const SYNC_ERROR: OutPointer = new OutPointer();

/**
 * Builds the error to throw for a failed status from the status name, the bridge's message
 * and what was attempted. The default is the named class for the status
 * (`errorForStatus`) with the message `"<context>: <detail>"`.
 */
export type ErrorFactory = (code: StatusName, detail: string, context: string) => Error;

function defaultError(code: StatusName, detail: string, context: string): Error {
  return errorForStatus(code, `${context}: ${detail || code}`);
}

/** The call a user made, for each bridge function a message may name. */
const USER_CALLS: Readonly<Record<string, string>> = {
  "mb_device_create": "Device.open()",
  "mb_library_create": "getPipeline()",
  "mb_pipeline_create": "getPipeline()",
  "mb_buffer_create": "newBuffer()",
  "mb_command_buffer_create": "newCommandBuffer()",
  "mb_encoder_create": "computeEncoder()",
  "mb_encoder_set_pipeline": "setPipeline()",
  "mb_encoder_set_buffer": "setBuffer()",
  "mb_encoder_set_bytes": "setBytes()",
  "mb_encoder_set_threadgroup_memory_length": "setThreadgroupMemoryLength()",
  "mb_encoder_dispatch_threadgroups": "dispatchThreadgroups()",
  "mb_encoder_dispatch_threads": "dispatchThreads()",
  "mb_encoder_end": "end()",
  "mb_command_buffer_commit": "commit()",
  "mb_command_buffer_wait": "waitUntilCompleted()",
};

/**
 * The bridge's message in the words of the TypeScript API: a leading `dispatch of kernel
 * "x": ` is dropped (the context already says what was attempted), and a C function named
 * anywhere becomes the call the user made (`mb_encoder_set_buffer` → `setBuffer()`).
 */
function userFacing(detail: string): string {
  return detail
    .replace(/^dispatch(?: of kernel "[^"]*")?: /, "")
    .replace(/\bmb_[a-z_]+\b/g, (name) => USER_CALLS[name] ?? "the native bridge");
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
