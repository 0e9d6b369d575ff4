// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * The one FFI symbol table: every function of `metal_bridge/metal_bridge.h`, with its C
 * parameters named in comments. Both backends export exactly these symbols. Slow calls
 * (compiles, waits) have a `nonblocking` twin that runs on Deno's FFI thread pool and
 * returns a Promise; the twin names the same C function through `name`.
 *
 * @module
 */

const libraryCreate = {
  parameters: [
    "pointer", // mb_device* device
    "buffer", // const char* source
    "usize", // size_t source_length
    "buffer", // const char* source_name
    "buffer", // const char* macros
    "i32", // int32_t math_mode
    "u32", // uint32_t language_version
    "buffer", // mb_library** out_library
    "buffer", // mb_error** out_error
  ],
  result: "i32",
} as const;

const pipelineCreate = {
  parameters: [
    "pointer", // mb_library* library
    "buffer", // const char* function_name
    "buffer", // const uint32_t* constants
    "u32", // uint32_t constant_count
    "buffer", // const char* label
    "buffer", // mb_pipeline** out_pipeline
    "buffer", // mb_error** out_error
  ],
  result: "i32",
} as const;

const commandBufferWait = {
  parameters: [
    "pointer", // mb_command_buffer* command_buffer
    "buffer", // mb_error** out_error
  ],
  result: "i32",
} as const;

/** The symbols of `metal_bridge.h`, in header order. */
export const SYMBOLS = {
  mb_abi_version: { parameters: [], result: "u32" },
  mb_backend_name: { parameters: [], result: "pointer" },
  mb_status_name: { parameters: ["i32" /* mb_status status */], result: "pointer" },
  mb_error_code: { parameters: ["pointer" /* const mb_error* error */], result: "i32" },
  mb_error_message: { parameters: ["pointer" /* const mb_error* error */], result: "pointer" },
  mb_error_free: { parameters: ["pointer" /* mb_error* error */], result: "void" },

  mb_device_create: {
    parameters: [
      "buffer", // const char* config
      "buffer", // mb_device** out_device
      "buffer", // mb_error** out_error
    ],
    result: "i32",
  },
  mb_device_release: { parameters: ["pointer" /* mb_device* device */], result: "void" },
  mb_device_name: { parameters: ["pointer" /* const mb_device* device */], result: "pointer" },
  mb_device_capabilities: {
    parameters: ["pointer" /* const mb_device* device */],
    result: "u32",
  },
  mb_device_max_threadgroup_memory: {
    parameters: ["pointer" /* const mb_device* device */],
    result: "u64",
  },
  mb_device_info: { parameters: ["pointer" /* const mb_device* device */], result: "pointer" },
  mb_device_max_threads_per_threadgroup: {
    parameters: ["pointer" /* const mb_device* device */],
    result: "u32",
  },

  mb_library_create: libraryCreate,
  mb_library_create_async: { ...libraryCreate, name: "mb_library_create", nonblocking: true },
  mb_library_release: { parameters: ["pointer" /* mb_library* library */], result: "void" },

  mb_pipeline_create: pipelineCreate,
  mb_pipeline_create_async: { ...pipelineCreate, name: "mb_pipeline_create", nonblocking: true },
  mb_pipeline_release: { parameters: ["pointer" /* mb_pipeline* pipeline */], result: "void" },
  mb_pipeline_origin: {
    parameters: ["pointer" /* const mb_pipeline* pipeline */],
    result: "u32",
  },
  mb_pipeline_max_total_threads_per_threadgroup: {
    parameters: ["pointer" /* const mb_pipeline* pipeline */],
    result: "u32",
  },
  mb_pipeline_thread_execution_width: {
    parameters: ["pointer" /* const mb_pipeline* pipeline */],
    result: "u32",
  },
  mb_pipeline_static_threadgroup_memory_length: {
    parameters: ["pointer" /* const mb_pipeline* pipeline */],
    result: "u64",
  },
  mb_pipeline_execution: {
    parameters: ["pointer" /* const mb_pipeline* pipeline */],
    result: "u32",
  },
  mb_pipeline_function_constant_count: {
    parameters: ["pointer" /* const mb_pipeline* pipeline */],
    result: "u32",
  },
  mb_pipeline_function_constant: {
    parameters: [
      "pointer", // const mb_pipeline* pipeline
      "u32", // uint32_t position
      "buffer", // uint32_t* out_fields
      "buffer", // const char** out_name
    ],
    result: "i32",
  },

  mb_buffer_create: {
    parameters: [
      "pointer", // mb_device* device
      "u64", // uint64_t length
      "buffer", // mb_buffer** out_buffer
      "buffer", // mb_error** out_error
    ],
    result: "i32",
  },
  mb_buffer_release: { parameters: ["pointer" /* mb_buffer* buffer */], result: "void" },
  mb_buffer_contents: { parameters: ["pointer" /* const mb_buffer* buffer */], result: "pointer" },
  mb_buffer_length: { parameters: ["pointer" /* const mb_buffer* buffer */], result: "u64" },

  mb_command_buffer_create: {
    parameters: [
      "pointer", // mb_device* device
      "buffer", // mb_command_buffer** out_command_buffer
      "buffer", // mb_error** out_error
    ],
    result: "i32",
  },
  mb_command_buffer_release: {
    parameters: ["pointer" /* mb_command_buffer* command_buffer */],
    result: "void",
  },
  mb_encoder_create: {
    parameters: [
      "pointer", // mb_command_buffer* command_buffer
      "buffer", // mb_encoder** out_encoder
      "buffer", // mb_error** out_error
    ],
    result: "i32",
  },
  mb_encoder_release: { parameters: ["pointer" /* mb_encoder* encoder */], result: "void" },
  mb_encoder_set_pipeline: {
    parameters: [
      "pointer", // mb_encoder* encoder
      "pointer", // mb_pipeline* pipeline
    ],
    result: "void",
  },
  mb_encoder_set_buffer: {
    parameters: [
      "pointer", // mb_encoder* encoder
      "pointer", // mb_buffer* buffer
      "u64", // uint64_t offset
      "u32", // uint32_t index
    ],
    result: "void",
  },
  mb_encoder_set_bytes: {
    parameters: [
      "pointer", // mb_encoder* encoder
      "buffer", // const void* bytes
      "u64", // uint64_t length
      "u32", // uint32_t index
    ],
    result: "void",
  },
  mb_encoder_set_threadgroup_memory_length: {
    parameters: [
      "pointer", // mb_encoder* encoder
      "u64", // uint64_t length
      "u32", // uint32_t index
    ],
    result: "void",
  },
  mb_encoder_dispatch_threadgroups: {
    parameters: [
      "pointer", // mb_encoder* encoder
      "u32", // uint32_t groups_x
      "u32", // uint32_t groups_y
      "u32", // uint32_t groups_z
      "u32", // uint32_t threads_x
      "u32", // uint32_t threads_y
      "u32", // uint32_t threads_z
      "buffer", // mb_error** out_error
    ],
    result: "i32",
  },
  mb_encoder_dispatch_threads: {
    parameters: [
      "pointer", // mb_encoder* encoder
      "u32", // uint32_t grid_x
      "u32", // uint32_t grid_y
      "u32", // uint32_t grid_z
      "u32", // uint32_t threads_x
      "u32", // uint32_t threads_y
      "u32", // uint32_t threads_z
      "buffer", // mb_error** out_error
    ],
    result: "i32",
  },
  mb_encoder_end: { parameters: ["pointer" /* mb_encoder* encoder */], result: "void" },

  mb_command_buffer_commit: {
    parameters: [
      "pointer", // mb_command_buffer* command_buffer
      "buffer", // mb_error** out_error
    ],
    result: "i32",
  },
  mb_command_buffer_wait: commandBufferWait,
  mb_command_buffer_wait_async: {
    ...commandBufferWait,
    name: "mb_command_buffer_wait",
    nonblocking: true,
  },
  mb_command_buffer_status: {
    parameters: ["pointer" /* const mb_command_buffer* command_buffer */],
    result: "i32",
  },
  mb_command_buffer_gpu_time: {
    parameters: [
      "pointer", // const mb_command_buffer* command_buffer
      "buffer", // double* out_start
      "buffer", // double* out_end
      "buffer", // mb_error** out_error
    ],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** The bound library: `Deno.dlopen(path, SYMBOLS)`. */
export type BridgeLibrary = Deno.DynamicLibrary<typeof SYMBOLS>;

/** The functions of a bound library, called as `symbols.mb_…`. */
export type BridgeSymbols = BridgeLibrary["symbols"];
