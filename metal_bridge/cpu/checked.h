// checked.h — checked mode's memory guards and fault recovery (internal).
//
// Checked-mode buffers live between two PROT_NONE guard pages with their end as close to the
// trailing guard as MSL alignment allows, so a kernel reading or writing past the end (or, far
// enough, before the start) faults at once. A process-wide SIGSEGV/SIGBUS handler, running on
// a per-thread alternate stack, turns a fault on a worker thread that is running a checked
// dispatch into a jump back to the worker (sigsetjmp/siglongjmp), which fails the command
// buffer with a message instead of letting the process die. Faults anywhere else go to the
// handler that was installed before ours (or to the default action).
#pragma once

#include <csetjmp>
#include <cstddef>
#include <cstdint>
#include <string>

namespace mbcpu::rt {

size_t page_bytes();

// Data is aligned to this in guarded allocations: enough for every MSL type a kernel loads
// with an aligned access (float4, int4, half8...), so the end lands within 15 bytes of the
// trailing guard page. The slack bytes are filled with kCanaryByte and checked after each
// checked dispatch (check_canaries), which catches small overruns the guard page cannot.
constexpr size_t kGuardedAlignment = 16;
constexpr unsigned char kCanaryByte = 0xCB;

struct GuardedAllocation {
  void* mapping = nullptr;  // leading guard page .. trailing guard page
  size_t mapping_bytes = 0;
  unsigned char* data = nullptr;
  uint64_t length = 0;
};

// Maps `length` zeroed bytes between guard pages. False when mmap/mprotect fail.
bool allocate_guarded(uint64_t length, GuardedAllocation* out);
void free_guarded(GuardedAllocation* allocation);
// Offset (from data) of the first changed canary byte around the data, or kCanariesIntact.
// Covers the slack before the data (negative offsets) and after it.
constexpr int64_t kCanariesIntact = INT64_MIN;
int64_t check_canaries(const GuardedAllocation& allocation);

// What the handler saw.
struct FaultRecord {
  int signal = 0;
  int code = 0;           // si_code
  uintptr_t address = 0;  // si_addr
  uintptr_t pc = 0;       // instruction pointer
  int access = 0;         // 0 unknown, 1 read, 2 write (x86-64 page faults)
};

// Where the current thread jumps on a fault while `armed`. One per worker thread; the
// handler reads it through a thread-local pointer.
struct FaultScope {
  sigjmp_buf env;
  FaultRecord record;
  volatile int armed = 0;
  // Nonzero only while the thread runs kernel code (not runtime code that may hold a lock or
  // be inside malloc): the watchdog's interrupt (kInterruptSignal) leaves only from there.
  volatile int interruptible = 0;
};

// Sent by the command-buffer watchdog to a worker whose kernel ran past the time limit. An
// interruptible worker jumps back like on a fault (record.signal == kInterruptSignal); any
// other thread ignores it.
extern const int kInterruptSignal;

// Installs the process-wide handler for kernel faults (SIGSEGV, SIGBUS, SIGFPE, SIGILL,
// SIGTRAP) and the interrupt signal. Faults outside an armed scope go to the handler installed
// before ours. Returns an error message, or "" on success. Idempotent.
std::string install_fault_handler();

// Installs the handler (once per process) and this thread's alternate signal stack (once per
// thread), then makes `scope` the thread's recovery point. False (with *error set) when the
// handler or the stack cannot be installed.
bool prepare_fault_scope(FaultScope* scope, std::string* error);
// The thread's scope is no longer valid (the worker is going away).
void forget_fault_scope(FaultScope* scope);

// "read", "write" or "access".
const char* access_word(int access);
// "SIGSEGV", "SIGBUS", "SIGFPE", "SIGILL", "SIGTRAP".
const char* signal_word(int signal);
// Where pc is, as "module.so+0x1234 (function)" or with "file:line" when the module has line
// tables and a symbolizer is installed; empty when unknown. Slow (may run llvm-symbolizer):
// call only on the failure path, outside the signal handler.
std::string describe_code_address(uintptr_t pc, std::string* source_line);

// `s` quoted for /bin/sh, for the tools run through popen (llvm-symbolizer, clang --version).
std::string shell_quote(const std::string& s);

}  // namespace mbcpu::rt
