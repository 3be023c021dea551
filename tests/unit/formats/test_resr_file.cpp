// .resr files: graphs at every precision round trip as documented, and every kind of broken file (truncated
// at every length, wrong magic, other version, bad checksum, bad offsets and fields behind a valid checksum)
// gives one line and no graph.
#include <gtest/gtest.h>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/fp8.h"
#include "core/half.h"
#include "formats/resr_file.h"
#include "formats/resr_sections.h"
#include "formats/weight_arrays.h"
#include "resr_test_files.h"

namespace resr::formats {
namespace {
namespace fs = std::filesystem;
namespace L = resr_layout;
using nlohmann::json;

// Parses a file that must fail; returns the message after checking that it is one line.
std::string parse_error(const std::vector<std::uint8_t>& file) {
  auto m = parse_resr(file);
  EXPECT_FALSE(m.ok());
  if (m.ok()) return "";
  std::string msg = m.status().message();
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  return msg;
}

#define EXPECT_PARSE_ERROR(file, needle)                                                          \
  do {                                                                                            \
    const std::string msg_ = parse_error(file);                                                   \
    EXPECT_NE(msg_.find(needle), std::string::npos) << "expected '" << (needle) << "': " << msg_; \
  } while (0)

TEST(ResrFile, Fp32RoundTripIsExact) {
  for (const char* name : {"srvgg_x4_prelu.safetensors", "rrdb_x2.pth", "srvgg_x1_leakyrelu.safetensors"}) {
    const ir::Graph g = test::fixture_graph(name);
    ResrMetadata meta;
    meta.model = "m";
    meta.source = name;
    meta.architecture = "RRDBNet (num_block 1)";
    meta.scale = 2;
    meta.source_fingerprint = 0xfedcba9876543210ull;
    auto bytes = serialize_resr(g, meta);
    ASSERT_TRUE(bytes.ok()) << bytes.status().message();
    auto back = parse_resr(*bytes);
    ASSERT_TRUE(back.ok()) << name << ": " << back.status().message();
    EXPECT_TRUE(compare_graphs(g, back->graph).ok()) << name << ": " << compare_graphs(g, back->graph).message();
    EXPECT_EQ(back->meta.model, "m");
    EXPECT_EQ(back->meta.source, name);
    EXPECT_EQ(back->meta.architecture, meta.architecture);
    EXPECT_EQ(back->meta.scale, 2);
    EXPECT_EQ(back->meta.source_fingerprint, meta.source_fingerprint);
    EXPECT_FALSE(back->meta.resr_version.empty());
    EXPECT_EQ(back->meta.created.size(), 20u) << back->meta.created;  // 2026-01-02T03:04:05Z
    EXPECT_TRUE(back->meta.calib_method.empty());
    EXPECT_EQ(back->meta.precision.at(ir::Precision::kFp32).mac_share, 1.0);
    EXPECT_EQ(back->meta.precision.at(ir::Precision::kInt8).convs, 0);
  }
}

TEST(ResrFile, WeightBlobIsAligned) {
  const auto file = test::serialize(test::fixture_graph("srvgg_x4_prelu.safetensors"));
  EXPECT_EQ(L::get_u64(file.data() + 32 + 48 + 8) % 64, 0u);
  const test::ResrParts p = test::split_resr(file);
  for (const json& n : p.graph["nodes"])
    for (const char* key : {"weights", "bias", "slopes"})
      if (n.contains(key)) {
        EXPECT_EQ(n[key][0].get<std::uint64_t>() % 64, 0u) << n["name"];
      }
}

TEST(ResrFile, Fp16WeightsAreRoundedToBinary16) {
  ir::Graph g32 = test::fixture_graph("srvgg_x4_prelu.safetensors");
  for (ir::Node& n : g32.nodes)  // the fixture's weights are binary16-exact: nudge them off the grid
    for (float& w : n.weights) w *= 1.0001f;
  ir::Graph g16 = g32;
  test::make_fp16(g16);
  const auto file = test::serialize(g16);
  auto back = parse_resr(file);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_TRUE(compare_graphs(stored_form(g16), back->graph).ok());
  for (std::size_t i = 0; i < g32.nodes.size(); ++i) {
    const ir::Node &a = g32.nodes[i], &b = back->graph.nodes[i];
    if (a.op != ir::Op::kConv2d) continue;
    EXPECT_EQ(b.quant.precision, ir::Precision::kFp16);
    EXPECT_EQ(a.bias, b.bias);  // biases stay fp32
    EXPECT_NE(a.weights, b.weights);
    for (std::size_t k = 0; k < a.weights.size(); ++k)
      EXPECT_LE(std::fabs(a.weights[k] - b.weights[k]), std::fabs(a.weights[k]) * 0x1p-11f + 0x1p-25f) << k;
  }
  // Half the size of the fp32 weights, give or take the biases, slopes and alignment.
  EXPECT_LT(file.size(), test::serialize(g32).size() * 7 / 10);
  // A weight beyond the fp16 range cannot be stored.
  for (ir::Node& n : g16.nodes)
    if (n.op == ir::Op::kConv2d) n.weights[0] = 1e6f;
  auto bad = serialize_resr(g16, {});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("beyond the fp16 range"), std::string::npos) << bad.status().message();
}

TEST(ResrFile, Int8FieldsRoundTripExactly) {
  for (bool asymmetric : {false, true}) {
    ir::Graph g = test::fixture_graph("rrdb_x2.pth");
    test::make_int8(g, asymmetric, /*alternate=*/true);
    auto back = parse_resr(test::serialize(g));
    ASSERT_TRUE(back.ok()) << back.status().message();
    // Weights come back as qw * scale; scales, zero points and every other field exactly.
    const ir::Graph expect = stored_form(g);
    EXPECT_TRUE(compare_graphs(expect, back->graph).ok()) << compare_graphs(expect, back->graph).message();
    int int8_convs = 0, fp32_convs = 0;
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
      const ir::Node &a = g.nodes[i], &b = back->graph.nodes[i];
      if (a.op != ir::Op::kConv2d) continue;
      EXPECT_EQ(a.quant.precision, b.quant.precision);
      if (a.quant.precision != ir::Precision::kInt8) {
        ++fp32_convs;
        EXPECT_EQ(a.weights, b.weights);
        continue;
      }
      ++int8_convs;
      EXPECT_EQ(a.quant.weight_scales, b.quant.weight_scales);
      EXPECT_EQ(a.quant.in_scale, b.quant.in_scale);
      EXPECT_EQ(a.quant.in_zero, b.quant.in_zero);
      EXPECT_EQ(a.quant.asymmetric, b.quant.asymmetric);
      const std::size_t per = a.weights.size() / std::size_t(a.conv.out_channels);
      for (std::size_t k = 0; k < a.weights.size(); ++k) {
        const float s = a.quant.weight_scales[k / per];
        EXPECT_LE(std::fabs(a.weights[k] - b.weights[k]), s * 0.5001f);
        // Requantizing the read-back weights gives the stored qw again (what INT8 kernels do).
        EXPECT_EQ(std::nearbyint(b.weights[k] / s), std::nearbyint(a.weights[k] / s));
      }
    }
    EXPECT_GT(int8_convs, 0);
    EXPECT_GT(fp32_convs, 0);
    EXPECT_EQ(back->meta.precision.at(ir::Precision::kInt8).convs, int8_convs);
    EXPECT_EQ(back->meta.precision.at(ir::Precision::kFp32).convs, fp32_convs);
    EXPECT_NEAR(back->meta.precision.at(ir::Precision::kInt8).mac_share +
                    back->meta.precision.at(ir::Precision::kFp32).mac_share,
                1.0, 1e-12);
    // Writing the read-back graph again gives the same weights: qw * scale is a fixed point.
    auto again = parse_resr(test::serialize(back->graph));
    ASSERT_TRUE(again.ok());
    EXPECT_TRUE(compare_graphs(back->graph, again->graph).ok());
  }
}

// Per-channel input scales (format version 2): read back exactly, the weights as qw * scale / f_c, whose folded
// requantization is the stored qw; writing the read-back graph again changes nothing.
TEST(ResrFile, PerChannelInputScalesRoundTrip) {
  ir::Graph g = test::fixture_graph("rrdb_x2.pth");
  test::make_int8_per_channel(g);
  auto back = parse_resr(test::serialize(g));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->meta.format_version, 2u);  // version 2 only where needed
  ir::Graph per_tensor = test::fixture_graph("rrdb_x2.pth");
  test::make_int8(per_tensor, false);
  auto per_tensor_back = parse_resr(test::serialize(per_tensor));
  ASSERT_TRUE(per_tensor_back.ok()) << per_tensor_back.status().message();
  EXPECT_EQ(per_tensor_back->meta.format_version, 1u);
  EXPECT_TRUE(compare_graphs(stored_form(g), back->graph).ok())
      << compare_graphs(stored_form(g), back->graph).message();
  int convs = 0;
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node &a = g.nodes[i], &b = back->graph.nodes[i];
    if (a.op != ir::Op::kConv2d) continue;
    ++convs;
    EXPECT_EQ(a.quant.in_channel_scales, b.quant.in_channel_scales);
    EXPECT_EQ(ir::int8_weight_codes(a), ir::int8_weight_codes(b));
  }
  EXPECT_GT(convs, 0);
  auto again = parse_resr(test::serialize(back->graph));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(compare_graphs(back->graph, again->graph).ok());

  g = test::fixture_graph("srvgg_x1_leakyrelu.safetensors");
  test::make_int8_per_channel(g);
  test::ResrParts p = test::split_resr(test::serialize(g));
  json& quant = p.graph["nodes"][1]["quant"];
  ASSERT_TRUE(quant.contains("in_channel_scales"));
  quant["in_channel_scales"][0] = 0.0;
  EXPECT_PARSE_ERROR(test::join_resr(p), "'in_channel_scales' must be positive");
  p = test::split_resr(test::serialize(g));
  p.graph["nodes"][1]["quant"]["in_channel_scales"].erase(0);
  EXPECT_PARSE_ERROR(test::join_resr(p), "one scale per input channel");
  p = test::split_resr(test::serialize(g));
  p.graph["nodes"][1]["quant"]["in_channel_scales"][0] = 1e-44;  // a subnormal factor: qw * s / f overflows
  EXPECT_PARSE_ERROR(test::join_resr(p), "do not requantize to their codes");
  std::vector<std::uint8_t> v1 = test::serialize(g);
  L::put_u32(v1.data() + 8, 1);
  test::reseal(v1);
  EXPECT_PARSE_ERROR(v1, "format version 1 cannot hold");
}

TEST(ResrFile, Fp8FieldsRoundTripExactly) {
  ir::Graph g = test::fixture_graph("rrdb_x2.pth");
  test::make_fp8_alternate(g);
  auto back = parse_resr(test::serialize(g));
  ASSERT_TRUE(back.ok()) << back.status().message();
  // Weights come back as their E4M3 values times the scale; scales and every other field exactly.
  const ir::Graph expect = stored_form(g);
  EXPECT_TRUE(compare_graphs(expect, back->graph).ok()) << compare_graphs(expect, back->graph).message();
  int fp8_convs = 0;
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node &a = g.nodes[i], &b = back->graph.nodes[i];
    if (a.op != ir::Op::kConv2d || a.quant.precision != ir::Precision::kFp8) continue;
    ++fp8_convs;
    EXPECT_EQ(b.quant.precision, ir::Precision::kFp8);
    EXPECT_EQ(a.quant.weight_scales, b.quant.weight_scales);
    EXPECT_EQ(a.quant.in_scale, b.quant.in_scale);
    const std::size_t per = a.weights.size() / std::size_t(a.conv.out_channels);
    for (std::size_t k = 0; k < a.weights.size(); ++k) {
      const float s = a.quant.weight_scales[k / per];
      // Within half an E4M3 step (1/16 relative, or 2^-10 of the scale among subnormals) of the original.
      EXPECT_LE(std::fabs(a.weights[k] - b.weights[k]), std::max(std::fabs(a.weights[k]) / 16, s / 1024) * 1.0001f);
      // Rounding the read-back weights again gives the stored value (what the FP8 kernels do).
      EXPECT_EQ(round_to_e4m3(b.weights[k] / s), round_to_e4m3(a.weights[k] / s));
    }
  }
  EXPECT_GT(fp8_convs, 0);
  EXPECT_EQ(back->meta.precision.at(ir::Precision::kFp8).convs, fp8_convs);
  auto again = parse_resr(test::serialize(back->graph));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(compare_graphs(back->graph, again->graph).ok());
}

TEST(ResrFile, WidenBinary16MatchesHalfToFloatEverywhere) {
  std::vector<std::uint8_t> src(2 * 65536);
  for (std::uint32_t h = 0; h < 65536; ++h) {
    src[2 * h] = std::uint8_t(h & 0xff);
    src[2 * h + 1] = std::uint8_t(h >> 8);
  }
  std::vector<float> out(65536);
  widen_binary16(src.data(), out.size(), out.data());
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const float want = half_to_float(std::uint16_t(h));
    ASSERT_EQ(std::bit_cast<std::uint32_t>(want), std::bit_cast<std::uint32_t>(out[h])) << std::hex << h;
  }
}

TEST(ResrFile, CalibrationMetadataRoundTrips) {
  ir::Graph g = test::fixture_graph("srvgg_x1_leakyrelu.safetensors");
  test::make_int8(g, false);
  ResrMetadata meta;
  meta.calib_method = "kl";
  meta.calib_fingerprint = "00000000deadbeef";
  meta.created = "2020-01-01T00:00:00Z";
  auto bytes = serialize_resr(g, meta);
  ASSERT_TRUE(bytes.ok());
  auto back = parse_resr(*bytes);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->meta.calib_method, "kl");
  EXPECT_EQ(back->meta.calib_fingerprint, "00000000deadbeef");
  EXPECT_EQ(back->meta.created, "2020-01-01T00:00:00Z");
  EXPECT_EQ(back->meta.precision.at(ir::Precision::kInt8).mac_share, 1.0);
  EXPECT_EQ(back->meta.quality_tiles, 0);  // not measured: no quality section

  // The measured quality (convert --images), an infinite PSNR (equal to FP32) included.
  for (const double psnr : {37.25, double(INFINITY)}) {
    meta.quality_psnr_db = psnr;
    meta.quality_tiles = 8;
    meta.quality_tile = 48;
    bytes = serialize_resr(g, meta);
    ASSERT_TRUE(bytes.ok()) << bytes.status().message();
    back = parse_resr(*bytes);
    ASSERT_TRUE(back.ok()) << back.status().message();
    EXPECT_EQ(back->meta.quality_psnr_db, psnr);
    EXPECT_EQ(back->meta.quality_tiles, 8);
    EXPECT_EQ(back->meta.quality_tile, 48);
  }
}

TEST(ResrFile, PrecisionSummaryOfAGraphTooLargeToShape) {
  // Ten x16 upsamplings and a conv: 64 * 16^10 pixels overflow int, so convs count once per pixel.
  ir::Graph g;
  int v = g.add_value("in", 3);
  ir::Node input;
  input.name = "in";
  input.output = v;
  g.nodes.push_back(input);
  g.values[v].producer = 0;
  g.input = v;
  for (int i = 0; i < 11; ++i) {
    const int o = g.add_value(std::to_string(i), 3);
    ir::Node n;
    n.op = i < 10 ? ir::Op::kUpsampleNearest : ir::Op::kConv2d;
    n.name = std::to_string(i);
    n.inputs = {v};
    n.output = o;
    n.factor = 16;
    n.conv.in_channels = n.conv.out_channels = 3;
    if (i == 10) n.weights.assign(81, 0.5f);
    n.quant.precision = ir::Precision::kFp16;
    g.values[o].producer = int(g.nodes.size());
    g.nodes.push_back(n);
    v = o;
  }
  g.output = v;
  ASSERT_TRUE(ir::verify(g).ok()) << ir::verify(g).message();
  const PrecisionSummary s = summarize_precision(g);
  EXPECT_EQ(s.at(ir::Precision::kFp16).convs, 1);
  EXPECT_EQ(s.at(ir::Precision::kFp16).mac_share, 1.0);
  EXPECT_EQ(s.line(), "fp16 1 conv (100.0% of multiply-adds)");
}

TEST(ResrFile, CompareGraphsNamesTheFirstDifference) {
  const ir::Graph g = test::fixture_graph("srvgg_x4_prelu.safetensors");
  ir::Graph h = g;
  h.nodes[1].weights[3] += 1.0f;
  const Status st = compare_graphs(g, h);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("node 1 '"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("weights[3]"), std::string::npos) << st.message();
}

std::vector<std::uint8_t> small_file() {
  return test::serialize(test::fixture_graph("srvgg_x1_leakyrelu.safetensors"));
}

TEST(ResrFile, EveryTruncationIsReported) {
  const std::vector<std::uint8_t> file = small_file();
  ASSERT_TRUE(parse_resr(file).ok());
  for (std::size_t n = 0; n < file.size(); ++n) {
    const std::vector<std::uint8_t> cut(file.begin(), file.begin() + long(n));
    const std::string msg = parse_error(cut);
    const char* expect = n == 0 ? "empty file" : "truncated";
    EXPECT_NE(msg.find(expect), std::string::npos) << n << ": " << msg;
  }
}

TEST(ResrFile, HeaderErrors) {
  const std::vector<std::uint8_t> good = small_file();
  std::vector<std::uint8_t> f = good;
  f[0] = 'X';
  EXPECT_PARSE_ERROR(f, "not a .resr file (bad magic)");
  EXPECT_PARSE_ERROR(std::vector<std::uint8_t>({'7', '7', '6', '7'}), "bad magic");

  f = good;
  L::put_u32(f.data() + 8, 3);
  EXPECT_PARSE_ERROR(
      f, "was written by format version 3; this resr reads versions 1 to 2 (a newer resr's file, or a damaged one)");
  L::put_u32(f.data() + 8, 0);
  EXPECT_PARSE_ERROR(f, "was written by format version 0; this resr reads versions 1 to 2");

  f = good;
  f.push_back(0);
  EXPECT_PARSE_ERROR(f, "but the header declares");

  for (std::size_t at : {std::size_t{40}, std::size_t{L::kResrHeaderSize + 3}, good.size() / 2, good.size() - 1}) {
    f = good;
    f[at] ^= 0x10;
    EXPECT_PARSE_ERROR(f, "checksum mismatch: the file is corrupt");
  }
  f = good;
  L::put_u32(f.data() + 16, 96);
  test::reseal(f);
  EXPECT_PARSE_ERROR(f, "bad header");
}

TEST(ResrFile, BadSectionTableBehindAValidChecksum) {
  const std::vector<std::uint8_t> good = small_file();
  const std::uint64_t graph_off = L::get_u64(good.data() + 56 + 8), blob_off = L::get_u64(good.data() + 80 + 8);
  struct Case {
    std::size_t field;  // byte offset of the u64 to set
    std::uint64_t value;
    const char* expect;
  };
  for (const Case& c : {Case{32 + 8, 0, "metadata section"}, Case{56 + 8, good.size() + 1, "graph section"},
                        Case{56 + 16, ~std::uint64_t{0} - 8, "graph section"}, Case{80 + 8, graph_off, "weights"},
                        Case{80 + 8, blob_off + 1, "weights section"}, Case{80 + 16, 1, "does not end with"}}) {
    std::vector<std::uint8_t> f = good;
    L::put_u64(f.data() + c.field, c.value);
    test::reseal(f);
    EXPECT_PARSE_ERROR(f, c.expect);
  }
  std::vector<std::uint8_t> f = good;
  L::put_u32(f.data() + 32, 7);  // kind
  test::reseal(f);
  EXPECT_PARSE_ERROR(f, "section 0 is of kind 7");
}

TEST(ResrFile, BadGraphFieldsBehindAValidChecksum) {
  const test::ResrParts good = test::split_resr(small_file());
  auto conv = [](test::ResrParts& p) -> json& {
    for (json& n : p.graph["nodes"])
      if (n["op"] == "Conv2d") return n;
    throw std::runtime_error("no conv");
  };
  struct Case {
    const char* what;
    std::function<void(test::ResrParts&)> edit;
    const char* expect;
  };
  const std::vector<Case> cases = {
      {"graph not JSON", [](test::ResrParts& p) { p.graph = "x"; }, "graph must be a JSON object"},
      {"no nodes", [](test::ResrParts& p) { p.graph.erase("nodes"); }, "'nodes' is missing"},
      {"weights past the blob", [&](test::ResrParts& p) { conv(p)["weights"][0] = p.blob.size() + 64; },
       "'weights offset' must be"},
      {"weight count", [&](test::ResrParts& p) { conv(p)["weights"][1] = 5; }, "'weights' has 5 elements"},
      {"huge weight count", [&](test::ResrParts& p) { conv(p)["weights"][1] = 1ull << 62; }, "'weights count'"},
      {"overlapping arrays", [&](test::ResrParts& p) { conv(p)["bias"][0] = 0; }, "overlaps the previous array"},
      {"stride as float", [&](test::ResrParts& p) { conv(p)["conv"]["stride"] = 1e300; },
       "'stride' must be an integer"},
      {"negative channels", [&](test::ResrParts& p) { conv(p)["conv"]["in"] = -3; }, "'in' must be an integer"},
      {"unknown op", [&](test::ResrParts& p) { conv(p)["op"] = "Frobnicate"; }, "'Frobnicate' is not an op"},
      {"unknown precision", [&](test::ResrParts& p) { conv(p)["precision"] = "int4"; }, "'int4' is not fp32"},
      {"int8 without quant", [&](test::ResrParts& p) { conv(p)["precision"] = "int8"; }, "'quant' is missing"},
      {"control character", [&](test::ResrParts& p) { conv(p)["name"] = "a\nb"; }, "contains control characters"},
      {"input id out of range", [&](test::ResrParts& p) { conv(p)["inputs"][0] = 10000; }, "'inputs' must be"},
      {"produced twice", [&](test::ResrParts& p) { conv(p)["output"] = p.graph["nodes"][0]["output"]; },
       "another node already produces"},
      {"verify catches structure",
       [&](test::ResrParts& p) {
         for (json& n : p.graph["nodes"]) n["inputs"] = json::array();
       },
       "graph: layer '"},
      {"metadata field", [](test::ResrParts& p) { p.metadata["scale"] = "four"; }, "metadata: 'scale' must be"},
      {"metadata fingerprint", [](test::ResrParts& p) { p.metadata["source_fingerprint"] = "xyz"; },
       "16 lower-case hex digits"},
  };
  for (const Case& c : cases) {
    test::ResrParts p = good;
    c.edit(p);
    const std::string msg = parse_error(test::join_resr(p));
    EXPECT_NE(msg.find(c.expect), std::string::npos) << c.what << ": " << msg;
  }
  // The unedited parts put back together read fine (the edits above are what failed).
  EXPECT_TRUE(parse_resr(test::join_resr(good)).ok());
}

TEST(ResrFile, Int8ValuesAreChecked) {
  ir::Graph g = test::fixture_graph("srvgg_x1_leakyrelu.safetensors");
  test::make_int8(g, false);
  test::ResrParts p = test::split_resr(test::serialize(g));
  json& conv = p.graph["nodes"][1];
  ASSERT_EQ(conv["precision"], "int8");
  p.blob[conv["weights"][0].get<std::size_t>()] = 0x80;  // -128
  EXPECT_PARSE_ERROR(test::join_resr(p), "holds -128");
  p = test::split_resr(test::serialize(g));
  p.graph["nodes"][1]["quant"]["weight_scales"][0] = -1.0;
  EXPECT_PARSE_ERROR(test::join_resr(p), "'weight_scales' must be positive");
  p = test::split_resr(test::serialize(g));
  p.graph["nodes"][1]["quant"]["weight_scales"].erase(0);
  EXPECT_PARSE_ERROR(test::join_resr(p), "one scale per output channel");
}

TEST(ResrFile, Fp8ValuesAreChecked) {
  ir::Graph g = test::fixture_graph("srvgg_x1_leakyrelu.safetensors");
  test::make_fp8_alternate(g);
  test::ResrParts p = test::split_resr(test::serialize(g));
  json& conv = p.graph["nodes"][1];
  ASSERT_EQ(conv["precision"], "fp8");
  p.blob[conv["weights"][0].get<std::size_t>() + 3] = 0xff;  // NaN
  EXPECT_PARSE_ERROR(test::join_resr(p), "holds an fp8 NaN");
  p = test::split_resr(test::serialize(g));
  p.graph["nodes"][1]["quant"]["asymmetric"] = true;
  EXPECT_PARSE_ERROR(test::join_resr(p), "fp8 must be symmetric");
  // A file written before FP8 existed has no "fp8" entry in its precision summary: it reads, with none.
  ir::Graph fp32 = test::fixture_graph("srvgg_x1_leakyrelu.safetensors");
  p = test::split_resr(test::serialize(fp32));
  ASSERT_TRUE(p.metadata["precision"].contains("fp8"));
  p.metadata["precision"].erase("fp8");
  auto old = parse_resr(test::join_resr(p));
  ASSERT_TRUE(old.ok()) << old.status().message();
  EXPECT_EQ(old->meta.precision.at(ir::Precision::kFp8).convs, 0);
}

class ResrFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("resr_file_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(ResrFiles, WriteReadAndFileErrors) {
  const ir::Graph g = test::fixture_graph("srvgg_x4_prelu.safetensors");
  const std::vector<std::uint8_t> bytes = test::serialize(g);
  const std::string path = (dir_ / "m.resr").string();
  ASSERT_TRUE(write_resr_file(bytes, path).ok());
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);  // no temporary left
  EXPECT_EQ(fs::file_size(path), bytes.size());
  auto m = read_resr_file(path);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_TRUE(compare_graphs(g, m->graph).ok());
  auto meta = read_resr_metadata(path);
  ASSERT_TRUE(meta.ok()) << meta.status().message();
  EXPECT_EQ(meta->model, "test");

  // Errors start with the path.
  const std::string empty = (dir_ / "empty.resr").string();
  std::ofstream(empty).close();
  EXPECT_EQ(read_resr_file(empty).status().message(), empty + ": empty file");
  EXPECT_EQ(read_resr_metadata(empty).status().message(), empty + ": empty file");
  const std::string missing = (dir_ / "missing.resr").string();
  EXPECT_EQ(read_resr_file(missing).status().message(), missing + ": cannot open: No such file or directory");
  EXPECT_NE(read_resr_file(dir_.string()).status().message().find("is a directory"), std::string::npos);

  // A write that cannot happen leaves nothing behind.
  const std::string nowhere = (dir_ / "no" / "such" / "dir.resr").string();
  const Status st = write_resr_file(bytes, nowhere);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message().rfind(nowhere + ": cannot create", 0), 0u) << st.message();
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 2);  // m.resr and empty.resr
}

}  // namespace
}  // namespace resr::formats
