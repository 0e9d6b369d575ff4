// failure_messages.cpp — the texts of failed command buffers: which kernel, threadgroup and
// thread failed, and why (a fault's address named as a binding and offset, a barrier
// divergence, a watchdog timeout). Each runs once per failure, so this file builds with the
// host unit at -O0 rather than with the optimised dispatch code it serves (ffi/library.ts).
#include "runtime.h"

#include <csignal>
#include <cstdio>

namespace mbcpu::rt {

std::string Worker::describe_group() const {
  const uint32_t* p = group_.threadgroup_position_in_grid;
  return "kernel \"" + std::string(plan_->kernel_name) + "\", threadgroup (" +
         std::to_string(p[0]) + "," + std::to_string(p[1]) + "," + std::to_string(p[2]) + ")";
}

std::string Worker::quiescence_error() const {
  uint32_t first_waiting = UINT32_MAX, first_returned = UINT32_MAX;
  for (uint32_t i = 0; i < thread_count_; ++i) {
    if (lanes_[i].state == LaneState::Barrier && first_waiting == UINT32_MAX) first_waiting = i;
    if (lanes_[i].state == LaneState::Finished && first_returned == UINT32_MAX) first_returned = i;
  }
  if (at_barrier_ == live_ && finished_ > 0) {
    return describe_group() + ": threadgroup_barrier divergence: " + std::to_string(at_barrier_) +
           " of " + std::to_string(thread_count_) + " threads wait at a barrier (first: thread " +
           std::to_string(first_waiting) + ") that " + std::to_string(finished_) +
           " threads returned without reaching (first: thread " + std::to_string(first_returned) +
           "); every thread of a threadgroup must reach each barrier";
  }
  return describe_group() + ": deadlock: " + std::to_string(at_barrier_) +
         " threads wait at threadgroup_barrier, " + std::to_string(live_ - at_barrier_) +
         " in SIMD-group functions, " + std::to_string(finished_) + " returned";
}

// Turns what the fault handler recorded into the command buffer's message: which binding the
// address belongs to (nearest bound buffer within two pages of its ends), in the wording of
// Metal's shader validation ("Invalid device store at offset N, executing kernel function").
std::string Worker::describe_fault(const FaultRecord& r) {
  const uintptr_t a = r.address;
  const char* kind = r.access == 2 ? "store" : r.access == 1 ? "load" : "access";
  const uintptr_t reach = 2 * page_bytes();
  std::string what;

  int best = -1;
  uintptr_t best_distance = reach;
  int64_t best_offset = 0;
  for (uint32_t i = 0; i < MBK_MAX_BINDINGS; ++i) {
    const auto start = reinterpret_cast<uintptr_t>(plan_->bindings.buffers[i]);
    if (start == 0) continue;
    const uintptr_t end = start + plan_->bindings.buffer_lengths[i];
    uintptr_t distance;
    if (a >= end) {
      distance = a - end;
    } else if (a < start) {
      distance = start - a;
    } else {
      distance = 0;
    }
    if (distance < best_distance || (best < 0 && distance == 0)) {
      best = static_cast<int>(i);
      best_distance = distance;
      best_offset = static_cast<int64_t>(a) - static_cast<int64_t>(start);
    }
  }
  const bool in_tg_guard = a >= reinterpret_cast<uintptr_t>(arena_end_) &&
                           a < reinterpret_cast<uintptr_t>(arena_end_) + page_bytes();
  bool stack_overflow = false;
  for (const auto& fiber : fibers_)
    stack_overflow = stack_overflow || fiber->stack.guard_contains(a);

  char address[32];
  std::snprintf(address, sizeof address, "0x%lx", static_cast<unsigned long>(a));
  if (r.signal == SIGFPE) {
    // Apple GPUs return a value for integer division by zero; the CPU traps, and this backend
    // reports it rather than invent one (README: integer division by zero).
    const bool overflow = r.code == FPE_INTOVF;
    what = std::string(overflow ? "Integer overflow in a division (INT_MIN / -1)"
                                : "Integer division by zero") +
           ", executing kernel function \"" + plan_->kernel_name + "\"";
  } else if (r.signal == SIGILL || r.signal == SIGTRAP) {
    what =
        std::string("Trap (__builtin_trap() or unreachable code), executing kernel function \"") +
        plan_->kernel_name + "\"";
  } else if (stack_overflow) {
    what = std::string("stack overflow executing kernel function \"") + plan_->kernel_name +
           "\" (a thread used more than " + std::to_string(kFiberStackBytes / 1024) +
           " KiB of stack)";
  } else if (in_tg_guard && plan_->threadgroup_set_mask != 0) {
    // The last argument ends at the guard: name it and the offset from its start.
    uint32_t last = 0;
    for (uint32_t i = 0; i < MBK_MAX_BINDINGS; ++i) {
      if (((plan_->threadgroup_set_mask >> i) & 1u) &&
          plan_->threadgroup_offsets[i] >= plan_->threadgroup_offsets[last])
        last = i;
    }
    const auto start = reinterpret_cast<uintptr_t>(group_.threadgroup_memory[last]);
    const uint64_t length = plan_->threadgroup_total - plan_->threadgroup_offsets[last];
    what = std::string("Invalid threadgroup ") + kind + " at offset " + std::to_string(a - start) +
           ", executing kernel function \"" + plan_->kernel_name + "\": [[threadgroup(" +
           std::to_string(last) + ")]] has " + std::to_string(length) + " bytes";
  } else if (best >= 0) {
    what = std::string("Invalid device ") + kind + " at offset " + std::to_string(best_offset) +
           ", executing kernel function \"" + plan_->kernel_name + "\": [[buffer(" +
           std::to_string(best) + ")]] has " +
           std::to_string(plan_->bindings.buffer_lengths[best]) + " bytes";
  } else {
    what = std::string("Invalid ") + kind + " of address " + address +
           ", executing kernel function \"" + plan_->kernel_name +
           "\": not within two pages of any bound buffer";
  }
  const uint32_t* p = group_.threadgroup_position_in_grid;
  what += "; threadgroup (" + std::to_string(p[0]) + "," + std::to_string(p[1]) + "," +
          std::to_string(p[2]) + ")";
  if (in_fiber_) what += ", thread " + std::to_string(current_);
  // Work-item loops say which thread they run in checked mode (msl_work_items.h).
  if (!in_fiber_ && plan_->work_items && work_item_space_ != nullptr &&
      work_item_space_->thread != ~0u)
    what += ", thread " + std::to_string(work_item_space_->thread);

  std::string line;
  const std::string code = describe_code_address(r.pc, &line);
  if (!line.empty()) {
    // The module's line tables name the MSL source "@src" (msl_rewrite.h's kSourceFile),
    // relative to the compilation directory "." (compiler.cpp's checked-mode flags).
    if (line.rfind("./", 0) == 0) line = line.substr(2);
    if (line.rfind("@src:", 0) == 0) line = std::string(plan_->source_name) + line.substr(4);
    what += ", at " + line;
  }
  what += std::string(plan_->checked ? " (checked mode: " : " (") + signal_word(r.signal) + " at " +
          address;
  if (!code.empty()) what += ", code " + code;
  what += ")";
  return what;
}

std::string Queue::timeout_message(const char* kernel_name) const {
  return "Execution of the command buffer was aborted: it ran longer than its time limit of " +
         std::to_string(timeout_ms_) + " ms (as a GPU's watchdog would: Caused GPU Timeout " +
         "Error), while running kernel function \"" + kernel_name +
         "\"; raise the limit with the device option commandBufferTimeout";
}

}  // namespace mbcpu::rt
