// Reading .resr files: map the file, check the header and sections (resr_layout.h), then parse the JSON
// sections and build the graph from the blob (resr_graph_read.cpp).

#include <cstring>
#include <new>

#include "formats/file_bytes.h"
#include "formats/resr_layout.h"
#include "formats/resr_sections.h"

namespace resr::formats {
namespace {

namespace L = resr_layout;

constexpr std::uint64_t kMaxFileBytes = std::uint64_t{8} << 30;

struct Sections {
  std::span<const std::uint8_t> metadata, graph, weights;
  std::uint32_t version = 0;  // the header's format version
};

std::string n_bytes(std::uint64_t n) {
  return std::to_string(n) + (n == 1 ? " byte" : " bytes");
}

Status check_header(std::span<const std::uint8_t> file) {
  const std::size_t size = file.size();
  if (size == 0) return Status::error("empty file");
  const std::size_t magic_bytes = std::min(size, sizeof L::kMagic);
  if (std::memcmp(file.data(), L::kMagic, magic_bytes) != 0) return Status::error("not a .resr file (bad magic)");
  if (size < 12) return Status::error("truncated: " + n_bytes(size) + ", shorter than the header");
  const std::uint32_t version = L::get_u32(file.data() + 8);
  if (version < L::kOldestResrVersion || version > L::kResrVersion)
    return Status::error("was written by format version " + std::to_string(version) + "; this resr reads versions " +
                         std::to_string(L::kOldestResrVersion) + " to " + std::to_string(L::kResrVersion) +
                         (version > L::kResrVersion && version < 1000 ? " (a newer resr's file, or a damaged one)"
                                                                      : " (a damaged file)"));
  if (size < L::kResrHeaderSize) return Status::error("truncated: " + n_bytes(size) + ", shorter than the header");
  const std::uint32_t header_size = L::get_u32(file.data() + 16), sections = L::get_u32(file.data() + 20);
  if (header_size != L::kResrHeaderSize || sections != L::kResrSectionCount)
    return Status::error("bad header: size " + std::to_string(header_size) + " with " + std::to_string(sections) +
                         " sections (version " + std::to_string(version) + " has " +
                         std::to_string(L::kResrHeaderSize) + " and " + std::to_string(L::kResrSectionCount) + ")");
  const std::uint64_t declared = L::get_u64(file.data() + 24);
  if (size < declared) return Status::error("truncated: " + n_bytes(size) + " of " + n_bytes(declared));
  if (size > declared)
    return Status::error(n_bytes(size) + " but the header declares " + n_bytes(declared) + " (trailing data)");
  if (L::get_u32(file.data() + 12) != L::payload_crc(file.data(), size))
    return Status::error("checksum mismatch: the file is corrupt");
  return {};
}

// The section table: kinds in order, each section after the previous one and inside the file, caps on the
// JSON sections, an aligned weight blob that ends the file.
Result<Sections> check_sections(std::span<const std::uint8_t> file) {
  constexpr L::SectionKind kOrder[] = {L::kMetadata, L::kGraph, L::kWeights};
  constexpr const char* kNames[] = {"metadata", "graph", "weights"};
  constexpr std::uint64_t kCaps[] = {L::kMaxMetadataBytes, L::kMaxGraphBytes, ~std::uint64_t{0}};
  std::span<const std::uint8_t> found[3];
  std::uint64_t end = L::kResrHeaderSize;
  for (std::uint32_t i = 0; i < L::kResrSectionCount; ++i) {
    const std::uint8_t* e = file.data() + 32 + 24 * i;
    const std::uint64_t offset = L::get_u64(e + 8), size = L::get_u64(e + 16);
    const std::string name = std::string(kNames[i]) + " section";
    if (L::get_u32(e) != kOrder[i] || L::get_u32(e + 4) != 0)
      return Status::error("section " + std::to_string(i) + " is of kind " + std::to_string(L::get_u32(e)) +
                           ", expected the " + name);
    if (offset < end || offset > file.size() || size > file.size() - offset)
      return Status::error(name + " [" + std::to_string(offset) + ", +" + std::to_string(size) +
                           ") lies outside the file or overlaps the one before");
    if (size > kCaps[i]) return Status::error(name + " is larger than its " + n_bytes(kCaps[i]) + " limit");
    found[i] = file.subspan(offset, size);
    end = offset + size;
  }
  const std::uint64_t blob_offset = std::uint64_t(found[2].data() - file.data());
  if (blob_offset % L::kAlign != 0) return Status::error("weights section is not 64-byte aligned");
  if (end != file.size()) return Status::error("the file does not end with the weights section");
  return Sections{found[0], found[1], found[2]};
}

Result<nlohmann::json> parse_json(std::span<const std::uint8_t> text, const char* what) {
  try {
    return nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& e) {
    return Status::error(std::string(what) + ": not valid JSON (at byte " + std::to_string(e.byte) + ")");
  }
}

Result<Sections> check_file(std::span<const std::uint8_t> file) {
  RESR_RETURN_IF_ERROR(check_header(file));
  RESR_ASSIGN_OR_RETURN(Sections s, check_sections(file));
  s.version = L::get_u32(file.data() + 8);
  return s;
}

Result<ResrMetadata> parse_metadata(const Sections& s) {
  RESR_ASSIGN_OR_RETURN(nlohmann::json j, parse_json(s.metadata, "metadata"));
  RESR_ASSIGN_OR_RETURN(ResrMetadata m, resr_sections::metadata_from_json(j));
  m.format_version = s.version;
  return m;
}

Result<ResrModel> parse_checked(std::span<const std::uint8_t> file) {
  RESR_ASSIGN_OR_RETURN(Sections s, check_file(file));
  ResrModel m;
  RESR_ASSIGN_OR_RETURN(m.meta, parse_metadata(s));
  RESR_ASSIGN_OR_RETURN(nlohmann::json graph, parse_json(s.graph, "graph"));
  RESR_ASSIGN_OR_RETURN(m.graph, resr_sections::graph_from_json(graph, s.weights));
  graph = nullptr;
  if (s.version < 2)
    for (const ir::Node& n : m.graph.nodes)
      if (!n.quant.in_channel_scales.empty())
        return Status::error("graph: layer '" + n.name + "' has per-channel input scales, which format version " +
                             std::to_string(s.version) + " cannot hold");
  RESR_RETURN_IF_ERROR(ir::verify(m.graph).with_context("graph"));
  return m;
}

}  // namespace

bool has_resr_magic(std::span<const std::uint8_t> head) {
  return head.size() >= sizeof L::kMagic && std::memcmp(head.data(), L::kMagic, sizeof L::kMagic) == 0;
}

Result<ResrModel> parse_resr(std::span<const std::uint8_t> file) {
  try {
    return parse_checked(file);
  } catch (const std::bad_alloc&) {
    return Status::error("out of memory building the graph");
  } catch (const nlohmann::json::exception& e) {  // not expected: every access is checked first
    return Status::error(std::string("malformed section: ") + e.what());
  }
}

Result<ResrModel> read_resr_file(const std::string& path) {
  MappedFile f;
  RESR_RETURN_IF_ERROR(f.open(path, kMaxFileBytes).with_context(path));
  auto m = parse_resr(f.bytes());
  if (!m) return m.status().with_context(path);
  return m;
}

Result<ResrMetadata> read_resr_metadata(const std::string& path) {
  MappedFile f;
  RESR_RETURN_IF_ERROR(f.open(path, kMaxFileBytes).with_context(path));
  Result<ResrMetadata> meta = Status::error("unreachable");
  try {
    auto s = check_file(f.bytes());
    meta = s ? parse_metadata(*s) : Result<ResrMetadata>(s.status());
  } catch (const std::exception& e) {
    meta = Status::error(std::string("malformed metadata: ") + e.what());
  }
  if (!meta) return meta.status().with_context(path);
  return meta;
}

}  // namespace resr::formats
