// worker.h — runs the threadgroups of one dispatch on one CPU thread (internal).
//
// A Worker belongs to one pool thread for its whole life and owns everything a threadgroup
// needs, allocated once and reused: threadgroup memory arena, fibers and their stacks,
// scheduler state and SIMD-group exchange buffers. Nothing is allocated per dispatch.
#pragma once

#include <pthread.h>

#include <atomic>
#include <csetjmp>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "checked.h"
#include "fiber.h"
#include "kernel_module.h"
#include "vec.h"

namespace mbcpu::rt {

constexpr uint32_t kMaxThreadsPerThreadgroup = 1024;
constexpr uint64_t kMaxThreadgroupMemory = 32768;
constexpr size_t kFiberStackBytes = 256 * 1024;

// One encoded dispatch, immutable while it runs. Owned by its command buffer.
struct DispatchPlan {
  const mbk_kernel_info* kernel = nullptr;
  const char* kernel_name = "";
  bool source_sites = false;  // collective sites are source-location records (kernel_module.h)
  // A uses_sync = 2 kernel run as work-item loops (run_group) rather than on fibers.
  bool work_items = false;
  mbk_bindings bindings{};
  uint32_t groups[3] = {1, 1, 1};   // threadgroups per grid
  uint32_t threads[3] = {1, 1, 1};  // threads per threadgroup given to the dispatch
  uint32_t grid[3] = {1, 1, 1};     // threads per grid (edge groups may be partial)
  uint32_t threadgroup_offsets[MBK_MAX_BINDINGS] = {};  // into the worker's arena
  uint32_t threadgroup_set_mask = 0;  // [[threadgroup(i)]] arguments with a length
  uint64_t threadgroup_total = 0;     // bytes of [[threadgroup(i)]] arguments
  const char* source_name = "";       // the .metal file, for fault reports
  // Checked mode (the device's): faults become failures, buffers have guards and canaries.
  bool checked = false;
  GuardedAllocation* guarded[MBK_MAX_BINDINGS] = {};  // bound checked buffers, else null
  uint64_t total_groups() const { return uint64_t{groups[0]} * groups[1] * groups[2]; }
};

// A dispatch being executed: workers take groups from `next` until none are left.
struct Job {
  Job(const DispatchPlan& plan, unsigned workers);
  void fail(const std::string& message);  // first failure wins; stops the other workers

  const DispatchPlan& plan;
  const uint64_t total;
  uint64_t chunk = 1;
  std::atomic<uint64_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mutex;
  std::string message;
};

// The services handed to every kernel module (mbk_module_init). One per process: a module
// is loaded once per process, whichever device loads it.
const mbk_runtime* module_runtime();
// Installs the fault handler and sets the modules' `checked` flag. The flag is process-wide
// (every module shares one mbk_runtime) and is never cleared; the runtime's own checks (guard
// pages, canaries, fault recovery, barrier sites) follow each device's setting instead.
// Returns an error message, or "" on success.
std::string enable_checked_runtime();

class Worker {
 public:
  Worker();
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Runs groups of `job` until none are left or the job failed. Call from the owning thread.
  // A fault in kernel code (or the watchdog's interrupt) fails the job instead of ending the
  // process.
  void run(Job& job);
  // From another thread (the watchdog): interrupts this worker's kernel code if it is running
  // `job`. True when it was.
  bool interrupt(const Job* job);
  FaultScope& fault_scope() { return fault_scope_; }

  // Kernel services (called through mbk_runtime on this worker's thread).
  void threadgroup_barrier();
  const void* exchange(const void* value, uint32_t size, const void* site, uint32_t* active);
  [[noreturn]] void fail(const char* message);

 private:
  enum class LaneState : uint8_t { Ready, Barrier, Collective, Finished };
  struct SlotBuffer;
  struct SimdGroup;
  struct Lane {
    LaneState state = LaneState::Ready;
    bool started = false;    // switched to in this group (its fiber left the top of its loop)
    uint32_t completed = 0;  // collectives completed by this lane in this group
    const void* site = nullptr;
    const void* value = nullptr;
    uint32_t size = 0;
    uint32_t active = 0;
    SlotBuffer* result = nullptr;
  };
  struct FiberSlot {
    FiberStack stack;
    void* sp = nullptr;
    Worker* worker = nullptr;
    uint32_t index = 0;
  };

  void begin_dispatch(const DispatchPlan& plan);
  bool run_group(uint64_t linear_index);
  void set_group_geometry(uint64_t linear_index);
  bool run_plain_group();
  bool run_fiber_group();
  bool ensure_fibers(uint32_t count);
  void reset_group_state(uint32_t count);
  void schedule();
  void abandon_started_fibers();
  std::string quiescence_error() const;
  std::string describe_group() const;

  static void fiber_main(void* arg);
  void run_current_thread(uint32_t index);
  void on_thread_finished(uint32_t index);
  void switch_away();
  uint32_t pop_ready();
  void release_barrier(uint32_t caller);
  void try_complete_collective(uint32_t simdgroup, uint32_t caller);
  bool runs_before(const Lane& a, const Lane& b) const;
  SlotBuffer* free_slot_buffer(SimdGroup& simd);
  void push_ready(uint32_t index);

  const DispatchPlan* plan_ = nullptr;
  uint64_t collective_serial_ = 0;  // mbk_simd_result.serial of the last completed collective
  mbk_group group_{};
  // Threadgroup memory: kMaxThreadgroupMemory bytes followed by a PROT_NONE guard page. In
  // checked mode the [[threadgroup(i)]] arguments end against the guard.
  void* arena_mapping_ = nullptr;
  size_t arena_mapping_bytes_ = 0;
  unsigned char* arena_ = nullptr;
  unsigned char* arena_end_ = nullptr;

  // Checked mode: where a fault in this thread's kernel code lands (checked.h).
  FaultScope fault_scope_;
  std::atomic<const Job*> job_{nullptr};  // the job run() is in, for interrupt()
  pthread_t thread_{};
  void run_groups(Job& job);
  std::string describe_fault(const FaultRecord& record);

  // Work-item-loop groups: what their collectives use (mapped on first use).
  mbk_work_item_space* work_item_space_ = nullptr;

  // Plain (no-sync) and work-item-loop groups: fail() longjmps back to run_plain_group.
  std::jmp_buf plain_exit_;
  bool plain_armed_ = false;

  // Fiber groups.
  Vec<std::unique_ptr<FiberSlot>> fibers_;
  Vec<Lane> lanes_;
  Vec<SimdGroup> simds_;
  Vec<uint32_t> ready_;  // ring buffer of lane indices, capacity = lane count
  uint32_t ready_head_ = 0, ready_count_ = 0;
  uint32_t thread_count_ = 0, live_ = 0, finished_ = 0, at_barrier_ = 0;
  uint32_t current_ = 0;
  bool in_fiber_ = false;
  void* scheduler_sp_ = nullptr;

  bool failed_ = false;
  std::string failure_;
};

}  // namespace mbcpu::rt
