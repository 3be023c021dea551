#include "backends/ref/executor.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "backends/ref/kernels.h"

namespace resr::ref {
namespace {

class RefExecutable final : public Executable {
 public:
  explicit RefExecutable(std::shared_ptr<const ir::Graph> g) : g_(std::move(g)), last_use_(g_->last_uses()) {}

  std::string backend_name() const override { return "ref"; }

  // Values die at their last use; bounded here by the sum of the three largest values, the most any of
  // these models keeps alive at once.
  Result<std::uint64_t> working_bytes(int h, int w) override {
    RESR_ASSIGN_OR_RETURN(std::vector<Shape> shapes, ir::infer_shapes(*g_, h, w));
    std::vector<std::uint64_t> sizes;
    sizes.reserve(shapes.size());
    for (const Shape& s : shapes) sizes.push_back(std::uint64_t(s.numel()) * sizeof(float));
    std::sort(sizes.rbegin(), sizes.rend());
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < std::min<std::size_t>(3, sizes.size()); ++i) total += sizes[i];
    return total;
  }

  void set_observer(ActivationObserver observer) override { observer_ = std::move(observer); }

  Result<Tensor> run(const Tensor& input) override {
    if (input.c() != g_->values[g_->input].channels || input.h() < 1 || input.w() < 1)
      return Status::error("input must be " + std::to_string(g_->values[g_->input].channels) +
                           " x H x W with H, W >= 1");
    RESR_RETURN_IF_ERROR(ir::infer_shapes(*g_, input.h(), input.w()).status());
    std::vector<std::optional<Tensor>> values(g_->values.size());
    for (int i = 0; i < static_cast<int>(g_->nodes.size()); ++i) {
      const ir::Node& n = g_->nodes[i];
      std::vector<const Tensor*> in;
      for (int v : n.inputs) in.push_back(&*values[v]);
      if (observer_ && n.op == ir::Op::kConv2d) observe(n.inputs[0], *in[0]);
      values[n.output] = execute(n, in, input);
      for (int v : n.inputs)
        if (last_use_[v] == i) values[v].reset();
    }
    return std::move(*values[g_->output]);
  }

 private:
  static Tensor execute(const ir::Node& n, const std::vector<const Tensor*>& in, const Tensor& input) {
    switch (n.op) {
      case ir::Op::kInput:
        return input;
      case ir::Op::kConv2d:
        if (n.quant.precision == ir::Precision::kInt8) return conv2d_int8(*in[0], n.conv, n.quant, n.weights, n.bias);
        if (n.quant.precision == ir::Precision::kFp8) return conv2d_fp8(*in[0], n.conv, n.quant, n.weights, n.bias);
        return conv2d(*in[0], n.conv, n.weights, n.bias);
      case ir::Op::kPRelu:
        return prelu(*in[0], n.slopes);
      case ir::Op::kConcat:
        return concat(in);
      case ir::Op::kWeightedSum:
        return weighted_sum(in, n.coeffs);
      case ir::Op::kUpsampleNearest:
        return upsample_nearest(*in[0], n.factor);
      case ir::Op::kPixelShuffle:
        return pixel_shuffle(*in[0], n.factor);
      case ir::Op::kPixelUnshuffle:
        return pixel_unshuffle(*in[0], n.factor);
    }
    RESR_ASSERT(false);
    return {};
  }

  void observe(int value, const Tensor& t) {
    ActivationView a;
    a.data = t.data();
    a.c = t.c();
    a.h = t.h();
    a.w = t.w();
    a.channel_stride = std::size_t(t.h()) * t.w();
    a.row_stride = std::size_t(t.w());
    observer_(value, a);
  }

  std::shared_ptr<const ir::Graph> g_;
  std::vector<int> last_use_;
  ActivationObserver observer_;
};

}  // namespace

std::unique_ptr<Executable> compile(std::shared_ptr<const ir::Graph> graph) {
  return std::make_unique<RefExecutable>(std::move(graph));
}

}  // namespace resr::ref
