// Writing .resr files: sections assembled in memory (resr_layout.h), then one write through a temporary name.
#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "core/staged_file.h"
#include "core/utc_timestamp.h"
#include "formats/resr_layout.h"
#include "formats/resr_sections.h"

#ifndef RESR_VERSION_STRING
#define RESR_VERSION_STRING "unknown"
#endif

namespace resr::formats {
namespace {

namespace L = resr_layout;

void append_section(std::vector<std::uint8_t>* file, std::uint32_t index, L::SectionKind kind, const void* data,
                    std::size_t size) {
  const std::uint64_t offset = kind == L::kWeights ? L::align_up(file->size()) : file->size();
  file->resize(offset + size);
  if (size > 0) std::memcpy(file->data() + offset, data, size);
  std::uint8_t* entry = file->data() + 32 + 24 * index;
  L::put_u32(entry, kind);
  L::put_u32(entry + 4, 0);
  L::put_u64(entry + 8, offset);
  L::put_u64(entry + 16, size);
}

}  // namespace

std::uint32_t resr_layout::payload_crc(const std::uint8_t* file, std::size_t size) {
  if (size <= kCrcStart) return std::uint32_t(crc32_z(0, Z_NULL, 0));
  return std::uint32_t(crc32_z(crc32_z(0, Z_NULL, 0), file + kCrcStart, size - kCrcStart));
}

Result<std::vector<std::uint8_t>> serialize_resr(const ir::Graph& g, const ResrMetadata& meta) {
  RESR_RETURN_IF_ERROR(ir::verify(g));
  std::vector<std::uint8_t> blob;
  RESR_ASSIGN_OR_RETURN(nlohmann::json graph, resr_sections::graph_to_json(g, &blob));
  ResrMetadata m = meta;
  m.resr_version = RESR_VERSION_STRING;
  if (m.created.empty()) m.created = utc_timestamp();
  m.precision = summarize_precision(g);
  const std::string meta_text = resr_sections::metadata_to_json(m).dump();
  const std::string graph_text = graph.dump();
  if (meta_text.size() > L::kMaxMetadataBytes || graph_text.size() > L::kMaxGraphBytes)
    return Status::error("the graph is too large for a .resr file");

  std::vector<std::uint8_t> file(L::kResrHeaderSize, 0);
  std::memcpy(file.data(), L::kMagic, sizeof L::kMagic);
  // Version 1 where it suffices, so that older resr builds read what they can run.
  const bool per_channel =
      std::any_of(g.nodes.begin(), g.nodes.end(), [](const ir::Node& n) { return !n.quant.in_channel_scales.empty(); });
  L::put_u32(file.data() + 8, per_channel ? L::kResrVersion : L::kOldestResrVersion);
  L::put_u32(file.data() + 16, L::kResrHeaderSize);
  L::put_u32(file.data() + 20, L::kResrSectionCount);
  append_section(&file, 0, L::kMetadata, meta_text.data(), meta_text.size());
  append_section(&file, 1, L::kGraph, graph_text.data(), graph_text.size());
  append_section(&file, 2, L::kWeights, blob.data(), blob.size());
  L::put_u64(file.data() + 24, file.size());
  L::put_u32(file.data() + 12, L::payload_crc(file.data(), file.size()));
  return file;
}

Status write_resr_file(std::span<const std::uint8_t> bytes, const std::string& path) {
  // Durable: the rename must not publish a model whose bytes are still in flight.
  return write_file_atomically(path, bytes, /*durable=*/true).with_context(path);
}

}  // namespace resr::formats
