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

#include <stdio.h> /* rename(2): the archive's temporary file into place */

#include "metal_bridge.h"
/* Status names, the device config parser and every refusal the ABI promises, shared with the
 * CPU backend so both return the same status and wording (tests/bridge_parity_test.ts). */
#include "common/contract.h"

#define MB_MAX_BINDINGS MBC_MAX_BINDINGS

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
  NSData *_info;              /* UTF-8 with NUL, for mb_device_info */
  NSString *_cacheDir;        /* config cache_dir */
  /* The persistent pipeline cache (mb_device_create in metal_bridge.h): nil without cache_dir
   * or when it cannot be opened. _archiveLock guards every use of the archive (Apple documents
   * no thread safety for MTLBinaryArchive: lookups, additions and serialisation all take it)
   * and the fields after it. */
  id<MTLBinaryArchive> _archive;
  NSString *_archivePath;
  NSLock *_archiveLock;
  NSMutableArray<MTLComputePipelineDescriptor *> *_archivePending; /* added since the last write */
  NSUInteger _archiveWrites; /* names each write's temporary file */
  double _archiveFileStamp;  /* modification time of the file last read or written */
  uint32_t _capabilities;
  uint64_t _maxThreadgroupMemory;
  MTLSize _maxThreadsPerThreadgroup;
  BOOL _nonUniformThreadgroups; /* dispatchThreads: needs Apple4+ or Mac2 */
}
@end
@implementation MBDevice
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
  NSData *_name;    /* the kernel function's name, UTF-8 with NUL: used in messages */
  /* From the pipeline's reflection (MTLPipelineOptionBindingInfo): bit i set when the kernel
   * uses [[buffer(i)]] / [[threadgroup(i)]]; dispatch refuses one left unbound. */
  uint32_t _buffersUsed;
  uint32_t _threadgroupsUsed;
  uint32_t _maxTotalThreads;
  uint32_t _executionWidth;
  uint64_t _staticThreadgroupMemory;
  /* The unspecialised function's constants, ascending by index: 3 uint32 each (index,
   * MB_CONSTANT_* type or 0, required) and their names (UTF-8 with NUL). */
  NSArray<NSData *> *_constantFields;
  NSArray<NSData *> *_constantNames;
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
  NSCondition *_condition; /* guards every field below */
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
  uint32_t _buffersBound;    /* bit i: [[buffer(i)]] has a buffer or bytes */
  uint32_t _threadgroupsSet; /* bit i: [[threadgroup(i)]] has a nonzero length */
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

/* The caller's reference (create), a borrowed view (use), and taking the reference back (release).
 */
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

/* A refusal of common/contract.h: its status and message. */
static mb_status mb_fail_text(mb_error **out_error, mb_status code, const mbc_text *text) {
  return mb_fail(out_error, code,
                 [NSString stringWithUTF8String:text->data] ?: @"(message not UTF-8)");
}

static mb_status mb_fail_exception(mb_error **out_error, id exception) {
  NSString *text;
  if ([exception isKindOfClass:[NSException class]]) {
    NSException *e = exception;
    text = [NSString
        stringWithFormat:@"Objective-C exception %@: %@", e.name, e.reason ?: @"(no reason)"];
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

MB_API const char *mb_status_name(mb_status status) { return mbc_status_name(status); }

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

/*
 * mb_device_info's lines. GPU families are asked by raw MTLGPUFamily value, so the list is the
 * same whatever SDK built the bridge (values from metal-cpp MTLDevice.hpp: Apple1..9 =
 * 1001..1009, Mac2 = 2002, Common1..3 = 3001..3003, Metal3 = 5001, Metal4 = 5002).
 */
static NSString *mb_device_info_text(id<MTLDevice> device) {
  static const struct {
    const char *name;
    NSInteger value;
  } families[] = {{"apple1", 1001},  {"apple2", 1002}, {"apple3", 1003},  {"apple4", 1004},
                  {"apple5", 1005},  {"apple6", 1006}, {"apple7", 1007},  {"apple8", 1008},
                  {"apple9", 1009},  {"mac2", 2002},   {"common1", 3001}, {"common2", 3002},
                  {"common3", 3003}, {"metal3", 5001}};
  NSMutableString *list = [NSMutableString new];
  for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
    if ([device supportsFamily:(MTLGPUFamily)families[i].value]) {
      [list appendFormat:@"%@%s", list.length ? @" " : @"", families[i].name];
    }
  }
  if (@available(macOS 26.0, *)) {
    if ([device supportsFamily:(MTLGPUFamily)5002])
      [list appendFormat:@"%@metal4", list.length ? @" " : @""];
  }
  return [NSString
      stringWithFormat:
          @"gpu_families=%@\nregistry_id=%llu\nmax_buffer_length=%llu\n"
          @"recommended_max_working_set_size=%llu\nhas_unified_memory=%d\nos_version=%@\n"
          @"sdk=%d\ndeployment_target=%d",
          list, (unsigned long long)device.registryID, (unsigned long long)device.maxBufferLength,
          (unsigned long long)device.recommendedMaxWorkingSetSize, device.hasUnifiedMemory ? 1 : 0,
          NSProcessInfo.processInfo.operatingSystemVersionString,
          (int)__MAC_OS_X_VERSION_MAX_ALLOWED, (int)__MAC_OS_X_VERSION_MIN_REQUIRED];
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
    BOOL keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '-';
    [out appendFormat:@"%c", keep ? c : '_'];
  }
  return out;
}

/* The modification time of `path` in seconds, or 0 when it does not exist. */
static double mb_file_stamp(NSString *path) {
  NSDictionary<NSFileAttributeKey, id> *attributes =
      [NSFileManager.defaultManager attributesOfItemAtPath:path error:NULL];
  NSDate *date = attributes.fileModificationDate;
  return date == nil ? 0 : date.timeIntervalSinceReferenceDate;
}

/* Reads the archive file, or nil when there is none or Metal cannot read it. */
static id<MTLBinaryArchive> mb_archive_read(MBDevice *device) {
  if (![NSFileManager.defaultManager fileExistsAtPath:device->_archivePath]) return nil;
  MTLBinaryArchiveDescriptor *descriptor = [MTLBinaryArchiveDescriptor new];
  descriptor.url = [NSURL fileURLWithPath:device->_archivePath];
  return [device->_device newBinaryArchiveWithDescriptor:descriptor error:NULL];
}

/* Opens (or starts) the archive of this device and OS build under <cache_dir>/metal-archives/.
 * A file Metal cannot read (truncated, corrupt, another OS's) or one over the byte budget is
 * deleted and a new empty archive started: the cache is rebuilt, never fatal. */
static void mb_archive_open(MBDevice *device, uint64_t maxMegabytes) {
  if (device->_cacheDir == nil) return;
  NSFileManager *files = NSFileManager.defaultManager;
  NSString *dir = [device->_cacheDir stringByAppendingPathComponent:@"metal-archives"];
  if (![files createDirectoryAtPath:dir withIntermediateDirectories:YES attributes:nil error:NULL])
    return;
  NSString *name = [NSString
      stringWithFormat:@"%@-%@.metallib", mb_file_part(device->_device.name),
                       mb_file_part(NSProcessInfo.processInfo.operatingSystemVersionString)];
  NSString *path = [dir stringByAppendingPathComponent:name];
  unsigned long long budget = (unsigned long long)maxMegabytes * 1024ull * 1024ull;
  NSDictionary<NSFileAttributeKey, id> *attributes = [files attributesOfItemAtPath:path error:NULL];
  if (attributes != nil && attributes.fileSize > budget) [files removeItemAtPath:path error:NULL];

  device->_archivePath = path;
  double stamp = mb_file_stamp(path);
  id<MTLBinaryArchive> archive = mb_archive_read(device);
  if (archive == nil && stamp != 0) {
    [files removeItemAtPath:path error:NULL];
    stamp = 0;
  }
  if (archive == nil) {
    archive = [device->_device newBinaryArchiveWithDescriptor:[MTLBinaryArchiveDescriptor new]
                                                        error:NULL];
  }
  if (archive == nil) {
    device->_archivePath = nil;
    return;
  }
  archive.label = @"metal-compute pipeline cache";
  device->_archive = archive;
  device->_archiveFileStamp = stamp;
  device->_archiveLock = [NSLock new];
  device->_archivePending = [NSMutableArray new];
}

/*
 * Writes the archive if it has additions (lock held): serialised once to a private temporary
 * file, then renamed over the cache file, so readers (other devices, other processes) see the
 * old file or the new one, never half of one. Two writers at once: the last rename wins, which
 * is still a valid cache. Best effort: a failure leaves the additions pending for the next try.
 */
static void mb_archive_write_locked(MBDevice *device) {
  if (device->_archive == nil || device->_archivePending.count == 0) return;
  NSString *temporary = [NSString stringWithFormat:@"%@.tmp-%d-%lu", device->_archivePath,
                                                   NSProcessInfo.processInfo.processIdentifier,
                                                   (unsigned long)device->_archiveWrites++];
  if ([device->_archive serializeToURL:[NSURL fileURLWithPath:temporary] error:NULL] &&
      rename(temporary.UTF8String, device->_archivePath.UTF8String) == 0) {
    [device->_archivePending removeAllObjects];
    device->_archiveFileStamp = mb_file_stamp(device->_archivePath);
    return;
  }
  [NSFileManager.defaultManager removeItemAtPath:temporary error:NULL];
}

/*
 * After a miss (lock held): when another device or process has written a newer archive file
 * since this one was read, read it, add this device's unwritten pipelines to it, and use it.
 * Returns YES when the archive changed (the lookup is worth repeating).
 */
static BOOL mb_archive_refresh_locked(MBDevice *device) {
  double stamp = mb_file_stamp(device->_archivePath);
  if (stamp == 0 || stamp <= device->_archiveFileStamp) return NO;
  device->_archiveFileStamp = stamp; /* read once per newer file, even when it is unreadable */
  id<MTLBinaryArchive> newer = mb_archive_read(device);
  if (newer == nil) return NO;
  for (NSUInteger i = 0; i < device->_archivePending.count; i++) {
    [newer addComputePipelineFunctionsWithDescriptor:[device->_archivePending objectAtIndex:i]
                                               error:NULL];
  }
  newer.label = @"metal-compute pipeline cache";
  device->_archive = newer;
  return YES;
}

/*
 * Asks the archive alone for the pipeline (MTLPipelineOptionFailOnBinaryArchiveMiss: a hit is
 * Metal's word that no compile ran), re-reading a newer archive file once on a miss. Returns
 * nil on a miss or any failure.
 */
static id<MTLComputePipelineState> mb_archive_lookup(
    MBDevice *device, MTLComputePipelineDescriptor *descriptor,
    MTLAutoreleasedComputePipelineReflection *reflection) {
  if (device->_archive == nil) return nil;
  id<MTLComputePipelineState> state = nil;
  [device->_archiveLock lock];
  @try {
    for (int attempt = 0; attempt < 2 && state == nil; attempt++) {
      if (attempt == 1 && !mb_archive_refresh_locked(device)) break;
      descriptor.binaryArchives = @[ device->_archive ];
      state = [device->_device
          newComputePipelineStateWithDescriptor:descriptor
                                        options:MTLPipelineOptionFailOnBinaryArchiveMiss |
                                                MTLPipelineOptionBindingInfo
                                     reflection:reflection
                                          error:NULL];
    }
  } @catch (id exception) {
    state = nil; /* the cache is best effort: compile instead */
  } @finally {
    descriptor.binaryArchives = nil;
    [device->_archiveLock unlock];
  }
  return state;
}

/* Adds a pipeline Metal had to compile, and writes the archive every few additions. A failure
 * here never fails the pipeline, which is already built. */
static void mb_archive_add(MBDevice *device, MTLComputePipelineDescriptor *descriptor) {
  if (device->_archive == nil) return;
  [device->_archiveLock lock];
  @try {
    if ([device->_archive addComputePipelineFunctionsWithDescriptor:descriptor error:NULL]) {
      [device->_archivePending addObject:descriptor];
      if (device->_archivePending.count >= MB_ARCHIVE_WRITE_EVERY) mb_archive_write_locked(device);
    }
  } @catch (id exception) {
    /* best effort */
  } @finally {
    [device->_archiveLock unlock];
  }
}

/* Writes pending additions; called at device release, on the caller's thread (never from a
 * dealloc, which may run on Metal's completion thread when a command buffer drops the last
 * reference). */
static void mb_archive_flush(MBDevice *device) {
  if (device->_archive == nil) return;
  [device->_archiveLock lock];
  @try {
    mb_archive_write_locked(device);
  } @catch (id exception) {
    /* best effort */
  } @finally {
    [device->_archiveLock unlock];
  }
}

/*
 * The default device. Command-line tools get nil from MTLCreateSystemDefaultDevice unless
 * CoreGraphics is linked (the build links it), so MTLCopyAllDevices is asked too, preferring a
 * low-power (integrated, unified-memory) GPU as the system default would.
 */
static id<MTLDevice> mb_default_device(NSUInteger *out_count) {
  id<MTLDevice> device = MTLCreateSystemDefaultDevice();
  NSArray<id<MTLDevice>> *all = MTLCopyAllDevices();
  *out_count = all.count;
  if (device != nil) return device;
  for (NSUInteger i = 0; i < all.count; i++) {
    if ([all objectAtIndex:i].hasUnifiedMemory) return [all objectAtIndex:i];
  }
  return all.count > 0 ? [all objectAtIndex:0] : nil;
}

static mb_status mb_device_create_impl(const char *config, mb_device **out_device,
                                       mb_error **out_error) {
  if (out_device == NULL)
    return mb_fail(out_error, MB_ERR_INVALID_ARG, @"mb_device_create: out_device is NULL");
  *out_device = NULL;

  /* The config first: a bad value is refused the same way with or without a GPU. Keys:
   * cache_dir and cache_max_mb (the binary archive); workers, checked, clang and support_dir
   * are the CPU backend's, validated here too so that one config means one thing. */
  mbc_device_options options;
  mbc_text text;
  mb_status status = mbc_parse_device_options(config, &options, &text);
  if (status != MB_OK) return mb_fail_text(out_error, status, &text);

  NSUInteger deviceCount = 0;
  id<MTLDevice> device = mb_default_device(&deviceCount);
  if (device == nil) {
    return mb_fail(
        out_error, MB_ERR_UNSUPPORTED,
        [NSString stringWithFormat:
                      @"No Metal device: MTLCreateSystemDefaultDevice returned nil and "
                      @"MTLCopyAllDevices listed %lu devices (a virtual machine or CI runner "
                      @"without GPU access, or a process without access to the window server)",
                      (unsigned long)deviceCount]);
  }
  id<MTLCommandQueue> queue = [device newCommandQueue];
  if (queue == nil)
    return mb_fail(out_error, MB_ERR_INTERNAL, @"Cannot create a Metal command queue");

  MBDevice *result = [MBDevice new];
  result->_device = device;
  result->_queue = queue;
  result->_name = mb_c_string(device.name ?: @"Apple GPU");
  result->_capabilities = mb_capabilities(device);
  result->_maxThreadgroupMemory = device.maxThreadgroupMemoryLength;
  result->_maxThreadsPerThreadgroup = device.maxThreadsPerThreadgroup;
  result->_nonUniformThreadgroups =
      [device supportsFamily:MTLGPUFamilyApple4] || [device supportsFamily:MTLGPUFamilyMac2];

  result->_info = mb_c_string(mb_device_info_text(device));

  uint64_t maxMegabytes = options.cache_max_mb;
  if (maxMegabytes == 0) {
    mbc_slice fromEnv = {
        [NSProcessInfo.processInfo.environment objectForKey:@"METAL_COMPUTE_CACHE_MAX_MB"]
            .UTF8String,
        0};
    while (fromEnv.data != NULL && fromEnv.data[fromEnv.length] != '\0') fromEnv.length++;
    if (!mbc_parse_decimal(fromEnv, MBC_MAX_CACHE_MB, &maxMegabytes)) maxMegabytes = 0;
  }
  if (options.cache_dir.length > 0) {
    result->_cacheDir = [[NSString alloc] initWithBytes:options.cache_dir.data
                                                 length:options.cache_dir.length
                                               encoding:NSUTF8StringEncoding];
  }
  mb_archive_open(result, maxMegabytes > 0 ? maxMegabytes : MB_DEFAULT_CACHE_MAX_MB);

  *out_device = MB_HANDLE(mb_device, result);
  return MB_OK;
}

MB_API mb_status mb_device_create(const char *config, mb_device **out_device,
                                  mb_error **out_error) {
  @autoreleasepool {
    @try {
      return mb_device_create_impl(config, out_device, out_error);
    } @catch (id exception) {
      return mb_fail_exception(out_error, exception);
    }
  }
}

/* Closing the device writes its archive: later devices and processes find what it compiled. */
MB_API void mb_device_release(mb_device *device) {
  if (device == NULL) return;
  @autoreleasepool {
    mb_archive_flush(MB_BORROW(MBDevice, device));
    MB_RELEASE(MBDevice, device);
  }
}

MB_API const char *mb_device_name(const mb_device *device) {
  if (device == NULL) return "";
  return (const char *)MB_BORROW(MBDevice, device)->_name.bytes;
}

MB_API const char *mb_device_info(const mb_device *device) {
  if (device == NULL) return "";
  return (const char *)MB_BORROW(MBDevice, device)->_info.bytes;
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
  mb_each_line(macros, ^(const char *line, size_t length) {
    NSString *key, *value;
    mb_split_pair(line, length, &key, &value); /* mbc_check_macros accepted every line */
    long long number = 1;
    if (value == nil || mb_parse_integer(value, &number)) {
      [defines setObject:[NSNumber numberWithLongLong:number] forKey:key];
    } else {
      [defines setObject:value forKey:key];
    }
  });
  if (defines.count > 0) options.preprocessorMacros = defines;

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
      case (1u << 16) + 1:
        version = MTLLanguageVersion1_1;
        break;
      case (1u << 16) + 2:
        version = MTLLanguageVersion1_2;
        break;
      case (2u << 16) + 0:
        version = MTLLanguageVersion2_0;
        break;
      case (2u << 16) + 1:
        version = MTLLanguageVersion2_1;
        break;
      case (2u << 16) + 2:
        version = MTLLanguageVersion2_2;
        break;
      case (2u << 16) + 3:
        version = MTLLanguageVersion2_3;
        break;
      case (2u << 16) + 4:
        version = MTLLanguageVersion2_4;
        break;
      case (3u << 16) + 0:
        version = MTLLanguageVersion3_0;
        break;
      case (3u << 16) + 1:
        if (@available(macOS 14.0, *))
          version = MTLLanguageVersion3_1;
        else
          available = NO;
        break;
      /* 3.2 and 4.0 are declared only by the macOS 15 and 26 SDKs; MTLLanguageVersion values are
       * (major << 16) | minor, so the raw value builds with every SDK. */
      case (3u << 16) + 2:
        if (@available(macOS 15.0, *))
          version = (MTLLanguageVersion)((3u << 16) + 2);
        else
          available = NO;
        break;
      case (4u << 16) + 0:
        if (@available(macOS 26.0, *))
          version = (MTLLanguageVersion)((4u << 16) + 0);
        else
          available = NO;
        break;
      default:
        known = NO;
        break;
    }
    unsigned major = languageVersion >> 16, minor = languageVersion & 0xFFFFu;
    if (!known) {
      return mb_fail(
          out_error, MB_ERR_INVALID_ARG,
          [NSString stringWithFormat:@"Unknown Metal language version %u.%u", major, minor]);
    }
    if (!available) {
      return mb_fail(out_error, MB_ERR_UNSUPPORTED,
                     [NSString stringWithFormat:@"Metal language version %u.%u needs a newer macOS",
                                                major, minor]);
    }
    options.languageVersion = version;
  }
  return MB_OK;
}

static mb_status mb_library_create_impl(mb_device *device, const char *source, size_t sourceLength,
                                        const char *sourceName, const char *macros,
                                        int32_t mathMode, uint32_t languageVersion,
                                        mb_library **out_library, mb_error **out_error) {
  if (out_library == NULL)
    return mb_fail(out_error, MB_ERR_INVALID_ARG, @"mb_library_create: out_library is NULL");
  *out_library = NULL;
  if (device == NULL)
    return mb_fail(out_error, MB_ERR_INVALID_ARG, @"mb_library_create: device is NULL");
  if (source == NULL && sourceLength > 0) {
    return mb_fail(out_error, MB_ERR_INVALID_ARG, @"mb_library_create: source is NULL");
  }
  MBDevice *owner = MB_BORROW(MBDevice, device);
  NSString *name = mb_string(sourceName) ?: @"program_source";
  NSString *text = [[NSString alloc] initWithBytes:(source ? source : "")
                                            length:sourceLength
                                          encoding:NSUTF8StringEncoding];
  if (text == nil) {
    return mb_fail(
        out_error, MB_ERR_INVALID_ARG,
        [NSString stringWithFormat:@"Cannot compile \"%@\": the source is not valid UTF-8", name]);
  }

  /* The option checks both backends share, before anything else looks at the options. */
  mbc_text check;
  mb_status status = mbc_check_math_mode(mathMode, &check);
  if (status == MB_OK) status = mbc_check_language_version(languageVersion, &check);
  if (status == MB_OK) status = mbc_check_macros(macros, &check);
  if (status != MB_OK) return mb_fail_text(out_error, status, &check);

  MTLCompileOptions *options = [MTLCompileOptions new];
  status = mb_compile_options(mathMode, languageVersion, macros, options, out_error);
  if (status != MB_OK) return status;

  NSError *error = nil;
  id<MTLLibrary> library = [owner->_device newLibraryWithSource:text options:options error:&error];
  if (library == nil) {
    /* With a library, `error` may still hold warnings: those are not failures. */
    NSString *log = mb_map_log(error.localizedDescription, name);
    return mb_fail(out_error, MB_ERR_COMPILE,
                   [NSString stringWithFormat:@"Cannot compile \"%@\":\n%@", name, log]);
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
    case MTLDataTypeBool:
      return @"bool";
    case MTLDataTypeInt:
      return @"int";
    case MTLDataTypeUInt:
      return @"uint";
    case MTLDataTypeFloat:
      return @"float";
    case MTLDataTypeHalf:
      return @"half";
    case MTLDataTypeShort:
      return @"short";
    case MTLDataTypeUShort:
      return @"ushort";
    default:
      return [NSString stringWithFormat:@"MTLDataType %lu", (unsigned long)type];
  }
}

/* MTLDataType -> MB_CONSTANT_*, or 0 for a type mb_pipeline_create cannot set. */
static uint32_t mb_constant_tag(MTLDataType type) {
  switch (type) {
    case MTLDataTypeBool:
      return MB_CONSTANT_BOOL;
    case MTLDataTypeInt:
      return MB_CONSTANT_INT;
    case MTLDataTypeUInt:
      return MB_CONSTANT_UINT;
    case MTLDataTypeFloat:
      return MB_CONSTANT_FLOAT;
    case MTLDataTypeHalf:
      return MB_CONSTANT_HALF;
    case MTLDataTypeShort:
      return MB_CONSTANT_SHORT;
    case MTLDataTypeUShort:
      return MB_CONSTANT_USHORT;
    default:
      return 0;
  }
}

/* MB_CONSTANT_* -> MTLDataType, or MTLDataTypeNone for an unknown tag. */
static MTLDataType mb_constant_type(uint32_t tag) {
  switch (tag) {
    case MB_CONSTANT_BOOL:
      return MTLDataTypeBool;
    case MB_CONSTANT_INT:
      return MTLDataTypeInt;
    case MB_CONSTANT_UINT:
      return MTLDataTypeUInt;
    case MB_CONSTANT_FLOAT:
      return MTLDataTypeFloat;
    case MB_CONSTANT_HALF:
      return MTLDataTypeHalf;
    case MB_CONSTANT_SHORT:
      return MTLDataTypeShort;
    case MB_CONSTANT_USHORT:
      return MTLDataTypeUShort;
    default:
      return MTLDataTypeNone;
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
static mb_status mb_check_constants(id<MTLFunction> function, NSString *kernel,
                                    const uint32_t *constants, uint32_t count,
                                    MTLFunctionConstantValues *values, mb_error **out_error) {
  NSArray<MTLFunctionConstant *> *declared = function.functionConstantsDictionary.allValues;
  NSUInteger declaredCount = declared.count;

  for (uint32_t i = 0; i < count; i++) {
    uint32_t index = constants[3 * i], tag = constants[3 * i + 1], bits = constants[3 * i + 2];
    /* The checks of the constant on its own (type tag, bool 0/1, half bits, given twice) are
     * the contract's, worded as on the CPU backend. */
    mbc_text text;
    mb_status status = mbc_check_constant(constants, i, &text);
    if (status != MB_OK) return mb_fail_text(out_error, status, &text);
    MTLDataType type = mb_constant_type(tag);
    MTLFunctionConstant *match = nil;
    for (NSUInteger k = 0; k < declaredCount; k++) {
      MTLFunctionConstant *candidate = [declared objectAtIndex:k];
      if (candidate.index == index) match = candidate;
    }
    if (match == nil) {
      NSMutableString *list = [NSMutableString new];
      for (NSUInteger k = 0; k < declaredCount; k++) {
        [list appendFormat:@"%@%@", k == 0 ? @"" : @", ",
                           mb_describe_constant([declared objectAtIndex:k])];
      }
      return mb_fail(
          out_error, MB_ERR_INVALID_ARG,
          [NSString stringWithFormat:
                        @"Kernel \"%@\" declares no function constant at index %u (declared: %@)",
                        kernel, index, declaredCount ? list : @"none"]);
    }
    if (match.type != type) {
      return mb_fail(
          out_error, MB_ERR_INVALID_ARG,
          [NSString
              stringWithFormat:@"Kernel \"%@\": function constant %@ was given a value of type %@",
                               kernel, mb_describe_constant(match), mb_data_type_name(type)]);
    }
    /* setConstantValue: copies the value; each type is passed at its own size. */
    if (type == MTLDataTypeBool) {
      uint8_t value = bits != 0; /* MTLDataTypeBool is one byte */
      [values setConstantValue:&value type:type atIndex:index];
    } else if (type == MTLDataTypeHalf) {
      uint16_t value = (uint16_t)bits; /* <= 0xFFFF: mbc_check_constant refuses more */
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
      return mb_fail(
          out_error, MB_ERR_INVALID_ARG,
          [NSString stringWithFormat:@"Kernel \"%@\": required function constant %@ is missing",
                                     kernel, mb_describe_constant(constant)]);
    }
  }
  return MB_OK;
}

/* Keeps `function`'s declared constants on `pipeline`, ascending by index (a selection sort:
 * kernels declare a handful). */
static void mb_reflect_constants(MBPipeline *pipeline, id<MTLFunction> function) {
  NSArray<MTLFunctionConstant *> *declared = function.functionConstantsDictionary.allValues;
  NSUInteger count = declared.count;
  NSMutableArray<NSData *> *fields = [NSMutableArray new];
  NSMutableArray<NSData *> *names = [NSMutableArray new];
  NSUInteger last = 0; /* the index taken last */
  for (NSUInteger taken = 0; taken < count; taken++) {
    MTLFunctionConstant *next = nil;
    for (NSUInteger k = 0; k < count; k++) {
      MTLFunctionConstant *candidate = [declared objectAtIndex:k];
      BOOL after = taken == 0 || candidate.index > last;
      if (after && (next == nil || candidate.index < next.index)) next = candidate;
    }
    uint32_t field[3] = {(uint32_t)next.index, mb_constant_tag(next.type), next.required ? 1 : 0};
    last = next.index;
    [fields addObject:[NSData dataWithBytes:field length:sizeof field]];
    [names addObject:mb_c_string(next.name)];
  }
  pipeline->_constantFields = fields;
  pipeline->_constantNames = names;
}

static mb_status mb_pipeline_create_impl(mb_library *library, const char *functionName,
                                         const uint32_t *constants, uint32_t constantCount,
                                         const char *label, mb_pipeline **out_pipeline,
                                         mb_error **out_error) {
  if (out_pipeline == NULL)
    return mb_fail(out_error, MB_ERR_INVALID_ARG, @"mb_pipeline_create: out_pipeline is NULL");
  *out_pipeline = NULL;
  if (library == NULL)
    return mb_fail(out_error, MB_ERR_INVALID_ARG, @"mb_pipeline_create: library is NULL");
  if (constantCount > 0 && constants == NULL) {
    return mb_fail(out_error, MB_ERR_INVALID_ARG, @"mb_pipeline_create: constants is NULL");
  }
  NSString *kernel = mb_string(functionName);
  if (kernel == nil)
    return mb_fail(out_error, MB_ERR_INVALID_ARG,
                   @"mb_pipeline_create: function_name is NULL or not UTF-8");
  MBLibrary *lib = MB_BORROW(MBLibrary, library);

  /* The unspecialised function: its functionConstantsDictionary says what may be given. */
  id<MTLFunction> base = [lib->_library newFunctionWithName:kernel];
  if (base == nil || base.functionType != MTLFunctionTypeKernel) {
    /* Worded as on the CPU backend: the kernel functions the library has. */
    NSArray<NSString *> *names =
        [lib->_library.functionNames sortedArrayUsingSelector:@selector(compare:)];
    NSMutableArray<NSString *> *kernels = [NSMutableArray new];
    for (NSUInteger k = 0; k < names.count; k++) {
      id<MTLFunction> candidate = [lib->_library newFunctionWithName:[names objectAtIndex:k]];
      if (candidate.functionType == MTLFunctionTypeKernel)
        [kernels addObject:[names objectAtIndex:k]];
    }
    return mb_fail(
        out_error, MB_ERR_NOT_FOUND,
        [NSString
            stringWithFormat:@"no kernel function \"%@\" in %@%@", kernel, lib->_sourceName,
                             kernels.count
                                 ? [@"; it has: "
                                       stringByAppendingString:[kernels
                                                                   componentsJoinedByString:@", "]]
                                 : @"; it has none"]);
  }

  id<MTLFunction> function = base;
  if (base.functionConstantsDictionary.count > 0 || constantCount > 0) {
    MTLFunctionConstantValues *values = [MTLFunctionConstantValues new];
    mb_status status =
        mb_check_constants(base, kernel, constants, constantCount, values, out_error);
    if (status != MB_OK) return status;
    NSError *error = nil;
    function = [lib->_library newFunctionWithName:kernel constantValues:values error:&error];
    if (function == nil) {
      return mb_fail(
          out_error, MB_ERR_COMPILE,
          [NSString stringWithFormat:@"Cannot specialise kernel \"%@\" of \"%@\":\n%@", kernel,
                                     lib->_sourceName,
                                     mb_map_log(error.localizedDescription, lib->_sourceName)]);
    }
  }

  NSString *pipelineLabel = mb_string(label) ?: kernel;
  MTLComputePipelineDescriptor *descriptor = [MTLComputePipelineDescriptor new];
  descriptor.label = pipelineLabel;
  descriptor.computeFunction = function;
  NSError *error = nil;
  MBDevice *device = lib->_device;
  /* The reflection's bindings say which [[buffer(i)]] and [[threadgroup(i)]] the kernel
   * uses, for the dispatch-time binding check (MTLPipelineOptionBindingInfo, macOS 13). */
  MTLComputePipelineReflection *reflection = nil;
  uint32_t origin = MB_ORIGIN_COMPILED;
  id<MTLComputePipelineState> state = mb_archive_lookup(device, descriptor, &reflection);
  if (state != nil) origin = MB_ORIGIN_CACHE;
  if (state == nil) {
    reflection = nil;
    state = [device->_device newComputePipelineStateWithDescriptor:descriptor
                                                           options:MTLPipelineOptionBindingInfo
                                                        reflection:&reflection
                                                             error:&error];
    if (state != nil) mb_archive_add(device, descriptor);
  }
  if (state == nil) {
    return mb_fail(
        out_error, MB_ERR_COMPILE,
        [NSString
            stringWithFormat:@"Cannot build a compute pipeline for kernel \"%@\" of \"%@\":\n%@",
                             kernel, lib->_sourceName,
                             mb_map_log(error.localizedDescription, lib->_sourceName)]);
  }

  MBPipeline *result = [MBPipeline new];
  result->_device = lib->_device;
  result->_state = state;
  result->_origin = origin;
  result->_name = mb_c_string(kernel);
  NSArray<id<MTLBinding>> *bindings = reflection.bindings;
  for (NSUInteger i = 0; i < bindings.count; i++) {
    id<MTLBinding> binding = [bindings objectAtIndex:i];
    if (!binding.used || binding.index >= MB_MAX_BINDINGS) continue;
    if (binding.type == MTLBindingTypeBuffer) result->_buffersUsed |= 1u << binding.index;
    if (binding.type == MTLBindingTypeThreadgroupMemory)
      result->_threadgroupsUsed |= 1u << binding.index;
  }
  NSUInteger maxThreads = state.maxTotalThreadsPerThreadgroup, width = state.threadExecutionWidth;
  result->_maxTotalThreads = maxThreads > UINT32_MAX ? UINT32_MAX : (uint32_t)maxThreads;
  result->_executionWidth = width > UINT32_MAX ? UINT32_MAX : (uint32_t)width;
  result->_staticThreadgroupMemory = state.staticThreadgroupMemoryLength;
  mb_reflect_constants(result, base);
  *out_pipeline = MB_HANDLE(mb_pipeline, result);
  return MB_OK;
}

MB_API mb_status mb_pipeline_create(mb_library *library, const char *function_name,
                                    const uint32_t *constants, uint32_t constant_count,
                                    const char *label, mb_pipeline **out_pipeline,
                                    mb_error **out_error) {
  @autoreleasepool {
    @try {
      return mb_pipeline_create_impl(library, function_name, constants, constant_count, label,
                                     out_pipeline, out_error);
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

MB_API uint32_t mb_pipeline_execution(const mb_pipeline *pipeline) {
  (void)pipeline;
  return MB_EXECUTION_GPU;
}

MB_API uint32_t mb_pipeline_function_constant_count(const mb_pipeline *pipeline) {
  return pipeline == NULL ? 0 : (uint32_t)MB_BORROW(MBPipeline, pipeline)->_constantNames.count;
}

MB_API mb_status mb_pipeline_function_constant(const mb_pipeline *pipeline, uint32_t position,
                                               uint32_t *out_fields, const char **out_name) {
  if (pipeline == NULL || out_fields == NULL || out_name == NULL) return MB_ERR_INVALID_ARG;
  MBPipeline *p = MB_BORROW(MBPipeline, pipeline);
  if (position >= p->_constantNames.count) return MB_ERR_INVALID_ARG;
  const uint32_t *field = (const uint32_t *)[p->_constantFields objectAtIndex:position].bytes;
  out_fields[0] = field[0];
  out_fields[1] = field[1];
  out_fields[2] = field[2];
  *out_name = (const char *)[p->_constantNames objectAtIndex:position].bytes;
  return MB_OK;
}

MB_API uint64_t mb_pipeline_static_threadgroup_memory_length(const mb_pipeline *pipeline) {
  return pipeline == NULL ? 0 : MB_BORROW(MBPipeline, pipeline)->_staticThreadgroupMemory;
}

/* ---- Buffer --------------------------------------------------------------------------------- */

static mb_status mb_buffer_create_impl(mb_device *device, uint64_t length, mb_buffer **out_buffer,
                                       mb_error **out_error) {
  if (out_buffer == NULL)
    return mb_fail(out_error, MB_ERR_INVALID_ARG, @"mb_buffer_create: out_buffer is NULL");
  *out_buffer = NULL;
  if (device == NULL)
    return mb_fail(out_error, MB_ERR_INVALID_ARG, @"mb_buffer_create: device is NULL");
  if (length == 0)
    return mb_fail(out_error, MB_ERR_INVALID_ARG, @"mb_buffer_create: length must be > 0");
  MBDevice *owner = MB_BORROW(MBDevice, device);
  NSUInteger maxLength = owner->_device.maxBufferLength;
  if (length > maxLength) {
    return mb_fail(
        out_error, MB_ERR_LIMIT,
        [NSString stringWithFormat:@"Buffer of %llu bytes exceeds the device maximum of %lu bytes",
                                   (unsigned long long)length, (unsigned long)maxLength]);
  }
  id<MTLBuffer> buffer = [owner->_device newBufferWithLength:(NSUInteger)length
                                                     options:MTLResourceStorageModeShared];
  if (buffer == nil) {
    return mb_fail(out_error, MB_ERR_OOM,
                   [NSString stringWithFormat:@"Cannot allocate a buffer of %llu bytes",
                                              (unsigned long long)length]);
  }
  MBBuffer *result = [MBBuffer new];
  result->_buffer = buffer;
  result->_contents = [buffer contents];
  result->_length = length;
  /* No memset: newBufferWithLength:options: returns a buffer Metal has cleared to zeros
   * (Apple's documentation of the method), which is what the ABI promises. */
  *out_buffer = MB_HANDLE(mb_buffer, result);
  return MB_OK;
}

MB_API mb_status mb_buffer_create(mb_device *device, uint64_t length, mb_buffer **out_buffer,
                                  mb_error **out_error) {
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

static mb_status mb_command_buffer_create_impl(mb_device *device,
                                               mb_command_buffer **out_command_buffer,
                                               mb_error **out_error) {
  if (out_command_buffer == NULL) {
    return mb_fail(out_error, MB_ERR_INVALID_ARG,
                   @"mb_command_buffer_create: out_command_buffer is NULL");
  }
  *out_command_buffer = NULL;
  if (device == NULL)
    return mb_fail(out_error, MB_ERR_INVALID_ARG, @"mb_command_buffer_create: device is NULL");
  MBDevice *owner = MB_BORROW(MBDevice, device);
  id<MTLCommandBuffer> commandBuffer = [owner->_queue commandBuffer];
  if (commandBuffer == nil)
    return mb_fail(out_error, MB_ERR_INTERNAL, @"Cannot create a Metal command buffer");
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
  if (out_encoder == NULL)
    return mb_fail(out_error, MB_ERR_INVALID_ARG, @"mb_encoder_create: out_encoder is NULL");
  *out_encoder = NULL;
  if (command_buffer == NULL)
    return mb_fail(out_error, MB_ERR_INVALID_ARG, @"mb_encoder_create: command_buffer is NULL");
  MBCommandBuffer *owner = MB_BORROW(MBCommandBuffer, command_buffer);
  MBCompletion *completion = owner->_completion;
  [completion->_condition lock];
  BOOL committed = completion->_committed;
  [completion->_condition unlock];
  if (committed) {
    return mb_fail(out_error, MB_ERR_INVALID_ARG,
                   @"mb_encoder_create: the command buffer was already committed");
  }
  if (owner->_encoderOpen) {
    return mb_fail(out_error, MB_ERR_INVALID_ARG,
                   @"mb_encoder_create: the command buffer has an encoder that was not ended");
  }
  id<MTLComputeCommandEncoder> encoder = [owner->_commandBuffer computeCommandEncoder];
  if (encoder == nil)
    return mb_fail(out_error, MB_ERR_INTERNAL, @"Cannot create a Metal compute command encoder");
  MBEncoder *result = [MBEncoder new];
  result->_owner = owner;
  result->_encoder = encoder;
  owner->_encoderOpen = YES;
  *out_encoder = MB_HANDLE(mb_encoder, result);
  return MB_OK;
}

MB_API mb_status mb_encoder_create(mb_command_buffer *command_buffer, mb_encoder **out_encoder,
                                   mb_error **out_error) {
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

static void mb_encoder_reject_text(MBEncoder *encoder, const mbc_text *text) {
  mb_encoder_reject(encoder, [NSString stringWithUTF8String:text->data] ?: @"(message not UTF-8)");
}

/* The checks every set_* call shares, worded as on the CPU backend. */
static BOOL mb_encoder_usable(MBEncoder *encoder, const char *call, uint32_t index) {
  if (encoder->_ended) {
    mb_encoder_reject(encoder, [NSString stringWithFormat:@"%s: the encoder has ended", call]);
    return NO;
  }
  mbc_text text;
  if (mbc_check_index(call, index, &text) != MB_OK) {
    mb_encoder_reject_text(encoder, &text);
    return NO;
  }
  return YES;
}

MB_API void mb_encoder_set_pipeline(mb_encoder *encoder, mb_pipeline *pipeline) {
  if (encoder == NULL) return;
  @autoreleasepool {
    MBEncoder *enc = MB_BORROW(MBEncoder, encoder);
    @try {
      if (!mb_encoder_usable(enc, "mb_encoder_set_pipeline", 0)) return;
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

MB_API void mb_encoder_set_buffer(mb_encoder *encoder, mb_buffer *buffer, uint64_t offset,
                                  uint32_t index) {
  if (encoder == NULL) return;
  @autoreleasepool {
    MBEncoder *enc = MB_BORROW(MBEncoder, encoder);
    @try {
      if (!mb_encoder_usable(enc, "mb_encoder_set_buffer", index)) return;
      if (buffer == NULL) {
        mb_encoder_reject(
            enc, [NSString
                     stringWithFormat:@"mb_encoder_set_buffer: buffer at index %u is NULL", index]);
        return;
      }
      MBBuffer *b = MB_BORROW(MBBuffer, buffer);
      mbc_text text;
      if (mbc_check_buffer_offset(offset, b->_length, index, &text) != MB_OK) {
        mb_encoder_reject_text(enc, &text);
        return;
      }
      [enc->_encoder setBuffer:b->_buffer offset:(NSUInteger)offset atIndex:index];
      enc->_buffersBound |= 1u << index;
      [enc->_owner->_completion retainObject:b];
    } @catch (id exception) {
      mb_encoder_reject(enc, @"mb_encoder_set_buffer raised an Objective-C exception");
    }
  }
}

MB_API void mb_encoder_set_bytes(mb_encoder *encoder, const void *bytes, uint64_t length,
                                 uint32_t index) {
  if (encoder == NULL) return;
  @autoreleasepool {
    MBEncoder *enc = MB_BORROW(MBEncoder, encoder);
    @try {
      if (!mb_encoder_usable(enc, "mb_encoder_set_bytes", index)) return;
      mbc_text text;
      if (mbc_check_set_bytes(bytes, length, index, &text) != MB_OK) {
        mb_encoder_reject_text(enc, &text);
        return;
      }
      /* setBytes: copies the bytes now, so the caller's memory may be reused at once. */
      [enc->_encoder setBytes:bytes length:(NSUInteger)length atIndex:index];
      enc->_buffersBound |= 1u << index;
    } @catch (id exception) {
      mb_encoder_reject(enc, @"mb_encoder_set_bytes raised an Objective-C exception");
    }
  }
}

MB_API void mb_encoder_set_threadgroup_memory_length(mb_encoder *encoder, uint64_t length,
                                                     uint32_t index) {
  if (encoder == NULL) return;
  @autoreleasepool {
    MBEncoder *enc = MB_BORROW(MBEncoder, encoder);
    @try {
      if (!mb_encoder_usable(enc, "mb_encoder_set_threadgroup_memory_length", index)) return;
      mbc_text text;
      if (mbc_check_threadgroup_length(length, index, &text) != MB_OK) {
        mb_encoder_reject_text(enc, &text);
        return;
      }
      enc->_threadgroupMemory[index] = length;
      if (length == 0) {
        enc->_threadgroupsSet &= ~(1u << index);
        return;
      }
      enc->_threadgroupsSet |= 1u << index;
      /* An absurd length stays away from Metal: the dispatch refuses it (with the pipeline's
       * static memory counted) before anything is encoded. */
      if (length <= enc->_owner->_device->_maxThreadgroupMemory) {
        [enc->_encoder setThreadgroupMemoryLength:(NSUInteger)length atIndex:index];
      }
    } @catch (id exception) {
      mb_encoder_reject(
          enc, @"mb_encoder_set_threadgroup_memory_length raised an Objective-C exception");
    }
  }
}

/*
 * Checks shared by both dispatch forms, in the CPU backend's order and words (common/
 * contract.h); `grid` is YES for dispatchThreads. `threadsInGrid` is the grid in threads (for
 * dispatchThreadgroups: groups x threads, already checked to fit in 32 bits).
 */
static mb_status mb_dispatch(MBEncoder *enc, BOOL grid, const uint32_t size[3],
                             const uint32_t threadsInGrid[3], const uint32_t threads[3],
                             mb_error **out_error) {
  if (enc->_ended)
    return mb_fail(out_error, MB_ERR_INVALID_ARG, @"dispatch: the encoder has ended");
  if (enc->_pendingError != nil) {
    NSString *message = enc->_pendingError;
    enc->_pendingError = nil; /* reported once; later dispatches start clean */
    return mb_fail(out_error, MB_ERR_INVALID_ARG, message);
  }
  MBPipeline *pipeline = enc->_pipeline;
  if (pipeline == nil) {
    return mb_fail(out_error, MB_ERR_INVALID_ARG,
                   @"dispatch: no pipeline set (call mb_encoder_set_pipeline)");
  }
  const char *kernel = (const char *)pipeline->_name.bytes;
  MBDevice *device = enc->_owner->_device;
  uint64_t setMemory = 0;
  for (uint32_t i = 0; i < MB_MAX_BINDINGS; i++) setMemory += enc->_threadgroupMemory[i];
  uint32_t deviceMaxThreads = device->_maxThreadsPerThreadgroup.width > UINT32_MAX
                                  ? UINT32_MAX
                                  : (uint32_t)device->_maxThreadsPerThreadgroup.width;
  mbc_text text;
  mb_status status = mbc_check_dispatch_sizes(kernel, threadsInGrid, threads, &text);
  if (status == MB_OK) {
    status = mbc_check_threadgroup_size(kernel, threads, pipeline->_maxTotalThreads,
                                        deviceMaxThreads, &text);
  }
  if (status == MB_OK) {
    status = mbc_check_threadgroup_memory(kernel, setMemory, pipeline->_staticThreadgroupMemory,
                                          device->_maxThreadgroupMemory, &text);
  }
  if (status == MB_OK) {
    status = mbc_check_bindings(kernel, pipeline->_buffersUsed, enc->_buffersBound,
                                pipeline->_threadgroupsUsed, enc->_threadgroupsSet, &text);
  }
  if (status != MB_OK) return mb_fail_text(out_error, status, &text);

  MTLSize perDim = device->_maxThreadsPerThreadgroup;
  if (threads[0] > perDim.width || threads[1] > perDim.height || threads[2] > perDim.depth) {
    return mb_fail(
        out_error, MB_ERR_LIMIT,
        [NSString stringWithFormat:
                      @"dispatch of kernel \"%s\": threadgroup of %ux%ux%u threads exceeds the "
                      @"device's %lux%lux%lu",
                      kernel, threads[0], threads[1], threads[2], (unsigned long)perDim.width,
                      (unsigned long)perDim.height, (unsigned long)perDim.depth]);
  }
  MTLSize threadgroup = MTLSizeMake(threads[0], threads[1], threads[2]);
  if (grid) {
    if (!device->_nonUniformThreadgroups) {
      return mb_fail(out_error, MB_ERR_UNSUPPORTED,
                     @"mb_encoder_dispatch_threads: this GPU has no non-uniform threadgroups "
                     @"(Apple4+ or Mac2); use "
                     @"mb_encoder_dispatch_threadgroups");
    }
    [enc->_encoder dispatchThreads:MTLSizeMake(size[0], size[1], size[2])
             threadsPerThreadgroup:threadgroup];
  } else {
    [enc->_encoder dispatchThreadgroups:MTLSizeMake(size[0], size[1], size[2])
                  threadsPerThreadgroup:threadgroup];
  }
  return MB_OK;
}

MB_API mb_status mb_encoder_dispatch_threadgroups(mb_encoder *encoder, uint32_t groups_x,
                                                  uint32_t groups_y, uint32_t groups_z,
                                                  uint32_t threads_x, uint32_t threads_y,
                                                  uint32_t threads_z, mb_error **out_error) {
  if (encoder == NULL) return mb_fail(out_error, MB_ERR_INVALID_ARG, @"dispatch: encoder is NULL");
  @autoreleasepool {
    @try {
      const uint32_t groups[3] = {groups_x, groups_y, groups_z};
      const uint32_t threads[3] = {threads_x, threads_y, threads_z};
      uint32_t grid[3];
      mbc_text text;
      mb_status status = mbc_check_group_grid(groups, threads, grid, &text);
      if (status != MB_OK) return mb_fail_text(out_error, status, &text);
      return mb_dispatch(MB_BORROW(MBEncoder, encoder), NO, groups, grid, threads, out_error);
    } @catch (id exception) {
      return mb_fail_exception(out_error, exception);
    }
  }
}

MB_API mb_status mb_encoder_dispatch_threads(mb_encoder *encoder, uint32_t grid_x, uint32_t grid_y,
                                             uint32_t grid_z, uint32_t threads_x,
                                             uint32_t threads_y, uint32_t threads_z,
                                             mb_error **out_error) {
  if (encoder == NULL) return mb_fail(out_error, MB_ERR_INVALID_ARG, @"dispatch: encoder is NULL");
  @autoreleasepool {
    @try {
      const uint32_t grid[3] = {grid_x, grid_y, grid_z};
      const uint32_t threads[3] = {threads_x, threads_y, threads_z};
      return mb_dispatch(MB_BORROW(MBEncoder, encoder), YES, grid, grid, threads, out_error);
    } @catch (id exception) {
      return mb_fail_exception(out_error, exception);
    }
  }
}

/* ---- Commit, wait, status ------------------------------------------------------------------- */

static mb_status mb_command_buffer_commit_impl(mb_command_buffer *command_buffer,
                                               mb_error **out_error) {
  if (command_buffer == NULL)
    return mb_fail(out_error, MB_ERR_INVALID_ARG,
                   @"mb_command_buffer_commit: command_buffer is NULL");
  MBCommandBuffer *cb = MB_BORROW(MBCommandBuffer, command_buffer);
  if (cb->_encoderOpen) {
    return mb_fail(out_error, MB_ERR_INVALID_ARG,
                   @"mb_command_buffer_commit: end the encoder (mb_encoder_end) before commit");
  }
  MBCompletion *completion = cb->_completion;
  [completion->_condition lock];
  BOOL already = completion->_committed;
  [completion->_condition unlock];
  if (already) {
    return mb_fail(out_error, MB_ERR_INVALID_ARG,
                   @"mb_command_buffer_commit: the command buffer was already committed");
  }

  /* Completed handlers must be added before commit. The handler captures only `completion`.
   * _committed is set only once commit has returned: if either call throws, the command buffer
   * stays uncommitted and a wait reports that instead of blocking for ever. */
  [cb->_commandBuffer addCompletedHandler:^(id<MTLCommandBuffer> done) {
    (void)done;
    [completion markCompleted];
  }];
  [cb->_commandBuffer commit];
  [completion->_condition lock];
  completion->_committed = YES;
  [completion->_condition unlock];
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
static mb_status mb_command_buffer_wait_impl(mb_command_buffer *command_buffer,
                                             mb_error **out_error) {
  if (command_buffer == NULL)
    return mb_fail(out_error, MB_ERR_INVALID_ARG,
                   @"mb_command_buffer_wait: command_buffer is NULL");
  MBCommandBuffer *cb = MB_BORROW(MBCommandBuffer, command_buffer);
  MBCompletion *completion = cb->_completion;
  [completion->_condition lock];
  if (!completion->_committed) {
    [completion->_condition unlock];
    return mb_fail(out_error, MB_ERR_INVALID_ARG,
                   @"mb_command_buffer_wait: the command buffer was not committed");
  }
  while (!completion->_completed) [completion->_condition wait];
  [completion->_condition unlock];

  if (cb->_commandBuffer.status == MTLCommandBufferStatusError) {
    NSError *error = cb->_commandBuffer.error;
    return mb_fail(
        out_error, MB_ERR_EXECUTION,
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
        case MTLCommandBufferStatusEnqueued:
          return MB_CMD_NOT_COMMITTED;
        case MTLCommandBufferStatusCommitted:
        case MTLCommandBufferStatusScheduled:
          return MB_CMD_COMMITTED;
        case MTLCommandBufferStatusCompleted:
          return MB_CMD_COMPLETED;
        case MTLCommandBufferStatusError:
          return MB_CMD_ERROR;
      }
      return MB_CMD_ERROR;
    } @catch (id exception) {
      return MB_CMD_ERROR;
    }
  }
}

static mb_status mb_command_buffer_gpu_time_impl(const mb_command_buffer *command_buffer,
                                                 double *out_start, double *out_end,
                                                 mb_error **out_error) {
  if (command_buffer == NULL) {
    return mb_fail(out_error, MB_ERR_INVALID_ARG,
                   @"mb_command_buffer_gpu_time: command_buffer is NULL");
  }
  if (out_start == NULL || out_end == NULL) {
    return mb_fail(out_error, MB_ERR_INVALID_ARG,
                   @"mb_command_buffer_gpu_time: out_start and out_end must not be NULL");
  }
  MBCommandBuffer *cb = MB_BORROW(MBCommandBuffer, command_buffer);
  MBCompletion *completion = cb->_completion;
  [completion->_condition lock];
  BOOL completed = completion->_completed;
  [completion->_condition unlock];
  if (!completed) {
    return mb_fail(out_error, MB_ERR_INVALID_ARG,
                   @"mb_command_buffer_gpu_time: the command buffer has not completed");
  }
  CFTimeInterval start = cb->_commandBuffer.GPUStartTime, end = cb->_commandBuffer.GPUEndTime;
  if (start == 0 && end == 0) {
    return mb_fail(out_error, MB_ERR_UNSUPPORTED,
                   @"mb_command_buffer_gpu_time: the GPU reported no start and end times");
  }
  *out_start = start;
  *out_end = end;
  return MB_OK;
}

MB_API mb_status mb_command_buffer_gpu_time(const mb_command_buffer *command_buffer,
                                            double *out_start, double *out_end,
                                            mb_error **out_error) {
  @autoreleasepool {
    @try {
      return mb_command_buffer_gpu_time_impl(command_buffer, out_start, out_end, out_error);
    } @catch (id exception) {
      return mb_fail_exception(out_error, exception);
    }
  }
}
