#include "upstream/curl_fetcher.h"

#include <algorithm>
#include <cctype>

#include "core/clock.h"
#include "upstream/via_token.h"

namespace ocsp {

struct CurlFetcher::Transfer {
  // The lists are declared before the easy handle so that they outlive it.
  CurlSlistPtr headers;
  CurlSlistPtr resolve;
  CurlEasyPtr easy;
  FetchRequest request;
  FetchResult result;
  FetchCallback done;
  int64_t started_ms = 0;
  char error_buf[CURL_ERROR_SIZE] = {0};
};

// One per socket curl asks us to watch; owned through curl_multi_assign.
struct CurlFetcher::SocketWatch {
  EventPtr ev;
};

CurlFetcher::CurlFetcher(event_base* base)
    : base_(base),
      timer_(evtimer_new(base, &CurlFetcher::onTimeout, this)),
      multi_(curl_multi_init()) {
  CURLM* m = multi_.get();
  curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, &CurlFetcher::onSocket);
  curl_multi_setopt(m, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, &CurlFetcher::onTimer);
  curl_multi_setopt(m, CURLMOPT_TIMERDATA, this);
  // Keep a few idle connections per upstream host for reuse.
  curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, 64L);
}

CurlFetcher::~CurlFetcher() {
  // Abort in-flight transfers; their callbacks are not called (documented in the header).
  for (auto& entry : live_) curl_multi_remove_handle(multi_.get(), entry.second->easy.get());
  live_.clear();
  // Then multi_ and timer_ go, in that order (declaration order).
}

size_t CurlFetcher::onWrite(char* data, size_t size, size_t nmemb, void* userp) {
  auto* t = static_cast<Transfer*>(userp);
  size_t n = size * nmemb;
  if (t->result.body.size() + n > t->request.max_response_bytes) {
    t->result.too_large = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  if (t->result.body.empty()) {
    // One block for the whole body when the server said how long it is (within the limit),
    // instead of a chain of growing copies: fewer holes left in the heap by each fetch.
    curl_off_t length = -1;
    if (curl_easy_getinfo(t->easy.get(), CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length) == CURLE_OK &&
        length > 0 && static_cast<uint64_t>(length) <= t->request.max_response_bytes) {
      t->result.body.reserve(static_cast<size_t>(length));
    }
  }
  t->result.body.append(data, n);
  return n;
}

void CurlFetcher::fetch(FetchRequest request, FetchCallback done) {
  auto t = std::make_unique<Transfer>();
  t->request = std::move(request);
  t->done = std::move(done);
  t->started_ms = monotonicMs();
  t->easy.reset(curl_easy_init());
  CURL* e = t->easy.get();
  const FetchRequest& r = t->request;
  curl_easy_setopt(e, CURLOPT_URL, r.url.c_str());
  curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error_buf);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &CurlFetcher::onWrite);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(r.timeout_ms));
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(r.timeout_ms));
  // docs/ARCHITECTURE.md §1: redirects from upstream are not followed.
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  // Upstreams are contacted directly by FQDN; environment proxy variables do not apply.
  curl_easy_setopt(e, CURLOPT_PROXY, "");
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_USERAGENT, "ocsp-proxy/" OCSP_PROXY_VERSION);
  curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(r.max_response_bytes));
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  for (const auto& entry : r.resolve) appendLine(t->resolve, entry.c_str());
  if (t->resolve) curl_easy_setopt(e, CURLOPT_RESOLVE, t->resolve.get());
  if (!r.post_body.empty()) {
    appendLine(t->headers, ("Content-Type: " + r.content_type).c_str());
    appendLine(t->headers, "Expect:");  // no 100-continue round trip
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r.post_body.data());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.post_body.size()));
  }
  // upstream/via_token.h: names this process, so that the front sees its own fetch coming
  // back to it (DNS pointing a CA's name here) and refuses it instead of looping.
  appendLine(t->headers, ("Via: " + viaHeaderValue()).c_str());
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers.get());

  if (curl_multi_add_handle(multi_.get(), e) != CURLM_OK) {
    // Report asynchronously like every other outcome.
    t->result.code = CURLE_FAILED_INIT;
    t->result.error = "curl_multi_add_handle failed";
    auto* raw = t.release();
    event_base_once(
        base_, -1, EV_TIMEOUT,
        [](evutil_socket_t, short, void* arg) {
          std::unique_ptr<Transfer> owned(static_cast<Transfer*>(arg));
          owned->done(std::move(owned->result));
        },
        raw, nullptr);
    return;
  }
  Transfer* key = t.get();
  live_.emplace(key, std::move(t));  // owned by live_ until collectDone()
}

int CurlFetcher::onSocket(CURL*, curl_socket_t fd, int what, void* userp, void* socketp) {
  auto* self = static_cast<CurlFetcher*>(userp);
  auto* watch = static_cast<SocketWatch*>(socketp);
  if (what == CURL_POLL_REMOVE) {
    delete watch;
    curl_multi_assign(self->multi_.get(), fd, nullptr);
    return 0;
  }
  if (watch == nullptr) {
    watch = new SocketWatch();
    curl_multi_assign(self->multi_.get(), fd, watch);
  }
  short kind = EV_PERSIST;
  if (what & CURL_POLL_IN) kind |= EV_READ;
  if (what & CURL_POLL_OUT) kind |= EV_WRITE;
  watch->ev.reset(event_new(self->base_, fd, kind, &CurlFetcher::onEvent, self));
  event_add(watch->ev.get(), nullptr);
  return 0;
}

int CurlFetcher::onTimer(CURLM*, long timeout_ms, void* userp) {
  auto* self = static_cast<CurlFetcher*>(userp);
  if (timeout_ms < 0) {
    evtimer_del(self->timer_.get());
    return 0;
  }
  timeval tv{timeout_ms / 1000, static_cast<suseconds_t>((timeout_ms % 1000) * 1000)};
  evtimer_add(self->timer_.get(), &tv);
  return 0;
}

void CurlFetcher::onEvent(evutil_socket_t fd, short events, void* arg) {
  int mask = 0;
  if (events & EV_READ) mask |= CURL_CSELECT_IN;
  if (events & EV_WRITE) mask |= CURL_CSELECT_OUT;
  static_cast<CurlFetcher*>(arg)->socketAction(fd, mask);
}

void CurlFetcher::onTimeout(evutil_socket_t, short, void* arg) {
  static_cast<CurlFetcher*>(arg)->socketAction(CURL_SOCKET_TIMEOUT, 0);
}

void CurlFetcher::socketAction(curl_socket_t fd, int ev_bitmask) {
  int running = 0;
  curl_multi_socket_action(multi_.get(), fd, ev_bitmask, &running);
  collectDone();
}

void CurlFetcher::collectDone() {
  int pending = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_.get(), &pending)) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURL* e = msg->easy_handle;
    Transfer* raw = nullptr;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, &raw);
    auto owned = live_.find(raw);
    if (owned == live_.end()) continue;
    std::unique_ptr<Transfer> t = std::move(owned->second);
    live_.erase(owned);
    t->result.code = msg->data.result;
    // A Content-Length over the cap stops the transfer before any byte (CURLOPT_MAXFILESIZE).
    if (t->result.code == CURLE_FILESIZE_EXCEEDED) t->result.too_large = true;
    curl_multi_remove_handle(multi_.get(), e);
    if (t->result.code != CURLE_OK) {
      t->result.error = t->error_buf[0] != '\0' ? t->error_buf : curl_easy_strerror(t->result.code);
    }
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &t->result.http_status);
    const char* ct = nullptr;
    if (curl_easy_getinfo(e, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct != nullptr) {
      t->result.content_type = ct;
    }
    t->result.elapsed_ms = monotonicMs() - t->started_ms;
    // The callback may start new transfers (failover); that is safe here, outside any curl
    // callback.
    t->done(std::move(t->result));
  }
}

void pinAddress(FetchRequest& request, const std::map<std::string, std::string>& resolve,
                const std::string& host, uint16_t port) {
  // The config's resolve keys are lower-case (conf::hostName); DNS names are not case-sensitive.
  std::string name(host);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  auto it = resolve.find(name);
  if (it == resolve.end()) return;
  bool v6 = it->second.find(':') != std::string::npos;
  request.resolve.push_back(name + ":" + std::to_string(port) + ":" +
                            (v6 ? "[" + it->second + "]" : it->second));
}

}  // namespace ocsp
