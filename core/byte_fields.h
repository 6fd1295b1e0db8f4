#pragma once
// Big-endian integer and length-prefixed fields, written to a string and read back front to
// back: the binary formats the proxy stores (cache/entry_codec.h in Redis,
// cache/snapshot_codec.h in state_dir). Reading is strict: a read past the end fails, and the
// reader says so instead of returning a partial value.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ocsp {

// Appends the `bytes` low-order bytes of `v`, most significant first.
inline void appendUint(std::string& out, uint64_t v, int bytes) {
  for (int shift = 8 * (bytes - 1); shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

inline void appendInt64(std::string& out, int64_t v) {
  appendUint(out, static_cast<uint64_t>(v), 8);
}

// Reads fields front to back; any read past the end fails (and leaves the output alone).
class ByteReader {
 public:
  explicit ByteReader(std::string_view bytes) : rest_(bytes) {}

  bool uint(int bytes, uint64_t* out) {
    if (rest_.size() < static_cast<size_t>(bytes)) return false;
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(rest_[i]);
    rest_.remove_prefix(static_cast<size_t>(bytes));
    *out = v;
    return true;
  }
  bool int64(int64_t* out) {
    uint64_t v = 0;
    if (!uint(8, &v)) return false;
    *out = static_cast<int64_t>(v);
    return true;
  }
  // The next `n` bytes, as a view into the input.
  bool bytes(size_t n, std::string_view* out) {
    if (rest_.size() < n) return false;
    *out = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return true;
  }
  // A field of a `length_bytes`-byte length and that many bytes.
  bool prefixed(int length_bytes, std::string_view* out) {
    uint64_t n = 0;
    return uint(length_bytes, &n) && bytes(static_cast<size_t>(n), out);
  }
  bool atEnd() const { return rest_.empty(); }
  size_t remaining() const { return rest_.size(); }

 private:
  std::string_view rest_;
};

}  // namespace ocsp
