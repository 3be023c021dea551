// ONNX -> IR: the protobuf parsed and its opsets checked, then onnx_graph_builder.h builds the graph.
#include "formats/onnx_reader.h"

#include <filesystem>

#include "formats/file_bytes.h"

#ifdef RESR_HAVE_ONNX

#include <onnx/onnx_pb.h>

#include <climits>
#include <string>

#include "formats/onnx_graph_builder.h"

namespace resr::formats {

bool onnx_supported() {
  return true;
}

Result<ir::Graph> parse_onnx_model(std::span<const std::uint8_t> bytes, const std::string& model_folder) {
  if (bytes.size() > std::size_t(INT32_MAX)) return Status::error("file is larger than 2 GiB");
  onnx::ModelProto model;
  if (!model.ParseFromArray(bytes.data(), int(bytes.size())))
    return Status::error("not an ONNX model (protobuf parse failed; truncated?)");
  if (!model.has_graph()) return Status::error("ONNX model has no graph");
  for (const auto& opset : model.opset_import())
    if ((opset.domain().empty() || opset.domain() == "ai.onnx") && (opset.version() < 7 || opset.version() > 21))
      return Status::error("ONNX opset " + std::to_string(opset.version()) + " is not supported (7 to 21)");
  onnx_detail::Builder b(model_folder);
  return b.build(model);
}

}  // namespace resr::formats

#else  // !RESR_HAVE_ONNX

namespace resr::formats {

bool onnx_supported() {
  return false;
}

Result<ir::Graph> parse_onnx_model(std::span<const std::uint8_t>, const std::string&) {
  return Status::error("this resr was built without ONNX support (install libonnx-dev and libprotobuf-dev)");
}

}  // namespace resr::formats

#endif

namespace resr::formats {

Result<ir::Graph> read_onnx_model(const std::string& path) {
  auto bytes = read_file_bytes(path);
  if (!bytes) return bytes.status().with_context(path);
  const std::string folder = std::filesystem::path(path).parent_path().string();
  auto g = parse_onnx_model(*bytes, folder.empty() ? "." : folder);
  if (!g) return g.status().with_context(path);
  return g;
}

}  // namespace resr::formats
