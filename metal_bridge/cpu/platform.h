// platform.h — the little the CPU backend needs that differs between Linux and macOS (internal):
// mmap flags, thread names, file times, and the faulting pc / access kind from a signal
// handler's machine context.
// Targets: x86-64 and AArch64 on Linux (ELF), arm64 and x86-64 on macOS (Mach-O).
#pragma once

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <cstdint>
#include <ctime>

#if defined(__APPLE__)
#include <sys/ucontext.h>  // <ucontext.h> is deprecated on macOS and wants _XOPEN_SOURCE
#else
#include <ucontext.h>
#endif

// macOS has no MAP_STACK (stacks are ordinary anonymous memory there).
#ifndef MAP_STACK
#define MAP_STACK 0
#endif
#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
#endif

namespace mbcpu::rt {

// Names the calling thread (shown by debuggers and profilers). macOS names only the calling
// thread and takes no thread argument.
inline void name_this_thread(const char* name) {
#if defined(__APPLE__)
  pthread_setname_np(name);
#else
  pthread_setname_np(pthread_self(), name);
#endif
}

// A file's modification time: st_mtim on Linux, st_mtimespec on macOS.
inline timespec modification_time(const struct stat& st) {
#if defined(__APPLE__)
  return st.st_mtimespec;
#else
  return st.st_mtim;
#endif
}

// What a SIGSEGV/SIGBUS handler can tell about a fault beyond siginfo: the faulting
// instruction's address and whether it read (1) or wrote (2); 0 where the platform does not say.
struct FaultSite {
  uintptr_t pc = 0;
  int access = 0;
};

inline FaultSite fault_site(int sig, const void* context) {
  FaultSite site;
  const auto* uc = static_cast<const ucontext_t*>(context);
#if defined(__APPLE__) && defined(__aarch64__)
  // Darwin's arm64 frame: uc_mcontext points at { __es (exception state), __ss (thread state),
  // __ns }. The pc accessor strips pointer authentication where the SDK defines it (arm64e).
#ifdef __darwin_arm_thread_state64_get_pc
  site.pc = static_cast<uintptr_t>(__darwin_arm_thread_state64_get_pc(uc->uc_mcontext->__ss));
#else
  site.pc = static_cast<uintptr_t>(uc->uc_mcontext->__ss.__pc);
#endif
  // ESR_EL1 of a data abort (exception class 0x24 from a lower level, 0x25 same level): bit 6
  // (WnR) is set for a write.
  const uint32_t esr = uc->uc_mcontext->__es.__esr;
  const uint32_t exception_class = esr >> 26;
  if (exception_class == 0x24 || exception_class == 0x25) site.access = (esr >> 6) & 1u ? 2 : 1;
  (void)sig;
#elif defined(__APPLE__) && defined(__x86_64__)
  site.pc = static_cast<uintptr_t>(uc->uc_mcontext->__ss.__rip);
  // Page faults (trap 14) report the access kind in bit 1 of the error code.
  if (sig == SIGSEGV && uc->uc_mcontext->__es.__trapno == 14)
    site.access = (uc->uc_mcontext->__es.__err & 2) != 0 ? 2 : 1;
#elif defined(__x86_64__)
  site.pc = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
  if (sig == SIGSEGV && uc->uc_mcontext.gregs[REG_TRAPNO] == 14)
    site.access = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0 ? 2 : 1;
#elif defined(__aarch64__)
  // Linux keeps ESR in an esr_context record inside __reserved; the pc is enough here.
  site.pc = static_cast<uintptr_t>(uc->uc_mcontext.pc);
  (void)sig;
#else
#error "metal_bridge/cpu/platform.h: fault recovery needs x86-64 or AArch64 (Linux or macOS)"
#endif
  return site;
}

}  // namespace mbcpu::rt
