#pragma once
// What the process's memory is made of, for /metrics and the memory benchmark: the C heap as
// glibc's allocator sees it, and the resident size as the kernel does.
#include <cstddef>
#include <cstdint>
#include <optional>

namespace ocsp {

struct HeapUsage {
  size_t in_use = 0;  // bytes in allocated blocks
  size_t free = 0;    // bytes the allocator holds free (not returned to the system)
};

// All arenas of glibc malloc; nullopt where that is not the allocator (e.g. under ASan).
std::optional<HeapUsage> heapUsage();

// VmRSS of this process in bytes; 0 if /proc cannot be read.
int64_t residentBytes();

}  // namespace ocsp
