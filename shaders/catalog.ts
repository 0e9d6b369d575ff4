// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * The bundled kernel catalogue: every kernel name, the `.metal` file that serves it, and the
 * family it belongs to. Sources load lazily through literal text imports, so importing this
 * module reads no shader, and the published module graph still carries every file.
 *
 * Adding a family: add its file to {@linkcode SHADER_FILES} (a `Record` over the
 * {@linkcode ShaderFile} union, so a file without a loader is a type error) and its names to
 * {@linkcode KERNELS}.
 *
 * @module
 */

/** The bundled shader files. */
export type ShaderFile = "placeholder.metal" | "elementwise.metal" | "softmax.metal";

/** The catalogue's families (see `shared/seed/catalog.tsv`). */
export type KernelFamily = "core" | "quant-moe-attn" | "deltanet-tq-tensor";

/** Where a kernel lives. */
export interface CatalogEntry {
  /** The shader file that defines the kernel. */
  readonly file: ShaderFile;
  /** The family it belongs to. */
  readonly family: KernelFamily;
  /**
   * A representative specialisation, for kernels with required function constants (used by
   * `deno task catalog` to check the kernel builds).
   */
  readonly constants?: FunctionConstants;
}

import type { FunctionConstants } from "../constants.ts";

type TextModule = { default: string };

/** One loader per shader file: a literal dynamic text import. */
export const SHADER_FILES: Readonly<Record<ShaderFile, () => Promise<TextModule>>> = {
  "placeholder.metal": () => import("./placeholder.metal", { with: { type: "text" } }),
  "elementwise.metal": () => import("./elementwise.metal", { with: { type: "text" } }),
  "softmax.metal": () => import("./softmax.metal", { with: { type: "text" } }),
};

const core = (file: ShaderFile): CatalogEntry => ({ file, family: "core" });

/**
 * A bundled kernel name. {@linkcode KERNELS} is a `Record` over this union, so a name
 * without an entry, or an entry without a name, is a type error.
 */
export type KernelName =
  | "placeholder"
  | "elementwise_add_f32"
  | "elementwise_add_f16"
  | "elementwise_add_bf16"
  | "elementwise_mul_f32"
  | "elementwise_mul_f16"
  | "elementwise_mul_bf16"
  | "cast_f16_to_f32"
  | "cast_f32_to_f16"
  | "cast_bf16_to_f32"
  | "cast_f32_to_bf16"
  | "scalar_mul_bf16"
  | "scalar_mul_f32"
  | "embedding_gather_scale_f32"
  | "embedding_gather_scale_batch_f32"
  | "permute_021_bf16"
  | "permute_021_f32"
  | "permute_021_bf16_to_f32"
  | "transpose_last2_bf16"
  | "transpose_2d_f32"
  | "transpose_2d_f16"
  | "softmax_f32"
  | "softmax_f16"
  | "softmax_bf16";

/** Every bundled kernel name and where it lives. */
export const KERNELS: Readonly<Record<KernelName, CatalogEntry>> = {
  "placeholder": core("placeholder.metal"),

  "elementwise_add_f32": core("elementwise.metal"),
  "elementwise_add_f16": core("elementwise.metal"),
  "elementwise_add_bf16": core("elementwise.metal"),
  "elementwise_mul_f32": core("elementwise.metal"),
  "elementwise_mul_f16": core("elementwise.metal"),
  "elementwise_mul_bf16": core("elementwise.metal"),
  "cast_f16_to_f32": core("elementwise.metal"),
  "cast_f32_to_f16": core("elementwise.metal"),
  "cast_bf16_to_f32": core("elementwise.metal"),
  "cast_f32_to_bf16": core("elementwise.metal"),
  "scalar_mul_bf16": core("elementwise.metal"),
  "scalar_mul_f32": core("elementwise.metal"),
  "embedding_gather_scale_f32": core("elementwise.metal"),
  "embedding_gather_scale_batch_f32": core("elementwise.metal"),
  "permute_021_bf16": core("elementwise.metal"),
  "permute_021_f32": core("elementwise.metal"),
  "permute_021_bf16_to_f32": core("elementwise.metal"),
  "transpose_last2_bf16": core("elementwise.metal"),
  "transpose_2d_f32": core("elementwise.metal"),
  "transpose_2d_f16": core("elementwise.metal"),

  "softmax_f32": core("softmax.metal"),
  "softmax_f16": core("softmax.metal"),
  "softmax_bf16": core("softmax.metal"),
};

/**
 * Loads a shader file's text (async: a text import, local or remote).
 *
 * @param file The shader file.
 * @returns Its MSL source.
 */
export async function loadShader(file: ShaderFile): Promise<string> {
  return (await SHADER_FILES[file]()).default;
}

/**
 * Loads a shader file's text synchronously. Works when this module was imported from the
 * local file system; a remote import has no synchronous read, so it returns undefined.
 *
 * @param file The shader file.
 * @returns Its MSL source, or undefined when it cannot be read synchronously.
 */
export function loadShaderSync(file: ShaderFile): string | undefined {
  const url = new URL(`./${file}`, import.meta.url);
  return url.protocol === "file:" ? Deno.readTextFileSync(url) : undefined;
}
