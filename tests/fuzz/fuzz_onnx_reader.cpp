// libFuzzer target for the ONNX reader: the input is a whole .onnx file (a protobuf ModelProto). libprotobuf
// parses the bytes; what is fuzzed is resr's mapping of whatever graph that yields (ops, attributes, initializer
// data and shapes, constant folding of shape subgraphs) onto the IR, which must give a graph or an error.
// Build and run: scripts/fuzz.sh onnx_reader 60
#include <cstddef>
#include <cstdint>
#include <span>

#include "formats/onnx_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto graph = resr::formats::parse_onnx_model(std::span<const std::uint8_t>(data, size));
  (void)graph.ok();
  return 0;
}
