#pragma once
// The one unique_ptr deleter for C library handles (STYLE.md: RAII for every C handle):
// `std::unique_ptr<T, FreeWith<free_fn>>` calls free_fn(p) for a non-null p. Any function
// taking the pointer fits, whatever it returns (curl_multi_cleanup returns a CURLMcode). A
// free "function" that is a macro (sk_X509_pop_free, OPENSSL_free) gets a small named
// function next to its aliases. Library-specific aliases live with their library:
// core/ossl.h (OpenSSL), upstream/curl_handles.h (libcurl), here (libevent).
#include <event2/event.h>
#include <event2/http.h>

#include <memory>
#include <stdexcept>

namespace ocsp {

template <auto Free>
struct FreeWith {
  template <class T>
  void operator()(T* p) const {
    if (p != nullptr) static_cast<void>(Free(p));
  }
};

using EventBasePtr = std::unique_ptr<event_base, FreeWith<event_base_free>>;
using EventPtr = std::unique_ptr<event, FreeWith<event_free>>;
using EvhttpPtr = std::unique_ptr<evhttp, FreeWith<evhttp_free>>;

// A new event loop; throws when libevent cannot make one (out of memory or file descriptors),
// which only happens while a component is being built.
inline EventBasePtr newEventBase() {
  EventBasePtr base(event_base_new());
  if (!base) throw std::runtime_error("event_base_new failed");
  return base;
}

}  // namespace ocsp
