#include "convert/file_checks.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/staged_file.h"

namespace resr::conversion {
namespace fs = std::filesystem;

Status check_writable_file(const std::string& path) {
  std::error_code ec;
  if (path.empty()) return Status::error("no output file given");
  if (fs::is_directory(path, ec)) return Status::error(path + ": is a folder (give a file name)");
  if (const int fd = descriptor_named(path); fd >= 0) {
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0) return Status::error(path + ": cannot write (descriptor " + std::to_string(fd) + " is not open)");
    if ((flags & O_ACCMODE) == O_RDONLY)
      return Status::error(path + ": cannot write (descriptor " + std::to_string(fd) + " is open for reading only)");
    return ok_status();
  }
  if (fs::exists(path, ec) && !fs::is_regular_file(path, ec)) {  // a device or a pipe
    if (::access(path.c_str(), W_OK) != 0) return Status::error(path + ": cannot write (" + std::strerror(errno) + ")");
    return ok_status();
  }
  const fs::path parent = fs::path(path).parent_path().empty() ? fs::path(".") : fs::path(path).parent_path();
  if (!fs::is_directory(parent, ec))
    return Status::error(
        path + ": cannot write (" +
        (fs::exists(parent, ec) ? parent.string() + " is not a folder)" : "no folder " + parent.string() + ")"));
  if (::access(parent.c_str(), W_OK) != 0) return Status::error(path + ": cannot write (folder not writable)");
  if (fs::exists(path, ec) && ::access(path.c_str(), W_OK) != 0)
    return Status::error(path + ": cannot write (the file is not writable)");
  // access() says yes to root everywhere, /proc included: a file is created and removed to know, under a name of
  // its own (under the output's, a watcher saw an empty output, and a kill left one).
  if (!fs::exists(path, ec)) {
    const std::string probe = (parent / (".resr-write-check-" + std::to_string(::getpid()))).string();
    const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST) return Status::error(path + ": cannot write (" + std::strerror(errno) + ")");
    if (fd >= 0) {
      ::close(fd);
      ::unlink(probe.c_str());
    }
  }
  return ok_status();
}

Status check_readable_file(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return Status::error(path + ": is a folder, not a file");
  if (!fs::exists(path, ec)) return Status::error(path + ": no such file");
  if (!fs::is_regular_file(path, ec) || ::access(path.c_str(), R_OK) != 0)
    return Status::error(path + ": not a readable regular file");
  return ok_status();
}

}  // namespace resr::conversion
