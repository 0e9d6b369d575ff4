// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * GPU compute for Deno on Apple's Metal, with a catalogue of bundled MSL kernels compiled
 * lazily into cached pipelines. On macOS it runs on Metal; everywhere else the same MSL runs
 * on the CPU backend.
 *
 * ```ts
 * import { Device, KernelRegistry, softmax } from "@metal-compute/kernels";
 *
 * using device = await Device.open();
 * using registry = new KernelRegistry();
 * using input = device.newBuffer(new Float32Array([1, 2, 3, 4]));
 * using output = device.newBuffer(16);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await softmax(encoder, { registry, dtype: "f32", input, output, rows: 1, cols: 4 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * console.log(new Float32Array(output.contents));
 * ```
 *
 * @module
 */
export type { Backend } from "./backend.ts";
export { DeviceBuffer } from "./buffer.ts";
export { type CacheInfo, cacheInfo, clearCache, type ClearCacheOptions } from "./cache.ts";
export {
  type FunctionConstants,
  type FunctionConstantType,
  type FunctionConstantValue,
  normalizeConstants,
  type NormalizedConstants,
} from "./constants.ts";
export {
  type BufferSource,
  CommandBuffer,
  type CommandBufferStatus,
  ComputeEncoder,
  Device,
  type DeviceCapabilities,
  type DeviceOptions,
  MAX_BINDINGS,
  MAX_SET_BYTES_LENGTH,
  type Size,
} from "./device.ts";
export {
  bf16BitsToF32,
  bf16Round,
  bytesPerElement,
  type DType,
  type DTypeArray,
  DTYPES,
  f32ToBf16Bits,
  type FloatDType,
  fromBf16Array,
  fromDTypeBytes,
  isDType,
  roundToDType,
  toBf16Array,
  toDTypeArray,
} from "./dtype.ts";
export {
  BackendUnavailableError,
  CacheError,
  CommandBufferError,
  CompileLimitError,
  type Diagnostic,
  type ErrorCode,
  FunctionConstantError,
  InternalError,
  InvalidArgumentError,
  InvalidStateError,
  KernelNotFoundError,
  MetalComputeError,
  type MissingPermission,
  OutOfMemoryError,
  PermissionsError,
  ResourceClosedError,
  ShaderCompilationError,
  type ShaderCompilationErrorOptions,
  SourceNotLoadedError,
  type StatusName,
  ThreadgroupLimitError,
  UnsupportedError,
} from "./errors.ts";
export {
  type FunctionConstantInfo,
  Pipeline,
  type PipelineExecution,
  type PipelineOrigin,
} from "./pipeline.ts";
export {
  KernelRegistry,
  type KernelRegistryOptions,
  type MathMode,
  type RegistryStats,
} from "./registry.ts";
export type {
  PrecompileOptions,
  PrecompileProgress,
  PrecompileStatus,
  PrecompileSummary,
} from "./precompile.ts";
export { NativeResource } from "./resource.ts";

// Op helpers, one module per kernel family.
export {
  ACTIVATION_KERNELS,
  type ActivationKernelName,
  gelu,
  type GeluDType,
  type GeluOptions,
  geluSync,
  sigmoidMul,
  type SigmoidMulDType,
  type SigmoidMulOptions,
  sigmoidMulSync,
  siluMul,
  type SiluMulDType,
  type SiluMulOptions,
  siluMulSync,
  softcap,
  type SoftcapDType,
  type SoftcapOptions,
  softcapSync,
} from "./ops/activations.ts";
export {
  type AttentionBuffers,
  type AttentionSizes,
  sdpa,
  SDPA_DECODE_KERNELS,
  SDPA_KERNELS,
  SDPA_SLIDING_KERNELS,
  sdpaDecode,
  type SdpaDecodeOptions,
  sdpaDecodeSimdgroups,
  sdpaDecodeSync,
  type SdpaKernelName,
  type SdpaOptions,
  sdpaSync,
} from "./ops/attention.ts";
export {
  type AttentionPrepKernelName,
  HEAD_NORM_ROPE_KERNELS,
  headNormRope,
  type HeadNormRopeOptions,
  headNormRopeSync,
  SCALE_MASK_SOFTMAX_KERNEL,
  scaleMaskSoftmax,
  type ScaleMaskSoftmaxOptions,
  scaleMaskSoftmaxSync,
} from "./ops/attention_prep.ts";
export {
  COMPUTE_G_BETA_KERNELS,
  computeGBeta,
  type ComputeGBetaKernelName,
  type ComputeGBetaOptions,
  computeGBetaSync,
} from "./ops/compute_g_beta.ts";
export {
  COPY_KERNELS,
  type CopyKernelName,
  gather,
  type GatherOptions,
  gatherSync,
  offsetCopy,
  type OffsetCopyOptions,
  offsetCopySync,
  stridedCopy,
  type StridedCopyOptions,
  stridedCopySync,
} from "./ops/copy.ts";
export {
  cumsum,
  CUMSUM_KERNELS,
  type CumsumDType,
  type CumsumKernelName,
  type CumsumOptions,
  cumsumSync,
} from "./ops/cumsum.ts";
export {
  cast,
  type CastBuffers,
  type CastDTypes,
  type CastFromDType,
  type CastOptions,
  castSync,
  type CastToDType,
  ELEMENTWISE_KERNELS,
  elementwiseAdd,
  elementwiseAddSync,
  type ElementwiseBinaryDType,
  type ElementwiseBinaryOptions,
  type ElementwiseKernelName,
  elementwiseMul,
  elementwiseMulSync,
  embeddingGatherScale,
  embeddingGatherScaleBatch,
  type EmbeddingGatherScaleBatchOptions,
  embeddingGatherScaleBatchSync,
  type EmbeddingGatherScaleOptions,
  embeddingGatherScaleSync,
  type OpBaseOptions,
  permute021,
  type Permute021Buffers,
  type Permute021DType,
  type Permute021DTypes,
  type Permute021Options,
  permute021Sync,
  scalarMul,
  type ScalarMulDType,
  type ScalarMulOptions,
  scalarMulSync,
  transpose2d,
  type Transpose2dDType,
  type Transpose2dOptions,
  transpose2dSync,
  transposeLast2,
  type TransposeLast2DType,
  type TransposeLast2Options,
  transposeLast2Sync,
} from "./ops/elementwise.ts";
export {
  DENSE_MM_BF16_TENSOR_KERNELS,
  DENSE_MM_F32_F32_KERNELS,
  DENSE_MM_THREADS,
  DENSE_MM_TILE_M,
  DENSE_MM_TILE_N,
  denseMmTensor,
  type DenseMmTensorOptions,
  denseMmTensorSync,
} from "./ops/dense_mm_tensor.ts";
export {
  EMBEDDING_KERNELS,
  EMBEDDING_VALUES_PER_THREAD,
  embeddingGatherAffine,
  type EmbeddingGatherAffineOptions,
  embeddingGatherAffineSync,
  type EmbeddingKernelName,
} from "./ops/embedding.ts";
export {
  FLASH_ATTN_PREFILL_KERNELS,
  flashAttnPrefill,
  type FlashAttnPrefillDType,
  type FlashAttnPrefillKernelName,
  type FlashAttnPrefillMask,
  type FlashAttnPrefillOptions,
  flashAttnPrefillSync,
  type FlashAttnPrefillTileShape,
  flashAttnPrefillTileShape,
} from "./ops/flash_attn_prefill.ts";
export {
  FLASH_ATTN_VEC_KERNELS,
  flashAttnVec,
  type FlashAttnVecHeadDim,
  type FlashAttnVecKernelName,
  type FlashAttnVecOptions,
  flashAttnVecReduce,
  type FlashAttnVecReduceOptions,
  flashAttnVecReduceSync,
  flashAttnVecScratchBytes,
  flashAttnVecSplits,
  flashAttnVecSync,
} from "./ops/flash_attn_vec.ts";
export {
  FUSED_NORM_ADD_KERNELS,
  fusedMoeRouting,
  type FusedMoeRoutingOptions,
  fusedMoeRoutingSync,
  fusedMoeWsumDnormAdd,
  type FusedMoeWsumDnormAddOptions,
  fusedMoeWsumDnormAddSync,
  fusedMoeWsumNormAdd,
  type FusedMoeWsumNormAddOptions,
  fusedMoeWsumNormAddSync,
  fusedNormAdd,
  type FusedNormAddDType,
  type FusedNormAddKernelName,
  type FusedNormAddOptions,
  fusedNormAddScalar,
  fusedNormAddScalarSync,
  fusedNormAddSync,
  type FusedNormRowOptions,
  type FusedNormScalarOptions,
  fusedResidualNorm,
  type FusedResidualNormOptions,
  fusedResidualNormScalar,
  fusedResidualNormScalarSync,
  fusedResidualNormSync,
} from "./ops/fused_norm_add.ts";
export {
  KV_CACHE_KERNELS,
  kvCacheCopy,
  kvCacheCopyBatch,
  type KvCacheCopyBatchOptions,
  kvCacheCopyBatchSync,
  type KvCacheCopyOptions,
  kvCacheCopySeq,
  kvCacheCopySeqDual,
  type KvCacheCopySeqDualOptions,
  kvCacheCopySeqDualSync,
  type KvCacheCopySeqOptions,
  kvCacheCopySeqSync,
  kvCacheCopySync,
  type KvCacheKernelName,
  type KvCacheSeqShape,
} from "./ops/kv_cache.ts";
export {
  L2_NORM_KERNELS,
  l2Norm,
  type L2NormDType,
  type L2NormKernelName,
  type L2NormOptions,
  l2NormSync,
} from "./ops/l2_norm.ts";
export {
  denseGemm,
  type DenseGemmDType,
  type DenseGemmOptions,
  denseGemmSync,
  denseGemvBf16,
  type DenseGemvBf16Options,
  denseGemvBf16Sync,
  denseMatvec,
  type DenseMatvecBuffers,
  type DenseMatvecDTypes,
  type DenseMatvecOptions,
  denseMatvecSync,
  type DenseMatvecWeightDType,
  MATMUL_KERNELS,
  type MatmulBaseOptions,
  type MatmulKernelName,
} from "./ops/matmul.ts";
export {
  placeholder,
  PLACEHOLDER_CONSTANTS,
  PLACEHOLDER_KERNEL,
  placeholderConstants,
  type PlaceholderOptions,
  placeholderSync,
} from "./ops/placeholder.ts";
export {
  fusedPostAttnTripleNorm,
  type FusedPostAttnTripleNormOptions,
  fusedPostAttnTripleNormSync,
  RMS_NORM_KERNELS,
  rmsNorm,
  type RmsNormBaseOptions,
  type RmsNormDType,
  type RmsNormKernelName,
  rmsNormMul,
  type RmsNormMulDType,
  type RmsNormMulOptions,
  rmsNormMulSync,
  rmsNormNoScale,
  type RmsNormNoScaleDType,
  rmsNormNoScaleDual,
  type RmsNormNoScaleDualOptions,
  rmsNormNoScaleDualPerm,
  type RmsNormNoScaleDualPermOptions,
  rmsNormNoScaleDualPermSync,
  rmsNormNoScaleDualSync,
  type RmsNormNoScaleOptions,
  rmsNormNoScaleSync,
  type RmsNormOptions,
  rmsNormSync,
  rmsNormTriple,
  type RmsNormTripleOptions,
  rmsNormTripleSync,
} from "./ops/rms_norm.ts";
export {
  type PartialRotary,
  rope,
  ROPE_KERNELS,
  type RopeDType,
  type RopeFrequencyOptions,
  type RopeKernelName,
  type RopeMode,
  type RopeOptions,
  ropeSync,
} from "./ops/rope.ts";
export {
  argmax,
  type ArgmaxOptions,
  argmaxSync,
  argsort,
  type ArgsortOptions,
  argsortScratchBytes,
  argsortSync,
  SAMPLING_KERNELS,
  type SamplingKernelName,
  SOFTMAX_SAMPLE_MAX_ROWS,
  softmaxSample,
  type SoftmaxSampleOptions,
  softmaxSampleSync,
  topK,
  type TopKOptions,
  topKSync,
} from "./ops/sampling.ts";
/** The per-call threadgroup width options every row op (softmax, the norms, cumsum, ...) takes. */
export type { RowWidthOptions } from "./ops/_dispatch.ts";
export {
  softmax,
  SOFTMAX_KERNELS,
  type SoftmaxDType,
  type SoftmaxKernelName,
  type SoftmaxOptions,
  softmaxSync,
} from "./ops/softmax.ts";
export {
  QMV_COLS_PER_TG,
  QMV_ROWS_PER_TG,
  QMV_SIMDGROUPS,
  QUANTIZED_MATMUL_KERNELS,
  quantizedMatmul,
  type QuantizedMatmulBaseOptions,
  type QuantizedMatmulDType,
  quantizedMatmulExpert,
  type QuantizedMatmulExpertOptions,
  quantizedMatmulExpertSync,
  type QuantizedMatmulKernelName,
  type QuantizedMatmulOptions,
  quantizedMatmulSync,
} from "./ops/quantized_matmul.ts";
export {
  QMV_ID_ROWS_PER_TG,
  QMV_ID_SIMDGROUPS,
  QUANTIZED_MATMUL_ID_KERNELS,
  quantizedMatmulId,
  type QuantizedMatmulIdOptions,
  quantizedMatmulIdSync,
} from "./ops/quantized_matmul_id.ts";
export {
  SSM_NORM_GATE_KERNELS,
  ssmNormGate,
  type SsmNormGateKernelName,
  type SsmNormGateOptions,
  ssmNormGateSync,
} from "./ops/ssm_norm_gate.ts";
export {
  type DeltaNetGqa,
  GATED_DELTA_NET_KERNELS,
  gatedDeltaNet,
  type GatedDeltaNetKernelName,
  type GatedDeltaNetOptions,
  gatedDeltaNetSync,
} from "./ops/gated_delta_net.ts";
export {
  geluMul,
  type GeluMulOptions,
  geluMulSync,
  MOE_DISPATCH_KERNELS,
  moeAccumulate,
  type MoeAccumulateOptions,
  moeAccumulateSync,
  type MoeDispatchDType,
  type MoeDispatchKernelName,
  moeGatherTopkWeights,
  type MoeGatherTopkWeightsOptions,
  moeGatherTopkWeightsSync,
  moeGegluBatch,
  type MoeGegluBatchOptions,
  moeGegluBatchSync,
  moeGegluFused,
  type MoeGegluFusedOptions,
  moeGegluFusedSync,
  moeGegluSeq,
  type MoeGegluSeqOptions,
  moeGegluSeqSync,
  moeWeightedSum,
  type MoeWeightedSumOptions,
  moeWeightedSumSeq,
  type MoeWeightedSumSeqOptions,
  moeWeightedSumSeqSync,
  moeWeightedSumSync,
  naiveMatvec,
  type NaiveMatvecOptions,
  naiveMatvecSync,
  zeroBuffer,
  type ZeroBufferOptions,
  zeroBufferSync,
} from "./ops/moe_dispatch.ts";
export {
  MOE_GATE_KERNELS,
  moeGate,
  type MoeGateKernelName,
  type MoeGateOptions,
  moeGateSync,
} from "./ops/moe_gate.ts";
export {
  MOE_SOFTMAX_TOPK_KERNELS,
  moeSoftmaxTopk,
  type MoeSoftmaxTopkKernelName,
  type MoeSoftmaxTopkOptions,
  moeSoftmaxTopkSync,
} from "./ops/moe_softmax_topk.ts";
export {
  MOE_WEIGHTED_REDUCE_KERNELS,
  moeWeightedReduce,
  type MoeWeightedReduceKernelName,
  type MoeWeightedReduceOptions,
  moeWeightedReduceSync,
} from "./ops/moe_weighted_reduce.ts";
export {
  ROPE_MULTI_KERNELS,
  ropeMulti,
  type RopeMultiDType,
  type RopeMultiKernelName,
  type RopeMultiMode,
  type RopeMultiOptions,
  ropeMultiSync,
} from "./ops/rope_multi.ts";
export {
  SSM_CONV_KERNELS,
  ssmConv,
  type SsmConvDType,
  ssmConvForward,
  type SsmConvForwardOptions,
  ssmConvForwardSync,
  type SsmConvKernelName,
  type SsmConvOptions,
  type SsmConvShape,
  ssmConvStateUpdate,
  type SsmConvStateUpdateOptions,
  ssmConvStateUpdateSync,
  ssmConvSync,
} from "./ops/ssm_conv.ts";
export {
  chooseTensorKernel,
  chooseTensorKernelSync,
  TENSOR_API_PROBE_KERNEL,
  tensorApiSupported,
  tensorApiSupportedSync,
  TensorApiUnsupportedError,
} from "./ops/tensor_api.ts";
export {
  TRI_SOLVE_KERNELS,
  type TriSolveDType,
  type TriSolveKernelName,
  triSolveLowerUnit,
  triSolveLowerUnitSync,
  type TriSolveOptions,
} from "./ops/tri_solve.ts";
export {
  fwht,
  FWHT_KERNELS,
  type FwhtOptions,
  fwhtSync,
  TQ_DEQUANTIZE_KERNELS,
  TQ_ENCODE_KERNELS,
  turboquantCacheBytes,
  type TurboquantCacheOptions,
  type TurboquantCacheShape,
  turboquantDequantizeKv,
  turboquantDequantizeKvSync,
  type TurboquantDequantizeOptions,
  turboquantEncodeKv,
  turboquantEncodeKvSync,
  type TurboquantEncodeOptions,
  type TurboquantKernelName,
} from "./ops/turboquant.ts";
export {
  FLASH_ATTN_VEC_TQ_HB_KERNELS,
  type FlashAttnVecTqHbKernelName,
  turboquantAttention,
  type TurboquantAttentionOptions,
  turboquantAttentionSync,
} from "./ops/turboquant_attention.ts";

export {
  GGML_MATVEC_MAX_ROWS,
  ggmlMatmul,
  ggmlMatmulPerm021,
  type GgmlMatmulPerm021Options,
  ggmlMatmulPerm021Sync,
  ggmlMatmulSync,
  ggmlMatmulTensor,
  ggmlMatmulTensorSync,
  type GgmlMatmulType,
  ggmlMatvec,
  ggmlMatvecSync,
  QUANTIZED_MATMUL_GGML_KERNELS,
  QUANTIZED_MATMUL_MM_KERNELS,
  QUANTIZED_MATMUL_MM_TENSOR_KERNELS,
  quantizedMatmulGgml,
  type QuantizedMatmulGgmlKernelName,
  type QuantizedMatmulGgmlOptions,
  quantizedMatmulGgmlSync,
} from "./ops/quantized_matmul_ggml.ts";
export {
  GGML_ID_MATVEC_MAX_TOKENS,
  ggmlMapExperts,
  type GgmlMapExpertsOptions,
  ggmlMapExpertsSync,
  ggmlMatmulId,
  type GgmlMatmulIdOptions,
  ggmlMatmulIdSync,
  ggmlMatmulIdTensor,
  ggmlMatmulIdTensorSync,
  type GgmlMatmulIdType,
  ggmlMatvecId,
  ggmlMatvecIdSync,
  type GgmlRouting,
  ggmlRoutingBytes,
  QUANTIZED_MATMUL_ID_GGML_KERNELS,
  QUANTIZED_MATMUL_ID_MM_KERNELS,
  QUANTIZED_MATMUL_ID_MM_TENSOR_KERNELS,
  quantizedMatmulGgmlId,
  type QuantizedMatmulGgmlIdKernelName,
  type QuantizedMatmulGgmlIdOptions,
  quantizedMatmulGgmlIdSync,
} from "./ops/quantized_matmul_ggml_id.ts";

// Weight formats: quantize, pack and unpack matrices as model files store them.
export {
  AFFINE_BITS,
  AFFINE_GROUP_SIZES,
  type AffineBits,
  affineCodes,
  type AffineGroupSize,
  type AffineLayout,
  affineLayout,
  type AffineMatrix,
  type AffineShape,
  dequantizeAffine,
  type DequantizeAffineOptions,
  quantizeAffine,
} from "./formats/affine.ts";
export {
  dequantizeGgml,
  GGML_BLOCKS,
  GGML_TYPES,
  type GgmlBlockLayout,
  ggmlRowBytes,
  type GgmlType,
  quantizeGgml,
} from "./formats/ggml.ts";

// The catalogue: every bundled kernel name, and each shader file's table of names.
export {
  type BundledShader,
  type CatalogEntry,
  type KernelFamily,
  type KernelName,
  KERNELS,
  type ShaderFile,
  type TableNames,
} from "./shaders/catalog.ts";
export { ARGMAX_KERNELS } from "./shaders/argmax.ts";
export { ARGSORT_KERNELS } from "./shaders/argsort.ts";
export { COPY_METAL_KERNELS } from "./shaders/copy.ts";
export { DENSE_GEMM_KERNELS } from "./shaders/dense_gemm.ts";
export { DENSE_GEMV_BF16_KERNELS } from "./shaders/dense_gemv_bf16.ts";
export { FUSED_HEAD_NORM_ROPE_BF16_KERNELS } from "./shaders/fused_head_norm_rope_bf16.ts";
export { FUSED_HEAD_NORM_ROPE_F32_KERNELS } from "./shaders/fused_head_norm_rope_f32.ts";
export { FUSED_NORM_ADD_BF16_KERNELS } from "./shaders/fused_norm_add_bf16.ts";
export { FUSED_NORM_ADD_F32_KERNELS } from "./shaders/fused_norm_add_f32.ts";
export { GATHER_KERNELS } from "./shaders/gather.ts";
export { GELU_KERNELS } from "./shaders/gelu.ts";
export { KV_CACHE_COPY_KERNELS } from "./shaders/kv_cache_copy.ts";
export { PLACEHOLDER_KERNELS } from "./shaders/placeholder.ts";
export { SCALE_MASK_SOFTMAX_KERNELS } from "./shaders/scale_mask_softmax.ts";
export { SIGMOID_MUL_KERNELS } from "./shaders/sigmoid_mul.ts";
export { SILU_MUL_KERNELS } from "./shaders/silu_mul.ts";
export { SOFTCAP_KERNELS } from "./shaders/softcap.ts";
export { SOFTMAX_SAMPLE_KERNELS } from "./shaders/softmax_sample.ts";
export { TOP_K_KERNELS } from "./shaders/top_k.ts";
