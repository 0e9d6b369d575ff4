// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `flash_attn_prefill.metal` in the catalogue: its kernel names (by I/O dtype, head dimension
 * and mask kind; each name spells its tile shape), written once here. It imports nothing: the
 * catalogue, the op modules and the tests derive their names from it.
 *
 * @module
 */

/** The kernel names of `flash_attn_prefill.metal`; each is a `host_name` in the file. */
export const FLASH_ATTN_PREFILL_KERNELS = {
  f32: {
    256: {
      additive: "steel_attention_float32_bq32_bk16_bd256_wm4_wn1_maskfloat32",
      boolean: "steel_attention_float32_bq32_bk16_bd256_wm4_wn1_maskbool_",
    },
  },
  f16: {
    256: {
      additive: "steel_attention_float16_bq32_bk16_bd256_wm4_wn1_maskfloat16",
      boolean: "steel_attention_float16_bq32_bk16_bd256_wm4_wn1_maskbool_",
    },
    512: {
      additive: "steel_attention_float16_bq8_bk8_bd512_wm1_wn1_maskfloat16",
      boolean: "steel_attention_float16_bq8_bk8_bd512_wm1_wn1_maskbool_",
    },
  },
  bf16: {
    256: {
      additive: "steel_attention_bfloat16_bq32_bk16_bd256_wm4_wn1_maskbfloat16",
      boolean: "steel_attention_bfloat16_bq32_bk16_bd256_wm4_wn1_maskbool_",
    },
    512: {
      additive: "steel_attention_bfloat16_bq8_bk8_bd512_wm1_wn1_maskbfloat16",
      boolean: "steel_attention_bfloat16_bq8_bk8_bd512_wm1_wn1_maskbool_",
    },
  },
} as const;

/**
 * The specialisation `precompile` and `deno task catalog` build for every prefill name:
 * aligned tiles, no mask buffer, causal, no tile skipping (function constants 200, 201, 300,
 * 301, 303).
 */
const CAUSAL_ALIGNED = { 200: true, 201: true, 300: false, 301: true, 303: false } as const;

/** `flash_attn_prefill.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const FLASH_ATTN_PREFILL_SHADER = {
  file: "flash_attn_prefill.metal",
  family: "quant-moe-attn",
  kernels: FLASH_ATTN_PREFILL_KERNELS,
  constants: {
    steel_attention_float32_bq32_bk16_bd256_wm4_wn1_maskfloat32: CAUSAL_ALIGNED,
    steel_attention_float32_bq32_bk16_bd256_wm4_wn1_maskbool_: CAUSAL_ALIGNED,
    steel_attention_float16_bq32_bk16_bd256_wm4_wn1_maskfloat16: CAUSAL_ALIGNED,
    steel_attention_float16_bq32_bk16_bd256_wm4_wn1_maskbool_: CAUSAL_ALIGNED,
    steel_attention_float16_bq8_bk8_bd512_wm1_wn1_maskfloat16: CAUSAL_ALIGNED,
    steel_attention_float16_bq8_bk8_bd512_wm1_wn1_maskbool_: CAUSAL_ALIGNED,
    steel_attention_bfloat16_bq32_bk16_bd256_wm4_wn1_maskbfloat16: CAUSAL_ALIGNED,
    steel_attention_bfloat16_bq32_bk16_bd256_wm4_wn1_maskbool_: CAUSAL_ALIGNED,
    steel_attention_bfloat16_bq8_bk8_bd512_wm1_wn1_maskbfloat16: CAUSAL_ALIGNED,
    steel_attention_bfloat16_bq8_bk8_bd512_wm1_wn1_maskbool_: CAUSAL_ALIGNED,
  },
  load: (): Promise<{ default: string }> =>
    import("./flash_attn_prefill.metal", { with: { type: "text" } }),
} as const;
