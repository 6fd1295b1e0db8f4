#pragma once
// The HTTP exchanges of `ocsp-proxy check` and `explain` (tools/check.h, explain.h):
// blocking, one libcurl easy handle per transfer, since each subcommand runs once per process
// and asks a few questions. The caller
// holds a CurlGlobal (upstream/curl_handles.h) around every call.
//   - a response body over kMaxDownloadBytes (an OCSP response or a caIssuers download) is
//     the error "too_large", never truncated;
//   - redirects are not followed, only http:// is spoken;
//   - with a proxy, every host goes through it (no_proxy in the environment does not apply);
//     without one, none is used (http_proxy and all_proxy do not apply either);
//   - the proxy's X-OCSP-Proxy-Flags header (comma-separated) comes back as a list, from the
//     last response only.
#include <curl/curl.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace ocsp::check {

inline constexpr int64_t kDefaultTimeoutMs = 10'000;
inline constexpr size_t kMaxDownloadBytes = 1 << 20;

struct HttpCall {
  std::string url;
  std::string post_body;             // empty: GET; else POSTed as application/ocsp-request
  std::optional<std::string> proxy;  // nullopt: direct, whatever the environment says
  int64_t timeout_ms = kDefaultTimeoutMs;  // the whole transfer, connect included
};

struct HttpAnswer {
  long status = 0;
  std::string body;
  std::vector<std::string> proxy_flags;  // from X-OCSP-Proxy-Flags
  int64_t elapsed_ms = 0;
  bool too_large = false;
};

// The options every blocking transfer of the command-line tools sets (check, explain, egress
// test): the URL, curl's error message into `error_buf` (CURL_ERROR_SIZE bytes), no signals,
// `timeout_ms` for connecting and for the whole transfer, no redirects, only `protocols`
// ("http", "http,https"), `user_agent`, and no proxy from the environment (a caller that
// wants one sets CURLOPT_PROXY afterwards).
void setToolTransferOptions(CURL* e, const std::string& url, char* error_buf, int64_t timeout_ms,
                            const char* protocols, const char* user_agent);

// Errors: "too_large" and "transport" (curl's message and code), category
// UpstreamUnavailable; "internal" when curl cannot start a transfer. Any HTTP status is an
// answer.
Result<HttpAnswer> httpExchange(const HttpCall& call);

// The command lines of the tools that use httpExchange; errors have code "usage".
// One argument: "--name=value" split at the first '=', anything else the name alone.
struct CommandArg {
  std::string_view name;
  std::optional<std::string> inline_value;
};
CommandArg splitArg(std::string_view arg);
// The value of option `a`: its inline value, else argv[*i + 1] (and *i moves past it).
// "NAME needs a value" when there is none or it is empty.
Result<std::string> optionValue(const CommandArg& a, int argc, char** argv, int* i);
// --timeout: "500ms", "10s", "1m". A unit is required, as in the config: "10" could mean
// either.
Result<int64_t> parseTimeoutMs(std::string_view text);
// An http:// URL for `option` (named in the message).
Status checkHttpUrl(const char* option, const std::string& text);
// An http://HOST:PORT URL with no path, for an option naming a proxy.
Status checkProxyUrl(const char* option, const std::string& text);
// A command's options for parseOptions: flags take no value and are set true when given;
// the others take one ("--name value" or "--name=value"); "--timeout" (when timeout_ms is
// set) is read with parseTimeoutMs. Each name may appear more than once: the last wins.
struct OptionTable {
  std::vector<std::pair<std::string_view, bool*>> flags;
  std::vector<std::pair<std::string_view, std::string*>> values;
  int64_t* timeout_ms = nullptr;
};
// Reads argv[1..argc) into the table's targets. A usage error (code "usage") names an unknown
// argument, a flag given a value, or an option without one.
Status parseOptions(int argc, char** argv, const OptionTable& table);
Error usageError(std::string detail);

}  // namespace ocsp::check
