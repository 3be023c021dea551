// .pth (torch.save zip) reader: the committed fixtures in every wrapping, hand-built archives for the corner
// cases (strides, offsets, fp16), and truncated or corrupted files (an error, never a crash).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "formats/file_bytes.h"
#include "formats/pth_reader.h"
#include "pickle_bytes.h"
#include "support/paths.h"

namespace resr::formats {
namespace {

using test::PickleWriter;

test::Bytes state_dict_pickle(const std::vector<int>& size, const std::vector<int>& stride, int numel, int offset,
                              const std::string& type = "FloatStorage", const std::string& wrapper = "") {
  PickleWriter p;
  p.proto();
  if (!wrapper.empty()) p.op('}').str(wrapper);
  p.op('}').str("conv.weight").tensor(type, "0", numel, offset, size, stride).op('s');
  if (!wrapper.empty()) p.op('s');
  p.stop();
  return p.out;
}

test::Bytes checkpoint(const test::Bytes& pkl, const test::Bytes& storage) {
  return test::make_zip({{"m/data.pkl", pkl}, {"m/data/0", storage}, {"m/byteorder", {'l', 'i', 't', 't', 'l', 'e'}}});
}

TEST(PthReader, FixtureWrappingsAllGiveTheSameTensors) {
  auto ref = read_pth(test::data_path("fixtures/srvgg_x4_prelu.pth"));  // params_ema
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  EXPECT_EQ(ref->size(), 11u);  // 4 convs x (weight, bias) + 3 PReLU
  EXPECT_EQ(ref->at("body.0.weight").shape, (std::vector<std::int64_t>{8, 3, 3, 3}));
  EXPECT_EQ(ref->at("body.1.weight").shape, (std::vector<std::int64_t>{8}));
  for (const char* variant : {"params", "top", "module", "deflate", "fp16", "legacy", "legacy_fp16"}) {
    auto w = read_pth(test::data_path(std::string("fixtures/srvgg_x4_prelu.") + variant + ".pth"));
    ASSERT_TRUE(w.ok()) << variant << ": " << w.status().message();
    ASSERT_EQ(w->size(), ref->size()) << variant;
    for (const auto& [k, t] : *ref) {
      ASSERT_EQ(w->count(k), 1u) << variant << " lacks " << k;
      EXPECT_EQ(w->at(k).shape, t.shape);
      EXPECT_EQ(w->at(k).data, t.data) << variant << " " << k;  // fixture weights are exact in fp16
    }
    EXPECT_EQ(w->at("body.0.weight").dtype, std::string(variant).find("fp16") != std::string::npos ? "F16" : "F32");
  }
}

TEST(PthReader, HandBuiltCheckpointWithOffsetAndWrapper) {
  const std::vector<float> data = {9, 1, 2, 3, 4, 5, 6};
  auto w =
      parse_pth(checkpoint(state_dict_pickle({2, 3}, {3, 1}, 7, 1, "FloatStorage", "params"), test::float_bytes(data)));
  ASSERT_TRUE(w.ok()) << w.status().message();
  EXPECT_EQ(w->at("conv.weight").data, (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

// The state dict under the wrappers other training code uses, beside other entries (an epoch number); a
// wrapper whose value is not a dict is passed over.
TEST(PthReader, CommonCheckpointWrappersAreUnwrapped) {
  const std::vector<float> data = {1, 2, 3, 4, 5, 6};
  for (const char* wrapper : {"params-ema", "state_dict", "model_state_dict", "model", "net"}) {
    PickleWriter p;
    p.proto().op('}').str("epoch").integer(5).op('s').str(wrapper);
    p.op('}').str("module.conv.weight").tensor("FloatStorage", "0", 6, 0, {2, 3}, {3, 1}).op('s');
    p.op('s').stop();
    auto w = parse_pth(checkpoint(p.out, test::float_bytes(data)));
    ASSERT_TRUE(w.ok()) << wrapper << ": " << w.status().message();
    EXPECT_EQ(w->at("conv.weight").data, data) << wrapper;
  }
  PickleWriter p;
  p.proto().op('}').str("model").integer(1).op('s').str("conv.weight");
  p.tensor("FloatStorage", "0", 6, 0, {2, 3}, {3, 1}).op('s').stop();
  auto w = parse_pth(checkpoint(p.out, test::float_bytes(data)));
  ASSERT_TRUE(w.ok()) << w.status().message();
  EXPECT_EQ(w->at("conv.weight").data, data);
}

// Wrappers nest ({"state_dict": {"params_ema": ...}}), and a dict of networks with no tensor of its own (a GAN's
// generator and discriminator) gives every network's tensors under its name: it was "no tensors found".
TEST(PthReader, NestedWrappersAndDictsOfNetworks) {
  const std::vector<float> data = {1, 2, 3, 4, 5, 6};
  PickleWriter nested;
  nested.proto().op('}').str("state_dict").op('}').str("params_ema").op('}');
  nested.str("conv.weight").tensor("FloatStorage", "0", 6, 0, {2, 3}, {3, 1}).op('s');
  nested.op('s').op('s').stop();
  auto w = parse_pth(checkpoint(nested.out, test::float_bytes(data)));
  ASSERT_TRUE(w.ok()) << w.status().message();
  ASSERT_EQ(w->size(), 1u);
  EXPECT_EQ(w->at("conv.weight").data, data);
  PickleWriter gan;
  gan.proto().op('}').str("epoch").integer(3).op('s');
  gan.str("generator").op('}').str("conv.weight").tensor("FloatStorage", "0", 6, 0, {2, 3}, {3, 1}).op('s').op('s');
  gan.str("discriminator").op('}').str("fc.weight").tensor("FloatStorage", "0", 6, 0, {6}, {1}).op('s').op('s');
  // A scalar and a counter beside the networks (an EMA decay, a step) do not make the dict a state dict.
  gan.str("ema_decay").tensor("FloatStorage", "0", 6, 0, {}, {}).op('s');
  gan.str("step").tensor("LongStorage", "1", 1, 0, {1}, {1}).op('s');
  gan.stop();
  w = parse_pth(test::make_zip({{"m/data.pkl", gan.out},
                                {"m/data/0", test::float_bytes(data)},
                                {"m/data/1", test::Bytes(8, 0)},
                                {"m/byteorder", {'l', 'i', 't', 't', 'l', 'e'}}}));
  ASSERT_TRUE(w.ok()) << w.status().message();
  ASSERT_EQ(w->size(), 3u);  // the scalar is kept here; models/detect.h leaves it out
  EXPECT_EQ(w->at("ema_decay").shape, std::vector<std::int64_t>{});
  EXPECT_EQ(w->at("generator.conv.weight").data, data);
  EXPECT_EQ(w->at("discriminator.fc.weight").shape, (std::vector<std::int64_t>{6}));
}

// A second reference to a storage declaring more elements than it holds is refused: it read past the bytes read
// for the first (a crafted 65 KB file crashed).
TEST(PthReader, EveryReferenceToAStorageIsChecked) {
  PickleWriter p;
  p.proto().op('}');
  p.str("a.weight").tensor("FloatStorage", "0", 1, 0, {1}, {1}).op('s');
  p.str("b.weight").tensor("FloatStorage", "0", 5000000, 0, {5000000}, {1}).op('s');
  p.stop();
  auto w = parse_pth(checkpoint(p.out, test::float_bytes({7})));
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("storage '0' has 4 bytes, needs 5000000 elements of 4"), std::string::npos)
      << w.status().message();
  // A count whose size in bytes wraps around 2^64 (2^62 + 1 floats: 4 bytes) is refused too.
  PickleWriter wrap;
  wrap.proto().op('}');
  wrap.str("c.weight").tensor("FloatStorage", "0", (std::int64_t{1} << 62) + 1, (std::int64_t{1} << 62) - 3, {4}, {1});
  wrap.op('s').stop();
  w = parse_pth(checkpoint(wrap.out, test::float_bytes({1})));
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("has 4 bytes"), std::string::npos) << w.status().message();
}

// A tensor may view a storage with stride 0 (a broadcast) and several tensors one storage, but not read it over
// and over: a 534-byte file with one [2^31] stride-0 view of one float decoded to 8 GB.
TEST(PthReader, ReadingAStorageOverAndOverIsRefused) {
  auto w = parse_pth(checkpoint(state_dict_pickle({5000}, {0}, 1, 0), test::float_bytes({7})));
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("tensor 'conv.weight': its 5000 values would read storage '0' (1 elements) "
                                      "more than 4 times over (a broadcast view, stride 0?)"),
            std::string::npos)
      << w.status().message();
  PickleWriter p;
  p.proto().op('}');
  p.str("a.weight").tensor("FloatStorage", "0", 1, 0, {4000}, {0}).op('s');  // within the slack: read
  p.str("b.weight").tensor("FloatStorage", "0", 1, 0, {1}, {1}).op('s');
  p.str("c.weight").tensor("FloatStorage", "0", 1, 0, {200}, {0}).op('s');
  p.stop();
  w = parse_pth(checkpoint(p.out, test::float_bytes({7})));
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("tensor 'c.weight': its 200 values would read storage '0' (1 elements) more "
                                      "than 4 times over, with the 4001 values other tensors read from it"),
            std::string::npos)
      << w.status().message();
}

TEST(PthReader, HalfStorage) {
  const test::Bytes halfs = {0x00, 0x3c, 0x00, 0xc0};  // 1.0, -2.0
  auto w = parse_pth(checkpoint(state_dict_pickle({2}, {1}, 2, 0, "HalfStorage"), halfs));
  ASSERT_TRUE(w.ok()) << w.status().message();
  EXPECT_EQ(w->at("conv.weight").data, (std::vector<float>{1.0f, -2.0f}));
}

// Weights saved from a channels_last model keep their permuted strides; torch.load accepts them, and so does this.
TEST(PthReader, PermutedStridesAreGathered) {
  // A [2, 3] tensor stored column-major: strides (1, 2).
  auto w = parse_pth(checkpoint(state_dict_pickle({2, 3}, {1, 2}, 6, 0), test::float_bytes({1, 4, 2, 5, 3, 6})));
  ASSERT_TRUE(w.ok()) << w.status().message();
  EXPECT_EQ(w->at("conv.weight").data, (std::vector<float>{1, 2, 3, 4, 5, 6}));
  // [oc 2, ic 2, 1, 1]... as channels_last: [2, 3, 2, 2] with strides (12, 1, 6, 3).
  std::vector<float> nhwc(24);
  for (int o = 0; o < 2; ++o)
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 2; ++y)
        for (int x = 0; x < 2; ++x) nhwc[std::size_t(o * 12 + y * 6 + x * 3 + c)] = float(o * 12 + c * 4 + y * 2 + x);
  w = parse_pth(checkpoint(state_dict_pickle({2, 3, 2, 2}, {12, 1, 6, 3}, 24, 0), test::float_bytes(nhwc)));
  ASSERT_TRUE(w.ok()) << w.status().message();
  for (int k = 0; k < 24; ++k) EXPECT_EQ(w->at("conv.weight").data[std::size_t(k)], float(k));
}

TEST(PthReader, RejectsBadTensors) {
  const test::Bytes six = test::float_bytes({1, 2, 3, 4, 5, 6});
  struct Case {
    test::Bytes pkl, storage;
    const char* expect;
  };
  const std::vector<Case> cases = {
      {state_dict_pickle({2, 3}, {1, 3}, 6, 0), six, "needs 8 from offset 0"},
      {state_dict_pickle({2, 3}, {3, 1}, 6, 1), six, "holds 6 elements"},
      {state_dict_pickle({2, 4}, {4, 1}, 8, 0), six, "has 24 bytes, needs 8 elements of 4"},
      {state_dict_pickle({2, 3}, {3, 1}, 6, 0, "BFloat16Storage"), {}, "has 0 bytes"},
  };
  for (const Case& c : cases) {
    auto w = parse_pth(checkpoint(c.pkl, c.storage));
    ASSERT_FALSE(w.ok()) << c.expect;
    EXPECT_NE(w.status().message().find("tensor 'conv.weight'"), std::string::npos) << w.status().message();
    EXPECT_NE(w.status().message().find(c.expect), std::string::npos) << w.status().message();
  }
}

// AveragedModel's n_averaged (int64) and a bool flag beside the weights: left out, where the whole file was refused
// ("tensor storage type 'torch.LongStorage' is not supported"); float64 weights are read.
TEST(PthReader, IntegerTensorsAreLeftOutAndDoublesRead) {
  PickleWriter p;
  p.proto().op('}');
  p.str("n_averaged").tensor("LongStorage", "1", 1, 0, {}, {}).op('s');
  p.str("flag").tensor("BoolStorage", "2", 1, 0, {1}, {1}).op('s');
  p.str("conv.weight").tensor("DoubleStorage", "0", 2, 0, {2}, {1}).op('s');
  p.stop();
  test::Bytes doubles(16), count(8, 0);
  const double values[2] = {0.5, -3.25};
  std::memcpy(doubles.data(), values, sizeof values);
  count[0] = 7;
  auto w = parse_pth(test::make_zip({{"m/data.pkl", p.out},
                                     {"m/data/0", doubles},
                                     {"m/data/1", count},
                                     {"m/data/2", {1}},
                                     {"m/byteorder", {'l', 'i', 't', 't', 'l', 'e'}}}));
  ASSERT_TRUE(w.ok()) << w.status().message();
  ASSERT_EQ(w->size(), 1u);
  EXPECT_EQ(w->at("conv.weight").data, (std::vector<float>{0.5f, -3.25f}));
  // Only counters: no weights, said so.
  PickleWriter only;
  only.proto().op('}').str("n_averaged").tensor("LongStorage", "1", 1, 0, {}, {}).op('s').stop();
  w = parse_pth(test::make_zip({{"m/data.pkl", only.out}, {"m/data/1", count}}));
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("no tensors found"), std::string::npos) << w.status().message();
}

TEST(PthReader, MissingStorageAndNoTensors) {
  auto w = parse_pth(test::make_zip({{"m/data.pkl", state_dict_pickle({1}, {1}, 1, 0)}}));
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("storage '0' is missing"), std::string::npos) << w.status().message();
  PickleWriter p;
  p.proto().op('}').str("epoch").integer(3).op('s').stop();
  w = parse_pth(test::make_zip({{"m/data.pkl", p.out}}));
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("no tensors found"), std::string::npos) << w.status().message();
}

TEST(PthReader, TruncatedAndCorruptFilesFailCleanly) {
  auto bytes = read_file_bytes(test::data_path("fixtures/srvgg_x4_prelu.pth"));
  ASSERT_TRUE(bytes.ok());
  for (std::size_t cut :
       {std::size_t{0}, std::size_t{3}, std::size_t{100}, bytes->size() / 2, bytes->size() - 23, bytes->size() - 1}) {
    std::vector<std::uint8_t> b(bytes->begin(), bytes->begin() + long(cut));
    auto w = parse_pth(b);
    EXPECT_FALSE(w.ok()) << "cut at " << cut;
  }
  // Flip one byte of each region in turn: every result is an error or a complete, valid map.
  for (std::size_t i = 0; i < bytes->size(); i += 97) {
    std::vector<std::uint8_t> b = *bytes;
    b[i] ^= 0x5a;
    auto w = parse_pth(b);
    if (w.ok()) {
      EXPECT_EQ(w->size(), 11u);
    }
  }
  // Data corruption is caught by the CRC.
  std::vector<std::uint8_t> b = *bytes;
  b[b.size() / 2] ^= 1;
  auto w = parse_pth(b);
  ASSERT_FALSE(w.ok());
}

// A deflated storage whose directory claims more bytes than its deflate data could expand to (1032-fold at most) is
// refused before anything that size is allocated: a small file must not ask for gigabytes (found by fuzzing).
TEST(PthReader, DeflatedEntryClaimingMoreThanDeflateCanExpandToIsRefused) {
  auto bytes = read_file_bytes(test::data_path("fixtures/srvgg_x4_prelu.deflate.pth"));
  ASSERT_TRUE(bytes.ok());
  std::vector<std::uint8_t> b = *bytes;
  int patched = 0;
  for (std::size_t i = 0; i + 46 < b.size(); ++i) {  // central directory entries: "PK\1\2", name at +46
    if (b[i] != 'P' || b[i + 1] != 'K' || b[i + 2] != 1 || b[i + 3] != 2) continue;
    const std::size_t name_len = b[i + 28] | (b[i + 29] << 8);
    const std::string name(reinterpret_cast<const char*>(&b[i + 46]), std::min(name_len, b.size() - i - 46));
    const int method = b[i + 10] | (b[i + 11] << 8);
    if (method != 8 || name.find("/data/") == std::string::npos) continue;
    for (int k = 0; k < 4; ++k) b[i + 24 + std::size_t(k)] = k == 3 ? 0xf0 : 0x00;  // 4026531840 bytes
    ++patched;
  }
  ASSERT_GT(patched, 0) << "the fixture has no deflated storage";
  auto w = parse_pth(b);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("more than deflate can expand to"), std::string::npos) << w.status().message();
}

// The legacy format cut anywhere, and with its records' sizes or the header's endianness changed: an error that
// says what is wrong, never a read past the end.
TEST(PthReader, LegacyFormatTruncatedOrCorruptedIsRefused) {
  auto bytes = read_file_bytes(test::data_path("fixtures/srvgg_x4_prelu.legacy.pth"));
  ASSERT_TRUE(bytes.ok());
  ASSERT_TRUE(parse_pth(*bytes).ok());
  for (std::size_t cut :
       {std::size_t{0}, std::size_t{15}, std::size_t{16}, std::size_t{200}, bytes->size() / 2, bytes->size() - 1}) {
    auto w = parse_pth(std::span(*bytes).first(cut));
    EXPECT_FALSE(w.ok()) << "cut at " << cut;
  }
  auto w = parse_pth(std::span(*bytes).first(bytes->size() - 1));
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("truncated"), std::string::npos) << w.status().message();
  // sys_info's little_endian: NEWTRUE -> NEWFALSE.
  std::vector<std::uint8_t> big = *bytes;
  const std::string flag = "little_endian";
  auto at = std::search(big.begin(), big.end(), flag.begin(), flag.end());
  ASSERT_NE(at, big.end());
  auto newtrue = std::find(at, big.end(), std::uint8_t{0x88});
  ASSERT_NE(newtrue, big.end());
  *newtrue = 0x89;
  w = parse_pth(big);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("big-endian"), std::string::npos) << w.status().message();
}

// torch.save(..., pickle_protocol=4) writes the magic number in a framed protocol-4 pickle: still the legacy format.
TEST(PthReader, LegacyFormatWithALaterPickleProtocol) {
  auto bytes = read_file_bytes(test::data_path("fixtures/srvgg_x4_prelu.legacy.pth"));
  ASSERT_TRUE(bytes.ok());
  ASSERT_EQ((*bytes)[1], 2);  // the fixture's first pickle: PROTO 2, LONG1 (12 bytes), STOP
  std::vector<std::uint8_t> p4 = {0x80, 0x04, 0x95, 13, 0, 0, 0, 0, 0, 0, 0};  // PROTO 4, FRAME of 13 bytes
  p4.insert(p4.end(), bytes->begin() + 2, bytes->end());
  auto w = parse_pth(p4);
  ASSERT_TRUE(w.ok()) << w.status().message();
  auto ref = parse_pth(*bytes);
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(w->size(), ref->size());
}

// An empty tensor reads as empty whatever its other sizes and strides (their product would overflow).
TEST(PthReader, EmptyTensorWithHugeOtherSizes) {
  const int big = 1 << 30;
  auto w = parse_pth(checkpoint(state_dict_pickle({0, big, big, big}, {1, 0, 0, 0}, 1, 0), test::float_bytes({1})));
  ASSERT_TRUE(w.ok()) << w.status().message();
  EXPECT_TRUE(w->at("conv.weight").data.empty());
}

// A hand-built legacy file: a record declaring more elements than the file holds, and fewer than the tensor needs.
TEST(PthReader, LegacyRecordSizesAreChecked) {
  const test::Bytes magic = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};
  PickleWriter head;
  head.proto().integer(1001).stop().proto().op('}').str("little_endian").op(0x88).op('s').stop();
  PickleWriter keys;
  keys.proto().op(']').mark().str("0").op('e').stop();
  auto file = [&](std::int64_t declared, std::int64_t record, std::size_t floats) {
    test::Bytes b = magic;
    const test::Bytes obj = state_dict_pickle({2, 3}, {3, 1}, int(declared), 0);
    for (const test::Bytes* part : {&std::as_const(head.out), &obj, &std::as_const(keys.out)})
      b.insert(b.end(), part->begin(), part->end());
    for (int k = 0; k < 8; ++k) b.push_back(std::uint8_t(std::uint64_t(record) >> (8 * k)));
    const test::Bytes data = test::float_bytes(std::vector<float>(floats, 1.5f));
    b.insert(b.end(), data.begin(), data.end());
    return b;
  };
  auto w = parse_pth(file(6, 6, 6));
  ASSERT_TRUE(w.ok()) << w.status().message();
  EXPECT_EQ(w->at("conv.weight").data, std::vector<float>(6, 1.5f));
  w = parse_pth(file(6, std::int64_t{1} << 61, 6));
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("truncated"), std::string::npos) << w.status().message();
  w = parse_pth(file(6, 4, 4));  // the reference declares 6 elements, the record holds 4
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("needs 6 elements"), std::string::npos) << w.status().message();
}

TEST(PthReader, NotAZipOrLegacyFormat) {
  const std::vector<std::uint8_t> pickle_only = {0x80, 0x02, 0x7d, 0x2e};  // a bare pickle of {}
  auto w = parse_pth(pickle_only);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("not a PyTorch checkpoint"), std::string::npos) << w.status().message();
  w = parse_pth(std::vector<std::uint8_t>(100, 'x'));
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("not a zip archive"), std::string::npos);
  auto f = read_pth("/nonexistent/model.pth");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().message().rfind("/nonexistent/model.pth: ", 0), 0u);
}

}  // namespace
}  // namespace resr::formats
