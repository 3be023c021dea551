#include "formats/file_bytes.h"

#include <sys/stat.h>
#include <cerrno>
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
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(st.st_size));
  const std::size_t got = bytes.empty() ? 0 : std::fread(bytes.data(), 1, bytes.size(), f);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed || got != bytes.size()) return Status::error("read error");
  return bytes;
}

}  // namespace resr::formats
