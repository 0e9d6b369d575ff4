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
    this.#sources.set(name, { file, text, hash: hashText(text) });
    for (const entry of this.#sources.values()) if (entry.hash === replaced) return undefined;
    return replaced;
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
    const hash = hashText(text);
    for (const entry of this.#sources.values()) {
      if (entry.shader === file && entry.text === undefined) {
        entry.text = text;
        entry.hash = hash;
      }
    }
  }
}
