// hasher.cpp — disk_cache::Hasher's byte loop (disk_cache.h). Every cache hit hashes its
// library's whole text with it, so the bridge build optimises this file with the dispatch path,
// apart from the rest of the cache (file I/O, eviction), which is built without (ffi/library.ts).
#include "disk_cache.h"

namespace mbcpu::disk_cache {

void Hasher::add(const void* data, size_t n) {
  const unsigned __int128 prime =
      ((unsigned __int128)0x0000000001000000ull << 64) | 0x000000000000013Bull;
  const unsigned char* p = (const unsigned char*)data;
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= prime;
  }
}

}  // namespace mbcpu::disk_cache
