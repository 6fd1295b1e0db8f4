#pragma once
// Asynchronous HTTP client: one libcurl multi handle driven by one worker's event_base
// (CURLMOPT_SOCKETFUNCTION/TIMERFUNCTION -> libevent events). No blocking calls, no thread
// per request; the multi handle keeps connections alive and reuses them.
//
// Threading: construct, call fetch() and destroy on the thread that runs `base`.
// Callbacks run on that thread, never inside fetch() itself. Destroying the fetcher aborts
// in-flight transfers without calling their callbacks.
#include <curl/curl.h>
#include <event2/event.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/handles.h"
#include "upstream/curl_handles.h"
#include "upstream/fetcher.h"

namespace ocsp {

class CurlFetcher final : public Fetcher {
 public:
  explicit CurlFetcher(event_base* base);
  ~CurlFetcher();
  CurlFetcher(const CurlFetcher&) = delete;
  CurlFetcher& operator=(const CurlFetcher&) = delete;

  void fetch(FetchRequest request, FetchCallback done) override;
  size_t inFlight() const override { return live_.size(); }

 private:
  struct Transfer;
  struct SocketWatch;
  static int onSocket(CURL* easy, curl_socket_t fd, int what, void* userp, void* socketp);
  static int onTimer(CURLM* multi, long timeout_ms, void* userp);
  static void onEvent(evutil_socket_t fd, short events, void* arg);
  static void onTimeout(evutil_socket_t fd, short events, void* arg);
  static size_t onWrite(char* data, size_t size, size_t nmemb, void* userp);
  void socketAction(curl_socket_t fd, int ev_bitmask);
  void collectDone();

  event_base* base_;
  // Declared before multi_ so that it outlives it: curl_multi_cleanup may call onTimer.
  EventPtr timer_;
  CurlMultiPtr multi_;
  // Transfers added to multi_ (by their CURLOPT_PRIVATE address); removed from multi_ before
  // they go.
  std::unordered_map<Transfer*, std::unique_ptr<Transfer>> live_;
};

}  // namespace ocsp
