// The entry arena (core/entry_arena.h): blocks for sealed cache entries, apart from the
// per-request heap. Each block keeps its bytes until it is freed, from any thread; freed
// blocks are reused by their size class; spans that empty are given back.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "core/entry_arena.h"

using namespace ocsp;

namespace {

struct Block {
  char* p;
  size_t n;
  uint8_t fill;
};

Block make(size_t n, uint8_t fill) {
  auto* p = static_cast<char*>(entry_arena::allocate(n));
  std::memset(p, fill, n);
  return Block{p, n, fill};
}

bool intact(const Block& b) {
  return std::all_of(b.p, b.p + b.n, [&](char c) { return static_cast<uint8_t>(c) == b.fill; });
}

// False under AddressSanitizer, where every block comes from operator new.
bool spansInUse() {
  void* probe = entry_arena::allocate(100);
  const bool spans = entry_arena::stats().spans > 0;
  entry_arena::deallocate(probe);
  return spans;
}

}  // namespace

TEST_CASE("blocks of every size keep their bytes until freed, from any thread") {
  const size_t blocks_before = entry_arena::stats().blocks;
  std::vector<std::vector<Block>> made(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < made.size(); ++t) {
    threads.emplace_back([&made, t] {
      std::mt19937 rng(static_cast<unsigned>(t));
      for (int i = 0; i < 3000; ++i) {
        const size_t n = 1 + rng() % 6000;  // spans up to 4 KiB, operator new above
        made[t].push_back(make(n, static_cast<uint8_t>(rng())));
        CHECK(reinterpret_cast<uintptr_t>(made[t].back().p) % 8 == 0);
      }
    });
  }
  for (auto& th : threads) th.join();
  threads.clear();
  CHECK(entry_arena::stats().blocks == blocks_before + 4 * 3000);
  // Each thread checks and frees another thread's blocks, in a shuffled order.
  for (size_t t = 0; t < made.size(); ++t) {
    threads.emplace_back([&made, t] {
      auto& mine = made[(t + 1) % made.size()];
      std::shuffle(mine.begin(), mine.end(), std::mt19937(static_cast<unsigned>(t)));
      for (const Block& b : mine) {
        CHECK(intact(b));
        entry_arena::deallocate(b.p);
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(entry_arena::stats().blocks == blocks_before);
  CHECK(entry_arena::stats().large_bytes == 0);
}

TEST_CASE("entries of one size are packed into spans, reused when freed, and empty spans go back") {
  if (!spansInUse()) {
    MESSAGE("built with AddressSanitizer: blocks come from operator new, not spans");
    return;
  }
  const size_t entry = 16 + 200 + 1023;  // a control block, an entry and a 1023-byte answer
  const size_t spans_before = entry_arena::stats().spans;
  std::vector<Block> held;
  for (int i = 0; i < 1000; ++i) held.push_back(make(entry, static_cast<uint8_t>(i)));
  // Dense: 1,000 blocks of 1,248 bytes (prefix and rounding included) in 32 KiB spans.
  const size_t per_span = (entry_arena::kSpanBytes - 64) / 1248;
  const size_t spans_for_1000 = (1000 + per_span - 1) / per_span;
  CHECK(entry_arena::stats().spans - spans_before <= spans_for_1000);

  // Every other block freed, then as many allocated again: the freed slots are reused.
  const size_t spans_full = entry_arena::stats().spans;
  for (size_t i = 0; i < held.size(); i += 2) entry_arena::deallocate(held[i].p);
  for (size_t i = 0; i < held.size(); i += 2) held[i] = make(entry, 0xAB);
  CHECK(entry_arena::stats().spans == spans_full);
  for (const Block& b : held) CHECK(intact(b));

  // All freed: the spans go back, but for one the class keeps.
  for (const Block& b : held) entry_arena::deallocate(b.p);
  CHECK(entry_arena::stats().spans <= spans_before + 1);
}
