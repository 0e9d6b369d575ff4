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
