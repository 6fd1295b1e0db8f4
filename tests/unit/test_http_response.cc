// One answer on the wire (http/http_response.h): the head and a body in one or two parts go
// out in order, whatever the socket takes at a time.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "http/http_response.h"

using namespace ocsp;

namespace {

struct SocketPair {
  int fds[2] = {-1, -1};
  SocketPair() {
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    const int small = 4096;  // the kernel's minimum: many partial writes
    ::setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    ::setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    ::fcntl(fds[0], F_SETFL, ::fcntl(fds[0], F_GETFL) | O_NONBLOCK);
  }
  ~SocketPair() {
    ::close(fds[0]);
    ::close(fds[1]);
  }
};

// Writes everything `w` holds, reading `chunk` bytes at a time from the other end whenever
// the socket is full; what arrived, and how many times the writer was blocked.
std::string drain(HttpResponseWriter& w, SocketPair& s, size_t chunk, int* blocked) {
  std::string got;
  *blocked = 0;
  for (;;) {
    const HttpResponseWriter::Progress p = w.writeTo(s.fds[0]);
    REQUIRE(p != HttpResponseWriter::Progress::Failed);
    if (p == HttpResponseWriter::Progress::Blocked) ++*blocked;
    // Read what is there (all of it once the writer is done).
    for (;;) {
      char buf[65536];
      const ssize_t n = ::recv(s.fds[1], buf, chunk < sizeof buf ? chunk : sizeof buf,
                               MSG_DONTWAIT);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
      if (p == HttpResponseWriter::Progress::Blocked) break;
    }
    if (p == HttpResponseWriter::Progress::Done) return got;
  }
}

std::string pattern(size_t n, char first) {
  std::string s(n, first);
  for (size_t i = 0; i < n; i += 13) s[i] = static_cast<char>('0' + i % 10);
  return s;
}

std::string bodyOf(const std::string& wire) { return wire.substr(wire.find("\r\n\r\n") + 4); }

}  // namespace

TEST_CASE("a body in two parts is sent whole and in order across partial writes") {
  // Sizes that leave the partial writes ending anywhere: in the head, in either part.
  for (size_t chunk : {1000u, 1337u, 4096u, 7001u}) {
    CAPTURE(chunk);
    auto held = std::make_shared<std::string>(pattern(150000, 'a'));
    auto rest = std::make_shared<std::string>(pattern(90001, 'b'));
    auto both = std::make_shared<std::pair<std::string, std::string>>(*held, *rest);
    SocketPair s;
    HttpResponseWriter w;
    w.start(200, "OK", ResponseFraming{}, "X-A: 1\r\n", both->first, both, both->second);
    both.reset();  // the writer's `keep` holds the parts
    int blocked = 0;
    const std::string wire = drain(w, s, chunk, &blocked);
    CHECK(blocked > 10);
    CHECK(wire.find("Content-Length: 240001\r\n") != std::string::npos);
    CHECK(wire.find("X-A: 1\r\n") != std::string::npos);
    CHECK(bodyOf(wire) == *held + *rest);
    CHECK(w.bytesWritten() == wire.size());
  }
}

TEST_CASE("a copied body joins both parts; a HEAD answer sends neither") {
  SocketPair s;
  HttpResponseWriter w;
  std::string first = "first part ", second = "and the rest";
  w.start(200, "OK", ResponseFraming{}, "", first, nullptr, second);
  first.assign(first.size(), '#');  // copied: later changes are not sent
  second.assign(second.size(), '#');
  int blocked = 0;
  std::string wire = drain(w, s, 4096, &blocked);
  CHECK(bodyOf(wire) == "first part and the rest");
  CHECK(wire.find("Content-Length: 23\r\n") != std::string::npos);

  ResponseFraming head;
  head.send_body = false;
  auto keep = std::make_shared<std::string>("abc");
  w.start(200, "OK", head, "", *keep, keep, *keep);
  wire = drain(w, s, 4096, &blocked);
  CHECK(wire.find("Content-Length: 6\r\n") != std::string::npos);
  CHECK(bodyOf(wire).empty());
}

TEST_CASE("a body in one part is unchanged") {
  SocketPair s;
  HttpResponseWriter w;
  auto keep = std::make_shared<std::string>(pattern(50000, 'z'));
  w.start(200, "OK", ResponseFraming{}, "", *keep, keep);
  int blocked = 0;
  const std::string wire = drain(w, s, 3000, &blocked);
  CHECK(bodyOf(wire) == *keep);
}
