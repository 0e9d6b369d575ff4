/*
 * metal_bridge.h — the one C ABI of @metal-compute/kernels.
 *
 * Two implementations: metal_bridge.m (Objective-C over Metal.framework, macOS) and
 * cpu/ (C++: MSL compiled by clang and run on a CPU worker pool). The TypeScript side
 * (ffi/symbols.ts) binds exactly these symbols through Deno FFI.
 *
 * Conventions
 * - Handles are pointers to incomplete structs. Every *_release accepts NULL.
 * - Every fallible call returns mb_status (MB_OK = 0). On failure it writes a new mb_error
 *   to *out_error when out_error is not NULL; the caller owns it and frees it with
 *   mb_error_free. There is no "last error" state: calls may run concurrently on Deno's
 *   FFI thread pool, so an error travels with its call.
 * - Nothing aborts or throws across this boundary: C++ and Objective-C exceptions are
 *   caught at the edge and become MB_ERR_INTERNAL.
 * - A bad argument gets the same status and the same message from both implementations: the
 *   checks and their wording live once, in common/contract.h, which both include
 *   (tests/bridge_parity_test.ts runs a table of bad inputs against each).
 * - Strings in are NUL-terminated UTF-8 unless a length is given; strings out are owned by
 *   the object they come from and live as long as it does.
 * - Ownership: a create call returns one reference. A command buffer retains every
 *   pipeline and buffer encoded into it until it completes, so releasing them while work
 *   is queued is safe.
 * - Thread safety: devices, libraries, pipelines and buffers may be used from any thread.
 *   A command buffer and its encoder are used by one thread at a time.
 * - Compile diagnostics name the source as the `source_name` given to mb_library_create,
 *   one per line, as `NAME:LINE:COLUMN: error: MESSAGE` (clang's format; LINE and COLUMN
 *   are 1-based positions in the MSL source as given).
 */
#ifndef METAL_BRIDGE_H
#define METAL_BRIDGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define MB_API __declspec(dllexport)
#else
#define MB_API __attribute__((visibility("default")))
#endif

/* Version of this header. Bumped on any change; mb_abi_version() must return the same. */
#define MB_ABI_VERSION 6

typedef struct mb_error mb_error;
typedef struct mb_device mb_device;
typedef struct mb_library mb_library;
typedef struct mb_pipeline mb_pipeline;
typedef struct mb_buffer mb_buffer;
typedef struct mb_command_buffer mb_command_buffer;
typedef struct mb_encoder mb_encoder;

/* Status codes. Values are stable and append-only. */
typedef int32_t mb_status;
#define MB_OK 0
#define MB_ERR_INVALID_ARG 1 /* a bad argument: NULL handle, index out of range, bad constant */
#define MB_ERR_NOT_FOUND 2   /* a named function does not exist in the library */
#define MB_ERR_COMPILE 3     /* the MSL source did not compile; the message holds diagnostics */
#define MB_ERR_OOM 4         /* an allocation failed */
#define MB_ERR_UNSUPPORTED 5 /* the backend cannot do this (missing compiler, feature) */
#define MB_ERR_EXECUTION 6   /* a command buffer failed while running */
#define MB_ERR_LIMIT 7       /* a device or pipeline limit was exceeded (threads, memory) */
#define MB_ERR_INTERNAL 8    /* an unexpected failure inside the bridge */
#define MB_ERR_IO 9          /* a file (the persistent cache) could not be read or written */

/* Device capability bits (mb_device_capabilities). */
#define MB_CAP_BFLOAT16 (1u << 0)         /* bfloat arithmetic in MSL */
#define MB_CAP_SIMDGROUP_MATRIX (1u << 1) /* simdgroup_matrix 8x8 */
#define MB_CAP_TENSOR_API (1u << 2)       /* Metal 4 tensor ops (MetalPerformancePrimitives) */
#define MB_CAP_UNIFIED_MEMORY (1u << 3)   /* buffers are shared with the host */

/* Math modes for mb_library_create (MTLMathMode). */
#define MB_MATH_SAFE 0
#define MB_MATH_RELAXED 1
#define MB_MATH_FAST 2 /* Metal's default */

/* Function constant types (mb_pipeline_create). */
#define MB_CONSTANT_BOOL 1   /* value 0 or 1 */
#define MB_CONSTANT_INT 2    /* int32 bits */
#define MB_CONSTANT_UINT 3   /* uint32 */
#define MB_CONSTANT_FLOAT 4  /* float32 bits */
#define MB_CONSTANT_HALF 5   /* IEEE half bits in the low 16 bits */
#define MB_CONSTANT_SHORT 6  /* int16 bits in the low 16 bits */
#define MB_CONSTANT_USHORT 7 /* uint16 in the low 16 bits */

/* Where a pipeline's compiled code came from (mb_pipeline_origin). */
#define MB_ORIGIN_COMPILED 0 /* compiled by this process */
#define MB_ORIGIN_CACHE 1    /* read from the persistent cache (see mb_device_create) */

/* How a pipeline runs the threads of a threadgroup (mb_pipeline_execution). */
#define MB_EXECUTION_GPU 0  /* on the GPU (Metal) */
#define MB_EXECUTION_LOOP 1 /* CPU: a loop over the threads (no barrier or SIMD-group function) */
#define MB_EXECUTION_WORK_ITEM_LOOPS 2 /* CPU: split at barriers and collectives into loops */
#define MB_EXECUTION_FIBERS 3          /* CPU: a fiber per thread, switching at barriers */

/* Command buffer states (mb_command_buffer_status). */
#define MB_CMD_NOT_COMMITTED 0
#define MB_CMD_COMMITTED 1
#define MB_CMD_COMPLETED 2
#define MB_CMD_ERROR 3

/* ---- Version and errors ---------------------------------------------------------------- */

/* The ABI version this library was built with (compare with MB_ABI_VERSION). */
MB_API uint32_t mb_abi_version(void);

/* The backend this library implements: "metal" or "cpu". Static string. */
MB_API const char* mb_backend_name(void);

/* Static text for a status code ("MB_ERR_COMPILE"); "MB_UNKNOWN" for other values. */
MB_API const char* mb_status_name(mb_status status);

/* The status code and message of an error. The message lives until mb_error_free. */
MB_API mb_status mb_error_code(const mb_error* error);
MB_API const char* mb_error_message(const mb_error* error);
MB_API void mb_error_free(mb_error* error);

/* ---- Device ----------------------------------------------------------------------------- */

/*
 * Opens the backend's default device. `config` is NULL or "key=value" lines; unknown keys
 * are ignored. Keys: cache_dir (where compiled artefacts live), cache_max_mb (the byte
 * budget of that persistent cache in MiB; default $METAL_COMPUTE_CACHE_MAX_MB, else 512),
 * workers (CPU threads, default: the core count), checked (1: bounds and barrier checks, CPU
 * backend).
 * The persistent cache: Metal keeps one MTLBinaryArchive per device name and OS build in
 * <cache_dir>/metal-archives/, adds every pipeline it builds, reuses it for later builds, and
 * writes it (to a temporary file, then renamed) every 16 additions and on release. The CPU
 * backend keeps sealed kernel modules in <cache_dir>/cpu-modules/ (a corrupt entry is
 * rebuilt; least recently used entries are evicted past the budget). Processes may share a
 * cache directory.
 * CPU backend only: support_dir (the directory holding msl/, default: next to this library),
 * clang (the compiler to use). Defaults there: cache_dir from $METAL_COMPUTE_CACHE_DIR, else
 * $XDG_CACHE_HOME/metal-compute, else ~/.cache/metal-compute; checked from
 * $METAL_COMPUTE_CHECKED=1. A bad value for a known key is MB_ERR_INVALID_ARG.
 * Returns MB_ERR_UNSUPPORTED when the backend has no device (no Metal GPU, no compiler).
 */
MB_API mb_status mb_device_create(const char* config, mb_device** out_device, mb_error** out_error);
MB_API void mb_device_release(mb_device* device);
/* The device's name ("Apple M2 Pro", "CPU (2 workers, clang 19.1.7)"). */
MB_API const char* mb_device_name(const mb_device* device);
/* MB_CAP_* bits. */
MB_API uint32_t mb_device_capabilities(const mb_device* device);
MB_API uint64_t mb_device_max_threadgroup_memory(const mb_device* device);
MB_API uint32_t mb_device_max_threads_per_threadgroup(const mb_device* device);
/*
 * What the backend knows about the device, as "key=value" lines for reports and bug reports
 * (the keys differ between backends and may grow; none is needed to use the device). Metal:
 * gpu_families (the MTLGPUFamily values the device supports, e.g. "apple7 apple8 mac2 metal3"),
 * registry_id, max_buffer_length, recommended_max_working_set_size, has_unified_memory,
 * os_version, sdk (the macOS SDK the bridge was built with), deployment_target. CPU backend:
 * workers, clang, clang_version, checked, cache_dir, arch. Lives as long as the device.
 */
MB_API const char* mb_device_info(const mb_device* device);

/* ---- Library ---------------------------------------------------------------------------- */

/*
 * Compiles MSL source into a library. `source` is `source_length` bytes of UTF-8.
 * `source_name` (e.g. "softmax.metal") names the source in diagnostics. `macros` is NULL or
 * "NAME=VALUE" lines (or "NAME" alone) defined before the source. `math_mode` is MB_MATH_*;
 * `language_version` is (major << 16) | minor, 0 for the backend's default.
 * Returns MB_ERR_COMPILE with the diagnostics as the message. Slow: bind it nonblocking.
 */
MB_API mb_status mb_library_create(mb_device* device, const char* source, size_t source_length,
                                   const char* source_name, const char* macros, int32_t math_mode,
                                   uint32_t language_version, mb_library** out_library,
                                   mb_error** out_error);
MB_API void mb_library_release(mb_library* library);

/* ---- Pipeline --------------------------------------------------------------------------- */

/*
 * Builds a compute pipeline for the kernel function `function_name` of `library`,
 * specialised with `constant_count` function constants. `constants` holds 3 uint32 per
 * constant: index, MB_CONSTANT_* type, value bits. Constants the function declares but
 * that are not given stay undefined (is_function_constant_defined is false).
 * `label` (may be NULL) names the pipeline in tools and captures.
 * Returns MB_ERR_NOT_FOUND when there is no such kernel; MB_ERR_INVALID_ARG for a constant
 * of the wrong type, a constant the function does not declare, or a required constant that
 * is missing; MB_ERR_COMPILE when specialisation fails. Can be slow: bind it nonblocking.
 */
MB_API mb_status mb_pipeline_create(mb_library* library, const char* function_name,
                                    const uint32_t* constants, uint32_t constant_count,
                                    const char* label, mb_pipeline** out_pipeline,
                                    mb_error** out_error);
MB_API void mb_pipeline_release(mb_pipeline* pipeline);
MB_API uint32_t mb_pipeline_max_total_threads_per_threadgroup(const mb_pipeline* pipeline);
MB_API uint32_t mb_pipeline_thread_execution_width(const mb_pipeline* pipeline);
MB_API uint64_t mb_pipeline_static_threadgroup_memory_length(const mb_pipeline* pipeline);
/*
 * MB_ORIGIN_CACHE when the persistent cache supplied the pipeline's compiled code (Metal: a
 * binary archive hit; CPU: the library's translation and the kernel module both read from
 * disk), else MB_ORIGIN_COMPILED.
 */
MB_API uint32_t mb_pipeline_origin(const mb_pipeline* pipeline);
/*
 * MB_EXECUTION_*: how dispatches of the pipeline run a threadgroup's threads. On the CPU, a
 * kernel with barriers or SIMD-group functions runs as work-item loops when the front end could
 * split it (docs/architecture.md), else on fibers; METAL_COMPUTE_CPU_EXECUTION=fibers in the
 * environment when the pipeline is created forces fibers (to compare the two).
 */
MB_API uint32_t mb_pipeline_execution(const mb_pipeline* pipeline);
/*
 * The function constants the pipeline's kernel declares, ascending by index (Metal: its
 * unspecialised function's functionConstantsDictionary; CPU: the library's declarations the
 * kernel reads): how many, and the one at `position`. `out_fields` receives 3 uint32: index,
 * MB_CONSTANT_* type (0 for a type mb_pipeline_create cannot set, e.g. a vector), required
 * (1: the kernel cannot be built without a value). `*out_name` receives its name, UTF-8,
 * valid while the pipeline lives. MB_ERR_INVALID_ARG for a NULL argument or a position out
 * of range.
 */
MB_API uint32_t mb_pipeline_function_constant_count(const mb_pipeline* pipeline);
MB_API mb_status mb_pipeline_function_constant(const mb_pipeline* pipeline, uint32_t position,
                                               uint32_t* out_fields, const char** out_name);

/* ---- Buffer ----------------------------------------------------------------------------- */

/* A zero-filled buffer of `length` bytes (> 0) in memory shared with the host. */
MB_API mb_status mb_buffer_create(mb_device* device, uint64_t length, mb_buffer** out_buffer,
                                  mb_error** out_error);
MB_API void mb_buffer_release(mb_buffer* buffer);
/* The host address of the buffer's bytes, valid until the buffer is released. */
MB_API void* mb_buffer_contents(const mb_buffer* buffer);
MB_API uint64_t mb_buffer_length(const mb_buffer* buffer);

/* ---- Command buffer and compute encoder ------------------------------------------------- */

MB_API mb_status mb_command_buffer_create(mb_device* device, mb_command_buffer** out_command_buffer,
                                          mb_error** out_error);
MB_API void mb_command_buffer_release(mb_command_buffer* command_buffer);

/* Starts a compute pass. One encoder at a time per command buffer; end it before commit. */
MB_API mb_status mb_encoder_create(mb_command_buffer* command_buffer, mb_encoder** out_encoder,
                                   mb_error** out_error);
MB_API void mb_encoder_release(mb_encoder* encoder);
/*
 * The set_* calls cannot fail on their own: a bad argument (index >= 31, NULL handle, offset
 * past the end or not a multiple of 4, more than 4096 bytes) is recorded and returned by the
 * next dispatch as MB_ERR_INVALID_ARG, and nothing is encoded. Both backends refuse with the
 * same status and message (metal_bridge/common/contract.h).
 */
MB_API void mb_encoder_set_pipeline(mb_encoder* encoder, mb_pipeline* pipeline);
/* Binds `buffer` from byte `offset` at [[buffer(index)]], index < 31. */
MB_API void mb_encoder_set_buffer(mb_encoder* encoder, mb_buffer* buffer, uint64_t offset,
                                  uint32_t index);
/* Copies `length` bytes (<= 4096) now and binds them at [[buffer(index)]]. */
MB_API void mb_encoder_set_bytes(mb_encoder* encoder, const void* bytes, uint64_t length,
                                 uint32_t index);
/* Sets the length of the [[threadgroup(index)]] memory argument (a multiple of 16 bytes). */
MB_API void mb_encoder_set_threadgroup_memory_length(mb_encoder* encoder, uint64_t length,
                                                     uint32_t index);
/*
 * Encodes a dispatch of `groups` threadgroups of `threads` threads (dispatchThreadgroups),
 * or of a grid of `grid` threads in threadgroups of `threads` (dispatchThreads; the edge
 * groups are partial). Returns MB_ERR_INVALID_ARG when no pipeline is set, a zero size is
 * given, or a [[buffer(i)]] / [[threadgroup(i)]] the kernel uses is not bound / has no length;
 * MB_ERR_LIMIT when the threadgroup is larger than the pipeline allows, threadgroup memory
 * exceeds the device limit, or the grid has more than 2^32-1 threads in a dimension.
 */
MB_API mb_status mb_encoder_dispatch_threadgroups(mb_encoder* encoder, uint32_t groups_x,
                                                  uint32_t groups_y, uint32_t groups_z,
                                                  uint32_t threads_x, uint32_t threads_y,
                                                  uint32_t threads_z, mb_error** out_error);
MB_API mb_status mb_encoder_dispatch_threads(mb_encoder* encoder, uint32_t grid_x, uint32_t grid_y,
                                             uint32_t grid_z, uint32_t threads_x,
                                             uint32_t threads_y, uint32_t threads_z,
                                             mb_error** out_error);
MB_API void mb_encoder_end(mb_encoder* encoder);

/* Submits the command buffer to the device's queue; command buffers run in commit order. */
MB_API mb_status mb_command_buffer_commit(mb_command_buffer* command_buffer, mb_error** out_error);
/*
 * Blocks until the command buffer completes. Returns MB_ERR_EXECUTION with the failure's
 * text when it failed. Bind a nonblocking twin for an awaitable wait. Any number of threads
 * may wait at once, and waiting again after completion returns at once with the same result.
 * The CPU backend fails a command buffer (and runs none of its later dispatches) when a
 * kernel reports an error in checked mode or its threads diverge at a threadgroup_barrier
 * (some return while others wait); later command buffers still run.
 */
MB_API mb_status mb_command_buffer_wait(mb_command_buffer* command_buffer, mb_error** out_error);
/* MB_CMD_* state. */
MB_API int32_t mb_command_buffer_status(const mb_command_buffer* command_buffer);
/*
 * When the device started and finished running a completed command buffer, in seconds on the
 * host's monotonic clock (Metal: GPUStartTime / GPUEndTime; CPU backend: when the queue began
 * and ended its dispatches); end - start is the device time. Returns MB_ERR_INVALID_ARG before
 * the command buffer completed (or failed), MB_ERR_UNSUPPORTED when the device reported no times.
 */
MB_API mb_status mb_command_buffer_gpu_time(const mb_command_buffer* command_buffer,
                                            double* out_start, double* out_end,
                                            mb_error** out_error);

#ifdef __cplusplus
}
#endif

#endif /* METAL_BRIDGE_H */
