// runtime.cpp — the metal_bridge.h C ABI for the CPU backend: errors, devices, libraries,
// pipelines and buffers. Command buffers, encoders and the queue that runs them are in
// commands.cpp (the bridge build optimises that file and not this one: ffi/library.ts).
//
// Every entry point catches everything at the edge (abi_guard.h): nothing throws or aborts
// across the ABI. Objects are in runtime.h; execution is in pool/worker/fiber.
#include "runtime.h"

#include "../common/contract.h"

#include "abi_guard.h"
#include "disk_cache.h"
#include "library_info.h"
#include "platform.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

using mbcpu::Status;
using namespace mbcpu::rt;

// ---- Object destructors ---------------------------------------------------------------------

mb_buffer::~mb_buffer() {
  if (guarded.mapping != nullptr) {
    free_guarded(&guarded);
  } else if (mapped_bytes != 0) {
    munmap(data, mapped_bytes);
  } else {
    std::free(data);
  }
}

// ---- Version and errors ---------------------------------------------------------------------

// Definitions keep the C linkage of their declarations in metal_bridge.h.

MB_API uint32_t mb_abi_version(void) { return MB_ABI_VERSION; }

MB_API const char* mb_backend_name(void) { return "cpu"; }

MB_API const char* mb_status_name(mb_status status) { return mbc_status_name(status); }

MB_API mb_status mb_error_code(const mb_error* error) {
  return error != nullptr ? error->code : MB_OK;
}

MB_API const char* mb_error_message(const mb_error* error) {
  return error != nullptr ? error->message.c_str() : "";
}

MB_API void mb_error_free(mb_error* error) {
  if (error != &g_oom_error) delete error;
}

namespace mbcpu::rt {

mb_status set_error(mb_error** out_error, mb_status code, std::string message) noexcept {
  if (out_error == nullptr) return code;
  try {
    *out_error = new mb_error{code, std::move(message)};
  } catch (...) {
    *out_error = &g_oom_error;
  }
  return code;
}

mb_status set_error_from_exception(mb_error** out_error) noexcept {
  mb_status code = MB_ERR_INTERNAL;
  try {
    try {
      throw;
    } catch (const std::bad_alloc&) {
      code = MB_ERR_OOM;
      return set_error(out_error, code, "out of memory");
    } catch (const std::exception& e) {
      return set_error(out_error, code, std::string("internal error: ") + e.what());
    } catch (...) {
      return set_error(out_error, code, "internal error: unknown exception");
    }
  } catch (...) {  // no memory for the message
    if (out_error != nullptr) *out_error = &g_oom_error;
    return code;
  }
}

Status invalid(const char* message) { return {MB_ERR_INVALID_ARG, message}; }

Status invalid(std::string message) { return {MB_ERR_INVALID_ARG, std::move(message)}; }

Status refused(mb_status status, const mbc_text& text) { return {status, std::string(text.data)}; }

}  // namespace mbcpu::rt

// ---- Device ---------------------------------------------------------------------------------

MB_API mb_status mb_device_create(const char* config, mb_device** out_device,
                                  mb_error** out_error) {
  return guarded(out_error, [&]() -> Status {
    if (out_device == nullptr) return invalid("mb_device_create: out_device is NULL");
    *out_device = nullptr;
    DeviceOptions options;
    if (Status s = parse_device_options(config, &options); !s.ok()) return s;
    pin_bridge_library();
    auto device = Ref<mb_device>::adopt(new mb_device());
    if (Status s = resolve_compiler(options, &device->compiler); !s.ok()) return s;
    // The fault handler serves every device (kernel faults fail their command buffer in the
    // default mode too); installed now, so a failure to do so is reported at open.
    if (std::string why = install_fault_handler(); !why.empty()) return {MB_ERR_UNSUPPORTED, why};
    if (options.checked) {
      if (std::string why = enable_checked_runtime(); !why.empty())
        return {MB_ERR_UNSUPPORTED, why};
    }
    device->checked = options.checked;
    device->queue = std::make_shared<Queue>(options.workers, options.command_timeout_ms);
    device->name = "CPU (" + std::to_string(options.workers) +
                   (options.workers == 1 ? " worker" : " workers") + ", clang " +
                   device->compiler.clang_version + ")";
    device->info =
        "workers=" + std::to_string(options.workers) + "\nclang=" + device->compiler.clang +
        "\nclang_version=" + device->compiler.clang_version +
        "\nchecked=" + (options.checked ? "1" : "0") + "\ncache_dir=" + device->compiler.cache_dir +
#if defined(__aarch64__)
        "\narch=aarch64";
#else
                   "\narch=x86_64";
#endif
    *out_device = device.detach();
    return {};
  });
}

MB_API void mb_device_release(mb_device* device) {
  quietly([&] {
    if (device != nullptr) device->release();
  });
}

MB_API const char* mb_device_name(const mb_device* device) {
  return device != nullptr ? device->name.c_str() : "";
}

MB_API const char* mb_device_info(const mb_device* device) {
  return device != nullptr ? device->info.c_str() : "";
}

MB_API uint32_t mb_device_capabilities(const mb_device* device) {
  if (device == nullptr) return 0;
  return MB_CAP_BFLOAT16 | MB_CAP_SIMDGROUP_MATRIX | MB_CAP_UNIFIED_MEMORY;
}

MB_API uint64_t mb_device_max_threadgroup_memory(const mb_device* device) {
  return device != nullptr ? kMaxThreadgroupMemory : 0;
}

MB_API uint32_t mb_device_max_threads_per_threadgroup(const mb_device* device) {
  return device != nullptr ? kMaxThreadsPerThreadgroup : 0;
}

// ---- Library --------------------------------------------------------------------------------

MB_API mb_status mb_library_create(mb_device* device, const char* source, size_t source_length,
                                   const char* source_name, const char* macros, int32_t math_mode,
                                   uint32_t language_version, mb_library** out_library,
                                   mb_error** out_error) {
  return guarded(out_error, [&]() -> Status {
    if (out_library == nullptr) return invalid("mb_library_create: out_library is NULL");
    *out_library = nullptr;
    if (device == nullptr) return invalid("mb_library_create: device is NULL");
    if (source == nullptr && source_length != 0)
      return invalid("mb_library_create: source is NULL");
    if (mbc_text text; mbc_check_math_mode(math_mode, &text) != MB_OK) return invalid(text.data);
    if (mbc_text text; mbc_check_language_version(language_version, &text) != MB_OK)
      return invalid(text.data);
    if (mbc_text text; mbc_check_macros(macros, &text) != MB_OK) return invalid(text.data);
    mbcpu::LibrarySource src;
    src.text.assign(source != nullptr ? source : "", source_length);
    src.source_name = source_name != nullptr && *source_name ? source_name : "program_source";
    src.macros = macros != nullptr ? macros : "";
    src.math_mode = math_mode;
    src.language_version = language_version;
    std::shared_ptr<const mbcpu::LibraryInfo> info;
    if (Status s = mbcpu::compile_library(device->compiler, src, &info); !s.ok()) return s;
    if (!info) return {MB_ERR_INTERNAL, "compile_library returned no library"};
    auto library = Ref<mb_library>::adopt(new mb_library());
    library->compiler = device->compiler;
    library->info = std::move(info);
    *out_library = library.detach();
    return {};
  });
}

MB_API void mb_library_release(mb_library* library) {
  quietly([&] {
    if (library != nullptr) library->release();
  });
}

// ---- Pipeline -------------------------------------------------------------------------------

namespace {

Status check_constants(const uint32_t* words, uint32_t count,
                       mbcpu::Vec<mbcpu::ConstantValue>* out) {
  if (count != 0 && words == nullptr) return invalid("mb_pipeline_create: constants is NULL");
  for (uint32_t i = 0; i < count; ++i) {
    const mbcpu::ConstantValue c{words[3 * i], words[3 * i + 1], words[3 * i + 2]};
    mbc_text text;
    if (const mb_status status = mbc_check_constant(words, i, &text); status != MB_OK)
      return refused(status, text);
    out->push_back(c);
  }
  // One order for one set of constants, whatever order the caller gave them in.
  std::sort(out->begin(), out->end(),
            [](const auto& a, const auto& b) { return a.index < b.index; });
  return {};
}

Status not_found(const mbcpu::LibraryInfo& library, const std::string& name) {
  // Worded as the Metal bridge words it ("; it has none" for a library without kernels).
  std::string message = "no kernel function \"" + name + "\" in " + library.source.source_name +
                        (library.kernel_names.empty() ? "; it has none" : "; it has: ");
  for (size_t i = 0; i < library.kernel_names.size(); ++i)
    message += (i ? ", " : "") + library.kernel_names[i];
  return {MB_ERR_NOT_FOUND, message};
}

}  // namespace

MB_API mb_status mb_pipeline_create(mb_library* library, const char* function_name,
                                    const uint32_t* constants, uint32_t constant_count,
                                    const char* label, mb_pipeline** out_pipeline,
                                    mb_error** out_error) {
  return guarded(out_error, [&]() -> Status {
    if (out_pipeline == nullptr) return invalid("mb_pipeline_create: out_pipeline is NULL");
    *out_pipeline = nullptr;
    if (library == nullptr) return invalid("mb_pipeline_create: library is NULL");
    if (function_name == nullptr) return invalid("mb_pipeline_create: function_name is NULL");
    const mbcpu::LibraryInfo& info = *library->info;
    const std::string name = function_name;
    if (std::find(info.kernel_names.begin(), info.kernel_names.end(), name) ==
        info.kernel_names.end())
      return not_found(info, name);
    mbcpu::Vec<mbcpu::ConstantValue> values;
    if (Status s = check_constants(constants, constant_count, &values); !s.ok()) return s;

    std::string path;
    bool compiled = false;
    if (Status s = mbcpu::build_module(library->compiler, info, values, &path, &compiled, name);
        !s.ok())
      return s;
    std::shared_ptr<const LoadedModule> module;
    if (Status s = load_module(path, info.source, &module); !s.ok()) {
      // A cached module that verifies but does not load (or was evicted meanwhile): discard
      // it and build it once more rather than fail.
      mbcpu::disk_cache::discard(path);
      if (Status b = mbcpu::build_module(library->compiler, info, values, &path, &compiled, name);
          !b.ok())
        return b;
      if (Status again = load_module(path, info.source, &module); !again.ok()) return again;
    }
    const mbk_kernel_info* kernel = module->find(name);
    if (kernel == nullptr || kernel->run_group == nullptr || kernel->run_thread == nullptr)
      return {MB_ERR_INTERNAL,
              "kernel module " + path + " has no entry for kernel \"" + name + "\""};

    if (kernel->static_threadgroup_memory_length > kMaxThreadgroupMemory)
      return {MB_ERR_LIMIT, "Compute function \"" + name + "\": Threadgroup memory size (" +
                                std::to_string(kernel->static_threadgroup_memory_length) +
                                ") exceeds the maximum threadgroup memory allowed (" +
                                std::to_string(kMaxThreadgroupMemory) + ")"};

    auto pipeline = Ref<mb_pipeline>::adopt(new mb_pipeline());
    pipeline->library = library->info;
    pipeline->source_name = library->info->source.source_name.c_str();
    pipeline->module = module;
    pipeline->kernel = kernel;
    pipeline->source_sites = module->source_sites;
    // Barrier kernels the front end split run as work-item loops, unless the environment asks
    // for fibers (the tests run the conformance suite both ways).
    const char* forced = std::getenv("METAL_COMPUTE_CPU_EXECUTION");
    const bool fibers = forced != nullptr && std::strcmp(forced, "fibers") == 0;
    pipeline->execution = kernel->uses_sync == 0              ? MB_EXECUTION_LOOP
                          : kernel->uses_sync == 2 && !fibers ? MB_EXECUTION_WORK_ITEM_LOOPS
                                                              : MB_EXECUTION_FIBERS;
    pipeline->name = name;
    pipeline->label = label != nullptr ? label : "";
    // As Metal reflects a function's constants: those it reads (all, for a library whose
    // kernel list predates per-kernel reads).
    auto reads = info.kernel_constants.find(name);
    for (const auto& c : info.constants)
      if (reads == info.kernel_constants.end() ||
          std::find(reads->second.begin(), reads->second.end(), c.index) != reads->second.end())
        pipeline->constants.push_back(&c);
    std::sort(pipeline->constants.begin(), pipeline->constants.end(),
              [](const auto* a, const auto* b) { return a->index < b->index; });
    pipeline->origin = info.from_cache && !compiled ? MB_ORIGIN_CACHE : MB_ORIGIN_COMPILED;
    const uint32_t attribute = kernel->max_total_threads_per_threadgroup;
    pipeline->max_total_threads =
        attribute != 0 ? std::min(attribute, kMaxThreadsPerThreadgroup) : kMaxThreadsPerThreadgroup;
    *out_pipeline = pipeline.detach();
    return {};
  });
}

MB_API void mb_pipeline_release(mb_pipeline* pipeline) {
  quietly([&] {
    if (pipeline != nullptr) pipeline->release();
  });
}

MB_API uint32_t mb_pipeline_origin(const mb_pipeline* pipeline) {
  return pipeline != nullptr ? pipeline->origin : MB_ORIGIN_COMPILED;
}

MB_API uint32_t mb_pipeline_execution(const mb_pipeline* pipeline) {
  return pipeline != nullptr ? pipeline->execution : MB_EXECUTION_LOOP;
}

MB_API uint32_t mb_pipeline_function_constant_count(const mb_pipeline* pipeline) {
  return pipeline != nullptr ? static_cast<uint32_t>(pipeline->constants.size()) : 0;
}

MB_API mb_status mb_pipeline_function_constant(const mb_pipeline* pipeline, uint32_t position,
                                               uint32_t* out_fields, const char** out_name) {
  if (pipeline == nullptr || out_fields == nullptr || out_name == nullptr ||
      position >= pipeline->constants.size())
    return MB_ERR_INVALID_ARG;
  const mbcpu::FunctionConstant& c = *pipeline->constants[position];
  out_fields[0] = c.index;
  out_fields[1] = c.type;
  out_fields[2] = c.required ? 1 : 0;
  *out_name = c.name.c_str();
  return MB_OK;
}

MB_API uint32_t mb_pipeline_max_total_threads_per_threadgroup(const mb_pipeline* pipeline) {
  return pipeline != nullptr ? pipeline->max_total_threads : 0;
}

MB_API uint32_t mb_pipeline_thread_execution_width(const mb_pipeline* pipeline) {
  return pipeline != nullptr ? MBK_SIMD_WIDTH : 0;
}

MB_API uint64_t mb_pipeline_static_threadgroup_memory_length(const mb_pipeline* pipeline) {
  return pipeline != nullptr ? pipeline->kernel->static_threadgroup_memory_length : 0;
}

// ---- Buffer ---------------------------------------------------------------------------------

MB_API mb_status mb_buffer_create(mb_device* device, uint64_t length, mb_buffer** out_buffer,
                                  mb_error** out_error) {
  return guarded(out_error, [&]() -> Status {
    if (out_buffer == nullptr) return invalid("mb_buffer_create: out_buffer is NULL");
    *out_buffer = nullptr;
    if (device == nullptr) return invalid("mb_buffer_create: device is NULL");
    if (length == 0) return invalid("mb_buffer_create: length must be > 0");
    const std::string oom = "cannot allocate a buffer of " + std::to_string(length) + " bytes";
    if (length > (uint64_t{1} << 46)) return {MB_ERR_OOM, oom};
    auto buffer = Ref<mb_buffer>::adopt(new mb_buffer());
    buffer->length = length;
    // Large buffers come zeroed and page aligned from mmap (pages materialise on first touch);
    // small ones from the heap, 64-byte aligned (a cache line, enough for any MSL type).
    constexpr uint64_t kMapThreshold = 256 * 1024;
    if (device->checked) {
      // Between guard pages, its end against the trailing one (checked.h).
      if (allocate_guarded(length, &buffer->guarded)) buffer->data = buffer->guarded.data;
    } else if (length >= kMapThreshold) {
      void* p = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p != MAP_FAILED) {
        buffer->data = p;
        buffer->mapped_bytes = length;
      }
    } else {
      const size_t rounded = (length + 63) / 64 * 64;
      buffer->data = std::aligned_alloc(64, rounded);
      if (buffer->data != nullptr) std::memset(buffer->data, 0, rounded);
    }
    if (buffer->data == nullptr) return {MB_ERR_OOM, oom};
    *out_buffer = buffer.detach();
    return {};
  });
}

MB_API void mb_buffer_release(mb_buffer* buffer) {
  quietly([&] {
    if (buffer != nullptr) buffer->release();
  });
}

MB_API void* mb_buffer_contents(const mb_buffer* buffer) {
  return buffer != nullptr ? buffer->data : nullptr;
}

MB_API uint64_t mb_buffer_length(const mb_buffer* buffer) {
  return buffer != nullptr ? buffer->length : 0;
}
