#include "passes/fused_steps.h"

#include <algorithm>

namespace resr::passes {
namespace {

class Lowering {
 public:
  Lowering(const ir::Graph& g, const LoweringOptions& options)
      : g_(g), options_(options), uses_(g.use_counts()), reader_(g.last_uses()), absorbed_(g.nodes.size(), false) {}

  std::vector<Step> run() {
    for (int i = 0; i < int(g_.nodes.size()); ++i) {
      if (absorbed_[i]) continue;
      const ir::Node& n = g_.nodes[i];
      Step s;
      s.node = &n;
      s.inputs = n.inputs;
      s.output = n.output;
      switch (n.op) {
        case ir::Op::kInput:
          s.kind = StepKind::kInput;
          break;
        case ir::Op::kConv2d:
          s.kind = StepKind::kConv;
          fuse_epilogue(s, i);
          break;
        case ir::Op::kPRelu:
          s.kind = StepKind::kPRelu;
          break;
        case ir::Op::kConcat:
          s.kind = StepKind::kConcat;
          break;
        case ir::Op::kWeightedSum:
          s.kind = StepKind::kWeightedSum;
          fuse_shuffle_add_upsampled(s);
          break;
        case ir::Op::kUpsampleNearest:
          s.kind = StepKind::kUpsample;
          s.factor = n.factor;
          break;
        case ir::Op::kPixelShuffle:
          s.kind = StepKind::kShuffle;
          s.factor = n.factor;
          break;
        case ir::Op::kPixelUnshuffle:
          s.kind = StepKind::kUnshuffle;
          s.factor = n.factor;
          break;
      }
      steps_.push_back(std::move(s));
    }
    return std::move(steps_);
  }

 private:
  // The node reading `value`, when it is the only reader and the value is not the graph output; else -1.
  int only_reader(int value) const {
    if (uses_[value] != 1 || value == g_.output) return -1;
    const int r = reader_[value];
    return r >= 0 && r < int(g_.nodes.size()) ? r : -1;
  }

  void fuse_epilogue(Step& s, int conv_index) {
    const ir::Node& n = *s.node;
    ConvEpilogue& ep = s.epilogue;
    if (n.conv.activation == ir::Activation::kLeakyRelu) {
      ep.act = Act::kLeaky;
      ep.leaky_slope = n.conv.activation_slope;
    } else if (n.conv.activation == ir::Activation::kRelu) {
      ep.act = Act::kLeaky;  // slope 0
    }
    if (options_.fuses_epilogue != nullptr && !options_.fuses_epilogue(n)) return;
    int next = only_reader(s.output);
    const std::size_t slopes = next >= 0 ? g_.nodes[next].slopes.size() : 0;
    if (ep.act == Act::kNone && next >= 0 && g_.nodes[next].op == ir::Op::kPRelu &&
        ((slopes == 1 && options_.single_slope_prelu) || int(slopes) == n.conv.out_channels)) {
      ep.act = Act::kPrelu;
      ep.prelu = &g_.nodes[next];
      absorbed_[next] = true;
      s.output = g_.nodes[next].output;
      next = only_reader(s.output);
    }
    while (next >= 0 && g_.nodes[next].op == ir::Op::kWeightedSum) {
      const ir::Node& sum = g_.nodes[next];
      const int others = int(sum.inputs.size()) - 1;
      if (ep.residual_count + others > std::min(options_.max_residuals, kMaxResiduals)) break;
      // The sum moves up to the conv's place: every other term must exist by then.
      bool ready = true;
      for (int v : sum.inputs)
        if (v != s.output && g_.values[v].producer >= conv_index) ready = false;
      if (!ready) break;
      const auto self = std::find(sum.inputs.begin(), sum.inputs.end(), s.output) - sum.inputs.begin();
      const float c = sum.coeffs[self];
      ep.out_scale *= c;
      for (int k = 0; k < ep.residual_count; ++k) ep.residual_scales[k] *= c;
      for (std::size_t k = 0; k < sum.inputs.size(); ++k) {
        if (std::ptrdiff_t(k) == self) continue;
        ep.residuals[ep.residual_count] = sum.inputs[k];
        ep.residual_scales[ep.residual_count] = sum.coeffs[k];
        ++ep.residual_count;
        s.inputs.push_back(sum.inputs[k]);
      }
      absorbed_[next] = true;
      s.output = sum.output;
      next = only_reader(s.output);
    }
  }

  // A two-term sum of pixel_shuffle(X, r) and upsample_nearest(Y, r), each read only here: one step; the steps
  // already emitted for the shuffle and the upsample are dropped.
  void fuse_shuffle_add_upsampled(Step& s) {
    const ir::Node& sum = *s.node;
    if (sum.inputs.size() != 2 || sum.inputs[0] == sum.inputs[1]) return;
    auto emitted = [&](int value) {
      return std::find_if(steps_.begin(), steps_.end(), [&](const Step& e) { return e.output == value; });
    };
    int shuffle = -1;
    for (int k = 0; k < 2; ++k) {
      const auto e = emitted(sum.inputs[k]);
      if (e != steps_.end() && e->kind == StepKind::kShuffle) shuffle = k;
    }
    if (shuffle < 0) return;
    const auto sh = emitted(sum.inputs[shuffle]), up = emitted(sum.inputs[1 - shuffle]);
    if (up == steps_.end() || up->kind != StepKind::kUpsample || up->factor != sh->factor) return;
    if (only_reader(sh->output) < 0 || only_reader(up->output) < 0) return;
    s.kind = StepKind::kShuffleAddUp;
    s.inputs = {sh->inputs[0], up->inputs[0]};
    s.shuffle_scale = sum.coeffs[shuffle];
    s.up_scale = sum.coeffs[1 - shuffle];
    s.factor = sh->factor;
    const int drop[2] = {sh->output, up->output};
    for (int v : drop) steps_.erase(emitted(v));
  }

  const ir::Graph& g_;
  LoweringOptions options_;
  std::vector<int> uses_, reader_;
  std::vector<bool> absorbed_;
  std::vector<Step> steps_;
};

}  // namespace

std::vector<Step> lower_graph(const ir::Graph& g, const LoweringOptions& options) {
  return Lowering(g, options).run();
}

const char* step_kind_name(StepKind k) {
  switch (k) {
    case StepKind::kInput:
      return "input";
    case StepKind::kConv:
      return "conv + epilogue";
    case StepKind::kPRelu:
      return "prelu";
    case StepKind::kConcat:
      return "concat copy";
    case StepKind::kWeightedSum:
      return "weighted sum";
    case StepKind::kUpsample:
      return "upsample nearest";
    case StepKind::kShuffle:
      return "pixel shuffle";
    case StepKind::kUnshuffle:
      return "pixel unshuffle";
    case StepKind::kShuffleAddUp:
      return "pixel shuffle + upsampled";
  }
  return "?";
}

}  // namespace resr::passes
