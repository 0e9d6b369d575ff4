// sandbox.cpp — front-end refusals, the module check before dlopen, and limited compiler
// processes (see sandbox.h).
#include "sandbox.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__linux__)
#include <dlfcn.h>
#include <elf.h>
#include <sys/prctl.h>
#endif

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <set>

#include "disk_cache.h"
#include "vec.h"

extern char** environ;

namespace mbcpu::sandbox {

namespace {

// A refusal as a diagnostic at the first line of the source that mentions `needle` (line 1
// when none does), so the error reads like the compiler's own.
Status refused(const LibrarySource& source, const std::string& needle, const std::string& what) {
  size_t line = 1, column = 1;
  const size_t at = needle.empty() ? std::string::npos : source.text.find(needle);
  if (at != std::string::npos) {
    const size_t line_start = source.text.rfind('\n', at);
    line = 1 + static_cast<size_t>(std::count(source.text.begin(), source.text.begin() + at, '\n'));
    column = at - (line_start == std::string::npos ? 0 : line_start + 1) + 1;
  }
  return {MB_ERR_COMPILE, "cannot compile \"" + source.source_name + "\": 1 error\n" +
                              source.source_name + ":" + std::to_string(line) + ":" +
                              std::to_string(column) + ": error: " + what};
}

}  // namespace

// ---- Front end --------------------------------------------------------------------------------

const Vec<std::string>& compile_flags() {
  // -Werror=... needs -Wno-everything rather than -w before it (-w silences even errors made
  // from warnings). Inline assembly is the one way for MSL text to reach a system call
  // directly; program-scope constructors and destructors would run host code at load/unload,
  // and MSL has neither.
  static const Vec<std::string> flags = {
      "-fno-gnu-inline-asm",
      "-fno-ms-extensions",
      "-fno-asm-blocks",
      "-Werror=global-constructors",
      "-Werror=exit-time-destructors",
  };
  return flags;
}

const std::string& preprocess_prologue() {
  // Poisoned identifiers are errors wherever they appear, including when built by token
  // pasting (`CAT(__has_, include)`), which a textual check would miss. The line marker puts
  // the next line back at line 1 of <stdin>.
  static const std::string text =
      "#pragma clang poison __has_include __has_include_next __has_embed\n# 1 \"<stdin>\"\n";
  return text;
}

Status check_dependencies(const std::string& depfile, const LibrarySource& source) {
  // "<target>: dep dep \\\n dep": everything after the first ": ".
  const size_t colon = depfile.find(": ");
  if (colon == std::string::npos) return {};
  std::string word;
  auto judge = [&]() -> Status {
    if (word.empty() || word == "-" || word == "<stdin>") return {};
    const size_t slash = word.rfind('/');
    return refused(source, slash == std::string::npos ? word : word.substr(slash + 1),
                   "'" + word +
                       "' cannot be read: a Metal library sees only its own source "
                       "and the Metal headers (#include, #embed and __has_include "
                       "of host files are refused)");
  };
  for (size_t i = colon + 2; i < depfile.size(); ++i) {
    const char c = depfile[i];
    if (c == '\\' && i + 1 < depfile.size() && (depfile[i + 1] == '\n' || depfile[i + 1] == '\r')) {
      ++i;
      continue;
    }
    if (c == '\\' && i + 1 < depfile.size()) {
      word += depfile[++i];  // an escaped space in a path
      continue;
    }
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      if (Status s = judge(); !s.ok()) return s;
      word.clear();
      continue;
    }
    word += c;
  }
  return judge();
}

Status check_preprocessed(const std::string& text, const LibrarySource& source) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const size_t first = text.find_first_not_of(" \t", pos);
    if (first < end && (text[first] == '#' || text.compare(first, 2, "%:") == 0)) {
      const size_t word = text.find_first_not_of(" \t", first + (text[first] == '#' ? 1 : 2));
      const std::string rest = word < end ? text.substr(word, end - word) : "";
      const bool line_marker = !rest.empty() && rest[0] >= '0' && rest[0] <= '9';
      const bool pragma = rest.rfind("pragma", 0) == 0;
      const bool reads_files = pragma && (rest.find("dependency") != std::string::npos ||
                                          rest.find("__debug") != std::string::npos);
      if (!line_marker && (!pragma || reads_files)) {
        return refused(source, "#",
                       "a macro expands to a preprocessor directive ('" + rest.substr(0, 40) +
                           "'), which would run when the kernel is compiled: not allowed");
      }
    }
    pos = end + 1;
  }
  return {};
}

// ---- The module check -------------------------------------------------------------------------

#if defined(__linux__)

namespace {

// What the toolchain's startup files (crtbeginS.o / crtendS.o) reference weakly or define for
// every shared object, the dynamic TLS accessor, and the memory functions clang emits for
// copies and zeroing. Math functions are judged separately (allowed_from_libm).
const std::set<std::string>& allowed_symbols() {
  static const std::set<std::string>* names = new std::set<std::string>{
      "__gmon_start__",
      "__cxa_finalize",
      "__register_frame_info",
      "__deregister_frame_info",
      "_ITM_registerTMCloneTable",
      "_ITM_deregisterTMCloneTable",
      "_Jv_RegisterClasses",
      "__tls_get_addr",
      "memcpy",
      "memmove",
      "memset",
      "memcmp",
      "bcmp",
      "__stack_chk_fail",
  };
  return *names;
}

// A symbol `library` defines itself (not one it merely reaches through libc); `probe` is one
// of its own symbols, to find where it is loaded.
bool defined_by(const char* library, const char* probe_name, const std::string& name) {
  void* handle = dlopen(library, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) return false;
  Dl_info info{};
  void* probe = dlsym(handle, probe_name);
  if (probe == nullptr || dladdr(probe, &info) == 0) return false;
  const auto base = reinterpret_cast<uintptr_t>(info.dli_fbase);
  void* address = dlsym(handle, name.c_str());
  return address != nullptr && dladdr(address, &info) != 0 &&
         reinterpret_cast<uintptr_t>(info.dli_fbase) == base;
}

// A symbol the C math library defines itself, or its vector variants (glibc's libmvec, which
// the kernel build uses to vectorise loops that call exp, log, sin, ...).
bool allowed_from_libm(const std::string& name) {
  if (defined_by("libm.so.6", "cosf", name)) return true;
  return name.rfind("_ZGV", 0) == 0 && defined_by("libmvec.so.1", "_ZGVbN4v_expf", name);
}

}  // namespace

Status check_module(const std::string& path, const LibrarySource& source) {
  std::string image;
  if (!disk_cache::read_all(path, &image))
    return {MB_ERR_INTERNAL, "cannot read kernel module " + path + ": " + std::strerror(errno)};
  auto bad = [&](const std::string& why) {
    return Status{MB_ERR_INTERNAL, "kernel module " + path + " is not a valid module: " + why};
  };
  if (image.size() < sizeof(Elf64_Ehdr)) return bad("too short");
  Elf64_Ehdr eh;
  std::memcpy(&eh, image.data(), sizeof eh);
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
      eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_type != ET_DYN)
    return bad("not a 64-bit little-endian ELF shared object");
  if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shoff == 0 ||
      eh.e_shoff + uint64_t{eh.e_shnum} * sizeof(Elf64_Shdr) > image.size() ||
      eh.e_shstrndx >= eh.e_shnum)
    return bad("no section table");
  Vec<Elf64_Shdr> sections(eh.e_shnum);
  std::memcpy(sections.data(), image.data() + eh.e_shoff, eh.e_shnum * sizeof(Elf64_Shdr));
  auto in_bounds = [&](const Elf64_Shdr& s) {
    return s.sh_type == SHT_NOBITS ||
           (s.sh_offset <= image.size() && s.sh_size <= image.size() - s.sh_offset);
  };
  for (const auto& s : sections)
    if (!in_bounds(s)) return bad("a section lies outside the file");
  const Elf64_Shdr& names = sections[eh.e_shstrndx];
  auto name_at = [&](const Elf64_Shdr& table, uint64_t offset) -> std::string {
    if (offset >= table.sh_size) return "";
    const char* start = image.data() + table.sh_offset + offset;
    return std::string(start, strnlen(start, table.sh_size - offset));
  };

  // Code run at load or unload. The toolchain's own startup files add one entry to each of
  // .init_array and .fini_array (frame_dummy, __do_global_dtors_aux); anything more is a
  // constructor or destructor of the kernel's.
  for (const auto& s : sections) {
    const std::string name = name_at(names, s.sh_name);
    const uint64_t entries = s.sh_size / sizeof(uint64_t);
    const bool init = s.sh_type == SHT_INIT_ARRAY || name == ".init_array";
    const bool fini = s.sh_type == SHT_FINI_ARRAY || name == ".fini_array";
    if (s.sh_type == SHT_PREINIT_ARRAY || name == ".ctors" || name == ".dtors" ||
        ((init || fini) && entries > 1))
      return refused(source, fini || name == ".dtors" ? "destructor" : "constructor",
                     std::string("the compiled kernel would run code when it is ") +
                         (fini || name == ".dtors" ? "unloaded" : "loaded") +
                         " (a program-scope constructor or destructor, section " + name +
                         "): MSL has none, not allowed");
  }

  // Imports: every undefined dynamic symbol must be on the allow-list.
  for (const auto& s : sections) {
    if (s.sh_type != SHT_DYNSYM) continue;
    if (s.sh_link >= sections.size() || s.sh_entsize != sizeof(Elf64_Sym))
      return bad("bad .dynsym");
    const Elf64_Shdr& strings = sections[s.sh_link];
    const uint64_t count = s.sh_size / sizeof(Elf64_Sym);
    for (uint64_t i = 1; i < count; ++i) {
      Elf64_Sym sym;
      std::memcpy(&sym, image.data() + s.sh_offset + i * sizeof sym, sizeof sym);
      if (sym.st_shndx != SHN_UNDEF) continue;
      const std::string name = name_at(strings, sym.st_name);
      if (name.empty() || allowed_symbols().count(name) != 0 || allowed_from_libm(name)) continue;
      return refused(source, name,
                     "the kernel calls or uses '" + name +
                         "', which is neither defined in the source nor part of "
                         "the Metal standard library: kernels cannot reach host "
                         "functions");
    }
  }
  return {};
}

#else

Status check_module(const std::string&, const LibrarySource&) { return {}; }

#endif

// ---- Compiler processes -----------------------------------------------------------------------

ProcessResult run_process(const Vec<std::string>& args, const std::string& input,
                          const ProcessLimits& limits) {
  ProcessResult result;
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0) return result;
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    close(in_pipe[0]);
    close(in_pipe[1]);
    return result;
  }
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(in_pipe[0]);
    close(in_pipe[1]);
    close(out_pipe[0]);
    close(out_pipe[1]);
    return result;
  }
  // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
  Vec<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
#if defined(__linux__)
    // Dies with us (kill -9 included) instead of compiling on for nobody.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
#endif
    if (limits.memory_bytes != 0) {
      struct rlimit r = {limits.memory_bytes, limits.memory_bytes};
      setrlimit(RLIMIT_AS, &r);
    }
    if (limits.time_ms != 0) {
      // CPU seconds as a backstop should the parent stop watching the wall clock.
      const rlim_t seconds = static_cast<rlim_t>(limits.time_ms / 1000 + 2);
      struct rlimit r = {seconds, seconds};
      setrlimit(RLIMIT_CPU, &r);
    }
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    execve(argv[0], argv.data(), environ);
    _exit(127);
  }
  const int spawn_errno = errno;
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (pid < 0) {
    close(in_pipe[1]);
    close(out_pipe[0]);
    close(err_pipe[0]);
    result.err = std::string("cannot run ") + args[0] + ": " + std::strerror(spawn_errno);
    return result;
  }
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(limits.time_ms);
  // Feed stdin while draining both outputs, so no pipe fills up and deadlocks.
  size_t written = 0;
  int in_fd = in_pipe[1];
  if (input.empty()) {
    close(in_fd);
    in_fd = -1;
  }
  bool out_open = true, err_open = true;
  static thread_local char buf[65536];
  while (out_open || err_open || in_fd >= 0) {
    pollfd fds[3];
    int n = 0, out_i = -1, err_i = -1, in_i = -1;
    if (out_open) fds[out_i = n++] = {out_pipe[0], POLLIN, 0};
    if (err_open) fds[err_i = n++] = {err_pipe[0], POLLIN, 0};
    if (in_fd >= 0) fds[in_i = n++] = {in_fd, POLLOUT, 0};
    int wait_ms = -1;
    if (limits.time_ms != 0) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) {
        kill(pid, SIGKILL);
        result.timed_out = true;
        break;
      }
      wait_ms = static_cast<int>(std::min<int64_t>(left, 1000));
    }
    if (poll(fds, n, wait_ms) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    auto drain = [&](int idx, int fd, std::string& dst, bool& open) {
      if (idx < 0 || !(fds[idx].revents & (POLLIN | POLLHUP | POLLERR))) return;
      const ssize_t r = read(fd, buf, sizeof buf);
      if (r > 0) {
        dst.append(buf, static_cast<size_t>(r));
      } else if (r == 0 || errno != EINTR) {
        open = false;
      }
    };
    drain(out_i, out_pipe[0], result.out, out_open);
    drain(err_i, err_pipe[0], result.err, err_open);
    if (in_i >= 0 && (fds[in_i].revents & (POLLOUT | POLLERR | POLLHUP))) {
      const ssize_t w = (fds[in_i].revents & POLLOUT)
                            ? write(in_fd, input.data() + written,
                                    std::min<size_t>(input.size() - written, 65536))
                            : -1;
      if (w > 0) written += static_cast<size_t>(w);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 || written == input.size()) {
        close(in_fd);
        in_fd = -1;
      }
    }
  }
  if (in_fd >= 0) close(in_fd);
  close(out_pipe[0]);
  close(err_pipe[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code =
      WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && result.err.empty()) {
    result.exit_code = -1;
    result.err = "cannot run " + args[0];
  }
  return result;
}

Status limit_status(const ProcessResult& result, const ProcessLimits& limits,
                    const std::string& what) {
  if (result.timed_out)
    return {MB_ERR_LIMIT,
            what + " took longer than its time limit of " + std::to_string(limits.time_ms) +
                " ms and was stopped (raise it with the device option compileTimeLimit)"};
  if (result.exit_code == 128 + SIGXCPU)
    return {MB_ERR_LIMIT,
            what + " used more CPU time than its limit of " + std::to_string(limits.time_ms) +
                " ms and was stopped (raise it with the device option compileTimeLimit)"};
  const bool out_of_memory = result.err.find("out of memory") != std::string::npos ||
                             result.err.find("Cannot allocate memory") != std::string::npos ||
                             result.err.find("std::bad_alloc") != std::string::npos;
  if (limits.memory_bytes != 0 && result.exit_code != 0 && out_of_memory)
    return {MB_ERR_LIMIT,
            what + " needed more than its memory limit of " +
                std::to_string(limits.memory_bytes >> 20) +
                " MB and was stopped (raise it with the device option compileMemoryLimit)"};
  return {};
}

}  // namespace mbcpu::sandbox
