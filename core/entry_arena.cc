#include "core/entry_arena.h"

#include <atomic>
#include <cstdint>
#include <mutex>
#include <new>

namespace ocsp::entry_arena {

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kUseSpans = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kUseSpans = false;
#else
constexpr bool kUseSpans = true;
#endif
#else
constexpr bool kUseSpans = true;
#endif

constexpr size_t kStep = 16;
constexpr size_t kClasses = kMaxBlock / kStep;  // class c holds slots of (c + 1) * 16 bytes
// Every block starts with the span it came from (null: from operator new), 8 bytes before
// what allocate() returns. Slots are 16-byte aligned, so blocks are 8-byte aligned.
constexpr size_t kPrefix = 8;

struct FreeSlot {
  FreeSlot* next;
};

struct Span {
  Span* prev = nullptr;  // in its class's list of spans with room
  Span* next = nullptr;
  FreeSlot* free = nullptr;  // freed slots
  char* bump = nullptr;      // never-used slots start here ...
  char* end = nullptr;       // ... and end before here
  uint32_t live = 0;
  uint32_t cls = 0;
  bool listed = false;
};

struct Class {
  std::mutex mu;
  Span* with_room = nullptr;
};

// Never destroyed: entries may outlive static destruction (a cache held by a static).
Class* classes() {
  static Class* all = new Class[kClasses];
  return all;
}

std::atomic<size_t> g_blocks{0};
std::atomic<size_t> g_spans{0};
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

Span* newSpan(uint32_t cls) {
  char* raw = static_cast<char*>(::operator new(kSpanBytes));
  auto* s = new (raw) Span;
  s->cls = cls;
  const size_t header = (sizeof(Span) + kStep - 1) / kStep * kStep;
  s->bump = raw + header;
  s->end = raw + kSpanBytes;
  g_spans.fetch_add(1, std::memory_order_relaxed);
  return s;
}

void* withPrefix(char* block, Span* span) {
  *reinterpret_cast<Span**>(block) = span;
  g_blocks.fetch_add(1, std::memory_order_relaxed);
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
    return withPrefix(block + kPrefix, nullptr);
  }
  const auto cls = static_cast<uint32_t>((wanted + kStep - 1) / kStep - 1);
  Class& c = classes()[cls];
  std::lock_guard<std::mutex> lock(c.mu);
  Span* s = c.with_room;
  if (s == nullptr) {
    s = newSpan(cls);
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
  if (!hasRoom(*s)) unlink(c, s);
  return withPrefix(slot, s);
}

void deallocate(void* p) noexcept {
  if (p == nullptr) return;
  char* block = static_cast<char*>(p) - kPrefix;
  Span* s = *reinterpret_cast<Span**>(block);
  g_blocks.fetch_sub(1, std::memory_order_relaxed);
  if (s == nullptr) {
    block -= kPrefix;
    g_large_bytes.fetch_sub(*reinterpret_cast<size_t*>(block), std::memory_order_relaxed);
    ::operator delete(block);
    return;
  }
  Class& c = classes()[s->cls];
  std::lock_guard<std::mutex> lock(c.mu);
  auto* slot = reinterpret_cast<FreeSlot*>(block);
  slot->next = s->free;
  s->free = slot;
  --s->live;
  if (!s->listed) link(c, s);
  // An empty span goes back to the heap unless it is the class's only one with room.
  if (s->live == 0 && (c.with_room != s || s->next != nullptr)) {
    unlink(c, s);
    s->~Span();
    ::operator delete(static_cast<void*>(s));
    g_spans.fetch_sub(1, std::memory_order_relaxed);
  }
}

Stats stats() {
  Stats out;
  out.blocks = g_blocks.load(std::memory_order_relaxed);
  out.spans = g_spans.load(std::memory_order_relaxed);
  out.large_bytes = g_large_bytes.load(std::memory_order_relaxed);
  return out;
}

}  // namespace ocsp::entry_arena
