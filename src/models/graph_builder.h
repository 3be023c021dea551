// GraphBuilder: builds an ir::Graph from a WeightMap module by module, the way the PyTorch forward() reads,
// checking each tensor's shape against the graph as it goes and, at the end, that every tensor was used.
// Shared by the architecture files (rrdbnet.cpp, srvgg_compact.cpp); value ids are ir::Graph value ids.
//
//   GraphBuilder b(weights);
//   int x = b.input();
//   RESR_ASSIGN_OR_RETURN(int y, b.conv("conv_first", x));     // conv_first.weight [oc, 3, k, k], .bias [oc]
//   RESR_ASSIGN_OR_RETURN(ir::Graph g, b.finish(y));
#pragma once

#include <set>
#include <string>
#include <vector>

#include "core/status.h"
#include "formats/weight_map.h"
#include "ir/graph.h"

namespace resr::models {

// "expected [64, 3, 3, 3], got [64, 3]" when `key` is missing or shaped otherwise.
[[nodiscard]] Status expect_shape(const formats::WeightMap& w, const std::string& key,
                                  const std::vector<std::int64_t>& shape);

class GraphBuilder {
 public:
  explicit GraphBuilder(const formats::WeightMap& w) : w_(w) {}

  int input(int channels = 3);
  // `module`.weight [oc, ic, k, k] (k odd, "same" padding), optional `module`.bias [oc]; ic must match `in`.
  [[nodiscard]] Result<int> conv(const std::string& module, int in, ir::Activation act = ir::Activation::kNone,
                                 float slope = 0.0f);
  // `module`.weight [c] or [1].
  [[nodiscard]] Result<int> prelu(const std::string& module, int in);
  int concat(const std::string& name, const std::vector<int>& in);
  int weighted_sum(const std::string& name, const std::vector<int>& in, const std::vector<float>& coeffs);
  int upsample_nearest(const std::string& name, int in, int factor);
  int pixel_shuffle(const std::string& name, int in, int r);
  int pixel_unshuffle(const std::string& name, int in, int r);
  int channels(int value) const { return g_.values[value].channels; }

  // Sets the output, fails when a tensor of the file was never used ("unexpected tensor 'x'"), verifies.
  [[nodiscard]] Result<ir::Graph> finish(int output);

 private:
  int add(ir::Node n, int out_channels);
  const formats::WeightMap& w_;
  std::set<std::string> used_;
  ir::Graph g_;
};

}  // namespace resr::models
