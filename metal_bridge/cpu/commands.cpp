// commands.cpp — the metal_bridge.h C ABI for the CPU backend's command buffers and encoders,
// and the queue that runs them: every dispatch passes through here, so the bridge build
// optimises this file (ffi/library.ts), while runtime.cpp (devices, libraries, pipelines,
// buffers) is built without optimisation.
//
// Every entry point catches everything at the edge (abi_guard.h): nothing throws or aborts
// across the ABI. Objects are in runtime.h; execution is in pool/worker/fiber.
#include "runtime.h"

#include "../common/contract.h"

#include "abi_guard.h"
#include "platform.h"

#include <pthread.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstring>
#include <new>

using mbcpu::Status;
using namespace mbcpu::rt;

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

mb_encoder::~mb_encoder() {
  if (command_buffer && command_buffer->open_encoder == this)
    command_buffer->open_encoder = nullptr;
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
  plan.source_name = pipeline.source_name;
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
