#include "core/entry_arena.h"

#include <atomic>
#include <cstdint>
#include <mutex>
#include <new>

#include "core/sanitizers.h"

namespace ocsp::entry_arena {

namespace {

// Under ASan every block comes from operator new, so ASan sees each one's bounds.
constexpr bool kUseSpans = !kAddressSanitizer;

constexpr size_t kStep = 16;
constexpr size_t kClasses = kMaxBlock / kStep;  // class c holds slots of (c + 1) * 16 bytes
// Every block starts with the span it came from (null: from operator new), 8 bytes before
// what allocate() returns. Slots are 16-byte aligned, so blocks are 8-byte aligned.
constexpr size_t kPrefix = 8;

struct FreeSlot {
  FreeSlot* next;
};

struct Class;

struct Span {
  Class* owner = nullptr;  // the class (of one stripe) it serves
  Span* prev = nullptr;    // in its class's list of spans with room
  Span* next = nullptr;
  FreeSlot* free = nullptr;  // freed slots
  char* bump = nullptr;      // never-used slots start here ...
  char* end = nullptr;       // ... and end before here
  uint32_t live = 0;
  uint32_t cls = 0;
  bool listed = false;
};

// The counts live under the class's lock, so that nothing shared is written on every block
// beyond the lock itself.
struct Class {
  std::mutex mu;
  Span* with_room = nullptr;
  size_t blocks = 0;
  size_t spans = 0;
};

// Threads are spread over stripes, each a full set of classes with its own locks, so that
// workers sealing answers at once (Redis hits, misses) seldom take the same lock; a block
// freed on another thread goes back to its span's own class.
constexpr size_t kStripes = 8;

// Never destroyed: entries may outlive static destruction (a cache held by a static).
Class* allClasses() {
  static Class* all = new Class[kStripes * kClasses];
  return all;
}

Class* myStripe() {
  static std::atomic<size_t> next_stripe{0};
  thread_local Class* mine =
      allClasses() + next_stripe.fetch_add(1, std::memory_order_relaxed) % kStripes * kClasses;
  return mine;
}

std::atomic<size_t> g_large_blocks{0};
std::atomic<size_t> g_large_bytes{0};

size_t slotBytes(uint32_t cls) { return (cls + 1) * kStep; }

bool hasRoom(const Span& s) {
  return s.free != nullptr || s.bump + slotBytes(s.cls) <= s.end;
}

void link(Class& c, Span* s) {
  s->prev = nullptr;
  s->next = c.with_room;
  if (c.with_room != nullptr) c.with_room->prev = s;
  c.with_room = s;
  s->listed = true;
}

void unlink(Class& c, Span* s) {
  (s->prev != nullptr ? s->prev->next : c.with_room) = s->next;
  if (s->next != nullptr) s->next->prev = s->prev;
  s->prev = s->next = nullptr;
  s->listed = false;
}

Span* newSpan(Class& c, uint32_t cls) {
  char* raw = static_cast<char*>(::operator new(kSpanBytes));
  auto* s = new (raw) Span;
  s->owner = &c;
  s->cls = cls;
  const size_t header = (sizeof(Span) + kStep - 1) / kStep * kStep;
  s->bump = raw + header;
  s->end = raw + kSpanBytes;
  ++c.spans;
  return s;
}

void* withPrefix(char* block, Span* span) {
  *reinterpret_cast<Span**>(block) = span;
  return block + kPrefix;
}

}  // namespace

void* allocate(size_t bytes) {
  const size_t wanted = bytes + kPrefix;
  if (!kUseSpans || wanted > kMaxBlock) {
    // From operator new: 16 bytes in front, the size and then the null span.
    auto* block = static_cast<char*>(::operator new(bytes + 2 * kPrefix));
    *reinterpret_cast<size_t*>(block) = bytes;
    g_large_bytes.fetch_add(bytes, std::memory_order_relaxed);
    g_large_blocks.fetch_add(1, std::memory_order_relaxed);
    return withPrefix(block + kPrefix, nullptr);
  }
  const auto cls = static_cast<uint32_t>((wanted + kStep - 1) / kStep - 1);
  Class& c = myStripe()[cls];
  std::lock_guard<std::mutex> lock(c.mu);
  Span* s = c.with_room;
  if (s == nullptr) {
    s = newSpan(c, cls);
    link(c, s);
  }
  char* slot;
  if (s->free != nullptr) {
    slot = reinterpret_cast<char*>(s->free);
    s->free = s->free->next;
  } else {
    slot = s->bump;
    s->bump += slotBytes(cls);
  }
  ++s->live;
  ++c.blocks;
  if (!hasRoom(*s)) unlink(c, s);
  return withPrefix(slot, s);
}

void deallocate(void* p) noexcept {
  if (p == nullptr) return;
  char* block = static_cast<char*>(p) - kPrefix;
  Span* s = *reinterpret_cast<Span**>(block);
  if (s == nullptr) {
    block -= kPrefix;
    g_large_bytes.fetch_sub(*reinterpret_cast<size_t*>(block), std::memory_order_relaxed);
    g_large_blocks.fetch_sub(1, std::memory_order_relaxed);
    ::operator delete(block);
    return;
  }
  Class& c = *s->owner;
  std::lock_guard<std::mutex> lock(c.mu);
  auto* slot = reinterpret_cast<FreeSlot*>(block);
  slot->next = s->free;
  s->free = slot;
  --s->live;
  --c.blocks;
  if (!s->listed) link(c, s);
  // An empty span goes back to the heap unless it is the class's only one with room.
  if (s->live == 0 && (c.with_room != s || s->next != nullptr)) {
    unlink(c, s);
    s->~Span();
    ::operator delete(static_cast<void*>(s));
    --c.spans;
  }
}

Stats stats() {
  Stats out;
  Class* all = allClasses();
  for (size_t i = 0; i < kStripes * kClasses; ++i) {
    std::lock_guard<std::mutex> lock(all[i].mu);
    out.blocks += all[i].blocks;
    out.spans += all[i].spans;
  }
  out.blocks += g_large_blocks.load(std::memory_order_relaxed);
  out.large_bytes = g_large_bytes.load(std::memory_order_relaxed);
  return out;
}

}  // namespace ocsp::entry_arena
