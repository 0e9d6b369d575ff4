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
export type ShaderFile =
  | "placeholder.metal"
  | "fused_norm_add_bf16.metal"
  | "fused_norm_add_f32.metal"
  | "elementwise.metal"
  | "softmax.metal"
  | "rope.metal"
  | "fused_head_norm_rope_f32.metal"
  | "fused_head_norm_rope_bf16.metal"
  | "scale_mask_softmax.metal"
  | "kv_cache_copy.metal"
  | "gelu.metal"
  | "softcap.metal"
  | "sigmoid_mul.metal"
  | "silu_mul.metal"
  | "copy.metal"
  | "gather.metal"
  | "argmax.metal"
  | "argsort.metal"
  | "top_k.metal"
  | "softmax_sample.metal"
  | "rms_norm.metal"
  | "dense_gemm.metal"
  | "dense_gemv_bf16.metal";

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
  "fused_norm_add_bf16.metal": () =>
    import("./fused_norm_add_bf16.metal", { with: { type: "text" } }),
  "fused_norm_add_f32.metal": () =>
    import("./fused_norm_add_f32.metal", { with: { type: "text" } }),
  "elementwise.metal": () => import("./elementwise.metal", { with: { type: "text" } }),
  "softmax.metal": () => import("./softmax.metal", { with: { type: "text" } }),
  "rope.metal": () => import("./rope.metal", { with: { type: "text" } }),
  "fused_head_norm_rope_f32.metal": () =>
    import("./fused_head_norm_rope_f32.metal", { with: { type: "text" } }),
  "fused_head_norm_rope_bf16.metal": () =>
    import("./fused_head_norm_rope_bf16.metal", { with: { type: "text" } }),
  "scale_mask_softmax.metal": () =>
    import("./scale_mask_softmax.metal", { with: { type: "text" } }),
  "kv_cache_copy.metal": () => import("./kv_cache_copy.metal", { with: { type: "text" } }),
  "gelu.metal": () => import("./gelu.metal", { with: { type: "text" } }),
  "softcap.metal": () => import("./softcap.metal", { with: { type: "text" } }),
  "sigmoid_mul.metal": () => import("./sigmoid_mul.metal", { with: { type: "text" } }),
  "silu_mul.metal": () => import("./silu_mul.metal", { with: { type: "text" } }),
  "copy.metal": () => import("./copy.metal", { with: { type: "text" } }),
  "gather.metal": () => import("./gather.metal", { with: { type: "text" } }),
  "argmax.metal": () => import("./argmax.metal", { with: { type: "text" } }),
  "argsort.metal": () => import("./argsort.metal", { with: { type: "text" } }),
  "top_k.metal": () => import("./top_k.metal", { with: { type: "text" } }),
  "softmax_sample.metal": () => import("./softmax_sample.metal", { with: { type: "text" } }),
  "dense_gemm.metal": () => import("./dense_gemm.metal", { with: { type: "text" } }),
  "dense_gemv_bf16.metal": () => import("./dense_gemv_bf16.metal", { with: { type: "text" } }),
  "rms_norm.metal": () => import("./rms_norm.metal", { with: { type: "text" } }),
};

const core = (file: ShaderFile): CatalogEntry => ({ file, family: "core" });

/**
 * A bundled kernel name. {@linkcode KERNELS} is a `Record` over this union, so a name
 * without an entry, or an entry without a name, is a type error.
 */
export type KernelName =
  | "placeholder"
  | "fused_norm_add_bf16"
  | "fused_norm_add_no_weight_bf16"
  | "fused_norm_add_f32"
  | "fused_norm_add_scalar_f32"
  | "fused_residual_norm_f32"
  | "fused_residual_norm_scalar_f32"
  | "fused_moe_routing_f32"
  | "fused_moe_routing_batch_f32"
  | "fused_moe_wsum_norm_add_f32"
  | "fused_moe_wsum_dnorm_add_f32"
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
  | "softmax_bf16"
  | "rope_f32"
  | "rope_f16"
  | "rope_bf16"
  | "rope_neox_f32"
  | "rope_neox_bf16"
  | "fused_head_norm_rope_f32"
  | "fused_head_norm_rope_bf16"
  | "fused_head_norm_rope_batch_bf16"
  | "scale_mask_softmax_f32"
  | "kv_cache_copy"
  | "kv_cache_copy_f32"
  | "kv_cache_copy_batch_f32"
  | "kv_cache_copy_batch_f32_to_f16"
  | "kv_cache_copy_seq_f32"
  | "kv_cache_copy_seq_bf16"
  | "kv_cache_copy_seq_f32_to_f16"
  | "kv_cache_copy_seq_f32_kv_dual"
  | "kv_cache_copy_seq_f32_to_f16_kv_dual"
  | "gelu_f32"
  | "gelu_f16"
  | "gelu_bf16"
  | "softcap_f32"
  | "softcap_f16"
  | "softcap_bf16"
  | "sigmoid_mul_f32"
  | "sigmoid_mul_bf16"
  | "silu_mul_f32"
  | "strided_copy_f32"
  | "offset_copy_f32"
  | "gather_f32"
  | "argmax_f32"
  | "argsort_desc_f32"
  | "top_k_f32"
  | "softmax_sample_f32"
  | "dense_gemm_f16"
  | "dense_matvec_f16"
  | "dense_matvec_f32"
  | "dense_matvec_f16w_f32io"
  | "dense_matvec_bf16w_f32io"
  | "hf2q_dense_gemv_bf16_f32_4"
  | "rms_norm_f32"
  | "rms_norm_f16"
  | "rms_norm_bf16"
  | "rms_norm_no_scale_f32"
  | "rms_norm_no_scale_bf16"
  | "rms_norm_mul_f32"
  | "rms_norm_mul_f16"
  | "rms_norm_mul_bf16"
  | "rms_norm_f32_triple"
  | "rms_norm_no_scale_f32_dual"
  | "rms_norm_no_scale_f32_dual_perm"
  | "fused_post_attn_triple_norm_f32";

/** Every bundled kernel name and where it lives. */
export const KERNELS: Readonly<Record<KernelName, CatalogEntry>> = {
  "placeholder": core("placeholder.metal"),

  "fused_norm_add_bf16": core("fused_norm_add_bf16.metal"),
  "fused_norm_add_no_weight_bf16": core("fused_norm_add_bf16.metal"),
  "fused_norm_add_f32": core("fused_norm_add_f32.metal"),
  "fused_norm_add_scalar_f32": core("fused_norm_add_f32.metal"),
  "fused_residual_norm_f32": core("fused_norm_add_f32.metal"),
  "fused_residual_norm_scalar_f32": core("fused_norm_add_f32.metal"),
  "fused_moe_routing_f32": core("fused_norm_add_f32.metal"),
  "fused_moe_routing_batch_f32": core("fused_norm_add_f32.metal"),
  "fused_moe_wsum_norm_add_f32": core("fused_norm_add_f32.metal"),
  "fused_moe_wsum_dnorm_add_f32": core("fused_norm_add_f32.metal"),

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

  "rope_f32": core("rope.metal"),
  "rope_f16": core("rope.metal"),
  "rope_bf16": core("rope.metal"),
  "rope_neox_f32": core("rope.metal"),
  "rope_neox_bf16": core("rope.metal"),

  "fused_head_norm_rope_f32": core("fused_head_norm_rope_f32.metal"),

  "fused_head_norm_rope_bf16": core("fused_head_norm_rope_bf16.metal"),
  "fused_head_norm_rope_batch_bf16": core("fused_head_norm_rope_bf16.metal"),

  "scale_mask_softmax_f32": core("scale_mask_softmax.metal"),

  "kv_cache_copy": core("kv_cache_copy.metal"),
  "kv_cache_copy_f32": core("kv_cache_copy.metal"),
  "kv_cache_copy_batch_f32": core("kv_cache_copy.metal"),
  "kv_cache_copy_batch_f32_to_f16": core("kv_cache_copy.metal"),
  "kv_cache_copy_seq_f32": core("kv_cache_copy.metal"),
  "kv_cache_copy_seq_bf16": core("kv_cache_copy.metal"),
  "kv_cache_copy_seq_f32_to_f16": core("kv_cache_copy.metal"),
  "kv_cache_copy_seq_f32_kv_dual": core("kv_cache_copy.metal"),
  "kv_cache_copy_seq_f32_to_f16_kv_dual": core("kv_cache_copy.metal"),

  "gelu_f32": core("gelu.metal"),
  "gelu_f16": core("gelu.metal"),
  "gelu_bf16": core("gelu.metal"),

  "softcap_f32": core("softcap.metal"),
  "softcap_f16": core("softcap.metal"),
  "softcap_bf16": core("softcap.metal"),

  "sigmoid_mul_f32": core("sigmoid_mul.metal"),
  "sigmoid_mul_bf16": core("sigmoid_mul.metal"),

  "silu_mul_f32": core("silu_mul.metal"),

  "strided_copy_f32": core("copy.metal"),
  "offset_copy_f32": core("copy.metal"),

  "gather_f32": core("gather.metal"),

  "argmax_f32": core("argmax.metal"),

  "argsort_desc_f32": core("argsort.metal"),

  "top_k_f32": core("top_k.metal"),

  "softmax_sample_f32": core("softmax_sample.metal"),

  "dense_gemm_f16": core("dense_gemm.metal"),
  "dense_matvec_f16": core("dense_gemm.metal"),
  "dense_matvec_f32": core("dense_gemm.metal"),
  "dense_matvec_f16w_f32io": core("dense_gemm.metal"),
  "dense_matvec_bf16w_f32io": core("dense_gemm.metal"),
  "hf2q_dense_gemv_bf16_f32_4": core("dense_gemv_bf16.metal"),

  "rms_norm_f32": core("rms_norm.metal"),
  "rms_norm_f16": core("rms_norm.metal"),
  "rms_norm_bf16": core("rms_norm.metal"),
  "rms_norm_no_scale_f32": core("rms_norm.metal"),
  "rms_norm_no_scale_bf16": core("rms_norm.metal"),
  "rms_norm_mul_f32": core("rms_norm.metal"),
  "rms_norm_mul_f16": core("rms_norm.metal"),
  "rms_norm_mul_bf16": core("rms_norm.metal"),
  "rms_norm_f32_triple": core("rms_norm.metal"),
  "rms_norm_no_scale_f32_dual": core("rms_norm.metal"),
  "rms_norm_no_scale_f32_dual_perm": core("rms_norm.metal"),
  "fused_post_attn_triple_norm_f32": core("rms_norm.metal"),
};

/**
 * Loads a shader file's text (async: a text import, local or remote).
 *
 * @param file The shader file.
 * @returns Its MSL source.
 */
export function loadShader(file: ShaderFile): Promise<string> {
  let text = texts.get(file);
  if (text === undefined) {
    text = SHADER_FILES[file]().then((module) => module.default);
    // A failed load is not kept: the next call tries again.
    text.catch(() => texts.delete(file));
    texts.set(file, text);
  }
  return text;
}

const texts = new Map<ShaderFile, Promise<string>>();

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
