// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * The registry's table of kernel sources (private): every bundled name with its `.metal`
 * file, plus sources registered at run time; texts load lazily, once per file.
 *
 * @module
 */
import { hashText } from "./_hash.ts";
import { nearestNames } from "./_suggest.ts";
import type { FunctionConstants } from "./constants.ts";
import { KernelNotFoundError, SourceNotLoadedError } from "./errors.ts";
import {
  type KernelName,
  KERNELS,
  loadShader,
  loadShaderSync,
  type ShaderFile,
} from "./shaders/catalog.ts";

/** The source serving one kernel name. */
export interface KernelSource {
  /** The file name used in diagnostics. */
  file: string;
  /** Present for registered sources and once a bundled file has loaded. */
  text?: string;
  /** `hashText(text)`, computed once: the source's identity in every cache key. */
  hash?: string;
  /** The bundled file to load the text from. */
  shader?: ShaderFile;
}

/** Kernel name -> source, starting with the bundled catalogue. */
export class KernelSources {
  #sources = new Map<string, KernelSource>();
  /** How many names serve each known hash: a replaced text is orphaned when its count ends. */
  #served = new Map<string, number>();
  /** The last text hashed: registering one library under each of its names hashes it once. */
  #lastHashed?: { text: string; hash: string };

  /** Registers every bundled kernel; nothing is read. */
  constructor() {
    for (const [name, entry] of Object.entries(KERNELS)) {
      this.#sources.set(name, { file: entry.file, shader: entry.file });
    }
  }

  /** The number of registered names. */
  get size(): number {
    return this.#sources.size;
  }

  /** Every registered name, sorted. */
  names(): string[] {
    return [...this.#sources.keys()].sort();
  }

  /**
   * The source for `name`.
   *
   * @throws {KernelNotFoundError} With the nearest registered names.
   */
  get(name: string): KernelSource {
    const source = this.#sources.get(name);
    if (!source) throw new KernelNotFoundError(name, nearestNames(name, this.#sources.keys()));
    return source;
  }

  /** The source for `name` if registered and its text known. */
  loaded(name: string): KernelSource | undefined {
    const source = this.#sources.get(name);
    return source?.text === undefined ? undefined : source;
  }

  /**
   * Registers (or replaces) the text serving `name`. Returns the hash of the text it replaced
   * when no registered name serves that text any more (its libraries can go).
   */
  set(name: string, text: string, file: string): string | undefined {
    const replaced = this.#sources.get(name)?.hash;
    const hash = this.#hash(text);
    this.#sources.set(name, { file, text, hash });
    this.#serve(hash, 1);
    if (replaced === undefined) return undefined;
    return this.#serve(replaced, -1) === 0 ? replaced : undefined;
  }

  /** The catalogue's representative constants for a bundled `name`, if it has any. */
  defaultConstants(name: string): FunctionConstants | undefined {
    return this.#sources.get(name)?.shader !== undefined
      ? KERNELS[name as KernelName]?.constants
      : undefined;
  }

  /**
   * Loads the text of `name`'s bundled file (a text import), for every name it serves.
   * A registered source is already loaded.
   */
  async load(name: string): Promise<void> {
    const source = this.get(name);
    if (source.text !== undefined) return;
    const file = source.shader!;
    this.#share(file, await loadShader(file));
  }

  /**
   * Synchronous twin of {@linkcode KernelSources.load}.
   *
   * @throws {SourceNotLoadedError} When the module was imported remotely.
   */
  loadSync(name: string): void {
    const source = this.get(name);
    const text = loadShaderSync(source.shader!);
    if (text === undefined) throw new SourceNotLoadedError(name, source.file);
    this.#share(source.shader!, text);
  }

  /** Every name served by `file` shares its one loaded text. */
  #share(file: ShaderFile, text: string): void {
    const hash = this.#hash(text);
    for (const entry of this.#sources.values()) {
      if (entry.shader === file && entry.text === undefined) {
        entry.text = text;
        entry.hash = hash;
        this.#serve(hash, 1);
      }
    }
  }

  /** `hashText(text)`, remembered for the last text (compared by identity first, then value). */
  #hash(text: string): string {
    if (this.#lastHashed?.text !== text) this.#lastHashed = { text, hash: hashText(text) };
    return this.#lastHashed.hash;
  }

  /** Adds `delta` to the names serving `hash`; returns how many serve it now. */
  #serve(hash: string, delta: number): number {
    const count = (this.#served.get(hash) ?? 0) + delta;
    if (count === 0) this.#served.delete(hash);
    else this.#served.set(hash, count);
    return count;
  }
}
