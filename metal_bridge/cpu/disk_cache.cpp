// disk_cache.cpp — sealed, atomic, size-bounded cache entries (see disk_cache.h).
#include "disk_cache.h"

#include "platform.h"  // file times differ on macOS
#include "vec.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>
#include <set>

namespace mbcpu::disk_cache {
namespace {

constexpr char kMagic[8] = {'M', 'B', 'S', 'E', 'A', 'L', '0', '1'};
constexpr size_t kFooter = 24;  // magic, payload length (LE u64), payload hash (LE u64)
constexpr time_t kStaleTemporarySeconds = 3600;

// 64-bit hash, 8 bytes a step: detects truncation and corruption (not an adversary).
uint64_t hash_bytes(const unsigned char* p, size_t n) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xC2B2AE3D27D4EB4Full);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * 0xFF51AFD7ED558CCDull;
    h ^= h >> 32;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, p + i, n - i);
  h = (h ^ tail) * 0xC4CEB9FE1A85EC53ull;
  return h ^ (h >> 29);
}

void put_u64(unsigned char* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out[i] = (unsigned char)(v >> (8 * i));
}

uint64_t get_u64(const unsigned char* in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= (uint64_t)in[i] << (8 * i);
  return v;
}

// The entry's key: its file name, without the temporary suffix it is sealed under.
std::string entry_key(const std::string& path) {
  const size_t slash = path.rfind('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  const size_t tmp = name.find(".tmp-");
  if (tmp != std::string::npos) name.resize(tmp);
  return name;
}

// The hash covers the key too: an entry copied or renamed to another key's name fails
// verification, so a substituted entry is rebuilt instead of running the wrong kernel.
void footer_for(const unsigned char* payload, size_t n, const std::string& key,
                unsigned char* out) {
  std::memcpy(out, kMagic, 8);
  put_u64(out + 8, n);
  const uint64_t key_hash =
      hash_bytes(reinterpret_cast<const unsigned char*>(key.data()), key.size());
  put_u64(out + 16, hash_bytes(payload, n) ^ (key_hash * 0x9E3779B97F4A7C15ull));
}

}  // namespace

bool read_all(const std::string& path, std::string* out) {
  // O_NONBLOCK: opening a FIFO planted where an entry should be must not wait for a writer;
  // the regular-file check below then refuses it.
  int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st;
  bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  if (ok) {
    out->resize((size_t)st.st_size);
    size_t got = 0;
    while (got < out->size()) {
      ssize_t r = read(fd, out->data() + got, out->size() - got);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      got += (size_t)r;
    }
    ok = got == out->size();
  }
  close(fd);
  return ok;
}

namespace {

bool write_all(int fd, const void* data, size_t n) {
  const char* p = (const char*)data;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= (size_t)w;
  }
  return true;
}

// The payload length when `bytes` is a complete sealed entry, else -1.
long long sealed_length(const std::string& bytes, const std::string& key) {
  if (bytes.size() < kFooter) return -1;
  const size_t n = bytes.size() - kFooter;
  unsigned char expect[kFooter];
  footer_for((const unsigned char*)bytes.data(), n, key, expect);
  return std::memcmp(expect, bytes.data() + n, kFooter) == 0 ? (long long)n : -1;
}

std::mutex g_verified_mutex;
std::set<std::string>& verified() {
  static std::set<std::string> paths;
  return paths;
}

bool ends_with(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

}  // namespace

const char* key_salt() {
#if defined(__x86_64__)
  return "mbcache-3 x86_64";
#elif defined(__aarch64__)
  return "mbcache-3 arm64";
#else
  return "mbcache-3 other";
#endif
}

std::string temp_path(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  return path + ".tmp-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
}

bool seal(const std::string& path) {
  std::string bytes;
  if (!read_all(path, &bytes)) return false;
  unsigned char footer[kFooter];
  footer_for((const unsigned char*)bytes.data(), bytes.size(), entry_key(path), footer);
  int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write_all(fd, footer, kFooter);
  return close(fd) == 0 && ok;
}

bool verify(const std::string& path) {
  {
    std::lock_guard<std::mutex> lock(g_verified_mutex);
    if (verified().count(path)) {
      struct stat st;
      if (stat(path.c_str(), &st) == 0) return true;
      verified().erase(path);  // evicted or cleared meanwhile
    }
  }
  std::string bytes;
  if (!read_all(path, &bytes) || sealed_length(bytes, entry_key(path)) < 0) return false;
  std::lock_guard<std::mutex> lock(g_verified_mutex);
  verified().insert(path);
  return true;
}

bool write_sealed(const std::string& path, const std::string& data) {
  const std::string tmp = temp_path(path);
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  unsigned char footer[kFooter];
  footer_for((const unsigned char*)data.data(), data.size(), entry_key(path), footer);
  bool ok = write_all(fd, data.data(), data.size()) && write_all(fd, footer, kFooter);
  ok = close(fd) == 0 && ok;
  if (ok && rename(tmp.c_str(), path.c_str()) == 0) return true;
  unlink(tmp.c_str());
  return false;
}

bool read_sealed(const std::string& path, std::string* data) {
  std::string bytes;
  if (!read_all(path, &bytes)) return false;
  const long long n = sealed_length(bytes, entry_key(path));
  if (n < 0) return false;
  bytes.resize((size_t)n);
  *data = std::move(bytes);
  return true;
}

void touch(const std::string& path) { utimensat(AT_FDCWD, path.c_str(), nullptr, 0); }

void discard(const std::string& path) {
  unlink(path.c_str());
  std::lock_guard<std::mutex> lock(g_verified_mutex);
  verified().erase(path);
}

Status check_writable_directory(const std::string& dir) {
  struct stat st;
  std::string why;
  if (stat(dir.c_str(), &st) != 0) {
    why = std::strerror(errno);
  } else if (!S_ISDIR(st.st_mode)) {
    why = "it is not a directory";
  } else {
    // access() says yes to root even on a read-only mount: try to create a file.
    const std::string probe = temp_path(dir + "/.probe");
    const int fd = open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) {
      close(fd);
      unlink(probe.c_str());
      return {};
    }
    why = std::strerror(errno);
  }
  return {MB_ERR_IO, "the persistent cache directory " + dir + " cannot be written (" + why +
                         "): set METAL_COMPUTE_CACHE_DIR to a writable directory"};
}

uint64_t budget_bytes(uint64_t megabytes) {
  if (megabytes == 0) {
    const char* env = std::getenv("METAL_COMPUTE_CACHE_MAX_MB");
    char* stop = nullptr;
    const unsigned long long v = env != nullptr && *env ? std::strtoull(env, &stop, 10) : 0;
    megabytes = v > 0 && stop != nullptr && *stop == '\0' ? v : kDefaultMaxMegabytes;
  }
  return megabytes * 1024 * 1024;
}

void evict(const std::string& dir, uint64_t max_bytes) {
  struct Entry {
    std::string path;
    uint64_t size;
    timespec mtime;
  };
  Vec<Entry> entries;
  uint64_t total = 0;
  const time_t now = time(nullptr);
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    const std::string path = dir + "/" + name;
    struct stat st;
    if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (name.find(".tmp-") != std::string::npos) {
      if (now - mbcpu::rt::modification_time(st).tv_sec > kStaleTemporarySeconds)
        unlink(path.c_str());
      continue;  // another process may be writing it
    }
    // Modules, libraries, and the front end's precompiled compatibility headers (rebuilt when
    // missing: compiler.cpp precompiled_header).
    if (!ends_with(name, ".so") && !ends_with(name, ".lib") && !ends_with(name, ".pch")) continue;
    entries.push_back({path, (uint64_t)st.st_size, mbcpu::rt::modification_time(st)});
    total += (uint64_t)st.st_size;
  }
  closedir(d);
  if (total <= max_bytes) return;
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.mtime.tv_sec != b.mtime.tv_sec ? a.mtime.tv_sec < b.mtime.tv_sec
                                            : a.mtime.tv_nsec < b.mtime.tv_nsec;
  });
  for (const Entry& e : entries) {
    if (total <= max_bytes) break;
    discard(e.path);  // a module already loaded stays mapped; a later lookup rebuilds it
    total -= e.size;
  }
}

}  // namespace mbcpu::disk_cache
