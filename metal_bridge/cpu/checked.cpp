// checked.cpp — guard-page buffers, the fault handler and fault descriptions (checked mode).
//
// The handler leaves with siglongjmp from the alternate signal stack to the worker's own
// stack (the kernel may have been on a fiber stack). glibc's fortified longjmp refuses some
// jumps between stacks, so this file is built without _FORTIFY_SOURCE.
#undef _FORTIFY_SOURCE
#include "checked.h"

#include "platform.h"  // the faulting pc and access kind, per platform

#include <dlfcn.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace mbcpu::rt {

size_t page_bytes() {
  static const size_t size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

// ---- Guarded allocations --------------------------------------------------------------------

bool allocate_guarded(uint64_t length, GuardedAllocation* out) {
  const size_t page = page_bytes();
  const uint64_t data_pages = (length + page - 1) / page;
  const size_t bytes = static_cast<size_t>((data_pages + 2) * page);
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return false;
  auto* base = static_cast<unsigned char*>(p);
  unsigned char* trailing = base + page + data_pages * page;
  if (mprotect(base, page, PROT_NONE) != 0 || mprotect(trailing, page, PROT_NONE) != 0) {
    munmap(p, bytes);
    return false;
  }
  // End as close to the trailing guard as the alignment allows.
  const auto end = reinterpret_cast<uintptr_t>(trailing);
  const uintptr_t start = (end - length) & ~uintptr_t{kGuardedAlignment - 1};
  out->mapping = p;
  out->mapping_bytes = bytes;
  out->data = reinterpret_cast<unsigned char*>(start);
  out->length = length;
  // Canaries in the slack on both sides (the rest of the mapping is zero as mmap gave it).
  unsigned char* first_page = base + page;
  std::memset(first_page, kCanaryByte, static_cast<size_t>(out->data - first_page));
  std::memset(out->data + length, kCanaryByte,
              static_cast<size_t>(trailing - (out->data + length)));
  return true;
}

void free_guarded(GuardedAllocation* allocation) {
  if (allocation->mapping != nullptr) munmap(allocation->mapping, allocation->mapping_bytes);
  *allocation = GuardedAllocation{};
}

int64_t check_canaries(const GuardedAllocation& a) {
  const size_t page = page_bytes();
  const unsigned char* first = static_cast<const unsigned char*>(a.mapping) + page;
  const unsigned char* trailing =
      static_cast<const unsigned char*>(a.mapping) + a.mapping_bytes - page;
  // Before the data, nearest first (an underrun writes just below the start).
  for (const unsigned char* p = a.data; p-- > first;) {
    if (*p != kCanaryByte) return -static_cast<int64_t>(a.data - p);
  }
  for (const unsigned char* p = a.data + a.length; p < trailing; ++p) {
    if (*p != kCanaryByte) return static_cast<int64_t>(p - a.data);
  }
  return kCanariesIntact;
}

// ---- Fault handler --------------------------------------------------------------------------

namespace {

thread_local FaultScope* tls_scope = nullptr;
thread_local void* tls_alt_stack = nullptr;

// The signals a kernel can raise: bad addresses, integer division by zero or overflow
// (x86-64 traps on both), __builtin_trap / unreachable (ud2 on x86-64, brk on arm64).
constexpr int kFaultSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP};
constexpr int kFaultSignalCount = sizeof kFaultSignals / sizeof kFaultSignals[0];
struct sigaction g_previous[kFaultSignalCount];

int fault_slot(int sig) {
  for (int i = 0; i < kFaultSignalCount; ++i)
    if (kFaultSignals[i] == sig) return i;
  return -1;
}

void chain(int sig, siginfo_t* info, void* context) {
  const int slot = fault_slot(sig);
  if (slot < 0) return;
  const struct sigaction& previous = g_previous[slot];
  if ((previous.sa_flags & SA_SIGINFO) != 0 && previous.sa_sigaction != nullptr) {
    previous.sa_sigaction(sig, info, context);
    return;
  }
  if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN &&
      previous.sa_handler != nullptr) {
    previous.sa_handler(sig);
    return;
  }
  // Default action: reinstate it and return; the faulting instruction runs again and the
  // process ends the way it would have without us (core dump included).
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(sig, &dfl, nullptr);
}

void on_fault(int sig, siginfo_t* info, void* context) {
  FaultScope* scope = tls_scope;
  if (sig == kInterruptSignal) {
    // Only from kernel code; elsewhere the worker notices the failed job between groups.
    if (scope == nullptr || scope->armed == 0 || scope->interruptible == 0) return;
  } else if (scope == nullptr || scope->armed == 0) {
    chain(sig, info, context);
    return;
  }
  scope->armed = 0;  // a second fault while reporting goes to the previous handler
  scope->interruptible = 0;
  FaultRecord& r = scope->record;
  r.signal = sig;
  r.code = info->si_code;
  r.address = reinterpret_cast<uintptr_t>(info->si_addr);
  const FaultSite site = fault_site(sig, context);
  r.pc = site.pc;
  r.access = site.access;
  siglongjmp(scope->env, 1);
}

std::once_flag g_install_once;
bool g_installed = false;
int g_install_errno = 0;

void install_handler() {
  struct sigaction action;
  std::memset(&action, 0, sizeof action);
  action.sa_sigaction = on_fault;
  sigemptyset(&action.sa_mask);
  // SA_NODEFER: the signal is not blocked while the handler runs, so leaving it with a
  // siglongjmp that does not restore the mask leaves the thread able to fault again.
  action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  for (int i = 0; i < kFaultSignalCount; ++i) {
    if (sigaction(kFaultSignals[i], &action, &g_previous[i]) != 0) {
      g_install_errno = errno;
      return;
    }
  }
  action.sa_flags |= SA_RESTART;  // the interrupt may land in a blocking call: resume it
  if (sigaction(kInterruptSignal, &action, nullptr) != 0) {
    g_install_errno = errno;
    return;
  }
  g_installed = true;
}

constexpr size_t kAltStackBytes = 64 * 1024;

}  // namespace

#if defined(__linux__)
const int kInterruptSignal = SIGRTMIN + 3;  // real-time: queued, unused by glibc and Deno
#else
const int kInterruptSignal = SIGUSR2;
#endif

std::string install_fault_handler() {
  std::call_once(g_install_once, install_handler);
  if (!g_installed)
    return std::string("cannot install the kernel fault handler: ") +
           std::strerror(g_install_errno);
  return "";
}

bool prepare_fault_scope(FaultScope* scope, std::string* error) {
  if (std::string why = install_fault_handler(); !why.empty()) {
    *error = why;
    return false;
  }
  if (tls_alt_stack == nullptr) {
    // The handler must run even when the fault is a stack overflow, so on its own stack.
    // Kept for the life of the thread (a worker's thread lives as long as its device).
    const size_t page = page_bytes();
    void* p = mmap(nullptr, kAltStackBytes + page, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (p == MAP_FAILED) {
      *error = "checked mode: cannot map an alternate signal stack";
      return false;
    }
    mprotect(p, page, PROT_NONE);  // guard page; best effort
    stack_t ss;
    std::memset(&ss, 0, sizeof ss);
    ss.ss_sp = static_cast<unsigned char*>(p) + page;
    ss.ss_size = kAltStackBytes;
    stack_t old;
    if (sigaltstack(nullptr, &old) == 0 && (old.ss_flags & SS_DISABLE) == 0 &&
        old.ss_size >= static_cast<size_t>(MINSIGSTKSZ)) {
      munmap(p, kAltStackBytes + page);  // the thread already has one (a host thread): keep it
      tls_alt_stack = old.ss_sp;
    } else if (sigaltstack(&ss, nullptr) != 0) {
      munmap(p, kAltStackBytes + page);
      *error = "checked mode: cannot install an alternate signal stack";
      return false;
    } else {
      tls_alt_stack = p;
    }
  }
  tls_scope = scope;
  return true;
}

void forget_fault_scope(FaultScope* scope) {
  if (tls_scope == scope) tls_scope = nullptr;
}

const char* access_word(int access) {
  return access == 2 ? "write" : access == 1 ? "read" : "access";
}

const char* signal_word(int signal) {
  switch (signal) {
    case SIGBUS:
      return "SIGBUS";
    case SIGFPE:
      return "SIGFPE";
    case SIGILL:
      return "SIGILL";
    case SIGTRAP:
      return "SIGTRAP";
    default:
      return "SIGSEGV";
  }
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

namespace {

// Runs llvm-symbolizer on one address of `object`; returns the first frame whose source is
// the kernel's (not the compatibility header), as "FILE:LINE:COLUMN".
std::string symbolize(const std::string& object, uintptr_t offset) {
  for (const char* tool : {"llvm-symbolizer-19", "llvm-symbolizer"}) {
    char address[32];
    std::snprintf(address, sizeof address, "0x%lx", static_cast<unsigned long>(offset));
    const std::string command =
        std::string(tool) + " --obj=" + shell_quote(object) + " " + address + " 2>/dev/null";
    FILE* p = popen(command.c_str(), "r");
    if (p == nullptr) continue;
    std::string text;
    char buf[512];
    while (std::fgets(buf, sizeof buf, p) != nullptr) text += buf;
    if (pclose(p) != 0 || text.empty()) continue;
    // Pairs of lines: function, then FILE:LINE:COLUMN; innermost inlined frame first.
    size_t pos = 0;
    bool function_line = true;
    while (pos < text.size()) {
      size_t end = text.find('\n', pos);
      if (end == std::string::npos) end = text.size();
      const std::string line = text.substr(pos, end - pos);
      pos = end + 1;
      if (line.empty()) break;
      // Not the compatibility header, nor the generated entry point ("@entry", which inlines
      // the kernel), nor a frame without a line ("FILE:0:0").
      if (!function_line && line.rfind("??", 0) != 0 &&
          line.find("metal_compat.h") == std::string::npos &&
          line.find("@entry:") == std::string::npos && line.find(":0:") == std::string::npos &&
          line.size() > 2 && line.compare(line.size() - 2, 2, ":0") != 0)
        return line;
      function_line = !function_line;
    }
    return "";
  }
  return "";
}

}  // namespace

std::string describe_code_address(uintptr_t pc, std::string* source_line) {
  source_line->clear();
  if (pc == 0) return "";
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(pc), &info) == 0 || info.dli_fname == nullptr) return "";
  const uintptr_t offset = pc - reinterpret_cast<uintptr_t>(info.dli_fbase);
  std::string object = info.dli_fname;
  *source_line = symbolize(object, offset);
  const size_t slash = object.rfind('/');
  char hex[32];
  std::snprintf(hex, sizeof hex, "+0x%lx", static_cast<unsigned long>(offset));
  return (slash == std::string::npos ? object : object.substr(slash + 1)) + hex;
}

}  // namespace mbcpu::rt
