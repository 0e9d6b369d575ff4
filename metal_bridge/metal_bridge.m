/*
 * metal_bridge.m — the Metal implementation of metal_bridge.h (Objective-C, ARC, Metal.framework).
 *
 * Build on macOS (ffi/ does this; flags that matter: ARC, and ARC-safe exceptions so that an
 * exception caught at the edge does not leak what was in flight):
 *   xcrun clang -O2 -dynamiclib -fobjc-arc -fobjc-arc-exceptions -mmacosx-version-min=13.0 \
 *     -framework Metal -framework Foundation metal_bridge/metal_bridge.m -o libmetal_bridge.dylib
 *
 * Type-check on Linux against the declaration-only SDK in apple_sdk/ (apple_sdk/README.md; run
 * by tests/bridge_typecheck_test.ts once per simulated SDK, MB_APPLE_SDK_VERSION=14, 15, 26).
 * -Werror makes warnings that matter here fatal: unguarded use of an API newer than macOS 13
 * (-Wunguarded-availability-new), format strings, implicit conversions between incompatible types.
 *   clang-19 -target arm64-apple-macosx13.0 -fsyntax-only -fobjc-arc -fobjc-arc-exceptions \
 *     -fblocks -ffreestanding -nostdinc -isystem "$(clang-19 -print-resource-dir)/include" \
 *     -isystem metal_bridge/apple_sdk -DMB_APPLE_SDK_VERSION=15 -Wall -Wextra \
 *     -Wno-unused-parameter -Werror metal_bridge/metal_bridge.m
 *
 * SDK versions: the bridge builds with the macOS 14, 15 and 26 SDKs. A name that only a newer
 * SDK declares appears either behind `#if __MAC_OS_X_VERSION_MAX_ALLOWED >= ...` or as its raw
 * value inside an `@available` block (`@available` guards at run time and declares nothing).
 *
 * Design
 * - Every handle is an Objective-C object (MBDevice, MBLibrary, ...) handed to C with
 *   `__bridge_retained` (the caller's one reference) and taken back by its release function
 *   with `__bridge_transfer`. This is the conventional ARC way to pass object ownership through
 *   a C API: ARC forbids `__strong` object fields in calloc'd C structs because it cannot see
 *   their lifetime, while ivars of an object are retained and released by ARC itself.
 *   Internal references (an encoder's command buffer, a command buffer's pipelines and
 *   buffers) are ordinary strong references, so an object lives while anything uses it.
 * - Every entry point that can create autoreleased objects runs in an @autoreleasepool (FFI
 *   threads have no pool of their own) and catches Objective-C exceptions: they become
 *   MB_ERR_INTERNAL (or, for the void set_* calls, the error the next dispatch returns).
 *   Plain getters (names, limits, contents) only read fields fixed at creation.
 *   NSError results become statuses with the error's localizedDescription.
 * - No C library: the few byte operations use clang builtins, so the .m needs only the
 *   header's <stddef.h>/<stdint.h> and Foundation/Metal.
 */

#import <Foundation/Foundation.h>
#import <Metal/Metal.h>

#include "metal_bridge.h"

/* Limits of the ABI (metal_bridge.h): [[buffer(i)]] / [[threadgroup(i)]] indices, set_bytes size. */
#define MB_MAX_BINDINGS 31u
#define MB_MAX_SET_BYTES 4096u

/* ---- Objects behind the handles ------------------------------------------------------------- */

@interface MBError : NSObject {
 @public
  mb_status _code;
  NSData *_message; /* UTF-8 bytes with a trailing NUL */
}
@end
@implementation MBError
@end

@interface MBDevice : NSObject {
 @public
  id<MTLDevice> _device;
  id<MTLCommandQueue> _queue; /* one queue per device: command buffers run in commit order */
  NSData *_name;              /* UTF-8 with NUL, for mb_device_name */
  NSString *_cacheDir;        /* config cache_dir */
  /* The persistent pipeline cache (mb_device_create in metal_bridge.h): nil without cache_dir
   * or when it cannot be opened. _archiveLock guards the three fields after it. */
  id<MTLBinaryArchive> _archive;
  NSString *_archivePath;
  NSCondition *_archiveLock;
  NSUInteger _archiveAdditions; /* pipelines added since the last write */
  NSUInteger _archiveWrites;    /* names each write's temporary file */
  uint32_t _capabilities;
  uint64_t _maxThreadgroupMemory;
  MTLSize _maxThreadsPerThreadgroup;
  BOOL _nonUniformThreadgroups; /* dispatchThreads: needs Apple4+ or Mac2 */
}
@end
static void mb_archive_write(MBDevice *device);

@implementation MBDevice
- (void)dealloc {
  mb_archive_write(self); /* the last reference: pipelines hold their device */
}
@end

@interface MBLibrary : NSObject {
 @public
  MBDevice *_device;
  id<MTLLibrary> _library;
  NSString *_sourceName;
}
@end
@implementation MBLibrary
@end

@interface MBPipeline : NSObject {
 @public
  MBDevice *_device;
  id<MTLComputePipelineState> _state;
  uint32_t _origin; /* MB_ORIGIN_CACHE: found in the device's binary archive */
  NSString *_label; /* the given label, else the function name: used in messages */
  uint32_t _maxTotalThreads;
  uint32_t _executionWidth;
  uint64_t _staticThreadgroupMemory;
}
@end
@implementation MBPipeline
@end

@interface MBBuffer : NSObject {
 @public
  id<MTLBuffer> _buffer;
  void *_contents;
  uint64_t _length;
}
@end
@implementation MBBuffer
@end

/*
 * Completion state of one command buffer, shared with its completed handler. The handler
 * captures this object, not the MBCommandBuffer, so there is no retain cycle through the
 * MTLCommandBuffer (which keeps the handler block until it is done with it).
 */
@interface MBCompletion : NSObject {
 @public
  NSCondition *_condition;  /* guards every field below */
  BOOL _committed;
  BOOL _completed;
  NSMutableArray *_retained; /* MBPipeline / MBBuffer objects encoded; emptied on completion */
}
- (void)retainObject:(id)object;
- (void)markCompleted;
@end

@implementation MBCompletion
- (instancetype)init {
  self = [super init];
  if (self) {
    _condition = [NSCondition new];
    _retained = [NSMutableArray new];
  }
  return self;
}

- (void)retainObject:(id)object {
  [_condition lock];
  [_retained addObject:object];
  [_condition unlock];
}

- (void)markCompleted {
  NSMutableArray *released;
  [_condition lock];
  _completed = YES;
  released = _retained;
  _retained = [NSMutableArray new];
  [_condition broadcast];
  [_condition unlock];
  /* Dropped outside the lock, so deallocations never run while holding it. */
  [released removeAllObjects];
}
@end

@interface MBCommandBuffer : NSObject {
 @public
  MBDevice *_device;
  id<MTLCommandBuffer> _commandBuffer;
  MBCompletion *_completion;
  BOOL _encoderOpen; /* used by the one thread that encodes (header: one thread at a time) */
}
@end
@implementation MBCommandBuffer
@end

@interface MBEncoder : NSObject {
 @public
  MBCommandBuffer *_owner; /* keeps the command buffer alive while encoding */
  id<MTLComputeCommandEncoder> _encoder;
  MBPipeline *_pipeline;
  BOOL _ended;
  NSString *_pendingError; /* first bad set_* argument since the last dispatch, or nil */
  uint64_t _threadgroupMemory[MB_MAX_BINDINGS];
}
@end

@implementation MBEncoder
- (void)dealloc {
  /* Metal treats an encoder released without endEncoding as a programming error. */
  if (!_ended && _encoder != nil) {
    @try {
      [_encoder endEncoding];
    } @catch (id exception) {
    }
  }
}
@end

/* ---- Handles <-> objects -------------------------------------------------------------------- */

/* The caller's reference (create), a borrowed view (use), and taking the reference back (release). */
#define MB_HANDLE(type, object) ((type *)(__bridge_retained void *)(object))
#define MB_BORROW(cls, handle) ((__bridge cls *)(void *)(handle))
#define MB_TAKE(cls, handle) ((__bridge_transfer cls *)(void *)(handle))
#define MB_RELEASE(cls, handle) ((void)MB_TAKE(cls, handle)) /* ARC drops the +1 at once */

/* ---- Errors --------------------------------------------------------------------------------- */

static NSData *mb_c_string(NSString *text) {
  const char *utf8 = text.UTF8String;
  if (utf8 == NULL) utf8 = "(message not representable as UTF-8)";
  return [NSData dataWithBytes:utf8 length:__builtin_strlen(utf8) + 1];
}

/* Writes an error to *out_error (when given) and returns its code. */
static mb_status mb_fail(mb_error **out_error, mb_status code, NSString *message) {
  if (out_error != NULL) {
    MBError *error = [MBError new];
    error->_code = code;
    error->_message = mb_c_string(message);
    *out_error = MB_HANDLE(mb_error, error);
  }
  return code;
}

static mb_status mb_fail_exception(mb_error **out_error, id exception) {
  NSString *text;
  if ([exception isKindOfClass:[NSException class]]) {
    NSException *e = exception;
    text = [NSString stringWithFormat:@"Objective-C exception %@: %@", e.name, e.reason ?: @"(no reason)"];
  } else {
    text = @"Objective-C exception of an unknown kind";
  }
  return mb_fail(out_error, MB_ERR_INTERNAL, text);
}

static NSString *mb_string(const char *text) {
  if (text == NULL) return nil;
  return [NSString stringWithUTF8String:text];
}

/* ---- Version and errors --------------------------------------------------------------------- */

MB_API uint32_t mb_abi_version(void) { return MB_ABI_VERSION; }

MB_API const char *mb_backend_name(void) { return "metal"; }

MB_API const char *mb_status_name(mb_status status) {
  switch (status) {
    case MB_OK: return "MB_OK";
    case MB_ERR_INVALID_ARG: return "MB_ERR_INVALID_ARG";
    case MB_ERR_NOT_FOUND: return "MB_ERR_NOT_FOUND";
    case MB_ERR_COMPILE: return "MB_ERR_COMPILE";
    case MB_ERR_OOM: return "MB_ERR_OOM";
    case MB_ERR_UNSUPPORTED: return "MB_ERR_UNSUPPORTED";
    case MB_ERR_EXECUTION: return "MB_ERR_EXECUTION";
    case MB_ERR_LIMIT: return "MB_ERR_LIMIT";
    case MB_ERR_INTERNAL: return "MB_ERR_INTERNAL";
    default: return "MB_UNKNOWN";
  }
}

MB_API mb_status mb_error_code(const mb_error *error) {
  if (error == NULL) return MB_ERR_INVALID_ARG;
  return MB_BORROW(MBError, error)->_code;
}

MB_API const char *mb_error_message(const mb_error *error) {
  if (error == NULL) return "";
  return (const char *)MB_BORROW(MBError, error)->_message.bytes;
}

MB_API void mb_error_free(mb_error *error) {
  if (error == NULL) return;
  @autoreleasepool {
    MB_RELEASE(MBError, error);
  }
}

/* ---- Text helpers (config and macro lines) -------------------------------------------------- */

static BOOL mb_is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Calls `visit` with each line of `text` (split at '\n'), trimmed of blanks; skips empty lines. */
static void mb_each_line(const char *text, void (^visit)(const char *line, size_t length)) {
  if (text == NULL) return;
  const char *p = text;
  while (*p != '\0') {
    const char *end = p;
    while (*end != '\0' && *end != '\n') end++;
    const char *a = p, *b = end;
    while (a < b && mb_is_space(*a)) a++;
    while (b > a && mb_is_space(b[-1])) b--;
    if (b > a) visit(a, (size_t)(b - a));
    p = (*end == '\n') ? end + 1 : end;
  }
}

/* Splits "KEY=VALUE" (or "KEY") into trimmed strings; value is nil without '='. */
static void mb_split_pair(const char *line, size_t length, NSString **key, NSString **value) {
  size_t eq = 0;
  while (eq < length && line[eq] != '=') eq++;
  size_t kend = eq;
  while (kend > 0 && mb_is_space(line[kend - 1])) kend--;
  *key = [[NSString alloc] initWithBytes:line length:kend encoding:NSUTF8StringEncoding];
  *value = nil;
  if (eq < length) {
    size_t vstart = eq + 1;
    while (vstart < length && mb_is_space(line[vstart])) vstart++;
    *value = [[NSString alloc] initWithBytes:line + vstart
                                      length:length - vstart
                                    encoding:NSUTF8StringEncoding];
  }
}

static BOOL mb_is_identifier(NSString *name) {
  const char *s = name.UTF8String;
  if (s == NULL || *s == '\0') return NO;
  for (const char *p = s; *p != '\0'; p++) {
    char c = *p;
    BOOL alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    BOOL digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && p != s)) return NO;
  }
  return YES;
}

/* A decimal integer that fits in long long ("-12", "42"), else NO. */
static BOOL mb_parse_integer(NSString *text, long long *out) {
  const char *s = text.UTF8String;
  if (s == NULL) return NO;
  BOOL negative = (*s == '-');
  if (negative) s++;
  if (*s == '\0') return NO;
  unsigned long long magnitude = 0;
  for (; *s != '\0'; s++) {
    if (*s < '0' || *s > '9') return NO;
    unsigned long long digit = (unsigned long long)(*s - '0');
    if (magnitude > (9223372036854775808ull - digit) / 10) return NO;
    magnitude = magnitude * 10 + digit;
  }
  if (!negative && magnitude > 9223372036854775807ull) return NO;
  *out = negative ? (long long)(0 - magnitude) : (long long)magnitude;
  return YES;
}

/* ---- Device --------------------------------------------------------------------------------- */

/*
 * Capability bits, truthful and conservative: a bit is set only when both the OS (the MSL
 * version that introduced the feature) and the GPU family are known to support it.
 */
static uint32_t mb_capabilities(id<MTLDevice> device) {
  uint32_t caps = 0;
  /* bfloat is MSL 3.1 (macOS 14); Apple documents it for Apple6 and later GPUs. */
  if (@available(macOS 14.0, *)) {
    if ([device supportsFamily:MTLGPUFamilyApple6]) caps |= MB_CAP_BFLOAT16;
  }
  /* simdgroup_matrix 8x8: Apple7 (M1) and later. */
  if ([device supportsFamily:MTLGPUFamilyApple7]) caps |= MB_CAP_SIMDGROUP_MATRIX;
  /* Tensor ops (MetalPerformancePrimitives) are Metal 4 / MSL 4.0, macOS 26. We also require
   * Apple9, the oldest family we are confident runs them well; widen once measured. */
  if (@available(macOS 26.0, *)) {
    /* MTLGPUFamilyMetal4 (5002) is declared only by the macOS 26 SDK: the raw value keeps this
     * building with the macOS 14 and 15 SDKs, and @available keeps it from older systems. */
    if ([device supportsFamily:(MTLGPUFamily)5002] && [device supportsFamily:MTLGPUFamilyApple9]) {
      caps |= MB_CAP_TENSOR_API;
    }
  }
  if (device.hasUnifiedMemory) caps |= MB_CAP_UNIFIED_MEMORY;
  return caps;
}

/* ---- Persistent pipeline cache (MTLBinaryArchive) ------------------------------------------- */

#define MB_ARCHIVE_WRITE_EVERY 16u /* additions between writes (and on device release) */
#define MB_DEFAULT_CACHE_MAX_MB 512

/* Letters, digits, '.' and '-' of `text`, others as '_': a file name part. */
static NSString *mb_file_part(NSString *text) {
  const char *s = text.UTF8String ?: "";
  NSMutableString *out = [NSMutableString new];
  for (; *s != '\0'; s++) {
    char c = *s;
    BOOL keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
    [out appendFormat:@"%c", keep ? c : '_'];
  }
  return out;
}

/* Opens (or starts) the archive of this device and OS build under <cache_dir>/metal-archives/.
 * A file Metal cannot read (truncated, corrupt, another OS's) or one over the byte budget is
 * deleted and a new empty archive started: the cache is rebuilt, never fatal. */
static void mb_archive_open(MBDevice *device, long long maxMegabytes) {
  if (device->_cacheDir == nil) return;
  NSFileManager *files = NSFileManager.defaultManager;
  NSString *dir = [device->_cacheDir stringByAppendingPathComponent:@"metal-archives"];
  if (![files createDirectoryAtPath:dir withIntermediateDirectories:YES attributes:nil error:NULL]) return;
  NSString *name = [NSString stringWithFormat:@"%@-%@.metallib", mb_file_part(device->_device.name),
                                              mb_file_part(NSProcessInfo.processInfo.operatingSystemVersionString)];
  NSString *path = [dir stringByAppendingPathComponent:name];
  unsigned long long budget = (unsigned long long)maxMegabytes * 1024ull * 1024ull;
  NSDictionary<NSFileAttributeKey, id> *attributes = [files attributesOfItemAtPath:path error:NULL];
  if (attributes != nil && attributes.fileSize > budget) [files removeItemAtPath:path error:NULL];

  MTLBinaryArchiveDescriptor *descriptor = [MTLBinaryArchiveDescriptor new];
  id<MTLBinaryArchive> archive = nil;
  if ([files fileExistsAtPath:path]) {
    descriptor.url = [NSURL fileURLWithPath:path];
    archive = [device->_device newBinaryArchiveWithDescriptor:descriptor error:NULL];
    if (archive == nil) [files removeItemAtPath:path error:NULL];
  }
  if (archive == nil) {
    descriptor.url = nil;
    archive = [device->_device newBinaryArchiveWithDescriptor:descriptor error:NULL];
  }
  if (archive == nil) return;
  archive.label = @"metal-compute pipeline cache";
  device->_archive = archive;
  device->_archivePath = path;
  device->_archiveLock = [NSCondition new];
}

/* Writes the archive if it has additions: serialised to a private file, then moved into place
 * with an atomic write, so readers (other processes) see the old file or the new one. Two
 * processes writing at once: the last one's archive wins, which is still a valid cache. */
static void mb_archive_write_locked(MBDevice *device) {
  if (device->_archive == nil || device->_archiveAdditions == 0) return;
  NSFileManager *files = NSFileManager.defaultManager;
  NSString *temporary = [NSString stringWithFormat:@"%@.tmp-%d-%lu", device->_archivePath,
                                                   NSProcessInfo.processInfo.processIdentifier,
                                                   (unsigned long)device->_archiveWrites++];
  if ([device->_archive serializeToURL:[NSURL fileURLWithPath:temporary] error:NULL]) {
    NSData *bytes = [NSData dataWithContentsOfFile:temporary];
    if (bytes != nil && [bytes writeToFile:device->_archivePath options:NSDataWritingAtomic error:NULL]) {
      device->_archiveAdditions = 0;
    }
  }
  [files removeItemAtPath:temporary error:NULL];
}

static void mb_archive_write(MBDevice *device) {
  if (device->_archive == nil) return;
  @autoreleasepool {
    @try {
      [device->_archiveLock lock];
      mb_archive_write_locked(device);
    } @catch (id exception) {
      /* a cache write is best effort */
    } @finally {
      [device->_archiveLock unlock];
    }
  }
}

/* Adds a pipeline Metal had to compile, and writes the archive every few additions. */
static void mb_archive_add(MBDevice *device, MTLComputePipelineDescriptor *descriptor) {
  if (device->_archive == nil) return;
  [device->_archiveLock lock];
  @try {
    if ([device->_archive addComputePipelineFunctionsWithDescriptor:descriptor error:NULL]) {
      if (++device->_archiveAdditions >= MB_ARCHIVE_WRITE_EVERY) mb_archive_write_locked(device);
    }
  } @finally {
    [device->_archiveLock unlock];
  }
}

static mb_status mb_device_create_impl(const char *config, mb_device **out_device, mb_error **out_error) {
  if (out_device == NULL) return mb_fail(out_error, MB_ERR_INVALID_ARG, @"mb_device_create: out_device is NULL");
  *out_device = NULL;

  id<MTLDevice> device = MTLCreateSystemDefaultDevice();
  if (device == nil) {
    return mb_fail(out_error, MB_ERR_UNSUPPORTED, @"No Metal device: MTLCreateSystemDefaultDevice returned nil");
  }
  id<MTLCommandQueue> queue = [device newCommandQueue];
  if (queue == nil) return mb_fail(out_error, MB_ERR_INTERNAL, @"Cannot create a Metal command queue");

  MBDevice *result = [MBDevice new];
  result->_device = device;
  result->_queue = queue;
  result->_name = mb_c_string(device.name ?: @"Apple GPU");
  result->_capabilities = mb_capabilities(device);
  result->_maxThreadgroupMemory = device.maxThreadgroupMemoryLength;
  result->_maxThreadsPerThreadgroup = device.maxThreadsPerThreadgroup;
  result->_nonUniformThreadgroups =
      [device supportsFamily:MTLGPUFamilyApple4] || [device supportsFamily:MTLGPUFamilyMac2];

  /* Keys: cache_dir and cache_max_mb (the binary archive); workers and checked are CPU-only. */
  __block NSString *cacheDir = nil;
  __block long long maxMegabytes = [NSProcessInfo.processInfo.environment objectForKey:@"METAL_COMPUTE_CACHE_MAX_MB"]
                                       .longLongValue;
  __block NSString *badBudget = nil;
  mb_each_line(config, ^(const char *line, size_t length) {
    NSString *key, *value;
    mb_split_pair(line, length, &key, &value);
    if (value != nil && [@"cache_dir" isEqual:key]) cacheDir = value;
    if (value != nil && [@"cache_max_mb" isEqual:key]) {
      maxMegabytes = value.longLongValue;
      if (maxMegabytes < 1) badBudget = value;
    }
  });
  if (badBudget != nil) {
    return mb_fail(out_error, MB_ERR_INVALID_ARG,
                   [NSString stringWithFormat:@"device config: cache_max_mb must be a positive integer, got \"%@\"", badBudget]);
  }
  result->_cacheDir = cacheDir;
  mb_archive_open(result, maxMegabytes > 0 ? maxMegabytes : MB_DEFAULT_CACHE_MAX_MB);

  *out_device = MB_HANDLE(mb_device, result);
  return MB_OK;
}

MB_API mb_status mb_device_create(const char *config, mb_device **out_device, mb_error **out_error) {
  @autoreleasepool {
    @try {
      return mb_device_create_impl(config, out_device, out_error);
    } @catch (id exception) {
      return mb_fail_exception(out_error, exception);
    }
  }
}

MB_API void mb_device_release(mb_device *device) {
  if (device == NULL) return;
  @autoreleasepool {
    MB_RELEASE(MBDevice, device);
  }
}

MB_API const char *mb_device_name(const mb_device *device) {
  if (device == NULL) return "";
  return (const char *)MB_BORROW(MBDevice, device)->_name.bytes;
}

MB_API uint32_t mb_device_capabilities(const mb_device *device) {
  return device == NULL ? 0 : MB_BORROW(MBDevice, device)->_capabilities;
}

MB_API uint64_t mb_device_max_threadgroup_memory(const mb_device *device) {
  return device == NULL ? 0 : MB_BORROW(MBDevice, device)->_maxThreadgroupMemory;
}

/* The largest threadgroup along x, which on Apple GPUs is also the total (1024). A pipeline
 * may allow fewer: see mb_pipeline_max_total_threads_per_threadgroup. */
MB_API uint32_t mb_device_max_threads_per_threadgroup(const mb_device *device) {
  if (device == NULL) return 0;
  NSUInteger width = MB_BORROW(MBDevice, device)->_maxThreadsPerThreadgroup.width;
  return width > UINT32_MAX ? UINT32_MAX : (uint32_t)width;
}

/* ---- Library -------------------------------------------------------------------------------- */

/* Metal names the source "program_source" in its log: put the caller's name there instead. */
static NSString *mb_map_log(NSString *log, NSString *sourceName) {
  if (log == nil) return @"(no compiler output)";
  NSString *name = [sourceName stringByAppendingString:@":"];
  return [log stringByReplacingOccurrencesOfString:@"program_source:" withString:name];
}

static mb_status mb_compile_options(int32_t mathMode, uint32_t languageVersion, const char *macros,
                                    MTLCompileOptions *options, mb_error **out_error) {
  /* Preprocessor macros: "NAME=VALUE" or "NAME" lines. Integer values go in as NSNumber,
   * others as NSString (Metal accepts both); "NAME" alone is 1, as with -DNAME. */
  NSMutableDictionary<NSString *, NSObject *> *defines = [NSMutableDictionary new];
  __block NSString *badLine = nil;
  mb_each_line(macros, ^(const char *line, size_t length) {
    NSString *key, *value;
    mb_split_pair(line, length, &key, &value);
    if (!mb_is_identifier(key)) {
      if (badLine == nil) {
        badLine = [[NSString alloc] initWithBytes:line length:length encoding:NSUTF8StringEncoding] ?: @"?";
      }
      return;
    }
    long long number = 1;
    if (value == nil || mb_parse_integer(value, &number)) {
      [defines setObject:[NSNumber numberWithLongLong:number] forKey:key];
    } else {
      [defines setObject:value forKey:key];
    }
  });
  if (badLine != nil) {
    return mb_fail(out_error, MB_ERR_INVALID_ARG,
                   [NSString stringWithFormat:@"Bad macro line \"%@\": expected NAME=VALUE or NAME", badLine]);
  }
  if (defines.count > 0) options.preprocessorMacros = defines;

  if (mathMode != MB_MATH_SAFE && mathMode != MB_MATH_RELAXED && mathMode != MB_MATH_FAST) {
    return mb_fail(out_error, MB_ERR_INVALID_ARG,
                   [NSString stringWithFormat:@"Unknown math mode %d (MB_MATH_SAFE, _RELAXED or _FAST)", mathMode]);
  }
  /* mathMode and MTLMathMode exist only in the macOS 15 SDK and later: a compile-time guard
   * for the SDK, @available for the system the library runs on. */
#if __MAC_OS_X_VERSION_MAX_ALLOWED >= 150000
  if (@available(macOS 15.0, *)) {
    options.mathMode = mathMode == MB_MATH_SAFE      ? MTLMathModeSafe
                       : mathMode == MB_MATH_RELAXED ? MTLMathModeRelaxed
                                                     : MTLMathModeFast;
  } else
#endif
  {
    /* Before macOS 15 there is only on/off: RELAXED falls back to safe math, since relaxed
     * code must not be given fast math's no-NaN/no-Inf assumptions. */
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wdeprecated-declarations"
    options.fastMathEnabled = (mathMode == MB_MATH_FAST);
#pragma clang diagnostic pop
  }

  if (languageVersion != 0) {
    MTLLanguageVersion version;
    BOOL known = YES, available = YES;
    switch (languageVersion) {
      case (1u << 16) + 1: version = MTLLanguageVersion1_1; break;
      case (1u << 16) + 2: version = MTLLanguageVersion1_2; break;
      case (2u << 16) + 0: version = MTLLanguageVersion2_0; break;
      case (2u << 16) + 1: version = MTLLanguageVersion2_1; break;
      case (2u << 16) + 2: version = MTLLanguageVersion2_2; break;
      case (2u << 16) + 3: version = MTLLanguageVersion2_3; break;
      case (2u << 16) + 4: version = MTLLanguageVersion2_4; break;
      case (3u << 16) + 0: version = MTLLanguageVersion3_0; break;
      case (3u << 16) + 1:
        if (@available(macOS 14.0, *)) version = MTLLanguageVersion3_1; else available = NO;
        break;
      /* 3.2 and 4.0 are declared only by the macOS 15 and 26 SDKs; MTLLanguageVersion values are
       * (major << 16) | minor, so the raw value builds with every SDK. */
      case (3u << 16) + 2:
        if (@available(macOS 15.0, *)) version = (MTLLanguageVersion)((3u << 16) + 2); else available = NO;
        break;
      case (4u << 16) + 0:
        if (@available(macOS 26.0, *)) version = (MTLLanguageVersion)((4u << 16) + 0); else available = NO;
        break;
      default: known = NO; break;
    }
    unsigned major = languageVersion >> 16, minor = languageVersion & 0xFFFFu;
    if (!known) {
      return mb_fail(out_error, MB_ERR_INVALID_ARG,
                     [NSString stringWithFormat:@"Unknown Metal language version %u.%u", major, minor]);
    }
    if (!available) {
      return mb_fail(out_error, MB_ERR_UNSUPPORTED,
                     [NSString stringWithFormat:@"Metal language version %u.%u needs a newer macOS", major, minor]);
    }
    options.languageVersion = version;
  }
  return MB_OK;
}

static mb_status mb_library_create_impl(mb_device *device, const char *source, size_t sourceLength,
                                        const char *sourceName, const char *macros, int32_t mathMode,
                                        uint32_t languageVersion, mb_library **out_library,
                                        mb_error **out_error) {
  if (out_library == NULL) return mb_fail(out_error, MB_ERR_INVALID_ARG, @"mb_library_create: out_library is NULL");
  *out_library = NULL;
  if (device == NULL) return mb_fail(out_error, MB_ERR_INVALID_ARG, @"mb_library_create: device is NULL");
  if (source == NULL && sourceLength > 0) {
    return mb_fail(out_error, MB_ERR_INVALID_ARG, @"mb_library_create: source is NULL");
  }
  MBDevice *owner = MB_BORROW(MBDevice, device);
  NSString *name = mb_string(sourceName) ?: @"program_source";
  NSString *text = [[NSString alloc] initWithBytes:(source ? source : "")
                                            length:sourceLength
                                          encoding:NSUTF8StringEncoding];
  if (text == nil) {
    return mb_fail(out_error, MB_ERR_INVALID_ARG,
                   [NSString stringWithFormat:@"Cannot compile \"%@\": the source is not valid UTF-8", name]);
  }

  MTLCompileOptions *options = [MTLCompileOptions new];
  mb_status status = mb_compile_options(mathMode, languageVersion, macros, options, out_error);
  if (status != MB_OK) return status;

  NSError *error = nil;
  id<MTLLibrary> library = [owner->_device newLibraryWithSource:text options:options error:&error];
  if (library == nil) {
    /* With a library, `error` may still hold warnings: those are not failures. */
    NSString *log = mb_map_log(error.localizedDescription, name);
    return mb_fail(out_error, MB_ERR_COMPILE, [NSString stringWithFormat:@"Cannot compile \"%@\":\n%@", name, log]);
  }

  MBLibrary *result = [MBLibrary new];
  result->_device = owner;
  result->_library = library;
  result->_sourceName = name;
  *out_library = MB_HANDLE(mb_library, result);
  return MB_OK;
}

MB_API mb_status mb_library_create(mb_device *device, const char *source, size_t source_length,
                                   const char *source_name, const char *macros, int32_t math_mode,
                                   uint32_t language_version, mb_library **out_library,
                                   mb_error **out_error) {
  @autoreleasepool {
    @try {
      return mb_library_create_impl(device, source, source_length, source_name, macros, math_mode,
                                    language_version, out_library, out_error);
    } @catch (id exception) {
      return mb_fail_exception(out_error, exception);
    }
  }
}

MB_API void mb_library_release(mb_library *library) {
  if (library == NULL) return;
  @autoreleasepool {
    MB_RELEASE(MBLibrary, library);
  }
}

/* ---- Pipeline ------------------------------------------------------------------------------- */

static NSString *mb_data_type_name(MTLDataType type) {
  switch (type) {
    case MTLDataTypeBool: return @"bool";
    case MTLDataTypeInt: return @"int";
    case MTLDataTypeUInt: return @"uint";
    case MTLDataTypeFloat: return @"float";
    case MTLDataTypeHalf: return @"half";
    default: return [NSString stringWithFormat:@"MTLDataType %lu", (unsigned long)type];
  }
}

/* MB_CONSTANT_* -> MTLDataType, or MTLDataTypeNone for an unknown tag. */
static MTLDataType mb_constant_type(uint32_t tag) {
  switch (tag) {
    case MB_CONSTANT_BOOL: return MTLDataTypeBool;
    case MB_CONSTANT_INT: return MTLDataTypeInt;
    case MB_CONSTANT_UINT: return MTLDataTypeUInt;
    case MB_CONSTANT_FLOAT: return MTLDataTypeFloat;
    case MB_CONSTANT_HALF: return MTLDataTypeHalf;
    default: return MTLDataTypeNone;
  }
}

/* "name [[function_constant(3)]] (bool)" for messages. */
static NSString *mb_describe_constant(MTLFunctionConstant *constant) {
  return [NSString stringWithFormat:@"'%@' [[function_constant(%lu)]] (%@%@)", constant.name,
                                    (unsigned long)constant.index, mb_data_type_name(constant.type),
                                    constant.required ? @", required" : @""];
}

/*
 * Checks the given constants against the function's declarations and, when the function has
 * any, fills `values`. Errors name the constant and the kernel.
 */
static mb_status mb_check_constants(id<MTLFunction> function, NSString *kernel, const uint32_t *constants,
                                    uint32_t count, MTLFunctionConstantValues *values, mb_error **out_error) {
  NSArray<MTLFunctionConstant *> *declared = function.functionConstantsDictionary.allValues;
  NSUInteger declaredCount = declared.count;

  for (uint32_t i = 0; i < count; i++) {
    uint32_t index = constants[3 * i], tag = constants[3 * i + 1], bits = constants[3 * i + 2];
    for (uint32_t j = 0; j < i; j++) {
      if (constants[3 * j] == index) {
        return mb_fail(out_error, MB_ERR_INVALID_ARG,
                       [NSString stringWithFormat:@"Kernel \"%@\": function constant %u is given twice", kernel, index]);
      }
    }
    MTLDataType type = mb_constant_type(tag);
    if (type == MTLDataTypeNone) {
      return mb_fail(out_error, MB_ERR_INVALID_ARG,
                     [NSString stringWithFormat:@"Kernel \"%@\": function constant %u has unknown type tag %u",
                                                kernel, index, tag]);
    }
    MTLFunctionConstant *match = nil;
    for (NSUInteger k = 0; k < declaredCount; k++) {
      MTLFunctionConstant *candidate = [declared objectAtIndex:k];
      if (candidate.index == index) match = candidate;
    }
    if (match == nil) {
      NSMutableString *list = [NSMutableString new];
      for (NSUInteger k = 0; k < declaredCount; k++) {
        [list appendFormat:@"%@%@", k == 0 ? @"" : @", ", mb_describe_constant([declared objectAtIndex:k])];
      }
      return mb_fail(out_error, MB_ERR_INVALID_ARG,
                     [NSString stringWithFormat:@"Kernel \"%@\" declares no function constant at index %u (declared: %@)",
                                                kernel, index, declaredCount ? list : @"none"]);
    }
    if (match.type != type) {
      return mb_fail(out_error, MB_ERR_INVALID_ARG,
                     [NSString stringWithFormat:@"Kernel \"%@\": function constant %@ was given a value of type %@", kernel,
                                                mb_describe_constant(match), mb_data_type_name(type)]);
    }
    if (type == MTLDataTypeBool && bits > 1) {
      return mb_fail(out_error, MB_ERR_INVALID_ARG,
                     [NSString stringWithFormat:@"Kernel \"%@\": bool function constant %@ must be 0 or 1, got %u",
                                                kernel, mb_describe_constant(match), bits]);
    }
    /* setConstantValue: copies the value; each type is passed at its own size. */
    if (type == MTLDataTypeBool) {
      uint8_t value = bits != 0; /* MTLDataTypeBool is one byte */
      [values setConstantValue:&value type:type atIndex:index];
    } else if (type == MTLDataTypeHalf) {
      uint16_t value = (uint16_t)(bits & 0xFFFFu);
      [values setConstantValue:&value type:type atIndex:index];
    } else {
      uint32_t value = bits; /* int, uint and float: the 32 bits as given */
      [values setConstantValue:&value type:type atIndex:index];
    }
  }

  for (NSUInteger k = 0; k < declaredCount; k++) {
    MTLFunctionConstant *constant = [declared objectAtIndex:k];
    if (!constant.required) continue;
    BOOL given = NO;
    for (uint32_t i = 0; i < count; i++) {
      if (constants[3 * i] == constant.index) given = YES;
    }
    if (!given) {
      return mb_fail(out_error, MB_ERR_INVALID_ARG,
                     [NSString stringWithFormat:@"Kernel \"%@\": required function constant %@ is missing", kernel,
                                                mb_describe_constant(constant)]);
    }
  }
  return MB_OK;
}

static mb_status mb_pipeline_create_impl(mb_library *library, const char *functionName, const uint32_t *constants,
                                         uint32_t constantCount, const char *label, mb_pipeline **out_pipeline,
                                         mb_error **out_error) {
  if (out_pipeline == NULL) return mb_fail(out_error, MB_ERR_INVALID_ARG, @"mb_pipeline_create: out_pipeline is NULL");
  *out_pipeline = NULL;
  if (library == NULL) return mb_fail(out_error, MB_ERR_INVALID_ARG, @"mb_pipeline_create: library is NULL");
  if (constantCount > 0 && constants == NULL) {
    return mb_fail(out_error, MB_ERR_INVALID_ARG, @"mb_pipeline_create: constants is NULL");
  }
  NSString *kernel = mb_string(functionName);
  if (kernel == nil) return mb_fail(out_error, MB_ERR_INVALID_ARG, @"mb_pipeline_create: function_name is NULL or not UTF-8");
  MBLibrary *lib = MB_BORROW(MBLibrary, library);

  /* The unspecialised function: its functionConstantsDictionary says what may be given. */
  id<MTLFunction> base = [lib->_library newFunctionWithName:kernel];
  if (base == nil || base.functionType != MTLFunctionTypeKernel) {
    NSArray<NSString *> *names = [lib->_library.functionNames sortedArrayUsingSelector:@selector(compare:)];
    return mb_fail(out_error, MB_ERR_NOT_FOUND,
                   [NSString stringWithFormat:@"No kernel \"%@\" in \"%@\"%@ (functions: %@)", kernel, lib->_sourceName,
                                              base == nil ? @"" : @": it is not a kernel function",
                                              names.count ? [names componentsJoinedByString:@", "] : @"none"]);
  }

  id<MTLFunction> function = base;
  if (base.functionConstantsDictionary.count > 0 || constantCount > 0) {
    MTLFunctionConstantValues *values = [MTLFunctionConstantValues new];
    mb_status status = mb_check_constants(base, kernel, constants, constantCount, values, out_error);
    if (status != MB_OK) return status;
    NSError *error = nil;
    function = [lib->_library newFunctionWithName:kernel constantValues:values error:&error];
    if (function == nil) {
      return mb_fail(out_error, MB_ERR_COMPILE,
                     [NSString stringWithFormat:@"Cannot specialise kernel \"%@\" of \"%@\":\n%@", kernel, lib->_sourceName,
                                                mb_map_log(error.localizedDescription, lib->_sourceName)]);
    }
  }

  NSString *pipelineLabel = mb_string(label) ?: kernel;
  MTLComputePipelineDescriptor *descriptor = [MTLComputePipelineDescriptor new];
  descriptor.label = pipelineLabel;
  descriptor.computeFunction = function;
  NSError *error = nil;
  MBDevice *device = lib->_device;
  id<MTLComputePipelineState> state = nil;
  uint32_t origin = MB_ORIGIN_COMPILED;
  if (device->_archive != nil) {
    /* Ask the archive alone first: a hit is Metal's word that no compile ran. */
    descriptor.binaryArchives = @[ device->_archive ];
    state = [device->_device newComputePipelineStateWithDescriptor:descriptor
                                                           options:MTLPipelineOptionFailOnBinaryArchiveMiss
                                                        reflection:NULL
                                                             error:NULL];
    if (state != nil) origin = MB_ORIGIN_CACHE;
  }
  if (state == nil) {
    state = [device->_device newComputePipelineStateWithDescriptor:descriptor
                                                           options:MTLPipelineOptionNone
                                                        reflection:NULL
                                                             error:&error];
    if (state != nil) mb_archive_add(device, descriptor);
  }
  if (state == nil) {
    return mb_fail(out_error, MB_ERR_COMPILE,
                   [NSString stringWithFormat:@"Cannot build a compute pipeline for kernel \"%@\" of \"%@\":\n%@", kernel,
                                              lib->_sourceName, mb_map_log(error.localizedDescription, lib->_sourceName)]);
  }

  MBPipeline *result = [MBPipeline new];
  result->_device = lib->_device;
  result->_state = state;
  result->_origin = origin;
  result->_label = pipelineLabel;
  NSUInteger maxThreads = state.maxTotalThreadsPerThreadgroup, width = state.threadExecutionWidth;
  result->_maxTotalThreads = maxThreads > UINT32_MAX ? UINT32_MAX : (uint32_t)maxThreads;
  result->_executionWidth = width > UINT32_MAX ? UINT32_MAX : (uint32_t)width;
  result->_staticThreadgroupMemory = state.staticThreadgroupMemoryLength;
  *out_pipeline = MB_HANDLE(mb_pipeline, result);
  return MB_OK;
}

MB_API mb_status mb_pipeline_create(mb_library *library, const char *function_name, const uint32_t *constants,
                                    uint32_t constant_count, const char *label, mb_pipeline **out_pipeline,
                                    mb_error **out_error) {
  @autoreleasepool {
    @try {
      return mb_pipeline_create_impl(library, function_name, constants, constant_count, label, out_pipeline,
                                     out_error);
    } @catch (id exception) {
      return mb_fail_exception(out_error, exception);
    }
  }
}

MB_API void mb_pipeline_release(mb_pipeline *pipeline) {
  if (pipeline == NULL) return;
  @autoreleasepool {
    MB_RELEASE(MBPipeline, pipeline);
  }
}

MB_API uint32_t mb_pipeline_origin(const mb_pipeline *pipeline) {
  return pipeline == NULL ? MB_ORIGIN_COMPILED : MB_BORROW(MBPipeline, pipeline)->_origin;
}

MB_API uint32_t mb_pipeline_max_total_threads_per_threadgroup(const mb_pipeline *pipeline) {
  return pipeline == NULL ? 0 : MB_BORROW(MBPipeline, pipeline)->_maxTotalThreads;
}

MB_API uint32_t mb_pipeline_thread_execution_width(const mb_pipeline *pipeline) {
  return pipeline == NULL ? 0 : MB_BORROW(MBPipeline, pipeline)->_executionWidth;
}

MB_API uint64_t mb_pipeline_static_threadgroup_memory_length(const mb_pipeline *pipeline) {
  return pipeline == NULL ? 0 : MB_BORROW(MBPipeline, pipeline)->_staticThreadgroupMemory;
}

/* ---- Buffer --------------------------------------------------------------------------------- */

static mb_status mb_buffer_create_impl(mb_device *device, uint64_t length, mb_buffer **out_buffer,
                                       mb_error **out_error) {
  if (out_buffer == NULL) return mb_fail(out_error, MB_ERR_INVALID_ARG, @"mb_buffer_create: out_buffer is NULL");
  *out_buffer = NULL;
  if (device == NULL) return mb_fail(out_error, MB_ERR_INVALID_ARG, @"mb_buffer_create: device is NULL");
  if (length == 0) return mb_fail(out_error, MB_ERR_INVALID_ARG, @"mb_buffer_create: length must be > 0");
  MBDevice *owner = MB_BORROW(MBDevice, device);
  NSUInteger maxLength = owner->_device.maxBufferLength;
  if (length > maxLength) {
    return mb_fail(out_error, MB_ERR_LIMIT,
                   [NSString stringWithFormat:@"Buffer of %llu bytes exceeds the device maximum of %lu bytes",
                                              (unsigned long long)length, (unsigned long)maxLength]);
  }
  id<MTLBuffer> buffer = [owner->_device newBufferWithLength:(NSUInteger)length options:MTLResourceStorageModeShared];
  if (buffer == nil) {
    return mb_fail(out_error, MB_ERR_OOM,
                   [NSString stringWithFormat:@"Cannot allocate a buffer of %llu bytes", (unsigned long long)length]);
  }
  MBBuffer *result = [MBBuffer new];
  result->_buffer = buffer;
  result->_contents = [buffer contents];
  result->_length = length;
  /* The ABI promises zeros; Metal documents no zero-fill for newBufferWithLength:. */
  __builtin_memset(result->_contents, 0, (size_t)length);
  *out_buffer = MB_HANDLE(mb_buffer, result);
  return MB_OK;
}

MB_API mb_status mb_buffer_create(mb_device *device, uint64_t length, mb_buffer **out_buffer, mb_error **out_error) {
  @autoreleasepool {
    @try {
      return mb_buffer_create_impl(device, length, out_buffer, out_error);
    } @catch (id exception) {
      return mb_fail_exception(out_error, exception);
    }
  }
}

MB_API void mb_buffer_release(mb_buffer *buffer) {
  if (buffer == NULL) return;
  @autoreleasepool {
    MB_RELEASE(MBBuffer, buffer);
  }
}

MB_API void *mb_buffer_contents(const mb_buffer *buffer) {
  return buffer == NULL ? NULL : MB_BORROW(MBBuffer, buffer)->_contents;
}

MB_API uint64_t mb_buffer_length(const mb_buffer *buffer) {
  return buffer == NULL ? 0 : MB_BORROW(MBBuffer, buffer)->_length;
}

/* ---- Command buffer ------------------------------------------------------------------------- */

static mb_status mb_command_buffer_create_impl(mb_device *device, mb_command_buffer **out_command_buffer,
                                               mb_error **out_error) {
  if (out_command_buffer == NULL) {
    return mb_fail(out_error, MB_ERR_INVALID_ARG, @"mb_command_buffer_create: out_command_buffer is NULL");
  }
  *out_command_buffer = NULL;
  if (device == NULL) return mb_fail(out_error, MB_ERR_INVALID_ARG, @"mb_command_buffer_create: device is NULL");
  MBDevice *owner = MB_BORROW(MBDevice, device);
  id<MTLCommandBuffer> commandBuffer = [owner->_queue commandBuffer];
  if (commandBuffer == nil) return mb_fail(out_error, MB_ERR_INTERNAL, @"Cannot create a Metal command buffer");
  MBCommandBuffer *result = [MBCommandBuffer new];
  result->_device = owner;
  result->_commandBuffer = commandBuffer;
  result->_completion = [MBCompletion new];
  *out_command_buffer = MB_HANDLE(mb_command_buffer, result);
  return MB_OK;
}

MB_API mb_status mb_command_buffer_create(mb_device *device, mb_command_buffer **out_command_buffer,
                                          mb_error **out_error) {
  @autoreleasepool {
    @try {
      return mb_command_buffer_create_impl(device, out_command_buffer, out_error);
    } @catch (id exception) {
      return mb_fail_exception(out_error, exception);
    }
  }
}

/* Releasing a committed command buffer is safe: the queued MTLCommandBuffer and its handler
 * keep the GPU work and the MBCompletion (with the retained pipelines and buffers) alive. */
MB_API void mb_command_buffer_release(mb_command_buffer *command_buffer) {
  if (command_buffer == NULL) return;
  @autoreleasepool {
    MB_RELEASE(MBCommandBuffer, command_buffer);
  }
}

/* ---- Compute encoder ------------------------------------------------------------------------ */

static mb_status mb_encoder_create_impl(mb_command_buffer *command_buffer, mb_encoder **out_encoder,
                                        mb_error **out_error) {
  if (out_encoder == NULL) return mb_fail(out_error, MB_ERR_INVALID_ARG, @"mb_encoder_create: out_encoder is NULL");
  *out_encoder = NULL;
  if (command_buffer == NULL) return mb_fail(out_error, MB_ERR_INVALID_ARG, @"mb_encoder_create: command_buffer is NULL");
  MBCommandBuffer *owner = MB_BORROW(MBCommandBuffer, command_buffer);
  MBCompletion *completion = owner->_completion;
  [completion->_condition lock];
  BOOL committed = completion->_committed;
  [completion->_condition unlock];
  if (committed) {
    return mb_fail(out_error, MB_ERR_INVALID_ARG, @"mb_encoder_create: the command buffer is already committed");
  }
  if (owner->_encoderOpen) {
    return mb_fail(out_error, MB_ERR_INVALID_ARG,
                   @"mb_encoder_create: the command buffer has an encoder that was not ended (mb_encoder_end)");
  }
  id<MTLComputeCommandEncoder> encoder = [owner->_commandBuffer computeCommandEncoder];
  if (encoder == nil) return mb_fail(out_error, MB_ERR_INTERNAL, @"Cannot create a Metal compute command encoder");
  MBEncoder *result = [MBEncoder new];
  result->_owner = owner;
  result->_encoder = encoder;
  owner->_encoderOpen = YES;
  *out_encoder = MB_HANDLE(mb_encoder, result);
  return MB_OK;
}

MB_API mb_status mb_encoder_create(mb_command_buffer *command_buffer, mb_encoder **out_encoder, mb_error **out_error) {
  @autoreleasepool {
    @try {
      return mb_encoder_create_impl(command_buffer, out_encoder, out_error);
    } @catch (id exception) {
      return mb_fail_exception(out_error, exception);
    }
  }
}

static void mb_encoder_finish(MBEncoder *encoder) {
  if (encoder->_ended) return;
  encoder->_ended = YES;
  encoder->_owner->_encoderOpen = NO;
  [encoder->_encoder endEncoding];
}

/* Ends the pass if the caller did not: Metal forbids dropping an encoder that is still open. */
MB_API void mb_encoder_release(mb_encoder *encoder) {
  if (encoder == NULL) return;
  @autoreleasepool {
    MBEncoder *taken = MB_TAKE(MBEncoder, encoder);
    @try {
      mb_encoder_finish(taken);
    } @catch (id exception) {
    }
    taken = nil;
  }
}

MB_API void mb_encoder_end(mb_encoder *encoder) {
  if (encoder == NULL) return;
  @autoreleasepool {
    @try {
      mb_encoder_finish(MB_BORROW(MBEncoder, encoder));
    } @catch (id exception) {
      MB_BORROW(MBEncoder, encoder)->_pendingError = @"endEncoding raised an Objective-C exception";
    }
  }
}

/* Records the first bad set_* argument; the next dispatch returns it (metal_bridge.h). */
static void mb_encoder_reject(MBEncoder *encoder, NSString *message) {
  if (encoder->_pendingError == nil) encoder->_pendingError = message;
}

static BOOL mb_encoder_usable(MBEncoder *encoder, const char *call) {
  if (!encoder->_ended) return YES;
  mb_encoder_reject(encoder, [NSString stringWithFormat:@"%s: the encoder has already ended", call]);
  return NO;
}

MB_API void mb_encoder_set_pipeline(mb_encoder *encoder, mb_pipeline *pipeline) {
  if (encoder == NULL) return;
  @autoreleasepool {
    MBEncoder *enc = MB_BORROW(MBEncoder, encoder);
    @try {
      if (!mb_encoder_usable(enc, "mb_encoder_set_pipeline")) return;
      if (pipeline == NULL) {
        mb_encoder_reject(enc, @"mb_encoder_set_pipeline: pipeline is NULL");
        return;
      }
      MBPipeline *p = MB_BORROW(MBPipeline, pipeline);
      [enc->_encoder setComputePipelineState:p->_state];
      enc->_pipeline = p;
      [enc->_owner->_completion retainObject:p];
    } @catch (id exception) {
      mb_encoder_reject(enc, @"mb_encoder_set_pipeline raised an Objective-C exception");
    }
  }
}

MB_API void mb_encoder_set_buffer(mb_encoder *encoder, mb_buffer *buffer, uint64_t offset, uint32_t index) {
  if (encoder == NULL) return;
  @autoreleasepool {
    MBEncoder *enc = MB_BORROW(MBEncoder, encoder);
    @try {
      if (!mb_encoder_usable(enc, "mb_encoder_set_buffer")) return;
      if (buffer == NULL) {
        mb_encoder_reject(enc, [NSString stringWithFormat:@"mb_encoder_set_buffer: buffer %u is NULL", index]);
        return;
      }
      MBBuffer *b = MB_BORROW(MBBuffer, buffer);
      if (index >= MB_MAX_BINDINGS) {
        mb_encoder_reject(enc, [NSString stringWithFormat:@"mb_encoder_set_buffer: index %u is not below %u", index,
                                                          MB_MAX_BINDINGS]);
        return;
      }
      if (offset > b->_length) {
        mb_encoder_reject(enc, [NSString stringWithFormat:@"mb_encoder_set_buffer: offset %llu is past the end of "
                                                          @"buffer %u (%llu bytes)",
                                                          (unsigned long long)offset, index,
                                                          (unsigned long long)b->_length]);
        return;
      }
      [enc->_encoder setBuffer:b->_buffer offset:(NSUInteger)offset atIndex:index];
      [enc->_owner->_completion retainObject:b];
    } @catch (id exception) {
      mb_encoder_reject(enc, @"mb_encoder_set_buffer raised an Objective-C exception");
    }
  }
}

MB_API void mb_encoder_set_bytes(mb_encoder *encoder, const void *bytes, uint64_t length, uint32_t index) {
  if (encoder == NULL) return;
  @autoreleasepool {
    MBEncoder *enc = MB_BORROW(MBEncoder, encoder);
    @try {
      if (!mb_encoder_usable(enc, "mb_encoder_set_bytes")) return;
      if (index >= MB_MAX_BINDINGS) {
        mb_encoder_reject(enc, [NSString stringWithFormat:@"mb_encoder_set_bytes: index %u is not below %u", index,
                                                          MB_MAX_BINDINGS]);
        return;
      }
      if (bytes == NULL || length == 0 || length > MB_MAX_SET_BYTES) {
        mb_encoder_reject(enc, [NSString stringWithFormat:@"mb_encoder_set_bytes: %llu bytes at index %u (need a "
                                                          @"non-NULL pointer and 1 to %u bytes)",
                                                          (unsigned long long)length, index, MB_MAX_SET_BYTES]);
        return;
      }
      /* setBytes: copies the bytes now, so the caller's memory may be reused at once. */
      [enc->_encoder setBytes:bytes length:(NSUInteger)length atIndex:index];
    } @catch (id exception) {
      mb_encoder_reject(enc, @"mb_encoder_set_bytes raised an Objective-C exception");
    }
  }
}

MB_API void mb_encoder_set_threadgroup_memory_length(mb_encoder *encoder, uint64_t length, uint32_t index) {
  if (encoder == NULL) return;
  @autoreleasepool {
    MBEncoder *enc = MB_BORROW(MBEncoder, encoder);
    @try {
      if (!mb_encoder_usable(enc, "mb_encoder_set_threadgroup_memory_length")) return;
      if (index >= MB_MAX_BINDINGS) {
        mb_encoder_reject(enc, [NSString stringWithFormat:@"mb_encoder_set_threadgroup_memory_length: index %u is not "
                                                          @"below %u",
                                                          index, MB_MAX_BINDINGS]);
        return;
      }
      if (length % 16 != 0) {
        mb_encoder_reject(enc, [NSString stringWithFormat:@"mb_encoder_set_threadgroup_memory_length: %llu bytes at "
                                                          @"index %u is not a multiple of 16",
                                                          (unsigned long long)length, index]);
        return;
      }
      if (length > enc->_owner->_device->_maxThreadgroupMemory) {
        /* Checked in full (with the pipeline's static memory) at dispatch; this only keeps an
         * absurd length away from Metal. */
        enc->_threadgroupMemory[index] = length;
        return;
      }
      [enc->_encoder setThreadgroupMemoryLength:(NSUInteger)length atIndex:index];
      enc->_threadgroupMemory[index] = length;
    } @catch (id exception) {
      mb_encoder_reject(enc, @"mb_encoder_set_threadgroup_memory_length raised an Objective-C exception");
    }
  }
}

/* Checks shared by both dispatch forms; `grid` is NO for dispatchThreadgroups. */
static mb_status mb_dispatch(MBEncoder *enc, BOOL grid, MTLSize size, MTLSize threads, mb_error **out_error) {
  const char *call = grid ? "mb_encoder_dispatch_threads" : "mb_encoder_dispatch_threadgroups";
  if (enc->_pendingError != nil) {
    NSString *message = enc->_pendingError;
    enc->_pendingError = nil; /* reported once; later dispatches start clean */
    return mb_fail(out_error, MB_ERR_INVALID_ARG, [NSString stringWithFormat:@"%s: nothing encoded: %@", call, message]);
  }
  if (enc->_ended) {
    return mb_fail(out_error, MB_ERR_INVALID_ARG, [NSString stringWithFormat:@"%s: the encoder has already ended", call]);
  }
  MBPipeline *pipeline = enc->_pipeline;
  if (pipeline == nil) {
    return mb_fail(out_error, MB_ERR_INVALID_ARG,
                   [NSString stringWithFormat:@"%s: no pipeline is set (mb_encoder_set_pipeline)", call]);
  }
  if (size.width == 0 || size.height == 0 || size.depth == 0 || threads.width == 0 || threads.height == 0 ||
      threads.depth == 0) {
    return mb_fail(out_error, MB_ERR_INVALID_ARG,
                   [NSString stringWithFormat:@"%s: zero size (%lux%lux%lu %s of %lux%lux%lu threads) for pipeline \"%@\"",
                                              call, (unsigned long)size.width, (unsigned long)size.height,
                                              (unsigned long)size.depth, grid ? "grid" : "groups",
                                              (unsigned long)threads.width, (unsigned long)threads.height,
                                              (unsigned long)threads.depth, pipeline->_label]);
  }
  /* Factors are uint32: x*y fits in 64 bits, and once it is <= the (32-bit) maximum,
   * x*y*z does too, so this never overflows. */
  uint64_t total = (uint64_t)threads.width * (uint64_t)threads.height;
  BOOL tooMany = total > pipeline->_maxTotalThreads || total * (uint64_t)threads.depth > pipeline->_maxTotalThreads;
  if (tooMany) {
    return mb_fail(out_error, MB_ERR_LIMIT,
                   [NSString stringWithFormat:@"%s: threadgroup of %lux%lux%lu threads exceeds the maximum of %u for "
                                              @"pipeline \"%@\"",
                                              call, (unsigned long)threads.width, (unsigned long)threads.height,
                                              (unsigned long)threads.depth, pipeline->_maxTotalThreads, pipeline->_label]);
  }
  MTLSize perDim = enc->_owner->_device->_maxThreadsPerThreadgroup;
  if (threads.width > perDim.width || threads.height > perDim.height || threads.depth > perDim.depth) {
    return mb_fail(out_error, MB_ERR_LIMIT,
                   [NSString stringWithFormat:@"%s: threadgroup of %lux%lux%lu threads exceeds the device's %lux%lux%lu "
                                              @"(pipeline \"%@\")",
                                              call, (unsigned long)threads.width, (unsigned long)threads.height,
                                              (unsigned long)threads.depth, (unsigned long)perDim.width,
                                              (unsigned long)perDim.height, (unsigned long)perDim.depth, pipeline->_label]);
  }
  uint64_t memory = pipeline->_staticThreadgroupMemory;
  for (uint32_t i = 0; i < MB_MAX_BINDINGS; i++) memory += enc->_threadgroupMemory[i];
  uint64_t memoryLimit = enc->_owner->_device->_maxThreadgroupMemory;
  if (memory > memoryLimit) {
    return mb_fail(out_error, MB_ERR_LIMIT,
                   [NSString stringWithFormat:@"%s: %llu bytes of threadgroup memory (%llu static) exceed the device "
                                              @"maximum of %llu for pipeline \"%@\"",
                                              call, (unsigned long long)memory,
                                              (unsigned long long)pipeline->_staticThreadgroupMemory,
                                              (unsigned long long)memoryLimit, pipeline->_label]);
  }
  if (grid) {
    if (!enc->_owner->_device->_nonUniformThreadgroups) {
      return mb_fail(out_error, MB_ERR_UNSUPPORTED,
                     [NSString stringWithFormat:@"%s: this GPU has no non-uniform threadgroups (Apple4+ or Mac2); "
                                                @"use mb_encoder_dispatch_threadgroups",
                                                call]);
    }
    [enc->_encoder dispatchThreads:size threadsPerThreadgroup:threads];
  } else {
    [enc->_encoder dispatchThreadgroups:size threadsPerThreadgroup:threads];
  }
  return MB_OK;
}

MB_API mb_status mb_encoder_dispatch_threadgroups(mb_encoder *encoder, uint32_t groups_x, uint32_t groups_y,
                                                  uint32_t groups_z, uint32_t threads_x, uint32_t threads_y,
                                                  uint32_t threads_z, mb_error **out_error) {
  if (encoder == NULL) return mb_fail(out_error, MB_ERR_INVALID_ARG, @"mb_encoder_dispatch_threadgroups: encoder is NULL");
  @autoreleasepool {
    @try {
      return mb_dispatch(MB_BORROW(MBEncoder, encoder), NO, MTLSizeMake(groups_x, groups_y, groups_z),
                         MTLSizeMake(threads_x, threads_y, threads_z), out_error);
    } @catch (id exception) {
      return mb_fail_exception(out_error, exception);
    }
  }
}

MB_API mb_status mb_encoder_dispatch_threads(mb_encoder *encoder, uint32_t grid_x, uint32_t grid_y, uint32_t grid_z,
                                             uint32_t threads_x, uint32_t threads_y, uint32_t threads_z,
                                             mb_error **out_error) {
  if (encoder == NULL) return mb_fail(out_error, MB_ERR_INVALID_ARG, @"mb_encoder_dispatch_threads: encoder is NULL");
  @autoreleasepool {
    @try {
      return mb_dispatch(MB_BORROW(MBEncoder, encoder), YES, MTLSizeMake(grid_x, grid_y, grid_z),
                         MTLSizeMake(threads_x, threads_y, threads_z), out_error);
    } @catch (id exception) {
      return mb_fail_exception(out_error, exception);
    }
  }
}

/* ---- Commit, wait, status ------------------------------------------------------------------- */

static mb_status mb_command_buffer_commit_impl(mb_command_buffer *command_buffer, mb_error **out_error) {
  if (command_buffer == NULL) return mb_fail(out_error, MB_ERR_INVALID_ARG, @"mb_command_buffer_commit: command_buffer is NULL");
  MBCommandBuffer *cb = MB_BORROW(MBCommandBuffer, command_buffer);
  if (cb->_encoderOpen) {
    return mb_fail(out_error, MB_ERR_INVALID_ARG, @"mb_command_buffer_commit: end the encoder first (mb_encoder_end)");
  }
  MBCompletion *completion = cb->_completion;
  [completion->_condition lock];
  BOOL already = completion->_committed;
  completion->_committed = YES;
  [completion->_condition unlock];
  if (already) return mb_fail(out_error, MB_ERR_INVALID_ARG, @"mb_command_buffer_commit: already committed");

  /* Completed handlers must be added before commit. The handler captures only `completion`. */
  [cb->_commandBuffer addCompletedHandler:^(id<MTLCommandBuffer> done) {
    (void)done;
    [completion markCompleted];
  }];
  [cb->_commandBuffer commit];
  return MB_OK;
}

MB_API mb_status mb_command_buffer_commit(mb_command_buffer *command_buffer, mb_error **out_error) {
  @autoreleasepool {
    @try {
      return mb_command_buffer_commit_impl(command_buffer, out_error);
    } @catch (id exception) {
      return mb_fail_exception(out_error, exception);
    }
  }
}

/*
 * Waits on our own condition rather than -waitUntilCompleted: any number of threads may wait,
 * before or after completion, and waiting on a command buffer that was never committed is an
 * error instead of a hang.
 */
static mb_status mb_command_buffer_wait_impl(mb_command_buffer *command_buffer, mb_error **out_error) {
  if (command_buffer == NULL) return mb_fail(out_error, MB_ERR_INVALID_ARG, @"mb_command_buffer_wait: command_buffer is NULL");
  MBCommandBuffer *cb = MB_BORROW(MBCommandBuffer, command_buffer);
  MBCompletion *completion = cb->_completion;
  [completion->_condition lock];
  if (!completion->_committed) {
    [completion->_condition unlock];
    return mb_fail(out_error, MB_ERR_INVALID_ARG, @"mb_command_buffer_wait: the command buffer was not committed");
  }
  while (!completion->_completed) [completion->_condition wait];
  [completion->_condition unlock];

  if (cb->_commandBuffer.status == MTLCommandBufferStatusError) {
    NSError *error = cb->_commandBuffer.error;
    return mb_fail(out_error, MB_ERR_EXECUTION,
                   [NSString stringWithFormat:@"Command buffer failed: %@",
                                              error.localizedDescription ?: @"(no error description)"]);
  }
  return MB_OK;
}

MB_API mb_status mb_command_buffer_wait(mb_command_buffer *command_buffer, mb_error **out_error) {
  @autoreleasepool {
    @try {
      return mb_command_buffer_wait_impl(command_buffer, out_error);
    } @catch (id exception) {
      return mb_fail_exception(out_error, exception);
    }
  }
}

MB_API int32_t mb_command_buffer_status(const mb_command_buffer *command_buffer) {
  if (command_buffer == NULL) return MB_CMD_NOT_COMMITTED;
  @autoreleasepool {
    @try {
      switch (MB_BORROW(MBCommandBuffer, command_buffer)->_commandBuffer.status) {
        case MTLCommandBufferStatusNotEnqueued:
        case MTLCommandBufferStatusEnqueued: return MB_CMD_NOT_COMMITTED;
        case MTLCommandBufferStatusCommitted:
        case MTLCommandBufferStatusScheduled: return MB_CMD_COMMITTED;
        case MTLCommandBufferStatusCompleted: return MB_CMD_COMPLETED;
        case MTLCommandBufferStatusError: return MB_CMD_ERROR;
      }
      return MB_CMD_ERROR;
    } @catch (id exception) {
      return MB_CMD_ERROR;
    }
  }
}
