// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * {@linkcode DeviceBuffer}: memory shared by the host and the device.
 *
 * @module
 */
import { HANDLE, NativeResource, releaser } from "./resource.ts";
import type { BridgeSymbols } from "./ffi/symbols.ts";

const keepOwner = new WeakMap<ArrayBuffer, DeviceBuffer>();

/**
 * A buffer in memory the host and the device share. `contents` is a zero-copy view of its
 * bytes; after `close()` that view is detached (length 0), never dangling.
 *
 * @example Usage
 * ```ts
 * import { Device } from "./mod.ts";
 *
 * using device = Device.systemDefault();
 * using buffer = device.newBuffer(new Float32Array([1, 2, 3]));
 * const view = new Float32Array(buffer.contents);
 * view[0] = 10; // the device sees it
 * ```
 */
export class DeviceBuffer extends NativeResource {
  /** The buffer's length in bytes. */
  readonly byteLength: number;
  #symbols: BridgeSymbols;
  #contents: ArrayBuffer | undefined;

  /**
   * Wraps a buffer the bridge created (internal: use `Device.newBuffer`).
   *
   * @param symbols The bridge functions.
   * @param pointer The native buffer.
   * @param byteLength Its length in bytes.
   */
  constructor(symbols: BridgeSymbols, pointer: Deno.PointerObject, byteLength: number) {
    super(pointer, releaser(symbols, "mb_buffer_release"));
    this.#symbols = symbols;
    this.byteLength = byteLength;
    // Detach the zero-copy view first, so no typed array can reach freed memory.
    // A view the user already transferred is detached: nothing left to detach.
    this.onClose(() => {
      if (this.#contents && !this.#contents.detached) this.#contents.transfer(0);
    });
  }

  /** The kind of object, for messages. */
  protected get kind(): string {
    return "DeviceBuffer";
  }

  /**
   * The buffer's bytes, without a copy. Read results after the command buffer that wrote
   * them has completed. A typed array over it keeps the buffer alive; `close()` detaches it.
   * Do not `transfer()` it: the transferred copy points at the same native memory but neither
   * keeps it alive nor is detached by `close()` (after a transfer, `contents` is a new view).
   *
   * @throws {ResourceClosedError} After `close()`.
   */
  get contents(): ArrayBuffer {
    const handle = this[HANDLE]("read contents");
    // A fresh view when there is none yet, or the user transferred the last one away.
    if (this.#contents && !this.#contents.detached) return this.#contents;
    this.#contents = Deno.UnsafePointerView.getArrayBuffer(
      this.#symbols.mb_buffer_contents(handle)!,
      this.byteLength,
    );
    // The view points into native memory the finalizer frees: while any typed array over it
    // is reachable, so is this buffer (a WeakMap entry lives as long as its key).
    keepOwner.set(this.#contents, this);
    return this.#contents;
  }

  /**
   * Copies `data` into the buffer at `byteOffset`.
   *
   * @param data The bytes to copy (any typed array or ArrayBuffer).
   * @param byteOffset Where to start, in bytes.
   * @throws {RangeError} When the data does not fit.
   *
   * @example Usage
   * ```ts
   * import { Device } from "./mod.ts";
   * import assert from "node:assert";
   *
   * using device = Device.systemDefault();
   * using buffer = device.newBuffer(16);
   * buffer.write(new Float32Array([1, 2]), 8);
   * assert.deepStrictEqual([...new Float32Array(buffer.contents)], [0, 0, 1, 2]);
   * ```
   */
  write(data: ArrayBufferView | ArrayBuffer, byteOffset = 0): void {
    const bytes = ArrayBuffer.isView(data)
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : new Uint8Array(data);
    if (
      !Number.isSafeInteger(byteOffset) || byteOffset < 0 ||
      byteOffset + bytes.byteLength > this.byteLength
    ) {
      throw new RangeError(
        `Cannot write ${bytes.byteLength} bytes at offset ${byteOffset}: the buffer holds ${this.byteLength} bytes`,
      );
    }
    new Uint8Array(this.contents).set(bytes, byteOffset);
  }
}
