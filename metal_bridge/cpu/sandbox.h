// sandbox.h — what keeps compiled MSL on its side of the process (internal).
//
// On a GPU a kernel cannot call into the host, read files or run programs. On the CPU backend
// a kernel is native code in the user's process, so the same promise is enforced twice:
// - in the front end: clang never sees what MSL cannot express. Every clang that reads kernel
//   code gets compile_flags() (no inline assembly, no program-scope constructors or
//   destructors); the preprocessor runs with preprocess_prologue() (`__has_include` and
//   friends poisoned), its dependency list must name no file (check_dependencies: no
//   `#include` or `#embed` of anything but the Metal headers, which are never read), and its
//   output must hold no directive a second preprocessing would run (check_preprocessed).
// - on the compiled module, before it is loaded (check_module): its undefined symbols must be
//   on the runtime's allow-list (the math library, mem*, thread-local storage), and it must
//   not run code at load or unload beyond what the toolchain itself emits. A module that fails
//   is never dlopen'ed.
// The compiler processes themselves run with a time and memory limit and die with the process
// (run_process). This is not a security boundary against a determined attacker: see the
// README's threat model.
#pragma once

#include <cstdint>
#include <string>

#include "compiler.h"
#include "vec.h"

namespace mbcpu::sandbox {

// Flags for every clang invocation that compiles kernel code.
const Vec<std::string>& compile_flags();

// Text to put before the MSL given to `clang -E` (it resets the line number, so diagnostics
// keep the source's lines).
const std::string& preprocess_prologue();

// The preprocessor's dependency file (-MD -MF): MB_ERR_COMPILE naming the first file the
// source tried to read. The Metal headers are blanked before preprocessing, so a valid
// source reads none.
Status check_dependencies(const std::string& depfile_text, const LibrarySource& source);

// The preprocessor's output: MB_ERR_COMPILE when a line would be a directive again when the
// text is compiled (a macro expanding to `# include "..."`), or a pragma that reads files.
Status check_preprocessed(const std::string& text, const LibrarySource& source);

// Reads the compiled module at `path` without loading it and refuses (MB_ERR_COMPILE, naming
// the symbol or section) a module that imports anything beyond the allow-list or runs code at
// load. On platforms whose modules are not ELF the check passes (README: threat model).
Status check_module(const std::string& path, const LibrarySource& source);

// A child process's limits. Zero: no limit.
struct ProcessLimits {
  uint64_t time_ms = 0;       // wall clock; the child is killed past it
  uint64_t memory_bytes = 0;  // address space (RLIMIT_AS)
};

struct ProcessResult {
  int exit_code = -1;  // -1: could not start; 128 + N: killed by signal N
  std::string out, err;
  bool timed_out = false;  // killed after limits.time_ms
};

// Runs `args` (no shell) feeding `input` on stdin, capturing stdout and stderr, under
// `limits`. The child is killed if this process dies first (Linux: PR_SET_PDEATHSIG).
ProcessResult run_process(const Vec<std::string>& args, const std::string& input,
                          const ProcessLimits& limits);

// The compiler limits in effect (device config compile_time_limit_ms / compile_memory_limit_mb).
constexpr uint64_t kDefaultCompileTimeMs = 120'000;
constexpr uint64_t kDefaultCompileMemoryBytes = uint64_t{4} << 30;

// Turns a run that hit its limits into a clear status (MB_ERR_LIMIT); ok() otherwise.
Status limit_status(const ProcessResult& result, const ProcessLimits& limits,
                    const std::string& what);

}  // namespace mbcpu::sandbox
