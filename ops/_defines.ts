// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Tuning numbers shared by the op helpers and the shaders (private). Each constant that a
 * `.metal` file also spells as a literal is checked against that file's text by
 * `tests/ops/defines_test.ts`, so the two cannot drift apart.
 *
 * @module
 */

/** SIMD-group width on Apple GPUs and the CPU backend. */
export const SIMD_WIDTH = 32;

/** Elements per thread of the flat kernels of `elementwise.metal` (its `ELEMENTWISE_N_READS`). */
export const ELEMENTWISE_N_READS = 4;

/** Upper bound on SIMD-groups per softmax threadgroup (`SOFTMAX_MAX_SIMDGROUPS` in `softmax.metal`). */
export const SOFTMAX_MAX_SIMDGROUPS = 32;

/** Bytes of `[[threadgroup(0)]]` scratch a softmax dispatch needs: a (max, sum) pair per SIMD-group. */
export const SOFTMAX_SCRATCH_BYTES = 2 * SOFTMAX_MAX_SIMDGROUPS * 4;

/**
 * Host-only: the softmax threadgroup aims at this many columns per thread (MLX's `N_READS`),
 * so short rows get small threadgroups and long rows the largest the pipeline allows.
 */
export const SOFTMAX_COLS_PER_THREAD = 4;

/** Upper bound on SIMD-groups per rms_norm threadgroup (`RMS_NORM_MAX_SIMDGROUPS` in `rms_norm.metal`). */
export const RMS_NORM_MAX_SIMDGROUPS = 32;

/**
 * Host-only: the rms_norm threadgroup aims at this many columns per thread (one 4-vector), so
 * a 128-wide head gets one SIMD-group and a 4096-wide hidden row 1024 threads.
 */
export const RMS_NORM_COLS_PER_THREAD = 4;

/**
 * Host-only: the default width of row-per-threadgroup kernels (norms, softmaxes, cumsum) on
 * the CPU backend, where one threadgroup runs on one core whatever its width: extra threads
 * add only the per-lane loops (work-item loops) or fiber switches (fibers) around every
 * barrier and SIMD-group collective, while one thread's row loops vectorise on their own.
 * One thread per row is the fastest width measured (`bench/cpu_throughput.ts` sweeps
 * `threadsPerRow`); the ops' `threadsPerRow` option picks any other, as the op tests do to
 * exercise the kernels' cross-lane reductions.
 */
export const CPU_ROW_MAX_THREADS = 1;

/** Output rows per SIMD-group of the `dense_matvec_*` kernels (`dense_gemm.metal`). */
export const DENSE_MATVEC_ROWS_PER_SIMDGROUP = 4;

/** SIMD-groups per `dense_matvec_*` threadgroup (`dense_gemm.metal`). */
export const DENSE_MATVEC_SIMDGROUPS = 2;

/** Rows of C (of A) per `dense_gemm_f16` threadgroup tile (`dense_gemm.metal`). */
export const DENSE_GEMM_TILE_M = 64;

/** Columns of C (rows of B) per `dense_gemm_f16` threadgroup tile (`dense_gemm.metal`). */
export const DENSE_GEMM_TILE_N = 64;

/** Threads per `dense_gemm_f16` threadgroup: one 4 × 4 block of the tile each (`dense_gemm.metal`). */
export const DENSE_GEMM_THREADS = 256;

/** Weight rows per `hf2q_dense_gemv_bf16_f32_4` threadgroup (`dense_gemv_bf16.metal`). */
export const DENSE_GEMV_ROWS = 2;

/** Upper bound on SIMD-groups per `hf2q_dense_gemv_bf16_f32_4` threadgroup (`dense_gemv_bf16.metal`). */
export const DENSE_GEMV_MAX_SIMDGROUPS = 4;

/** Host-only: the gemv adds a SIMD-group per this many K values, up to the maximum. */
export const DENSE_GEMV_K_PER_SIMDGROUP = 128;

/**
 * Elements per thread of the activation kernels (`ACTIVATION_N_READS` in `gelu.metal`,
 * `softcap.metal`, `sigmoid_mul.metal` and `silu_mul.metal`).
 */
export const ACTIVATION_N_READS = 4;

/** Heads one RoPE thread rotates with one cos/sin pair (`ROPE_HEADS_PER_THREAD` in `rope.metal`). */
export const ROPE_HEADS_PER_THREAD = 4;

/** Upper bound on SIMD-groups per threadgroup of `fused_norm_add_{f32,bf16}.metal` (`FUSED_NORM_MAX_SIMDGROUPS`). */
export const FUSED_NORM_MAX_SIMDGROUPS = 32;

/** Bytes of `[[threadgroup(0)]]` scratch a fused-norm row dispatch needs: two partial sums per SIMD-group. */
export const FUSED_NORM_SCRATCH_BYTES = 2 * FUSED_NORM_MAX_SIMDGROUPS * 4;

/** Host-only: fused-norm threadgroups aim at this many columns per thread (one 4-wide chunk). */
export const FUSED_NORM_COLS_PER_THREAD = 4;

/** Largest `topK` of the MoE routing kernels (`FUSED_MOE_MAX_TOP_K` in `fused_norm_add_f32.metal`). */
export const FUSED_MOE_MAX_TOP_K = 32;

/**
 * Host-only: largest expert count of the MoE routing kernels. Each thread tracks up to 32
 * experts in a bit mask and a threadgroup has at least 32 threads.
 */
export const FUSED_MOE_MAX_EXPERTS = 1024;

/** Elements per thread of the KV-cache copies (`KV_COPY_N_READS` in `kv_cache_copy.metal`). */
export const KV_COPY_N_READS = 4;

/** Floats per thread of `offset_copy_f32` (`COPY_N_READS` in `copy.metal`). */
export const COPY_N_READS = 4;

/** Floats per thread of `gather_f32` (`GATHER_N_READS` in `gather.metal`). */
export const GATHER_N_READS = 4;

/** Upper bound on SIMD-groups per fused head-norm-RoPE threadgroup (`HNR_MAX_SIMDGROUPS`). */
export const HNR_MAX_SIMDGROUPS = 32;

/** Upper bound on SIMD-groups per scale-mask-softmax threadgroup (`SMS_MAX_SIMDGROUPS`). */
export const SMS_MAX_SIMDGROUPS = 32;

/** Upper bound on SIMD-groups per `argmax_f32` threadgroup (`ARGMAX_MAX_SIMDGROUPS` in `argmax.metal`). */
export const ARGMAX_MAX_SIMDGROUPS = 32;

/** Composites `argsort_desc_f32` sorts in threadgroup memory (`ARGSORT_TG_ELEMENTS` in `argsort.metal`). */
export const ARGSORT_TG_ELEMENTS = 2048;

/** Largest `k` of `top_k_f32` (`TOP_K_MAX` in `top_k.metal`). */
export const TOP_K_MAX = 1024;

/** Upper bound on SIMD-groups per `softmax_sample_f32` threadgroup (`SAMPLE_MAX_SIMDGROUPS` in `softmax_sample.metal`). */
export const SAMPLE_MAX_SIMDGROUPS = 32;

/** Host-only: the row kernels of the sampling family aim at this many elements per thread. */
export const SAMPLING_COLS_PER_THREAD = 8;

/** Upper bound on SIMD-groups per l2_norm threadgroup (`L2_NORM_MAX_SIMDGROUPS` in `l2_norm.metal`). */
export const L2_NORM_MAX_SIMDGROUPS = 32;

/**
 * Host-only: the l2_norm threadgroup aims at this many columns per thread, so a 128-wide head
 * gets one SIMD-group and a 4096-wide row 1024 threads.
 */
export const L2_NORM_COLS_PER_THREAD = 4;

/** Upper bound on SIMD-groups per cumsum threadgroup (`CUMSUM_MAX_SIMDGROUPS` in `cumsum.metal`). */
export const CUMSUM_MAX_SIMDGROUPS = 32;

/** Contiguous elements each cumsum thread scans per tile (`CUMSUM_N_READS` in `cumsum.metal`). */
export const CUMSUM_N_READS = 4;

/** Upper bound on SIMD-groups per ssm_norm_gate threadgroup (`SSM_NORM_GATE_MAX_SIMDGROUPS` in `ssm_norm_gate.metal`). */
export const SSM_NORM_GATE_MAX_SIMDGROUPS = 32;

/** Largest key head dimension of `gated_delta_net_f32` (`GATED_DELTA_NET_MAX_DK`: 8 registers per lane). */
export const GATED_DELTA_NET_MAX_DK = 256;

/**
 * Host-only: rows of the delta-rule state per `gated_delta_net_f32` threadgroup (one SIMD-group
 * each) on a GPU. The CPU backend uses one: its lanes are fibers and every simd_sum switches
 * through all of them, so wider groups only add switches (a Qwen3-Next decode step, 32 heads of
 * 128 × 128, took ≈ 210 ms with one row per group against ≈ 360 ms with 8, on 2 busy cores).
 */
export const GATED_DELTA_NET_GPU_ROWS = 4;

/** Largest head dimension of `sdpa*` (`SDPA_MAX_HEAD_DIM` in `sdpa.metal`, `sdpa_sliding.metal`): each thread's accumulator. */
export const SDPA_MAX_HEAD_DIM = 512;

/** Largest head dimension of `sdpa_decode` (`SDPA_DECODE_MAX_HEAD_DIM` in `sdpa_decode.metal`). */
export const SDPA_DECODE_MAX_HEAD_DIM = 512;

/** Largest split count of the split-K decode (`FLASH_ATTN_VEC_MAX_SPLITS` in `flash_attn_vec.metal`). */
export const FLASH_ATTN_VEC_MAX_SPLITS = 32;

/** Keys per chunk of the split-K decode: one per lane of its SIMD-group. */
export const FLASH_ATTN_VEC_CHUNK = 32;

/**
 * Host-only: the most experts `moe_gate` and `moe_softmax_topk_f32` accept: their logits live
 * in threadgroup memory (4 bytes each; Apple GPUs give a threadgroup 32 KiB).
 */
export const MOE_MAX_EXPERTS = 4096;

/** Host-only: threads per `moe_gate` threadgroup on a GPU (the CPU backend uses one SIMD-group). */
export const MOE_GATE_GPU_THREADS = 256;
