// Whole-file reading with a size cap, shared by the format readers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace resr::formats {

// Error texts: "cannot open: No such file or directory", "file is larger than the 2048 MiB limit".
[[nodiscard]] Result<std::vector<std::uint8_t>> read_file_bytes(const std::string& path,
                                                                std::uint64_t max_bytes = std::uint64_t{2} << 30);

}  // namespace resr::formats
