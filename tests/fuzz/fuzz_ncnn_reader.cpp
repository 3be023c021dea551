// libFuzzer target for the ncnn reader: the input is "<param text>\0<bin bytes>".
// Build and run (see tests/fuzz/README.md): scripts/fuzz.sh ncnn_reader 60
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "formats/ncnn_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const void* zero = std::memchr(data, 0, size);
  const std::size_t split = zero != nullptr ? static_cast<const std::uint8_t*>(zero) - data : size;
  std::string_view param(reinterpret_cast<const char*>(data), split);
  std::span<const std::uint8_t> bin(data + std::min(size, split + 1), size - std::min(size, split + 1));
  auto graph = resr::formats::parse_ncnn_model(param, bin);
  (void)graph.ok();
  return 0;
}
