#include "cache/snapshot_codec.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "core/byte_fields.h"
#include "core/ossl.h"

namespace ocsp {

namespace {

enum RecordType : uint8_t { kAnswer = 1, kCrl = 2, kCaIssuers = 3 };

constexpr size_t kRecordHeadBytes = 1 + 4;
constexpr size_t kSnapshotHeaderBytes = kSnapshotOverheadBytes - 32;
constexpr size_t kMaxU16 = std::numeric_limits<uint16_t>::max();
constexpr size_t kMaxU32 = std::numeric_limits<uint32_t>::max();

// The payload of an answer record, or "" if a field does not fit its length field.
std::string answerPayload(const SnapshotAnswer& a) {
  if (a.cert_ids.empty() || a.cert_ids.size() > kMaxU16 || a.entry.empty() ||
      a.entry.size() > kMaxU32) {
    return {};
  }
  std::string out(reinterpret_cast<const char*>(a.key.data()), a.key.size());
  appendUint(out, a.cert_ids.size(), 2);
  for (const std::string& id : a.cert_ids) {
    if (id.empty() || id.size() > kMaxU16) return {};
    appendUint(out, id.size(), 2);
    out += id;
  }
  appendUint(out, a.entry.size(), 4);
  out += a.entry;
  return out;
}

// The size of a document record's payload, or 0 if a field does not fit its length field.
size_t documentPayloadSize(const SnapshotDocument& d) {
  if (d.url.empty() || d.url.size() > kMaxU16 || d.bytes.empty() || d.bytes.size() > kMaxU32) {
    return 0;
  }
  return 8 + 2 + d.url.size() + 4 + d.bytes.size();
}

void appendDocument(std::string& out, const SnapshotDocument& d) {
  appendUint(out, d.kind == DocKind::Crl ? kCrl : kCaIssuers, 1);
  appendUint(out, documentPayloadSize(d), 4);
  appendInt64(out, d.fetched_at);
  appendUint(out, d.url.size(), 2);
  out += d.url;
  appendUint(out, d.bytes.size(), 4);
  out += d.bytes;
}

Error invalid(const char* code, const std::string& detail) {
  return makeError(ErrorCategory::Internal, code, detail);
}

bool readAnswer(std::string_view payload, SnapshotAnswerView* out) {
  ByteReader in(payload);
  std::string_view key;
  uint64_t count = 0;
  if (!in.bytes(out->key.size(), &key) || !in.uint(2, &count) || count == 0) return false;
  std::memcpy(out->key.data(), key.data(), key.size());
  out->cert_ids.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    std::string_view id;
    if (!in.prefixed(2, &id) || id.empty()) return false;
    out->cert_ids.push_back(id);
  }
  return in.prefixed(4, &out->entry) && !out->entry.empty() && in.atEnd();
}

bool readDocument(uint64_t type, std::string_view payload, SnapshotDocumentView* out) {
  ByteReader in(payload);
  out->kind = type == kCrl ? DocKind::Crl : DocKind::CaIssuers;
  return in.int64(&out->fetched_at) && in.prefixed(2, &out->url) && !out->url.empty() &&
         in.prefixed(4, &out->bytes) && !out->bytes.empty() && in.atEnd();
}

}  // namespace

EncodedSnapshot encodeSnapshot(const SnapshotContent& content, size_t max_bytes) {
  EncodedSnapshot result;
  result.left_out = content.left_out;
  // What each record costs, then which records fit: the latest hard expiry first.
  struct Candidate {
    int64_t hard_expiry;
    size_t index;  // answers first, then documents
    size_t bytes;
  };
  std::vector<std::string> answer_payloads;
  answer_payloads.reserve(content.answers.size());
  std::vector<Candidate> candidates;
  candidates.reserve(content.answers.size() + content.documents.size());
  for (size_t i = 0; i < content.answers.size(); ++i) {
    answer_payloads.push_back(answerPayload(content.answers[i]));
    if (answer_payloads.back().empty()) {
      ++result.left_out;
      continue;
    }
    candidates.push_back(
        {content.answers[i].hard_expiry, i, kRecordHeadBytes + answer_payloads.back().size()});
  }
  for (size_t i = 0; i < content.documents.size(); ++i) {
    const size_t payload = documentPayloadSize(content.documents[i]);
    if (payload == 0) {
      ++result.left_out;
      continue;
    }
    candidates.push_back(
        {content.documents[i].hard_expiry, content.answers.size() + i, kRecordHeadBytes + payload});
  }
  std::stable_sort(
      candidates.begin(), candidates.end(),
      [](const Candidate& a, const Candidate& b) { return a.hard_expiry > b.hard_expiry; });
  std::vector<bool> kept(content.answers.size() + content.documents.size(), false);
  size_t room = max_bytes > kSnapshotOverheadBytes ? max_bytes - kSnapshotOverheadBytes : 0;
  size_t total = kSnapshotOverheadBytes;
  for (const Candidate& c : candidates) {
    if (c.bytes > room) {
      ++result.left_out;
      continue;
    }
    room -= c.bytes;
    total += c.bytes;
    kept[c.index] = true;
    ++(c.index < content.answers.size() ? result.answers : result.documents);
  }
  if (max_bytes < kSnapshotOverheadBytes) return result;

  std::string& out = result.bytes;
  out.reserve(total);
  out += kSnapshotMagic;
  appendUint(out, kSnapshotVersion, 4);
  appendInt64(out, content.written_at);
  appendUint(out, result.answers, 4);
  appendUint(out, result.documents, 4);
  for (size_t i = 0; i < content.answers.size(); ++i) {
    if (!kept[i]) continue;
    appendUint(out, kAnswer, 1);
    appendUint(out, answer_payloads[i].size(), 4);
    out += answer_payloads[i];
  }
  for (size_t i = 0; i < content.documents.size(); ++i) {
    if (kept[content.answers.size() + i]) appendDocument(out, content.documents[i]);
  }
  result.records_sha256 = sha256(std::string_view(out).substr(kSnapshotHeaderBytes));
  const Sha256Digest digest = sha256Digest(out);
  out += asBytes(digest);
  return result;
}

Result<DecodedSnapshot> decodeSnapshot(std::string_view bytes) {
  if (bytes.size() < kSnapshotOverheadBytes) {
    return invalid("truncated", std::to_string(bytes.size()) + " bytes, shorter than a header");
  }
  if (bytes.substr(0, kSnapshotMagic.size()) != kSnapshotMagic) {
    return invalid("foreign", "not an ocsp-proxy cache snapshot");
  }
  ByteReader in(bytes.substr(kSnapshotMagic.size()));
  uint64_t version = 0;
  in.uint(4, &version);
  if (version != kSnapshotVersion) {
    return invalid("version", "version " + std::to_string(version) + ", this build reads " +
                                  std::to_string(kSnapshotVersion));
  }
  const std::string_view body = bytes.substr(0, bytes.size() - 32);
  if (asBytes(sha256Digest(body)) != bytes.substr(body.size())) {
    return invalid("checksum",
                   "the SHA-256 trailer does not match (a torn, truncated or edited "
                   "file)");
  }
  in = ByteReader(body.substr(kSnapshotMagic.size() + 4));
  DecodedSnapshot out;
  uint64_t answers = 0, documents = 0;
  in.int64(&out.written_at);
  in.uint(4, &answers);
  in.uint(4, &documents);
  // Each record takes at least its head: counts beyond that cannot be true.
  if ((answers + documents) * kRecordHeadBytes > in.remaining()) {
    return invalid("malformed", "more records counted than the file can hold");
  }
  out.answers.reserve(answers);
  out.documents.reserve(documents);
  for (uint64_t i = 0; i < answers + documents; ++i) {
    uint64_t type = 0;
    std::string_view payload;
    if (!in.uint(1, &type) || !in.prefixed(4, &payload)) {
      return invalid("malformed", "record " + std::to_string(i) + " runs past the end");
    }
    const bool is_answer = i < answers;
    bool read = false;
    if (is_answer && type == kAnswer) {
      read = readAnswer(payload, &out.answers.emplace_back());
    } else if (!is_answer && (type == kCrl || type == kCaIssuers)) {
      read = readDocument(type, payload, &out.documents.emplace_back());
    }
    if (!read) {
      return invalid("malformed", "record " + std::to_string(i) + " (type " + std::to_string(type) +
                                      ") is not well formed");
    }
  }
  if (!in.atEnd()) return invalid("malformed", "bytes after the last record");
  return out;
}

}  // namespace ocsp
