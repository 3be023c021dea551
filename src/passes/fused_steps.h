// Lowering: ir::Graph -> steps, each one kernel (or a conv and its epilogue) of a backend; the CPU and CUDA
// executors both start from it and pick their kernels per step. Tested through a host run of the steps
// (tests/unit/cuda_plan) and the CPU executor's tests (tests/ops, tests/models).
//
// Fusions:
// - conv + bias + activation (LeakyReLU / ReLU, or a PReLU that reads only the conv) + residual sums: a
//   WeightedSum that reads only the conv's result is folded into its epilogue, repeatedly, so x4plus's
//   "rdb_out = 0.2 * conv5 + x" and then "rrdb_out = 0.2 * rdb_out + rrdb_in" become one epilogue
//   y = 0.04 * conv5 + 0.2 * x + rrdb_in (at most LoweringOptions::max_residuals terms); a sum moves into the
//   epilogue only when its other terms are computed before the conv;
// - pixel_shuffle(X, r) and upsample_nearest(Y, r) summed, each read only by the sum: one pass (x4fast's tail).
// A concatenation stays a step; it copies nothing when the memory plan (memory_plan.h) placed its members in place.
#pragma once

#include <vector>

#include "ir/graph.h"
#include "passes/epilogue.h"

namespace resr::passes {

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

struct LoweringOptions {
  int max_residuals = kMaxResiduals;  // residual terms an epilogue takes (<= kMaxResiduals)
  bool single_slope_prelu = true;     // fuse a PReLU with one slope for all channels (else only per-channel)
  // Whether a conv takes a fused epilogue at all (null: every conv); others keep bias and activation only.
  bool (*fuses_epilogue)(const ir::Node& conv) = nullptr;
};

// Steps in execution order; the graph must be verified (ir::verify).
std::vector<Step> lower_graph(const ir::Graph& g, const LoweringOptions& options = {});

const char* step_kind_name(StepKind k);

}  // namespace resr::passes
