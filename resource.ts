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

/** A native handle and what releasing it needs: the one record of whether it is open. */
interface Held {
  /** Null once released (or queued for release behind calls in flight). */
  pointer: Deno.PointerObject | null;
  readonly release: Release;
  /** Nonblocking native calls using the object. */
  inFlight: number;
  /** Closed while calls were in flight: released when the last one settles. */
  pendingRelease: Deno.PointerObject | null;
  /** The parent's list this handle is in, if a parent tracks it (see {@linkcode ChildHandles}). */
  readonly siblings: Set<Held> | undefined;
}

/** Releases `pointer` (just taken from `held`) now, or when its calls in flight settle. */
function settle(held: Held, pointer: Deno.PointerObject): void {
  held.siblings?.delete(held);
  if (held.inFlight > 0) {
    held.pendingRelease = pointer;
    return;
  }
  held.release(pointer);
}

function releaseHeld(held: Held): void {
  const pointer = held.pointer;
  if (pointer === null) return;
  held.pointer = null;
  settle(held, pointer);
}

const finalizer = new FinalizationRegistry<Held>(releaseHeld);

/** The record sets of {@linkcode ChildHandles}, for {@linkcode NativeResource}. */
let siblingsOf: (children: ChildHandles) => Set<Held>;

/**
 * The handles of a parent's open children of one kind (internal), released together when the
 * parent closes: lighter than a `WeakRef` per child for objects made on a hot path (a command
 * buffer per dispatch). A child leaves the list when it closes or is collected. Its wrapper
 * reports `closed` once its handle is released; no `onClose` callback of the child runs, so
 * only children without any take this path.
 *
 * @example Usage
 * ```ts
 * import { ChildHandles } from "./resource.ts";
 *
 * const commandBuffers = new ChildHandles();
 * commandBuffers.releaseAll(); // when the parent closes
 * ```
 */
export class ChildHandles {
  #held = new Set<Held>();

  static {
    siblingsOf = (children) => children.#held;
  }

  /** Releases every open child's handle (each one after its calls in flight). */
  releaseAll(): void {
    for (const held of [...this.#held]) releaseHeld(held);
    this.#held.clear();
  }
}

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
  #held: Held;
  #onClose: (() => void)[] | undefined;

  /**
   * Takes ownership of a native object.
   *
   * @param pointer The handle the bridge returned (one reference, now ours).
   * @param release The bridge's release function for it.
   * @param parent The parent's list of such children, which releases it with the parent.
   */
  constructor(pointer: Deno.PointerObject, release: Release, parent?: ChildHandles) {
    const siblings = parent === undefined ? undefined : siblingsOf(parent);
    const held: Held = { pointer, release, inFlight: 0, pendingRelease: null, siblings };
    this.#held = held;
    siblings?.add(held);
    finalizer.register(this, held, this);
  }

  /** The kind of object, for messages (`"DeviceBuffer"`). */
  protected abstract get kind(): string;

  /** Whether `close()` has been called. */
  get closed(): boolean {
    return this.#held.pointer === null;
  }

  /**
   * The raw handle, for this package's modules. Throws {@linkcode ResourceClosedError}
   * after `close()`.
   */
  [HANDLE](action = "use it"): Deno.PointerObject {
    const pointer = this.#held.pointer;
    if (pointer === null) throw new ResourceClosedError(this.kind, action);
    return pointer;
  }

  /**
   * Keeps the native object alive until `work` (a nonblocking native call using it) settles,
   * for this package's modules: the call runs on another thread, and a `close()` meanwhile
   * must not free what it uses.
   */
  [KEEP_ALIVE]<T>(work: Promise<T>): Promise<T> {
    const held = this.#held;
    held.inFlight++;
    const done = () => {
      if (--held.inFlight === 0 && held.pendingRelease !== null) {
        const pointer = held.pendingRelease;
        held.pendingRelease = null;
        held.release(pointer);
      }
    };
    return work.finally(done);
  }

  /** Runs `callback` once when this object closes (children, cache eviction). */
  protected onClose(callback: () => void): void {
    (this.#onClose ??= []).push(callback);
  }

  /** Releases the native object. Calling it again does nothing. */
  close(): void {
    const held = this.#held;
    const pointer = held.pointer;
    if (pointer === null) return;
    held.pointer = null;
    finalizer.unregister(this);
    const callbacks = this.#onClose;
    this.#onClose = undefined;
    if (callbacks) { for (const callback of callbacks) callback(); }
    settle(held, pointer);
  }

  /** Same as {@linkcode NativeResource.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
