// revocation_log and watch (docs/ARCHITECTURE.md §9, §10); see conf/config_watch.h for which
// phase checks what.
#include "conf/config_watch.h"

#include "conf/config_schema.h"
#include "conf/watch_issuers.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cerrno>
#include <filesystem>
#include <utility>

namespace ocsp::conf {

namespace {

namespace fs = std::filesystem;

}  // namespace

// --- Certificate files -----------------------------------------------------------------------

Result<CertFile> certificateFile(Loader& l, const Item& v) {
  auto written = text(l, v);
  if (!written.ok()) return written.error();
  if (written->empty()) return l.fail(v, "must not be empty");
  CertFile out{l.resolvePath(*written), {}};
  struct stat st {};
  if (::stat(out.path.c_str(), &st) != 0) {
    return l.fail(v, "cannot read " + inQuotes(*written) + ": " + osError(errno));
  }
  if (!S_ISREG(st.st_mode)) return l.fail(v, "not a file: " + inQuotes(*written));
  auto certs = certificatesIn(l, v, *written, out.path);
  if (!certs.ok()) return certs.error();
  out.certs = std::move(*certs);
  return out;
}

namespace {

// A file holding exactly one certificate: a bundle would leave which one is meant to chance.
Result<CertFile> singleCertificateFile(Loader& l, const Item& v) {
  auto file = certificateFile(l, v);
  if (file.ok() && file->certs.size() != 1) {
    return l.fail(v, "expected exactly one certificate in " + inQuotes(v.node.Scalar()) +
                         ", found " + std::to_string(file->certs.size()));
  }
  return file;
}

Result<SharedX509> singleCertificate(Loader& l, const Item& v) {
  auto file = singleCertificateFile(l, v);
  if (!file.ok()) return file.error();
  return shareX509(std::move(file->certs.front()));
}

// --- revocation_log --------------------------------------------------------------------------

bool isDirectory(const std::string& path, int* err) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    *err = errno;
    return false;
  }
  *err = 0;
  return S_ISDIR(st.st_mode);
}

// --- watch -----------------------------------------------------------------------------------

// A shorter interval would only load the CAs' responders: intermediates are revoked rarely and
// their OCSP answers are valid for days.
Result<int64_t> watchInterval(Loader& l, const Item& v) {
  auto s = seconds(l, v);
  if (s.ok() && *s < 10) return l.fail(v, "must be at least 10s: " + inQuotes(v.node.Scalar()));
  return s;
}

const Schema<WatchedCa>& watchedCaSchema() {
  static const Schema<WatchedCa> schema = {
      field("name", &WatchedCa::name, plainName, Need::Required),  // a log field and label
      {"cert", Need::Required,
       [](Loader& l, const Item& v, WatchedCa& out) -> Status {
         auto file = singleCertificateFile(l, v);
         if (!file.ok()) return file.error();
         out.cert_path = std::move(file->path);
         out.cert = shareX509(std::move(file->certs.front()));
         return Ok{};
       }},
      field("parent", &WatchedCa::parent, singleCertificate, Need::Required),
      // Overrides the certificate's AIA OCSP URL (an internal mirror, or an AIA host that is
      // not an upstream FQDN); its host must be an upstream FQDN for the check to use it.
      field("ocsp_url", &WatchedCa::ocsp_url, fqdnUrl),
  };
  return schema;
}

}  // namespace

Result<std::string> revocationLogPath(Loader& l, const Item& v) {
  auto s = text(l, v);
  if (!s.ok()) return s;
  if (s->empty()) return l.fail(v, "must not be empty");
  if (*s == "-") return s;
  // Absolute: the file is reopened on SIGHUP, whatever the working directory is by then.
  const fs::path path = fs::absolute(l.resolvePath(*s));
  int err = 0;
  if (isDirectory(path.string(), &err)) {
    return l.fail(v, "is a directory, not a file: " + inQuotes(path.string()));
  }
  const std::string dir = path.parent_path().string();
  if (!isDirectory(dir, &err)) {
    if (err != 0) return l.fail(v, "cannot use directory " + inQuotes(dir) + ": " + osError(err));
    return l.fail(v, "not a directory: " + inQuotes(dir));
  }
  return path.string();
}

const Schema<Watch>& watchSchema() {
  static const Schema<Watch> schema = {
      field("interval", &Watch::interval_s, watchInterval),
      field("expiry_warning", &Watch::expiry_warning_s, seconds),  // 0 = once expired
      field("on_revoked_issuer", &Watch::on_revoked_issuer,
            oneOf<RevokedIssuerPolicy>(
                {{"flag", RevokedIssuerPolicy::Flag}, {"refuse", RevokedIssuerPolicy::Refuse}})),
      field("intermediates", &Watch::intermediates,
            listOf(mapOf(watchedCaSchema()), Entries::AnyNumber)),
      // Every intermediate in these files and directories, without an entry each.
      field("issuers", &Watch::issuers, issuerFiles),
  };
  return schema;
}

Status checkWatch(const Loader& l, const Watch& watch) {
  const auto& cas = watch.intermediates;
  for (size_t i = 0; i < cas.size(); ++i) {
    const std::string at = indexed("watch.intermediates", i);
    for (size_t k = 0; k < i; ++k) {
      if (cas[k].name == cas[i].name) {
        return l.failAt(at + ".name", "duplicate intermediate name " + inQuotes(cas[i].name));
      }
    }
    const std::string subject = subjectLine(cas[i].cert.get());
    if (X509_cmp(cas[i].cert.get(), cas[i].parent.get()) == 0) {
      return l.failAt(at + ".parent",
                      "is the same certificate as cert (a self-signed root is not revoked; "
                      "watch the intermediates it issued)");
    }
    if (X509_check_ca(cas[i].cert.get()) == 0) {
      return l.failAt(at + ".cert", "not a CA certificate: " + inQuotes(subject));
    }
    if (auto why = notIssuedBecause(cas[i].parent.get(), cas[i].cert.get())) {
      return l.failAt(at + ".cert", inQuotes(subject) + " is not issued by parent " +
                                        inQuotes(subjectLine(cas[i].parent.get())) + " (" + *why +
                                        ")");
    }
    for (size_t k = 0; k < i; ++k) {
      if (X509_cmp(cas[k].cert.get(), cas[i].cert.get()) == 0) {
        return l.failAt(at + ".cert", "certificate " + inQuotes(subject) +
                                          " is already watched as " + inQuotes(cas[k].name));
      }
    }
  }
  return Ok{};
}

}  // namespace ocsp::conf
