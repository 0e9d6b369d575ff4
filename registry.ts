// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * {@linkcode KernelRegistry}: the cache of kernel sources, libraries and pipelines. The native
 * calls live in `_compile.ts`, the precompile scheduler in `precompile.ts`, name suggestions in
 * `_suggest.ts`.
 *
 * @module
 */
import { HotPipelines } from "./_hot_cache.ts";
import { type KernelSource, KernelSources } from "./_kernel_sources.ts";
import {
  buildPipeline,
  buildPipelineSync,
  type CompileArgs,
  compileLibrary,
  compileLibrarySync,
  encodeCompileOptions,
  type KernelRegistryOptions,
  type Library,
  type PipelineRequest,
} from "./_compile.ts";
import { HANDLE } from "./resource.ts";
import { type FunctionConstants, normalizeConstants } from "./constants.ts";
import type { Device } from "./device.ts";
import { ResourceClosedError } from "./errors.ts";
import type { Pipeline } from "./pipeline.ts";
import {
  type PrecompileOptions,
  precompilePipelines,
  type PrecompileSummary,
} from "./precompile.ts";

export type { KernelRegistryOptions, MathMode } from "./_compile.ts";

/** Counters of the registry's work since it was created. */
export interface RegistryStats {
  /** Shader libraries compiled (one per source text, options and device). */
  libraryCompiles: number;
  /** Pipelines built (one per library, kernel name and constants). */
  pipelineBuilds: number;
  /** `getPipeline` calls answered from the cache. */
  hits: number;
  /** Libraries the registry holds now (a replaced source's libraries are released). */
  librariesHeld: number;
}

type Picker<T> = (key: string, slot: Slot<T>) => boolean;

/** A cache slot: the in-flight build (shared by concurrent callers), then its result. */
interface Slot<T> {
  promise?: Promise<T>;
  value?: T;
  /** The kernel name, for pipeline slots (registerSource evicts by name). */
  name?: string;
}

/** What the one lookup found for (name, device, constants); see `#find`. */
interface Found {
  source: KernelSource;
  /** The pipeline cache key, once the source text is known. */
  key: string;
  /** What a build needs. */
  request: PipelineRequest;
  /** The cached, open pipeline. */
  pipeline?: Pipeline;
  /** The build another caller started. */
  pending?: Promise<Pipeline>;
}

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
 * ```ts
 * import { Device, KernelRegistry } from "./mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const softmax = await registry.getPipeline("softmax_f32", device);
 * const again = registry.getPipelineSync("softmax_f32", device); // cached: same object
 * assert.strictEqual(softmax, again);
 * assert.strictEqual(registry.stats.libraryCompiles, 1);
 * ```
 */
export class KernelRegistry {
  #sources = new KernelSources();
  #libraries = new Map<string, Slot<Library>>();
  #pipelines = new Map<string, Slot<Pipeline>>();
  /** The hit path; dropped with the name's source or on close. */
  #hot = new HotPipelines();
  #stats = { libraryCompiles: 0, pipelineBuilds: 0, hits: 0 };
  #compileArgs: CompileArgs;
  #closed = false;

  /**
   * Registers every bundled kernel. Nothing is read or compiled until it is needed.
   *
   * @param options How sources are compiled.
   * @throws {TypeError} For an unknown math mode or a malformed language version.
   */
  constructor(options: KernelRegistryOptions = {}) {
    this.#compileArgs = encodeCompileOptions(options);
  }

  /** The number of registered kernel names. */
  get sourceCount(): number {
    return this.#sources.size;
  }

  /** The number of cached, open pipelines (over all devices and specialisations). */
  get cachedCount(): number {
    return [...this.#pipelines.values()].filter((slot) => slot.value?.closed === false).length;
  }

  /** A copy of the work counters. */
  get stats(): RegistryStats {
    return { ...this.#stats, librariesHeld: this.#libraries.size };
  }

  /** Every registered kernel name, sorted. */
  get names(): string[] {
    return this.#sources.names();
  }

  /**
   * Whether a pipeline for `name` with `constants` is cached for any device.
   *
   * @param name A kernel name.
   * @param constants Its function constants.
   * @returns True when `getPipeline` would answer from the cache.
   */
  isCached(name: string, constants?: FunctionConstants): boolean {
    const source = this.#sources.loaded(name);
    if (source === undefined) return false;
    const suffix = `|${
      pipelineSuffix(source.hash!, name, normalizeConstants(name, constants).key)
    }`;
    for (const [key, slot] of this.#pipelines) {
      if (key.endsWith(suffix) && slot.value && !slot.value.closed) return true;
    }
    return false;
  }

  /**
   * Registers (or replaces) the MSL source that serves kernel `name`, and closes that name's
   * cached pipelines so the next `getPipeline` builds from the new text (work already
   * committed with them still runs).
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
    const orphan = this.#sources.set(name, source, file); // a text no name serves any more
    this.#hot.delete(name);
    this.#evict(this.#pipelines, (_, slot) => slot.name === name);
    if (orphan) this.#evict(this.#libraries, (key) => key.endsWith(`|${orphan}`));
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
   * @throws {FunctionConstantError} For constants of the wrong type, undeclared (naming the
   * declared ones) or missing. A cache hit reads only the indices the kernel declares
   * ({@linkcode Pipeline.functionConstants}), so a key it does not declare is refused when
   * the call misses (the first use of a specialisation), not on a hit.
   */
  getPipeline(name: string, device: Device, constants?: FunctionConstants): Promise<Pipeline> {
    const hot = this.#hotHit(name, device, constants);
    if (hot) return Promise.resolve(hot);
    try {
      const found = this.#find(name, device, constants);
      if (found === undefined) {
        return this.#sources.load(name).then(() => this.getPipeline(name, device, constants));
      }
      if (found.pipeline) return Promise.resolve(found.pipeline);
      if (found.pending) {
        this.#stats.hits++;
        return found.pending;
      }
      const { source, key, request } = found;
      const promise = (async () => {
        const library = await this.#library(source, device, name);
        this.#stats.pipelineBuilds++;
        return device.adopt(await buildPipeline(library, request));
      })();
      this.#remember(this.#pipelines, key, promise, name);
      promise.then((pipeline) => {
        // Still the cached one (not replaced by registerSource or dropped by close).
        if (this.#pipelines.get(key)?.value === pipeline) {
          this.#hot.set(name, device, constants, pipeline);
        }
      }, () => {});
      return promise;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Fetches the source texts of `names` (default: every bundled kernel) now, so that
   * {@linkcode KernelRegistry.getPipelineSync} and the ops' `*Sync` helpers work under a
   * remote import (JSR, HTTP), where bundled `.metal` files can only be fetched
   * asynchronously. From a local checkout sync calls read them on demand and this is
   * optional. Each file is fetched once, however many of its kernels are named.
   *
   * @param names Kernel names whose sources to fetch; every registered name when omitted.
   * @throws {KernelNotFoundError} When a name is not registered.
   *
   * @example Usage
   * ```ts
   * import { Device, KernelRegistry } from "./mod.ts"; // remotely: "jsr:@metal-compute/kernels"
   * import assert from "node:assert";
   *
   * using device = await Device.open();
   * using registry = new KernelRegistry();
   * await registry.load(["softmax_f32"]); // or load() for every kernel
   * const pipeline = registry.getPipelineSync("softmax_f32", device);
   * assert.strictEqual(pipeline.name, "softmax_f32");
   * ```
   */
  async load(names?: readonly string[]): Promise<void> {
    this.#checkOpen("load()");
    const wanted = names ?? this.names;
    for (const name of wanted) this.#sources.get(name); // every name checked before any fetch
    await Promise.all(wanted.map((name) => this.#sources.load(name)));
  }

  /**
   * Synchronous twin of {@linkcode KernelRegistry.getPipeline}: compiles on the calling
   * thread on a miss. Bundled sources load synchronously when the module comes from the
   * local file system; under a remote import, `await registry.load()` first (or the call
   * throws a {@linkcode SourceNotLoadedError} saying so).
   *
   * @param name A registered kernel name.
   * @param device The device to build for.
   * @param constants Function constants.
   * @returns The cached or newly built pipeline.
   * @throws {KernelNotFoundError} When no source is registered for `name`.
   * @throws {ShaderCompilationError} When the source does not compile.
   * @throws {FunctionConstantError} For constants of the wrong type, undeclared or missing
   * (on a miss: see {@linkcode KernelRegistry.getPipeline}).
   * @throws {SourceNotLoadedError} Under a remote import, before `load()` fetched the source.
   */
  getPipelineSync(name: string, device: Device, constants?: FunctionConstants): Pipeline {
    const hot = this.#hotHit(name, device, constants);
    if (hot) return hot;
    let found = this.#find(name, device, constants);
    if (found === undefined) {
      this.#sources.loadSync(name);
      found = this.#find(name, device, constants)!;
    }
    if (found.pipeline) return found.pipeline;
    // A build in flight on the async path is not awaited here: this call builds its own.
    const { source, key, request } = found;
    const library = this.#librarySync(source, device, name);
    this.#stats.pipelineBuilds++;
    const pipeline = device.adopt(buildPipelineSync(library, request));
    this.#pipelines.set(key, { value: pipeline, name });
    this.#hot.set(name, device, constants, pipeline);
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
   * ```ts
   * import { Device, KernelRegistry } from "./mod.ts";
   * import assert from "node:assert";
   *
   * using device = Device.systemDefault();
   * using registry = new KernelRegistry();
   * const summary = await registry.precompile(["softmax_f32", "softmax_f16"], {
   *   device,
   *   onProgress: ({ name, status, done, total }) => console.log(`${done}/${total} ${name}: ${status}`),
   * });
   * assert.strictEqual(summary.total, 2);
   * assert.strictEqual(summary.compiled + summary.fromCache, 2);
   * assert.ok(registry.isCached("softmax_f16"));
   * ```
   */
  async precompile(
    names?: readonly string[],
    options: PrecompileOptions = {},
  ): Promise<PrecompileSummary> {
    this.#checkOpen("precompile");
    const wanted = [...(names ?? this.names)];
    for (const name of wanted) this.#sources.get(name);
    return await precompilePipelines(
      {
        getPipeline: (name, device, constants) => this.getPipeline(name, device, constants),
        fileOf: (name) => this.#sources.get(name).file,
        defaultConstants: (name) => this.#sources.defaultConstants(name),
        libraryCompiles: () => this.#stats.libraryCompiles,
      },
      wanted,
      options,
    );
  }

  /** Closes every pipeline and library this registry built. Calling it again does nothing. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#evict(this.#pipelines, () => true);
    this.#evict(this.#libraries, () => true);
    this.#hot.clear();
  }

  /** Drops the entries `drop` picks, closing the built ones (queued work keeps its natives). */
  #evict<T extends Pipeline | Library>(map: Map<string, Slot<T>>, drop: Picker<T>): void {
    for (const [key, slot] of map) {
      if (!drop(key, slot)) continue;
      map.delete(key);
      slot.value?.close();
    }
  }

  /** Same as {@linkcode KernelRegistry.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** The cheap path of a cache hit: no constant normalisation, one or two Map lookups. */
  #hotHit(name: string, device: Device, constants?: FunctionConstants): Pipeline | undefined {
    const pipeline = this.#closed ? undefined : this.#hot.get(name, device, constants);
    if (pipeline) this.#stats.hits++;
    return pipeline;
  }

  #checkOpen(action: string): void {
    if (this.#closed) throw new ResourceClosedError("KernelRegistry", action);
  }

  /**
   * The one lookup behind `getPipeline` and `getPipelineSync`: checks the registry, the name
   * and the device, normalises the constants and looks in the pipeline cache. Undefined
   * while the name's bundled text is not loaded (each path loads it its own way, then asks
   * again).
   */
  #find(name: string, device: Device, constants: FunctionConstants | undefined): Found | undefined {
    this.#checkOpen(`get pipeline "${name}"`);
    const source = this.#sources.get(name);
    device[HANDLE](`get pipeline "${name}"`);
    const normalized = normalizeConstants(name, constants);
    if (source.text === undefined) return undefined;
    // Compile options are fixed per registry, so they need no place in the key.
    const key = `${device.id}|${pipelineSuffix(source.hash!, name, normalized.key)}`;
    const request = { name, constants: normalized, label: labelOf(name, normalized.key) };
    const found: Found = { source, key, request };
    const slot = this.#pipelines.get(key);
    if (slot?.value && !slot.value.closed) {
      this.#stats.hits++;
      this.#hot.set(name, device, constants, slot.value);
      found.pipeline = slot.value;
    } else if (slot?.promise) {
      found.pending = slot.promise;
    }
    return found;
  }

  /** The library of `source` on `device`: cached, in flight, or compiled now off-thread. */
  #library(source: KernelSource, device: Device, kernel: string): Promise<Library> {
    const key = `${device.id}|${source.hash}`;
    const slot = this.#libraries.get(key);
    if (slot?.value && !slot.value.closed) return Promise.resolve(slot.value);
    if (slot?.promise) return slot.promise;
    this.#stats.libraryCompiles++;
    const input = { text: source.text!, file: source.file, kernel };
    const promise = compileLibrary(device, input, this.#compileArgs);
    this.#remember(this.#libraries, key, promise);
    return promise;
  }

  /** Synchronous twin of `#library`: a compile in flight is not awaited, this one compiles. */
  #librarySync(source: KernelSource, device: Device, kernel: string): Library {
    const key = `${device.id}|${source.hash}`;
    const slot = this.#libraries.get(key);
    if (slot?.value && !slot.value.closed) return slot.value;
    this.#stats.libraryCompiles++;
    const input = { text: source.text!, file: source.file, kernel };
    const library = compileLibrarySync(device, input, this.#compileArgs);
    this.#libraries.set(key, { value: library });
    return library;
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

function pipelineSuffix(hash: string, name: string, constantsKey: string): string {
  return `${hash}|${name}|${constantsKey}`;
}

function labelOf(name: string, constantsKey: string): string {
  return constantsKey ? `${name}[${constantsKey}]` : name;
}
