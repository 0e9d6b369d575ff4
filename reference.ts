// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * f64 references for every bundled kernel family (`@metal-compute/kernels/reference`): each
 * function computes in plain loops, in double precision, what a kernel computes, so a result
 * from the GPU (or the CPU backend) can be checked within a tolerance for its dtype. The test
 * suite checks every kernel against these; they are public so that programs can do the same,
 * e.g. after a driver or OS update. Inputs are the values the kernel read (already rounded to
 * its input dtype, see `roundToDType`); outputs are `Float64Array`s, unrounded.
 *
 * @example Usage
 * ```ts
 * import { softmaxRef } from "./reference.ts";
 * import assert from "node:assert";
 *
 * const probabilities = softmaxRef([0, Math.log(3)], 1, 2);
 * assert.ok(Math.abs(probabilities[1] - 0.75) < 1e-12);
 * ```
 *
 * @module
 */
export { geluRef, sigmoidMulRef, siluMulRef, softcapRef } from "./ops/activations_ref.ts";
export {
  attentionKeyVisible,
  type AttentionMaskRef,
  attentionRef,
  type AttentionRefOptions,
  splitKMergeRef,
  type SplitKMergeRefOptions,
} from "./ops/attention_ref.ts";
export {
  headNormRopeRef,
  type HeadNormRopeRefOptions,
  scaleMaskSoftmaxRef,
  type ScaleMaskSoftmaxRefOptions,
} from "./ops/attention_prep_ref.ts";
export {
  clampedSoftplusRef,
  computeGBetaRef,
  type ComputeGBetaRefOptions,
} from "./ops/compute_g_beta_ref.ts";
export { gatherRef, offsetCopyRef, stridedCopyRef } from "./ops/copy_ref.ts";
export { cumsumRef } from "./ops/cumsum_ref.ts";
export {
  castRef,
  elementwiseAddRef,
  elementwiseMulRef,
  embeddingGatherScaleBatchRef,
  embeddingGatherScaleRef,
  permute021Ref,
  scalarMulRef,
  transpose2dRef,
  transposeLast2Ref,
} from "./ops/elementwise_ref.ts";
export type { FloatDType } from "./dtype.ts";
export {
  fusedMoeRoutingRef,
  fusedMoeWsumNormAddRef,
  type FusedMoeWsumRefInput,
  fusedNormAddRef,
  type FusedNormAddRefInput,
  fusedResidualNormRef,
  type FusedResidualNormRefInput,
} from "./ops/fused_norm_add_ref.ts";
export {
  kvCacheCopyRef,
  type KvCacheCopyRefOptions,
  kvCacheCopySeqRef,
  type KvCacheCopySeqRefOptions,
} from "./ops/kv_cache_ref.ts";
export {
  gemvBatchedRef,
  type GemvBatchedRefShape,
  matmulAbsRef,
  matmulRef,
} from "./ops/matmul_ref.ts";
export { l2NormRef } from "./ops/l2_norm_ref.ts";
export { placeholderRef } from "./ops/placeholder_ref.ts";
export {
  fusedPostAttnTripleNormRef,
  type FusedPostAttnTripleNormRefOptions,
  type FusedPostAttnTripleNormRefResult,
  inverseRmsRef,
  rmsNormRef,
  type RmsNormRefOptions,
} from "./ops/rms_norm_ref.ts";
export { ropeRef, type RopeRefOptions } from "./ops/rope_ref.ts";
export {
  argmaxRef,
  argsortRef,
  type IndexedValues,
  type SampleResult,
  softmaxSampleRef,
  topKRef,
} from "./ops/sampling_ref.ts";
export { softmaxRef } from "./ops/softmax_ref.ts";
export { gatedDeltaNetRef, type GatedDeltaNetRefOptions } from "./ops/gated_delta_net_ref.ts";
export {
  gatherTopkWeightsRef,
  gegluRef,
  gegluRowsRef,
  matvecRef,
  weightedSumRef,
} from "./ops/moe_dispatch_ref.ts";
export { moeGateRef, type MoeGateRefOptions, topKIndicesRef } from "./ops/moe_gate_ref.ts";
export { moeSoftmaxTopkRef, type MoeSoftmaxTopkRefOptions } from "./ops/moe_softmax_topk_ref.ts";
export {
  moeWeightedReduceRef,
  type MoeWeightedReduceRefOptions,
} from "./ops/moe_weighted_reduce_ref.ts";
export { ropeMultiAxisRef, ropeMultiRef, type RopeMultiRefOptions } from "./ops/rope_multi_ref.ts";
export { ssmConvRef, type SsmConvRefOptions } from "./ops/ssm_conv_ref.ts";
export {
  quantizedMatmulGgmlIdRef,
  type QuantizedMatmulGgmlIdRefOptions,
  quantizedMatmulGgmlPerm021Ref,
  type QuantizedMatmulGgmlPerm021RefOptions,
  quantizedMatmulGgmlRef,
  type QuantizedMatmulGgmlRefOptions,
} from "./ops/quantized_matmul_ggml_ref.ts";
export { ssmNormGateRef, type SsmNormGateRefOptions } from "./ops/ssm_norm_gate_ref.ts";
export { triSolveLowerUnitRef, type TriSolveRefOptions } from "./ops/tri_solve_ref.ts";
export {
  fwhtRef,
  type FwhtRefOptions,
  type FwhtSigns,
  lloydMaxCodebook,
  packTurboquantIndices,
  quantizeIndex,
  TURBOQUANT_SIGN_BYTES,
  type TurboquantBits,
  type TurboquantCodebook,
  turboquantCodebook,
  turboquantDecodeRef,
  type TurboquantDecodeRefOptions,
  type TurboquantEncoded,
  turboquantEncodeRef,
  type TurboquantEncodeRefOptions,
  type TurboquantHeadDim,
  turboquantNormsPerPosition,
  turboquantSigns,
  unpackTurboquantIndices,
} from "./ops/turboquant_ref.ts";
export { quantizedMatmulRef, type QuantizedMatmulRefOptions } from "./ops/quantized_matmul_ref.ts";
export {
  embeddingGatherAffineRef,
  type EmbeddingGatherAffineRefOptions,
} from "./ops/embedding_ref.ts";
export {
  quantizedMatmulIdRef,
  type QuantizedMatmulIdRefOptions,
} from "./ops/quantized_matmul_id_ref.ts";
