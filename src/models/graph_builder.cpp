#include "models/graph_builder.h"

namespace resr::models {
namespace {

std::string shape_string(const std::vector<std::int64_t>& s) {
  formats::WeightTensor t;
  t.shape = s;
  return t.shape_string();
}

}  // namespace

Status expect_shape(const formats::WeightMap& w, const std::string& key, const std::vector<std::int64_t>& shape) {
  auto it = w.find(key);
  if (it == w.end()) return Status::error("missing tensor '" + key + "' (expected " + shape_string(shape) + ")");
  if (it->second.shape != shape)
    return Status::error("tensor '" + key + "': expected " + shape_string(shape) + ", got " +
                         it->second.shape_string());
  return {};
}

int GraphBuilder::add(ir::Node n, int out_channels) {
  n.output = g_.add_value(n.name, out_channels);
  g_.values[n.output].producer = static_cast<int>(g_.nodes.size());
  g_.nodes.push_back(std::move(n));
  return g_.nodes.back().output;
}

int GraphBuilder::input(int channels) {
  ir::Node n;
  n.op = ir::Op::kInput;
  n.name = "input";
  g_.input = add(std::move(n), channels);
  return g_.input;
}

Result<int> GraphBuilder::conv(const std::string& module, int in, ir::Activation act, float slope) {
  const std::string wkey = module + ".weight", bkey = module + ".bias";
  auto it = w_.find(wkey);
  if (it == w_.end()) return Status::error("missing tensor '" + wkey + "'");
  const formats::WeightTensor& wt = it->second;
  const int ic = channels(in);
  if (wt.shape.size() != 4)
    return Status::error("tensor '" + wkey + "': expected 4 dims, got " + std::to_string(wt.shape.size()));
  const std::int64_t k = wt.shape[2];
  if (wt.shape[0] < 1 || wt.shape[0] > (1 << 16) || wt.shape[1] != ic || k != wt.shape[3] || k % 2 == 0 || k > 15)
    return Status::error("tensor '" + wkey + "': expected [out, " + std::to_string(ic) + ", k, k] with odd k, got " +
                         wt.shape_string());
  ir::Node n;
  n.op = ir::Op::kConv2d;
  n.name = module;
  n.inputs = {in};
  n.conv.in_channels = ic;
  n.conv.out_channels = static_cast<int>(wt.shape[0]);
  n.conv.kernel_h = n.conv.kernel_w = static_cast<int>(k);
  n.conv.pad = static_cast<int>(k / 2);
  n.conv.activation = act;
  n.conv.activation_slope = slope;
  n.weights = wt.data;
  used_.insert(wkey);
  if (w_.count(bkey) != 0) {
    RESR_RETURN_IF_ERROR(expect_shape(w_, bkey, {wt.shape[0]}));
    n.bias = w_.at(bkey).data;
    used_.insert(bkey);
  }
  const int oc = n.conv.out_channels;
  return add(std::move(n), oc);
}

Result<int> GraphBuilder::prelu(const std::string& module, int in) {
  const std::string key = module + ".weight";
  auto it = w_.find(key);
  if (it == w_.end()) return Status::error("missing tensor '" + key + "'");
  const std::int64_t n_slopes = it->second.numel();
  if (it->second.shape.size() != 1 || (n_slopes != 1 && n_slopes != channels(in)))
    return Status::error("tensor '" + key + "': expected [" + std::to_string(channels(in)) + "] or [1], got " +
                         it->second.shape_string());
  ir::Node n;
  n.op = ir::Op::kPRelu;
  n.name = module;
  n.inputs = {in};
  n.slopes = it->second.data;
  used_.insert(key);
  return add(std::move(n), channels(in));
}

int GraphBuilder::concat(const std::string& name, const std::vector<int>& in) {
  ir::Node n;
  n.op = ir::Op::kConcat;
  n.name = name;
  n.inputs = in;
  int c = 0;
  for (int v : in) c += channels(v);
  return add(std::move(n), c);
}

int GraphBuilder::weighted_sum(const std::string& name, const std::vector<int>& in, const std::vector<float>& coeffs) {
  ir::Node n;
  n.op = ir::Op::kWeightedSum;
  n.name = name;
  n.inputs = in;
  n.coeffs = coeffs;
  return add(std::move(n), channels(in[0]));
}

int GraphBuilder::upsample_nearest(const std::string& name, int in, int factor) {
  ir::Node n;
  n.op = ir::Op::kUpsampleNearest;
  n.name = name;
  n.inputs = {in};
  n.factor = factor;
  return add(std::move(n), channels(in));
}

int GraphBuilder::pixel_shuffle(const std::string& name, int in, int r) {
  ir::Node n;
  n.op = ir::Op::kPixelShuffle;
  n.name = name;
  n.inputs = {in};
  n.factor = r;
  return add(std::move(n), channels(in) / (r * r));
}

int GraphBuilder::pixel_unshuffle(const std::string& name, int in, int r) {
  ir::Node n;
  n.op = ir::Op::kPixelUnshuffle;
  n.name = name;
  n.inputs = {in};
  n.factor = r;
  return add(std::move(n), channels(in) * r * r);
}

Result<ir::Graph> GraphBuilder::finish(int output) {
  for (const auto& [key, t] : w_)
    if (used_.count(key) == 0) return Status::error("unexpected tensor '" + key + "' " + t.shape_string());
  g_.output = output;
  RESR_RETURN_IF_ERROR(ir::verify(g_));
  return std::move(g_);
}

}  // namespace resr::models
