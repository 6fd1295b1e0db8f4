#include "upstream/known_serials.h"

#include <openssl/pem.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>

namespace ocsp {

namespace {

constexpr size_t kKeyIdBytes = 20;  // SHA-1
// RFC 5280 §4.1.2.2 caps serials at 20 octets; some CAs wrote longer ones, none this long.
constexpr size_t kMaxSerialBytes = 40;
// A DER certificate larger than this is not one a CA issued.
constexpr std::streamsize kMaxDerBytes = 1 << 20;

// The serial as a number (its magnitude without leading zero bytes); nullopt when empty or
// negative (two's complement: the top bit of the first byte set). RFC 5280 §4.1.2.2.
std::optional<std::string_view> magnitudeOf(std::string_view serial) {
  if (serial.empty() || (static_cast<unsigned char>(serial[0]) & 0x80) != 0) return std::nullopt;
  size_t zeros = 0;
  while (zeros < serial.size() && serial[zeros] == '\0') ++zeros;
  return serial.substr(zeros);
}

// `cert`'s issuer name is `issuer`'s subject and its signature verifies with `issuer`'s key.
bool signedBy(X509* cert, X509* issuer) {
  if (cert == nullptr || issuer == nullptr) return false;
  if (X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(issuer)) != 0) return false;
  ErrorQueueGuard guard;
  EVP_PKEY* key = X509_get0_pubkey(issuer);
  return key != nullptr && X509_verify(cert, key) == 1;
}

Error fileError(const char* code, const std::string& path, size_t line, const std::string& what) {
  return makeError(ErrorCategory::Config, code,
                   path + (line > 0 ? ":" + std::to_string(line) : std::string()) + ": " + what);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Hex digits with optional ':' and ' ' between them -> bytes; an odd count gets a leading 0.
// nullopt if anything else is in `text`.
std::optional<std::string> hexBytes(std::string_view text) {
  std::string digits;
  digits.reserve(text.size());
  for (char c : text) {
    if (c == ':' || c == ' ' || c == '\t') continue;
    if (hexValue(c) < 0) return std::nullopt;
    digits.push_back(c);
  }
  if (digits.empty()) return std::nullopt;
  if (digits.size() % 2 != 0) digits.insert(digits.begin(), '0');
  std::string out(digits.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<char>(hexValue(digits[2 * i]) * 16 + hexValue(digits[2 * i + 1]));
  }
  return out;
}

// What one loader run needs: the issuers, the set, and the counts so far.
struct FileLoad {
  const std::string& path;
  const std::vector<SharedX509>& issuers;
  KnownSerials& into;
  KnownSerialsLoad counts;

  // A certificate from the file: added under the configured issuer that signed it.
  void certificate(X509* cert) {
    for (const SharedX509& issuer : issuers) {
      if (!signedBy(cert, issuer.get())) continue;
      if (into.add(issuerKeySha1(issuer.get()), certificateSerial(cert))) {
        ++counts.added;
      }
      return;
    }
    ++counts.not_issued_by_configured;
  }
};

Result<KnownSerialsLoad> loadDer(FileLoad& load, std::ifstream& in) {
  std::string der(static_cast<size_t>(kMaxDerBytes) + 1, '\0');
  in.read(der.data(), kMaxDerBytes + 1);
  der.resize(static_cast<size_t>(in.gcount()));
  if (der.size() > static_cast<size_t>(kMaxDerBytes)) {
    return fileError("known_serials_format", load.path, 1,
                     "a binary file larger than 1 MiB: not one DER certificate");
  }
  ErrorQueueGuard guard;
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert || p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    return fileError("known_serials_format", load.path, 1,
                     "binary content that is not one DER certificate");
  }
  load.certificate(cert.get());
  return load.counts;
}

// PEM: every CERTIFICATE block; text outside the blocks is explanatory (RFC 7468 §5.2).
Result<KnownSerialsLoad> loadPem(FileLoad& load, std::ifstream& in) {
  std::string line;
  std::string block;
  size_t line_no = 0;
  size_t begin_line = 0;  // 0: outside a block
  while (std::getline(in, line)) {
    ++line_no;
    std::string_view l = trim(line);
    if (begin_line == 0) {
      if (!l.starts_with("-----BEGIN ")) continue;
      if (l != "-----BEGIN CERTIFICATE-----") {
        return fileError("known_serials_format", load.path, line_no,
                         "a PEM block that is not a CERTIFICATE: " + std::string(l));
      }
      begin_line = line_no;
      block.assign(l).push_back('\n');
      continue;
    }
    block.append(l).push_back('\n');
    if (!l.starts_with("-----END ")) continue;
    ErrorQueueGuard guard;
    BioPtr bio(BIO_new_mem_buf(block.data(), static_cast<int>(block.size())));
    X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!cert) {
      return fileError("known_serials_format", load.path, begin_line,
                       "the CERTIFICATE block that begins here does not parse");
    }
    load.certificate(cert.get());
    begin_line = 0;
  }
  if (begin_line != 0) {
    return fileError("known_serials_format", load.path, begin_line,
                     "the CERTIFICATE block that begins here has no END line");
  }
  return load.counts;
}

// Text: `issuer: <SHA-256 fingerprint>`, then one hex serial per line; `#` starts a comment.
Result<KnownSerialsLoad> loadText(FileLoad& load, std::ifstream& in) {
  std::string line;
  size_t line_no = 0;
  std::string issuer_key;  // of the last `issuer:` line; "" before the first
  while (std::getline(in, line)) {
    ++line_no;
    std::string_view l = line;
    if (size_t hash = l.find('#'); hash != std::string_view::npos) l = l.substr(0, hash);
    l = trim(l);
    if (l.empty()) continue;
    if (l.starts_with("issuer:")) {
      std::optional<std::string> fingerprint = hexBytes(trim(l.substr(7)));
      if (!fingerprint || fingerprint->size() != 32) {
        return fileError("known_serials_format", load.path, line_no,
                         "`issuer:` takes the SHA-256 fingerprint of the issuer certificate "
                         "(64 hex digits, colons allowed)");
      }
      issuer_key.clear();
      for (const SharedX509& issuer : load.issuers) {
        if (sha256(toDer(issuer.get(), i2d_X509)) == *fingerprint) {
          issuer_key = issuerKeySha1(issuer.get());
          break;
        }
      }
      if (issuer_key.empty()) {
        return fileError("known_serials_issuer", load.path, line_no,
                         "no configured issuer has the SHA-256 fingerprint " + toHex(*fingerprint));
      }
      continue;
    }
    if (issuer_key.empty()) {
      return fileError("known_serials_format", load.path, line_no,
                       "a serial before the `issuer: <SHA-256 fingerprint>` line");
    }
    std::string_view digits = l;
    if (digits.starts_with("0x") || digits.starts_with("0X")) digits.remove_prefix(2);
    std::optional<std::string> serial = hexBytes(digits);
    if (!serial) {
      return fileError("known_serials_format", load.path, line_no,
                       "not a hex serial: " + std::string(l.substr(0, 80)));
    }
    if (serial->size() > kMaxSerialBytes) {
      return fileError("known_serials_format", load.path, line_no,
                       "a serial longer than " + std::to_string(kMaxSerialBytes) + " bytes");
    }
    // The file holds the number; as INTEGER content it needs a 0x00 before a set top bit.
    serial->insert(serial->begin(), '\0');
    if (load.into.add(issuer_key, *serial)) ++load.counts.added;
  }
  if (in.bad()) {
    return fileError("known_serials_unreadable", load.path, line_no, std::strerror(errno));
  }
  if (issuer_key.empty()) {
    return fileError("known_serials_format", load.path, 1,
                     "neither certificates nor an `issuer: <SHA-256 fingerprint>` line");
  }
  return load.counts;
}

// True if a line of the file begins a PEM block (the file is then read as certificates).
bool hasPemBlock(std::ifstream& in) {
  std::string line;
  while (std::getline(in, line)) {
    if (trim(line).starts_with("-----BEGIN ")) return true;
  }
  return false;
}

}  // namespace

std::string issuerKeySha1(X509* issuer) {
  // X509_pubkey_digest hashes the BIT STRING contents, as OpenSSL's own CertIDs do.
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (issuer == nullptr || X509_pubkey_digest(issuer, EVP_sha1(), md, &len) != 1) {
    ERR_clear_error();
    return {};
  }
  return std::string(reinterpret_cast<const char*>(md), len);
}

std::string certificateSerial(X509* cert) {
  const ASN1_INTEGER* serial = cert != nullptr ? X509_get0_serialNumber(cert) : nullptr;
  if (serial == nullptr || ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER) return {};
  // A sign byte keeps a magnitude whose top bit is set positive; add() drops it again.
  std::string content(1, '\0');
  content.append(asn1Bytes(serial));
  return content;
}

KnownSerials::KnownSerials(size_t max_entries) : max_entries_(max_entries) {}

namespace {
std::string keyOf(std::string_view issuer_key_sha1, std::string_view magnitude) {
  std::string key;
  key.reserve(issuer_key_sha1.size() + magnitude.size());
  key.append(issuer_key_sha1).append(magnitude);
  return key;
}
}  // namespace

bool KnownSerials::add(std::string_view issuer_key_sha1, std::string_view serial) {
  std::optional<std::string_view> magnitude = magnitudeOf(serial);
  if (!magnitude || issuer_key_sha1.size() != kKeyIdBytes) return false;
  std::string key = keyOf(issuer_key_sha1, *magnitude);
  std::unique_lock lock(mu_);
  if (keys_.size() >= max_entries_) {
    if (keys_.contains(key)) return true;
    ++refused_;
    return false;
  }
  keys_.insert(std::move(key));
  return true;
}

bool KnownSerials::contains(std::string_view issuer_key_sha1, std::string_view serial) const {
  std::optional<std::string_view> magnitude = magnitudeOf(serial);
  if (!magnitude || issuer_key_sha1.size() != kKeyIdBytes) return false;
  std::string key = keyOf(issuer_key_sha1, *magnitude);
  std::shared_lock lock(mu_);
  return keys_.contains(key);
}

bool KnownSerials::addIssued(X509* cert, X509* issuer) {
  if (!signedBy(cert, issuer)) return false;
  return add(issuerKeySha1(issuer), certificateSerial(cert));
}

size_t KnownSerials::size() const {
  std::shared_lock lock(mu_);
  return keys_.size();
}

uint64_t KnownSerials::refused() const {
  std::shared_lock lock(mu_);
  return refused_;
}

Result<KnownSerialsLoad> loadKnownSerialsFile(const std::string& path,
                                              const std::vector<SharedX509>& issuers,
                                              KnownSerials& into) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return fileError("known_serials_unreadable", path, 0, "a directory, not a file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return fileError("known_serials_unreadable", path, 0, std::strerror(errno));
  FileLoad load{path, issuers, into, {}};
  load.counts.files = 1;
  char head[2] = {0, 0};
  in.read(head, 2);
  in.clear();
  in.seekg(0);
  // A DER certificate is a SEQUENCE (0x30) with a long-form length; text never has a byte
  // >= 0x80 second ("0x..." or "00..." is text).
  if (head[0] == 0x30 && (static_cast<unsigned char>(head[1]) & 0x80) != 0) {
    return loadDer(load, in);
  }
  const bool pem = hasPemBlock(in);
  in.clear();
  in.seekg(0);
  return pem ? loadPem(load, in) : loadText(load, in);
}

Result<KnownSerialsLoad> loadKnownSerialsPath(const std::string& path,
                                              const std::vector<SharedX509>& issuers,
                                              KnownSerials& into) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return loadKnownSerialsFile(path, issuers, into);
  std::vector<fs::path> files;
  for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    std::error_code type_ec;
    if (name.starts_with(".") || !it->is_regular_file(type_ec)) continue;
    files.push_back(it->path());
  }
  if (ec) return fileError("known_serials_unreadable", path, 0, ec.message());
  std::sort(files.begin(), files.end());
  KnownSerialsLoad total;
  for (const fs::path& file : files) {
    auto loaded = loadKnownSerialsFile(file.string(), issuers, into);
    if (!loaded) return loaded.error();
    total.added += loaded->added;
    total.not_issued_by_configured += loaded->not_issued_by_configured;
    total.files += loaded->files;
  }
  return total;
}

}  // namespace ocsp
