#include "ir/split.h"

#include <vector>

namespace resr::ir {
namespace {

constexpr int kProbe = 16;

}  // namespace

bool is_single_value_cut(const Graph& g, int cut) {
  if (cut < 0 || cut >= static_cast<int>(g.values.size()) || cut == g.output) return false;
  const int producer = g.values[cut].producer;
  for (int i = producer + 1; i < static_cast<int>(g.nodes.size()); ++i)
    for (int v : g.nodes[i].inputs)
      if (v != cut && g.values[v].producer <= producer) return false;
  return true;
}

int find_resolution_cut(const Graph& g) {
  auto shapes = infer_shapes(g, kProbe, kProbe);
  if (!shapes.ok()) return -1;
  int best = -1;
  for (const Node& n : g.nodes) {
    if (n.op != Op::kUpsampleNearest && n.op != Op::kPixelShuffle) continue;
    const int v = n.inputs[0];
    if ((*shapes)[v].w == kProbe && is_single_value_cut(g, v)) best = v;
    break;  // only the first upsampling: later cuts are already at higher resolution
  }
  return best;
}

Result<GraphSplit> split_graph(const Graph& g, int cut) {
  if (!is_single_value_cut(g, cut)) return Status::error("value is not a single-value cut of the graph");
  const int producer = g.values[cut].producer;
  GraphSplit parts;
  // Head: every node up to the cut's producer (values keep their ids; the unused tail values stay unproduced).
  parts.head.values = g.values;
  parts.head.nodes.assign(g.nodes.begin(), g.nodes.begin() + producer + 1);
  for (Value& v : parts.head.values)
    if (v.producer > producer) v.producer = -1;
  parts.head.input = g.input;
  parts.head.output = cut;
  // Tail: a new input standing for the cut, then the remaining nodes, with value ids remapped.
  Graph& t = parts.tail;
  std::vector<int> remap(g.values.size(), -1);
  t.input = t.add_value(g.values[cut].name, g.values[cut].channels);
  Node input;
  input.op = Op::kInput;
  input.name = g.values[cut].name;
  input.output = t.input;
  t.values[t.input].producer = 0;
  t.nodes.push_back(input);
  remap[cut] = t.input;
  for (int i = producer + 1; i < static_cast<int>(g.nodes.size()); ++i) {
    Node n = g.nodes[i];
    for (int& v : n.inputs) v = remap[v];
    n.output = remap[n.output] = t.add_value(g.values[n.output].name, g.values[n.output].channels);
    t.values[n.output].producer = static_cast<int>(t.nodes.size());
    t.nodes.push_back(std::move(n));
  }
  t.output = remap[g.output];
  RESR_RETURN_IF_ERROR(verify(parts.head).with_context("head"));
  RESR_RETURN_IF_ERROR(verify(t).with_context("tail"));
  return parts;
}

double receptive_radius(const Graph& g) {
  auto shapes = infer_shapes(g, kProbe, kProbe);
  if (!shapes.ok()) return 0;
  double radius = 0;
  for (const Node& n : g.nodes) {
    if (n.op != Op::kConv2d) continue;
    const double upscale_before = double((*shapes)[n.inputs[0]].w) / kProbe;
    const int reach = (n.conv.kernel_w - 1) / 2 * n.conv.dilation;  // pixels on each side (odd kernels)
    radius += double(reach) / upscale_before;
  }
  return radius;
}

}  // namespace resr::ir
