// Whole-file access with a size cap, shared by the format readers: read into memory, or mapped read-only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"

namespace resr::formats {

// Error texts: "cannot open: No such file or directory", "file is larger than the 2048 MiB limit".
[[nodiscard]] Result<std::vector<std::uint8_t>> read_file_bytes(const std::string& path,
                                                                std::uint64_t max_bytes = std::uint64_t{2} << 30);

// A read-only mapping of a whole file, its pages read in up front (MAP_POPULATE: one pass instead of a page
// fault per 4 KiB, which for a model's weights costs more than reading them); nothing mapped for an empty file.
// Errors as read_file_bytes, and "not a regular file".
class MappedFile {
 public:
  MappedFile() = default;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  [[nodiscard]] Status open(const std::string& path, std::uint64_t max_bytes = std::uint64_t{2} << 30);
  std::span<const std::uint8_t> bytes() const { return {static_cast<const std::uint8_t*>(data_), size_}; }

 private:
  void* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace resr::formats
