#pragma once
// unique_ptr deleters for C library handles: `FreeWith<T, free_fn>` (STYLE.md: RAII for every
// C handle). Library-specific aliases live next to their users (core/ossl.h for OpenSSL).
#include <event2/event.h>
#include <event2/http.h>

#include <memory>

namespace ocsp {

template <class T, void (*Free)(T*)>
struct FreeWith {
  void operator()(T* p) const {
    if (p != nullptr) Free(p);
  }
};

using EventBasePtr = std::unique_ptr<event_base, FreeWith<event_base, event_base_free>>;
using EventPtr = std::unique_ptr<event, FreeWith<event, event_free>>;
using EvhttpPtr = std::unique_ptr<evhttp, FreeWith<evhttp, evhttp_free>>;

}  // namespace ocsp
