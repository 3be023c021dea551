// ZipArchive: read-only view of a ZIP file held in memory, enough for PyTorch checkpoints (torch.save writes
// a zip of "<name>/data.pkl" plus one "<name>/data/<key>" entry per storage, stored uncompressed and
// 64-byte aligned). Entries may be stored (method 0) or deflated (method 8, via zlib); ZIP64 sizes and offsets
// are understood; encrypted and multi-disk archives are refused. Every offset and size is bounds-checked
// against the buffer; CRC-32 is verified on read. Untrusted input: fuzzed through tests/fuzz/fuzz_pth_reader.
//
//   RESR_ASSIGN_OR_RETURN(ZipArchive zip, ZipArchive::open(bytes));   // bytes must outlive zip
//   const ZipArchive::Entry* e = zip.find("archive/data.pkl");
//   std::vector<std::uint8_t> scratch;
//   RESR_ASSIGN_OR_RETURN(std::span<const std::uint8_t> data, zip.read(*e, scratch));
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace resr::formats {

class ZipArchive {
 public:
  struct Entry {
    std::string name;
    std::uint16_t method = 0;  // 0 stored, 8 deflate
    std::uint16_t flags = 0;
    std::uint32_t crc32 = 0;
    std::uint64_t compressed_size = 0, size = 0;
    std::uint64_t local_header_offset = 0;
  };

  // Parses the end-of-central-directory record and the central directory. Errors: "not a zip archive",
  // "truncated central directory", ...
  [[nodiscard]] static Result<ZipArchive> open(std::span<const std::uint8_t> bytes);

  const std::vector<Entry>& entries() const { return entries_; }
  const Entry* find(std::string_view name) const;

  // The entry's uncompressed contents: a view into the archive for stored entries, else inflated into
  // `scratch` (at most `max_size` bytes). The view is valid while the archive bytes and scratch live.
  [[nodiscard]] Result<std::span<const std::uint8_t>> read(const Entry& e, std::vector<std::uint8_t>& scratch,
                                                           std::uint64_t max_size = std::uint64_t{4} << 30) const;

 private:
  std::span<const std::uint8_t> bytes_;
  std::vector<Entry> entries_;
};

}  // namespace resr::formats
