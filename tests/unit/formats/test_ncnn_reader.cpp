// ncnn .param/.bin reader: a tiny hand-written model in memory, then every kind of broken file.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "backends/ref/executor.h"
#include "formats/ncnn_reader.h"
#include "support/paths.h"

namespace resr::formats {
namespace {

// Input -> Split -> Conv(3->3, 3x3, bias, LeakyReLU 0.1) -> Eltwise(0.5*conv + 2*input) -> output.
const char* kParam =
    "7767517\n"
    "4 5\n"
    "Input            data  0 1 data 0=8 1=8 2=3\n"
    "Split            split 1 2 data a b\n"
    "Convolution      conv  1 1 a c 0=3 1=3 4=1 5=1 6=81 9=2 -23310=1,1.000000e-01\n"
    "Eltwise          sum   2 1 c b output 0=1 -23301=2,0.5,2.0\n";

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(std::uint8_t(v >> (8 * i)));
}
void put_f32(std::vector<std::uint8_t>& out, float f) {
  std::uint32_t v;
  std::memcpy(&v, &f, 4);
  put_u32(out, v);
}

std::vector<std::uint8_t> make_bin(bool fp16) {
  std::vector<std::uint8_t> bin;
  if (fp16) {
    put_u32(bin, 0x01306B47u);
    for (int i = 0; i < 81; ++i) {  // 0.5 in binary16 is 0x3800, -0.25 is 0xB400
      const std::uint16_t h = (i % 2 == 0) ? 0x3800 : 0xB400;
      bin.push_back(std::uint8_t(h & 0xff));
      bin.push_back(std::uint8_t(h >> 8));
    }
    bin.push_back(0);  // 81 halfs = 162 bytes, padded to 164
    bin.push_back(0);
  } else {
    put_u32(bin, 0);
    for (int i = 0; i < 81; ++i) put_f32(bin, (i % 2 == 0) ? 0.5f : -0.25f);
  }
  for (int i = 0; i < 3; ++i) put_f32(bin, 0.1f * float(i));
  return bin;
}

TEST(NcnnReader, ParsesTinyModelWithFp32AndFp16Weights) {
  for (bool fp16 : {false, true}) {
    auto g = parse_ncnn_model(kParam, make_bin(fp16));
    ASSERT_TRUE(g.ok()) << g.status().message();
    ASSERT_EQ(g->nodes.size(), 3u);  // Split is not an op
    EXPECT_EQ(g->nodes[1].op, ir::Op::kConv2d);
    EXPECT_EQ(g->nodes[1].conv.in_channels, 3);
    EXPECT_EQ(g->nodes[1].conv.activation, ir::Activation::kLeakyRelu);
    EXPECT_FLOAT_EQ(g->nodes[1].conv.activation_slope, 0.1f);
    EXPECT_FLOAT_EQ(g->nodes[1].weights[0], 0.5f);
    EXPECT_FLOAT_EQ(g->nodes[1].weights[1], -0.25f);
    EXPECT_FLOAT_EQ(g->nodes[1].bias[2], 0.2f);
    EXPECT_EQ(g->nodes[2].op, ir::Op::kWeightedSum);
    EXPECT_EQ(g->nodes[2].inputs[1], g->input);
    EXPECT_FLOAT_EQ(g->nodes[2].coeffs[1], 2.0f);
  }
}

TEST(NcnnReader, TinyModelRunsOnReference) {
  auto g = parse_ncnn_model(kParam, make_bin(false));
  ASSERT_TRUE(g.ok());
  auto exe = ref::compile(std::make_shared<ir::Graph>(std::move(*g)));
  Tensor in(3, 2, 2);
  for (int i = 0; i < 12; ++i) in.data()[i] = 0.1f * float(i);
  auto out = exe->run(in);
  ASSERT_TRUE(out.ok());
  // Pixel (0,0) of channel 0 by hand: taps inside the 2x2 image are (1,1),(1,2),(2,1),(2,2) of the kernel.
  double acc = 0.0;  // bias of channel 0
  for (int ic = 0; ic < 3; ++ic)
    for (int ky = 1; ky < 3; ++ky)
      for (int kx = 1; kx < 3; ++kx) {
        const int idx = (ic * 3 + ky) * 3 + kx;
        acc += ((idx % 2 == 0) ? 0.5 : -0.25) * in.at(ic, ky - 1, kx - 1);
      }
  const double act = acc < 0 ? 0.1 * acc : acc;
  EXPECT_NEAR(out->at(0, 0, 0), 0.5 * act + 2.0 * in.at(0, 0, 0), 1e-5);
}

struct BadCase {
  const char* what;
  std::string param;
  int bin_delta;  // bytes added (>0) or cut (<0) from the valid weight file
  const char* expected;
};

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const std::size_t pos = s.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  if (pos != std::string::npos) s.replace(pos, from.size(), to);
  return s;
}

TEST(NcnnReader, RejectsBrokenFilesWithOneClearLine) {
  const std::string p = kParam;
  const std::vector<BadCase> cases = {
      {"empty", "", 0, "empty file"},
      {"bad magic", replace(p, "7767517", "1234"), 0, "magic"},
      {"missing counts", "7767517\n", 0, "line 2"},
      {"unknown layer", replace(p, "Eltwise  ", "Frobnicate"), 0, "unknown layer type 'Frobnicate'"},
      // ncnn's default Eltwise operation is PROD (0), not SUM.
      {"eltwise without 0=", replace(p, "output 0=1 ", "output "), 0, "only Eltwise SUM (0=1) is supported"},
      {"bad number", replace(p, "0=3 1=3", "0=x 1=3"), 0, "bad number 'x'"},
      {"syntax", replace(p, "5=1", "5"), 0, "expected id=value"},
      {"too few blobs", replace(p, "2 1 c b output", "2 1 c"), 0, "line 6"},
      {"declared more layers", replace(p, "4 5", "5 5"), 0, "declares 5 layers, found 4"},
      {"undefined blob", replace(p, "1 1 a c", "1 1 zz c"), 0, "'zz' is not produced"},
      {"weights too short", p, -5, "too short"},
      {"weights too long", p, +8, "too long"},
      {"conv without input (found by fuzzing)", replace(p, "1 1 a c", "0 1 c"), 0, "Convolution needs 1 input"},
      {"size not a multiple", replace(p, "6=81", "6=80"), 0, "not a multiple"},
      {"channels do not add up", replace(p, "6=81", "6=108"), 0, "expect 4 input channels"},
      {"array count", replace(p, "-23301=2,0.5,2.0", "-23301=3,0.5,2.0"), 0, "declares 3 elements"},
      {"non-integer interp", replace(p + "Interp up 1 1 output o2 0=1 1=1.5 2=1.5\n", "4 5", "5 6"), 0,
       "line 7: Interp 'up': only equal integer"},
  };
  for (const BadCase& c : cases) {
    std::vector<std::uint8_t> bin = make_bin(false);
    if (c.bin_delta < 0) bin.resize(bin.size() + c.bin_delta);
    for (int i = 0; i < c.bin_delta; ++i) bin.push_back(0);
    auto g = parse_ncnn_model(c.param, bin);
    ASSERT_FALSE(g.ok()) << c.what;
    const std::string msg = g.status().message();
    EXPECT_NE(msg.find(c.expected), std::string::npos) << c.what << ": " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << c.what;
  }
}

// Conv weights are decoded after parsing (on every core): a NaN among them is still refused in one line naming
// the layer.
TEST(NcnnReader, NonFiniteConvWeightsNameTheLayer) {
  std::vector<std::uint8_t> bin = make_bin(false);
  const float nan = std::nanf("");
  std::memcpy(bin.data() + 4 + 40 * 4, &nan, 4);  // weight 40 of the conv (after its storage tag)
  auto g = parse_ncnn_model(kParam, bin);
  ASSERT_FALSE(g.ok());
  const std::string msg = g.status().message();
  EXPECT_NE(msg.find("Convolution 'conv' (.param line 5): weights: non-finite weight value"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos);
}

TEST(NcnnReader, FileErrorsNameTheFile) {
  auto g = read_ncnn_model("/nonexistent/m.param", "/nonexistent/m.bin");
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("/nonexistent/m.param: cannot open"), std::string::npos);

  const std::string dir = ::testing::TempDir();
  const std::string param = dir + "/tiny.param", bin = dir + "/tiny.bin";
  std::ofstream(param) << kParam;
  std::vector<std::uint8_t> w = make_bin(false);
  w.resize(w.size() - 4);
  std::ofstream(bin, std::ios::binary).write(reinterpret_cast<const char*>(w.data()), std::streamsize(w.size()));
  g = read_ncnn_model(param, bin);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().message().rfind(bin + ":", 0), 0u) << g.status().message();
  // The layer is named with its line in the .param, not as if the line were the .bin's.
  EXPECT_EQ(g.status().message().find(": line "), std::string::npos) << g.status().message();
  EXPECT_NE(g.status().message().find("(.param line "), std::string::npos) << g.status().message();
  // A text that is no .param, without a .bin beside it, is named itself (the missing .bin was).
  const std::string text = dir + "/notes.param";
  std::ofstream(text) << "hello\n";
  g = read_ncnn_model(text, dir + "/notes.bin");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().message(), text + ": line 1: not an ncnn param file (expected magic number 7767517)");
}

}  // namespace
}  // namespace resr::formats
