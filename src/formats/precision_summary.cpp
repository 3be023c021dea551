#include "formats/precision_summary.h"

#include <algorithm>
#include <cstdio>
#include <vector>

namespace resr::formats {

std::string PrecisionSummary::line() const {
  std::string s;
  bool first = true;
  for (ir::Precision p : {ir::Precision::kFp8, ir::Precision::kInt8, ir::Precision::kFp16, ir::Precision::kFp32}) {
    const PrecisionShare& share = at(p);
    if (share.convs == 0) continue;
    char buf[96];
    std::snprintf(buf, sizeof buf, "%s%s %d conv%s (%.1f%%%s)", first ? "" : ", ", ir::precision_name(p), share.convs,
                  share.convs == 1 ? "" : "s", share.mac_share * 100.0, first ? " of multiply-adds" : "");
    s += buf;
    first = false;
  }
  return first ? std::string("no convolutions") : s;
}

namespace {

// Whether every value of a 64x64 input stays under 2^20 pixels a side (an upper bound per value: padding
// adds, upsampling multiplies): ir::infer_shapes computes sizes in int, and a (hostile) chain of upsampling
// layers would overflow it.
bool sizes_fit(const ir::Graph& g) {
  std::vector<double> side(g.values.size(), 64.0);
  for (const ir::Node& n : g.nodes) {
    double s = 64.0;
    for (int v : n.inputs) s = std::max(s, side[std::size_t(v)]);
    if (n.op == ir::Op::kConv2d) s += 2.0 * n.conv.pad;
    if (n.op == ir::Op::kUpsampleNearest || n.op == ir::Op::kPixelShuffle) s *= n.factor;
    if (s > double(1 << 20)) return false;
    side[std::size_t(n.output)] = s;
  }
  return true;
}

}  // namespace

PrecisionSummary summarize_precision(const ir::Graph& g) {
  auto shapes = sizes_fit(g) ? ir::infer_shapes(g, 64, 64) : Result<std::vector<Shape>>(Status::error("too large"));
  PrecisionSummary s;
  std::array<double, 4> macs{};
  double total = 0;
  for (const ir::Node& n : g.nodes) {
    if (n.op != ir::Op::kConv2d) continue;
    double m = double(n.conv.out_channels) * n.conv.in_channels * n.conv.kernel_h * n.conv.kernel_w;
    if (shapes.ok()) m *= double((*shapes)[n.output].h) * (*shapes)[n.output].w;
    const int p = static_cast<int>(n.quant.precision);
    ++s.by[p].convs;
    macs[p] += m;
    total += m;
  }
  if (total > 0)
    for (std::size_t p = 0; p < macs.size(); ++p) s.by[p].mac_share = macs[p] / total;
  return s;
}

}  // namespace resr::formats
