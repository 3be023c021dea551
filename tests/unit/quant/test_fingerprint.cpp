// graph_fingerprint: stable, sensitive to every parameter, blind to the quantization settings.
#include <gtest/gtest.h>

#include <cmath>

#include "ir/fingerprint.h"
#include "small_graph.h"

namespace resr::ir {
namespace {

TEST(Fingerprint, StableAndHex) {
  const Graph g = quant::test::small_graph();
  EXPECT_EQ(graph_fingerprint(g), graph_fingerprint(quant::test::small_graph()));
  EXPECT_EQ(fingerprint_hex(0x0123456789abcdefull), "0123456789abcdef");
  EXPECT_EQ(fingerprint_hex(0), "0000000000000000");
  // Pinned: tables and .resr files written anywhere name their model by this value, so it may only change
  // with a deliberate change of the hashed byte stream.
  EXPECT_EQ(fingerprint_hex(graph_fingerprint(g)), "d831088dc6a2a675");
}

TEST(Fingerprint, ChangesWithEveryParameter) {
  const Graph base = quant::test::small_graph();
  const std::uint64_t f = graph_fingerprint(base);
  Graph g = base;
  g.nodes[1].weights[5] = std::nextafter(g.nodes[1].weights[5], 2.0f);  // one ulp of one weight
  EXPECT_NE(graph_fingerprint(g), f);
  g = base;
  g.nodes[2].bias[1] = 0.0f;
  EXPECT_NE(graph_fingerprint(g), f);
  g = base;
  g.nodes[1].conv.activation_slope = 0.1f;
  EXPECT_NE(graph_fingerprint(g), f);
  g = base;
  g.nodes[2].name = "conv2b";
  EXPECT_NE(graph_fingerprint(g), f);
  g = base;
  g.values[1].name = 'x';  // (a char: GCC 12 reports a false -Wrestrict for a 1-letter literal here)
  EXPECT_NE(graph_fingerprint(g), f);
  g = base;
  g.nodes[1].weights[0] = -0.0f;  // sign of zero is part of the bits
  Graph h = base;
  h.nodes[1].weights[0] = 0.0f;
  EXPECT_NE(graph_fingerprint(g), graph_fingerprint(h));
}

TEST(Fingerprint, IgnoresQuantization) {
  const Graph base = quant::test::small_graph();
  Graph g = base;
  g.nodes[1].quant.precision = Precision::kInt8;
  g.nodes[1].quant.in_scale = 0.5f;
  g.nodes[1].quant.weight_scales.assign(4, 0.1f);
  EXPECT_EQ(graph_fingerprint(g), graph_fingerprint(base));
}

}  // namespace
}  // namespace resr::ir
