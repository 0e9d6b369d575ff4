// compiler.h — MSL source to loadable kernel modules for the CPU backend (internal).
//
// The runtime (runtime.cpp) calls these; the compiler (compiler.cpp) implements them by
// preprocessing the MSL with clang against the compatibility headers in msl/, rewriting what
// C++ reads differently, generating the kernel_module.h entry points, and building a shared
// object with clang++ into the on-disk cache (keyed by a hash of everything that affects it).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "../metal_bridge.h"
#include "vec.h"

namespace mbcpu {

struct Status {
  mb_status code = MB_OK;
  std::string message;  // for MB_ERR_COMPILE: the mapped diagnostics, one per line
  bool ok() const { return code == MB_OK; }
};

// Settings fixed when the device is created.
struct CompilerConfig {
  std::string clang;          // resolved compiler path: $CLANG, else clang-19, else clang on PATH
  std::string clang_version;  // e.g. "19.1.7", part of every cache key
  std::string cache_dir;      // compiled modules live in <cache_dir>/cpu-modules/
  std::string support_dir;    // directory holding msl/ (the compatibility headers)
  uint64_t cache_max_bytes = 0;  // byte budget of cpu-modules/ (disk_cache::budget_bytes)
  // The device's checked mode: modules get line tables (fault reports name the .metal line)
  // and MBK_CHECKED. A flag of the build, so part of the module cache key.
  bool checked = false;
  // Limits of each clang process (sandbox.h); 0: none.
  uint64_t compile_time_limit_ms = 0;
  uint64_t compile_memory_limit_bytes = 0;
};

// Finds clang and fills `config` (cache_dir and support_dir are set by the caller).
// MB_ERR_UNSUPPORTED with a message naming what was tried when no compiler is found.
Status find_compiler(CompilerConfig* config);

struct LibrarySource {
  std::string text;         // the MSL source
  std::string source_name;  // "softmax.metal": used in diagnostics
  std::string macros;       // "NAME=VALUE" lines
  int32_t math_mode = MB_MATH_FAST;
  uint32_t language_version = 0;
};

struct FunctionConstant {
  std::string name;
  uint32_t index;
  uint32_t type;  // MB_CONSTANT_*
  bool required;  // false when the source tests it with is_function_constant_defined
};

struct ConstantValue {
  uint32_t index;
  uint32_t type;
  uint32_t bits;
};

struct LibraryInfo;  // library_info.h

// Compiles a library: preprocess, check (a full compile when it declares no function
// constants, so errors surface here as on Metal), and record kernels and constants.
// MB_ERR_COMPILE with mapped diagnostics on failure.
Status compile_library(const CompilerConfig& config, const LibrarySource& source,
                       std::shared_ptr<const LibraryInfo>* out);

// Builds (or finds in the cache) the module for `constants` and returns its .so path;
// `*compiled` (may be NULL) tells whether clang ran. A cached module is verified first
// (disk_cache.h): a corrupt one is discarded and rebuilt.
// Validates constants against the library's declarations (MB_ERR_INVALID_ARG naming the
// constant, its index and type); `kernel` (may be empty: every kernel) narrows the required
// constants to those it reads. Thread safe; two processes may build the same module at
// once (write to a temporary name, then rename).
Status build_module(const CompilerConfig& config, const LibraryInfo& library,
                    const Vec<ConstantValue>& constants, std::string* out_path,
                    bool* compiled = nullptr, const std::string& kernel = "");

}  // namespace mbcpu
