// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * {@linkcode Device}: a Metal GPU on macOS, or the CPU backend that runs the same MSL
 * elsewhere; and what runs on it: {@linkcode CommandBuffer} and {@linkcode ComputeEncoder}
 * record dispatches, submit them and wait for them. One module, because a device creates
 * command buffers and each command buffer and encoder answers which device it runs on.
 *
 * @module
 */
import { type Backend, defaultBackend } from "./backend.ts";
import { cacheDir } from "./_cache_dir.ts";
import { DeviceBuffer } from "./buffer.ts";
import {
  BackendUnavailableError,
  CommandBufferError,
  errorForStatus,
  InvalidStateError,
  type StatusName,
} from "./errors.ts";
import { ChildHandles, HANDLE, KEEP_ALIVE, NativeResource, releaser } from "./resource.ts";
import { cString, OutPointer, readCString, SYNC_ERROR, SYNC_OUT, unwrap } from "./ffi/_native.ts";
import { bridgeDir, openBridge, openBridgeAsync } from "./ffi/library.ts";
import type { BridgeSymbols } from "./ffi/symbols.ts";
import { Pipeline } from "./pipeline.ts";

/** Options for {@linkcode Device.open} and {@linkcode Device.openSync}. */
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
   * CPU backend: the most milliseconds a command buffer may run, as a GPU's watchdog allows;
   * one that runs longer fails with a `CommandBufferError` saying so, its kernels
   * are stopped, and later command buffers run. `0`: no limit.
   *
   * @default {10000}
   */
  commandBufferTimeout?: number;
  /**
   * CPU backend: the most milliseconds one compiler process may run (`0`: no limit); a
   * compile that takes longer fails with `MB_ERR_LIMIT`.
   *
   * @default {120000}
   */
  compileTimeLimit?: number;
  /**
   * CPU backend: the most megabytes of address space one compiler process may use (`0`: no
   * limit); a compile that needs more fails with `MB_ERR_LIMIT`.
   *
   * @default {4096}
   */
  compileMemoryLimit?: number;
  /**
   * CPU backend: the number of worker threads.
   *
   * @default {the number of cores}
   */
  workers?: number;
  /**
   * Report a first build of the native bridge on stderr ("building the native bridge for
   * cpu (first use, ~20 s)…"). Also set by `METAL_COMPUTE_PROGRESS=1` (or `0`).
   *
   * @default {true when stderr is a terminal}
   */
  progress?: boolean;
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
 * ```ts
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
  /**
   * What the backend reports about the device, for reports and bug reports (keys differ by
   * backend: Metal gives `gpu_families`, `registry_id`, `recommended_max_working_set_size`,
   * `os_version`, `sdk`...; the CPU backend `workers`, `clang`, `checked`...).
   */
  readonly info: Readonly<Record<string, string>>;
  /** A process-unique id, used in cache keys. */
  readonly id: number = nextDeviceId++;
  /**
   * The bridge functions, for this package's modules.
   *
   * @ignore
   */
  readonly symbols: BridgeSymbols;
  #children = new Set<WeakRef<NativeResource>>();
  /** Command buffers, one per dispatch or so: tracked without a `WeakRef` each. */
  #commandBuffers = new ChildHandles();

  private constructor(backend: Backend, symbols: BridgeSymbols, pointer: Deno.PointerObject) {
    super(pointer, releaser(symbols, "mb_device_release"));
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
    this.info = Object.fromEntries(
      readCString(symbols.mb_device_info(pointer)).split("\n").filter((line) => line.includes("="))
        .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
    );
    // Parent before child: closing the device first closes what it created.
    this.onClose(() => {
      this.#commandBuffers.releaseAll();
      for (const ref of this.#children) ref.deref()?.close();
      this.#children.clear();
    });
  }

  /** The kind of object, for messages. */
  protected get kind(): string {
    return "Device";
  }

  /**
   * Opens this machine's default device (Metal on macOS, the CPU backend elsewhere),
   * synchronously: the same as {@linkcode Device.openSync} with no options. Prefer
   * `await Device.open()` in programs that do anything else meanwhile.
   *
   * @returns A new device; close it when done.
   * @throws {PermissionsError} Naming every missing Deno permission.
   * @throws {BackendUnavailableError} When the backend cannot start (no Metal GPU, no clang
   * to build or run the CPU backend).
   *
   * @example Usage
   * ```ts
   * import { Device } from "./mod.ts";
   * using device = Device.systemDefault();
   * ```
   */
  static systemDefault(): Device {
    return Device.openSync();
  }

  /**
   * Opens a device of the chosen backend. On first use the native bridge is built (about 20 s
   * for the CPU backend on a 2-core machine; `deno task build` does it ahead of time): the
   * compiler runs as a child process the event loop awaits, with progress on stderr when it is
   * a terminal (see {@linkcode DeviceOptions.progress}). Later opens take milliseconds.
   *
   * @param options The backend and its settings.
   * @returns A new device; close it when done.
   * @throws {PermissionsError} Naming every missing Deno permission, before anything else.
   * @throws {BackendUnavailableError} When the backend cannot start.
   *
   * @example Usage
   * ```ts
   * import { Device } from "./mod.ts";
   * using device = await Device.open(); // "metal" on macOS, "cpu" elsewhere
   * using cpu = await Device.open({ backend: "cpu", checked: true });
   * ```
   */
  static async open(options: DeviceOptions = {}): Promise<Device> {
    const backend = checkOptions(options);
    const symbols = (await openBridgeAsync(backend, { progress: options.progress })).symbols;
    return Device.#create(backend, symbols, options);
  }

  /**
   * Synchronous twin of {@linkcode Device.open}, for scripts: a first build of the bridge
   * blocks the JavaScript thread until it is done.
   *
   * @param options The backend and its settings.
   * @returns A new device; close it when done.
   * @throws {PermissionsError} Naming every missing Deno permission, before anything else.
   * @throws {BackendUnavailableError} When the backend cannot start.
   *
   * @example Usage
   * ```ts
   * import { Device } from "./mod.ts";
   * import assert from "node:assert";
   *
   * using cpu = Device.openSync({ backend: "cpu", checked: true });
   * assert.strictEqual(cpu.backend, "cpu");
   * ```
   */
  static openSync(options: DeviceOptions = {}): Device {
    const backend = checkOptions(options);
    const symbols = openBridge(backend, { progress: options.progress }).symbols;
    return Device.#create(backend, symbols, options);
  }

  static #create(backend: Backend, symbols: BridgeSymbols, options: DeviceOptions): Device {
    const config = [`cache_dir=${cacheDir()}`];
    if (backend === "cpu") config.push(`support_dir=${bridgeDir("cpu")}/metal_bridge/cpu`);
    if (options.checked !== undefined) config.push(`checked=${options.checked ? 1 : 0}`);
    if (options.workers !== undefined) config.push(`workers=${options.workers}`);
    if (options.commandBufferTimeout !== undefined) {
      config.push(`command_timeout_ms=${options.commandBufferTimeout}`);
    }
    if (options.compileTimeLimit !== undefined) {
      config.push(`compile_time_limit_ms=${options.compileTimeLimit}`);
    }
    if (options.compileMemoryLimit !== undefined) {
      config.push(`compile_memory_limit_mb=${options.compileMemoryLimit}`);
    }
    const out = new OutPointer();
    const error = new OutPointer();
    const status = symbols.mb_device_create(cString(config.join("\n")), out.cell, error.cell);
    unwrap(
      symbols,
      status,
      error,
      `Cannot open the ${backend} device`,
      (code, detail, context) =>
        code === "MB_ERR_UNSUPPORTED"
          ? new BackendUnavailableError(backend, `${context}: ${detail || code}`)
          : errorForStatus(code, `${context}: ${detail || code}`),
    );
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
   * ```ts
   * import { Device } from "./mod.ts";
   * using device = Device.systemDefault();
   * using zeros = device.newBuffer(1024);
   * using data = device.newBuffer(new Float32Array([1, 2, 3]));
   * ```
   */
  newBuffer(dataOrByteLength: BufferSource | number): DeviceBuffer {
    const handle = this[HANDLE]("newBuffer()");
    const bytes = typeof dataOrByteLength === "number" ? undefined : asBytes(dataOrByteLength);
    const length = bytes ? bytes.byteLength : dataOrByteLength as number;
    if (!Number.isSafeInteger(length) || length <= 0) {
      throw new RangeError(
        `Cannot newBuffer(): byte length must be a positive integer, got ${length}`,
      );
    }
    const out = SYNC_OUT;
    const error = SYNC_ERROR;
    const status = this.symbols.mb_buffer_create(handle, BigInt(length), out.cell, error.cell);
    unwrap(this.symbols, status, error, `Cannot newBuffer() of ${length} bytes`);
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
   * ```ts
   * import { Device } from "./mod.ts";
   * using device = Device.systemDefault();
   * const commands = device.newCommandBuffer();
   * commands.commit();
   * await commands.completed();
   * ```
   */
  newCommandBuffer(): CommandBuffer {
    const handle = this[HANDLE]("newCommandBuffer()");
    const out = SYNC_OUT;
    const error = SYNC_ERROR;
    const status = this.symbols.mb_command_buffer_create(handle, out.cell, error.cell);
    if (status !== 0) unwrap(this.symbols, status, error, "Cannot newCommandBuffer()");
    return new CommandBuffer(this, out.pointer!, this.#commandBuffers);
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

/** Checks `options` before anything is opened; returns the backend to open. */
function checkOptions(options: DeviceOptions): Backend {
  const backend = options.backend ?? defaultBackend();
  if (backend !== "cpu" && backend !== "metal") {
    throw new TypeError(
      `Cannot open device: unknown backend "${backend}", expected "metal" or "cpu"`,
    );
  }
  if (options.checked !== undefined && typeof options.checked !== "boolean") {
    throw new TypeError(
      `Cannot open device: checked must be true or false, got ${JSON.stringify(options.checked)}`,
    );
  }
  if (
    options.workers !== undefined && !(Number.isInteger(options.workers) && options.workers > 0)
  ) {
    throw new RangeError(
      `Cannot open device: workers must be a positive integer, got ${options.workers}`,
    );
  }
  for (const key of ["commandBufferTimeout", "compileTimeLimit", "compileMemoryLimit"] as const) {
    const value = options[key];
    if (value !== undefined && !(Number.isSafeInteger(value) && value >= 0)) {
      throw new RangeError(
        `Cannot open device: ${key} must be a non-negative integer (0: no limit), got ${value}`,
      );
    }
  }
  return backend;
}

function asBytes(data: BufferSource): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) {
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  throw new TypeError("Cannot newBuffer(): data must be an ArrayBuffer or a typed array");
}

/** A 1-, 2- or 3-dimensional size; missing dimensions are 1. */
export type Size =
  | readonly [number]
  | readonly [number, number]
  | readonly [number, number, number];

/** Where a command buffer is in its life. */
export type CommandBufferStatus = "notCommitted" | "committed" | "completed" | "error";

const STATUS: readonly CommandBufferStatus[] = ["notCommitted", "committed", "completed", "error"];
/** `MB_CMD_COMPLETED`: this status and the next (error) are final. */
const COMPLETED = 2;

/** The most bytes `setBytes` accepts (Metal's limit). */
export const MAX_SET_BYTES_LENGTH = 4096;

/** Binding indices run from 0 to this value minus one. */
export const MAX_BINDINGS = 31;

/**
 * A list of compute passes for the device to run. Record with
 * {@linkcode CommandBuffer.computeEncoder}, then {@linkcode CommandBuffer.commit} and wait.
 * Command buffers run in commit order.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry } from "./mod.ts";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const pipeline = await registry.getPipeline("elementwise_add_f32", device);
 * const a = device.newBuffer(new Float32Array([1, 2, 3]));
 * const b = device.newBuffer(new Float32Array([10, 20, 30]));
 * const out = device.newBuffer(12);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * encoder.setPipeline(pipeline);
 * encoder.setBuffer(a, 0);
 * encoder.setBuffer(b, 1);
 * encoder.setBuffer(out, 2);
 * encoder.setBytes(new Uint32Array([3]), 3);
 * encoder.dispatchThreads([3], [32]);
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * console.log(new Float32Array(out.contents)); // [11, 22, 33]
 * ```
 */
export class CommandBuffer extends NativeResource {
  /** The device this command buffer runs on. */
  readonly device: Device;
  #encoder: ComputeEncoder | undefined;
  #committed = false;

  /**
   * Wraps a command buffer (internal: use `Device.newCommandBuffer`).
   *
   * @param device The device.
   * @param pointer The native command buffer.
   * @param parent The device's list of command buffers, released when it closes.
   */
  constructor(device: Device, pointer: Deno.PointerObject, parent?: ChildHandles) {
    super(pointer, releaser(device.symbols, "mb_command_buffer_release"), parent);
    this.device = device;
  }

  /** The kind of object, for messages. */
  protected get kind(): string {
    return "CommandBuffer";
  }

  /** Where this command buffer is: not committed, committed, completed or failed. */
  get status(): CommandBufferStatus {
    return STATUS[this.device.symbols.mb_command_buffer_status(this[HANDLE]("read status"))] ??
      "error";
  }

  /**
   * Starts a compute pass. End it with {@linkcode ComputeEncoder.end} before starting
   * another or committing.
   *
   * @returns The pass's encoder.
   * @throws {InvalidStateError} While another encoder is open, or after commit.
   */
  computeEncoder(): ComputeEncoder {
    const handle = this[HANDLE]("computeEncoder()");
    if (this.#encoder && !this.#encoder.ended) {
      throw new InvalidStateError(
        "computeEncoder()",
        "the previous encoder is still open; call its end() first",
      );
    }
    if (this.#committed) {
      throw new InvalidStateError(
        "computeEncoder()",
        "the command buffer was committed; record into a new one from device.newCommandBuffer()",
      );
    }
    const symbols = this.device.symbols;
    const out = SYNC_OUT;
    const error = SYNC_ERROR;
    const status = symbols.mb_encoder_create(handle, out.cell, error.cell);
    if (status !== 0) unwrap(symbols, status, error, "Cannot computeEncoder()");
    this.#encoder = new ComputeEncoder(this.device, out.pointer!);
    return this.#encoder;
  }

  /**
   * Submits the recorded passes to the device.
   *
   * @throws {InvalidStateError} When an encoder is still open or the command buffer was
   * already committed.
   */
  commit(): void {
    const handle = this[HANDLE]("commit()");
    if (this.#encoder && !this.#encoder.ended) {
      throw new InvalidStateError(
        "commit()",
        "the compute encoder is still open; call end() first",
      );
    }
    if (this.#committed) {
      throw new InvalidStateError(
        "commit()",
        "the command buffer was already committed; create another with device.newCommandBuffer()",
      );
    }
    const symbols = this.device.symbols;
    const error = SYNC_ERROR;
    const status = symbols.mb_command_buffer_commit(handle, error.cell);
    if (status !== 0) unwrap(symbols, status, error, "Cannot commit()");
    this.#committed = true;
  }

  /**
   * Resolves when the device has run this command buffer, without blocking the JS thread.
   *
   * @throws {CommandBufferError} When a kernel failed while running.
   * @throws {InvalidStateError} When the command buffer was not committed.
   */
  async completed(): Promise<void> {
    const handle = this.#committedHandle("completed()");
    const symbols = this.device.symbols;
    // Already done: the synchronous wait returns at once, with no trip through the FFI threads.
    if (symbols.mb_command_buffer_status(handle) >= COMPLETED) return this.waitUntilCompleted();
    const error = new OutPointer();
    // KEEP_ALIVE: a close() while the wait runs on another thread takes effect after it.
    const status = await this[KEEP_ALIVE](symbols.mb_command_buffer_wait_async(handle, error.cell));
    unwrap(symbols, status, error, "Command buffer failed", commandBufferError);
  }

  /**
   * When the device started running this command buffer, in seconds on the host's monotonic
   * clock (Metal: `GPUStartTime`; the CPU backend: when its queue began the dispatches).
   * `gpuEndTime - gpuStartTime` is the device time. Read it after completion.
   *
   * @throws {InvalidStateError} Before the command buffer completed.
   * @throws {UnsupportedError} When the device reported no times.
   */
  get gpuStartTime(): number {
    return this.#gpuTimes()[0];
  }

  /**
   * When the device finished running this command buffer, in seconds on the host's monotonic
   * clock (see {@linkcode CommandBuffer.gpuStartTime}).
   *
   * @throws {InvalidStateError} Before the command buffer completed.
   * @throws {UnsupportedError} When the device reported no times.
   */
  get gpuEndTime(): number {
    return this.#gpuTimes()[1];
  }

  #gpuTimes(): [number, number] {
    const handle = this[HANDLE]("read gpuStartTime/gpuEndTime");
    const status = this.status;
    if (status !== "completed" && status !== "error") {
      throw new InvalidStateError(
        "read gpuStartTime/gpuEndTime",
        `the command buffer has not completed (${status}); await completed() first`,
      );
    }
    const symbols = this.device.symbols;
    const start = new Float64Array(1);
    const end = new Float64Array(1);
    const error = SYNC_ERROR;
    const code = symbols.mb_command_buffer_gpu_time(handle, start, end, error.cell);
    unwrap(symbols, code, error, "Cannot read gpuStartTime/gpuEndTime");
    return [start[0], end[0]];
  }

  /**
   * Blocks until the device has run this command buffer.
   *
   * @throws {CommandBufferError} When a kernel failed while running.
   * @throws {InvalidStateError} When the command buffer was not committed.
   */
  waitUntilCompleted(): void {
    const handle = this.#committedHandle("waitUntilCompleted()");
    const symbols = this.device.symbols;
    const error = SYNC_ERROR;
    const status = symbols.mb_command_buffer_wait(handle, error.cell);
    if (status !== 0) unwrap(symbols, status, error, "Command buffer failed", commandBufferError);
  }

  #committedHandle(call: string): Deno.PointerObject {
    const handle = this[HANDLE](call);
    if (!this.#committed) {
      throw new InvalidStateError(
        call,
        "the command buffer was not committed; call commit() first",
      );
    }
    return handle;
  }
}

function commandBufferError(code: StatusName, detail: string, context: string): Error {
  return code === "MB_ERR_EXECUTION"
    ? new CommandBufferError(code, `${context}: ${detail || code}`)
    : errorForStatus(code, `${context}: ${detail || code}`);
}

/**
 * Records one compute pass: set a pipeline and its arguments, dispatch, repeat, end.
 * Argument mistakes throw before anything reaches the device.
 */
export class ComputeEncoder extends NativeResource {
  /** The device the pass runs on. */
  readonly device: Device;
  #ended = false;
  #pipeline: Pipeline | undefined;

  /**
   * Wraps an encoder (internal: use `CommandBuffer.computeEncoder`).
   *
   * @param device The device.
   * @param pointer The native encoder.
   */
  constructor(device: Device, pointer: Deno.PointerObject) {
    super(pointer, releaser(device.symbols, "mb_encoder_release"));
    this.device = device;
  }

  /** The kind of object, for messages. */
  protected get kind(): string {
    return "ComputeEncoder";
  }

  /** Whether {@linkcode ComputeEncoder.end} has been called. */
  get ended(): boolean {
    return this.#ended;
  }

  /** The pipeline set last, if any. */
  get pipeline(): Pipeline | undefined {
    return this.#pipeline;
  }

  /**
   * Sets the pipeline the next dispatches run.
   *
   * @param pipeline A pipeline from a registry, for this encoder's device.
   */
  setPipeline(pipeline: Pipeline): void {
    const handle = this.#open("setPipeline()");
    expectKind(
      pipeline,
      Pipeline,
      "setPipeline()",
      "pipeline",
      "a Pipeline from KernelRegistry.getPipeline",
    );
    this.device.symbols.mb_encoder_set_pipeline(handle, pipeline[HANDLE]("setPipeline()"));
    this.#pipeline = pipeline;
  }

  /**
   * Binds `buffer`, from byte `offset`, at `[[buffer(index)]]`.
   *
   * @param buffer The buffer.
   * @param index The binding index, 0 to 30.
   * @param offset Where the kernel's view starts, in bytes.
   * @throws {RangeError} For an index or offset out of range.
   */
  setBuffer(buffer: DeviceBuffer, index: number, offset = 0): void {
    const handle = this.#open("setBuffer()");
    expectKind(
      buffer,
      DeviceBuffer,
      "setBuffer()",
      "buffer",
      "a DeviceBuffer from Device.newBuffer",
    );
    checkIndex(index, "buffer");
    if (!Number.isSafeInteger(offset) || offset < 0 || offset >= buffer.byteLength) {
      throw new RangeError(
        `Cannot setBuffer() at index ${index}: offset ${offset} is outside its ${buffer.byteLength} bytes`,
      );
    }
    // The message is built only for a closed buffer.
    const pointer = buffer.closed ? buffer[HANDLE](`set buffer ${index}`) : buffer[HANDLE]();
    this.device.symbols.mb_encoder_set_buffer(handle, pointer, BigInt(offset), index);
  }

  /**
   * Copies `data` (at most 4096 bytes) now and binds it at `[[buffer(index)]]`, for small
   * `constant` arguments such as sizes and scales.
   *
   * @param data The bytes: a typed array, DataView or ArrayBuffer.
   * @param index The binding index, 0 to 30.
   * @throws {RangeError} For an empty or too large payload or an index out of range.
   */
  setBytes(data: ArrayBufferView | ArrayBuffer, index: number): void {
    const handle = this.#open("setBytes()");
    if (!ArrayBuffer.isView(data) && !(data instanceof ArrayBuffer)) {
      throw new TypeError(
        `Cannot setBytes(): data must be a typed array, DataView or ArrayBuffer, got ${
          describe(data)
        }`,
      );
    }
    checkIndex(index, "buffer");
    const bytes = ArrayBuffer.isView(data)
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : new Uint8Array(data);
    if (bytes.byteLength === 0 || bytes.byteLength > MAX_SET_BYTES_LENGTH) {
      throw new RangeError(
        `Cannot setBytes() at index ${index}: ${bytes.byteLength} bytes, expected 1 to ${MAX_SET_BYTES_LENGTH} (use a buffer for more)`,
      );
    }
    this.device.symbols.mb_encoder_set_bytes(handle, bytes, BigInt(bytes.byteLength), index);
  }

  /**
   * Sets the length of the `[[threadgroup(index)]]` memory argument.
   *
   * @param byteLength Bytes per threadgroup, a multiple of 16.
   * @param index The threadgroup binding index, 0 to 30.
   * @throws {RangeError} For a length that is not a multiple of 16 or exceeds the device's
   * limit.
   */
  setThreadgroupMemoryLength(byteLength: number, index: number): void {
    const handle = this.#open("setThreadgroupMemoryLength()");
    checkIndex(index, "threadgroup");
    const limit = this.device.maxThreadgroupMemoryLength;
    if (!Number.isSafeInteger(byteLength) || byteLength < 0 || byteLength % 16 !== 0) {
      throw new RangeError(
        `Cannot setThreadgroupMemoryLength() at index ${index}: ${byteLength} bytes is not a multiple of 16`,
      );
    }
    if (byteLength > limit) {
      throw new RangeError(
        `Cannot setThreadgroupMemoryLength() at index ${index}: ${byteLength} bytes exceeds the device limit of ${limit}`,
      );
    }
    this.device.symbols.mb_encoder_set_threadgroup_memory_length(handle, BigInt(byteLength), index);
  }

  /**
   * Runs `groups` threadgroups of `threads` threads each.
   *
   * @param groups Threadgroups per grid dimension.
   * @param threads Threads per threadgroup dimension.
   * @throws {RangeError} For a size that is not a positive integer.
   * @throws {InvalidStateError} When no pipeline is set.
   * @throws {ThreadgroupLimitError} When the threadgroup exceeds the pipeline's
   * `maxTotalThreadsPerThreadgroup`.
   * @throws {InvalidArgumentError} When a binding the kernel uses is missing.
   */
  dispatchThreadgroups(groups: Size, threads: Size): void {
    const call = "dispatchThreadgroups()";
    const handle = this.#open(call);
    checkSize(groups, "threadgroups");
    checkSize(threads, "threads per threadgroup");
    this.#checkPipeline(call);
    const symbols = this.device.symbols;
    const error = SYNC_ERROR;
    const status = symbols.mb_encoder_dispatch_threadgroups(
      handle,
      dim(groups, 0),
      dim(groups, 1),
      dim(groups, 2),
      dim(threads, 0),
      dim(threads, 1),
      dim(threads, 2),
      error.cell,
    );
    if (status !== 0) unwrap(symbols, status, error, `Cannot ${call} "${this.#pipeline!.name}"`);
  }

  /**
   * Runs a grid of `grid` threads in threadgroups of `threads`; threadgroups at the grid's
   * edges are partial, so kernels need no bounds check for the padding.
   *
   * @param grid Threads per grid dimension.
   * @param threads Threads per threadgroup dimension.
   * @throws {RangeError} For a size that is not a positive integer.
   * @throws {InvalidStateError} When no pipeline is set.
   * @throws {ThreadgroupLimitError} As {@linkcode ComputeEncoder.dispatchThreadgroups}.
   * @throws {InvalidArgumentError} When a binding the kernel uses is missing.
   */
  dispatchThreads(grid: Size, threads: Size): void {
    const call = "dispatchThreads()";
    const handle = this.#open(call);
    checkSize(grid, "grid");
    checkSize(threads, "threads per threadgroup");
    this.#checkPipeline(call);
    const symbols = this.device.symbols;
    const error = SYNC_ERROR;
    const status = symbols.mb_encoder_dispatch_threads(
      handle,
      dim(grid, 0),
      dim(grid, 1),
      dim(grid, 2),
      dim(threads, 0),
      dim(threads, 1),
      dim(threads, 2),
      error.cell,
    );
    if (status !== 0) unwrap(symbols, status, error, `Cannot ${call} "${this.#pipeline!.name}"`);
  }

  /** Ends the pass. Further calls on this encoder throw. */
  end(): void {
    const handle = this.#open("end()");
    this.device.symbols.mb_encoder_end(handle);
    this.#ended = true;
    this.close();
  }

  #open(call: string): Deno.PointerObject {
    if (this.#ended) {
      throw new InvalidStateError(
        call,
        "the encoder has ended; start another pass with commandBuffer.computeEncoder()",
      );
    }
    return this[HANDLE](call);
  }

  /**
   * Dispatching needs a pipeline. The sizes are the bridge's to check against the pipeline
   * and the device, in the words of Metal's validation layer.
   */
  #checkPipeline(call: string): void {
    if (!this.#pipeline) {
      throw new InvalidStateError(call, "no pipeline is set; call setPipeline() first");
    }
  }
}

function checkIndex(index: number, kind: string): void {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_BINDINGS) {
    throw new RangeError(
      `Cannot bind ${kind} index ${index}: expected an integer from 0 to ${MAX_BINDINGS - 1}`,
    );
  }
}

/**
 * Checks, before any native call, that `value` is the kind of object a method needs: a wrong
 * one would hand the bridge a pointer to some other native struct.
 */
function expectKind(
  value: unknown,
  kind: abstract new (...args: never[]) => unknown,
  method: string,
  parameter: string,
  expected: string,
): void {
  if (!(value instanceof kind)) {
    throw new TypeError(
      `Cannot ${method}: ${parameter} must be ${expected}, got ${describe(value)}`,
    );
  }
}

/** How a wrong argument reads in a message: its class, or its type. */
function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value !== "object") return typeof value;
  return `a ${value.constructor?.name ?? "object"}`;
}

/** Dimension `d` of a checked size (missing dimensions are 1). */
function dim(size: Size, d: number): number {
  const n = (size as readonly number[])[d];
  return n === undefined ? 1 : n;
}

/** Checks a size for a dispatch, without allocating (a dispatch is a hot path). */
function checkSize(size: Size, what: string): void {
  if (!Array.isArray(size) || size.length < 1 || size.length > 3) {
    throw new RangeError(
      `Cannot dispatch: ${what} must have 1 to 3 dimensions (width, height, depth), got ${
        Array.isArray(size) ? `${size.length} ([${size.join(", ")}])` : describe(size)
      }`,
    );
  }
  for (let d = 0; d < 3; d++) {
    const n = dim(size, d);
    if (!Number.isInteger(n) || n < 1 || n > 0xffffffff) {
      throw new RangeError(
        `Cannot dispatch: ${what} [${size.join(", ")}] must be positive integers`,
      );
    }
  }
}
