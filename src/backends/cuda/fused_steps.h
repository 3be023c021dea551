// The CUDA backend's lowering: ir::Graph -> steps, each one kernel launch (or one cuDNN call and its epilogue).
// Plain C++ without CUDA, so the fusion rules are tested on every machine (tests/unit/cuda_plan).
//
// Fusions:
// - conv + bias + activation (LeakyReLU / ReLU, or a PReLU that reads only the conv) + residual sums: a
//   WeightedSum that reads only the conv's result is folded into its epilogue, repeatedly, so x4plus's
//   "rdb_out = 0.2 * conv5 + x" and then "rrdb_out = 0.2 * rdb_out + rrdb_in" become one epilogue
//   y = 0.04 * conv5 + 0.2 * x + rrdb_in (at most kMaxResiduals terms);
// - pixel_shuffle(X, r) and upsample_nearest(Y, r) summed, each read only by the sum: one pass (x4fast's tail).
// Concatenations are not steps when the memory plan (memory_plan.h) places their members in place.
#pragma once

#include <vector>

#include "backends/cuda/element_math.h"
#include "ir/graph.h"

namespace resr::cuda {

enum class StepKind { kInput, kConv, kPRelu, kConcat, kWeightedSum, kUpsample, kShuffle, kUnshuffle, kShuffleAddUp };

struct ConvEpilogue {
  Act act = Act::kNone;
  float leaky_slope = 0.0f;
  const ir::Node* prelu = nullptr;  // kPrelu: the fused PReLU node (its slopes)
  float out_scale = 1.0f;
  int residual_count = 0;
  int residuals[kMaxResiduals] = {-1, -1, -1};  // value ids
  float residual_scales[kMaxResiduals] = {0, 0, 0};
};

struct Step {
  StepKind kind = StepKind::kInput;
  const ir::Node* node = nullptr;  // the node giving the parameters (the conv for fused conv steps)
  std::vector<int> inputs;         // value ids read (a conv: its input, then the residuals)
  int output = -1;                 // value id written
  ConvEpilogue epilogue;           // kConv
  // kShuffleAddUp: out = shuffle_scale * pixel_shuffle(inputs[0], factor) + up_scale * upsample(inputs[1], factor)
  float shuffle_scale = 1.0f, up_scale = 1.0f;
  int factor = 1;
};

// Steps in execution order; the graph must be verified (ir::verify).
std::vector<Step> lower_graph(const ir::Graph& g);

const char* step_kind_name(StepKind k);

}  // namespace resr::cuda
