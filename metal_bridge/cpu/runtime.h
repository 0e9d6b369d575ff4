// runtime.h — the CPU backend's objects behind the metal_bridge.h handles (internal).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "../metal_bridge.h"
#include "checked.h"
#include "compiler.h"
#include "kernel_module.h"
#include "pool.h"
#include "sandbox.h"
#include "vec.h"

namespace mbcpu::rt {

// Intrusive reference count: handles cross the C ABI as raw pointers.
class RefCounted {
 public:
  virtual ~RefCounted() = default;
  void retain() { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

 private:
  std::atomic<uint32_t> refs_{1};
};

// An owning reference to a RefCounted handle.
template <class T>
class Ref {
 public:
  Ref() = default;
  explicit Ref(T* p) : p_(p) {
    if (p_) p_->retain();
  }
  // Takes over the reference a `new` gave, without adding one.
  static Ref adopt(T* p) {
    Ref r;
    r.p_ = p;
    return r;
  }
  // Hands the reference to the caller (the handle a create call returns).
  T* detach() {
    T* p = p_;
    p_ = nullptr;
    return p;
  }
  Ref(const Ref& o) : Ref(o.p_) {}
  Ref(Ref&& o) noexcept : p_(o.p_) { o.p_ = nullptr; }
  Ref& operator=(Ref o) noexcept {
    std::swap(p_, o.p_);
    return *this;
  }
  ~Ref() {
    if (p_) p_->release();
  }
  T* get() const { return p_; }
  T* operator->() const { return p_; }
  T& operator*() const { return *p_; }
  explicit operator bool() const { return p_ != nullptr; }

 private:
  T* p_ = nullptr;
};

// A loaded kernel module (.so), shared by the pipelines made from it and unloaded (dlclose)
// when the last of them is released, unless it is among the most recently loaded modules
// (load_module keeps those, so a program that recreates one pipeline does not reload it each
// time). A worker's thread_local blocks for an unloaded module are reclaimed by the C library
// when the worker's thread ends.
struct LoadedModule {
  LoadedModule() = default;
  LoadedModule(const LoadedModule&) = delete;
  LoadedModule& operator=(const LoadedModule&) = delete;
  ~LoadedModule();
  void* handle = nullptr;
  std::string path;
  const mbk_kernel_info* kernels = nullptr;
  uint32_t kernel_count = 0;
  bool source_sites = false;  // mbk_module_site_format() == MBK_SITE_SOURCE_LOCATION
  const mbk_kernel_info* find(const std::string& name) const;
};

// Checks (sandbox.h) and loads the module at `path`; `source` is the library's, for a refusal.
Status load_module(const std::string& path, const LibrarySource& source,
                   std::shared_ptr<const LoadedModule>* out);

// Metal's GPU watchdog stops command buffers after a few seconds; this one after 10 s by
// default, as the CPU runs kernels more slowly than a GPU (device config command_timeout_ms).
constexpr uint64_t kDefaultCommandTimeoutMs = 10'000;

// Settings read from mb_device_create's config text and the environment.
struct DeviceOptions {
  std::string cache_dir;
  std::string support_dir;
  std::string clang;          // empty: mbcpu::find_compiler decides
  uint64_t cache_max_mb = 0;  // 0: $METAL_COMPUTE_CACHE_MAX_MB or the default
  unsigned workers = 1;
  bool checked = false;
  // Limits of each compiler process (sandbox.h); 0: none.
  uint64_t compile_time_limit_ms = sandbox::kDefaultCompileTimeMs;
  uint64_t compile_memory_limit_bytes = sandbox::kDefaultCompileMemoryBytes;
  // A command buffer running longer fails (the GPU watchdog's role); 0: no limit.
  uint64_t command_timeout_ms = kDefaultCommandTimeoutMs;
};

Status parse_device_options(const char* config, DeviceOptions* out);

// Keeps this library loaded until the process ends, once a device exists: its threads, the
// fault handler and loaded kernel modules point into it, and Deno unloads an FFI library when
// the isolate that opened it ends (each `deno test` file, and at exit), which would leave
// them running unmapped code.
void pin_bridge_library();
Status resolve_compiler(const DeviceOptions& options, CompilerConfig* out);

class Queue;

}  // namespace mbcpu::rt

// ---- Handle types (global names: metal_bridge.h declares them as incomplete structs) ------

struct mb_error {
  mb_status code = MB_OK;
  std::string message;
};

struct mb_device final : mbcpu::rt::RefCounted {
  mbcpu::CompilerConfig compiler;
  std::string name;
  std::string info;  // mb_device_info
  bool checked = false;
  std::shared_ptr<mbcpu::rt::Queue> queue;
};

struct mb_library final : mbcpu::rt::RefCounted {
  mbcpu::CompilerConfig compiler;  // a copy: libraries do not need their device to stay open
  std::shared_ptr<const mbcpu::LibraryInfo> info;
};

struct mb_pipeline final : mbcpu::rt::RefCounted {
  std::shared_ptr<const mbcpu::LibraryInfo> library;
  const char* source_name = "";  // the library's (`library` keeps it), for fault reports
  std::shared_ptr<const mbcpu::rt::LoadedModule> module;  // keeps `kernel` loaded
  const mbk_kernel_info* kernel = nullptr;                // in `module`
  bool source_sites = false;
  std::string name;
  std::string label;
  uint32_t max_total_threads = 0;
  uint32_t origin = MB_ORIGIN_COMPILED;    // MB_ORIGIN_CACHE: library and module read from disk
  uint32_t execution = MB_EXECUTION_LOOP;  // MB_EXECUTION_*
  // The declarations (in `library`) of the constants the kernel reads, ascending by index.
  mbcpu::Vec<const mbcpu::FunctionConstant*> constants;
};

struct mb_buffer final : mbcpu::rt::RefCounted {
  ~mb_buffer() override;
  void* data = nullptr;
  uint64_t length = 0;
  size_t mapped_bytes = 0;  // nonzero: data came from mmap
  // Checked devices: data sits between guard pages (guarded.mapping != nullptr).
  mbcpu::rt::GuardedAllocation guarded;
};

namespace mbcpu::rt {

// A set_bytes payload, copied at the call, shared by the dispatches that bind it.
using BytesBlock = std::shared_ptr<unsigned char>;

// One dispatch with everything it keeps alive until its command buffer completes.
struct RecordedDispatch {
  DispatchPlan plan;
  Ref<mb_pipeline> pipeline;
  mbcpu::Vec<Ref<mb_buffer>> buffers;
  mbcpu::Vec<BytesBlock> bytes;
};

// Runs committed command buffers in commit order, one at a time, on its own thread, or on the
// thread of a caller that waits synchronously while the queue is idle (run_here): that
// caller runs the command buffers committed up to its own, in order, without a thread
// hand-off. Whoever runs a command buffer serves as worker 0 of the pool. Owned (shared) by
// the device and by its command buffers.
//
// A watchdog thread, like a GPU's, fails a command buffer that runs longer than `timeout_ms`
// (0: no limit): it interrupts the kernels still running (Worker::interrupt), the command
// buffer fails with a message that says so, and the queue goes on with the next one.
class Queue {
 public:
  Queue(unsigned workers, uint64_t timeout_ms);
  ~Queue();
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

  // Waking the sleeping queue thread at every commit was the costliest step of a round trip
  // (a system call, and on a busy machine often the caller's core lost to the woken thread),
  // while a waiting caller runs its command buffer itself before the woken thread gets to it.
  // So for kPollWindow after a commit the queue thread looks for unclaimed work every
  // kPollInterval instead of being woken: work nobody waits for starts within that interval.
  static constexpr std::chrono::microseconds kPollInterval{500};
  static constexpr std::chrono::milliseconds kPollWindow{50};

  unsigned workers() const { return pool_.size(); }
  void submit(mb_command_buffer* command_buffer);  // takes over one reference
  // Runs `command_buffer` on the calling thread, after the command buffers committed before
  // it, when no other thread is running one and it has not started. Returns whether it did
  // (then it has completed); otherwise the caller waits for the queue thread.
  bool run_here(mb_command_buffer* command_buffer);

 private:
  void loop();
  // Runs one command buffer taken from pending_ (the caller holds busy_) and publishes its
  // status; the queue's reference is the caller's to drop afterwards.
  void execute(mb_command_buffer* command_buffer);
  void run_dispatches(mb_command_buffer* command_buffer, std::string* failure);
  void watch();
  std::string timeout_message(const char* kernel_name) const;

  Pool pool_;
  std::mutex mutex_;
  std::condition_variable pending_ready_;
  std::deque<mb_command_buffer*> pending_;
  bool stop_ = false;
  bool sleeping_ = false;  // loop() waits on pending_ready_ with no time limit: notify it
  // Until then loop() polls pending_ every kPollInterval (set by each commit).
  std::chrono::steady_clock::time_point poll_until_{};
  bool busy_ = false;  // a thread (the queue's or a waiting caller's) runs a command buffer

  // What the watchdog sees: guarded by watch_mutex_.
  const uint64_t timeout_ms_;
  std::mutex watch_mutex_;
  std::condition_variable watch_wake_;
  bool watch_stop_ = false;
  bool running_ = false;  // a command buffer is executing
  std::chrono::steady_clock::time_point running_since_;
  Job* running_job_ = nullptr;  // its current dispatch, or null between dispatches
  bool timed_out_ = false;      // the running command buffer passed the limit
  std::thread watchdog_;

  std::thread thread_;
};

}  // namespace mbcpu::rt

struct mb_encoder;

struct mb_command_buffer final : mbcpu::rt::RefCounted {
  std::shared_ptr<mbcpu::rt::Queue> queue;
  bool checked = false;  // its device's checked mode
  mbcpu::Vec<std::unique_ptr<mbcpu::rt::RecordedDispatch>> commands;
  mb_encoder* open_encoder = nullptr;  // not owning; cleared when the encoder ends

  std::atomic<int32_t> status{MB_CMD_NOT_COMMITTED};
  bool queued = false;  // in its queue's pending list (guarded by the queue's mutex)
  std::mutex mutex;
  std::condition_variable completed;
  unsigned sleepers = 0;  // threads waiting on `completed` (guarded by `mutex`)
  std::string error;      // set before status becomes MB_CMD_ERROR
  // mb_command_buffer_gpu_time: steady-clock seconds around the queue's run of it, written
  // before status leaves MB_CMD_COMMITTED.
  double started = 0;
  double ended = 0;
};

struct mb_encoder final : mbcpu::rt::RefCounted {
  ~mb_encoder() override;

  struct Binding {
    mbcpu::rt::Ref<mb_buffer> buffer;
    mbcpu::rt::BytesBlock bytes;
    void* address = nullptr;
    uint64_t length = 0;
  };

  mbcpu::rt::Ref<mb_command_buffer> command_buffer;
  bool ended = false;
  mbcpu::rt::Ref<mb_pipeline> pipeline;
  Binding bindings[MBK_MAX_BINDINGS];
  uint64_t threadgroup_lengths[MBK_MAX_BINDINGS] = {};
  mbcpu::Status deferred;  // the first bad set_* argument since the last dispatch
};
