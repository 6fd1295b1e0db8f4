#pragma once
// Memory for sealed cache entries (sealEntry()), kept apart from the heap that requests,
// upstream bodies and response parsing use. A cached answer lives for minutes to days; the
// rest lives for one request. In one heap, short-lived blocks freed around long-lived ones
// leave holes no entry fits: at 100,000 cached answers glibc held 5–12 MiB free between
// entries (README "Performance").
//
// Blocks are carved from 32 KiB spans, one size class per 16 bytes up to kMaxBlock. A span
// serves one class; a freed block is reused by the same class, and a span whose blocks are
// all free is given back to the heap (each class keeps one). Larger blocks, and every block
// under AddressSanitizer (so it still sees each block's bounds), come from operator new.
// Thread-safe: an entry is freed on whichever thread drops its last reference. Threads are
// spread over 8 stripes of classes, each class with its own lock, so that workers seldom
// wait for each other; a freed block goes back to the stripe it came from.
#include <cstddef>

namespace ocsp::entry_arena {

constexpr size_t kSpanBytes = 32 * 1024;
constexpr size_t kMaxBlock = 4096;  // the largest block, prefix included, carved from spans

// `bytes` of memory aligned to 8 bytes (enough for a shared_ptr control block and an
// OcspEntry); throws std::bad_alloc.
void* allocate(size_t bytes);
// Gives back a block from allocate(); null is ignored.
void deallocate(void* p) noexcept;

struct Stats {
  size_t blocks = 0;       // live blocks, from spans or from operator new
  size_t spans = 0;        // spans held (each kSpanBytes)
  size_t large_bytes = 0;  // live bytes of blocks from operator new
};
Stats stats();

}  // namespace ocsp::entry_arena
