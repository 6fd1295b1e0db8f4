#include "core/entry_der.h"

#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>

namespace ocsp {

namespace {

// One DER element at `pos` of `in`: its tag and where its contents start and end. False when
// the header or the contents do not fit in `in`, or the length is indefinite or over 4 bytes.
struct Tlv {
  uint8_t tag = 0;
  size_t start = 0;  // of the element
  size_t body = 0;   // of its contents
  size_t end = 0;    // one past its contents
};

bool readTlv(std::string_view in, size_t pos, size_t limit, Tlv* out) {
  if (limit > in.size() || pos + 2 > limit) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  out->start = pos;
  out->tag = p[pos];
  size_t len = p[pos + 1];
  size_t at = pos + 2;
  if (len & 0x80) {
    const size_t n = len & 0x7f;
    if (n == 0 || n > 4 || at + n > limit) return false;
    len = 0;
    for (size_t i = 0; i < n; ++i) len = (len << 8) | p[at + i];
    at += n;
  }
  if (len > limit - at) return false;
  out->body = at;
  out->end = at + len;
  return true;
}

// An element with tag `tag` at `pos` that ends exactly at `end`.
bool spans(std::string_view in, size_t pos, size_t end, uint8_t tag, Tlv* out) {
  return readTlv(in, pos, end, out) && out->tag == tag && out->end == end;
}

}  // namespace

size_t trailingCertsSize(std::string_view der) {
  Tlv response, status, bytes, seq, type, octets, basic, tbs, alg, sig, certs;
  if (!spans(der, 0, der.size(), 0x30, &response)) return 0;
  if (!readTlv(der, response.body, response.end, &status) || status.tag != 0x0a) return 0;
  if (!spans(der, status.end, response.end, 0xa0, &bytes)) return 0;
  if (!spans(der, bytes.body, bytes.end, 0x30, &seq)) return 0;
  if (!readTlv(der, seq.body, seq.end, &type) || type.tag != 0x06) return 0;
  if (!spans(der, type.end, seq.end, 0x04, &octets)) return 0;
  if (!spans(der, octets.body, octets.end, 0x30, &basic)) return 0;
  if (!readTlv(der, basic.body, basic.end, &tbs) || tbs.tag != 0x30) return 0;
  if (!readTlv(der, tbs.end, basic.end, &alg) || alg.tag != 0x30) return 0;
  if (!readTlv(der, alg.end, basic.end, &sig) || sig.tag != 0x03) return 0;
  if (sig.end == basic.end) return 0;  // no certs
  if (!spans(der, sig.end, basic.end, 0xa0, &certs)) return 0;
  // Every enclosing element ended at basic.end, so certs ends the whole DER.
  return der.size() - certs.start;
}

// A pool value: the bytes and the number of entries using them.
struct shared_der::Value {
  std::string bytes;
  size_t users = 0;
};

namespace {

struct Pool {
  std::mutex mu;
  // Keyed by views of the values' own bytes.
  std::unordered_map<std::string_view, shared_der::Value*> values;
  size_t bytes = 0;
  size_t users = 0;
};

Pool& pool() {
  // Never destroyed: entries may be freed during exit, after statics are.
  static auto* p = new Pool();
  return *p;
}

}  // namespace

const EntryDer::Shared* EntryDer::shareSuffix(std::string_view whole, size_t* suffix_size) {
  *suffix_size = 0;
  const size_t n = trailingCertsSize(whole);
  if (n < shared_der::kMinShared || n == whole.size()) return nullptr;
  const std::string_view tail = whole.substr(whole.size() - n);
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  Shared* s = nullptr;
  if (auto it = p.values.find(tail); it != p.values.end()) {
    s = it->second;
  } else {
    if (p.values.size() >= shared_der::kMaxValues || p.bytes + n > shared_der::kMaxBytes) {
      return nullptr;  // past the bound: kept whole
    }
    s = new Shared{std::string(tail), 0};
    p.values.emplace(std::string_view(s->bytes), s);
    p.bytes += n;
  }
  ++s->users;
  ++p.users;
  *suffix_size = n;
  return s;
}

void EntryDer::unshare(const Shared* s) noexcept {
  if (s == nullptr) return;
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  auto* value = const_cast<Shared*>(s);
  --p.users;
  if (--value->users > 0) return;
  p.values.erase(std::string_view(value->bytes));
  p.bytes -= value->bytes.size();
  delete value;
}

shared_der::Stats shared_der::stats() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  return Stats{p.values.size(), p.bytes, p.users};
}

const EntryDer::Shared* EntryDer::shared() const {
  if (state_ != State::InlineShared) return nullptr;
  const Shared* s = nullptr;
  std::memcpy(&s, data_ - sizeof(s), sizeof(s));
  return s;
}

std::string_view EntryDer::suffix() const {
  const Shared* s = shared();
  return s != nullptr ? std::string_view(s->bytes) : std::string_view();
}

std::string_view EntryDer::whole() const {
  if (!contiguous()) throw std::logic_error("entry DER in two parts");
  return prefix();
}

std::string EntryDer::bytes() const {
  std::string out;
  appendTo(out);
  return out;
}

void EntryDer::appendTo(std::string& out) const {
  const std::string_view tail = suffix();
  out.reserve(out.size() + size_ + tail.size());
  out.append(prefix());
  out.append(tail);
}

bool operator==(const EntryDer& a, std::string_view b) {
  const std::string_view head = a.prefix();
  const std::string_view tail = a.suffix();
  return b.size() == head.size() + tail.size() && b.substr(0, head.size()) == head &&
         b.substr(head.size()) == tail;
}

void EntryDer::placeInline(char* block, std::string_view whole, size_t prefix_size,
                           const Shared* s) {
  // `whole` may be this object's own owned bytes: copy before releasing them.
  char* at = block;
  if (s != nullptr) {
    std::memcpy(at, &s, sizeof(s));
    at += sizeof(s);
  }
  if (prefix_size > 0) std::memcpy(at, whole.data(), prefix_size);
  release();
  data_ = at;
  size_ = static_cast<uint32_t>(prefix_size);
  state_ = s != nullptr ? State::InlineShared : (prefix_size > 0 ? State::Inline : State::Empty);
}

void EntryDer::assign(std::string_view bytes) {
  if (bytes.size() > UINT32_MAX) throw std::length_error("entry DER over 4 GiB");
  char* copy = nullptr;
  if (!bytes.empty()) {
    copy = new char[bytes.size()];
    std::memcpy(copy, bytes.data(), bytes.size());
  }
  release();
  data_ = copy;
  size_ = static_cast<uint32_t>(bytes.size());
  state_ = copy != nullptr ? State::Owned : State::Empty;
}

void EntryDer::borrow(std::string_view bytes) {
  if (bytes.size() > UINT32_MAX) throw std::length_error("entry DER over 4 GiB");
  release();
  data_ = bytes.data();
  size_ = static_cast<uint32_t>(bytes.size());
  state_ = bytes.empty() ? State::Empty : State::Borrowed;
}

EntryDer& EntryDer::operator=(EntryDer&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    state_ = std::exchange(other.state_, State::Empty);
  }
  return *this;
}

void EntryDer::release() noexcept {
  if (state_ == State::Owned) delete[] data_;
  if (state_ == State::InlineShared) unshare(shared());
  data_ = nullptr;
  size_ = 0;
  state_ = State::Empty;
}

}  // namespace ocsp
