#include "tools/report.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>

#include "tools/log_record.h"
#include "tools/report_impact.h"

namespace ocsp::report {
namespace {

constexpr const char* kUsage =
    "Usage: ocsp-proxy report [--json] [--since TIME] [--until TIME] [--top N] [FILE...]\n"
    "       ocsp-proxy report --impact ISSUER [options] [FILE...]\n"
    "       ocsp-proxy report --serials LIST [--deadline DATE] [--impact ISSUER] [options]\n"
    "                         [FILE...]\n"
    "\n"
    "Summarises a revocation log (JSON Lines): answers by status and issuer, revoked serials\n"
    "seen, clients still asking about revoked certificates, errors and stale answers by\n"
    "upstream, answers under revoked issuers. FILEs are read in order as one stream; none or\n"
    "\"-\" reads stdin. Malformed lines are counted, named and skipped (a warning on stderr\n"
    "says how many); raw bytes that are not UTF-8 are shown as \\xNN and counted.\n"
    "\n"
    "With --impact or --serials, it says instead who uses the certificates an incident\n"
    "touches (an intermediate revoked, an issuer distrusted, a mass revocation): the clients\n"
    "(IP address) that asked, how often, about how many serials, first and last seen; per\n"
    "serial the clients, requests, last seen and last status.\n"
    "\n"
    "Options:\n"
    "  --json          print one JSON object instead of tables\n"
    "  --since TIME    count answers at or after TIME: RFC 3339 (2026-11-23T10:00:00Z) or a\n"
    "                  date (2026-11-23, midnight UTC)\n"
    "  --until TIME    count answers before TIME\n"
    "  --top N         clients listed per serial (default 20)\n"
    "  --impact ISSUER answers under the issuers whose subject contains ISSUER (any case) or\n"
    "                  whose issuer key hash is ISSUER (hex)\n"
    "  --serials LIST  answers about the serials in the file LIST: one a line, hex (any case,\n"
    "                  colons, spaces and 0x allowed), # comments; a line that is not a\n"
    "                  serial is an error naming file and line. Also lists those never seen\n"
    "  --deadline DATE with --serials: the listed serials still asked about at or after DATE\n"
    "                  (a date, midnight UTC, or RFC 3339), and by whom; exit 1 if any\n"
    "  --help          print this help and exit\n"
    "\n"
    "Exit status: 0 report printed, 1 an input could not be read or (--deadline) a listed\n"
    "serial was still seen after the deadline, 2 bad usage or a bad serial list.\n";

}  // namespace

Result<Options> parseArgs(int argc, const char* const* argv) {
  Options o;
  const auto usage = [](std::string msg) {
    return makeError(ErrorCategory::Config, "usage", std::move(msg));
  };
  bool only_files = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (only_files || arg == "-" || !arg.starts_with("-")) {
      o.files.emplace_back(arg);
    } else if (arg == "--") {
      only_files = true;
    } else if (arg == "--help" || arg == "-h") {
      o.help = true;
    } else if (arg == "--json") {
      o.json = true;
    } else {  // options with a value: "--name VALUE" or "--name=VALUE"
      const size_t eq = arg.find('=');
      const std::string_view name = arg.substr(0, eq);
      if (name != "--since" && name != "--until" && name != "--top" && name != "--impact" &&
          name != "--serials" && name != "--deadline") {
        return usage("unknown option: " + std::string(arg));
      }
      if (eq == std::string_view::npos && i + 1 == argc) {
        return usage(std::string(name) + " needs a value");
      }
      const std::string value(eq == std::string_view::npos ? argv[++i] : arg.substr(eq + 1));
      if (name == "--impact" || name == "--serials") {
        if (value.empty()) return usage(std::string(name) + " needs a value");
        (name == "--impact" ? o.impact : o.serials_file) = value;
        continue;
      }
      if (name == "--deadline") {
        const auto t = parseTime(value, true);
        if (!t) {
          return usage("--deadline needs a date (2026-11-23) or an RFC 3339 time "
                       "(2026-11-23T00:00:00Z), not \"" + value + "\"");
        }
        o.deadline_ms = *t;
        continue;
      }
      if (name == "--top") {
        const auto r = std::from_chars(value.data(), value.data() + value.size(), o.top_clients);
        if (r.ec != std::errc() || r.ptr != value.data() + value.size()) {
          return usage("--top needs a number, not \"" + value + "\"");
        }
        continue;
      }
      const auto t = parseTime(value, true);
      if (!t) {
        return usage(std::string(name) +
                     " needs an RFC 3339 time or a date (2026-11-23T00:00:00Z, 2026-11-23), "
                     "not \"" +
                     value + "\"");
      }
      (name == "--since" ? o.since_ms : o.until_ms) = *t;
    }
  }
  if (o.since_ms && o.until_ms && *o.since_ms >= *o.until_ms) {
    return usage("--since must be before --until");
  }
  if (o.deadline_ms && !o.serials_file) return usage("--deadline needs --serials");
  return o;
}

int runReport(int argc, char** argv, std::ostream& out, std::ostream& err) {
  auto options = parseArgs(argc, argv);
  if (!options) {
    err << "ocsp-proxy report: " << options.error().detail << "\n\n" << kUsage;
    return 2;
  }
  if (options->help) {
    out << kUsage;
    return 0;
  }
  if (options->files.empty()) options->files.emplace_back("-");
  Report report(*options);
  std::optional<ImpactReport> impact;
  if (options->impact || options->serials_file) {
    ImpactQuery query;
    query.issuer = options->impact.value_or("");
    query.deadline_ms = options->deadline_ms;
    query.top_clients = options->top_clients;
    if (options->serials_file) {
      auto list = loadSerialList(*options->serials_file);
      if (!list) {
        err << "ocsp-proxy report: " << list.error().detail << "\n";
        return list.error().code == "read" ? 1 : 2;
      }
      query.serials = std::move(*list);
      query.serials_name = *options->serials_file;
    }
    impact.emplace(std::move(query));
    report.divertAnswers([&impact](const Answer& a) { impact->add(a); });
  }
  for (const auto& path : options->files) {
    const bool is_stdin = path == "-";
    std::ifstream file;
    std::error_code ec;
    errno = 0;
    if (!is_stdin && std::filesystem::is_directory(path, ec)) {
      errno = EISDIR;
    } else if (!is_stdin) {
      file.open(path, std::ios::binary);
    }
    std::istream& in = is_stdin ? std::cin : file;
    if ((!is_stdin && !file.is_open()) || !report.read(in, is_stdin ? "stdin" : path)) {
      err << "ocsp-proxy report: cannot read " << (is_stdin ? "stdin" : path) << ": "
          << std::strerror(errno != 0 ? errno : EIO) << "\n";
      return 1;
    }
  }
  const uint64_t skipped = report.malformed();
  if (impact) {
    out << (options->json ? impact->json(skipped) : impact->text(skipped));
  } else {
    out << (options->json ? report.json() : report.text());
  }
  out.flush();
  // Never silent: someone reading only the tables learns that lines were left out.
  if (skipped != 0) {
    err << "ocsp-proxy report: " << skipped << " malformed line" << (skipped == 1 ? "" : "s")
        << " skipped" << (impact ? "" : " (named under \"malformed lines\" in the report)")
        << "\n";
  }
  if (!out) return 1;
  if (impact && impact->seenAfterDeadline() != 0) {
    err << "ocsp-proxy report: " << impact->seenAfterDeadline()
        << " listed serial(s) still seen on or after the deadline\n";
    return 1;
  }
  return 0;
}

int runReport(int argc, char** argv) { return runReport(argc, argv, std::cout, std::cerr); }

}  // namespace ocsp::report
