#include "tools/report.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "tools/log_record.h"

namespace ocsp::report {
namespace {

constexpr const char* kUsage =
    "Usage: ocsp-proxy report [--json] [--since TIME] [--until TIME] [--top N] [FILE...]\n"
    "\n"
    "Summarises a revocation log (JSON Lines): answers by status and issuer, revoked serials\n"
    "seen, clients still asking about revoked certificates, errors and stale answers by\n"
    "upstream, answers under revoked issuers. FILEs are read in order as one stream; none or\n"
    "\"-\" reads stdin. Malformed lines are counted, named and skipped (a warning on stderr\n"
    "says how many); raw bytes that are not UTF-8 are shown as \\xNN and counted.\n"
    "\n"
    "Options:\n"
    "  --json          print one JSON object instead of tables\n"
    "  --since TIME    count answers at or after TIME: RFC 3339 (2026-11-23T10:00:00Z) or a\n"
    "                  date (2026-11-23, midnight UTC)\n"
    "  --until TIME    count answers before TIME\n"
    "  --top N         clients listed per revoked serial (default 20)\n"
    "  --help          print this help and exit\n"
    "\n"
    "Exit status: 0 report printed, 1 an input could not be read, 2 bad usage.\n";

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
      if (name != "--since" && name != "--until" && name != "--top") {
        return usage("unknown option: " + std::string(arg));
      }
      if (eq == std::string_view::npos && i + 1 == argc) {
        return usage(std::string(name) + " needs a value");
      }
      const std::string value(eq == std::string_view::npos ? argv[++i] : arg.substr(eq + 1));
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
  out << (options->json ? report.json() : report.text());
  out.flush();
  // Never silent: someone reading only the tables learns that lines were left out.
  if (const uint64_t skipped = report.malformed(); skipped != 0) {
    err << "ocsp-proxy report: " << skipped << " malformed line" << (skipped == 1 ? "" : "s")
        << " skipped (named under \"malformed lines\" in the report)\n";
  }
  return out ? 0 : 1;
}

int runReport(int argc, char** argv) { return runReport(argc, argv, std::cout, std::cerr); }

}  // namespace ocsp::report
