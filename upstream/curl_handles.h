#pragma once
// RAII for libcurl (STYLE.md: RAII for every C handle): owners of the easy, multi and slist
// handles, and a guard for curl's process-wide state. The owners use core/handles.h's one
// deleter; curl's cleanup functions accept nothing else but the handle.
//
// Order matters where handles refer to each other (curl's documentation): an easy handle is
// removed from its multi handle before either is cleaned up, and a slist given to an easy
// handle (CURLOPT_HTTPHEADER, CURLOPT_RESOLVE) outlives the transfer that uses it.
#include <curl/curl.h>

#include <memory>

#include "core/handles.h"

namespace ocsp {

using CurlEasyPtr = std::unique_ptr<CURL, FreeWith<curl_easy_cleanup>>;
using CurlMultiPtr = std::unique_ptr<CURLM, FreeWith<curl_multi_cleanup>>;
using CurlSlistPtr = std::unique_ptr<curl_slist, FreeWith<curl_slist_free_all>>;

// Appends a copy of `line` to `list`. False when curl is out of memory; `list` then stays
// as it was (curl_slist_append leaves the old list alone when it fails).
inline bool appendLine(CurlSlistPtr& list, const char* line) {
  curl_slist* head = curl_slist_append(list.get(), line);
  if (head == nullptr) return false;
  static_cast<void>(list.release());  // `head` is the same list, now one entry longer
  list.reset(head);
  return true;
}

// curl_global_init for the guard's lifetime. curl counts the calls, so guards may nest (the
// binary holds one, the `check` subcommand another); create the first before other threads
// start: curl_global_init is thread-safe only in libcurl 7.84 and later.
class CurlGlobal {
 public:
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  ~CurlGlobal() { curl_global_cleanup(); }
  CurlGlobal(const CurlGlobal&) = delete;
  CurlGlobal& operator=(const CurlGlobal&) = delete;
};

}  // namespace ocsp
