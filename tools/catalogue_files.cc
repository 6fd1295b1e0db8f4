#include "tools/catalogue_files.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/base64.h"
#include "core/json.h"
#include "core/log.h"
#include "pki/issuer_completion.h"

namespace ocsp::tools {

namespace fs = std::filesystem;

namespace {

bool isBundleFile(const fs::directory_entry& entry) {
  std::error_code ec;
  if (!entry.is_regular_file(ec)) return false;
  static const char* const kExtensions[] = {".pem", ".crt", ".cer", ".der", ".p7b", ".p7c"};
  const std::string ext = entry.path().extension().string();
  return std::any_of(std::begin(kExtensions), std::end(kExtensions),
                     [&](const char* e) { return ext == e; });
}

bool readWhole(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return !in.bad();
}

// PEM (RFC 7468): every "-----BEGIN T-----" ... "-----END T-----" block, in order.
void readPem(const std::string& text, const std::string& path, std::vector<CatalogueInput>* out) {
  size_t pos = 0;
  int block = 0;
  while ((pos = text.find("-----BEGIN ", pos)) != std::string::npos) {
    const size_t label_at = pos + 11;
    const size_t label_end = text.find("-----", label_at);
    if (label_end == std::string::npos) break;
    const std::string label = text.substr(label_at, label_end - label_at);
    const std::string end_line = "-----END " + label + "-----";
    const size_t body_at = label_end + 5;
    const size_t end = text.find(end_line, body_at);
    CatalogueInput in;
    in.origin = path + "#" + std::to_string(++block);
    if (end == std::string::npos) {
      in.problem = "PEM block \"" + label + "\" has no END line";
      out->push_back(std::move(in));
      break;
    }
    pos = end + end_line.size();
    if (label != "CERTIFICATE" && label != "X509 CERTIFICATE") {
      in.problem = "PEM block \"" + label + "\" is not a certificate";
      out->push_back(std::move(in));
      continue;
    }
    std::string body;
    for (size_t i = body_at; i < end; ++i) {
      if (!std::isspace(static_cast<unsigned char>(text[i]))) body.push_back(text[i]);
    }
    auto der = base64Decode(body);
    if (!der || der->empty()) {
      in.problem = "PEM block is not valid base64";
    } else {
      in.der = std::move(*der);
    }
    out->push_back(std::move(in));
  }
}

void readFile(const std::string& path, const std::string& bytes,
              std::vector<CatalogueInput>* out) {
  if (bytes.find("-----BEGIN ") != std::string::npos) {
    readPem(bytes, path, out);
    return;
  }
  // One DER certificate or a PKCS#7 certs-only bundle, as caIssuers serves them.
  auto certs = parseIssuerDownload(bytes);
  if (!certs.ok()) {
    out->push_back(CatalogueInput{"", path, "neither PEM nor a DER certificate or PKCS#7 bundle"});
    return;
  }
  int n = 0;
  for (const auto& c : *certs) {
    out->push_back(
        CatalogueInput{toDer(c.get(), i2d_X509), path + "#" + std::to_string(++n), ""});
  }
}

std::string mdCell(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c != '\n') out += c;
  }
  return out;
}

std::string dateOf(int64_t t) { return rfc3339(t).substr(0, 10); }

void appendList(std::string& out, const std::vector<std::string>& items) {
  out += '[';
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    appendJsonString(out, items[i]);
  }
  out += ']';
}

std::string indexJson(const Catalogue& c, const std::vector<CatalogueUpstream>& upstreams,
                      const std::string& command, int64_t at) {
  std::string j = "{\n  \"command\": " + jsonString(command) + ",\n  \"at\": " +
                  jsonString(rfc3339(at)) + ",\n  \"issuers\": [\n";
  for (size_t i = 0; i < c.kept.size(); ++i) {
    const KeptIssuer& k = c.kept[i];
    j += "    {\"file\": " + jsonString(upstreams[k.upstream].name + "/" + catalogueFileName(k));
    j += ", \"upstream\": " + jsonString(upstreams[k.upstream].name);
    j += ", \"subject\": " + jsonString(k.subject);
    j += ", \"sha256\": " + jsonString(k.sha256_hex);
    j += ", \"not_after\": " + jsonString(rfc3339(k.not_after));
    j += std::string(", \"root\": ") + (k.root ? "true" : "false");
    j += ", \"routed_host\": " + jsonString(k.routed_host);
    j += ", \"why\": " + jsonString(k.why);
    j += ", \"source\": " + jsonString(k.origin);
    j += ", \"ocsp\": ";
    appendList(j, k.ocsp_hosts);
    j += ", \"crl\": ";
    appendList(j, k.crl_hosts);
    j += ", \"ca_issuers\": ";
    appendList(j, k.ca_issuers_hosts);
    j += ", \"notes\": ";
    appendList(j, k.notes);
    j += i + 1 < c.kept.size() ? "},\n" : "}\n";
  }
  j += "  ],\n  \"skipped\": [\n";
  for (size_t i = 0; i < c.skipped.size(); ++i) {
    const SkippedInput& s = c.skipped[i];
    j += "    {\"source\": " + jsonString(s.origin) + ", \"subject\": " + jsonString(s.subject) +
         ", \"reason\": " + jsonString(skipReasonName(s.reason)) +
         ", \"detail\": " + jsonString(s.detail) + ", \"notes\": ";
    appendList(j, s.notes);
    j += i + 1 < c.skipped.size() ? "},\n" : "}\n";
  }
  j += "  ],\n  \"unserved_ocsp_hosts\": {";
  bool first = true;
  for (const auto& [host, n] : c.unserved_ocsp_hosts) {
    j += (first ? "" : ", ") + jsonString(host) + ": " + std::to_string(n);
    first = false;
  }
  j += "},\n  \"crl_hosts\": ";
  appendList(j, {c.crl_hosts.begin(), c.crl_hosts.end()});
  j += ",\n  \"ca_issuers_hosts\": ";
  appendList(j, {c.ca_issuers_hosts.begin(), c.ca_issuers_hosts.end()});
  j += "\n}\n";
  return j;
}

std::string catalogueMarkdown(const Catalogue& c, const std::vector<CatalogueUpstream>& upstreams,
                              const std::string& command, int64_t at) {
  std::string md = "# Issuer catalogue\n\nGenerated by `ocsp-proxy issuers import` (validity "
                   "judged at " + rfc3339(at) + "); do not edit by hand. Regenerate with:\n\n"
                   "    " + command + "\n\n"
                   "Routing rule: pki/issuer_catalogue.h. Machine-readable: index.json.\n\n";
  std::map<std::string, size_t> skipped;
  for (const auto& s : c.skipped) ++skipped[std::string(skipReasonName(s.reason))];
  md += "Kept: " + std::to_string(c.kept.size()) + ". Skipped:";
  for (const auto& [reason, n] : skipped) md += " " + reason + " " + std::to_string(n) + ";";
  md += "\n";
  for (size_t u = 0; u < upstreams.size(); ++u) {
    std::string rows;
    size_t n = 0;
    for (const auto& k : c.kept) {
      if (k.upstream != u) continue;
      ++n;
      rows += "| " + mdCell(k.subject) + (k.root ? " (root)" : "") + " | `" +
              k.sha256_hex.substr(0, 16) + "` | " + dateOf(k.not_after) + " | " +
              mdCell(k.routed_host) + " | " + mdCell(k.why) + " |\n";
    }
    if (n == 0) continue;
    md += "\n## " + upstreams[u].name + " (" + std::to_string(n) + ")\n\n"
          "| Subject | SHA-256 (first 16) | notAfter | OCSP host | Why |\n|---|---|---|---|---|\n" +
          rows;
  }
  return md;
}

std::string pemFile(const KeptIssuer& k, const std::string& upstream) {
  std::string text = "Subject: " + k.subject + "\nIssuer: " +
                     nameLine(X509_get_issuer_name(k.cert.get())) + "\nSHA-256: " + k.sha256_hex +
                     "\nNot after: " + rfc3339(k.not_after) + "\nRouted to: " + upstream +
                     " (" + k.why + ")\n";
  std::string der = toDer(k.cert.get(), i2d_X509);
  std::string b64 = base64Encode(der);
  text += "-----BEGIN CERTIFICATE-----\n";
  for (size_t i = 0; i < b64.size(); i += 64) text += b64.substr(i, 64) + "\n";
  text += "-----END CERTIFICATE-----\n";
  return text;
}

bool writeFile(const fs::path& path, const std::string& text, std::string* error) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) *error = "cannot write " + path.string();
  return static_cast<bool>(out);
}

}  // namespace

std::optional<std::vector<CatalogueInput>> readBundle(const std::string& path,
                                                      std::string* error) {
  std::error_code ec;
  std::vector<CatalogueInput> out;
  if (fs::is_directory(path, ec)) {
    std::vector<std::string> names;
    for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
      if (isBundleFile(*it)) names.push_back(it->path().string());
    }
    if (ec) {
      *error = "cannot read " + path + ": " + ec.message();
      return std::nullopt;
    }
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
      std::string bytes;
      if (!readWhole(name, &bytes)) {
        *error = "cannot read " + name;
        return std::nullopt;
      }
      readFile(name, bytes, &out);
    }
    return out;
  }
  std::string bytes;
  if (!readWhole(path, &bytes)) {
    *error = "cannot read " + path;
    return std::nullopt;
  }
  readFile(path, bytes, &out);
  return out;
}

std::string catalogueFileName(const KeptIssuer& issuer) {
  std::string cn;
  X509_NAME* subject = X509_get_subject_name(issuer.cert.get());
  int at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  std::string source =
      at >= 0 ? std::string(asn1Bytes(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at))))
              : issuer.subject;
  std::string name;
  for (char ch : source) {
    bool keep = std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_';
    char c = keep ? ch : '_';
    if (c == '_' && (name.empty() || name.back() == '_')) continue;
    name.push_back(c);
    if (name.size() == 64) break;
  }
  while (!name.empty() && name.back() == '_') name.pop_back();
  if (name.empty()) name = "ca";
  return name + "_" + issuer.sha256_hex.substr(0, 8) + ".pem";
}

bool writeCatalogue(const std::string& dir, const Catalogue& catalogue,
                    const std::vector<CatalogueUpstream>& upstreams, const std::string& command,
                    int64_t at, std::string* error) {
  for (size_t u = 0; u < upstreams.size(); ++u) {
    const fs::path sub = fs::path(dir) / upstreams[u].name;
    bool any = std::any_of(catalogue.kept.begin(), catalogue.kept.end(),
                           [&](const KeptIssuer& k) { return k.upstream == u; });
    std::error_code ec;
    const bool exists = fs::is_directory(sub, ec);  // false, with ec set, when missing
    ec.clear();
    if (exists) {
      for (fs::directory_iterator it(sub, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->path().extension() == ".pem") fs::remove(it->path(), ec);
      }
    } else if (any) {
      fs::create_directories(sub, ec);
    }
    if (ec) {
      *error = "cannot prepare " + sub.string() + ": " + ec.message();
      return false;
    }
  }
  for (const auto& k : catalogue.kept) {
    const std::string& name = upstreams[k.upstream].name;
    if (!writeFile(fs::path(dir) / name / catalogueFileName(k), pemFile(k, name), error)) {
      return false;
    }
  }
  return writeFile(fs::path(dir) / "index.json", indexJson(catalogue, upstreams, command, at),
                   error) &&
         writeFile(fs::path(dir) / "CATALOGUE.md",
                   catalogueMarkdown(catalogue, upstreams, command, at), error);
}

}  // namespace ocsp::tools
