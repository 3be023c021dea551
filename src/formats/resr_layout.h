// The on-disk layout of a .resr file, format version 2 (shared by resr_writer.cpp and resr_reader.cpp). Version 2
// added per-channel INT8 input scales ("in_channel_scales" in a conv's quant); version 1 files, which cannot hold
// them, are read as well.
//
//   offset  size  field (all integers little-endian)
//        0     8  magic "RESR\r\n\x1a\n" (PNG's trick: a text-mode transfer that rewrites line ends breaks it)
//        8     4  format version (kResrVersion)
//       12     4  CRC-32 (zlib) of bytes [16, file size): everything after this field, header fields included
//       16     4  header size (kResrHeaderSize)
//       20     4  section count (kResrSectionCount)
//       24     8  file size
//       32  3x24  section table, in this order: {u32 kind, u32 zero, u64 offset, u64 size}
//                   kind 1: metadata, JSON (ResrMetadata)
//                   kind 2: graph, JSON (values, nodes, params, ConvQuant; arrays are [offset, count] in the blob)
//                   kind 3: weight blob, offset a multiple of 64, every array in it 64-byte aligned
// Sections follow the header in table order without overlap; the file ends with the weight blob.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace resr::formats::resr_layout {

inline constexpr char kMagic[8] = {'R', 'E', 'S', 'R', '\r', '\n', '\x1a', '\n'};
inline constexpr std::uint32_t kResrVersion = 2;        // written only for graphs that need it (per-channel scales)
inline constexpr std::uint32_t kOldestResrVersion = 1;  // the oldest version this reader reads
inline constexpr std::uint32_t kResrSectionCount = 3;
inline constexpr std::uint32_t kResrHeaderSize = 32 + 24 * kResrSectionCount;
inline constexpr std::size_t kCrcStart = 16;
inline constexpr std::uint64_t kAlign = 64;

enum SectionKind : std::uint32_t { kMetadata = 1, kGraph = 2, kWeights = 3 };

// Size caps for the JSON sections: generous for any real model (x4plus's int8 graph is under 1 MiB), small
// enough that parsing a hostile file cannot exhaust memory.
inline constexpr std::uint64_t kMaxMetadataBytes = std::uint64_t{1} << 20;
inline constexpr std::uint64_t kMaxGraphBytes = std::uint64_t{64} << 20;

inline std::uint64_t align_up(std::uint64_t v) {
  return (v + kAlign - 1) / kAlign * kAlign;
}

inline void put_u32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = std::uint8_t(v >> (8 * i));
}
inline void put_u64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = std::uint8_t(v >> (8 * i));
}
inline std::uint32_t get_u32(const std::uint8_t* p) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
inline std::uint64_t get_u64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// CRC-32 of bytes [kCrcStart, size) of a whole file image (zlib's crc32, in chunks zlib's uInt can take).
std::uint32_t payload_crc(const std::uint8_t* file, std::size_t size);

}  // namespace resr::formats::resr_layout
