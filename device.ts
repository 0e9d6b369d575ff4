// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * {@linkcode Device}: a Metal GPU on macOS, or the CPU backend that runs the same MSL
 * elsewhere.
 *
 * @module
 */
import { CommandBuffer } from "./command_buffer.ts";
import { DeviceBuffer } from "./buffer.ts";
import { HANDLE, NativeResource } from "./resource.ts";
import { cString, OutPointer, readCString, unwrap } from "./ffi/_native.ts";
import { type Backend, bridgeDir, cacheDir, defaultBackend, openBridge } from "./ffi/library.ts";
import type { BridgeSymbols } from "./ffi/symbols.ts";

export type { Backend } from "./ffi/library.ts";

/** Options for {@linkcode Device.open}. */
export interface DeviceOptions {
  /**
   * The backend to open.
   *
   * @default {"metal" on macOS, "cpu" elsewhere}
   */
  backend?: Backend;
  /**
   * CPU backend: run kernels in checked mode (out-of-bounds accesses and divergent
   * barriers are reported as errors). Also enabled by `METAL_COMPUTE_CHECKED=1`.
   *
   * @default {false}
   */
  checked?: boolean;
  /**
   * CPU backend: the number of worker threads.
   *
   * @default {the number of cores}
   */
  workers?: number;
}

/** What a device can do (from `mb_device_capabilities`). */
export interface DeviceCapabilities {
  /** MSL `bfloat` arithmetic. */
  bfloat16: boolean;
  /** `simdgroup_matrix` 8×8 operations. */
  simdgroupMatrix: boolean;
  /** The Metal 4 tensor API (MetalPerformancePrimitives). */
  tensorApi: boolean;
  /** Buffers are host-visible without copies. */
  unifiedMemory: boolean;
}

/** Data a buffer can be created from. */
export type BufferSource = ArrayBufferView | ArrayBuffer;

let nextDeviceId = 1;

/**
 * A compute device. Create buffers and command buffers from it; compile pipelines for it
 * through a {@linkcode KernelRegistry}. Close it (or `using`) to release it and everything
 * it created that is still open.
 *
 * @example Usage
 * ```ts ignore
 * import { Device } from "./mod.ts";
 *
 * using device = Device.systemDefault();
 * console.log(device.backend, device.name); // "cpu" "CPU (2 workers, clang 19.1.7)"
 * using buffer = device.newBuffer(new Float32Array([1, 2, 3]));
 * console.log(new Float32Array(buffer.contents)); // Float32Array(3) [1, 2, 3]
 * ```
 */
export class Device extends NativeResource {
  /** The backend this device runs on. */
  readonly backend: Backend;
  /** The device's name, e.g. "Apple M2 Pro" or "CPU (2 workers, clang 19.1.7)". */
  readonly name: string;
  /** What the device supports. */
  readonly capabilities: DeviceCapabilities;
  /** The most threadgroup memory one dispatch may use, in bytes. */
  readonly maxThreadgroupMemoryLength: number;
  /** The most threads one threadgroup may have. */
  readonly maxThreadsPerThreadgroup: number;
  /** A process-unique id, used in cache keys. */
  readonly id: number = nextDeviceId++;
  /**
   * The bridge functions, for this package's modules.
   *
   * @ignore
   */
  readonly symbols: BridgeSymbols;
  #children = new Set<WeakRef<NativeResource>>();

  private constructor(backend: Backend, symbols: BridgeSymbols, pointer: Deno.PointerObject) {
    super(pointer, (p) => symbols.mb_device_release(p));
    this.backend = backend;
    this.symbols = symbols;
    this.name = readCString(symbols.mb_device_name(pointer));
    const caps = symbols.mb_device_capabilities(pointer);
    this.capabilities = {
      bfloat16: (caps & 1) !== 0,
      simdgroupMatrix: (caps & 2) !== 0,
      tensorApi: (caps & 4) !== 0,
      unifiedMemory: (caps & 8) !== 0,
    };
    this.maxThreadgroupMemoryLength = Number(symbols.mb_device_max_threadgroup_memory(pointer));
    this.maxThreadsPerThreadgroup = symbols.mb_device_max_threads_per_threadgroup(pointer);
    // Parent before child: closing the device first closes what it created.
    this.onClose(() => {
      for (const ref of this.#children) ref.deref()?.close();
      this.#children.clear();
    });
  }

  /** The kind of object, for messages. */
  protected get kind(): string {
    return "Device";
  }

  /**
   * Opens this machine's default device: Metal on macOS, the CPU backend elsewhere.
   *
   * @returns A new device; close it when done.
   * @throws {MetalComputeError} `MB_ERR_UNSUPPORTED` when the backend cannot start (no
   * Metal GPU, no clang to build or run the CPU backend).
   *
   * @example Usage
   * ```ts ignore
   * import { Device } from "./mod.ts";
   * using device = Device.systemDefault();
   * ```
   */
  static systemDefault(): Device {
    return Device.open();
  }

  /**
   * Opens a device of the chosen backend.
   *
   * @param options The backend and its settings.
   * @returns A new device; close it when done.
   * @throws {MetalComputeError} `MB_ERR_UNSUPPORTED` when the backend cannot start.
   *
   * @example Usage
   * ```ts ignore
   * import { Device } from "./mod.ts";
   * using cpu = Device.open({ backend: "cpu", checked: true });
   * ```
   */
  static open(options: DeviceOptions = {}): Device {
    const backend = options.backend ?? defaultBackend();
    if (backend !== "cpu" && backend !== "metal") {
      throw new TypeError(
        `Cannot open device: unknown backend "${backend}", expected "metal" or "cpu"`,
      );
    }
    if (
      options.workers !== undefined && !(Number.isInteger(options.workers) && options.workers > 0)
    ) {
      throw new RangeError(
        `Cannot open device: workers must be a positive integer, got ${options.workers}`,
      );
    }
    const symbols = openBridge(backend).symbols;
    const config = [`cache_dir=${cacheDir()}`];
    if (backend === "cpu") config.push(`support_dir=${bridgeDir("cpu")}/metal_bridge/cpu`);
    if (options.checked !== undefined) config.push(`checked=${options.checked ? 1 : 0}`);
    if (options.workers !== undefined) config.push(`workers=${options.workers}`);
    const out = new OutPointer();
    const error = new OutPointer();
    const status = symbols.mb_device_create(cString(config.join("\n")), out.cell, error.cell);
    unwrap(symbols, status, error, `Cannot open the ${backend} device`);
    return new Device(backend, symbols, out.pointer!);
  }

  /**
   * Creates a buffer in memory shared with the host: a zero-filled one of `byteLength`
   * bytes, or a copy of `data`.
   *
   * @param dataOrByteLength Initial contents, or a length in bytes (> 0).
   * @returns A new buffer; close it when done.
   * @throws {RangeError} When the length is not a positive integer.
   *
   * @example Usage
   * ```ts ignore
   * import { Device } from "./mod.ts";
   * using device = Device.systemDefault();
   * using zeros = device.newBuffer(1024);
   * using data = device.newBuffer(new Float32Array([1, 2, 3]));
   * ```
   */
  newBuffer(dataOrByteLength: BufferSource | number): DeviceBuffer {
    const handle = this[HANDLE]("create a buffer");
    const bytes = typeof dataOrByteLength === "number" ? undefined : asBytes(dataOrByteLength);
    const length = bytes ? bytes.byteLength : dataOrByteLength as number;
    if (!Number.isSafeInteger(length) || length <= 0) {
      throw new RangeError(
        `Cannot create buffer: byte length must be a positive integer, got ${length}`,
      );
    }
    const out = new OutPointer();
    const error = new OutPointer();
    const status = this.symbols.mb_buffer_create(handle, BigInt(length), out.cell, error.cell);
    unwrap(this.symbols, status, error, `Cannot create a buffer of ${length} bytes`);
    const buffer = this.adopt(new DeviceBuffer(this.symbols, out.pointer!, length));
    if (bytes) new Uint8Array(buffer.contents).set(bytes);
    return buffer;
  }

  /**
   * Creates a command buffer: record compute passes into it, then commit it.
   *
   * @returns A new command buffer.
   *
   * @example Usage
   * ```ts ignore
   * import { Device } from "./mod.ts";
   * using device = Device.systemDefault();
   * const commands = device.newCommandBuffer();
   * commands.commit();
   * await commands.completed();
   * ```
   */
  newCommandBuffer(): CommandBuffer {
    const handle = this[HANDLE]("create a command buffer");
    const out = new OutPointer();
    const error = new OutPointer();
    const status = this.symbols.mb_command_buffer_create(handle, out.cell, error.cell);
    unwrap(this.symbols, status, error, "Cannot create a command buffer");
    return this.adopt(new CommandBuffer(this, out.pointer!));
  }

  /**
   * Tracks `child` so that closing the device closes it first (internal).
   *
   * @param child A native object created from this device.
   * @returns `child`.
   */
  adopt<T extends NativeResource>(child: T): T {
    const ref = new WeakRef(child);
    this.#children.add(ref);
    childCleanup.register(child, { children: this.#children, ref });
    return child;
  }
}

const childCleanup = new FinalizationRegistry<{
  children: Set<WeakRef<NativeResource>>;
  ref: WeakRef<NativeResource>;
}>(({ children, ref }) => children.delete(ref));

function asBytes(data: BufferSource): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) {
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  throw new TypeError("Cannot create buffer: data must be an ArrayBuffer or a typed array");
}
