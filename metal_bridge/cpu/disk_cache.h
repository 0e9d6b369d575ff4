// disk_cache.h — the CPU backend's persistent cache of compiled work (internal).
//
// Entries live in <cache_dir>/cpu-modules/, named by a hash of everything that affects them
// (compiler.cpp builds the keys). This file owns how an entry is stored:
// - Sealed: every entry ends with a 24-byte footer ("MBSEAL01", payload length, payload
//   hash). A truncated, overwritten or half-written entry fails verification and is discarded
//   and rebuilt, never loaded. ELF loaders ignore bytes after the sections, so a kernel
//   module (.so) carries its footer and still dlopens.
// - Atomic: an entry is written under a private temporary name in the same directory, sealed,
//   then renamed into place. Readers see the whole old entry, the whole new one, or none;
//   processes that build the same entry at once each rename a complete copy.
// - Bound to its key: the footer's hash covers the entry's name, so an entry copied over
//   another key's file fails verification. Entries are opened non-blocking and must be regular
//   files, so a FIFO or device planted in the cache never hangs a reader.
// - Bounded: after each write, entries are evicted least recently used first (by mtime, which
//   every hit refreshes) until the directory is within its byte budget
//   (config cache_max_mb, else $METAL_COMPUTE_CACHE_MAX_MB, else kDefaultMaxMegabytes).
//   Temporary files older than an hour (a crashed writer's) are removed too.
#pragma once

#include <cstdint>
#include <string>

#include "compiler.h"

namespace mbcpu::disk_cache {

constexpr uint64_t kDefaultMaxMegabytes = 512;

// FNV-1a, 128-bit: plenty for a content-addressed cache, and a few lines. Every cache hit hashes
// its library's whole text, so the byte loop lives in hasher.cpp, which the bridge build
// optimises (the rest of the cache and the compiler driver are built without: ffi/library.ts).
struct Hasher {
  unsigned __int128 h = ((unsigned __int128)0x6c62272e07bb0142ull << 64) | 0x62b821756295c58dull;
  void add(const void* data, size_t n);
  // Length-prefixed so ("ab","c") and ("a","bc") differ.
  void add(const std::string& s) {
    uint64_t n = s.size();
    add(&n, sizeof n);
    add(s.data(), s.size());
  }
  std::string hex() const {
    static const char* digits = "0123456789abcdef";
    std::string out(32, '0');
    unsigned __int128 v = h;
    for (int i = 31; i >= 0; --i, v >>= 4) out[i] = digits[(int)(v & 15)];
    return out;
  }
};

// Bumped when the entry format changes; part of every key (with the target architecture), so
// entries of another format or machine are never looked up.
const char* key_salt();

// A new private temporary name next to `path` (pid + counter).
std::string temp_path(const std::string& path);

// Appends the footer over the file's current contents. False on an I/O error.
bool seal(const std::string& path);

// True when `path` exists and its footer matches its contents. Remembered per process, so a
// module is hashed once however many pipelines it serves.
bool verify(const std::string& path);

// Writes `data` sealed under a temporary name, then renames it to `path`.
bool write_sealed(const std::string& path, const std::string& data);

// Reads the payload of a sealed entry; false when missing, truncated or corrupt.
bool read_sealed(const std::string& path, std::string* data);
// Reads the whole regular file at `path` (sealed or not) into `out`; false when it cannot. A FIFO
// or device is refused, never waited on.
bool read_all(const std::string& path, std::string* out);

// Marks an entry as just used (mtime = now), for least-recently-used eviction.
void touch(const std::string& path);

// Removes a corrupt or unloadable entry (and forgets that it was verified).
void discard(const std::string& path);

// MB_ERR_IO naming `dir` and why, unless it is a directory this process can create files in:
// a cache that cannot be written is an I/O fault, never reported as a compile error.
Status check_writable_directory(const std::string& dir);

// The byte budget: `megabytes` when nonzero, else $METAL_COMPUTE_CACHE_MAX_MB, else the default.
uint64_t budget_bytes(uint64_t megabytes);

// Evicts least recently used entries of `dir` until their total is at most `max_bytes`.
void evict(const std::string& dir, uint64_t max_bytes);

}  // namespace mbcpu::disk_cache
