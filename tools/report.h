#pragma once
// `ocsp-proxy report`: the subcommand. It reads the files named (in order, as one stream;
// none or "-" is stdin) into one summary (tools/report_summary.h, which states what counts
// as malformed and the choices the log format leaves open) and prints it as aligned tables
// or, with --json, one JSON object. --since/--until take RFC 3339 times or dates; bad usage
// names the option and what it needs. --impact and --serials (tools/report_impact.h) print who
// uses the certificates an incident touches instead of the summary.
#include <iosfwd>

#include "core/result.h"
#include "tools/report_summary.h"

namespace ocsp::report {

// argv[0] is "report". On error the Error's detail is the message for stderr (code "usage").
Result<Options> parseArgs(int argc, const char* const* argv);

// The subcommand: argv[0] = "report", then its arguments. Prints the report to `out` and
// problems to `err` (and how many lines were malformed). Returns 0 on success (even with
// malformed lines), 1 if an input cannot be read (named on `err`, and no report is printed)
// or, with --deadline, if a listed serial was still seen on or after it (the report is
// printed), 2 for bad usage (message and usage on `err`) or a serial list with a line that is
// not a serial (each named on `err`, no report).
int runReport(int argc, char** argv, std::ostream& out, std::ostream& err);
// Same, on stdout and stderr.
int runReport(int argc, char** argv);

}  // namespace ocsp::report
