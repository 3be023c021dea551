#include "backends/cuda/epilogue_chain.h"

namespace resr::cuda {
namespace {

struct Builder {
  EpilogueChain c;
  int last() const { return int(c.ops.size()); }
  void add(ChainOp::Mode mode, int x, ChainOperand b, float slope = 0.0f) { c.ops.push_back({mode, x, b, slope}); }
  ChainOperand constant(float v) {
    c.constants.push_back(v);
    return {ChainOperand::kConstant, int(c.constants.size()) - 1};
  }
  void scale(float s) {
    if (s != 1.0f) add(ChainOp::kMul, last(), constant(s));
  }
};

}  // namespace

EpilogueForm epilogue_form(const passes::ConvEpilogue& e, bool has_bias) {
  EpilogueForm form;
  form.has_bias = has_bias;
  form.act = e.act;
  form.leaky_slope = e.leaky_slope;
  if (e.act == passes::Act::kPrelu) {
    const std::vector<float>& slopes = e.prelu->slopes;
    form.per_channel_slopes = slopes.size() != 1;
    if (!form.per_channel_slopes) form.leaky_slope = slopes[0];
  }
  form.out_scale = e.out_scale;
  form.residual_count = e.residual_count;
  for (int k = 0; k < e.residual_count; ++k) form.residual_scales[k] = e.residual_scales[k];
  return form;
}

EpilogueChain epilogue_chain(const EpilogueForm& f) {
  using passes::Act;
  Builder b;
  if (f.dequantize) b.add(ChainOp::kMul, b.last(), {ChainOperand::kDequant, 0});
  if (f.has_bias) b.add(ChainOp::kAdd, b.last(), {ChainOperand::kBias, 0});
  if (f.act == Act::kLeaky || (f.act == Act::kPrelu && !f.per_channel_slopes))
    b.add(ChainOp::kRelu, b.last(), {}, f.leaky_slope);
  if (f.act == Act::kPrelu && f.per_channel_slopes) {
    const int v = b.last();
    b.add(ChainOp::kRelu, v, {});
    const int positive = b.last();
    b.add(ChainOp::kSub, v, {ChainOperand::kValue, positive});
    b.add(ChainOp::kMul, b.last(), {ChainOperand::kSlopes, 0});
    b.add(ChainOp::kAdd, b.last(), {ChainOperand::kValue, positive});
  }
  float scale = f.out_scale;
  for (int k = 0; k < f.residual_count; ++k) {
    b.scale(scale / f.residual_scales[k]);
    b.add(ChainOp::kAdd, b.last(), {ChainOperand::kResidual, k});
    scale = f.residual_scales[k];
  }
  b.scale(scale);
  if (f.quantize_output == HandOver::kInt8) {
    b.scale(1.0f / f.output_scale);
    b.add(ChainOp::kAdd, b.last(), b.constant(0.5f));
    b.add(ChainOp::kFloor, b.last(), {});
    b.add(ChainOp::kMin, b.last(), b.constant(127.0f));
    b.add(ChainOp::kMax, b.last(), b.constant(-127.0f));
  } else if (f.quantize_output == HandOver::kE4m3) {
    b.scale(1.0f / f.output_scale);
    b.add(ChainOp::kMin, b.last(), b.constant(448.0f));
    b.add(ChainOp::kMax, b.last(), b.constant(-448.0f));
  }
  return b.c;
}

}  // namespace resr::cuda
