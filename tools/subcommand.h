#pragma once
// The dispatch every `ocsp-proxy GROUP VERB ...` subcommand shares (`issuers import`,
// `responder-key new`): help, an unknown verb and bad options are answered alike, with the
// usage text and exit 64 (EX_USAGE) for bad usage.
#include <cstdio>
#include <optional>
#include <string>

namespace ocsp::tools {

constexpr int kUsageExit = 64;

// argv[0] = group, argv[1] = verb. `parse` reads argv[2..] into Options (nullopt and a message
// for bad usage, `help` set for --help); `run` does the work and gives the exit code.
template <class Options, class Parse, class Run>
int runSubcommand(int argc, char** argv, const char* group, const char* verb,
                  void (*usage)(FILE*), Parse parse, Run run) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? kUsageExit : 0;
  }
  if (std::string(argv[1]) != verb) {
    std::fprintf(stderr, "ocsp-proxy %s: unknown subcommand: %s\n\n", group, argv[1]);
    usage(stderr);
    return kUsageExit;
  }
  bool help = false;
  std::string error;
  std::optional<Options> options = parse(argc, argv, &help, &error);
  if (help) {
    usage(stdout);
    return 0;
  }
  if (!options) {
    std::fprintf(stderr, "ocsp-proxy %s %s: %s\n\n", group, verb, error.c_str());
    usage(stderr);
    return kUsageExit;
  }
  return run(*options);
}

}  // namespace ocsp::tools
