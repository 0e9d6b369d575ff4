// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * {@linkcode NativeResource}: the lifetime of native objects. One base class gives every
 * wrapper (device, buffer, pipeline, command buffer, encoder) an idempotent `close()`,
 * `Symbol.dispose`, a finalizer backstop, and a named error on use after close. Native
 * objects are refcounted by the bridge, so releasing one that queued work still uses is safe.
 *
 * @module
 */
import { ResourceClosedError } from "./errors.ts";
import type { BridgeSymbols } from "./ffi/symbols.ts";

/**
 * Key of the raw-handle accessor of every {@linkcode NativeResource}: `object[HANDLE]()` is
 * the bridge's pointer, for FFI interop. Throws after `close()`.
 */
export const HANDLE: unique symbol = Symbol("metal-compute.handle");

/**
 * Key of the keep-alive accessor of every {@linkcode NativeResource}:
 * `object[KEEP_ALIVE](promise)` keeps the native object alive until a nonblocking native call
 * that uses it settles. A `close()` meanwhile takes effect for JavaScript at once (use after
 * close throws) and releases the native object when the call has finished.
 */
export const KEEP_ALIVE: unique symbol = Symbol("metal-compute.keepAlive");

type Release = (pointer: Deno.PointerObject) => void;

/** The bridge functions that release a handle. */
type ReleaseName =
  | "mb_device_release"
  | "mb_library_release"
  | "mb_pipeline_release"
  | "mb_buffer_release"
  | "mb_command_buffer_release"
  | "mb_encoder_release";

/**
 * The release function for a wrapper's constructor to pass to `super`. Made here, not as an
 * arrow function in the constructor: V8 gives every closure of a constructor one shared
 * context, so an arrow there would hold the wrapper itself (through `this`) inside the
 * finalizer's held value, and the wrapper could never be collected or finalised.
 */
export function releaser(symbols: BridgeSymbols, name: ReleaseName): Release {
  return (pointer) => symbols[name](pointer);
}

interface Held {
  pointer: Deno.PointerObject;
  release: Release;
}

const finalizer = new FinalizationRegistry<Held>(({ pointer, release }) => release(pointer));

/**
 * A native object owned by JavaScript: the base of every wrapper in this module.
 *
 * @example Usage
 * ```ts
 * import { Device } from "./mod.ts";
 *
 * const device = Device.systemDefault();
 * device.close();
 * device.close(); // a no-op
 * console.log(device.closed); // true
 * ```
 */
export abstract class NativeResource {
  #pointer: Deno.PointerObject | null;
  #release: Release;
  #onClose: (() => void)[] = [];
  #inFlight = 0; // nonblocking native calls using the object
  #pendingRelease: Deno.PointerObject | null = null; // closed while calls were in flight

  /**
   * Takes ownership of a native object.
   *
   * @param pointer The handle the bridge returned (one reference, now ours).
   * @param release The bridge's release function for it.
   */
  constructor(pointer: Deno.PointerObject, release: Release) {
    this.#pointer = pointer;
    this.#release = release;
    finalizer.register(this, { pointer, release }, this);
  }

  /** The kind of object, for messages (`"DeviceBuffer"`). */
  protected abstract get kind(): string;

  /** Whether `close()` has been called. */
  get closed(): boolean {
    return this.#pointer === null;
  }

  /**
   * The raw handle, for this package's modules. Throws {@linkcode ResourceClosedError}
   * after `close()`.
   */
  [HANDLE](action = "use it"): Deno.PointerObject {
    if (this.#pointer === null) throw new ResourceClosedError(this.kind, action);
    return this.#pointer;
  }

  /**
   * Keeps the native object alive until `work` (a nonblocking native call using it) settles,
   * for this package's modules: the call runs on another thread, and a `close()` meanwhile
   * must not free what it uses.
   */
  [KEEP_ALIVE]<T>(work: Promise<T>): Promise<T> {
    this.#inFlight++;
    const settle = () => {
      if (--this.#inFlight === 0 && this.#pendingRelease !== null) {
        const pointer = this.#pendingRelease;
        this.#pendingRelease = null;
        this.#release(pointer);
      }
    };
    return work.finally(settle);
  }

  /** Runs `callback` once when this object closes (children, cache eviction). */
  protected onClose(callback: () => void): void {
    this.#onClose.push(callback);
  }

  /** Releases the native object. Calling it again does nothing. */
  close(): void {
    const pointer = this.#pointer;
    if (pointer === null) return;
    this.#pointer = null;
    finalizer.unregister(this);
    for (const callback of this.#onClose.splice(0)) callback();
    if (this.#inFlight > 0) {
      this.#pendingRelease = pointer; // released when the last call settles
      return;
    }
    this.#release(pointer);
  }

  /** Same as {@linkcode NativeResource.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
