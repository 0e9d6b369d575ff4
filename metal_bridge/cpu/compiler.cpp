// compiler.cpp — MSL source to loadable kernel modules for the CPU backend (see compiler.h).
//
// Pipeline (docs/architecture.md, "How MSL becomes a CPU module"):
//   1. `clang -E` the MSL (user macros applied, `#include <metal_*>` lines blanked, line markers
//      kept so every line of the result knows its .metal line).
//   2. Rewrite, token by token, what C++ reads differently (msl_rewrite.cpp): MSL attributes
//      (spelled as clang annotations), threadgroup variables, namespace-scope `constant`,
//      function constants, vector constructors, float literals; the tokens locate the candidate
//      kernels (definitions, host_name instantiations). Each rewrite stays on its line and
//      records a column anchor, so diagnostics map back to .metal line:column.
//   3. Ask clang what it understands of the rewritten text (`-fsyntax-only -Xclang -ast-dump`,
//      msl_ast.h) and refuse what the MSL specification leaves out of C++ and only clang can see
//      (msl_exclusions.h: lambdas, recursion, function pointers, mutable program-scope
//      variables), with the rewriter's own refusals and clang's errors, all at once. The same
//      facts decide the kernels: which function each candidate is and whether it is a kernel, its
//      name, parameters' bindings, threadgroup memory, max_total_threads_per_threadgroup, whether
//      it reaches a barrier or collective (fibers) and which function constants it reads
//      (msl_ast.h KernelFacts).
//   4. Append generated entry points (kernel_module.h) per kernel; parameter types come from
//      decltype(&kernel), so no C++ type parsing is needed.
//   5. Per constant specialisation: prepend the constant values and build a shared object with
//      clang into <cache_dir>/cpu-modules/<hash>.so (temp file + rename; a hit skips clang).
#include "compiler.h"

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <set>

#include "disk_cache.h"
#include "library_info.h"
#include "msl_address_spaces.h"
#include "msl_ast.h"
#include "msl_exclusions.h"
#include "msl_lex.h"
#include "msl_rewrite.h"
#include "msl_vocabulary.h"
#include "msl_work_items.h"
#include "sandbox.h"

extern char** environ;

namespace mbcpu {
namespace {

// Part of every cache key, beside the hash of the front end's sources (support_hash): bump it
// when the meaning of a cached entry changes without a source change (e.g. a flag's effect).
constexpr const char* kCompilerVersion = "mbcpu-compiler-4";

// ---- hashing --------------------------------------------------------------------------------

using disk_cache::Hasher;  // in hasher.cpp, built optimised: every cache hit hashes

// ---- files ----------------------------------------------------------------------------------

bool file_exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

bool make_dirs(const std::string& path) {
  std::string cur;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      if (!cur.empty() && !file_exists(cur) && mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST)
        return false;
    }
    if (i < path.size()) cur += path[i];
  }
  return true;
}

// ---- processes ------------------------------------------------------------------------------

using sandbox::ProcessResult;

// Every clang child runs under the device's compile limits and dies with this process.
ProcessResult run_process(const CompilerConfig& config, const Vec<std::string>& args,
                          const std::string& input) {
  return sandbox::run_process(args, input,
                              {config.compile_time_limit_ms, config.compile_memory_limit_bytes});
}

std::string find_on_path(const std::string& name) {
  if (name.find('/') != std::string::npos) return access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = getenv("PATH");
  std::string p = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    std::string dir = p.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string full = dir + "/" + name;
    if (access(full.c_str(), X_OK) == 0) return full;
    start = end + 1;
  }
  return "";
}

// ---- compat header identity -----------------------------------------------------------------

std::string header_path(const CompilerConfig& config) {
  return config.support_dir + "/msl/metal_compat.h";
}

// Hash of everything that decides what a cached library or module holds: the compatibility
// headers and the front end's own sources (every file of the support directory and of msl/), so
// a change to the rewriter or the generator can never be served a stale entry.
std::string support_hash(const CompilerConfig& config) {
  static std::mutex mu;
  static SortedMap<std::string, std::string> memo;
  std::lock_guard<std::mutex> lock(mu);
  auto it = memo.find(config.support_dir);
  if (it != memo.end()) return it->second;
  Hasher h;
  h.add(std::string(kCompilerVersion));
  h.add(std::string(disk_cache::key_salt()));
  std::set<std::string> files;  // sorted: the hash must not depend on readdir's order
  for (const std::string& dir : {config.support_dir, config.support_dir + "/msl"}) {
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) return "";  // not cached: retried next time
    while (const dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      const size_t dot = name.rfind('.');
      const std::string ext = dot == std::string::npos ? "" : name.substr(dot);
      if (ext == ".h" || ext == ".cpp") files.insert(dir + "/" + name);
    }
    closedir(d);
  }
  std::string text;
  for (const std::string& path : files) {
    if (!disk_cache::read_all(path, &text)) return "";
    h.add(path.substr(config.support_dir.size()));
    h.add(text);
  }
  return memo[config.support_dir] = h.hex();
}

// Flags of the kernel build, also hashed into the module key.
Vec<std::string> codegen_flags(int32_t math_mode, bool checked) {
  Vec<std::string> f = {"-std=c++20",
                        "-O2",
                        "-fPIC",
                        "-fvisibility=hidden",
                        "-fno-exceptions",
                        "-fno-rtti",
                        "-fno-math-errno",
                        "-Xclang",
                        "-ffloat16-excess-precision=none",
                        "-Xclang",
                        "-fbfloat16-excess-precision=none"};  // half and bfloat ops round each time
  if (math_mode == MB_MATH_FAST || math_mode == MB_MATH_RELAXED) {
    f.push_back("-ffast-math");
    f.push_back("-fno-finite-math-only");  // keep NaN/Inf semantics (isnan, -INFINITY seeds)
  } else {
    f.push_back("-ffp-contract=on");
  }
#if defined(__x86_64__)
  // Only what this CPU has; the flags are part of the cache key, so a shared cache stays safe.
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
      __builtin_cpu_supports("f16c")) {
    f.push_back("-mavx2");
    f.push_back("-mfma");
    f.push_back("-mf16c");
  }
#if defined(__GLIBC__)
  // glibc's vector math (libmvec): loops over threads that call exp, log, sin, ... vectorise,
  // and float4 math is one call instead of four (sandbox.h allows its symbols).
  static const bool libmvec = [] {
    void* handle = dlopen("libmvec.so.1", RTLD_NOW | RTLD_LOCAL);
    return handle != nullptr && dlsym(handle, "_ZGVbN4v_expf") != nullptr;
  }();
  if (libmvec) f.push_back("-fveclib=libmvec");
#endif
#endif
  if (checked) {
    // Line tables only (no types or variables: cheap to build): checked.cpp's fault report
    // symbolizes the faulting PC to "@src:LINE:COL" (the line markers name the .metal lines).
    // Relative to "." so the module does not depend on the working directory.
    f.push_back("-gline-tables-only");
    f.push_back("-fdebug-compilation-dir=.");
    f.push_back("-DMBK_CHECKED=1");
  }
  return f;
}

std::string modules_dir(const CompilerConfig& config) { return config.cache_dir + "/cpu-modules"; }

// ---- diagnostics ----------------------------------------------------------------------------

Status compile_error(const std::string& source_name, const Vec<std::string>& lines) {
  Status s;
  s.code = MB_ERR_COMPILE;
  size_t errors = 0;
  for (const auto& l : lines)
    if (l.find(": error: ") != std::string::npos) ++errors;
  if (errors == 0) errors = 1;
  s.message = "cannot compile \"" + source_name + "\": " + std::to_string(errors) +
              (errors == 1 ? " error" : " errors");
  for (const auto& l : lines) s.message += "\n" + l;
  return s;
}

// Maps clang's stderr (locations in @src / @entry / the compat header) to .metal locations.
Vec<std::string> map_diagnostics(const std::string& stderr_text, const Rewritten& rw,
                                 const std::string& source_name) {
  struct Diag {
    std::string file, kind, msg;
    int line = 0, col = 0;
  };
  Vec<Diag> diags;
  Vec<std::string> other;
  for (const std::string& l : split_lines(stderr_text)) {
    // FILE:LINE:COL: KIND: MSG
    size_t k = l.find(": error: "), kl = 7;
    std::string kind = "error";
    if (k == std::string::npos) {
      k = l.find(": note: ");
      kl = 6;
      kind = "note";
    }
    if (k == std::string::npos) {
      k = l.find(": fatal error: ");
      kl = 13;
      kind = "error";
    }
    if (k == std::string::npos) {
      if (l.find("error:") != std::string::npos) other.push_back(l);  // e.g. linker errors
      continue;
    }
    Diag d;
    d.kind = kind;
    d.msg = l.substr(k + 2 + kl);
    std::string loc = l.substr(0, k);
    size_t c2 = loc.rfind(':');
    size_t c1 = c2 == std::string::npos ? std::string::npos : loc.rfind(':', c2 - 1);
    if (c1 == std::string::npos) {
      other.push_back(l);
      continue;
    }
    d.file = loc.substr(0, c1);
    d.line = atoi(loc.c_str() + c1 + 1);
    d.col = atoi(loc.c_str() + c2 + 1);
    diags.push_back(d);
  }
  auto format = [&](const Diag& d, const std::string& kind, const std::string& msg) {
    int line = d.line, col = d.col;
    if (d.file == kEntryFile)
      col = 1;
    else
      col = rw.map_column(line, col);
    return source_name + ":" + std::to_string(line) + ":" + std::to_string(col) + ": " + kind +
           ": " + msg;
  };
  auto in_source = [](const Diag& d) { return d.file == kSourceFile || d.file == kEntryFile; };
  Vec<std::string> out;
  for (size_t i = 0; i < diags.size(); ++i) {
    const Diag& d = diags[i];
    if (d.kind != "error") continue;
    size_t end = i + 1;
    while (end < diags.size() && diags[end].kind == "note") ++end;
    if (in_source(d)) {
      out.push_back(format(d, "error", d.msg));
    } else {
      // An error inside the compat header: report it where the .metal source asked for it.
      const Diag* at = nullptr;
      for (size_t j = i + 1; j < end && !at; ++j)
        if (in_source(diags[j])) at = &diags[j];
      if (at)
        out.push_back(format(*at, "error", d.msg));
      else
        out.push_back(source_name + ": error: " + d.msg);
    }
    int notes = 0;
    for (size_t j = i + 1; j < end && notes < 2; ++j) {
      const Diag& n = diags[j];
      if (!in_source(n) || n.msg.rfind("in instantiation of", 0) == 0) continue;
      out.push_back(format(n, "note", n.msg));
      ++notes;
    }
  }
  for (const auto& o : other) out.push_back(source_name + ": error: " + o);
  if (out.empty() && !stderr_text.empty()) {
    std::string first = stderr_text.substr(0, stderr_text.find('\n'));
    out.push_back(source_name + ": error: " + first);
  }
  return out;
}

// ---- preprocessing --------------------------------------------------------------------------

// `#include <metal_stdlib>` and friends (and <MetalPerformancePrimitives/...>) become empty lines
// (same line count); the compat header is force-included at compile time instead.
std::string blank_metal_includes(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    size_t i = line.find_first_not_of(" \t");
    bool metal_include = false;
    if (i != std::string::npos && line[i] == '#') {
      size_t j = line.find_first_not_of(" \t", i + 1);
      if (j != std::string::npos && line.compare(j, 7, "include") == 0) {
        size_t k = line.find_first_not_of(" \t", j + 7);
        metal_include =
            k != std::string::npos &&
            (line.compare(k, 7, "<metal_") == 0 || line.compare(k, 7, "\"metal_") == 0 ||
             line.compare(k, 27, "<MetalPerformancePrimitives") == 0);
      }
    }
    if (!metal_include) out += line;
    if (end < text.size()) out += '\n';
    pos = end + 1;
  }
  return out;
}

uint32_t metal_version_macro(uint32_t language_version) {
  if (language_version == 0) return 320;
  return (language_version >> 16) * 100 + (language_version & 0xffff) * 10;
}

Status preprocess(const CompilerConfig& config, const LibrarySource& source, std::string* out) {
  Vec<std::string> args = {
      config.clang,
      "-E",
      "-x",
      "c++",
      "-std=c++20",
      "-nostdinc",
      "-fno-color-diagnostics",
      "-Wno-everything",
      "-D__METAL_VERSION__=" + std::to_string(metal_version_macro(source.language_version)),
      "-D__METAL__=1",
      "-D__HAVE_BFLOAT__=1",
      "-D__METAL_CPU_BACKEND__=1"};
  if (source.math_mode == MB_MATH_FAST) args.push_back("-D__FAST_MATH__=1");
  for (std::string m : split_lines(source.macros)) {
    while (!m.empty() && (m.back() == '\r' || m.back() == ' ')) m.pop_back();
    size_t s = m.find_first_not_of(" \t");
    if (s == std::string::npos) continue;
    args.push_back("-D" + m.substr(s));
  }
  // The sandbox (sandbox.h): __has_include poisoned, and every file the preprocessor reads
  // listed in a dependency file that must name none.
  char deps[] = "/tmp/mbcpu-deps-XXXXXX";
  const int deps_fd = mkstemp(deps);
  if (deps_fd < 0)
    return Status{MB_ERR_INTERNAL,
                  std::string("cannot create a temporary file in /tmp: ") + strerror(errno)};
  close(deps_fd);
  args.insert(args.end(), {"-MD", "-MF", deps, "-"});
  ProcessResult r =
      run_process(config, args, sandbox::preprocess_prologue() + blank_metal_includes(source.text));
  std::string dependencies;
  disk_cache::read_all(deps, &dependencies);
  unlink(deps);
  if (r.exit_code == -1) return Status{MB_ERR_UNSUPPORTED, r.err};
  if (Status s = sandbox::limit_status(
          r, {config.compile_time_limit_ms, config.compile_memory_limit_bytes},
          "preprocessing \"" + source.source_name + "\"");
      !s.ok())
    return s;
  if (Status s = sandbox::check_dependencies(dependencies, source); !s.ok()) return s;
  if (r.exit_code != 0) {
    Rewritten none;  // no rewriting yet: columns are the source's own
    auto lines = map_diagnostics(rename_stdin_markers(r.err), none, source.source_name);
    // `#include <vector>` in an active branch (there is no search path): as Metal says it. An
    // include in a branch the preprocessor skips is never looked at, as on Metal.
    for (auto& l : lines) {
      size_t k = l.find(": error: '");
      size_t e = l.rfind("' file not found");
      if (k == std::string::npos || e == std::string::npos || e < k + 10) continue;
      std::string header = l.substr(k + 10, e - (k + 10));
      if (header.rfind("metal_", 0) == 0) continue;
      const int line = atoi(l.c_str() + source.source_name.size() + 1);
      if (line <= 0) continue;
      const Vec<std::string> src_lines = split_lines(source.text);
      // Past the end: the last line, as reading line by line up to `line` left it.
      if (src_lines[std::min((size_t)line, src_lines.size()) - 1].find('<') == std::string::npos)
        continue;
      l = l.substr(0, k) + ": error: '<" + header +
          ">' is not a Metal header: the C and C++ standard libraries are not available in Metal "
          "(use <metal_stdlib>)";
    }
    return compile_error(source.source_name, lines);
  }
  if (Status s = sandbox::check_preprocessed(r.out, source); !s.ok()) return s;
  *out = std::move(r.out);
  return {};
}

// ---- library cache (skips clang -E on a warm start) ------------------------------------------

// The library's codegen text and what every pipeline needs to know of it, read once here.
void set_preprocessed(LibraryInfo* lib, std::string text) {
  lib->preprocessed = std::move(text);
  lib->work_items =
      lib->preprocessed.find(std::string("#if ") + kWorkItemsMacro) != std::string::npos;
  Hasher h;
  h.add(lib->preprocessed);
  lib->preprocessed_hash = h.hex();
}

// A kernel's line is "LENGTH NAME CONSTANT...": [[host_name("...")]] may hold spaces (even
// line breaks), so the name's length comes first.
std::string serialize_library(const LibraryInfo& lib) {
  std::string s = "mbcpu-lib 3\n";
  s += "kernels " + std::to_string(lib.kernel_names.size()) + "\n";
  for (const auto& k : lib.kernel_names) {
    s += std::to_string(k.size()) + " " + k;
    auto it = lib.kernel_constants.find(k);
    if (it != lib.kernel_constants.end())
      for (uint32_t c : it->second) s += " " + std::to_string(c);
    s += "\n";
  }
  s += "constants " + std::to_string(lib.constants.size()) + "\n";
  for (const auto& c : lib.constants)
    s += c.name + " " + std::to_string(c.index) + " " + std::to_string(c.type) + " " +
         (c.required ? "1" : "0") + "\n";
  s += "text " + std::to_string(lib.preprocessed.size()) + "\n";
  s += lib.preprocessed;
  return s;
}

// The words of `line` (runs of characters between spaces and tabs).
Vec<std::string> words_of(const std::string& line) {
  static const char* kSpace = " \t\r\v\f";
  Vec<std::string> words;
  for (size_t i = line.find_first_not_of(kSpace); i != std::string::npos;
       i = line.find_first_not_of(kSpace, i)) {
    const size_t end = std::min(line.find_first_of(kSpace, i), line.size());
    words.push_back(line.substr(i, end - i));
    i = end;
  }
  return words;
}

// `word` as a decimal number of at most `max`; false when it is not one.
bool parse_number(const std::string& word, uint64_t max, uint64_t* out) {
  if (word.empty()) return false;
  uint64_t value = 0;
  for (char c : word) {
    const uint64_t digit = (uint64_t)(c - '0');
    if (c < '0' || c > '9' || value > (max - digit) / 10) return false;
    value = value * 10 + digit;
  }
  *out = value;
  return true;
}

// Reads serialize_library's text back; false when `data` is not one.
bool deserialize_library(const std::string& data, LibraryInfo* lib) {
  size_t pos = 0;
  // The words of the next line; false when no line is left.
  auto next_line = [&](Vec<std::string>* words) {
    if (pos >= data.size()) return false;
    const size_t end = std::min(data.find('\n', pos), data.size());
    *words = words_of(data.substr(pos, end - pos));
    pos = std::min(end + 1, data.size());
    return true;
  };
  Vec<std::string> w;
  uint64_t n = 0;
  // A line "NAME COUNT": its count in `n`.
  auto count_line = [&](const char* name) {
    return next_line(&w) && w.size() == 2 && w[0] == name && parse_number(w[1], SIZE_MAX, &n);
  };
  const std::string magic = "mbcpu-lib 3\n";
  if (data.compare(0, magic.size(), magic) != 0) return false;
  pos = magic.size();
  if (!count_line("kernels")) return false;
  for (uint64_t i = 0, kernels = n; i < kernels; ++i) {
    const size_t space = data.find(' ', pos);
    uint64_t length = 0;
    if (space == std::string::npos ||
        !parse_number(data.substr(pos, space - pos), data.size() - space - 1, &length))
      return false;
    const std::string name = data.substr(space + 1, length);
    pos = space + 1 + length;
    if (!next_line(&w)) return false;  // the rest of its line: the constants it reads
    Vec<uint32_t> used;
    for (const std::string& word : w) {
      uint64_t index = 0;
      if (!parse_number(word, UINT32_MAX, &index)) return false;
      used.push_back((uint32_t)index);
    }
    lib->kernel_names.push_back(name);
    lib->kernel_constants[name] = std::move(used);
  }
  if (!count_line("constants")) return false;
  for (uint64_t i = 0, constants = n; i < constants; ++i) {
    uint64_t index = 0, type = 0, required = 0;
    if (!next_line(&w) || w.size() != 4 || !parse_number(w[1], UINT32_MAX, &index) ||
        !parse_number(w[2], UINT32_MAX, &type) || !parse_number(w[3], 1, &required))
      return false;
    lib->constants.push_back({w[0], (uint32_t)index, (uint32_t)type, required != 0});
  }
  if (!count_line("text") || n > data.size() - pos) return false;
  set_preprocessed(lib, data.substr(pos, n));
  return true;
}

// ---- module builds --------------------------------------------------------------------------

// In-process de-duplication: concurrent build_module calls for one key wait for the first.
struct InFlight {
  std::mutex mu;
  std::condition_variable cv;
  std::set<std::string> keys;
};
InFlight& in_flight() {
  static InFlight f;
  return f;
}

const char* constant_type_name(uint32_t type) {
  switch (type) {
    case MB_CONSTANT_BOOL:
      return "bool";
    case MB_CONSTANT_INT:
      return "int";
    case MB_CONSTANT_UINT:
      return "uint";
    case MB_CONSTANT_FLOAT:
      return "float";
    case MB_CONSTANT_HALF:
      return "half";
    case MB_CONSTANT_SHORT:
      return "short";
    case MB_CONSTANT_USHORT:
      return "ushort";
  }
  return "unknown";
}

// The C++ text defining each declared constant's value for one specialisation. A function
// constant is declared `constexpr T name = ::__mb_fc<(INDEX)>{};` (msl_declarations.cpp): the
// value of the constant at INDEX (its bits; 0 when not given) converted to the declared type T,
// and `__mb_fc_bits<INDEX>::defined` says whether it was given (is_function_constant_defined).
std::string constants_prelude(const LibraryInfo& lib, const Vec<ConstantValue>& values) {
  // __mb_msl, __mb_msl_tg: MSL attributes and threadgroup sizes the rewriter spells as clang
  // annotations (msl_declarations.cpp), which only the facts pass reads (clang_facts); elsewhere
  // they are nothing.
  std::string p =
      "#define is_function_constant_defined(name) __mb_fcd_##name\n#define __mb_msl(...)\n"
      "#define __mb_msl_tg(...)\n"
      "template <unsigned __mb_i> struct __mb_fc_bits {\n"
      "  static constexpr unsigned bits = 0u;\n  static constexpr bool defined = false;\n};\n"
      "template <unsigned __mb_i> struct __mb_fc {\n"
      "  template <typename __mb_t> constexpr operator __mb_t() const {\n"
      "    constexpr unsigned b = __mb_fc_bits<__mb_i>::bits;\n"
      "    if constexpr (__is_same(__mb_t, _Float16))\n"
      "      return __builtin_bit_cast(_Float16, (unsigned short)b);\n"
      "    else if constexpr (__is_same(__mb_t, float))\n"
      "      return __builtin_bit_cast(float, b);\n"
      "    else if constexpr (__is_same(__mb_t, bool))\n"
      "      return b != 0u;\n"
      "    else\n"
      "      return (__mb_t)b;\n  }\n};\n";
  for (const auto& c : lib.constants) {
    const ConstantValue* v = nullptr;
    for (const auto& given : values)
      if (given.index == c.index) v = &given;
    if (!v) continue;
    uint32_t bits = v->bits;
    if (c.type == MB_CONSTANT_BOOL) bits = bits ? 1u : 0u;
    if (c.type == MB_CONSTANT_HALF || c.type == MB_CONSTANT_SHORT || c.type == MB_CONSTANT_USHORT)
      bits &= 0xffffu;
    if (c.type == MB_CONSTANT_SHORT && (bits & 0x8000u)) bits |= 0xffff0000u;
    p += "template <> struct __mb_fc_bits<" + std::to_string(c.index) +
         "u> {\n  static constexpr unsigned bits = " + std::to_string(bits) +
         "u;\n  static constexpr bool defined = true;\n};\n";
  }
  return p;
}

Status validate_constants(const LibraryInfo& lib, const Vec<ConstantValue>& values,
                          const std::string& kernel) {
  const Vec<uint32_t>* reads = nullptr;
  if (!kernel.empty()) {
    auto it = lib.kernel_constants.find(kernel);
    if (it != lib.kernel_constants.end()) reads = &it->second;
  }
  auto invalid = [](const std::string& m) { return Status{MB_ERR_INVALID_ARG, m}; };
  const std::string& src = lib.source.source_name;
  for (size_t i = 0; i < values.size(); ++i) {
    const ConstantValue& v = values[i];
    for (size_t j = 0; j < i; ++j)
      if (values[j].index == v.index)
        return invalid("function constant index " + std::to_string(v.index) + " is given twice");
    const FunctionConstant* decl = nullptr;
    for (const auto& c : lib.constants)
      if (c.index == v.index) decl = &c;
    if (!decl) {
      // Worded as on Metal: what may be given instead.
      std::string declared;
      for (const auto& c : lib.constants)
        declared += (declared.empty() ? "" : ", ") + ("'" + c.name + "' [[function_constant(") +
                    std::to_string(c.index) + ")]] (" + constant_type_name(c.type) +
                    (c.required ? ", required)" : ")");
      return invalid("\"" + src + "\" declares no function constant at index " +
                     std::to_string(v.index) + " (given " +
                     (v.type == MB_CONSTANT_INT ? "an " : "a ") + constant_type_name(v.type) +
                     "; declared: " + (declared.empty() ? "none" : declared) + ")");
    }
    if (decl->type != v.type)
      return invalid("function constant '" + decl->name + "' (index " + std::to_string(v.index) +
                     ") is " + constant_type_name(decl->type) + ", given " +
                     constant_type_name(v.type));
  }
  for (const auto& c : lib.constants) {
    if (!c.required) continue;
    if (reads && std::find(reads->begin(), reads->end(), c.index) == reads->end()) continue;
    bool given = false;
    for (const auto& v : values) given |= v.index == c.index;
    if (!given)
      return invalid("function constant '" + c.name + "' (index " + std::to_string(c.index) + ", " +
                     constant_type_name(c.type) + ") is required but not given");
  }
  return {};
}

// Runs clang on the translated text; on failure re-derives the column maps for diagnostics.
Status compile_module(const CompilerConfig& config, const LibraryInfo& lib, const std::string& text,
                      const Vec<std::string>& flags, const std::string& out_path) {
  std::string tmp = disk_cache::temp_path(out_path);
  Vec<std::string> args = {config.clang, "-x", "c++"};
  args.insert(args.end(), flags.begin(), flags.end());
  args.insert(args.end(), {"-shared", "-rtlib=compiler-rt", "-Wno-everything"});
  args.insert(args.end(), sandbox::compile_flags().begin(), sandbox::compile_flags().end());
  args.insert(args.end(), {"-fno-color-diagnostics", "-fno-caret-diagnostics", "-ferror-limit=30",
                           "-include", header_path(config), "-o", tmp, "-", "-lm"});
  ProcessResult r = run_process(config, args, text);
  if (r.exit_code == 0) {
    // Judged before it can ever be loaded (sandbox.h); a refused module is not kept.
    if (Status s = sandbox::check_module(tmp, lib.source); !s.ok()) {
      unlink(tmp.c_str());
      return s;
    }
    if (disk_cache::seal(tmp) && rename(tmp.c_str(), out_path.c_str()) == 0) return {};
  }
  const int write_errno = errno;
  unlink(tmp.c_str());
  if (r.exit_code == -1) return Status{MB_ERR_UNSUPPORTED, r.err};
  if (Status s = sandbox::limit_status(
          r, {config.compile_time_limit_ms, config.compile_memory_limit_bytes},
          "compiling \"" + lib.source.source_name + "\"");
      !s.ok())
    return s;
  if (r.exit_code == 0)
    return Status{MB_ERR_INTERNAL, "cannot write " + out_path + ": " + strerror(write_errno)};
  // Rebuild the rewrite's column anchors (only on this error path: it costs one clang -E).
  Rewritten rw;
  std::string pre;
  if (preprocess(config, lib.source, &pre).ok()) rw = rewrite_msl(pre, lib.source.text);
  return compile_error(lib.source.source_name, map_diagnostics(r.err, rw, lib.source.source_name));
}

// Error groups ("error" line + its notes) in .metal line order (those of one line as they came).
Vec<std::string> sort_by_line(const Vec<std::string>& lines, const std::string& source_name) {
  SortedMap<long, Vec<std::string>> by_line;  // .metal line -> its groups' lines
  Vec<std::string>* group = nullptr;          // where the current group's lines go
  for (const auto& l : lines) {
    if (!group || l.find(": note: ") == std::string::npos) {
      long line = 0;
      if (l.compare(0, source_name.size() + 1, source_name + ":") == 0)
        line = atol(l.c_str() + source_name.size() + 1);
      group = &by_line[line];
    }
    group->push_back(l);
  }
  Vec<std::string> out;
  for (const auto& [line, group_lines] : by_line)
    out.insert(out.end(), group_lines.begin(), group_lines.end());
  return out;
}

// ---- facts from clang's AST (msl_ast.h) ------------------------------------------------------

// Language flags of the facts pass and of its precompiled header (they must agree).
const Vec<std::string>& facts_language_flags() {
  static const Vec<std::string> flags = {"-std=c++20", "-fno-exceptions", "-fno-rtti"};
  return flags;
}

// The compatibility header precompiled with `flags` (those of the syntax-only compile that
// includes it: they must agree), built once per header content, compiler and flags into the
// module cache; "" when it cannot be built (the compile then includes the header itself: slower,
// same result). With it, clang reads only the library's own text, and its AST dump holds only the
// library's declarations.
std::string precompiled_header(const CompilerConfig& config, const std::string& name,
                               const Vec<std::string>& flags) {
  Hasher h;
  h.add(support_hash(config));
  h.add(config.clang_version);
  for (const auto& f : flags) h.add(f);
  const std::string dir = modules_dir(config);
  const std::string path = dir + "/msl-" + name + "-" + h.hex() + ".pch";
  if (file_exists(path)) return path;
  if (!make_dirs(dir)) return "";
  const std::string tmp = disk_cache::temp_path(path);
  Vec<std::string> args = {config.clang, "-x", "c++-header"};
  args.insert(args.end(), flags.begin(), flags.end());
  args.insert(args.end(), sandbox::compile_flags().begin(), sandbox::compile_flags().end());
  args.insert(args.end(), {"-Wno-everything", header_path(config), "-o", tmp});
  ProcessResult r = run_process(config, args, "");
  if (r.exit_code == 0 && rename(tmp.c_str(), path.c_str()) == 0) return path;
  unlink(tmp.c_str());
  return "";
}

// Runs a syntax-only compile of `input` with `flags` and the compatibility header, precompiled
// when it can be (precompiled_header); an unreadable precompiled header (another compiler wrote
// it?) is removed and the header included instead, this once.
ProcessResult run_with_header(const CompilerConfig& config, const std::string& pch_name,
                              const Vec<std::string>& flags, const Vec<std::string>& more,
                              const std::string& input) {
  auto run = [&](const std::string& pch) {
    Vec<std::string> args = {config.clang, "-x", "c++"};
    args.insert(args.end(), flags.begin(), flags.end());
    // After `more` (its -Wno-everything): the sandbox's -Werror=... must stay on.
    args.insert(args.end(), more.begin(), more.end());
    args.insert(args.end(), sandbox::compile_flags().begin(), sandbox::compile_flags().end());
    if (pch.empty())
      args.insert(args.end(), {"-include", header_path(config)});
    else  // named by the header's content: its file's timestamp says nothing more
      args.insert(args.end(), {"-include-pch", pch, "-Xclang", "-fno-validate-pch"});
    args.push_back("-");
    return run_process(config, args, input);
  };
  const std::string pch = precompiled_header(config, pch_name, flags);
  ProcessResult r = run(pch);
  // clang names the file it could not read ("not a valid precompiled PCH file", "... has been
  // modified since the precompiled header ... was built").
  if (!pch.empty() && r.exit_code != 0 &&
      (r.err.find(pch) != std::string::npos ||
       r.err.find("precompiled header") != std::string::npos)) {
    unlink(pch.c_str());
    r = run("");
  }
  return r;
}

// clang's own reading of the rewritten library (without entry points, with an anchor per kernel:
// msl_ast.h): its AST dump, read into facts, and its diagnostics. Costs one
// `clang -fsyntax-only` of the library's own text.
struct ClangFacts {
  AstFacts facts;
  ProcessResult result;
  std::string dump;  // the AST dump itself (msl_work_items.h reads the kernels' bodies)
};

// The compatibility header's barriers, collectives and lane-shared types: the declarations it
// marks __MB_SYNC (msl_ast.h read_sync_declarations), read once per header from its AST dump
// (with __MB_HEADER_FACTS defined, the marks are annotations) and remembered in the module cache
// beside the precompiled headers; installed for the front end (msl_vocabulary.h) once per
// process. False when the header cannot be read.
bool load_sync_declarations(const CompilerConfig& config, std::string* error) {
  static std::mutex mu;
  static std::string loaded;  // the cache path of the declarations installed
  Hasher h;
  h.add(support_hash(config));
  h.add(config.clang_version);
  const std::string path = modules_dir(config) + "/msl-sync-" + h.hex() + ".txt";
  std::lock_guard<std::mutex> lock(mu);
  if (loaded == path) return true;
  std::string list;
  if (!disk_cache::read_sealed(path, &list)) {
    Vec<std::string> args = {config.clang, "-x", "c++"};
    const auto& flags = facts_language_flags();
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), sandbox::compile_flags().begin(), sandbox::compile_flags().end());
    args.insert(args.end(), {"-D__MB_HEADER_FACTS", "-fsyntax-only", "-Wno-everything", "-Xclang",
                             "-ast-dump", "-include", header_path(config), "-"});
    const ProcessResult r = run_process(config, args, "");
    std::set<std::string> functions, types;
    if (r.exit_code == 0) read_sync_declarations(r.out, &functions, &types);
    if (functions.empty()) {
      *error = "cannot read the barriers and collectives of the MSL compatibility header " +
               header_path(config) + ": " + r.err.substr(0, 2000);
      return false;
    }
    for (const auto& f : functions) list += "f " + f + "\n";
    for (const auto& t : types) list += "t " + t + "\n";
    if (make_dirs(modules_dir(config))) disk_cache::write_sealed(path, list);
  }
  std::set<std::string> functions, types;
  for (const std::string& line : split_lines(list))
    if (line.size() > 2) (line[0] == 't' ? types : functions).insert(line.substr(2));
  set_sync_declarations(functions, types);
  loaded = path;
  return true;
}

ClangFacts clang_facts(const CompilerConfig& config, const LibraryInfo& lib, const Rewritten& rw) {
  const std::string input = constants_prelude(lib, {}) +
                            "#undef __mb_msl\n#define __mb_msl(...) __attribute__((__VA_ARGS__))\n"
                            "#undef __mb_msl_tg\n#define __mb_msl_tg(n, ...) , *__mb_tg_##n "
                            "__attribute__((annotate(\"msl.threadgroup\", __VA_ARGS__)))\n" +
                            rw.text + kernel_anchors(rw);
  ClangFacts out;
  out.result =
      run_with_header(config, "facts", facts_language_flags(),
                      {"-fsyntax-only", "-Wno-everything", "-fno-color-diagnostics",
                       "-fno-caret-diagnostics", "-ferror-limit=30", "-Xclang", "-ast-dump"},
                      input);
  out.facts = read_ast_dump(out.result.out, &rw);
  out.dump = std::move(out.result.out);
  out.result.out.clear();
  return out;
}

// What Metal refuses, found by the rewriter (keywords, `double`, ...) and from clang's facts
// (lambdas, recursion, function pointers, mutable program-scope variables), with clang's own
// errors, as Metal reports all at once.
Status refusal_errors(const LibraryInfo& lib, const Rewritten& rw, const ClangFacts& clang,
                      const Vec<std::string>& refused) {
  const std::string& name = lib.source.source_name;
  Vec<std::string> lines = format_errors(rw, name);
  lines.insert(lines.end(), refused.begin(), refused.end());
  if (clang.result.exit_code > 0) {
    auto more = map_diagnostics(clang.result.err, rw, name);
    lines.insert(lines.end(), more.begin(), more.end());
  }
  return compile_error(name, sort_by_line(lines, name));
}

// The address-space check (msl_address_spaces.h): one syntax-only compile of a second rewrite
// in which the spaces are real; only the refusals Metal would also make are reported.
Status check_address_spaces(const CompilerConfig& config, const LibraryInfo& lib,
                            const std::string& preprocessed) {
  Rewritten rw = rewrite_msl(preprocessed, lib.source.text, /*address_space_check=*/true);
  Vec<std::string> flags = codegen_flags(lib.source.math_mode, false);
  flags.push_back(kAddressSpaceCheckFlag);  // the spaces are real in the header too
  // No error limit: errors the check does not report must not hide one it does.
  ProcessResult r = run_with_header(config, "spaces", flags,
                                    {"-fsyntax-only", "-Wno-everything", "-fno-color-diagnostics",
                                     "-fno-caret-diagnostics", "-ferror-limit=0"},
                                    constants_prelude(lib, {}) + rw.text);
  if (r.exit_code <= 0) return {};  // clean, or clang did not run: code generation will tell
  std::string refused = address_space_errors(r.err);
  if (refused.empty()) return {};
  const std::string& name = lib.source.source_name;
  return compile_error(name, sort_by_line(map_diagnostics(refused, rw, name), name));
}

Status build_module_impl(const CompilerConfig& config, const LibraryInfo& library,
                         const Vec<ConstantValue>& constants, std::string* out_path, bool* compiled,
                         const std::string& kernel) {
  if (compiled) *compiled = false;
  Status v = validate_constants(library, constants, kernel);
  if (!v.ok()) return v;
  std::string sh = support_hash(config);
  if (sh.empty())
    return Status{MB_ERR_IO, "cannot read the MSL compatibility header " + header_path(config)};
  Vec<ConstantValue> sorted = constants;
  std::sort(sorted.begin(), sorted.end(), [](auto& a, auto& b) { return a.index < b.index; });
  // Work-item loops on (msl_work_items.h); if their code does not compile, the module is
  // built again without them (its barrier kernels then run on fibers).
  const bool work_items = library.work_items;
  const std::string head = (work_items ? std::string("#define ") + kWorkItemsMacro + " 1\n" : "") +
                           constants_prelude(library, sorted);
  auto flags = codegen_flags(library.source.math_mode, config.checked);
  // The key hashes the library's text through its hash, taken once per library: hashing the
  // whole text here, per pipeline, was most of the time a cached pipeline took.
  Hasher h;
  h.add(head);
  h.add(library.preprocessed_hash);
  for (const auto& f : flags) h.add(f);
  h.add(config.clang_version);
  h.add(sh);
  std::string dir = modules_dir(config);
  std::string path = dir + "/" + h.hex() + ".so";
  *out_path = path;
  // A hit must verify (disk_cache.h): a truncated or corrupt entry is discarded and rebuilt.
  auto hit = [&] {
    if (disk_cache::verify(path)) return disk_cache::touch(path), true;
    if (file_exists(path)) disk_cache::discard(path);
    return false;
  };
  if (hit()) return {};
  // The text clang compiles, made only on a miss.
  auto text = [&] { return head + library.preprocessed; };

  InFlight& f = in_flight();
  {
    std::unique_lock<std::mutex> lock(f.mu);
    f.cv.wait(lock, [&] { return !f.keys.count(path); });
    if (hit()) return {};
    f.keys.insert(path);
  }
  Status s;
  if (!make_dirs(dir))
    s = Status{MB_ERR_IO,
               "cannot create the persistent cache directory " + dir + ": " + strerror(errno)};
  else if (Status w = disk_cache::check_writable_directory(dir); !w.ok())
    s = w;
  else
    s = compile_module(config, library, text(), flags, path);
  if (!s.ok() && s.code == MB_ERR_COMPILE && work_items) {
    // METAL_COMPUTE_CPU_WORK_ITEMS_LOG (msl_work_items.cpp): why the loops did not compile.
    if (const char* log = getenv("METAL_COMPUTE_CPU_WORK_ITEMS_LOG"); log && *log)
      fprintf(stderr, "work-items: loops did not compile, rebuilt on fibers:\n%s\n",
              s.message.c_str());
    s = compile_module(config, library,
                       "#define " + std::string(kWorkItemsMacro) + " 0\n" +
                           constants_prelude(library, sorted) + library.preprocessed,
                       flags, path);
  }
  {
    std::lock_guard<std::mutex> lock(f.mu);
    f.keys.erase(path);
  }
  f.cv.notify_all();
  if (s.ok()) {
    if (compiled) *compiled = true;
    disk_cache::evict(dir, config.cache_max_bytes);
  }
  return s;
}

// `clang --version`'s answer for the compiler at `path`, remembered in the persistent cache
// under the identity of its executable (device, inode, size, modification time): running it
// was most of the time a warm start took to open a device (~40 ms of ~60 here). A compiler
// replaced in place has another identity, so it is asked again.
ProcessResult clang_version_output(const CompilerConfig& config, const std::string& path) {
  struct stat st;
  std::string record;
  if (stat(path.c_str(), &st) == 0 && !config.cache_dir.empty()) {
    Hasher h;
    h.add(path);
    h.add(std::to_string(st.st_dev) + "/" + std::to_string(st.st_ino) + "/" +
          std::to_string(st.st_size) + "/" + std::to_string(st.st_mtim.tv_sec) + "." +
          std::to_string(st.st_mtim.tv_nsec));
    record = modules_dir(config) + "/clang-" + h.hex() + ".version";
    ProcessResult cached;
    if (disk_cache::read_sealed(record, &cached.out)) {
      cached.exit_code = 0;
      return cached;
    }
  }
  ProcessResult r = run_process(config, {path, "--version"}, "");
  if (r.exit_code == 0 && !record.empty() && make_dirs(modules_dir(config)))
    disk_cache::write_sealed(record, r.out);  // best effort: asked again next time
  return r;
}

}  // namespace

// ---- public API -----------------------------------------------------------------------------

Status find_compiler(CompilerConfig* config) {
  Vec<std::string> candidates;
  const char* env = getenv("CLANG");
  if (env && *env) candidates.push_back(env);
  candidates.push_back("clang-19");
  candidates.push_back("clang");
  std::string tried;
  // A compiler the user named is never silently replaced by another one.
  if (env && *env && find_on_path(env).empty())
    return Status{MB_ERR_UNSUPPORTED,
                  std::string("$CLANG is \"") + env +
                      "\", which is not an executable file or on PATH; fix it or unset CLANG"};
  for (const auto& c : candidates) {
    if (!tried.empty()) tried += ", ";
    tried += c == candidates[0] && env && *env ? "$CLANG=" + c : c;
    std::string path = find_on_path(c);
    if (path.empty()) continue;
    ProcessResult r = clang_version_output(*config, path);
    if (r.exit_code != 0) continue;
    size_t k = r.out.find("version ");
    if (k == std::string::npos) continue;
    size_t e = r.out.find_first_of(" \n(", k + 8);
    config->clang = path;
    config->clang_version = r.out.substr(k + 8, e - (k + 8));
    return {};
  }
  return Status{MB_ERR_UNSUPPORTED, "no clang compiler found for the CPU backend (tried " + tried +
                                        " on PATH); install clang (e.g. clang-19) or set $CLANG"};
}

Status compile_library(const CompilerConfig& config, const LibrarySource& source,
                       std::shared_ptr<const LibraryInfo>* out) {
  try {
    std::string sh = support_hash(config);
    if (sh.empty())
      return Status{MB_ERR_IO, "cannot read the MSL compatibility header " + header_path(config)};
    Hasher h;
    h.add(source.text);
    h.add(source.macros);
    h.add(std::to_string(source.math_mode) + "/" + std::to_string(source.language_version));
    h.add(config.clang_version);
    h.add(sh);
    h.add(kAddressSpaceCheckFlag);  // libraries cached before the check existed were not checked
    auto lib = std::make_shared<LibraryInfo>();
    lib->source = source;
    lib->hash = h.hex();
    std::string lib_path = modules_dir(config) + "/" + lib->hash + ".lib";

    std::string cached;
    if (disk_cache::read_sealed(lib_path, &cached) && deserialize_library(cached, lib.get())) {
      disk_cache::touch(lib_path);
      lib->from_cache = true;
      *out = lib;
      return {};
    }
    lib->kernel_names.clear();
    lib->constants.clear();

    std::string pre;
    Status s = preprocess(config, source, &pre);
    if (!s.ok()) return s;
    if (std::string e; !load_sync_declarations(config, &e)) return Status{MB_ERR_IO, e};
    Rewritten rw = rewrite_msl(pre, source.text);
    const ClangFacts clang = clang_facts(config, *lib, rw);
    if (clang.result.exit_code == -1) return Status{MB_ERR_UNSUPPORTED, clang.result.err};
    if (Status s = sandbox::limit_status(
            clang.result, {config.compile_time_limit_ms, config.compile_memory_limit_bytes},
            "compiling \"" + source.source_name + "\"");
        !s.ok())
      return s;
    apply_kernel_facts(clang.facts, &rw);  // the constants; the kernels, their bindings, ...
    for (const auto& c : rw.constants)
      lib->constants.push_back({c.name, c.index, c.type, c.required});
    const Vec<std::string> refused = exclusion_errors(
        clang.facts, rw, source.source_name, int(metal_version_macro(source.language_version)));
    if (!rw.errors.empty() || !refused.empty()) return refusal_errors(*lib, rw, clang, refused);
    if (Status a = check_address_spaces(config, *lib, pre); !a.ok()) return a;
    const std::string work_items = generate_work_items(clang.dump, rw);
    set_preprocessed(lib.get(), rw.text + work_items + generate_entry_points(rw));
    for (const auto& k : rw.kernels) {
      lib->kernel_names.push_back(k.host_name);
      lib->kernel_constants[k.host_name] = k.constants;
    }

    if (lib->constants.empty()) {
      // A full compile now, so errors surface at library creation (as on Metal); the module is
      // cached, and build_module with no constants finds it.
      std::string path;
      s = build_module_impl(config, *lib, {}, &path, nullptr, "");
      if (!s.ok()) return s;
    }
    if (make_dirs(modules_dir(config)) &&
        disk_cache::write_sealed(lib_path, serialize_library(*lib)))
      disk_cache::evict(modules_dir(config), config.cache_max_bytes);
    *out = lib;
    return {};
  } catch (const std::exception& e) {
    return Status{MB_ERR_INTERNAL, std::string("compiler: ") + e.what()};
  }
}

Status build_module(const CompilerConfig& config, const LibraryInfo& library,
                    const Vec<ConstantValue>& constants, std::string* out_path, bool* compiled,
                    const std::string& kernel) {
  try {
    return build_module_impl(config, library, constants, out_path, compiled, kernel);
  } catch (const std::exception& e) {
    return Status{MB_ERR_INTERNAL, std::string("compiler: ") + e.what()};
  }
}

}  // namespace mbcpu
