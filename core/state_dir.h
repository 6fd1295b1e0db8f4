#pragma once
// The directory where the proxy keeps state across restarts (state_dir, docs/ARCHITECTURE.md
// §9): one small file per kind of state, each named after what it holds. Rules:
//   - open() checks once, at start, that the directory exists and that a file can be created
//     in it (a probe file, removed again); the caller runs without state if not (a warning,
//     never fatal);
//   - a file is replaced atomically: written to "<name>.tmp" in the same directory, fsync'd,
//     renamed over "<name>", then the directory is fsync'd, so that a crash or a full disk
//     leaves the old file or the new one, never a torn one;
//   - a file is read whole, up to a size bound the caller gives (a bigger one is refused).
// Names are plain file names (no '/'), chosen by the code, never by a client.
// Thread-safe: it holds only the path; concurrent writes of one name must be serialised by
// the caller (they share the temporary file).
#include <cstddef>
#include <string>
#include <string_view>

#include "core/result.h"

namespace ocsp {

class StateDir {
 public:
  // Error code "state_dir" (category Config) with the path and the reason.
  static Result<StateDir> open(const std::string& path);

  const std::string& path() const { return path_; }
  // Error code "state_write" with the step and errno text.
  Status writeAtomically(const std::string& name, std::string_view bytes) const;
  // Error codes: "state_missing" (no such file), "state_too_large" (over max_bytes),
  // "state_read" (any other error).
  Result<std::string> read(const std::string& name, size_t max_bytes) const;

 private:
  explicit StateDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace ocsp
