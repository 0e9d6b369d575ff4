// worker.cpp — threadgroup execution: plain loops, fibers, barriers and SIMD-group collectives.
#include "worker.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>

namespace mbcpu::rt {

// ---- Job ------------------------------------------------------------------------------------

Job::Job(const DispatchPlan& p, unsigned workers) : plan(p), total(p.total_groups()) {
  // Several groups per grab keeps the shared counter cold for small groups, while leaving
  // enough grabs (8 per worker) to balance uneven groups.
  const uint64_t per_grab = total / (uint64_t{workers} * 8);
  chunk = std::clamp<uint64_t>(per_grab, 1, 16);
}

void Job::fail(const std::string& text) {
  std::lock_guard<std::mutex> lock(mutex);
  if (failed.load(std::memory_order_relaxed)) return;
  message = text;
  failed.store(true, std::memory_order_release);
}

// ---- Module services ------------------------------------------------------------------------

namespace {

thread_local Worker* tls_worker = nullptr;

// The ready ring holds each lane at most once; its capacity is a power of two.
static_assert((kMaxThreadsPerThreadgroup & (kMaxThreadsPerThreadgroup - 1)) == 0);
constexpr uint32_t kReadyMask = kMaxThreadsPerThreadgroup - 1;

// The record a site points to in modules with MBK_SITE_SOURCE_LOCATION.
struct SourceSite {
  const char* file;
  const char* function;
  unsigned line;
  unsigned column;
};

// simdgroup_barrier is a collective with no payload; all its calls share this site, which
// never orders against a kernel's own sites (no file matches).
const SourceSite kSimdBarrierSite = {"<simdgroup_barrier>", "", 0, 0};

// <0 / >0 when `a` comes before / after `b` in the same source file, 0 when not comparable.
int compare_source_sites(const void* a, const void* b) {
  const auto* x = static_cast<const SourceSite*>(a);
  const auto* y = static_cast<const SourceSite*>(b);
  if (x->file != y->file &&
      (x->file == nullptr || y->file == nullptr || std::strcmp(x->file, y->file) != 0))
    return 0;
  if (x->line != y->line) return x->line < y->line ? -1 : 1;
  if (x->column != y->column) return x->column < y->column ? -1 : 1;
  return 0;
}

Worker& current_worker(const char* service) {
  Worker* w = tls_worker;
  if (w == nullptr) {
    // A kernel service called outside any dispatch: there is nothing to unwind to.
    std::fprintf(stderr, "metal_bridge cpu: %s called outside a kernel dispatch\n", service);
    std::abort();
  }
  return *w;
}

// Runtime code called from a kernel may allocate or switch fibers: the watchdog's interrupt
// must not leave from the middle of it. Each fiber restores its own value on return.
class RuntimeSection {
 public:
  explicit RuntimeSection(Worker& worker)
      : scope_(worker.fault_scope()), saved_(scope_.interruptible) {
    scope_.interruptible = 0;
  }
  ~RuntimeSection() { scope_.interruptible = saved_; }
  RuntimeSection(const RuntimeSection&) = delete;
  RuntimeSection& operator=(const RuntimeSection&) = delete;

 private:
  FaultScope& scope_;
  int saved_;
};

void service_threadgroup_barrier(uint32_t) {
  Worker& worker = current_worker("threadgroup_barrier");
  RuntimeSection section(worker);
  worker.threadgroup_barrier();
}

void service_simdgroup_barrier(uint32_t) {
  Worker& worker = current_worker("simdgroup_barrier");
  RuntimeSection section(worker);
  uint32_t active = 0;
  worker.exchange(nullptr, 0, &kSimdBarrierSite, &active);
}

const void* service_simd_exchange(const void* value, uint32_t size, const void* site,
                                  uint32_t* active) {
  Worker& worker = current_worker("simd_exchange");
  RuntimeSection section(worker);
  return worker.exchange(value, size, site, active);
}

[[noreturn]] void service_fail(const char* message) {
  Worker& worker = current_worker("fail");
  worker.fault_scope().interruptible = 0;  // fail() never returns to the kernel
  worker.fail(message);
}

mbk_runtime g_runtime = {
    service_threadgroup_barrier, service_simdgroup_barrier, service_simd_exchange, service_fail, 0,
};

}  // namespace

const mbk_runtime* module_runtime() { return &g_runtime; }

std::string enable_checked_runtime() {
  // The fault handler is installed when any device opens (mb_device_create).
  // Modules may keep the pointer and read the flag on each check; a relaxed atomic store is
  // enough since work reaches the workers through mutex-protected queues afterwards.
  __atomic_store_n(&g_runtime.checked, 1u, __ATOMIC_RELAXED);
  return "";
}

// ---- Worker state ---------------------------------------------------------------------------

// The 32 lane slots one completed collective returns. Lanes keep reading their buffer until
// their next collective completes, so a buffer is reused only when no lane holds it: a lane
// racing ahead to its next collective never overwrites what slower lanes still read.
struct Worker::SlotBuffer {
  alignas(64) mbk_simd_result result;  // slots, then what the collective's lanes share
  uint32_t readers = 0;
};

struct Worker::SimdGroup {
  uint32_t live = 0;           // lanes not finished
  uint32_t in_collective = 0;  // lanes blocked in a collective
  uint32_t at_barrier = 0;     // lanes blocked at threadgroup_barrier
  Vec<std::unique_ptr<SlotBuffer>> buffers;
};

Worker::Worker()
    : lanes_(kMaxThreadsPerThreadgroup),
      simds_(kMaxThreadsPerThreadgroup / MBK_SIMD_WIDTH),
      ready_(kMaxThreadsPerThreadgroup) {
  const size_t page = page_bytes();
  const size_t usable = (kMaxThreadgroupMemory + page - 1) / page * page;
  arena_mapping_bytes_ = usable + page;
  void* p = mmap(nullptr, arena_mapping_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                 -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  arena_mapping_ = p;
  arena_end_ = static_cast<unsigned char*>(p) + usable;
  mprotect(arena_end_, page, PROT_NONE);  // guard page; best effort
  arena_ = arena_end_ - kMaxThreadgroupMemory;
}

Worker::~Worker() {
  forget_fault_scope(&fault_scope_);
  if (work_item_space_ != nullptr) munmap(work_item_space_, sizeof(mbk_work_item_space));
  munmap(arena_mapping_, arena_mapping_bytes_);
}

// ---- Running a job --------------------------------------------------------------------------

void Worker::run(Job& job) {
  tls_worker = this;
  begin_dispatch(job.plan);
  // A fault in kernel code fails the job, in checked mode and in the default mode alike, as
  // a GPU fault fails its command buffer; so does the watchdog's interrupt.
  std::string why;
  if (!prepare_fault_scope(&fault_scope_, &why)) {
    job.fail(why);
    return;
  }
  thread_ = pthread_self();
  job_.store(&job, std::memory_order_release);
  // The fault handler jumps back here from whatever stack the kernel was on (this thread's,
  // or a fiber's). Only members and `job` (unchanged since) are used afterwards.
  if (sigsetjmp(fault_scope_.env, 0) != 0) {
    try {
      // The watchdog already failed the job with its own message.
      failure_ = fault_scope_.record.signal == kInterruptSignal
                     ? std::string("interrupted by the command buffer watchdog")
                     : describe_fault(fault_scope_.record);  // reads in_fiber_ and current_
    } catch (...) {
      failure_.clear();
    }
    in_fiber_ = false;
    plain_armed_ = false;
    failed_ = true;
    if (plan_->kernel->uses_sync && !plan_->work_items) abandon_started_fibers();
    forget_fault_scope(&fault_scope_);
    job_.store(nullptr, std::memory_order_release);
    job.fail(failure_);
    return;
  }
  fault_scope_.armed = 1;
  run_groups(job);
  fault_scope_.armed = 0;
  job_.store(nullptr, std::memory_order_release);
  forget_fault_scope(&fault_scope_);
}

bool Worker::interrupt(const Job* job) {
  if (job_.load(std::memory_order_acquire) != job) return false;
  pthread_kill(thread_, kInterruptSignal);
  return true;
}

void Worker::run_groups(Job& job) {
  while (!job.failed.load(std::memory_order_relaxed)) {
    const uint64_t start = job.next.fetch_add(job.chunk, std::memory_order_relaxed);
    if (start >= job.total) break;
    const uint64_t end = std::min(job.total, start + job.chunk);
    for (uint64_t g = start; g < end; ++g) {
      if (!run_group(g)) {
        fault_scope_.armed = 0;  // runtime code from here: a fault is ours, not the kernel's
        job.fail(failure_);
        return;
      }
    }
  }
}

void Worker::begin_dispatch(const DispatchPlan& plan) {
  plan_ = &plan;
  group_.work_item_space = nullptr;
  if (plan.work_items) {
    if (work_item_space_ == nullptr) {
      // ~1.4 MB of address space; only the pages a kernel's collectives touch are ever used.
      void* p = mmap(nullptr, sizeof(mbk_work_item_space), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p != MAP_FAILED) work_item_space_ = static_cast<mbk_work_item_space*>(p);
    }
    group_.work_item_space = work_item_space_;
  }
  for (int d = 0; d < 3; ++d) {
    group_.threadgroups_per_grid[d] = plan.groups[d];
    group_.dispatch_threads_per_threadgroup[d] = plan.threads[d];
    group_.threads_per_grid[d] = plan.grid[d];
  }
  // Checked mode: the arguments end against the guard page, so running past the last one
  // faults. (Threadgroup variables declared in the kernel live in the module, unguarded.)
  unsigned char* base = plan.checked ? arena_end_ - plan.threadgroup_total : arena_;
  for (uint32_t i = 0; i < MBK_MAX_BINDINGS; ++i) {
    const bool set = (plan.threadgroup_set_mask >> i) & 1u;
    group_.threadgroup_memory[i] = set ? base + plan.threadgroup_offsets[i] : nullptr;
  }
}

void Worker::set_group_geometry(uint64_t linear) {
  const uint32_t position[3] = {
      static_cast<uint32_t>(linear % plan_->groups[0]),
      static_cast<uint32_t>(linear / plan_->groups[0] % plan_->groups[1]),
      static_cast<uint32_t>(linear / plan_->groups[0] / plan_->groups[1]),
  };
  uint32_t count = 1;
  for (int d = 0; d < 3; ++d) {
    const uint32_t origin = position[d] * plan_->threads[d];
    const uint32_t size = std::min(plan_->threads[d], plan_->grid[d] - origin);
    group_.threadgroup_position_in_grid[d] = position[d];
    group_.grid_origin[d] = origin;
    group_.threads_per_threadgroup[d] = size;
    count *= size;
  }
  group_.thread_count = count;
}

bool Worker::run_group(uint64_t linear) {
  set_group_geometry(linear);
  failed_ = false;
  if (plan_->kernel->uses_sync && !plan_->work_items) return run_fiber_group();
  if (plan_->work_items && group_.work_item_space == nullptr) {
    failed_ = true;
    failure_ = "out of memory: cannot map the work-item space of kernel \"" +
               std::string(plan_->kernel_name) + "\"";
    return false;
  }
  if (plan_->work_items) work_item_space_->thread = ~0u;  // set by the loops in checked mode
  return run_plain_group();
}

// Plain kernels and work-item loops: the whole group in one call.
bool Worker::run_plain_group() {
  // fail() from the kernel longjmps here. Kernel code holds no objects with destructors
  // (MSL has none that matter), so skipping its frames is safe.
  if (setjmp(plain_exit_) == 0) {
    plain_armed_ = true;
    try {
      fault_scope_.interruptible = 1;
      plan_->kernel->run_group(&plan_->bindings, &group_);
      fault_scope_.interruptible = 0;
    } catch (...) {
      fault_scope_.interruptible = 0;
      failed_ = true;
      failure_ = "kernel \"" + std::string(plan_->kernel_name) + "\" threw a C++ exception";
    }
  }
  plain_armed_ = false;
  return !failed_;
}

// ---- Fiber groups ---------------------------------------------------------------------------

bool Worker::ensure_fibers(uint32_t count) {
  while (fibers_.size() < count) {
    auto slot = std::make_unique<FiberSlot>();
    if (!slot->stack.allocate(kFiberStackBytes)) return false;
    slot->worker = this;
    slot->index = static_cast<uint32_t>(fibers_.size());
    slot->sp = fiber_prepare(slot->stack, &Worker::fiber_main, slot.get());
    fibers_.push_back(std::move(slot));
  }
  return true;
}

void Worker::reset_group_state(uint32_t count) {
  thread_count_ = live_ = count;
  finished_ = at_barrier_ = 0;
  ready_head_ = 0;
  ready_count_ = count;
  for (uint32_t i = 0; i < count; ++i) {
    lanes_[i] = Lane{};
    ready_[i] = i;
  }
  const uint32_t simd_count = (count + MBK_SIMD_WIDTH - 1) / MBK_SIMD_WIDTH;
  for (uint32_t s = 0; s < simd_count; ++s) {
    SimdGroup& simd = simds_[s];
    simd.live = std::min<uint32_t>(MBK_SIMD_WIDTH, count - s * MBK_SIMD_WIDTH);
    simd.in_collective = simd.at_barrier = 0;
    for (auto& buffer : simd.buffers) buffer->readers = 0;
  }
}

bool Worker::run_fiber_group() {
  const uint32_t count = group_.thread_count;
  if (!ensure_fibers(count)) {
    failure_ = "out of memory: cannot map fiber stacks for " + std::to_string(count) +
               " threads of kernel \"" + plan_->kernel_name + "\"";
    return false;
  }
  reset_group_state(count);
  schedule();
  if (!failed_ && finished_ != thread_count_) {
    failed_ = true;
    failure_ = quiescence_error();
  }
  if (failed_) abandon_started_fibers();
  return !failed_;
}

// Starts the first ready lane. Lanes make each other ready from their own fibers (the last
// lane to arrive completes a barrier or collective) and switch straight to the next ready lane
// (switch_away), so control comes back here only when no lane is ready or the group failed.
void Worker::schedule() {
  if (ready_count_ == 0) return;
  in_fiber_ = true;
  mbcpu_fiber_switch(&scheduler_sp_, fibers_[pop_ready()]->sp);
  in_fiber_ = false;
}

uint32_t Worker::pop_ready() {
  const uint32_t index = ready_[ready_head_];
  ready_head_ = (ready_head_ + 1) & kReadyMask;
  --ready_count_;
  current_ = index;
  lanes_[index].started = true;
  return index;
}

// Leaves the current lane's fiber (blocked or finished) for the next ready lane, or for the
// scheduler when there is none or the group failed.
void Worker::switch_away() {
  void** save = &fibers_[current_]->sp;
  if (ready_count_ > 0 && !failed_) {
    mbcpu_fiber_switch(save, fibers_[pop_ready()]->sp);
  } else {
    mbcpu_fiber_switch(save, scheduler_sp_);
  }
}

void Worker::push_ready(uint32_t index) {
  ready_[(ready_head_ + ready_count_) & kReadyMask] = index;
  ++ready_count_;
}

// Fibers left suspended inside a kernel (after fail() or a deadlock) never resume: give them
// a fresh first frame. Finished fibers wait at the top of their loop and stay as they are.
void Worker::abandon_started_fibers() {
  for (uint32_t i = 0; i < thread_count_; ++i) {
    Lane& lane = lanes_[i];
    if (lane.started && lane.state != LaneState::Finished) {
      fibers_[i]->sp = fiber_prepare(fibers_[i]->stack, &Worker::fiber_main, fibers_[i].get());
    }
  }
}

void Worker::fiber_main(void* arg) {
  auto* slot = static_cast<FiberSlot*>(arg);
  Worker* worker = slot->worker;
  for (;;) {
    worker->run_current_thread(slot->index);
    worker->switch_away();
  }
}

void Worker::run_current_thread(uint32_t index) {
  try {
    fault_scope_.interruptible = 1;
    plan_->kernel->run_thread(&plan_->bindings, &group_, index);
    fault_scope_.interruptible = 0;
  } catch (...) {
    fault_scope_.interruptible = 0;
    failed_ = true;
    failure_ = "kernel \"" + std::string(plan_->kernel_name) + "\" threw a C++ exception";
    return;  // back to the scheduler, which abandons the group
  }
  on_thread_finished(index);
}

void Worker::on_thread_finished(uint32_t index) {
  Lane& lane = lanes_[index];
  lane.state = LaneState::Finished;
  if (lane.result != nullptr) --lane.result->readers;
  lane.result = nullptr;
  ++finished_;
  --live_;
  const uint32_t s = index / MBK_SIMD_WIDTH;
  --simds_[s].live;
  // The lanes still running in this simdgroup may have been waiting for this one.
  try_complete_collective(s, UINT32_MAX);
}

// ---- Barriers and collectives -----------------------------------------------------------------

void Worker::threadgroup_barrier() {
  if (!in_fiber_) fail("threadgroup_barrier called by a kernel compiled without synchronisation");
  const uint32_t me = current_;
  lanes_[me].state = LaneState::Barrier;
  ++at_barrier_;
  ++simds_[me / MBK_SIMD_WIDTH].at_barrier;
  if (at_barrier_ == live_ && finished_ == 0) {
    release_barrier(me);  // the last thread to arrive lets everyone through and goes on
    return;
  }
  // A lane at a barrier no longer holds back the collectives of its simdgroup.
  try_complete_collective(me / MBK_SIMD_WIDTH, UINT32_MAX);
  switch_away();
}

void Worker::release_barrier(uint32_t caller) {
  for (uint32_t i = 0; i < thread_count_; ++i) {
    if (lanes_[i].state != LaneState::Barrier) continue;
    lanes_[i].state = LaneState::Ready;
    if (i != caller) push_ready(i);
  }
  const uint32_t simd_count = (thread_count_ + MBK_SIMD_WIDTH - 1) / MBK_SIMD_WIDTH;
  for (uint32_t s = 0; s < simd_count; ++s) simds_[s].at_barrier = 0;
  at_barrier_ = 0;
}

const void* Worker::exchange(const void* value, uint32_t size, const void* site, uint32_t* active) {
  if (!in_fiber_)
    fail("a SIMD-group function was called by a kernel compiled without synchronisation");
  if (size > MBK_SIMD_SLOT_BYTES) fail("simd_exchange payload larger than MBK_SIMD_SLOT_BYTES");
  const uint32_t me = current_;
  Lane& lane = lanes_[me];
  lane.state = LaneState::Collective;
  lane.site = site;
  lane.value = value;
  lane.size = size;
  ++simds_[me / MBK_SIMD_WIDTH].in_collective;
  try_complete_collective(me / MBK_SIMD_WIDTH, me);
  if (lane.state != LaneState::Ready) switch_away();
  *active = lane.active;
  return lane.result->result.slots;
}

// Completes one collective of simdgroup `s` once every live lane is blocked (in a collective
// or at a threadgroup barrier). Lanes at the same site form the active set. Of several sites,
// one goes first (runs_before) and the others keep waiting: after a divergent branch, lanes
// that left it early must wait for the others to catch up before the collective after the
// join, or they would run it with a partial mask.
void Worker::try_complete_collective(uint32_t s, uint32_t caller) {
  SimdGroup& simd = simds_[s];
  if (simd.in_collective == 0 || simd.in_collective + simd.at_barrier != simd.live) return;

  const uint32_t base = s * MBK_SIMD_WIDTH;
  const uint32_t width = std::min<uint32_t>(MBK_SIMD_WIDTH, thread_count_ - base);
  const Lane* first = nullptr;
  for (uint32_t l = 0; l < width; ++l) {
    const Lane& lane = lanes_[base + l];
    if (lane.state != LaneState::Collective) continue;
    if (first == nullptr || (lane.site != first->site && runs_before(lane, *first))) first = &lane;
  }
  const void* site = first->site;
  uint32_t mask = 0;
  for (uint32_t l = 0; l < width; ++l) {
    const Lane& lane = lanes_[base + l];
    if (lane.state == LaneState::Collective && lane.site == site) mask |= 1u << l;
  }

  // Pick the buffer before the lanes drop their previous ones: a lane may pass a pointer into
  // its previous result as this collective's value.
  SlotBuffer* buffer = free_slot_buffer(simd);
  for (uint32_t m = mask; m != 0; m &= m - 1) {
    const uint32_t l = static_cast<uint32_t>(__builtin_ctz(m));
    const Lane& lane = lanes_[base + l];
    if (lane.size != 0) std::memcpy(buffer->result.slots[l], lane.value, lane.size);
  }
  buffer->result.serial = ++collective_serial_;  // invalidates what earlier collectives shared
  const auto count = static_cast<uint32_t>(__builtin_popcount(mask));
  buffer->readers = count;
  simd.in_collective -= count;
  for (uint32_t m = mask; m != 0; m &= m - 1) {
    const uint32_t index = base + static_cast<uint32_t>(__builtin_ctz(m));
    Lane& lane = lanes_[index];
    if (lane.result != nullptr) --lane.result->readers;
    lane.result = buffer;
    lane.active = mask;
    ++lane.completed;
    lane.state = LaneState::Ready;
    if (index != caller) push_ready(index);
  }
}

// Which of two waiting lanes' sites completes first. With source-location sites, the earlier
// site in the source (a GPU runs the lowest program counter first, so code after an if, or
// after a loop, waits for the lanes still inside). Otherwise, or across files, the site whose
// lane has completed fewer collectives (this handles if/else with equal collective counts).
bool Worker::runs_before(const Lane& a, const Lane& b) const {
  if (plan_->source_sites) {
    if (const int order = compare_source_sites(a.site, b.site); order != 0) return order < 0;
  }
  return a.completed < b.completed;
}

Worker::SlotBuffer* Worker::free_slot_buffer(SimdGroup& simd) {
  for (auto& buffer : simd.buffers) {
    if (buffer->readers == 0) return buffer.get();
  }
  simd.buffers.push_back(std::make_unique<SlotBuffer>());
  return simd.buffers.back().get();
}

// ---- Failures (their texts: failure_messages.cpp) -----------------------------------------

void Worker::fail(const char* message) {
  try {
    failure_ = describe_group();
    if (in_fiber_) failure_ += ", thread " + std::to_string(current_);
    failure_ += ": ";
    failure_ += message != nullptr ? message : "(no message)";
  } catch (...) {
    failure_.clear();  // out of memory: report without the text
  }
  failed_ = true;
  if (in_fiber_) {
    switch_away();  // the scheduler sees failed_ and never resumes this fiber
  } else if (plain_armed_) {
    std::longjmp(plain_exit_, 1);
  }
  std::fprintf(stderr, "metal_bridge cpu: fail() outside a running kernel: %s\n", message);
  std::abort();
}

}  // namespace mbcpu::rt
