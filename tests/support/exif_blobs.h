// Test helpers for EXIF: hand-built TIFF-structured EXIF payloads (image/ metadata tests, the engine's).
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace resr::testing {

// Byte offset of the orientation value inside make_exif's output (header 8 + count 2 + one entry 12 + 8).
inline constexpr std::size_t kExifOrientationAt = 30;

// EXIF with IFD0 = {Make "Canon" (out-of-line ASCII), Orientation SHORT (omitted when orientation <= 0),
// XResolution 72/1 (out-of-line RATIONAL)}, next-IFD 0, then the out-of-line values and `padding` filler bytes.
inline std::vector<std::uint8_t> make_exif(bool big_endian, int orientation, std::size_t padding = 0) {
  std::vector<std::uint8_t> e;
  auto put16 = [&](std::uint32_t v) {
    std::uint8_t b[2] = {std::uint8_t(v), std::uint8_t(v >> 8)};
    if (big_endian) std::swap(b[0], b[1]);
    e.insert(e.end(), b, b + 2);
  };
  auto put32 = [&](std::uint32_t v) {
    if (big_endian) {
      put16(v >> 16);
      put16(v & 0xffff);
    } else {
      put16(v & 0xffff);
      put16(v >> 16);
    }
  };
  auto entry = [&](std::uint32_t tag, std::uint32_t type, std::uint32_t count) {
    put16(tag);
    put16(type);
    put32(count);
  };
  const bool has_orientation = orientation > 0;
  const std::uint32_t entries = has_orientation ? 3 : 2;
  const std::uint32_t data_at = 8 + 2 + 12 * entries + 4;
  e.insert(e.end(), {std::uint8_t(big_endian ? 'M' : 'I'), std::uint8_t(big_endian ? 'M' : 'I')});
  put16(42);
  put32(8);
  put16(entries);
  entry(0x010F, 2, 6);  // Make
  put32(data_at);
  if (has_orientation) {
    entry(0x0112, 3, 1);
    put16(std::uint32_t(orientation));
    put16(0);
  }
  entry(0x011A, 5, 1);  // XResolution
  put32(data_at + 6 + 2);
  put32(0);  // no IFD1
  for (char c : {'C', 'a', 'n', 'o', 'n', '\0', '\0', '\0'}) e.push_back(std::uint8_t(c));
  put32(72);
  put32(1);
  for (std::size_t i = 0; i < padding; ++i) e.push_back(std::uint8_t(i * 7 + 3));
  return e;
}

// EXIF with IFD0 = {ExifIFD pointer} and an EXIF IFD = {PixelXDimension LONG `w`, PixelYDimension SHORT `h`}.
// The dimension values sit at kExifPixelXAt (4 bytes) and kExifPixelYAt (2 bytes).
inline constexpr std::size_t kExifPixelXAt = 26 + 2 + 8, kExifPixelYAt = 26 + 2 + 12 + 8;
inline std::vector<std::uint8_t> make_exif_with_size(bool big_endian, std::uint32_t w, std::uint32_t h) {
  std::vector<std::uint8_t> e;
  auto put = [&](std::uint32_t v, int bytes) {
    for (int k = 0; k < bytes; ++k) e.push_back(std::uint8_t(v >> (big_endian ? 8 * (bytes - 1 - k) : 8 * k)));
  };
  e.push_back(big_endian ? 'M' : 'I');
  e.push_back(big_endian ? 'M' : 'I');
  put(42, 2);
  put(8, 4);
  put(1, 2);  // IFD0 at 8: one entry, ExifIFD -> 26
  put(0x8769, 2);
  put(4, 2);
  put(1, 4);
  put(26, 4);
  put(0, 4);
  put(2, 2);  // EXIF IFD at 26
  put(0xA002, 2);
  put(4, 2);
  put(1, 4);
  put(w, 4);
  put(0xA003, 2);
  put(3, 2);
  put(1, 4);
  put(h, 2);
  put(0, 2);
  put(0, 4);
  return e;
}

}  // namespace resr::testing
