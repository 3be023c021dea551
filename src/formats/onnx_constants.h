// The constant tensors of an ONNX graph (initializers, Constant nodes, shape arithmetic) as doubles, and the
// checks on their sizes that keep a hostile file from asking for huge allocations: the ONNX reader's values
// (onnx_graph_builder.h) are either such a constant or a feature map.
//
//   RESR_ASSIGN_OR_RETURN(Const c, to_const(initializer));   // every value finite, at most kMaxElements
//   RESR_ASSIGN_OR_RETURN(std::vector<std::int64_t> to, reshape_target(from, c));
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "formats/onnx_external_data.h"

namespace resr::formats::onnx_detail {

inline constexpr std::int64_t kMaxElements = std::int64_t{1} << 28;

struct Const {
  std::vector<std::int64_t> dims;
  std::vector<double> v;
  bool is_int = false;
};

// "[1, 64, 3, 3]".
std::string dims_string(const std::vector<std::int64_t>& d);
// The element count of `dims`; error: a negative dim, or more than kMaxElements.
Result<std::int64_t> checked_numel(const std::vector<std::int64_t>& dims);
// A tensor's values (float, double, fp16, bf16, int32, int64; inline, raw, or in an external data file read
// through `external`). Error: external data without `external`, another type, a count that does not match the
// shape, a non-finite value.
Result<Const> to_const(const onnx::TensorProto& t, ExternalData* external = nullptr);
// `dims` without its size-1 axes.
std::vector<std::int64_t> drop_ones(const std::vector<std::int64_t>& d);
// The shape a Reshape of `from` to `shape` gives (0 copies a dim, one -1 is inferred). Error: a bad or
// size-changing target.
Result<std::vector<std::int64_t>> reshape_target(const std::vector<std::int64_t>& from, const Const& shape);

}  // namespace resr::formats::onnx_detail
