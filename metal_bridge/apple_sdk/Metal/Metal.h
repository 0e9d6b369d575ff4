/*
 * Metal/Metal.h (declaration-only stand-in) — only the Metal API that metal_bridge.m uses,
 * declared as in Apple's SDK headers (MTLDefines.h, MTLTypes.h, MTLResource.h, MTLBuffer.h,
 * MTLDataType.h, MTLLibrary.h, MTLArgument.h, MTLFunctionConstantValues.h,
 * MTLComputePipeline.h, MTLCommandEncoder.h, MTLComputeCommandEncoder.h,
 * MTLCommandBuffer.h, MTLCommandQueue.h, MTLDevice.h, MTLBinaryArchive.h). Only macOS availability
 * is given. See ../README.md for the rules and sources.
 *
 * checked (enum values): Apple metal-cpp 2025 (MTLDataType.hpp, MTLLibrary.hpp,
 * MTLDevice.hpp, MTLCommandBuffer.hpp, MTLResource.hpp) and the Objective-C MTLCommandBuffer.h
 * as quoted in public code (`typedef NS_ENUM(NSUInteger, MTLCommandBufferStatus)` ...
 * `API_AVAILABLE(macos(10.11), ios(8.0))`).
 */
#ifndef MB_APPLE_SDK_METAL_H
#define MB_APPLE_SDK_METAL_H

#include <Foundation/Foundation.h>

/* MTLDefines.h */
#define MTL_EXTERN extern __attribute__((visibility("default")))
#define MTL_EXPORT __attribute__((visibility("default")))
#define MTL_INLINE __attribute__((__always_inline__)) static inline

NS_ASSUME_NONNULL_BEGIN

@protocol MTLDevice;
@protocol MTLFunction;
@protocol MTLCommandBuffer;
@class MTLCompileOptions;
@class MTLComputePipelineDescriptor;
@class MTLComputePipelineReflection;
@class MTLFunctionConstant;
@class MTLFunctionConstantValues;
@protocol MTLBinaryArchive;

/* ---- MTLTypes.h -------------------------------------------------------------------- */

typedef struct {
  NSUInteger width, height, depth;
} MTLSize;

/* Defined inline in Apple's MTLTypes.h exactly like this. */
MTL_INLINE MTLSize MTLSizeMake(NSUInteger width, NSUInteger height, NSUInteger depth) {
  MTLSize size = {width, height, depth};
  return size;
}

/* ---- MTLResource.h ----------------------------------------------------------------- */

/* checked: MTLStorageModeShared = 0, MTLResourceStorageModeShift = 4,
 * MTLResourceStorageModeShared = MTLStorageModeShared << MTLResourceStorageModeShift (= 0). */
#define MTLResourceStorageModeShift 4

typedef NS_ENUM(NSUInteger, MTLStorageMode) {
  MTLStorageModeShared = 0,
} API_AVAILABLE(macos(10.11));

typedef NS_OPTIONS(NSUInteger, MTLResourceOptions) {
  MTLResourceStorageModeShared API_AVAILABLE(macos(10.11)) = MTLStorageModeShared
                                                             << MTLResourceStorageModeShift,
} API_AVAILABLE(macos(10.11));

API_AVAILABLE(macos(10.11))
@protocol MTLResource <NSObject>
@end

/* ---- MTLBuffer.h ------------------------------------------------------------------- */

API_AVAILABLE(macos(10.11))
@protocol MTLBuffer <MTLResource>
@property (readonly) NSUInteger length;
- (void *)contents NS_RETURNS_INNER_POINTER;
@end

/* ---- MTLDataType.h (MTLArgument.h in SDKs before macOS 13) -------------------------- */

/* checked: Float = 3, Half = 16, Int = 29, UInt = 33, Short = 37, UShort = 41, Bool = 53
   (metal-cpp MTLDataType.hpp). */
typedef NS_ENUM(NSUInteger, MTLDataType) {
  MTLDataTypeNone = 0,
  MTLDataTypeFloat = 3,
  MTLDataTypeHalf = 16,
  MTLDataTypeInt = 29,
  MTLDataTypeUInt = 33,
  MTLDataTypeShort = 37,
  MTLDataTypeUShort = 41,
  MTLDataTypeBool = 53,
} API_AVAILABLE(macos(10.11));

/* ---- MTLFunctionConstantValues.h --------------------------------------------------- */

MTL_EXPORT API_AVAILABLE(macos(10.12)) @interface MTLFunctionConstantValues : NSObject<NSCopying>
- (void)setConstantValue:(const void *)value type:(MTLDataType)type atIndex:(NSUInteger)index;
@end

/* ---- MTLLibrary.h ------------------------------------------------------------------ */

/* checked: Vertex = 1, Fragment = 2, Kernel = 3 (metal-cpp MTLLibrary.hpp). */
typedef NS_ENUM(NSUInteger, MTLFunctionType) {
  MTLFunctionTypeVertex = 1,
  MTLFunctionTypeFragment = 2,
  MTLFunctionTypeKernel = 3,
} API_AVAILABLE(macos(10.11));

/* checked: (major << 16) + minor; 1_1 = 65537 ... 4_0 = 262144 (metal-cpp MTLLibrary.hpp).
 * MTLLanguageVersion1_0 is iOS-only and not declared. */
typedef NS_ENUM(NSUInteger, MTLLanguageVersion) {
  MTLLanguageVersion1_1 API_AVAILABLE(macos(10.11)) = (1 << 16) + 1,
  MTLLanguageVersion1_2 API_AVAILABLE(macos(10.12)) = (1 << 16) + 2,
  MTLLanguageVersion2_0 API_AVAILABLE(macos(10.13)) = (2 << 16),
  MTLLanguageVersion2_1 API_AVAILABLE(macos(10.14)) = (2 << 16) + 1,
  MTLLanguageVersion2_2 API_AVAILABLE(macos(10.15)) = (2 << 16) + 2,
  MTLLanguageVersion2_3 API_AVAILABLE(macos(11.0)) = (2 << 16) + 3,
  MTLLanguageVersion2_4 API_AVAILABLE(macos(12.0)) = (2 << 16) + 4,
  MTLLanguageVersion3_0 API_AVAILABLE(macos(13.0)) = (3 << 16) + 0,
  MTLLanguageVersion3_1 API_AVAILABLE(macos(14.0)) = (3 << 16) + 1,
#if __MAC_OS_X_VERSION_MAX_ALLOWED >= 150000
  MTLLanguageVersion3_2 API_AVAILABLE(macos(15.0)) = (3 << 16) + 2,
#endif
#if __MAC_OS_X_VERSION_MAX_ALLOWED >= 260000
  MTLLanguageVersion4_0 API_AVAILABLE(macos(26.0)) = (4 << 16) + 0,
#endif
} API_AVAILABLE(macos(10.11));

#if __MAC_OS_X_VERSION_MAX_ALLOWED >= 150000
/* checked: Safe = 0, Relaxed = 1, Fast = 2; NSInteger; macOS 15 SDK (metal-cpp, Apple docs). */
typedef NS_ENUM(NSInteger, MTLMathMode) {
  MTLMathModeSafe = 0,
  MTLMathModeRelaxed = 1,
  MTLMathModeFast = 2,
} API_AVAILABLE(macos(15.0));
#endif

MTL_EXPORT API_AVAILABLE(macos(10.12)) @interface MTLFunctionConstant : NSObject
@property (readonly) NSString *name;
@property (readonly) MTLDataType type;
@property (readonly) NSUInteger index;
@property (readonly) BOOL required;
@end

API_AVAILABLE(macos(10.11))
@protocol MTLFunction <NSObject>
@property (readonly) MTLFunctionType functionType;
@property (readonly) NSString *name;
@property (readonly)
    NSDictionary<NSString *, MTLFunctionConstant *> *functionConstantsDictionary API_AVAILABLE(
        macos(10.12));
@end

MTL_EXPORT API_AVAILABLE(macos(10.11)) @interface MTLCompileOptions : NSObject<NSCopying>
@property (nullable, readwrite, copy, nonatomic)
    NSDictionary<NSString *, NSObject *> *preprocessorMacros;
#if __MAC_OS_X_VERSION_MAX_ALLOWED >= 150000
/* checked: deprecated in macOS 15 in favour of mathMode (Apple docs: "fastMathEnabled ...
 * Deprecated"). */
@property (readwrite, nonatomic)
    BOOL fastMathEnabled API_DEPRECATED("Use mathMode instead", macos(10.11, 15.0));
@property (readwrite, nonatomic) MTLMathMode mathMode API_AVAILABLE(macos(15.0));
#else
@property (readwrite, nonatomic) BOOL fastMathEnabled API_AVAILABLE(macos(10.11));
#endif
@property (readwrite, nonatomic) MTLLanguageVersion languageVersion API_AVAILABLE(macos(10.11));
@end

API_AVAILABLE(macos(10.11))
@protocol MTLLibrary <NSObject>
- (nullable id<MTLFunction>)newFunctionWithName:(NSString *)functionName;
- (nullable id<MTLFunction>)newFunctionWithName:(NSString *)name
                                 constantValues:(MTLFunctionConstantValues *)constantValues
                                          error:(__autoreleasing NSError **)error
    API_AVAILABLE(macos(10.12));
@property (readonly) NSArray<NSString *> *functionNames;
@end

/* ---- MTLArgument.h (bindings) ------------------------------------------------------ */

/* checked: NSInteger; Buffer = 0, ThreadgroupMemory = 1, Texture = 2, Sampler = 3; macOS 11
 * (metal-cpp MTLArgument.hpp; Apple docs "MTLBindingType macOS 11.0+"). */
typedef NS_ENUM(NSInteger, MTLBindingType) {
  MTLBindingTypeBuffer = 0,
  MTLBindingTypeThreadgroupMemory = 1,
  MTLBindingTypeTexture = 2,
  MTLBindingTypeSampler = 3,
} API_AVAILABLE(macos(11.0));

/* checked: Apple docs "MTLBinding macOS 13.0+": name, type, index, isUsed, isArgument. */
API_AVAILABLE(macos(13.0))
@protocol MTLBinding <NSObject>
@property (readonly) NSString *name;
@property (readonly) MTLBindingType type;
@property (readonly) NSUInteger index;
@property (readonly, getter=isUsed) BOOL used;
@property (readonly, getter=isArgument) BOOL argument;
@end

/* ---- MTLComputePipeline.h ---------------------------------------------------------- */

/* checked: Apple docs: the class macOS 10.11+, `bindings` macOS 13.0+ (replaces `arguments`). */
MTL_EXPORT API_AVAILABLE(macos(10.11)) @interface MTLComputePipelineReflection : NSObject
@property (readonly) NSArray<id<MTLBinding>> *bindings API_AVAILABLE(macos(13.0));
@end

MTL_EXPORT API_AVAILABLE(macos(10.11)) @interface MTLComputePipelineDescriptor : NSObject<NSCopying>
@property (nullable, copy, nonatomic) NSString *label;
@property (nullable, readwrite, nonatomic, strong) id<MTLFunction> computeFunction;
@property (readwrite, nullable, nonatomic, copy)
    NSArray<id<MTLBinaryArchive>> *binaryArchives API_AVAILABLE(macos(11.0));
@end

API_AVAILABLE(macos(10.11))
@protocol MTLComputePipelineState <NSObject>
@property (nullable, readonly) NSString *label API_AVAILABLE(macos(10.13));
@property (readonly) NSUInteger maxTotalThreadsPerThreadgroup;
@property (readonly) NSUInteger threadExecutionWidth;
@property (readonly) NSUInteger staticThreadgroupMemoryLength API_AVAILABLE(macos(10.13));
@end

/* ---- MTLCommandEncoder.h / MTLComputeCommandEncoder.h ------------------------------ */

API_AVAILABLE(macos(10.11))
@protocol MTLCommandEncoder <NSObject>
- (void)endEncoding;
@end

API_AVAILABLE(macos(10.11))
@protocol MTLComputeCommandEncoder <MTLCommandEncoder>
- (void)setComputePipelineState:(id<MTLComputePipelineState>)state;
- (void)setBytes:(const void *)bytes
          length:(NSUInteger)length
         atIndex:(NSUInteger)index API_AVAILABLE(macos(10.11));
- (void)setBuffer:(nullable id<MTLBuffer>)buffer
           offset:(NSUInteger)offset
          atIndex:(NSUInteger)index;
- (void)setThreadgroupMemoryLength:(NSUInteger)length atIndex:(NSUInteger)index;
- (void)dispatchThreadgroups:(MTLSize)threadgroupsPerGrid
       threadsPerThreadgroup:(MTLSize)threadsPerThreadgroup;
- (void)dispatchThreads:(MTLSize)threadsPerGrid
    threadsPerThreadgroup:(MTLSize)threadsPerThreadgroup API_AVAILABLE(macos(10.13));
@end

/* ---- MTLCommandBuffer.h ------------------------------------------------------------ */

/* checked: NotEnqueued = 0 ... Error = 5 (MTLCommandBuffer.h, metal-cpp). */
typedef NS_ENUM(NSUInteger, MTLCommandBufferStatus) {
  MTLCommandBufferStatusNotEnqueued = 0,
  MTLCommandBufferStatusEnqueued = 1,
  MTLCommandBufferStatusCommitted = 2,
  MTLCommandBufferStatusScheduled = 3,
  MTLCommandBufferStatusCompleted = 4,
  MTLCommandBufferStatusError = 5,
} API_AVAILABLE(macos(10.11));

typedef void (^MTLCommandBufferHandler)(id<MTLCommandBuffer>);

API_AVAILABLE(macos(10.11))
@protocol MTLCommandBuffer <NSObject>
- (void)commit;
- (void)addCompletedHandler:(MTLCommandBufferHandler)block;
- (void)waitUntilCompleted;
@property (readonly) MTLCommandBufferStatus status;
@property (nullable, readonly) NSError *error;
/* checked: Apple docs "GPUStartTime / GPUEndTime macOS 10.15+", CFTimeInterval seconds (host
 * clock). */
@property (readonly) CFTimeInterval GPUStartTime API_AVAILABLE(macos(10.15));
@property (readonly) CFTimeInterval GPUEndTime API_AVAILABLE(macos(10.15));
- (nullable id<MTLComputeCommandEncoder>)computeCommandEncoder;
@end

/* ---- MTLCommandQueue.h ------------------------------------------------------------- */

API_AVAILABLE(macos(10.11))
@protocol MTLCommandQueue <NSObject>
- (nullable id<MTLCommandBuffer>)commandBuffer;
@end

/* ---- MTLDevice.h ------------------------------------------------------------------- */

/* checked: Apple6 = 1006, Apple7 = 1007, Apple9 = 1009, Mac2 = 2002, Metal3 = 5001,
 * Metal4 = 5002 (metal-cpp MTLDevice.hpp 2025; Apple docs: mac2 "macOS 10.15+"). Only the
 * families the bridge tests are declared. */
typedef NS_ENUM(NSInteger, MTLGPUFamily) {
  MTLGPUFamilyApple4 = 1004,
  MTLGPUFamilyApple6 = 1006,
  MTLGPUFamilyApple7 = 1007,
  MTLGPUFamilyApple9 = 1009,
  MTLGPUFamilyMac2 = 2002,
  MTLGPUFamilyMetal3 = 5001,
#if __MAC_OS_X_VERSION_MAX_ALLOWED >= 260000
  MTLGPUFamilyMetal4 API_AVAILABLE(macos(26.0)) = 5002,
#endif
} API_AVAILABLE(macos(10.15));

/* checked: MTLPipelineOptionNone = 0, MTLPipelineOptionBindingInfo = 1 << 0 (macOS 13; the
 * same bit as the deprecated ArgumentInfo), MTLPipelineOptionFailOnBinaryArchiveMiss = 1 << 2,
 * macOS 11 (metal-cpp MTLDevice.hpp; Apple docs). */
typedef NS_OPTIONS(NSUInteger, MTLPipelineOption) {
  MTLPipelineOptionNone = 0,
  MTLPipelineOptionBindingInfo API_AVAILABLE(macos(13.0)) = 1 << 0,
  MTLPipelineOptionFailOnBinaryArchiveMiss API_AVAILABLE(macos(11.0)) = 1 << 2,
} API_AVAILABLE(macos(10.11));

/* ---- MTLBinaryArchive.h ------------------------------------------------------------ */

/* checked: the Objective-C MTLBinaryArchive.h ("Copyright (c) 2020 Apple Inc.") as quoted in
 * public code; Apple docs: macOS 11.0+ for the descriptor, the protocol and its methods. */
MTL_EXPORT API_AVAILABLE(macos(11.0)) @interface MTLBinaryArchiveDescriptor : NSObject<NSCopying>
@property (readwrite, nullable, nonatomic, copy) NSURL *url;
@end

API_AVAILABLE(macos(11.0))
@protocol MTLBinaryArchive <NSObject>
@property (nullable, copy, atomic) NSString *label;
- (BOOL)addComputePipelineFunctionsWithDescriptor:(MTLComputePipelineDescriptor *)descriptor
                                            error:(__autoreleasing NSError **)error;
- (BOOL)serializeToURL:(NSURL *)url error:(__autoreleasing NSError **)error;
@end

typedef __autoreleasing MTLComputePipelineReflection *__nullable
    MTLAutoreleasedComputePipelineReflection;

MTL_EXTERN id<MTLDevice> __nullable MTLCreateSystemDefaultDevice(void)
    API_AVAILABLE(macos(10.11)) NS_RETURNS_RETAINED;
/* checked: Apple docs "MTLCopyAllDevices macOS 10.11+" (macOS only), returns a retained array. */
MTL_EXTERN NSArray<id<MTLDevice>> *MTLCopyAllDevices(void)
    API_AVAILABLE(macos(10.11)) NS_RETURNS_RETAINED;

API_AVAILABLE(macos(10.11))
@protocol MTLDevice <NSObject>
@property (readonly) NSString *name;
@property (readonly) MTLSize maxThreadsPerThreadgroup API_AVAILABLE(macos(10.11));
@property (readonly) NSUInteger maxThreadgroupMemoryLength API_AVAILABLE(macos(10.13));
@property (readonly) NSUInteger maxBufferLength API_AVAILABLE(macos(10.14));
@property (readonly) BOOL hasUnifiedMemory API_AVAILABLE(macos(10.15));
/* checked: Apple docs "registryID macOS 10.13+", "recommendedMaxWorkingSetSize macOS 10.12+",
 * uint64_t. */
@property (readonly) uint64_t registryID API_AVAILABLE(macos(10.13));
@property (readonly) uint64_t recommendedMaxWorkingSetSize API_AVAILABLE(macos(10.12));
- (BOOL)supportsFamily:(MTLGPUFamily)gpuFamily API_AVAILABLE(macos(10.15));
- (nullable id<MTLCommandQueue>)newCommandQueue;
- (nullable id<MTLBuffer>)newBufferWithLength:(NSUInteger)length
                                      options:(MTLResourceOptions)options;
- (nullable id<MTLLibrary>)newLibraryWithSource:(NSString *)source
                                        options:(nullable MTLCompileOptions *)options
                                          error:(__autoreleasing NSError **)error;
- (nullable id<MTLComputePipelineState>)
    newComputePipelineStateWithDescriptor:(MTLComputePipelineDescriptor *)descriptor
                                  options:(MTLPipelineOption)options
                               reflection:
                                   (MTLAutoreleasedComputePipelineReflection *__nullable)reflection
                                    error:(__autoreleasing NSError **)error
    API_AVAILABLE(macos(10.11));
- (nullable id<MTLBinaryArchive>)newBinaryArchiveWithDescriptor:
                                     (MTLBinaryArchiveDescriptor *)descriptor
                                                          error:(__autoreleasing NSError **)error
    API_AVAILABLE(macos(11.0));
@end

NS_ASSUME_NONNULL_END

#endif
