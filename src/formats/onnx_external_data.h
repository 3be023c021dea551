// Tensors whose values an ONNX model keeps in a file beside it (onnx.save_model(..., save_as_external_data=True),
// and every model over protobuf's 2 GiB): the tensor names the file (`location`, relative to the model's folder)
// and its bytes there (`offset`, `length`). The location must stay inside that folder (no absolute path, no ".."),
// so that a model's names alone cannot reach other files; links in the folder are followed, as for the model file
// itself (the folder is trusted as the model is). Files of up to 2 GiB, each mapped once.
//
//   ExternalData external(model_folder);
//   RESR_ASSIGN_OR_RETURN(std::span<const std::uint8_t> raw, external.bytes_of(initializer));
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>

#include "core/status.h"
#include "formats/file_bytes.h"

namespace resr::formats::onnx_detail {

class ExternalData {
 public:
  // `model_folder`: the folder the model was read from; empty when it was not read from a file (then every external
  // tensor is an error).
  explicit ExternalData(std::string model_folder) : folder_(std::move(model_folder)) {}

  // The bytes of `t`'s values, valid while this lives. Errors name the file and the problem: "external data file
  // 'w.bin' (beside the model): cannot open: No such file or directory", "... holds 100 bytes, the tensor asks
  // for 64 from byte 48".
  [[nodiscard]] Result<std::span<const std::uint8_t>> bytes_of(const onnx::TensorProto& t);

 private:
  std::string folder_;
  std::map<std::string, std::unique_ptr<MappedFile>> files_;  // by location, each mapped once
};

}  // namespace resr::formats::onnx_detail
