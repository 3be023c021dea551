#include "formats/file_bytes.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>

namespace resr::formats {
namespace {

// What both ways in refuse, from the file's status: a directory, anything but a regular file when
// `regular_only`, a size over the cap.
Status check_file(const struct stat& st, std::uint64_t max_bytes, bool regular_only) {
  if (S_ISDIR(st.st_mode)) return Status::error("is a directory, not a file");
  if (regular_only && !S_ISREG(st.st_mode)) return Status::error("not a regular file");
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes)
    return Status::error("file is larger than the " + std::to_string(max_bytes >> 20) + " MiB limit");
  return {};
}

}  // namespace

Result<std::vector<std::uint8_t>> read_file_bytes(const std::string& path, std::uint64_t max_bytes) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Status::error(std::string("cannot open: ") + std::strerror(errno));
  RESR_RETURN_IF_ERROR(check_file(st, max_bytes, false));
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return Status::error(std::string("cannot open: ") + std::strerror(errno));
  // Read in chunks appended to reserved storage: a vector sized up front would be zero-filled first, which
  // for a model's weights costs as much as the read itself.
  const std::size_t size = static_cast<std::size_t>(st.st_size);
  std::vector<std::uint8_t> bytes;
  bytes.reserve(size);
  std::vector<std::uint8_t> chunk(std::min<std::size_t>(size, std::size_t{1} << 20));
  while (bytes.size() < size) {
    const std::size_t got = std::fread(chunk.data(), 1, std::min(chunk.size(), size - bytes.size()), f);
    if (got == 0) break;
    bytes.insert(bytes.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(got));
  }
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed || bytes.size() != size) return Status::error("read error");
  return bytes;
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(data_, size_);
}

Status MappedFile::open(const std::string& path, std::uint64_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::error(std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  Status status;
  if (::fstat(fd, &st) != 0) {
    status = Status::error(std::string("cannot stat: ") + std::strerror(errno));
  } else {
    status = check_file(st, max_bytes, true);
  }
  if (status.ok() && st.st_size > 0) {
    size_ = std::size_t(st.st_size);
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (p == MAP_FAILED) {
      status = Status::error(std::string("cannot map: ") + std::strerror(errno));
      size_ = 0;
    } else {
      data_ = p;
      ::madvise(p, size_, MADV_SEQUENTIAL);  // read front to back
    }
  }
  ::close(fd);
  return status;
}

}  // namespace resr::formats
