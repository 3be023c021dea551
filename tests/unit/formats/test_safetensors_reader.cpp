// .safetensors reader: the committed fixtures (F32, F16, BF16), a write/read round trip, and every kind of
// broken header or offset.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "formats/pth_reader.h"
#include "formats/safetensors_reader.h"
#include "support/paths.h"

namespace resr::formats {
namespace {

std::vector<std::uint8_t> file_with_header(const std::string& json, std::size_t data_bytes) {
  std::vector<std::uint8_t> b(8 + json.size() + data_bytes, 0);
  const std::uint64_t n = json.size();
  for (int k = 0; k < 8; ++k) b[std::size_t(k)] = std::uint8_t(n >> (8 * k));
  std::memcpy(b.data() + 8, json.data(), json.size());
  return b;
}

TEST(SafetensorsReader, FixturesMatchThePthWeights) {
  for (const char* stem : {"rrdb_x4", "rrdb_x2", "srvgg_x4_prelu"}) {
    auto st = read_safetensors(test::data_path(std::string("fixtures/") + stem + ".safetensors"));
    ASSERT_TRUE(st.ok()) << st.status().message();
    auto pth = read_pth(test::data_path(std::string("fixtures/") + stem + ".pth"));
    ASSERT_TRUE(pth.ok()) << pth.status().message();
    ASSERT_EQ(st->weights.size(), pth->size());
    for (const auto& [k, t] : *pth) {
      ASSERT_EQ(st->weights.count(k), 1u) << k;
      EXPECT_EQ(st->weights.at(k).shape, t.shape) << k;
      EXPECT_EQ(st->weights.at(k).data, t.data) << k;
    }
  }
  auto bf16 = read_safetensors(test::data_path("fixtures/rrdb_x1.safetensors"));
  ASSERT_TRUE(bf16.ok()) << bf16.status().message();
  EXPECT_EQ(bf16->weights.at("conv_first.weight").dtype, "BF16");
  EXPECT_EQ(bf16->weights.at("conv_first.weight").shape, (std::vector<std::int64_t>{8, 48, 3, 3}));
}

TEST(SafetensorsReader, WriteReadRoundTrip) {
  WeightMap w;
  w["a.weight"] = WeightTensor{{2, 2}, {1.0f, -2.5f, 0.125f, 3.0f}, "F32"};
  w["b"] = WeightTensor{{3}, {0.5f, 1.5f, -4.0f}, "F32"};
  const std::string path = (std::filesystem::temp_directory_path() / "resr_roundtrip.safetensors").string();
  for (bool fp16 : {false, true}) {
    ASSERT_TRUE(write_safetensors(path, w, fp16, {{"format", "pt"}}).ok());
    auto r = read_safetensors(path);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->metadata.at("format"), "pt");
    for (const auto& [k, t] : w) {
      EXPECT_EQ(r->weights.at(k).shape, t.shape);
      EXPECT_EQ(r->weights.at(k).data, t.data);  // all exact in fp16
      EXPECT_EQ(r->weights.at(k).dtype, fp16 ? "F16" : "F32");
    }
  }
  std::filesystem::remove(path);
}

TEST(SafetensorsReader, BadFiles) {
  struct Case {
    std::vector<std::uint8_t> bytes;
    const char* expect;
  };
  const std::string ok_entry = R"("w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  std::vector<std::uint8_t> cut = file_with_header("{" + ok_entry + "}", 8);
  cut.resize(cut.size() - 9);
  std::vector<std::uint8_t> huge_len(16, 0);
  huge_len[7] = 0x7f;
  std::vector<std::uint8_t> long_header(16, 0);  // 17 MiB: within the format's 100 MB, past an SR model's needs
  long_header[2] = 0x10;
  long_header[3] = 0x01;
  const std::vector<Case> cases = {
      {{1, 2, 3}, "too short"},
      {huge_len, "absurd"},
      {long_header, "header length 17825792 is absurd"},
      {file_with_header("{" + ok_entry + "}", 8), ""},  // the good one
      {cut, "runs past the end"},
      {file_with_header("{" + ok_entry + "}", 4), "outside the 4-byte data block"},
      {file_with_header(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8), "needs 12"},
      {file_with_header(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8), "outside"},
      {file_with_header(R"({"w":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}})", 8),
       "F8_E4M3 is not supported"},
      // an integer tensor is a counter: checked, then left out
      {file_with_header(R"({"n":{"dtype":"I64","shape":[2],"data_offsets":[0,8]}})", 8), "needs 16"},
      {file_with_header(R"({"n":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", 8), "no float tensors"},
      {file_with_header(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8), "non-integer"},
      {file_with_header(R"({"w":{"dtype":"F32","shape":[2]}})", 8), "data_offsets"},
      {file_with_header(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8),
       "too large"},
      {file_with_header(R"({"w": [1, 2)", 8), "not a JSON object"},
      {file_with_header(R"({"__metadata__":{"a":"b"}})", 0), "no float tensors"},
      // Parsing deep JSON is costly (50 million '[' took 3.8 GB); brackets inside strings do not count.
      {file_with_header("{\"m\":" + std::string(65, '[') + std::string(65, ']') + "}", 0), "nests more than 64 deep"},
      {file_with_header("{\"__metadata__\":{\"a\":\"" + std::string(100, '[') + "\\\"\"}," + ok_entry + "}", 8), ""},
      // Tensors sharing bytes, which the format forbids (2000 of them over one block decoded to 16 GB).
      {file_with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                        R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                        8),
       "tensors 'a' and 'b' overlap in the data block (data_offsets [0, 8] and [4, 8])"},
      {file_with_header(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                        R"("e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},)"
                        R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                        8),
       ""},  // adjacent, and an empty tensor between them
  };
  for (const Case& c : cases) {
    auto r = parse_safetensors(c.bytes);
    if (std::string(c.expect).empty()) {
      EXPECT_TRUE(r.ok()) << r.status().message();
      continue;
    }
    ASSERT_FALSE(r.ok()) << c.expect;
    EXPECT_NE(r.status().message().find(c.expect), std::string::npos) << r.status().message();
  }
}

// Training checkpoints keep counters beside the weights (AveragedModel's n_averaged, a step): those are left out,
// and float64 weights are read as float32 (the reader refused the whole file for either).
TEST(SafetensorsReader, CountersAreLeftOutAndDoublesRead) {
  const std::string json = R"({"n_averaged":{"dtype":"I64","shape":[],"data_offsets":[0,8]},)"
                           R"("flag":{"dtype":"BOOL","shape":[1],"data_offsets":[8,9]},)"
                           R"("conv.weight":{"dtype":"F64","shape":[2],"data_offsets":[9,25]}})";
  std::vector<std::uint8_t> bytes = file_with_header(json, 25);
  const double values[2] = {0.5, -3.25};
  std::memcpy(bytes.data() + 8 + json.size() + 9, values, sizeof values);
  auto r = parse_safetensors(bytes);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->weights.size(), 1u);
  EXPECT_EQ(r->weights.at("conv.weight").data, (std::vector<float>{0.5f, -3.25f}));
  EXPECT_EQ(r->weights.at("conv.weight").dtype, "F64");
}

}  // namespace
}  // namespace resr::formats
