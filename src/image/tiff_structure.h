// Internal to src/image: bounds-checked reads of a raw TIFF structure (TIFF 6.0 section 2): an 8-byte header
// ("II" little-endian or "MM" big-endian, 42, the offset of IFD0), then IFDs of a 16-bit entry count and 12-byte
// entries (tag, type, count, value or offset of the value). Every read is checked against the buffer in 64-bit
// arithmetic and fails (false) rather than reading past it. Used for EXIF blobs and for classic TIFF files.
// store_uint writes integers in either byte order, for the code that edits or builds such structures.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace resr::image_detail {

// The low `bytes` bytes (2 or 4) of v at data[at..], in the given byte order. The caller has checked that they fit.
inline void store_uint(std::span<std::uint8_t> data, std::size_t at, std::uint32_t v, int bytes, bool big_endian) {
  for (int k = 0; k < bytes; ++k)
    data[at + std::size_t(k)] = std::uint8_t(v >> (big_endian ? 8 * (bytes - 1 - k) : 8 * k));
}

class TiffStructure {
 public:
  explicit TiffStructure(std::span<const std::uint8_t> data) : data_(data) {}

  // Checks the 8-byte header; afterwards the byte order is known.
  bool read_header(std::uint64_t* ifd0) {
    if (data_.size() < 8) return false;
    if (data_[0] == 'I' && data_[1] == 'I') {
      big_endian_ = false;
    } else if (data_[0] == 'M' && data_[1] == 'M') {
      big_endian_ = true;
    } else {
      return false;
    }
    std::uint32_t magic = 0, offset = 0;
    if (!u16(2, &magic) || magic != 42 || !u32(4, &offset)) return false;
    *ifd0 = offset;
    return true;
  }
  bool u16(std::uint64_t at, std::uint32_t* v) const { return load(at, 2, v); }
  bool u32(std::uint64_t at, std::uint32_t* v) const { return load(at, 4, v); }
  bool big_endian() const { return big_endian_; }
  std::span<const std::uint8_t> data() const { return data_; }

 private:
  bool load(std::uint64_t at, std::uint64_t n, std::uint32_t* v) const {
    if (at > data_.size() || n > data_.size() - at) return false;
    std::uint32_t r = 0;
    for (std::uint64_t i = 0; i < n; ++i) {
      const std::uint32_t byte = data_[std::size_t(at + (big_endian_ ? i : n - 1 - i))];
      r = r << 8 | byte;
    }
    *v = r;
    return true;
  }

  std::span<const std::uint8_t> data_;
  bool big_endian_ = false;
};

}  // namespace resr::image_detail
