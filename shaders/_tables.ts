// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * The list of bundled shader files (private): one line per `.metal` file, naming the table
 * beside it. The catalogue (`catalog.ts`) derives every kernel name, the `KernelName` type and
 * the loaders from this list; adding a shader file is adding its line here.
 *
 * @module
 */
export { PLACEHOLDER_SHADER } from "./placeholder.ts";
export { FUSED_NORM_ADD_BF16_SHADER } from "./fused_norm_add_bf16.ts";
export { FUSED_NORM_ADD_F32_SHADER } from "./fused_norm_add_f32.ts";
export { ELEMENTWISE_SHADER } from "./elementwise.ts";
export { SOFTMAX_SHADER } from "./softmax.ts";
export { ROPE_SHADER } from "./rope.ts";
export { FUSED_HEAD_NORM_ROPE_F32_SHADER } from "./fused_head_norm_rope_f32.ts";
export { FUSED_HEAD_NORM_ROPE_BF16_SHADER } from "./fused_head_norm_rope_bf16.ts";
export { SCALE_MASK_SOFTMAX_SHADER } from "./scale_mask_softmax.ts";
export { KV_CACHE_COPY_SHADER } from "./kv_cache_copy.ts";
export { GELU_SHADER } from "./gelu.ts";
export { SOFTCAP_SHADER } from "./softcap.ts";
export { SIGMOID_MUL_SHADER } from "./sigmoid_mul.ts";
export { SILU_MUL_SHADER } from "./silu_mul.ts";
export { COPY_SHADER } from "./copy.ts";
export { GATHER_SHADER } from "./gather.ts";
export { ARGMAX_SHADER } from "./argmax.ts";
export { ARGSORT_SHADER } from "./argsort.ts";
export { TOP_K_SHADER } from "./top_k.ts";
export { SOFTMAX_SAMPLE_SHADER } from "./softmax_sample.ts";
export { RMS_NORM_SHADER } from "./rms_norm.ts";
export { DENSE_GEMM_SHADER } from "./dense_gemm.ts";
export { DENSE_GEMV_BF16_SHADER } from "./dense_gemv_bf16.ts";
export { L2_NORM_SHADER } from "./l2_norm.ts";
export { CUMSUM_SHADER } from "./cumsum.ts";
export { COMPUTE_G_BETA_SHADER } from "./compute_g_beta.ts";
export { SSM_NORM_GATE_SHADER } from "./ssm_norm_gate.ts";
export { TRI_SOLVE_SHADER } from "./tri_solve.ts";
export { SSM_CONV_SHADER } from "./ssm_conv.ts";
export { GATED_DELTA_NET_SHADER } from "./gated_delta_net.ts";
export { ROPE_MULTI_SHADER } from "./rope_multi.ts";
export { FWHT_STANDALONE_SHADER } from "./fwht_standalone.ts";
export { HADAMARD_QUANTIZE_KV_FAST_SHADER } from "./hadamard_quantize_kv_fast.ts";
export { TQ_DEQUANTIZE_KV_SHADER } from "./tq_dequantize_kv.ts";
export { SDPA_SHADER } from "./sdpa.ts";
export { SDPA_SLIDING_SHADER } from "./sdpa_sliding.ts";
export { SDPA_DECODE_SHADER } from "./sdpa_decode.ts";
export { FLASH_ATTN_VEC_SHADER } from "./flash_attn_vec.ts";
export { FLASH_ATTN_PREFILL_SHADER } from "./flash_attn_prefill.ts";
export { QUANTIZED_MATMUL_SHADER } from "./quantized_matmul.ts";
export { EMBEDDING_SHADER } from "./embedding.ts";
export { DENSE_MM_F32_F32_SHADER } from "./dense_mm_f32_f32.ts";
export { DENSE_MM_BF16_TENSOR_SHADER } from "./dense_mm_bf16_tensor.ts";
export { FLASH_ATTN_VEC_TQ_HB_SHADER } from "./flash_attn_vec_tq_hb.ts";
export { QUANTIZED_MATMUL_GGML_SHADER } from "./quantized_matmul_ggml.ts";
export { QUANTIZED_MATMUL_MM_SHADER } from "./quantized_matmul_mm.ts";
export { QUANTIZED_MATMUL_ID_GGML_SHADER } from "./quantized_matmul_id_ggml.ts";
export { QUANTIZED_MATMUL_ID_MM_SHADER } from "./quantized_matmul_id_mm.ts";
export { MOE_GATE_SHADER } from "./moe_gate.ts";
export { MOE_SOFTMAX_TOPK_SHADER } from "./moe_softmax_topk.ts";
export { MOE_WEIGHTED_REDUCE_SHADER } from "./moe_weighted_reduce.ts";
export { MOE_DISPATCH_SHADER } from "./moe_dispatch.ts";
export { QUANTIZED_MATMUL_ID_SHADER } from "./quantized_matmul_id.ts";
export { QUANTIZED_MATMUL_MM_TENSOR_SHADER } from "./quantized_matmul_mm_tensor.ts";
export { QUANTIZED_MATMUL_ID_MM_TENSOR_SHADER } from "./quantized_matmul_id_mm_tensor.ts";
