// fiber.h — stackful fibers for the CPU backend's MSL threads (internal).
//
// Each MSL thread of a threadgroup that uses barriers or SIMD-group collectives runs on a
// fiber. Fibers switch only at those synchronisation points, always through the worker's
// scheduler context, so the switch is a plain save/restore of callee-saved registers and the
// stack pointer (~tens of ns; glibc's swapcontext also makes a sigprocmask syscall, ~200 ns).
#pragma once

#include <cstddef>
#include <cstdint>

namespace mbcpu::rt {

using FiberEntry = void (*)(void* arg);

// A stack from mmap with a PROT_NONE guard page below it (a kernel overflowing its stack
// faults instead of silently corrupting the neighbouring fiber).
class FiberStack {
 public:
  FiberStack() = default;
  ~FiberStack();
  FiberStack(const FiberStack&) = delete;
  FiberStack& operator=(const FiberStack&) = delete;

  bool allocate(size_t usable_bytes);  // false when mmap fails
  void* top() const { return top_; }
  // True when `address` is in the guard page below the stack (a stack overflow).
  bool guard_contains(uintptr_t address) const;

 private:
  void* mapping_ = nullptr;
  size_t mapping_bytes_ = 0;
  void* top_ = nullptr;
};

// Builds the first frame on `stack` so that the first switch to the returned stack pointer
// enters `entry(arg)`. `entry` must never return (it switches away for good instead).
void* fiber_prepare(const FiberStack& stack, FiberEntry entry, void* arg);

}  // namespace mbcpu::rt

extern "C" {
// Saves the current context's callee-saved state on its stack, stores its stack pointer in
// *save_sp, and resumes the context whose stack pointer is `resume_sp`.
void mbcpu_fiber_switch(void** save_sp, void* resume_sp);
}
