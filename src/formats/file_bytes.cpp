#include "formats/file_bytes.h"

#include <sys/stat.h>
#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>

namespace resr::formats {

Result<std::vector<std::uint8_t>> read_file_bytes(const std::string& path, std::uint64_t max_bytes) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Status::error(std::string("cannot open: ") + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) return Status::error("is a directory, not a file");
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes)
    return Status::error("file is larger than the " + std::to_string(max_bytes >> 20) + " MiB limit");
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

}  // namespace resr::formats
