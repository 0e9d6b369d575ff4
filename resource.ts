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

/**
 * Key of the raw-handle accessor of every {@linkcode NativeResource}: `object[HANDLE]()` is
 * the bridge's pointer, for FFI interop. Throws after `close()`.
 */
export const HANDLE: unique symbol = Symbol("metal-compute.handle");

type Release = (pointer: Deno.PointerObject) => void;

interface Held {
  pointer: Deno.PointerObject;
  release: Release;
}

const finalizer = new FinalizationRegistry<Held>(({ pointer, release }) => release(pointer));

/**
 * A native object owned by JavaScript: the base of every wrapper in this module.
 *
 * @example Usage
 * ```ts ignore
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
    this.#release(pointer);
  }

  /** Same as {@linkcode NativeResource.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
