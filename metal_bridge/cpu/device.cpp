// device.cpp — device configuration, compiler discovery and kernel module loading.
#include <dlfcn.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "../common/contract.h"
#include "checked.h"
#include "disk_cache.h"
#include "runtime.h"
#include "sandbox.h"

namespace mbcpu::rt {

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::string(v) : std::string();
}

bool is_directory(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// mkdir -p, best effort: the compiler reports a cache it cannot write to.
void make_directories(const std::string& path) {
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') mkdir(path.substr(0, i).c_str(), 0755);
  }
}

std::string default_cache_dir() {
  if (std::string d = env("METAL_COMPUTE_CACHE_DIR"); !d.empty()) return d;
  if (std::string d = env("XDG_CACHE_HOME"); !d.empty()) return d + "/metal-compute";
  if (std::string d = env("HOME"); !d.empty()) return d + "/.cache/metal-compute";
  return "/tmp/metal-compute";
}

// The directory holding msl/: next to this library, or in the source tree layout when the
// library was built at the top of a tree containing metal_bridge/cpu/msl.
std::string default_support_dir() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&default_cache_dir), &info) == 0 || info.dli_fname == nullptr)
    return ".";
  std::string dir = info.dli_fname;
  const size_t slash = dir.rfind('/');
  dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : dir.substr(0, slash));
  if (!is_directory(dir + "/msl") && is_directory(dir + "/metal_bridge/cpu/msl"))
    return dir + "/metal_bridge/cpu";
  return dir;
}

// Runs `clang --version` and returns "19.1.7" from "... clang version 19.1.7 (...)".
std::string probe_clang_version(const std::string& clang) {
  FILE* p = popen((shell_quote(clang) + " --version 2>/dev/null").c_str(), "r");
  if (p == nullptr) return "";
  std::string text;
  char buf[256];
  while (std::fgets(buf, sizeof buf, p) != nullptr) text += buf;
  if (pclose(p) != 0) return "";
  const size_t at = text.find("clang version ");
  if (at == std::string::npos) return "";
  const size_t start = at + std::strlen("clang version ");
  const size_t end = text.find_first_not_of("0123456789.", start);
  return text.substr(start, end - start);
}

}  // namespace

// The CPU backend's own keys (common/contract.h's parser ignores them): the limits of the
// sandbox (sandbox.h) and of the command-buffer watchdog (runtime.h), in ms or MB; 0: none.
Status parse_cpu_limits(const char* config, DeviceOptions* o) {
  const std::string text = config != nullptr ? config : "";
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    line.erase(std::remove_if(line.begin(), line.end(),
                              [](char c) { return c == ' ' || c == '\t' || c == '\r'; }),
               line.end());
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    uint64_t* field = key == "compile_time_limit_ms"     ? &o->compile_time_limit_ms
                      : key == "compile_memory_limit_mb" ? &o->compile_memory_limit_bytes
                      : key == "command_timeout_ms"      ? &o->command_timeout_ms
                                                         : nullptr;
    if (field == nullptr) continue;
    char* stop = nullptr;
    const unsigned long long n = std::strtoull(value.c_str(), &stop, 10);
    if (value.empty() || *stop != '\0' || n > (1ull << 40))
      return {MB_ERR_INVALID_ARG, "device config: " + key +
                                      " must be a non-negative integer (0: no limit), got \"" +
                                      value + "\""};
    *field = key == "compile_memory_limit_mb" ? n << 20 : n;
  }
  return {};
}

// The keys and their checks are common/contract.h's, shared with the Metal bridge.
Status parse_device_options(const char* config, DeviceOptions* out) {
  DeviceOptions o;
  mbc_device_options given;
  mbc_text text;
  if (const mb_status status = mbc_parse_device_options(config, &given, &text); status != MB_OK)
    return {status, text.data};
  const auto str = [](mbc_slice s) {
    return std::string(s.data != nullptr ? s.data : "", s.length);
  };
  o.cache_dir = str(given.cache_dir);
  o.support_dir = str(given.support_dir);
  o.clang = str(given.clang);
  o.cache_max_mb = given.cache_max_mb;
  o.workers =
      given.workers != 0 ? given.workers : std::max(1u, std::thread::hardware_concurrency());
  o.checked = given.checked >= 0 ? given.checked == 1 : env("METAL_COMPUTE_CHECKED") == "1";
  if (Status s = parse_cpu_limits(config, &o); !s.ok()) return s;
  if (o.cache_dir.empty()) o.cache_dir = default_cache_dir();
  if (o.support_dir.empty()) o.support_dir = default_support_dir();
  *out = std::move(o);
  return {};
}

// Finding clang runs `clang --version` in a child process: once per process and setting, not
// once per device (a program opening many devices would pay ~10 ms each).
Status find_compiler_once(const std::string& clang, CompilerConfig* config) {
  static std::mutex mutex;
  static auto* found = new std::map<std::string, std::pair<std::string, std::string>>();
  const std::string key = clang + "\n" + env("CLANG") + "\n" + env("PATH");
  std::lock_guard<std::mutex> lock(mutex);
  if (auto it = found->find(key); it != found->end()) {
    config->clang = it->second.first;
    config->clang_version = it->second.second;
    return {};
  }
  if (clang.empty()) {
    if (Status s = find_compiler(config); !s.ok()) return s;
  } else {
    config->clang = clang;
    config->clang_version = probe_clang_version(clang);
    if (config->clang_version.empty())
      return {MB_ERR_UNSUPPORTED, "the CPU backend needs clang: \"" + clang +
                                      "\" (device config clang=) did not run as clang --version"};
  }
  found->emplace(key, std::make_pair(config->clang, config->clang_version));
  return {};
}

Status resolve_compiler(const DeviceOptions& options, CompilerConfig* out) {
  CompilerConfig config;
  config.cache_dir = options.cache_dir;
  config.support_dir = options.support_dir;
  config.cache_max_bytes = disk_cache::budget_bytes(options.cache_max_mb);
  config.checked = options.checked;
  config.compile_time_limit_ms = options.compile_time_limit_ms;
  config.compile_memory_limit_bytes = options.compile_memory_limit_bytes;
  make_directories(config.cache_dir);
  if (Status s = find_compiler_once(options.clang, &config); !s.ok()) {
    if (s.message.empty()) s.message = "no clang compiler found for the CPU backend";
    return s;
  }
  *out = std::move(config);
  return {};
}

void pin_bridge_library() {
  static std::once_flag once;
  std::call_once(once, [] {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&pin_bridge_library), &info) == 0 ||
        info.dli_fname == nullptr)
      return;
    // One more reference, never dropped, marked NODELETE: the library stays mapped whatever
    // its loader does later.
    dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
  });
}

// ---- Kernel modules -------------------------------------------------------------------------

const mbk_kernel_info* LoadedModule::find(const std::string& name) const {
  for (uint32_t i = 0; i < kernel_count; ++i) {
    if (kernels[i].name != nullptr && name == kernels[i].name) return &kernels[i];
  }
  return nullptr;
}

LoadedModule::~LoadedModule() {
  if (handle != nullptr) dlclose(handle);
}

namespace {

// How many of the most recently loaded modules stay loaded while no pipeline uses them.
constexpr size_t kRecentModules = 16;

}  // namespace

Status load_module(const std::string& path, const LibrarySource& source,
                   std::shared_ptr<const LoadedModule>* out) {
  static std::mutex mutex;
  // Leaked on purpose: never destroyed at exit, while worker threads may still use modules.
  static auto* modules = new std::map<std::string, std::weak_ptr<const LoadedModule>>();
  static auto* recent = new std::deque<std::shared_ptr<const LoadedModule>>();
  std::shared_ptr<const LoadedModule> dropped;  // released after the lock (dlclose)
  std::lock_guard<std::mutex> lock(mutex);
  if (auto it = modules->find(path); it != modules->end()) {
    if (auto loaded = it->second.lock()) {
      *out = std::move(loaded);
      return {};
    }
    modules->erase(it);
  }
  // Never loaded unless it passes the sandbox's check (a cache entry may have been replaced
  // since it was built).
  if (Status s = sandbox::check_module(path, source); !s.ok()) return s;
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return {MB_ERR_INTERNAL, "cannot load kernel module " + path + ": " + (why ? why : "?")};
  }
  using AbiFn = uint32_t (*)();
  using InitFn = void (*)(const mbk_runtime*);
  using KernelsFn = const mbk_kernel_info* (*)(uint32_t*);
  auto abi = reinterpret_cast<AbiFn>(dlsym(handle, "mbk_module_abi"));
  auto init = reinterpret_cast<InitFn>(dlsym(handle, "mbk_module_init"));
  auto kernels = reinterpret_cast<KernelsFn>(dlsym(handle, "mbk_module_kernels"));
  if (abi == nullptr || init == nullptr || kernels == nullptr) {
    dlclose(handle);
    return {MB_ERR_INTERNAL, "kernel module " + path + " lacks the mbk_module_* entry points"};
  }
  if (const uint32_t version = abi(); version != MBK_MODULE_ABI) {
    dlclose(handle);
    return {MB_ERR_INTERNAL, "kernel module " + path + " has module ABI " +
                                 std::to_string(version) + ", the runtime expects " +
                                 std::to_string(MBK_MODULE_ABI)};
  }
  init(module_runtime());
  auto module = std::make_shared<LoadedModule>();
  module->handle = handle;
  module->path = path;
  module->kernels = kernels(&module->kernel_count);
  using SiteFormatFn = uint32_t (*)();
  auto site_format = reinterpret_cast<SiteFormatFn>(dlsym(handle, "mbk_module_site_format"));
  module->source_sites = site_format != nullptr && site_format() == MBK_SITE_SOURCE_LOCATION;
  // Forget unloaded modules, and keep this one among the recent ones.
  for (auto it = modules->begin(); it != modules->end();)
    it = it->second.expired() ? modules->erase(it) : std::next(it);
  (*modules)[path] = module;
  recent->push_back(module);
  if (recent->size() > kRecentModules) {
    dropped = std::move(recent->front());
    recent->pop_front();
  }
  *out = std::move(module);
  return {};
}

}  // namespace mbcpu::rt
