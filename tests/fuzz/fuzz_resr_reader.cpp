// libFuzzer target for the .resr reader. The first input byte picks what the rest is:
//   0: a whole .resr file, as is
//   1: a whole .resr file whose declared size and CRC are fixed up here, so mutations reach the section table,
//      the JSON and the blob instead of stopping at the checksum
//   2: "<graph section JSON>\0<weight blob>", sealed here into a file with valid metadata
// Whatever parses must survive a round trip: serialize_resr of the graph reads back as stored_form of it.
// Build and run: scripts/fuzz.sh resr_reader 60
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include "formats/resr_file.h"
#include "formats/resr_layout.h"

namespace {

namespace L = resr::formats::resr_layout;

void reseal(std::vector<std::uint8_t>& f) {
  if (f.size() < L::kResrHeaderSize) return;
  L::put_u64(f.data() + 24, f.size());
  L::put_u32(f.data() + 12, L::payload_crc(f.data(), f.size()));
}

std::vector<std::uint8_t> seal_graph(std::span<const std::uint8_t> rest) {
  static const char kMeta[] =
      R"({"model":"f","source":"f","architecture":"g","scale":1,"source_fingerprint":"0000000000000000",)"
      R"("precision":{"fp32":{"convs":0,"mac_share":0},"fp16":{"convs":0,"mac_share":0},)"
      R"("int8":{"convs":0,"mac_share":0}},"resr_version":"x","created":"x"})";
  const auto* zero = static_cast<const std::uint8_t*>(std::memchr(rest.data(), 0, rest.size()));
  const std::size_t split = zero != nullptr ? std::size_t(zero - rest.data()) : rest.size();
  std::vector<std::uint8_t> f(L::kResrHeaderSize, 0);
  std::memcpy(f.data(), L::kMagic, sizeof L::kMagic);
  L::put_u32(f.data() + 8, L::kResrVersion);
  L::put_u32(f.data() + 16, L::kResrHeaderSize);
  L::put_u32(f.data() + 20, L::kResrSectionCount);
  auto add = [&f](std::uint32_t i, const std::uint8_t* p, std::size_t n, bool align) {
    const std::uint64_t off = align ? L::align_up(f.size()) : f.size();
    f.resize(off + n);
    if (n > 0) std::memcpy(f.data() + off, p, n);
    L::put_u32(f.data() + 32 + 24 * i, i + 1);
    L::put_u64(f.data() + 32 + 24 * i + 8, off);
    L::put_u64(f.data() + 32 + 24 * i + 16, n);
  };
  add(0, reinterpret_cast<const std::uint8_t*>(kMeta), sizeof kMeta - 1, false);
  add(1, rest.data(), split, false);
  const std::size_t blob_at = std::min(rest.size(), split + 1);
  add(2, rest.data() + blob_at, rest.size() - blob_at, true);
  reseal(f);
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::span<const std::uint8_t> rest(data + 1, size - 1);
  std::vector<std::uint8_t> file;
  switch (data[0] % 3) {
    case 0:
      file.assign(rest.begin(), rest.end());
      break;
    case 1:
      file.assign(rest.begin(), rest.end());
      reseal(file);
      break;
    default:
      file = seal_graph(rest);
  }
  auto m = resr::formats::parse_resr(file);
  if (!m.ok()) return 0;
  auto again = resr::formats::serialize_resr(m->graph, m->meta);
  if (!again.ok()) return 0;  // int8 weights q * scale beyond the float range cannot be written back
  auto back = resr::formats::parse_resr(*again);
  if (!back.ok()) __builtin_trap();
  if (!resr::formats::compare_graphs(resr::formats::stored_form(m->graph), back->graph).ok()) __builtin_trap();
  return 0;
}
