// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * The bundled kernel catalogue: every kernel name, the `.metal` file that serves it, and the
 * family it belongs to. Sources load lazily through literal text imports, so importing this
 * module reads no shader, and the published module graph still carries every file.
 *
 * Nothing here is written by hand per kernel: each `.metal` file has a table beside it
 * (`shaders/<file>.ts`, e.g. `SOFTMAX_SHADER` in `softmax.ts`) that names its kernels once,
 * and `shaders/_tables.ts` lists the tables. {@linkcode KernelName}, {@linkcode ShaderFile},
 * {@linkcode KERNELS} and the loaders derive from that list; a test checks each table against
 * the `host_name`s and kernel functions of its file.
 *
 * @module
 */
import type { FunctionConstants } from "../constants.ts";
import * as TABLES from "./_tables.ts";

/** The catalogue's families (see `docs/catalogue.md`). */
export type KernelFamily = "core" | "quant-moe-attn" | "deltanet-tq-tensor";

/** A nested table of kernel names: a name, or names by helper, dtype or variant. */
type NameTree = string | { readonly [key: string]: NameTree };

/**
 * The kernel names at the leaves of a name table, as a union: `TableNames<typeof
 * SOFTMAX_KERNELS>` is `"softmax_f32" | "softmax_f16" | "softmax_bf16"`.
 */
export type TableNames<T> = T extends string ? T : { [K in keyof T]: TableNames<T[K]> }[keyof T];

/** What every table beside a `.metal` file declares (checked here: tables import nothing). */
interface ShaderTable {
  readonly file: string;
  readonly family: KernelFamily;
  readonly kernels: NameTree;
  /** Representative specialisations of kernels with required function constants. */
  readonly constants?: Readonly<Record<string, FunctionConstants>>;
  load(): Promise<{ default: string }>;
}

/** The table of any bundled shader file: its kernel names, family and loader. */
export type BundledShader = typeof TABLES[keyof typeof TABLES];

/** The bundled shader files. */
export type ShaderFile = BundledShader["file"];

/** A bundled kernel name: every leaf of every shader table. */
export type KernelName = TableNames<BundledShader["kernels"]>;

/** Where a kernel lives. */
export interface CatalogEntry {
  /** The shader file that defines the kernel. */
  readonly file: ShaderFile;
  /** The family it belongs to. */
  readonly family: KernelFamily;
  /**
   * A representative specialisation, for kernels with required function constants (used by
   * `KernelRegistry.precompile` and `deno task catalog` to build the kernel).
   */
  readonly constants?: FunctionConstants;
}

const SHADER_TABLES: Readonly<Record<keyof typeof TABLES, ShaderTable>> = TABLES;

/**
 * The kernel names of one table, depth first.
 *
 * @param tree A name table (or one name).
 * @returns Every name at its leaves.
 */
export function namesOf(tree: NameTree): string[] {
  return typeof tree === "string" ? [tree] : Object.values(tree).flatMap(namesOf);
}

/** Every bundled shader file with its kernel names, in catalogue order. */
export const SHADER_NAMES: Readonly<Record<ShaderFile, readonly KernelName[]>> = Object
  .fromEntries(
    Object.values(SHADER_TABLES).map((table) => [table.file, namesOf(table.kernels)]),
  ) as Record<ShaderFile, KernelName[]>;

/** Every bundled kernel name and where it lives. */
export const KERNELS: Readonly<Record<KernelName, CatalogEntry>> = Object.fromEntries(
  Object.values(SHADER_TABLES).flatMap((table) =>
    namesOf(table.kernels).map((name) => {
      const constants = table.constants?.[name];
      const entry = { file: table.file, family: table.family, ...constants && { constants } };
      return [name, entry];
    })
  ),
) as Record<KernelName, CatalogEntry>;

const LOADERS = new Map<string, () => Promise<{ default: string }>>(
  Object.values(SHADER_TABLES).map((table) => [table.file, table.load]),
);
const texts = new Map<ShaderFile, Promise<string>>();

/**
 * Loads a shader file's text once per process: read from the local file system when this
 * module lives there and has read permission (a file read costs a fraction of a text import,
 * which adds up over a catalogue's files at start-up), else through a text import (local or
 * remote).
 *
 * @param file The shader file.
 * @returns Its MSL source.
 */
export function loadShader(file: ShaderFile): Promise<string> {
  let text = texts.get(file);
  if (text === undefined) {
    const url = new URL(`./${file}`, import.meta.url);
    const imported = () => LOADERS.get(file)!().then((module) => module.default);
    // Only with read permission already granted: a read would otherwise prompt in a terminal.
    const readable = url.protocol === "file:" &&
      Deno.permissions.querySync({ name: "read", path: url }).state === "granted";
    text = readable ? Deno.readTextFile(url) : imported();
    // A failed load is not kept: the next call tries again.
    text.catch(() => texts.delete(file));
    texts.set(file, text);
  }
  return text;
}

/**
 * Loads a shader file's text synchronously. Works when this module was imported from the
 * local file system and may read it; a remote import has no synchronous read, and a local one
 * without `--allow-read` for the file may not read it: both return undefined (the async
 * import needs neither).
 *
 * @param file The shader file.
 * @returns Its MSL source, or undefined when it cannot be read synchronously.
 */
export function loadShaderSync(file: ShaderFile): string | undefined {
  const url = new URL(`./${file}`, import.meta.url);
  if (url.protocol !== "file:") return undefined;
  try {
    return Deno.readTextFileSync(url);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) return undefined;
    throw error;
  }
}
