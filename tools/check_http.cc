#include "tools/check_http.h"

#include <strings.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "core/url.h"
#include "upstream/curl_handles.h"

namespace ocsp::check {
namespace {

constexpr std::string_view kFlagsHeader = "x-ocsp-proxy-flags:";

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

size_t onBody(char* data, size_t size, size_t count, void* userp) {
  auto* answer = static_cast<HttpAnswer*>(userp);
  size_t len = size * count;
  if (answer->body.size() + len > kMaxDownloadBytes) {
    answer->too_large = true;
    return 0;  // aborts the transfer
  }
  answer->body.append(data, len);
  return len;
}

size_t onHeader(char* data, size_t size, size_t count, void* userp) {
  auto* answer = static_cast<HttpAnswer*>(userp);
  std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) answer->proxy_flags.clear();  // a new response begins
  if (line.size() > kFlagsHeader.size() &&
      strncasecmp(line.data(), kFlagsHeader.data(), kFlagsHeader.size()) == 0) {
    std::string_view rest = line.substr(kFlagsHeader.size());
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string_view flag = trimmed(rest.substr(0, comma));
      if (!flag.empty()) answer->proxy_flags.emplace_back(flag);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
  }
  return size * count;
}

}  // namespace

CommandArg splitArg(std::string_view arg) {
  size_t eq = arg.find('=');
  if (!arg.starts_with("--") || eq == std::string_view::npos) return {arg, std::nullopt};
  return {arg.substr(0, eq), std::string(arg.substr(eq + 1))};
}

Result<std::string> optionValue(const CommandArg& a, int argc, char** argv, int* i) {
  if (!a.inline_value && *i + 1 >= argc) return usageError(std::string(a.name) + " needs a value");
  std::string value = a.inline_value ? *a.inline_value : std::string(argv[++*i]);
  if (value.empty()) return usageError(std::string(a.name) + " needs a value");
  return value;
}

Result<int64_t> parseTimeoutMs(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  std::string_view unit = text.substr(digits);
  int64_t scale = unit == "ms" ? 1 : unit == "s" ? 1000 : unit == "m" ? 60'000 : 0;
  if (digits == 0 || digits > 6 || scale == 0) {
    return usageError("--timeout wants a number and a unit (ms, s, m), e.g. 10s: got \"" +
                      std::string(text) + "\"");
  }
  int64_t ms = std::stoll(std::string(text.substr(0, digits))) * scale;
  if (ms == 0) return usageError("--timeout must be more than zero");
  return ms;
}

Status checkHttpUrl(const char* option, const std::string& text) {
  auto url = parseHttpUrl(text);
  if (!url) return usageError(std::string(option) + " " + text + ": " + url.error().detail);
  if (url->scheme != "http") return usageError(std::string(option) + " must be an http:// URL");
  return Ok{};
}

Status checkProxyUrl(const char* option, const std::string& text) {
  if (auto ok = checkHttpUrl(option, text); !ok) return ok;
  if (parseHttpUrl(text)->target != "/") {
    return usageError(std::string(option) + " takes http://HOST:PORT only");
  }
  return Ok{};
}

Error usageError(std::string detail) {
  return makeError(ErrorCategory::Config, "usage", std::move(detail));
}

Status parseOptions(int argc, char** argv, const OptionTable& table) {
  for (int i = 1; i < argc; ++i) {
    const CommandArg a = splitArg(argv[i]);
    auto flag = std::find_if(table.flags.begin(), table.flags.end(),
                             [&](const auto& f) { return f.first == a.name; });
    if (flag != table.flags.end()) {
      if (a.inline_value) return usageError(std::string(a.name) + " takes no value");
      *flag->second = true;
      continue;
    }
    auto option = std::find_if(table.values.begin(), table.values.end(),
                               [&](const auto& v) { return v.first == a.name; });
    const bool timeout = table.timeout_ms != nullptr && a.name == "--timeout";
    if (option == table.values.end() && !timeout) {
      return usageError("unknown argument: " + std::string(argv[i]));
    }
    auto value = optionValue(a, argc, argv, &i);
    if (!value) return value.error();
    if (timeout) {
      auto ms = parseTimeoutMs(*value);
      if (!ms) return ms.error();
      *table.timeout_ms = *ms;
    } else {
      *option->second = std::move(*value);
    }
  }
  return Ok{};
}

void setToolTransferOptions(CURL* e, const std::string& url, char* error_buf, int64_t timeout_ms,
                            const char* protocols, const char* user_agent) {
  curl_easy_setopt(e, CURLOPT_URL, url.c_str());
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, error_buf);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms));
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout_ms));
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, protocols);
  curl_easy_setopt(e, CURLOPT_USERAGENT, user_agent);
  curl_easy_setopt(e, CURLOPT_PROXY, "");  // "" disables http_proxy/all_proxy as well
}

Result<HttpAnswer> httpExchange(const HttpCall& call) {
  CurlEasyPtr easy(curl_easy_init());
  if (!easy) return makeError(ErrorCategory::Internal, "internal", "curl_easy_init failed");
  CURL* e = easy.get();
  HttpAnswer answer;
  char error_buf[CURL_ERROR_SIZE] = "";
  setToolTransferOptions(e, call.url, error_buf, call.timeout_ms, "http",
                         "ocsp-proxy-check/" OCSP_PROXY_VERSION);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &onBody);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &onHeader);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, &answer);
  curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(kMaxDownloadBytes));
  if (call.proxy) {
    curl_easy_setopt(e, CURLOPT_PROXY, call.proxy->c_str());
    // Hosts in a no_proxy environment variable would otherwise bypass the proxy asked for.
    curl_easy_setopt(e, CURLOPT_NOPROXY, "");
  }
  CurlSlistPtr headers;
  if (!call.post_body.empty()) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, call.post_body.data());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(call.post_body.size()));
    if (!appendLine(headers, "Content-Type: application/ocsp-request")) {
      return makeError(ErrorCategory::Internal, "internal", "out of memory");
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers.get());
  }
  auto start = std::chrono::steady_clock::now();
  CURLcode rc = curl_easy_perform(e);
  answer.elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - start)
                          .count();
  if (answer.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
    return makeError(ErrorCategory::UpstreamUnavailable, "too_large",
                     "the answer is larger than " + std::to_string(kMaxDownloadBytes) + " bytes");
  }
  if (rc != CURLE_OK) {
    std::string why = error_buf[0] != '\0' ? error_buf : curl_easy_strerror(rc);
    return makeError(ErrorCategory::UpstreamUnavailable, "transport",
                     why + " (curl error " + std::to_string(rc) + ")");
  }
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &answer.status);
  return answer;
}

}  // namespace ocsp::check
