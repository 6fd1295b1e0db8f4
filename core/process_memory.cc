#include "core/process_memory.h"

#include <unistd.h>

#include <cstdio>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace ocsp {

std::optional<HeapUsage> heapUsage() {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  struct mallinfo2 info = mallinfo2();
  const size_t held = info.arena + info.hblkhd;
  if (held == 0) return std::nullopt;  // another allocator answers malloc (ASan)
  HeapUsage usage;
  usage.in_use = info.uordblks + info.hblkhd;
  usage.free = info.fordblks;
  return usage;
#else
  return std::nullopt;
#endif
}

int64_t residentBytes() {
  // statm: size resident shared text lib data dt, in pages.
  FILE* f = std::fopen("/proc/self/statm", "re");
  if (f == nullptr) return 0;
  long long size = 0, resident = 0;
  const int got = std::fscanf(f, "%lld %lld", &size, &resident);
  std::fclose(f);
  if (got != 2) return 0;
  return static_cast<int64_t>(resident) * sysconf(_SC_PAGESIZE);
}

}  // namespace ocsp
