#include "core/state_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ocsp {

namespace {

std::string why(const char* step, const std::string& path, int err) {
  return std::string(step) + " " + path + ": " + std::strerror(err);
}

// Writes all of `bytes` to `fd`; 0 or the errno.
int writeAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return 0;
}

}  // namespace

Result<StateDir> StateDir::open(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return makeError(ErrorCategory::Config, "state_dir", why("cannot use", path, errno));
  }
  if (!S_ISDIR(st.st_mode)) {
    return makeError(ErrorCategory::Config, "state_dir", path + " is not a directory");
  }
  StateDir dir(path);
  // access(W_OK) would not see a read-only mount or an SELinux rule: try for real.
  if (Status probe = dir.writeAtomically(".write-probe", ""); !probe) {
    return makeError(ErrorCategory::Config, "state_dir", probe.error().detail);
  }
  ::unlink((path + "/.write-probe").c_str());
  return dir;
}

Status StateDir::writeAtomically(const std::string& name, std::string_view bytes) const {
  const std::string final_path = path_ + "/" + name;
  const std::string tmp_path = final_path + ".tmp";
  int fd = ::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return makeError(ErrorCategory::Internal, "state_write", why("create", tmp_path, errno));
  int err = writeAll(fd, bytes);
  const char* step = "write";
  if (err == 0 && ::fsync(fd) != 0) {
    err = errno;
    step = "fsync";
  }
  if (::close(fd) != 0 && err == 0) {
    err = errno;
    step = "close";
  }
  if (err == 0 && ::rename(tmp_path.c_str(), final_path.c_str()) != 0) {
    err = errno;
    step = "rename";
  }
  if (err != 0) {
    ::unlink(tmp_path.c_str());
    return makeError(ErrorCategory::Internal, "state_write", why(step, tmp_path, err));
  }
  // The rename is durable once the directory entry is.
  int dir_fd = ::open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return Ok{};
}

Result<std::string> StateDir::read(const std::string& name, size_t max_bytes) const {
  const std::string full = path_ + "/" + name;
  int fd = ::open(full.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    return makeError(ErrorCategory::Internal, err == ENOENT ? "state_missing" : "state_read",
                     why("open", full, err));
  }
  std::string out;
  char buf[16 * 1024];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return makeError(ErrorCategory::Internal, "state_read", why("read", full, err));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) {
      ::close(fd);
      return makeError(ErrorCategory::Internal, "state_too_large",
                       full + " is larger than " + std::to_string(max_bytes) + " bytes");
    }
  }
  ::close(fd);
  return out;
}

}  // namespace ocsp
