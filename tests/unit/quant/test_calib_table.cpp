// The calibration table: write -> read round trip (bit-exact floats, per-channel maxima), atomic writing, strict
// reading of v2 and v1 tables.
#include <gtest/gtest.h>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "quant/calib_table.h"

namespace resr::quant {
namespace {
namespace fs = std::filesystem;

class CalibTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("resr_calib_" + std::to_string(::getpid()) + "_" +
                                             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& text) {
    std::string p = (dir_ / "t.calib").string();
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  // The message of reading `text`, which must fail.
  std::string error_of(const std::string& text) {
    auto t = read_calib_table(write(text));
    EXPECT_FALSE(t.ok());
    return t.ok() ? "" : t.status().message();
  }

  fs::path dir_;
};

const char* kHeader =
    "# resr calibration table v1\n# model 0123456789abcdef\n# method kl\n# samples 200  tile 128\n"
    "# date 2024-05-01T12:00:00Z\n";
const char* kHeaderV2 =
    "# resr calibration table v2\n# model 0123456789abcdef\n# method kl\n# samples 200  tile 128\n"
    "# date 2024-05-01T12:00:00Z\n";

CalibTable sample_table() {
  CalibTable t;
  t.model_fingerprint = 0xfedcba9876543210ull;
  t.method = "mse";
  t.samples = 7;
  t.tile = 64;
  t.date = "2024-05-01T12:34:56Z";
  t.tensors = {{"data", 1.0f, 0.0f, 1.0f, {0.99607843f, 1.0f, 0.0f}},
               {"body.0", 3.1415927f, -0.1234567f, 12.345678f, {12.345678f, 0.1234567f, 1e-45f, 0.0f}},
               {"z", 0.0f, 0.0f, 0.0f, {}},
               {"tiny", 1.17549435e-38f, -1e-30f, 7.0e-39f, {1e-30f}}};
  // many channels, every one a float that needs all 9 digits, within the observed range (positive floats order as
  // their bits)
  const std::uint32_t observed = std::bit_cast<std::uint32_t>(12.345678f);
  std::uint32_t bits = 0x3f800001u;
  for (int c = 0; c < 700; ++c, bits = bits * 1664525u + 1013904223u)
    t.tensors[1].channel_max.push_back(std::bit_cast<float>((bits & 0x7fffffffu) % (observed + 1)));
  return t;
}

TEST_F(CalibTableTest, RoundTripsBitExact) {
  const CalibTable t = sample_table();
  const std::string p = (dir_ / "out.calib").string();
  ASSERT_TRUE(write_calib_table(t, p).ok());
  auto r = read_calib_table(p);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->model_fingerprint, t.model_fingerprint);
  EXPECT_EQ(r->method, "mse");
  EXPECT_EQ(r->samples, 7);
  EXPECT_EQ(r->tile, 64);
  EXPECT_EQ(r->date, t.date);
  ASSERT_EQ(r->tensors.size(), t.tensors.size());
  for (std::size_t i = 0; i < t.tensors.size(); ++i) {
    EXPECT_EQ(r->tensors[i].name, t.tensors[i].name);
    EXPECT_EQ(r->tensors[i].threshold, t.tensors[i].threshold);
    EXPECT_EQ(r->tensors[i].min, t.tensors[i].min);
    EXPECT_EQ(r->tensors[i].max, t.tensors[i].max);
    ASSERT_EQ(r->tensors[i].channel_max.size(), t.tensors[i].channel_max.size()) << t.tensors[i].name;
    for (std::size_t c = 0; c < t.tensors[i].channel_max.size(); ++c)  // bit-exact
      EXPECT_EQ(std::bit_cast<std::uint32_t>(r->tensors[i].channel_max[c]),
                std::bit_cast<std::uint32_t>(t.tensors[i].channel_max[c]))
          << t.tensors[i].name << " channel " << c << ": " << t.tensors[i].channel_max[c];
  }
  std::ifstream in(p);
  std::string first, tensor_line;
  std::getline(in, first);
  EXPECT_EQ(first, "# resr calibration table v3");
  for (int i = 0; i < 5; ++i) std::getline(in, tensor_line);
  EXPECT_EQ(tensor_line, "data 1 0 1 3 0.996078432 1 0");
  for (int i = 0; i < 2; ++i) std::getline(in, tensor_line);
  EXPECT_EQ(tensor_line, "z 0 0 0 0");
  ASSERT_NE(r->find("body.0"), nullptr);
  EXPECT_EQ(r->find("nope"), nullptr);
  EXPECT_NE(std::ifstream(p).peek(), EOF);
  for (const auto& e : fs::directory_iterator(dir_)) EXPECT_EQ(e.path().filename(), "out.calib");  // no temporary
}

TEST_F(CalibTableTest, WriteFailsCleanly) {
  const std::string p = (dir_ / "missing" / "t.calib").string();
  Status st = write_calib_table(sample_table(), p);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find(p), std::string::npos) << st.message();
  CalibTable bad;
  for (const char* name : {"has space", "has\vvertical tab", "", "#comment", "data"}) {  // "data": listed twice
    bad = sample_table();
    bad.tensors[1].name = name;
    EXPECT_FALSE(write_calib_table(bad, (dir_ / "b.calib").string()).ok()) << name;
    EXPECT_FALSE(fs::exists(dir_ / "b.calib"));
  }
  bad = sample_table();
  bad.tensors.clear();
  EXPECT_FALSE(write_calib_table(bad, (dir_ / "b.calib").string()).ok());
  bad = sample_table();
  bad.tensors[0].min = 2.0f;  // min > max
  EXPECT_FALSE(write_calib_table(bad, (dir_ / "b.calib").string()).ok());
  for (float m : {-1.0f, NAN, INFINITY}) {
    bad = sample_table();
    bad.tensors[0].channel_max[1] = m;
    EXPECT_FALSE(write_calib_table(bad, (dir_ / "b.calib").string()).ok()) << m;
  }
  bad = sample_table();
  bad.tensors[2].channel_max.assign(std::size_t(kMaxTableChannels) + 1, 1.0f);
  EXPECT_FALSE(write_calib_table(bad, (dir_ / "b.calib").string()).ok());
  EXPECT_FALSE(fs::exists(dir_ / "b.calib"));
  // A table the reader would refuse unread for its size: 32 tensors of 2^16 maxima of about 11 characters each.
  bad = sample_table();
  bad.tensors.resize(32, bad.tensors[2]);
  for (std::size_t t = 0; t < bad.tensors.size(); ++t) {
    bad.tensors[t].name = "t" + std::to_string(t);
    bad.tensors[t].channel_max.assign(std::size_t(kMaxTableChannels), 0.123456789f);
  }
  st = write_calib_table(bad, (dir_ / "b.calib").string());
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("bytes, over"), std::string::npos) << st.message();
  EXPECT_FALSE(fs::exists(dir_ / "b.calib"));
}

TEST_F(CalibTableTest, ReadsV1TablesWithoutChannelMaxima) {
  auto r = read_calib_table(write(std::string(kHeader) + "data 1 0 1\nx 0.5 -0.25 0.75\n"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->tensors.size(), 2u);
  EXPECT_EQ(r->tensors[1].threshold, 0.5f);
  EXPECT_EQ(r->tensors[1].max, 0.75f);
  EXPECT_TRUE(r->tensors[0].channel_max.empty());
  EXPECT_TRUE(r->tensors[1].channel_max.empty());
  // A v1 table takes no channel maxima, and a v2 table needs the count.
  std::string e = error_of(std::string(kHeader) + "data 1 0 1 0\n");
  EXPECT_NE(e.find("line 6: expected '<tensor> <threshold> <min> <max>', got 5 fields"), std::string::npos) << e;
  e = error_of(std::string(kHeaderV2) + "data 1 0 1\n");
  EXPECT_NE(e.find("line 6: expected '<tensor> <threshold> <min> <max> <n> <m_0> ... <m_{n-1}>', got 4 fields"),
            std::string::npos)
      << e;
}

TEST_F(CalibTableTest, ReadsV2ChannelMaxima) {
  auto r = read_calib_table(
      write(std::string(kHeaderV2) + "data 1 0 1 3 0.5 1 0\r\n# note\n\nx 0.5 -0.25 0.75 0\ny 2 -2 2 1\t1.5e-3\n"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->tensors.size(), 3u);
  EXPECT_EQ(r->tensors[0].channel_max, (std::vector<float>{0.5f, 1.0f, 0.0f}));
  EXPECT_TRUE(r->tensors[1].channel_max.empty());
  EXPECT_EQ(r->tensors[1].min, -0.25f);
  EXPECT_EQ(r->tensors[2].channel_max, (std::vector<float>{1.5e-3f}));
  // The most channels a line may carry.
  std::ostringstream most;
  most << kHeaderV2 << "big 1 0 1 " << kMaxTableChannels;
  for (int c = 0; c < kMaxTableChannels; ++c) most << " 0.25";
  most << "\n";
  r = parse_calib_table(most.str(), "t.calib");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->tensors[0].channel_max.size(), std::size_t(kMaxTableChannels));
}

TEST_F(CalibTableTest, AcceptsCommentsBlankLinesAndCrlf) {
  auto r = read_calib_table(write(std::string(kHeader) + "\n# a note\ndata 1 0 1\r\n\nx 0.5 -0.25 0.5\n"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->tensors.size(), 2u);
  EXPECT_EQ(r->tensors[1].min, -0.25f);
}

TEST_F(CalibTableTest, StrictErrorsNameFileAndLine) {
  const std::string h = kHeader;
  std::string e = error_of(h + "data 1 0 1\nbody.0 1.5 0 zz\n");
  EXPECT_NE(e.find("t.calib: line 7: tensor 'body.0': malformed"), std::string::npos) << e;
  e = error_of(h + "data 1 0\n");
  EXPECT_NE(e.find("line 6: expected '<tensor> <threshold> <min> <max>', got 3 fields"), std::string::npos) << e;
  e = error_of(h + "data 1 0 1\ndata 0.5 0 1\n");
  EXPECT_NE(e.find("line 7: tensor 'data' listed twice"), std::string::npos) << e;
  // Beyond the observed range: no method chooses it (a damaged 1e38 made a 20.8 dB INT8 model).
  e = error_of(h + "data 1e38 -1 1\n");
  EXPECT_NE(e.find("line 6: tensor 'data': threshold beyond the observed range"), std::string::npos) << e;
  e = error_of(std::string(kHeaderV2) + "data 1 -2 1 2 0.5 99999999999\n");
  EXPECT_NE(e.find("line 6: tensor 'data': channel 1: maximum beyond the observed range"), std::string::npos) << e;
  e = error_of(h + "data -1 0 1\n");
  EXPECT_NE(e.find("line 6: tensor 'data': negative threshold"), std::string::npos) << e;
  e = error_of(h + "data 1 2 1\n");
  EXPECT_NE(e.find("min > max"), std::string::npos) << e;
  e = error_of(h + "data inf 0 1\n");
  EXPECT_NE(e.find("non-finite"), std::string::npos) << e;
  e = error_of(h + "data nan 0 1\n");
  EXPECT_NE(e.find("non-finite"), std::string::npos) << e;
  e = error_of(h);
  EXPECT_NE(e.find("no tensor lines"), std::string::npos) << e;
}

TEST_F(CalibTableTest, StrictV2ChannelMaxima) {
  const std::string h = kHeaderV2;
  const std::string ok = "data 1 0 1 2 0.5 1\n";  // line 6
  const std::pair<const char*, const char*> cases[] = {
      {"x 1 0 1 two 0.5 1", "line 7: tensor 'x': channel count 'two' is not an integer"},
      {"x 1 0 1 2.0 0.5 1", "line 7: tensor 'x': channel count '2.0' is not an integer"},
      {"x 1 0 1 +2 0.5 1", "line 7: tensor 'x': channel count '+2' is not an integer"},
      {"x 1 0 1 0x2 0.5 1", "line 7: tensor 'x': channel count '0x2' is not an integer"},
      {"x 1 0 1 -1", "line 7: tensor 'x': channel count -1 out of range (0 to 65536)"},
      {"x 1 0 1 65537 1", "line 7: tensor 'x': channel count 65537 out of range (0 to 65536)"},
      {"x 1 0 1 99999999999999999999999 1", "line 7: tensor 'x': channel count 99999999999999999999999 out of range"},
      {"x 1 0 1 3 0.5 1", "line 7: tensor 'x': 3 channel maxima announced, 2 given"},
      {"x 1 0 1 1 0.5 1", "line 7: tensor 'x': 1 channel maxima announced, 2 given"},
      {"x 1 0 1 0 0.5", "line 7: tensor 'x': 0 channel maxima announced, 1 given"},
      {"x 1 0 1 2 0.5 inf", "line 7: tensor 'x': channel 1: malformed or non-finite maximum"},
      {"x 1 0 1 2 nan 1", "line 7: tensor 'x': channel 0: malformed or non-finite maximum"},
      {"x 1 0 1 2 0.5 1e39", "line 7: tensor 'x': channel 1: malformed or non-finite maximum"},
      {"x 1 0 1 2 0.5 1x", "line 7: tensor 'x': channel 1: malformed or non-finite maximum"},
      {"x 1 0 1 2 0.5 -0.25", "line 7: tensor 'x': channel 1: negative maximum"},
      {"x 1 0 zz 0", "line 7: tensor 'x': malformed"},
      {"x 1 0 1 0\nx 1 0 1 0", "line 8: tensor 'x' listed twice"},
  };
  for (const auto& [line, want] : cases) {
    const std::string e = error_of(h + ok + line + "\n");
    EXPECT_NE(e.find(std::string("t.calib: ") + want), std::string::npos) << line << " -> " << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  }
  // A count past the limit is refused before its numbers are read.
  std::ostringstream many;
  many << h << "big 1 0 1 " << kMaxTableChannels + 1;
  for (int c = 0; c <= kMaxTableChannels; ++c) many << " 1";
  const std::string e = error_of(many.str() + "\n");
  EXPECT_NE(e.find("line 6: tensor 'big': channel count 65537 out of range"), std::string::npos) << e;
}

TEST_F(CalibTableTest, StrictHeader) {
  std::string e = error_of("# resr calibration table v4\n");
  EXPECT_NE(e.find("t.calib: line 1: unsupported version 'v4' (this resr reads v1 to v3)"), std::string::npos) << e;
  e = error_of("hello\n");
  EXPECT_NE(e.find("line 1: not a resr calibration table"), std::string::npos) << e;
  e = error_of("# resr calibration table v1\n# model 0123\n");
  EXPECT_NE(e.find("line 2: expected '# model <16 hex digits>'"), std::string::npos) << e;
  e = error_of("# resr calibration table v1\n# model 0123456789abcdef\n# method magic\n");
  EXPECT_NE(e.find("line 3:"), std::string::npos) << e;
  e = error_of("# resr calibration table v1\n# model 0123456789abcdef\n# method kl\n# samples 0  tile 128\n");
  EXPECT_NE(e.find("line 4:"), std::string::npos) << e;
  e = error_of("# resr calibration table v1\n# model 0123456789abcdef\n# method kl\n# samples 2  tile 128\n");
  EXPECT_NE(e.find("line 5: missing date line"), std::string::npos) << e;
  e = error_of("");
  EXPECT_NE(e.find("line 1: missing version line"), std::string::npos) << e;
  auto missing = read_calib_table((dir_ / "none.calib").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("none.calib"), std::string::npos);
}

// v3's end line: a table cut anywhere, or changed after it was written, is refused (a cut at "0.318" read 0.3).
TEST_F(CalibTableTest, V3TablesCutShortOrChangedAreRefused) {
  const std::string p = (dir_ / "whole.calib").string();
  ASSERT_TRUE(write_calib_table(sample_table(), p).ok());
  std::ifstream in(p, std::ios::binary);
  const std::string whole((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_NE(whole.find("\n# end 4 crc32 "), std::string::npos) << whole.substr(whole.size() - 40);
  int refused = 0, cuts = 0;
  for (std::size_t cut = 160; cut + 1 < whole.size(); cut += 97, ++cuts) {
    const std::string e = error_of(whole.substr(0, cut));
    refused += !e.empty();
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  }
  EXPECT_EQ(refused, cuts);
  std::string changed = whole;
  changed[changed.find("data 1 0 1") + 5] = '0';  // threshold 1 -> 0
  EXPECT_NE(error_of(changed).find("does not match the 4 tensor lines and the bytes before it"), std::string::npos);
  // CRLF lines are read as before (a table through a Windows checkout); edited by hand, a table is read as v2.
  std::string crlf;
  for (char c : whole) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  EXPECT_TRUE(parse_calib_table(crlf, "t.calib").ok());
  std::string v2 = changed.substr(0, changed.find("# end "));
  v2.replace(v2.find("table v3"), 8, "table v2");
  EXPECT_TRUE(parse_calib_table(v2, "t.calib").ok());
  // Blank lines after the end line are fine; a tensor line is not.
  EXPECT_TRUE(parse_calib_table(whole + "\n\n", "t.calib").ok());
  EXPECT_FALSE(parse_calib_table(whole + "x 0 0 0 0\n", "t.calib").ok());
}

TEST_F(CalibTableTest, HugeOrBinaryFilesGiveOneShortLine) {
  // Past the limit: refused by its size, unread (a sparse file: nothing is written to disk).
  const std::string big = write(kHeader);
  fs::resize_file(big, kMaxTableBytes + 1);
  auto r = read_calib_table(big);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("t.calib: too large for a calibration table"), std::string::npos)
      << r.status().message();
  // Control bytes and a very long name in a tensor line are not echoed as they are.
  const std::string text = std::string(kHeader) + "a\x01" + std::string(1000, 'b') + " 1 0 zz\n";
  r = parse_calib_table(text, "t.calib");
  ASSERT_FALSE(r.ok());
  std::string e = r.status().message();
  EXPECT_NE(e.find("t.calib: line 6: tensor 'a?bbb"), std::string::npos) << e;
  EXPECT_LT(e.size(), 200u) << e;
  // A PNG given as a table.
  r = parse_calib_table(std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16), "photo.png");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().find('\n'), std::string::npos);
  EXPECT_NE(r.status().message().find("photo.png: line 1: not a resr calibration table"), std::string::npos);
  // The same text parses alike from a file and from memory.
  const std::string good = std::string(kHeader) + "data 1 0 1\n";
  auto from_file = read_calib_table(write(good));
  auto from_text = parse_calib_table(good, "t.calib");
  ASSERT_TRUE(from_file.ok() && from_text.ok());
  EXPECT_EQ(from_file->tensors.size(), 1u);
  EXPECT_EQ(from_text->tensors[0].name, "data");
}

}  // namespace
}  // namespace resr::quant
