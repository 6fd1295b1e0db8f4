// paced-load: an open-loop HTTP/1.1 load generator for the bench's paced run (bench/bench.py).
//
// wrk's delay between requests is a closed loop with pauses: each of its threads serves its
// connections in turns, so requests leave in bursts (tens queued behind each other on one
// loop turn) and the latency it reports includes its own queueing. Here each keep-alive
// connection has its own schedule: requests are due at exponentially distributed intervals
// (a Poisson process per connection, `--rate` over all of them), and latency is counted
// from the moment a request was due, not from when it was sent. A request due while its
// connection still waits for the previous answer goes out when that answer is in, and its
// wait counts (no coordinated omission). Three figures per answer are kept:
//   latency   due -> last byte of the answer in (what a client sees)
//   wire      sent -> last byte in (the server and the network only)
//   lag       due -> sent, when the connection was free: this generator's own delay (a
//             client that was not scheduled on its CPU in time), reported so that it is
//             not mistaken for the server's
//
//   paced-load --port P --rate R [--connections 200] [--duration 10] [--warmup 1]
//              --mode get|post --file F [--prefix /] [--host H] [--seed N] [--fixed]
//
// The request file is the one bench/requests.lua reads: mode=post, one DER per line in hex;
// mode=get, one base64url request per line, sent as GET <prefix><line>. Prints one line
// "BENCH {json}" with the counts and percentiles in microseconds. Bench-only: not installed.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <queue>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

int64_t nowNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "paced-load: %s\n", what.c_str());
  std::exit(2);
}

struct Options {
  int port = 0;
  double rate = 0;
  int connections = 200;
  double duration_s = 10;
  double warmup_s = 1;
  std::string mode;
  std::string file;
  std::string prefix = "/";
  std::string host;
  uint64_t seed = 1;
  bool fixed = false;  // fixed intervals instead of exponential ones
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) die(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--port") o.port = std::atoi(value().c_str());
    else if (arg == "--rate") o.rate = std::atof(value().c_str());
    else if (arg == "--connections") o.connections = std::atoi(value().c_str());
    else if (arg == "--duration") o.duration_s = std::atof(value().c_str());
    else if (arg == "--warmup") o.warmup_s = std::atof(value().c_str());
    else if (arg == "--mode") o.mode = value();
    else if (arg == "--file") o.file = value();
    else if (arg == "--prefix") o.prefix = value();
    else if (arg == "--host") o.host = value();
    else if (arg == "--seed") o.seed = std::strtoull(value().c_str(), nullptr, 10);
    else if (arg == "--fixed") o.fixed = true;
    else if (arg == "--help" || arg == "-h") {
      std::puts("paced-load --port P --rate R [--connections 200] [--duration 10] [--warmup 1]\n"
                "           --mode get|post --file F [--prefix /] [--host H] [--seed N] [--fixed]");
      std::exit(0);
    } else {
      die("unknown argument " + arg);
    }
  }
  if (o.port <= 0 || o.port > 65535) die("--port is required");
  if (o.rate <= 0) die("--rate must be positive");
  if (o.connections <= 0) die("--connections must be positive");
  if (o.mode != "get" && o.mode != "post") die("--mode must be get or post");
  if (o.file.empty()) die("--file is required");
  if (o.host.empty()) o.host = "127.0.0.1:" + std::to_string(o.port);
  return o;
}

std::string unhex(std::string_view hex) {
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

// Every request rendered once, whole, so that sending is one write of ready bytes.
std::vector<std::string> loadRequests(const Options& o) {
  std::ifstream in(o.file);
  if (!in) die("cannot read " + o.file);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (o.mode == "get") {
      out.push_back("GET " + o.prefix + line + " HTTP/1.1\r\nHost: " + o.host + "\r\n\r\n");
    } else {
      const std::string body = unhex(line);
      out.push_back("POST " + o.prefix + " HTTP/1.1\r\nHost: " + o.host +
                    "\r\nContent-Type: application/ocsp-request\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body);
    }
  }
  if (out.empty()) die(o.file + " holds no requests");
  return out;
}

struct Conn {
  int fd = -1;
  int64_t due = 0;          // when the next request is due
  int64_t pending_due = 0;  // the due time of the request in flight
  int64_t sent_at = 0;
  bool busy = false;        // a request is in flight
  size_t next_request = 0;
  std::string out;          // bytes not yet written
  size_t out_at = 0;
  std::string in;
};

struct Figures {
  std::vector<int64_t> latency, wire, lag;
  uint64_t requests = 0, errors_status = 0, errors_io = 0;
};

// Parses one complete answer at the front of `in`: its length, or 0 if more is needed.
// Sets *status.
size_t completeAnswer(const std::string& in, int* status) {
  const size_t head_end = in.find("\r\n\r\n");
  if (head_end == std::string::npos) return 0;
  if (in.size() < 12) return 0;
  *status = std::atoi(in.c_str() + 9);
  size_t length = 0;
  size_t at = in.find("\r\n");
  while (at < head_end) {
    const size_t eol = in.find("\r\n", at + 2);
    std::string_view field(in.data() + at + 2, eol - at - 2);
    constexpr std::string_view kName = "content-length:";
    if (field.size() > kName.size() &&
        std::equal(kName.begin(), kName.end(), field.begin(),
                   [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); })) {
      length = std::strtoull(std::string(field.substr(kName.size())).c_str(), nullptr, 10);
    }
    at = eol;
  }
  const size_t total = head_end + 4 + length;
  return in.size() >= total ? total : 0;
}

int64_t percentile(std::vector<int64_t>& v, double p) {
  if (v.empty()) return 0;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(std::ceil(p * v.size())) - 1);
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

std::string summary(const char* name, std::vector<int64_t>& v) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "\"%s_p50_us\": %.1f, \"%s_p90_us\": %.1f, \"%s_p99_us\": %.1f, "
                "\"%s_p999_us\": %.1f, \"%s_max_us\": %.1f",
                name, percentile(v, 0.50) / 1e3, name, percentile(v, 0.90) / 1e3, name,
                percentile(v, 0.99) / 1e3, name, percentile(v, 0.999) / 1e3, name,
                v.empty() ? 0.0 : *std::max_element(v.begin(), v.end()) / 1e3);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  const std::vector<std::string> requests = loadRequests(o);
  std::mt19937_64 rng(o.seed);
  // Each connection's own mean interval: together they offer --rate.
  const double mean_ns = 1e9 * o.connections / o.rate;
  std::exponential_distribution<double> interval(1.0 / mean_ns);
  auto next_gap = [&]() -> int64_t {
    return std::max<int64_t>(1, o.fixed ? static_cast<int64_t>(mean_ns)
                                        : static_cast<int64_t>(interval(rng)));
  };

  const int ep = epoll_create1(EPOLL_CLOEXEC);
  const int timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (ep < 0 || timer < 0) die(std::string("epoll/timerfd: ") + std::strerror(errno));
  constexpr uint64_t kTimerTag = UINT64_MAX;
  epoll_event tev{};
  tev.events = EPOLLIN;
  tev.data.u64 = kTimerTag;
  epoll_ctl(ep, EPOLL_CTL_ADD, timer, &tev);

  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(o.port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::vector<Conn> conns(static_cast<size_t>(o.connections));
  // Arrivals: (due, connection), earliest first; one pending arrival per connection.
  using Arrival = std::pair<int64_t, size_t>;
  std::priority_queue<Arrival, std::vector<Arrival>, std::greater<>> arrivals;
  std::vector<std::vector<int64_t>> backlog(conns.size());  // due, not yet sent
  const int64_t start = nowNs();
  const int64_t measure_from = start + static_cast<int64_t>(o.warmup_s * 1e9);
  const int64_t end = measure_from + static_cast<int64_t>(o.duration_s * 1e9);
  const int64_t drain_until = end + 2'000'000'000;  // answers to requests due before `end`
  for (size_t i = 0; i < conns.size(); ++i) {
    Conn& c = conns[i];
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c.fd < 0 || connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      die(std::string("connect: ") + std::strerror(errno));
    }
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL) | O_NONBLOCK);
    c.next_request = i * requests.size() / conns.size();  // spread over the list
    arrivals.emplace(start + next_gap(), i);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
  }

  Figures f;
  uint64_t unanswered_io = 0;  // requests due in the window and never answered
  auto set_writable_interest = [&](size_t i, bool want) {
    epoll_event ev{};
    ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
    ev.data.u64 = i;
    epoll_ctl(ep, EPOLL_CTL_MOD, conns[i].fd, &ev);
  };
  auto flush = [&](size_t i) {
    Conn& c = conns[i];
    while (c.out_at < c.out.size()) {
      const ssize_t n = ::send(c.fd, c.out.data() + c.out_at, c.out.size() - c.out_at,
                               MSG_NOSIGNAL);
      if (n > 0) {
        c.out_at += static_cast<size_t>(n);
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        set_writable_interest(i, true);
        return;
      } else {
        ++f.errors_io;
        return;
      }
    }
  };
  auto send_next = [&](size_t i, int64_t now) {
    Conn& c = conns[i];
    c.pending_due = backlog[i].front();
    backlog[i].erase(backlog[i].begin());
    c.sent_at = now;
    c.busy = true;
    c.out = requests[c.next_request];
    c.out_at = 0;
    c.next_request = (c.next_request + 1) % requests.size();
    flush(i);
  };
  auto measured = [&](int64_t due) { return due >= measure_from && due < end; };

  epoll_event events[256];
  for (;;) {
    int64_t now = nowNs();
    // Every arrival now due: queued on its connection, sent at once if the connection is free.
    while (!arrivals.empty() && arrivals.top().first <= now) {
      const auto [due, i] = arrivals.top();
      arrivals.pop();
      if (due >= end) continue;  // no more arrivals on this connection
      backlog[i].push_back(due);
      arrivals.emplace(due + next_gap(), i);
      if (!conns[i].busy) {
        if (measured(due)) f.lag.push_back(now - due);
        send_next(i, now);
      }
    }
    if (now >= drain_until) break;
    if (arrivals.empty()) {  // past `end`: waiting for the last answers
      bool in_flight = false;
      for (size_t i = 0; i < conns.size() && !in_flight; ++i) {
        in_flight = conns[i].busy || !backlog[i].empty();
      }
      if (!in_flight) break;
    }
    if (!arrivals.empty()) {
      itimerspec when{};
      const int64_t at = arrivals.top().first;
      when.it_value.tv_sec = at / 1'000'000'000;
      when.it_value.tv_nsec = at % 1'000'000'000;
      timerfd_settime(timer, TFD_TIMER_ABSTIME, &when, nullptr);
    }
    const int n = epoll_wait(ep, events, 256, arrivals.empty() ? 100 : -1);
    if (n < 0 && errno != EINTR) die(std::string("epoll_wait: ") + std::strerror(errno));
    now = nowNs();
    for (int k = 0; k < n; ++k) {
      if (events[k].data.u64 == kTimerTag) {
        uint64_t expirations;
        [[maybe_unused]] ssize_t r = ::read(timer, &expirations, sizeof expirations);
        continue;
      }
      const size_t i = events[k].data.u64;
      Conn& c = conns[i];
      if (events[k].events & EPOLLOUT) {
        flush(i);
        if (c.out_at == c.out.size()) set_writable_interest(i, false);
      }
      if (!(events[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
      char buf[16384];
      for (;;) {
        const ssize_t got = ::recv(c.fd, buf, sizeof buf, 0);
        if (got > 0) {
          c.in.append(buf, static_cast<size_t>(got));
          continue;
        }
        if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
          // The server closed a keep-alive connection: an error for what was in flight.
          ++f.errors_io;
          unanswered_io += backlog[i].size() + (c.busy ? 1 : 0);
          backlog[i].clear();
          c.busy = false;
          epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
          ::close(c.fd);
          c.fd = -1;
        }
        break;
      }
      int status = 0;
      while (c.busy) {
        const size_t used = completeAnswer(c.in, &status);
        if (used == 0) break;
        c.in.erase(0, used);
        c.busy = false;
        if (measured(c.pending_due)) {
          ++f.requests;
          if (status != 200) ++f.errors_status;
          f.latency.push_back(now - c.pending_due);
          f.wire.push_back(now - c.sent_at);
        }
        if (!backlog[i].empty() && c.fd >= 0) send_next(i, now);
      }
    }
  }
  for (size_t i = 0; i < conns.size(); ++i) {  // still unanswered at the end of the drain
    unanswered_io += static_cast<uint64_t>(
        std::count_if(backlog[i].begin(), backlog[i].end(), measured));
    if (conns[i].busy && measured(conns[i].pending_due)) ++unanswered_io;
  }
  const double window_s = (end - measure_from) / 1e9;
  std::printf("BENCH {\"requests\": %llu, \"duration_us\": %.0f, \"offered_rps\": %.1f, "
              "\"errors_status\": %llu, \"errors_io\": %llu, \"unanswered\": %llu, "
              "%s, %s, %s}\n",
              static_cast<unsigned long long>(f.requests), window_s * 1e6, o.rate,
              static_cast<unsigned long long>(f.errors_status),
              static_cast<unsigned long long>(f.errors_io),
              static_cast<unsigned long long>(unanswered_io),
              summary("latency", f.latency).c_str(), summary("wire", f.wire).c_str(),
              summary("lag", f.lag).c_str());
  return f.requests > 0 ? 0 : 1;
}
