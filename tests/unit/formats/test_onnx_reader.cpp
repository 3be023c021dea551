// ONNX reader: the committed torch.onnx.export fixtures map to the same IR structure as the weight formats;
// broken files fail with one clear message.
#include <gtest/gtest.h>

#include "formats/file_bytes.h"
#include "formats/onnx_reader.h"
#include "support/paths.h"

#ifdef RESR_TEST_ONNX_PROTO
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "support/temp_dir.h"
#endif

namespace resr::formats {
namespace {

int count(const ir::Graph& g, ir::Op op) {
  int n = 0;
  for (const ir::Node& node : g.nodes) n += node.op == op;
  return n;
}

TEST(OnnxReader, MapsExportedGraphsToTheIr) {
  if (!onnx_supported()) GTEST_SKIP() << "built without libonnx-dev";
  struct Case {
    const char* file;
    int convs, prelus, unshuffles, shuffles, upsamples;
  };
  for (const Case& c : {Case{"rrdb_x4.onnx", 21, 0, 0, 0, 2}, Case{"rrdb_x4.dynamic.onnx", 21, 0, 0, 0, 2},
                        Case{"rrdb_x2.onnx", 21, 0, 1, 0, 2}, Case{"rrdb_x1.onnx", 21, 0, 1, 0, 2},
                        Case{"srvgg_x4_prelu.onnx", 4, 3, 0, 1, 1}, Case{"srvgg_x4_prelu.dynamic.onnx", 4, 3, 0, 1, 1},
                        Case{"srvgg_x4_prelu.fp16.onnx", 4, 3, 0, 1, 1}, Case{"srvgg_x2_relu.onnx", 4, 0, 0, 1, 1}}) {
    auto g = read_onnx_model(test::data_path(std::string("fixtures/") + c.file));
    ASSERT_TRUE(g.ok()) << c.file << ": " << g.status().message();
    EXPECT_EQ(count(*g, ir::Op::kConv2d), c.convs) << c.file;
    EXPECT_EQ(count(*g, ir::Op::kPRelu), c.prelus) << c.file;  // LeakyReLU/ReLU are fused into the convs
    EXPECT_EQ(count(*g, ir::Op::kPixelUnshuffle), c.unshuffles) << c.file;
    EXPECT_EQ(count(*g, ir::Op::kPixelShuffle), c.shuffles) << c.file;
    EXPECT_EQ(count(*g, ir::Op::kUpsampleNearest), c.upsamples) << c.file;
  }
}

TEST(OnnxReader, NodeNamesComeFromTheWeights) {
  if (!onnx_supported()) GTEST_SKIP() << "built without libonnx-dev";
  auto g = read_onnx_model(test::data_path("fixtures/rrdb_x4.onnx"));
  ASSERT_TRUE(g.ok()) << g.status().message();
  bool found = false;
  for (const ir::Node& n : g->nodes) found = found || n.name == "body.0.rdb2.conv3";
  EXPECT_TRUE(found);
}

#ifdef RESR_TEST_ONNX_PROTO
// An fp16 export that keeps float32 inputs and outputs casts the input to float16 and the output back: those casts
// of feature maps are passed through (it was refused: "Cast of a feature map to non-float").
TEST(OnnxReader, CastsBetweenFloatTypesOnFeatureMapsPassThrough) {
  if (!onnx_supported()) GTEST_SKIP() << "built without libonnx-dev";
  auto bytes = read_file_bytes(test::data_path("fixtures/srvgg_x4_prelu.fp16.onnx"));
  ASSERT_TRUE(bytes.ok());
  onnx::ModelProto model;
  ASSERT_TRUE(model.ParseFromArray(bytes->data(), int(bytes->size())));
  onnx::GraphProto& graph = *model.mutable_graph();
  const std::string input = graph.input(0).name(), output = graph.output(0).name();
  for (onnx::NodeProto& node : *graph.mutable_node()) {
    for (std::string& in : *node.mutable_input())
      if (in == input) in = "input_fp16";
    for (std::string& out : *node.mutable_output())
      if (out == output) out = "output_fp16";
  }
  const auto cast = [](const std::string& from, const std::string& to, int type) {
    onnx::NodeProto c;
    c.set_op_type("Cast");
    c.add_input(from);
    c.add_output(to);
    onnx::AttributeProto* a = c.add_attribute();
    a->set_name("to");
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(type);
    return c;
  };
  onnx::GraphProto casted = graph;
  casted.clear_node();
  *casted.add_node() = cast(input, "input_fp16", onnx::TensorProto::FLOAT16);
  for (const onnx::NodeProto& node : graph.node()) *casted.add_node() = node;
  *casted.add_node() = cast("output_fp16", output, onnx::TensorProto::FLOAT);
  *model.mutable_graph() = casted;
  std::string edited;
  ASSERT_TRUE(model.SerializeToString(&edited));
  auto g = parse_onnx_model(std::vector<std::uint8_t>(edited.begin(), edited.end()));
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ(count(*g, ir::Op::kConv2d), 4);
  // A cast to an integer type is still refused.
  *model.mutable_graph()->mutable_node(0) = cast(input, "input_fp16", onnx::TensorProto::INT8);
  ASSERT_TRUE(model.SerializeToString(&edited));
  g = parse_onnx_model(std::vector<std::uint8_t>(edited.begin(), edited.end()));
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("Cast of a feature map to non-float"), std::string::npos) << g.status().message();
}

// An export of `torch.clamp(model(x), 0, 1)` ends in Clip (or Max and Min): resr's conversion to pixels clamps to
// 0..1 anyway, so the clamp is dropped (it was refused: "unsupported ONNX op 'Clip'"). One that cuts more, or one
// elsewhere in the model, is refused.
TEST(OnnxReader, AClampWhereTheModelEndsIsDropped) {
  if (!onnx_supported()) GTEST_SKIP() << "built without libonnx-dev";
  auto bytes = read_file_bytes(test::data_path("fixtures/srvgg_x4_prelu.onnx"));
  ASSERT_TRUE(bytes.ok());
  onnx::ModelProto original;
  ASSERT_TRUE(original.ParseFromArray(bytes->data(), int(bytes->size())));
  const std::string input = original.graph().input(0).name(), output = original.graph().output(0).name();
  const auto scalar = [](onnx::GraphProto& graph, const std::string& name, float v) {
    onnx::TensorProto* t = graph.add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    t->add_float_data(v);
  };
  const auto node = [](onnx::GraphProto& graph, const char* op, std::vector<std::string> in, const std::string& out) {
    onnx::NodeProto* n = graph.add_node();
    n->set_op_type(op);
    for (const std::string& i : in) n->add_input(i);
    n->add_output(out);
  };
  // The model's last node writes "raw"; `end` adds what follows it up to the output.
  const auto with_end = [&](const std::function<void(onnx::GraphProto&)>& end) {
    onnx::ModelProto model = original;
    for (onnx::NodeProto& n : *model.mutable_graph()->mutable_node())
      for (std::string& out : *n.mutable_output())
        if (out == output) out = "raw";
    scalar(*model.mutable_graph(), "zero", 0.0f);
    scalar(*model.mutable_graph(), "one", 1.0f);
    scalar(*model.mutable_graph(), "half", 0.5f);
    end(*model.mutable_graph());
    std::string edited;
    EXPECT_TRUE(model.SerializeToString(&edited));
    return parse_onnx_model(std::vector<std::uint8_t>(edited.begin(), edited.end()));
  };
  auto clip = with_end([&](onnx::GraphProto& g) { node(g, "Clip", {"raw", "zero", "one"}, output); });
  ASSERT_TRUE(clip.ok()) << clip.status().message();
  EXPECT_EQ(clip->nodes.size(), parse_onnx_model(*bytes)->nodes.size());
  auto max_min = with_end([&](onnx::GraphProto& g) {
    node(g, "Max", {"zero", "raw"}, "floored");
    node(g, "Min", {"floored", "one"}, output);
  });
  ASSERT_TRUE(max_min.ok()) << max_min.status().message();
  EXPECT_EQ(count(*max_min, ir::Op::kConv2d), 4);
  auto open_above = with_end([&](onnx::GraphProto& g) { node(g, "Clip", {"raw", "zero"}, output); });
  EXPECT_TRUE(open_above.ok()) << open_above.status().message();
  // An fp16 export keeping float32 outputs casts after the clamp (it was refused as a clamp inside the model).
  auto then_cast = with_end([&](onnx::GraphProto& g) {
    node(g, "Clip", {"raw", "zero", "one"}, "clamped");
    node(g, "Cast", {"clamped"}, output);
    onnx::AttributeProto* to = g.mutable_node(g.node_size() - 1)->add_attribute();
    to->set_name("to");
    to->set_type(onnx::AttributeProto::INT);
    to->set_i(onnx::TensorProto::FLOAT);
  });
  EXPECT_TRUE(then_cast.ok()) << then_cast.status().message();

  auto narrow = with_end([&](onnx::GraphProto& g) { node(g, "Clip", {"raw", "zero", "half"}, output); });
  ASSERT_FALSE(narrow.ok());
  EXPECT_NE(narrow.status().message().find("Clip to [0, 0.5] where the model ends cuts more than resr's own clamp"),
            std::string::npos)
      << narrow.status().message();
  // The clamped value read elsewhere too: not the end alone.
  auto shared = with_end([&](onnx::GraphProto& g) {
    node(g, "Clip", {"raw", "zero", "one"}, "clamped");
    node(g, "Add", {"clamped", "raw"}, output);
  });
  ASSERT_FALSE(shared.ok());
  EXPECT_NE(shared.status().message().find("Clip is supported only where the model ends"), std::string::npos)
      << shared.status().message();
}

// Weights in an external data file beside the model (onnx.save_model(..., save_as_external_data=True)) are read
// from there (they were refused); the file must be inside the model's folder, present and long enough.
TEST(OnnxReader, ExternalDataBesideTheModelIsRead) {
  if (!onnx_supported()) GTEST_SKIP() << "built without libonnx-dev";
  const std::string fixture = test::data_path("fixtures/srvgg_x4_prelu.onnx");
  auto bytes = read_file_bytes(fixture);
  ASSERT_TRUE(bytes.ok());
  onnx::ModelProto model;
  ASSERT_TRUE(model.ParseFromArray(bytes->data(), int(bytes->size())));
  const test::ScopedTempDir tmp("resr_onnx_external_");
  std::filesystem::create_directories(tmp.path());
  std::string data;
  int moved = 0;
  for (onnx::TensorProto& t : *model.mutable_graph()->mutable_initializer()) {
    if (!t.has_raw_data()) continue;
    data.append(7, '\0');  // offsets need not be aligned
    const std::string offset = std::to_string(data.size()), length = std::to_string(t.raw_data().size());
    data += t.raw_data();
    t.clear_raw_data();
    t.set_data_location(onnx::TensorProto::EXTERNAL);
    for (const auto& [key, value] :
         {std::pair<std::string, std::string>{"location", "w.data"}, {"offset", offset}, {"length", length}}) {
      onnx::StringStringEntryProto* e = t.add_external_data();
      e->set_key(key);
      e->set_value(value);
    }
    ++moved;
  }
  ASSERT_GT(moved, 3);
  const auto write = [&](const std::string& name, const onnx::ModelProto& m) {
    std::ofstream(tmp.path() / name, std::ios::binary) << m.SerializeAsString();
    return (tmp.path() / name).string();
  };
  const std::string external = write("m.onnx", model);
  auto missing = read_onnx_model(external);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("external data file 'w.data' (beside the model): cannot open"),
            std::string::npos)
      << missing.status().message();
  std::ofstream(tmp.path() / "w.data", std::ios::binary) << data.substr(0, data.size() - 1);
  auto short_file = read_onnx_model(external);
  ASSERT_FALSE(short_file.ok());
  EXPECT_NE(short_file.status().message().find("external data file 'w.data' holds"), std::string::npos)
      << short_file.status().message();
  std::ofstream(tmp.path() / "w.data", std::ios::binary) << data;
  auto g = read_onnx_model(external);
  ASSERT_TRUE(g.ok()) << g.status().message();
  auto inline_model = read_onnx_model(fixture);
  ASSERT_TRUE(inline_model.ok());
  ASSERT_EQ(g->nodes.size(), inline_model->nodes.size());
  for (std::size_t i = 0; i < g->nodes.size(); ++i) {
    EXPECT_EQ(g->nodes[i].weights, inline_model->nodes[i].weights) << i;
    EXPECT_EQ(g->nodes[i].bias, inline_model->nodes[i].bias) << i;
  }
  // Not from a file, or a file outside the model's folder: refused.
  auto from_memory = parse_onnx_model(std::vector<std::uint8_t>(bytes->begin(), bytes->end()));
  EXPECT_TRUE(from_memory.ok());  // the fixture itself holds its weights
  const std::string serialized = model.SerializeAsString();
  auto in_memory = parse_onnx_model(std::vector<std::uint8_t>(serialized.begin(), serialized.end()));
  ASSERT_FALSE(in_memory.ok());
  EXPECT_NE(in_memory.status().message().find("the model was not read from a file"), std::string::npos)
      << in_memory.status().message();
  for (onnx::TensorProto& t : *model.mutable_graph()->mutable_initializer())
    for (auto& e : *t.mutable_external_data())
      if (e.key() == "location") e.set_value("../w.data");
  auto outside = read_onnx_model(write("up.onnx", model));
  ASSERT_FALSE(outside.ok());
  EXPECT_NE(outside.status().message().find("external data file '../w.data' is not inside the model's folder"),
            std::string::npos)
      << outside.status().message();
}
#endif

TEST(OnnxReader, TruncatedOrGarbageFilesFail) {
  if (!onnx_supported()) GTEST_SKIP() << "built without libonnx-dev";
  auto bytes = read_file_bytes(test::data_path("fixtures/srvgg_x4_prelu.onnx"));
  ASSERT_TRUE(bytes.ok());
  for (std::size_t cut : {std::size_t{0}, std::size_t{10}, bytes->size() / 2, bytes->size() - 1}) {
    std::vector<std::uint8_t> b(bytes->begin(), bytes->begin() + long(cut));
    auto g = parse_onnx_model(b);
    EXPECT_FALSE(g.ok()) << cut;
  }
  auto g = read_onnx_model("/nonexistent.onnx");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().message().rfind("/nonexistent.onnx: ", 0), 0u);
}

}  // namespace
}  // namespace resr::formats
