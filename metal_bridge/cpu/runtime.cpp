// runtime.cpp — the metal_bridge.h C ABI for the CPU backend.
//
// Every entry point catches everything at the edge (guarded / quietly): nothing throws or
// aborts across the ABI. Objects are in runtime.h; execution is in pool/worker/fiber.
#include "runtime.h"

#include "../common/contract.h"

#include "disk_cache.h"
#include "platform.h"

#include <pthread.h>
#include <sys/mman.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>

using mbcpu::Status;
using namespace mbcpu::rt;

// ---- Errors ---------------------------------------------------------------------------------

namespace {

// Handed out when even the error object cannot be allocated; mb_error_free ignores it.
mb_error g_oom_error{MB_ERR_OOM, "out of memory"};

void set_error(mb_error** out_error, mb_status code, const std::string& message) {
  if (out_error == nullptr) return;
  try {
    *out_error = new mb_error{code, message};
  } catch (...) {
    *out_error = &g_oom_error;
  }
}

// Runs `body` (returning Status) and turns its failure or any exception into a status + error.
template <class Body>
mb_status guarded(mb_error** out_error, Body&& body) {
  if (out_error != nullptr) *out_error = nullptr;
  mb_status code = MB_OK;
  std::string message;
  try {
    Status s = body();
    if (s.ok()) return MB_OK;
    code = s.code;
    message = std::move(s.message);
  } catch (const std::bad_alloc&) {
    code = MB_ERR_OOM;
    message = "out of memory";
  } catch (const std::exception& e) {
    code = MB_ERR_INTERNAL;
    message = std::string("internal error: ") + e.what();
  } catch (...) {
    code = MB_ERR_INTERNAL;
    message = "internal error: unknown exception";
  }
  set_error(out_error, code, message);
  return code;
}

// For entry points with no status: failures are swallowed (or recorded by the caller).
template <class Body>
void quietly(Body&& body) {
  try {
    body();
  } catch (...) {
  }
}

Status invalid(std::string message) { return {MB_ERR_INVALID_ARG, std::move(message)}; }

// A refusal of common/contract.h (the checks and wording shared with the Metal bridge).
Status refused(mb_status status, const mbc_text& text) { return {status, std::string(text.data)}; }

}  // namespace

// ---- Queue ----------------------------------------------------------------------------------

namespace mbcpu::rt {

namespace {

// Checked mode, after a dispatch: the canary bytes around each bound guarded buffer catch
// small overruns the guard pages cannot (the data ends up to 15 bytes before the trailing
// guard). Returns a failure message, or "" when every buffer is intact. Repairs the canaries.
std::string check_guards(const DispatchPlan& plan) {
  std::string failure;
  for (uint32_t i = 0; i < MBK_MAX_BINDINGS; ++i) {
    GuardedAllocation* guarded = plan.guarded[i];
    if (guarded == nullptr) continue;
    const int64_t at = check_canaries(*guarded);
    if (at == kCanariesIntact) continue;
    if (failure.empty()) {
      const auto* bound = static_cast<const unsigned char*>(plan.bindings.buffers[i]);
      const int64_t offset = at + (guarded->data - bound);  // from the binding's offset
      failure = "Invalid device store at offset " + std::to_string(offset) +
                ", executing kernel function \"" + plan.kernel_name + "\": [[buffer(" +
                std::to_string(i) + ")]] has " + std::to_string(plan.bindings.buffer_lengths[i]) +
                " bytes (a write " + (at < 0 ? "before its start" : "past its end") +
                ", found after the dispatch by checked mode)";
    }
    // Restore every canary so later dispatches report only their own writes.
    GuardedAllocation copy = *guarded;
    const size_t page = page_bytes();
    unsigned char* first = static_cast<unsigned char*>(copy.mapping) + page;
    unsigned char* trailing = static_cast<unsigned char*>(copy.mapping) + copy.mapping_bytes - page;
    std::memset(first, kCanaryByte, static_cast<size_t>(copy.data - first));
    std::memset(copy.data + copy.length, kCanaryByte,
                static_cast<size_t>(trailing - (copy.data + copy.length)));
  }
  return failure;
}

// Set when a Queue is destroyed on its own thread (its last owner was released there).
thread_local bool tls_queue_destroyed = false;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Polls `ready` for up to `budget`; true when it became ready. Waking a sleeping thread
// through the kernel costs several µs (tens on a busy machine), more than a small dispatch
// takes, so a synchronous wait polls briefly first: with the CPU's spin hint for the
// first couple of µs, then yielding between polls, so that on a machine with more runnable
// threads than cores the poller gives its core to the thread it waits for.
template <class Ready>
bool spin_until(Ready ready, std::chrono::microseconds budget) {
  const auto start = std::chrono::steady_clock::now();
  const auto hot_until = start + std::chrono::microseconds(2);
  const auto deadline = start + budget;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (ready()) return true;
      cpu_relax();
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return ready();
    if (now >= hot_until) std::this_thread::yield();
  }
}

// x86 memory protection keys: V8 guards pages of its own with them, through the PKRU
// register of each thread. A signal handler runs with the kernel's default PKRU, and a kernel
// that faults or is interrupted is left by siglongjmp from the handler (checked.h), not by a
// return, so the thread would keep that default and V8 would fault on its next access to such
// a page. A caller's thread (run_here) gets its PKRU back afterwards; the runtime's own threads
// run no code that cares.
class ProtectionKeysScope {
 public:
  ProtectionKeysScope() {
    if (enabled()) saved_ = read();
  }
  ~ProtectionKeysScope() {
    if (enabled() && read() != saved_) write(saved_);
  }
  ProtectionKeysScope(const ProtectionKeysScope&) = delete;
  ProtectionKeysScope& operator=(const ProtectionKeysScope&) = delete;

 private:
#if defined(__x86_64__)
  static bool enabled() {
    static const bool os_pke = [] {
      unsigned a = 0, b = 0, c = 0, d = 0;
      return __get_cpuid_count(7, 0, &a, &b, &c, &d) != 0 && (c & (1u << 4)) != 0;  // OSPKE
    }();
    return os_pke;
  }
  static uint32_t read() {
    uint32_t pkru = 0, edx = 0;
    asm volatile(".byte 0x0f, 0x01, 0xee" : "=a"(pkru), "=d"(edx) : "c"(0));  // rdpkru
    return pkru;
  }
  static void write(uint32_t pkru) {
    asm volatile(".byte 0x0f, 0x01, 0xef" : : "a"(pkru), "c"(0), "d"(0) : "memory");  // wrpkru
  }
#else
  static bool enabled() { return false; }
  static uint32_t read() { return 0; }
  static void write(uint32_t) {}
#endif
  uint32_t saved_ = 0;
};

// How long a synchronous wait polls for completion before it sleeps. (The queue thread does
// not spin for the next command buffer: on this 2-core machine shared with other work, a
// spinning queue thread slowed the encoding thread more than it saved.)
constexpr std::chrono::microseconds kWaitSpin{50};
}  // namespace

Queue::Queue(unsigned workers, uint64_t timeout_ms)
    : pool_(workers), timeout_ms_(timeout_ms), thread_([this] { loop(); }) {
  if (timeout_ms_ != 0) watchdog_ = std::thread([this] { watch(); });
}

Queue::~Queue() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  pending_ready_.notify_all();
  if (watchdog_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(watch_mutex_);
      watch_stop_ = true;
    }
    watch_wake_.notify_all();
    watchdog_.join();
  }
  if (thread_.get_id() == std::this_thread::get_id()) {
    thread_.detach();  // loop() returns right after the release that got us here
    tls_queue_destroyed = true;
  } else {
    thread_.join();
  }
}

void Queue::submit(mb_command_buffer* command_buffer) {
  const auto now = std::chrono::steady_clock::now();
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    pending_.push_back(command_buffer);
    command_buffer->queued = true;
    poll_until_ = now + kPollWindow;
    // A busy queue looks at pending_ again when it is done; a polling one within kPollInterval.
    wake = sleeping_ && !busy_;
  }
  if (wake) pending_ready_.notify_one();
}

bool Queue::run_here(mb_command_buffer* command_buffer) {
  for (;;) {
    mb_command_buffer* cb = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (busy_ || !command_buffer->queued) return false;
      cb = pending_.front();  // command_buffer or one committed before it
      pending_.pop_front();
      cb->queued = false;
      busy_ = true;
    }
    {
      ProtectionKeysScope keys;
      execute(cb);
    }
    bool wake = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      busy_ = false;
      // Work committed meanwhile is the queue thread's once this caller leaves.
      wake = cb == command_buffer && sleeping_ && !pending_.empty();
    }
    if (wake) pending_ready_.notify_one();
    // The queue's reference; the caller's own keeps the queue alive (mb_command_buffer_wait).
    cb->release();
    if (cb == command_buffer) return true;
  }
}

void Queue::loop() {
  name_this_thread("mb-cpu-queue");
  for (;;) {
    mb_command_buffer* cb = nullptr;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      while (!stop_ && (pending_.empty() || busy_)) {
        const auto now = std::chrono::steady_clock::now();
        if (now < poll_until_) {
          pending_ready_.wait_until(lock, std::min(now + kPollInterval, poll_until_));
          continue;
        }
        sleeping_ = true;
        pending_ready_.wait(lock);
        sleeping_ = false;
      }
      if (pending_.empty()) return;
      cb = pending_.front();
      pending_.pop_front();
      cb->queued = false;
      busy_ = true;
    }
    execute(cb);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      busy_ = false;
    }
    cb->release();  // may destroy this queue (its last owner): then stop touching `this`
    if (tls_queue_destroyed) return;
  }
}

void Queue::execute(mb_command_buffer* cb) {
  // Dispatches run one after another, as in a serial Metal compute encoder.
  const auto seconds = [] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  };
  cb->started = seconds();
  std::string failure;
  if (timeout_ms_ != 0) {
    std::lock_guard<std::mutex> lock(watch_mutex_);
    running_ = true;
    timed_out_ = false;
    running_since_ = std::chrono::steady_clock::now();
  }
  try {
    run_dispatches(cb, &failure);
  } catch (...) {  // out of memory in the runtime's own bookkeeping: the command buffer fails
    if (timeout_ms_ != 0) {
      std::lock_guard<std::mutex> lock(watch_mutex_);
      running_job_ = nullptr;
    }
    failure = "internal error while running the command buffer (out of memory?)";
  }
  cb->ended = seconds();
  if (timeout_ms_ != 0) {
    std::lock_guard<std::mutex> lock(watch_mutex_);
    running_ = false;
  }
  cb->commands.clear();  // release pipelines, buffers and bytes before waiters wake
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(cb->mutex);
    cb->error = std::move(failure);
    cb->status.store(cb->error.empty() ? MB_CMD_COMPLETED : MB_CMD_ERROR,
                     std::memory_order_release);
    wake = cb->sleepers != 0;  // a polling waiter needs no system call
  }
  if (wake) cb->completed.notify_all();
}

void Queue::run_dispatches(mb_command_buffer* cb, std::string* failure) {
  for (const auto& dispatch : cb->commands) {
    Job job(dispatch->plan, pool_.size());
    if (timeout_ms_ != 0) {
      std::lock_guard<std::mutex> lock(watch_mutex_);
      if (timed_out_) {
        *failure = timeout_message(dispatch->plan.kernel_name);
        break;
      }
      running_job_ = &job;
    }
    pool_.run(job);
    if (timeout_ms_ != 0) {
      std::lock_guard<std::mutex> lock(watch_mutex_);
      running_job_ = nullptr;
    }
    if (job.failed.load(std::memory_order_acquire)) {
      std::lock_guard<std::mutex> lock(job.mutex);
      *failure = job.message.empty() ? "kernel failed (message lost: out of memory)" : job.message;
      break;
    }
    if (dispatch->plan.checked) {
      *failure = check_guards(dispatch->plan);
      if (!failure->empty()) break;
    }
  }
}

std::string Queue::timeout_message(const char* kernel_name) const {
  return "Execution of the command buffer was aborted: it ran longer than its time limit of " +
         std::to_string(timeout_ms_) + " ms (as a GPU's watchdog would: Caused GPU Timeout " +
         "Error), while running kernel function \"" + kernel_name +
         "\"; raise the limit with the device option commandBufferTimeout";
}

// Wakes a few times per limit; past it, fails the running dispatch and interrupts its
// kernels, again on every wake until the workers have left them.
void Queue::watch() {
  name_this_thread("mb-cpu-watchdog");
  const auto limit = std::chrono::milliseconds(timeout_ms_);
  const auto tick = std::chrono::milliseconds(std::clamp<uint64_t>(timeout_ms_ / 8, 5, 250));
  std::unique_lock<std::mutex> lock(watch_mutex_);
  while (!watch_stop_) {
    watch_wake_.wait_for(lock, tick);
    if (watch_stop_ || !running_) continue;
    if (!timed_out_ && std::chrono::steady_clock::now() - running_since_ < limit) continue;
    timed_out_ = true;
    if (running_job_ == nullptr) continue;
    try {
      running_job_->fail(timeout_message(running_job_->plan.kernel_name));
    } catch (...) {
    }
    pool_.interrupt(running_job_);
  }
}

}  // namespace mbcpu::rt

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

mb_encoder::~mb_encoder() {
  if (command_buffer && command_buffer->open_encoder == this)
    command_buffer->open_encoder = nullptr;
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
                       std::vector<mbcpu::ConstantValue>* out) {
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
    std::vector<mbcpu::ConstantValue> values;
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

// ---- Command buffer and encoder -------------------------------------------------------------

MB_API mb_status mb_command_buffer_create(mb_device* device, mb_command_buffer** out_command_buffer,
                                          mb_error** out_error) {
  return guarded(out_error, [&]() -> Status {
    if (out_command_buffer == nullptr)
      return invalid("mb_command_buffer_create: out_command_buffer is NULL");
    *out_command_buffer = nullptr;
    if (device == nullptr) return invalid("mb_command_buffer_create: device is NULL");
    auto cb = Ref<mb_command_buffer>::adopt(new mb_command_buffer());
    cb->queue = device->queue;
    cb->checked = device->checked;
    *out_command_buffer = cb.detach();
    return {};
  });
}

MB_API void mb_command_buffer_release(mb_command_buffer* command_buffer) {
  quietly([&] {
    if (command_buffer != nullptr) command_buffer->release();
  });
}

MB_API mb_status mb_encoder_create(mb_command_buffer* command_buffer, mb_encoder** out_encoder,
                                   mb_error** out_error) {
  return guarded(out_error, [&]() -> Status {
    if (out_encoder == nullptr) return invalid("mb_encoder_create: out_encoder is NULL");
    *out_encoder = nullptr;
    if (command_buffer == nullptr) return invalid("mb_encoder_create: command_buffer is NULL");
    if (command_buffer->status.load() != MB_CMD_NOT_COMMITTED)
      return invalid("mb_encoder_create: the command buffer was already committed");
    if (command_buffer->open_encoder != nullptr)
      return invalid("mb_encoder_create: the command buffer has an encoder that was not ended");
    auto encoder = Ref<mb_encoder>::adopt(new mb_encoder());
    encoder->command_buffer = Ref<mb_command_buffer>(command_buffer);
    command_buffer->open_encoder = encoder.get();
    *out_encoder = encoder.detach();
    return {};
  });
}

MB_API void mb_encoder_release(mb_encoder* encoder) {
  quietly([&] {
    if (encoder != nullptr) encoder->release();
  });
}

namespace {

// Records the first bad set_* argument; the next dispatch reports it.
void defer_error(mb_encoder* encoder, std::string message) {
  if (encoder->deferred.ok()) encoder->deferred = invalid(std::move(message));
}

bool check_set_call(mb_encoder* encoder, const char* call, uint32_t index) {
  if (encoder->ended) {
    defer_error(encoder, std::string(call) + ": the encoder has ended");
    return false;
  }
  mbc_text text;
  if (mbc_check_index(call, index, &text) != MB_OK) {
    defer_error(encoder, text.data);
    return false;
  }
  return true;
}

}  // namespace

MB_API void mb_encoder_set_pipeline(mb_encoder* encoder, mb_pipeline* pipeline) {
  quietly([&] {
    if (encoder == nullptr) return;
    if (encoder->ended)
      return defer_error(encoder, "mb_encoder_set_pipeline: the encoder has ended");
    if (pipeline == nullptr)
      return defer_error(encoder, "mb_encoder_set_pipeline: pipeline is NULL");
    encoder->pipeline = Ref<mb_pipeline>(pipeline);
  });
}

MB_API void mb_encoder_set_buffer(mb_encoder* encoder, mb_buffer* buffer, uint64_t offset,
                                  uint32_t index) {
  quietly([&] {
    if (encoder == nullptr || !check_set_call(encoder, "mb_encoder_set_buffer", index)) return;
    if (buffer == nullptr)
      return defer_error(
          encoder, "mb_encoder_set_buffer: buffer at index " + std::to_string(index) + " is NULL");
    if (mbc_text text; mbc_check_buffer_offset(offset, buffer->length, index, &text) != MB_OK)
      return defer_error(encoder, text.data);
    auto& b = encoder->bindings[index];
    b.buffer = Ref<mb_buffer>(buffer);
    b.bytes.reset();
    b.address = static_cast<unsigned char*>(buffer->data) + offset;
    b.length = buffer->length - offset;
  });
}

MB_API void mb_encoder_set_bytes(mb_encoder* encoder, const void* bytes, uint64_t length,
                                 uint32_t index) {
  try {
    if (encoder == nullptr || !check_set_call(encoder, "mb_encoder_set_bytes", index)) return;
    if (mbc_text text; mbc_check_set_bytes(bytes, length, index, &text) != MB_OK)
      return defer_error(encoder, text.data);
    // 16-byte aligned like any MSL constant-address-space struct needs.
    const size_t rounded = (length + 15) / 16 * 16;
    BytesBlock block(static_cast<unsigned char*>(::operator new(rounded, std::align_val_t{16})),
                     [](unsigned char* p) { ::operator delete(p, std::align_val_t{16}); });
    std::memcpy(block.get(), bytes, length);
    std::memset(block.get() + length, 0, rounded - length);
    auto& b = encoder->bindings[index];
    b.buffer = Ref<mb_buffer>();
    b.address = block.get();
    b.length = length;
    b.bytes = std::move(block);
  } catch (...) {
    quietly([&] { defer_error(encoder, "mb_encoder_set_bytes: out of memory"); });
  }
}

MB_API void mb_encoder_set_threadgroup_memory_length(mb_encoder* encoder, uint64_t length,
                                                     uint32_t index) {
  quietly([&] {
    if (encoder == nullptr ||
        !check_set_call(encoder, "mb_encoder_set_threadgroup_memory_length", index))
      return;
    if (mbc_text text; mbc_check_threadgroup_length(length, index, &text) != MB_OK)
      return defer_error(encoder, text.data);
    encoder->threadgroup_lengths[index] = length;
  });
}

namespace {

// Validates the encoder state for a dispatch and records it. `grid` is the threads per grid;
// `groups` the threadgroups per grid (partial edge groups when grid is not a multiple).
Status encode_dispatch(mb_encoder* encoder, const uint32_t groups[3], const uint32_t threads[3],
                       const uint32_t grid[3]) {
  if (encoder->ended) return invalid("dispatch: the encoder has ended");
  if (!encoder->deferred.ok()) {
    Status s = std::move(encoder->deferred);
    encoder->deferred = Status{};
    return s;
  }
  if (!encoder->pipeline)
    return invalid("dispatch: no pipeline set (call mb_encoder_set_pipeline)");
  const mb_pipeline& pipeline = *encoder->pipeline;
  const mbk_kernel_info& kernel = *pipeline.kernel;

  // The refusals shared with the Metal bridge, in the same order and words.
  mbc_text text;
  if (const mb_status status =
          mbc_check_dispatch_sizes(pipeline.name.c_str(), grid, threads, &text);
      status != MB_OK)
    return refused(status, text);
  if (const mb_status status =
          mbc_check_threadgroup_size(pipeline.name.c_str(), threads, pipeline.max_total_threads,
                                     kMaxThreadsPerThreadgroup, &text);
      status != MB_OK)
    return refused(status, text);

  DispatchPlan plan;
  uint64_t tg_total = 0;
  for (uint32_t i = 0; i < MBK_MAX_BINDINGS; ++i) {
    const uint64_t length = encoder->threadgroup_lengths[i];
    if (length == 0) continue;
    if (tg_total + length <= kMaxThreadgroupMemory) {
      plan.threadgroup_offsets[i] = static_cast<uint32_t>(tg_total);
      plan.threadgroup_set_mask |= 1u << i;
    }
    tg_total += length;  // lengths are multiples of 16: every argument stays 16-byte aligned
  }
  if (const mb_status status = mbc_check_threadgroup_memory(pipeline.name.c_str(), tg_total,
                                                            kernel.static_threadgroup_memory_length,
                                                            kMaxThreadgroupMemory, &text);
      status != MB_OK)
    return refused(status, text);
  plan.threadgroup_total = tg_total;
  uint32_t buffers_bound = 0, threadgroups_set = 0;
  for (uint32_t i = 0; i < MBK_MAX_BINDINGS; ++i) {
    if (encoder->bindings[i].address != nullptr) buffers_bound |= 1u << i;
    if (encoder->threadgroup_lengths[i] != 0) threadgroups_set |= 1u << i;
  }
  if (const mb_status status =
          mbc_check_bindings(pipeline.name.c_str(), kernel.buffer_mask, buffers_bound,
                             kernel.threadgroup_mask, threadgroups_set, &text);
      status != MB_OK)
    return refused(status, text);
  uint64_t bound_lengths[MBK_MAX_BINDINGS];
  for (uint32_t i = 0; i < MBK_MAX_BINDINGS; ++i) bound_lengths[i] = encoder->bindings[i].length;
  if (const mb_status status =
          mbc_check_binding_lengths(pipeline.name.c_str(), kernel.buffer_mask,
                                    kernel.buffer_min_lengths, bound_lengths, &text);
      status != MB_OK)
    return refused(status, text);

  auto recorded = std::make_unique<RecordedDispatch>();
  recorded->pipeline = encoder->pipeline;
  plan.kernel = &kernel;
  plan.kernel_name = pipeline.name.c_str();
  plan.source_sites = pipeline.source_sites;
  plan.work_items = pipeline.execution == MB_EXECUTION_WORK_ITEM_LOOPS;
  plan.source_name = pipeline.library->source.source_name.c_str();  // the pipeline keeps it
  plan.checked = encoder->command_buffer->checked;
  for (int d = 0; d < 3; ++d) {
    plan.groups[d] = groups[d];
    plan.threads[d] = threads[d];
    plan.grid[d] = grid[d];
  }
  for (uint32_t i = 0; i < MBK_MAX_BINDINGS; ++i) {
    const auto& b = encoder->bindings[i];
    plan.bindings.buffers[i] = b.address;
    plan.bindings.buffer_lengths[i] = b.length;
    if (b.buffer && b.buffer->guarded.mapping != nullptr) plan.guarded[i] = &b.buffer->guarded;
    if (b.buffer) recorded->buffers.push_back(b.buffer);
    if (b.bytes) recorded->bytes.push_back(b.bytes);
  }
  recorded->plan = plan;
  encoder->command_buffer->commands.push_back(std::move(recorded));
  return {};
}

}  // namespace

MB_API mb_status mb_encoder_dispatch_threadgroups(mb_encoder* encoder, uint32_t groups_x,
                                                  uint32_t groups_y, uint32_t groups_z,
                                                  uint32_t threads_x, uint32_t threads_y,
                                                  uint32_t threads_z, mb_error** out_error) {
  return guarded(out_error, [&]() -> Status {
    if (encoder == nullptr) return invalid("dispatch: encoder is NULL");
    const uint32_t groups[3] = {groups_x, groups_y, groups_z};
    const uint32_t threads[3] = {threads_x, threads_y, threads_z};
    uint32_t grid[3];
    if (mbc_text text; mbc_check_group_grid(groups, threads, grid, &text) != MB_OK)
      return refused(MB_ERR_LIMIT, text);
    return encode_dispatch(encoder, groups, threads, grid);
  });
}

MB_API mb_status mb_encoder_dispatch_threads(mb_encoder* encoder, uint32_t grid_x, uint32_t grid_y,
                                             uint32_t grid_z, uint32_t threads_x,
                                             uint32_t threads_y, uint32_t threads_z,
                                             mb_error** out_error) {
  return guarded(out_error, [&]() -> Status {
    if (encoder == nullptr) return invalid("dispatch: encoder is NULL");
    const uint32_t grid[3] = {grid_x, grid_y, grid_z};
    const uint32_t threads[3] = {threads_x, threads_y, threads_z};
    uint32_t groups[3];
    for (int d = 0; d < 3; ++d)
      groups[d] = threads[d] == 0
                      ? 0
                      : static_cast<uint32_t>((uint64_t{grid[d]} + threads[d] - 1) / threads[d]);
    return encode_dispatch(encoder, groups, threads, grid);
  });
}

MB_API void mb_encoder_end(mb_encoder* encoder) {
  quietly([&] {
    if (encoder == nullptr || encoder->ended) return;
    encoder->ended = true;
    if (encoder->command_buffer->open_encoder == encoder)
      encoder->command_buffer->open_encoder = nullptr;
    // The bindings are snapshotted in each dispatch; drop the encoder's own references now.
    encoder->pipeline = Ref<mb_pipeline>();
    for (auto& b : encoder->bindings) b = mb_encoder::Binding{};
  });
}

MB_API mb_status mb_command_buffer_commit(mb_command_buffer* command_buffer, mb_error** out_error) {
  return guarded(out_error, [&]() -> Status {
    if (command_buffer == nullptr)
      return invalid("mb_command_buffer_commit: command_buffer is NULL");
    if (command_buffer->open_encoder != nullptr)
      return invalid("mb_command_buffer_commit: end the encoder (mb_encoder_end) before commit");
    int32_t expected = MB_CMD_NOT_COMMITTED;
    if (!command_buffer->status.compare_exchange_strong(expected, MB_CMD_COMMITTED))
      return invalid("mb_command_buffer_commit: the command buffer was already committed");
    command_buffer->retain();  // the queue's reference, dropped when it completes
    command_buffer->queue->submit(command_buffer);
    return {};
  });
}

MB_API mb_status mb_command_buffer_wait(mb_command_buffer* command_buffer, mb_error** out_error) {
  return guarded(out_error, [&]() -> Status {
    if (command_buffer == nullptr) return invalid("mb_command_buffer_wait: command_buffer is NULL");
    auto done = [&] {
      return command_buffer->status.load(std::memory_order_acquire) >= MB_CMD_COMPLETED;
    };
    if (command_buffer->status.load() == MB_CMD_NOT_COMMITTED)
      return invalid("mb_command_buffer_wait: the command buffer was not committed");
    // An idle queue: run it here rather than wake the queue thread and wait to be woken.
    if (!done()) command_buffer->queue->run_here(command_buffer);
    if (!done() && !mbcpu::rt::spin_until(done, mbcpu::rt::kWaitSpin)) {
      std::unique_lock<std::mutex> lock(command_buffer->mutex);
      ++command_buffer->sleepers;
      command_buffer->completed.wait(lock, done);
      --command_buffer->sleepers;
    }
    if (command_buffer->status.load(std::memory_order_acquire) == MB_CMD_ERROR) {
      std::lock_guard<std::mutex> lock(command_buffer->mutex);
      return {MB_ERR_EXECUTION, command_buffer->error};
    }
    return {};
  });
}

MB_API int32_t mb_command_buffer_status(const mb_command_buffer* command_buffer) {
  return command_buffer != nullptr ? command_buffer->status.load(std::memory_order_acquire)
                                   : MB_CMD_NOT_COMMITTED;
}

MB_API mb_status mb_command_buffer_gpu_time(const mb_command_buffer* command_buffer,
                                            double* out_start, double* out_end,
                                            mb_error** out_error) {
  return guarded(out_error, [&]() -> Status {
    if (command_buffer == nullptr)
      return invalid("mb_command_buffer_gpu_time: command_buffer is NULL");
    if (out_start == nullptr || out_end == nullptr)
      return invalid("mb_command_buffer_gpu_time: out_start and out_end must not be NULL");
    if (command_buffer->status.load(std::memory_order_acquire) < MB_CMD_COMPLETED)
      return invalid("mb_command_buffer_gpu_time: the command buffer has not completed");
    *out_start = command_buffer->started;
    *out_end = command_buffer->ended;
    return {};
  });
}
