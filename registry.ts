// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * {@linkcode KernelRegistry}: the catalogue of kernel sources, compiled lazily into
 * pipelines and cached.
 *
 * @module
 */
import { hashText } from "./_hash.ts";
import { HANDLE, NativeResource } from "./resource.ts";
import { type FunctionConstants, normalizeConstants } from "./constants.ts";
import { Device } from "./device.ts";
import {
  FunctionConstantError,
  KernelNotFoundError,
  MetalComputeError,
  ShaderCompilationError,
  type StatusName,
} from "./errors.ts";
import { cString, type ErrorFactory, OutPointer, unwrap } from "./ffi/_native.ts";
import type { BridgeSymbols } from "./ffi/symbols.ts";
import { Pipeline, type PipelineOrigin } from "./pipeline.ts";
import {
  type KernelName,
  KERNELS,
  loadShader,
  loadShaderSync,
  type ShaderFile,
} from "./shaders/catalog.ts";

/** How the compiler may treat floating point (Metal's `MTLMathMode`). */
export type MathMode = "fast" | "relaxed" | "safe";

/** Options for a {@linkcode KernelRegistry}: how every source is compiled. */
export interface KernelRegistryOptions {
  /**
   * Floating-point math mode. Kernels that need exact libm behaviour call `precise::`
   * functions explicitly.
   *
   * @default {"fast"}
   */
  mathMode?: MathMode;
  /**
   * Preprocessor macros defined before every source.
   *
   * @default {{}}
   */
  macros?: Readonly<Record<string, string | number | boolean>>;
  /**
   * The MSL language version, e.g. `"3.1"`; empty for the backend's default.
   *
   * @default {""}
   */
  languageVersion?: string;
}

/** Counters of the registry's work since it was created. */
export interface RegistryStats {
  /** Shader libraries compiled (one per source text, options and device). */
  libraryCompiles: number;
  /** Pipelines built (one per library, kernel name and constants). */
  pipelineBuilds: number;
  /** `getPipeline` calls answered from the cache. */
  hits: number;
}

interface KernelSource {
  file: string;
  /** Present for registered sources and once a bundled file has loaded. */
  text?: string;
  /** `hashText(text)`, computed once: the source's identity in every cache key. */
  hash?: string;
  /** The bundled file to load the text from. */
  shader?: ShaderFile;
}

/** What became of one pipeline during {@linkcode KernelRegistry.precompile}. */
export type PrecompileStatus = PipelineOrigin | "failed";

/** One finished pipeline, reported by {@linkcode PrecompileOptions.onProgress}. */
export interface PrecompileProgress {
  /** The kernel name. */
  name: string;
  /** `"compiled"` (this process compiled it), `"cache"` (the persistent cache had it), or `"failed"`. */
  status: PrecompileStatus;
  /** The error, when it failed. */
  error?: Error;
  /** Pipelines finished so far, this one included. */
  done: number;
  /** Pipelines to build. */
  total: number;
}

/** Options for {@linkcode KernelRegistry.precompile}. */
export interface PrecompileOptions {
  /**
   * The device to build for; its pipelines stay cached in the registry, so later
   * `getPipeline` calls on it are cache hits. Without one, a system-default device is opened
   * for the call and closed after it: the call then only fills the persistent cache, from
   * which any later device of that backend loads the pipelines without compiling.
   *
   * @default {a temporary `Device.systemDefault()`}
   */
  device?: Device;
  /**
   * The function constants to build each name with, by name. Bundled kernels not listed use
   * their catalogue specialisation (if any); other names build without constants.
   *
   * @default {{}}
   */
  constants?: Readonly<Record<string, FunctionConstants>>;
  /**
   * How many compiles run at once.
   *
   * @default {navigator.hardwareConcurrency}
   */
  concurrency?: number;
  /** Called once per pipeline as it finishes. */
  onProgress?: (progress: PrecompileProgress) => void;
}

/** What {@linkcode KernelRegistry.precompile} did. */
export interface PrecompileSummary {
  /** Pipelines attempted. */
  total: number;
  /** Pipelines this process compiled. */
  compiled: number;
  /** Pipelines the persistent cache supplied. */
  fromCache: number;
  /** Pipelines that failed, with their errors. */
  failed: { name: string; error: Error }[];
  /** Shader libraries compiled during the call. */
  libraryCompiles: number;
  /** Wall time of the call, in milliseconds. */
  milliseconds: number;
}

/** A cache slot: the in-flight build (shared by concurrent callers), then its result. */
interface Slot<T> {
  promise?: Promise<T>;
  value?: T;
  /** The kernel name, for pipeline slots (registerSource evicts by name). */
  name?: string;
}

const MATH_MODES: Record<MathMode, number> = { safe: 0, relaxed: 1, fast: 2 };

/**
 * The catalogue of kernel sources and a cache of the pipelines built from them.
 *
 * Creating a registry registers every bundled kernel and reads or compiles nothing. The
 * first `getPipeline` for a kernel loads its `.metal` source, compiles it into a library once
 * per (source text, options, device), and builds the pipeline once per (source, kernel,
 * constants); later calls return the cached pipeline. Concurrent calls share one compile.
 * The registry owns its pipelines: closing it closes them.
 *
 * @example Usage
 * ```ts ignore
 * import { Device, KernelRegistry } from "./mod.ts";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const softmax = await registry.getPipeline("softmax_f32", device);
 * const again = registry.getPipelineSync("softmax_f32", device); // cached: same object
 * console.log(softmax === again, registry.stats); // true { libraryCompiles: 1, ... }
 * ```
 */
export class KernelRegistry {
  #sources = new Map<string, KernelSource>();
  #texts = new Map<ShaderFile, Promise<string>>();
  #libraries = new Map<string, Slot<Library>>();
  #pipelines = new Map<string, Slot<Pipeline>>();
  /**
   * The hit path: name -> (device id, or `fastKey` with constants) -> pipeline. Filled after a
   * pipeline is found the slow way; dropped with the name's source or on close.
   */
  #hot = new Map<string, Map<number | string, Pipeline>>();
  #stats: RegistryStats = { libraryCompiles: 0, pipelineBuilds: 0, hits: 0 };
  #macros: string;
  #mathMode: number;
  #languageVersion: number;
  #closed = false;

  /**
   * Registers every bundled kernel. Nothing is read or compiled until it is needed.
   *
   * @param options How sources are compiled.
   * @throws {TypeError} For an unknown math mode or a malformed language version.
   */
  constructor(options: KernelRegistryOptions = {}) {
    const mathMode = options.mathMode ?? "fast";
    if (!(mathMode in MATH_MODES)) {
      throw new TypeError(
        `Cannot create registry: unknown math mode "${mathMode}", expected "fast", "relaxed" or "safe"`,
      );
    }
    this.#mathMode = MATH_MODES[mathMode];
    this.#languageVersion = parseLanguageVersion(options.languageVersion ?? "");
    this.#macros = Object.entries(options.macros ?? {})
      .map(([name, value]) => value === true ? name : `${name}=${value === false ? 0 : value}`)
      .join("\n");
    for (const [name, entry] of Object.entries(KERNELS)) {
      this.#sources.set(name, { file: entry.file, shader: entry.file });
    }
  }

  /** The number of registered kernel names. */
  get sourceCount(): number {
    return this.#sources.size;
  }

  /** The number of cached, open pipelines (over all devices and specialisations). */
  get cachedCount(): number {
    let count = 0;
    for (const slot of this.#pipelines.values()) if (slot.value && !slot.value.closed) count++;
    return count;
  }

  /** A copy of the work counters. */
  get stats(): RegistryStats {
    return { ...this.#stats };
  }

  /** Every registered kernel name, sorted. */
  get names(): string[] {
    return [...this.#sources.keys()].sort();
  }

  /**
   * Whether a pipeline for `name` with `constants` is cached for any device.
   *
   * @param name A kernel name.
   * @param constants Its function constants.
   * @returns True when `getPipeline` would answer from the cache.
   */
  isCached(name: string, constants?: FunctionConstants): boolean {
    const source = this.#sources.get(name);
    if (source?.text === undefined) return false;
    const suffix = `|${
      pipelineSuffix(source.hash!, name, normalizeConstants(name, constants).key)
    }`;
    for (const [key, slot] of this.#pipelines) {
      if (key.endsWith(suffix) && slot.value && !slot.value.closed) return true;
    }
    return false;
  }

  /**
   * Registers (or replaces) the MSL source that serves kernel `name`, and drops that name's
   * cached pipelines so the next `getPipeline` builds from the new text.
   *
   * @param name The kernel function's name in `source`.
   * @param source MSL text.
   * @param file The file name used in diagnostics.
   *
   * @example Usage
   * ```ts
   * import { KernelRegistry } from "./mod.ts";
   * import assert from "node:assert";
   *
   * const registry = new KernelRegistry();
   * registry.registerSource("twice", "kernel void twice(device float* x [[buffer(0)]]) {}");
   * assert.ok(registry.names.includes("twice"));
   * ```
   */
  registerSource(name: string, source: string, file = `${name}.metal`): void {
    this.#checkOpen("register a source");
    if (typeof name !== "string" || name === "") {
      throw new TypeError("Cannot register source: the kernel name must be a non-empty string");
    }
    if (typeof source !== "string") {
      throw new TypeError(`Cannot register source for "${name}": the source must be a string`);
    }
    this.#sources.set(name, { file, text: source, hash: hashText(source) });
    this.#hot.delete(name);
    for (const [key, slot] of this.#pipelines) {
      if (slot.name === name) this.#pipelines.delete(key);
    }
  }

  /**
   * Returns the pipeline for kernel `name` on `device`, specialised with `constants`,
   * compiling on first use. The compile runs off the JavaScript thread; concurrent calls for
   * one pipeline share a single compile.
   *
   * @param name A registered kernel name.
   * @param device The device to build for.
   * @param constants Function constants, e.g. `{ 200: true, 100: 4 }`.
   * @returns The cached or newly built pipeline (owned by the registry).
   * @throws {KernelNotFoundError} When no source is registered for `name`.
   * @throws {ShaderCompilationError} When the source does not compile.
   * @throws {FunctionConstantError} For constants of the wrong type, undeclared or missing.
   */
  getPipeline(name: string, device: Device, constants?: FunctionConstants): Promise<Pipeline> {
    const hot = this.#hotHit(name, device, constants);
    if (hot !== undefined) return Promise.resolve(hot);
    try {
      const { source, normalized } = this.#lookup(name, device, constants);
      if (source.text === undefined) {
        return this.#loadText(source).then(() => this.getPipeline(name, device, constants));
      }
      const key = this.#pipelineKey(device, source.hash!, name, normalized.key);
      const slot = this.#pipelines.get(key);
      if (slot?.value && !slot.value.closed) {
        this.#stats.hits++;
        this.#rememberHot(name, device, constants, slot.value);
        return Promise.resolve(slot.value);
      }
      if (slot?.promise) {
        this.#stats.hits++;
        return slot.promise;
      }
      const { file, text, hash } = source;
      const promise = (async () => {
        const library = await this.#library(file, text, hash!, device, name);
        this.#stats.pipelineBuilds++;
        const pipeline = await buildPipeline(
          library,
          name,
          normalized,
          labelOf(name, normalized.key),
          true,
        );
        return device.adopt(pipeline);
      })();
      this.#remember(this.#pipelines, key, promise, name);
      promise.then((pipeline) => {
        // Still the cached one (not replaced by registerSource or dropped by close).
        if (this.#pipelines.get(key)?.value === pipeline) {
          this.#rememberHot(name, device, constants, pipeline);
        }
      }, () => {});
      return promise;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Synchronous twin of {@linkcode KernelRegistry.getPipeline}: compiles on the calling
   * thread on a miss. Bundled sources load synchronously when the module comes from the
   * local file system; from a remote import, call `getPipeline` once first.
   *
   * @param name A registered kernel name.
   * @param device The device to build for.
   * @param constants Function constants.
   * @returns The cached or newly built pipeline.
   * @throws {KernelNotFoundError} When no source is registered for `name`.
   * @throws {ShaderCompilationError} When the source does not compile.
   * @throws {FunctionConstantError} For constants of the wrong type, undeclared or missing.
   */
  getPipelineSync(name: string, device: Device, constants?: FunctionConstants): Pipeline {
    const hot = this.#hotHit(name, device, constants);
    if (hot !== undefined) return hot;
    const { source, normalized } = this.#lookup(name, device, constants);
    if (source.text === undefined) {
      const text = loadShaderSync(source.shader!);
      if (text === undefined) {
        throw new MetalComputeError(
          "MB_ERR_UNSUPPORTED",
          `Cannot load "${source.file}" synchronously from a remote module: await registry.getPipeline("${name}", device) once first`,
        );
      }
      this.#shareText(source.shader!, text);
    }
    const key = this.#pipelineKey(device, source.hash!, name, normalized.key);
    const slot = this.#pipelines.get(key);
    if (slot?.value && !slot.value.closed) {
      this.#stats.hits++;
      this.#rememberHot(name, device, constants, slot.value);
      return slot.value;
    }
    const library = this.#librarySync(source.file, source.text!, source.hash!, device, name);
    this.#stats.pipelineBuilds++;
    const pipeline = device.adopt(
      buildPipeline(library, name, normalized, labelOf(name, normalized.key), false),
    );
    this.#pipelines.set(key, { value: pipeline, name });
    this.#rememberHot(name, device, constants, pipeline);
    return pipeline;
  }

  /**
   * Builds the pipelines for `names` (default: every registered kernel) ahead of use,
   * `concurrency` compiles at a time through the non-blocking compile calls, and reports each
   * pipeline as it finishes: compiled now, supplied by the persistent cache, or failed. A
   * failure is reported and counted, not thrown. Bundled kernels with required function
   * constants build with their catalogue specialisation.
   *
   * @param names The kernel names to build; all registered names when omitted.
   * @param options The device, constants, concurrency and a progress callback.
   * @returns Counts of compiled, cached and failed pipelines, and the time taken.
   * @throws {KernelNotFoundError} When a name is not registered.
   *
   * @example Usage
   * ```ts ignore
   * import { Device, KernelRegistry } from "./mod.ts";
   *
   * using device = Device.systemDefault();
   * using registry = new KernelRegistry();
   * const summary = await registry.precompile(undefined, {
   *   device,
   *   onProgress: ({ name, status, done, total }) => console.log(`${done}/${total} ${name}: ${status}`),
   * });
   * console.log(summary.compiled, summary.fromCache, summary.failed.length);
   * ```
   */
  async precompile(
    names?: readonly string[],
    options: PrecompileOptions = {},
  ): Promise<PrecompileSummary> {
    this.#checkOpen("precompile");
    const wanted = [...(names ?? this.names)];
    for (const name of wanted) {
      if (!this.#sources.has(name)) {
        throw new KernelNotFoundError(name, nearestNames(name, this.#sources.keys()));
      }
    }
    if (options.device) return await this.#precompileOn(options.device, wanted, options);
    using device = Device.systemDefault();
    return await this.#precompileOn(device, wanted, options);
  }

  async #precompileOn(
    device: Device,
    names: string[],
    options: PrecompileOptions,
  ): Promise<PrecompileSummary> {
    const start = performance.now();
    const libraryCompiles = this.#stats.libraryCompiles;
    const concurrency = Math.max(1, options.concurrency ?? navigator.hardwareConcurrency ?? 1);
    const queue = interleaveByFile(names, (name) => this.#sources.get(name)!.file);
    const summary: PrecompileSummary = {
      total: queue.length,
      compiled: 0,
      fromCache: 0,
      failed: [],
      libraryCompiles: 0,
      milliseconds: 0,
    };
    let next = 0;
    let done = 0;
    const worker = async () => {
      while (next < queue.length) {
        const name = queue[next++];
        const constants = options.constants?.[name] ??
          (this.#sources.get(name)?.shader !== undefined
            ? KERNELS[name as KernelName]?.constants
            : undefined);
        let status: PrecompileStatus;
        let error: Error | undefined;
        try {
          status = (await this.getPipeline(name, device, constants)).origin;
        } catch (cause) {
          status = "failed";
          error = cause instanceof Error ? cause : new Error(String(cause));
          summary.failed.push({ name, error });
        }
        if (status === "compiled") summary.compiled++;
        else if (status === "cache") summary.fromCache++;
        options.onProgress?.({ name, status, error, done: ++done, total: queue.length });
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
    summary.libraryCompiles = this.#stats.libraryCompiles - libraryCompiles;
    summary.milliseconds = performance.now() - start;
    return summary;
  }

  /** Closes every pipeline and library this registry built. Calling it again does nothing. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const slot of this.#pipelines.values()) slot.value?.close();
    for (const slot of this.#libraries.values()) slot.value?.close();
    this.#pipelines.clear();
    this.#libraries.clear();
    this.#hot.clear();
  }

  /** Same as {@linkcode KernelRegistry.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #checkOpen(action: string): void {
    if (this.#closed) {
      throw new MetalComputeError(
        "MB_ERR_CLOSED",
        `Cannot ${action}: the KernelRegistry is closed`,
      );
    }
  }

  /** The cheap path of a cache hit: no constant normalisation, one or two Map lookups. */
  #hotHit(
    name: string,
    device: Device,
    constants: FunctionConstants | undefined,
  ): Pipeline | undefined {
    if (this.#closed) return undefined;
    const byName = this.#hot.get(name);
    if (byName === undefined) return undefined;
    const key = hotKeyOf(device, constants);
    if (key === undefined) return undefined;
    const pipeline = byName.get(key);
    if (pipeline === undefined || pipeline.closed) return undefined;
    this.#stats.hits++;
    return pipeline;
  }

  #hotMap(name: string): Map<number | string, Pipeline> {
    let byName = this.#hot.get(name);
    if (byName === undefined) {
      byName = new Map();
      this.#hot.set(name, byName);
    }
    return byName;
  }

  #rememberHot(
    name: string,
    device: Device,
    constants: FunctionConstants | undefined,
    pipeline: Pipeline,
  ): void {
    const key = hotKeyOf(device, constants);
    if (key !== undefined) this.#hotMap(name).set(key, pipeline);
  }

  #lookup(name: string, device: Device, constants: FunctionConstants | undefined) {
    this.#checkOpen(`get pipeline "${name}"`);
    const source = this.#sources.get(name);
    if (!source) throw new KernelNotFoundError(name, nearestNames(name, this.#sources.keys()));
    device[HANDLE](`get pipeline "${name}"`);
    const normalized = normalizeConstants(name, constants);
    return { source, normalized };
  }

  #pipelineKey(device: Device, hash: string, name: string, constantsKey: string): string {
    // Compile options are fixed per registry, so they need no place in the key.
    return `${device.id}|${pipelineSuffix(hash, name, constantsKey)}`;
  }

  async #loadText(source: KernelSource): Promise<void> {
    const file = source.shader!;
    let text = this.#texts.get(file);
    if (!text) {
      text = loadShader(file);
      this.#texts.set(file, text);
    }
    this.#shareText(file, await text);
  }

  /** Every name served by `file` shares its one loaded text. */
  #shareText(file: ShaderFile, text: string): void {
    const hash = hashText(text);
    for (const entry of this.#sources.values()) {
      if (entry.shader === file && entry.text === undefined) {
        entry.text = text;
        entry.hash = hash;
      }
    }
  }

  #libraryKey(hash: string, device: Device): string {
    return `${device.id}|${hash}`;
  }

  #library(
    file: string,
    text: string,
    hash: string,
    device: Device,
    kernel: string,
  ): Promise<Library> {
    const key = this.#libraryKey(hash, device);
    const slot = this.#libraries.get(key);
    if (slot?.value && !slot.value.closed) return Promise.resolve(slot.value);
    if (slot?.promise) return slot.promise;
    this.#stats.libraryCompiles++;
    const promise = compileLibrary(device, text, file, kernel, this.#compileArgs(), true);
    this.#remember(this.#libraries, key, promise);
    return promise;
  }

  #librarySync(file: string, text: string, hash: string, device: Device, kernel: string): Library {
    const key = this.#libraryKey(hash, device);
    const slot = this.#libraries.get(key);
    if (slot?.value && !slot.value.closed) return slot.value;
    this.#stats.libraryCompiles++;
    const library = compileLibrary(device, text, file, kernel, this.#compileArgs(), false);
    this.#libraries.set(key, { value: library });
    return library;
  }

  #compileArgs(): CompileArgs {
    return {
      macros: this.#macros,
      mathMode: this.#mathMode,
      languageVersion: this.#languageVersion,
    };
  }

  /** Shares `promise` through `map[key]` while in flight; a failure is never cached. */
  #remember<T>(map: Map<string, Slot<T>>, key: string, promise: Promise<T>, name?: string): void {
    const slot: Slot<T> = { promise, name };
    map.set(key, slot);
    promise.then(
      (value) => {
        if (map.get(key) !== slot) return; // invalidated (registerSource) or closed meanwhile
        slot.value = value;
        slot.promise = undefined;
      },
      () => {
        if (map.get(key) === slot) map.delete(key);
      },
    );
  }
}

interface CompileArgs {
  macros: string;
  mathMode: number;
  languageVersion: number;
}

/** A compiled shader library (internal to the registry). */
class Library extends NativeResource {
  readonly symbols: BridgeSymbols;
  readonly file: string;

  constructor(symbols: BridgeSymbols, pointer: Deno.PointerObject, file: string) {
    super(pointer, (p) => symbols.mb_library_release(p));
    this.symbols = symbols;
    this.file = file;
  }

  /** The kind of object, for messages. */
  protected get kind(): string {
    return "Library";
  }
}

function compileLibrary(
  device: Device,
  text: string,
  file: string,
  kernel: string,
  args: CompileArgs,
  async: true,
): Promise<Library>;
function compileLibrary(
  device: Device,
  text: string,
  file: string,
  kernel: string,
  args: CompileArgs,
  async: false,
): Library;
function compileLibrary(
  device: Device,
  text: string,
  file: string,
  kernel: string,
  args: CompileArgs,
  async: boolean,
): Library | Promise<Library> {
  const symbols = device.symbols;
  const handle = device[HANDLE](`compile "${file}"`);
  const source = new TextEncoder().encode(text);
  const fileName = cString(file);
  const macros = cString(args.macros);
  const out = new OutPointer();
  const error = new OutPointer();
  const call = async ? symbols.mb_library_create_async : symbols.mb_library_create;
  const finish = (status: number): Library => {
    unwrap(symbols, status, error, `Cannot compile "${file}"`, compileError(kernel, file));
    return device.adopt(new Library(symbols, out.pointer!, file));
  };
  const result = call(
    handle,
    source,
    BigInt(source.byteLength),
    fileName,
    macros,
    args.mathMode,
    args.languageVersion,
    out.cell,
    error.cell,
  );
  // The typed arrays above stay referenced by this closure until the native call returns.
  return typeof result === "number" ? finish(result) : result.then(finish);
}

function buildPipeline(
  library: Library,
  name: string,
  constants: ReturnType<typeof normalizeConstants>,
  label: string,
  async: true,
): Promise<Pipeline>;
function buildPipeline(
  library: Library,
  name: string,
  constants: ReturnType<typeof normalizeConstants>,
  label: string,
  async: false,
): Pipeline;
function buildPipeline(
  library: Library,
  name: string,
  constants: ReturnType<typeof normalizeConstants>,
  label: string,
  async: boolean,
): Pipeline | Promise<Pipeline> {
  const symbols = library.symbols;
  const handle = library[HANDLE](`build pipeline "${name}"`);
  const functionName = cString(name);
  const labelText = cString(label);
  const out = new OutPointer();
  const error = new OutPointer();
  const call = async ? symbols.mb_pipeline_create_async : symbols.mb_pipeline_create;
  const finish = (status: number): Pipeline => {
    unwrap(
      symbols,
      status,
      error,
      `Cannot build pipeline "${name}"`,
      pipelineError(name, library.file),
    );
    return new Pipeline(symbols, out.pointer!, name, label);
  };
  const result = call(
    handle,
    functionName,
    constants.count > 0 ? constants.words : new Uint32Array(3),
    constants.count,
    labelText,
    out.cell,
    error.cell,
  );
  return typeof result === "number" ? finish(result) : result.then(finish);
}

function compileError(kernel: string, file: string): ErrorFactory {
  return (code: StatusName, detail: string, context: string) =>
    code === "MB_ERR_COMPILE"
      ? new ShaderCompilationError(kernel, file, detail)
      : new MetalComputeError(code, `${context}: ${detail || code}`);
}

function pipelineError(kernel: string, file: string): ErrorFactory {
  return (code: StatusName, detail: string, context: string) => {
    switch (code) {
      case "MB_ERR_COMPILE":
        return new ShaderCompilationError(kernel, file, detail);
      case "MB_ERR_INVALID_ARG":
        return new FunctionConstantError(kernel, detail);
      case "MB_ERR_NOT_FOUND":
        return new KernelNotFoundError(kernel, [], detail);
      default:
        return new MetalComputeError(code, `${context}: ${detail || code}`);
    }
  };
}

/**
 * The hit-path key of (device, constants) without normalising them: the device id alone, or
 * the id plus each `index:value` in enumeration order. Integer-like keys enumerate in
 * ascending order, so `{ 200: true, 100: 4 }` and `{ 100: 4, 200: true }` give one key.
 * Spelled-out values (`{ type, value }`) and anything odd take the normalising path
 * (undefined here); two spellings of one specialisation may get two keys for one pipeline.
 */
function hotKeyOf(
  device: Device,
  constants: FunctionConstants | undefined,
): number | string | undefined {
  if (constants === undefined) return device.id;
  let key = `${device.id}`;
  for (const index in constants) {
    const value = constants[index as unknown as number];
    if (typeof value === "boolean") key += value ? `|${index}:t` : `|${index}:f`;
    else if (typeof value === "number") key += `|${index}:${value}`;
    else return undefined;
  }
  return key;
}

/** `names` reordered round-robin over their files, so concurrent builds start on different libraries. */
function interleaveByFile(names: readonly string[], fileOf: (name: string) => string): string[] {
  const byFile = new Map<string, string[]>();
  for (const name of new Set(names)) {
    const file = fileOf(name);
    let list = byFile.get(file);
    if (!list) byFile.set(file, list = []);
    list.push(name);
  }
  const lists = [...byFile.values()];
  const longest = Math.max(0, ...lists.map((list) => list.length));
  const out: string[] = [];
  for (let i = 0; i < longest; i++) {
    for (const list of lists) if (i < list.length) out.push(list[i]);
  }
  return out;
}

function pipelineSuffix(hash: string, name: string, constantsKey: string): string {
  return `${hash}|${name}|${constantsKey}`;
}

function labelOf(name: string, constantsKey: string): string {
  return constantsKey ? `${name}[${constantsKey}]` : name;
}

function parseLanguageVersion(version: string): number {
  if (version === "") return 0;
  const match = /^(\d+)\.(\d+)$/.exec(version);
  if (!match) {
    throw new TypeError(
      `Cannot create registry: language version "${version}" is not "major.minor" (e.g. "3.1")`,
    );
  }
  return (Number(match[1]) << 16) | Number(match[2]);
}

/**
 * The registered names nearest to `name` (edit distance, with substring matches first), at
 * most three, for "did you mean" hints.
 */
export function nearestNames(name: string, candidates: Iterable<string>, limit = 3): string[] {
  const budget = Math.max(2, Math.floor(name.length / 3));
  const scored: [number, string][] = [];
  for (const candidate of candidates) {
    const distance = editDistance(name, candidate);
    const related = candidate.includes(name) || name.includes(candidate);
    if (distance <= budget || related) {
      scored.push([related ? distance - 100 : distance, candidate]);
    }
  }
  scored.sort((a, b) => a[0] - b[0] || a[1].localeCompare(b[1]));
  return scored.slice(0, limit).map(([, candidate]) => candidate);
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j] + 1, current[j - 1] + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length];
}
