// Round trips through every codec, format_from_extension, and the file helpers' atomic-write contract.
#include "image/codec.h"

#include <gtest/gtest.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "support/temp_dir.h"
#include "test_images.h"

namespace resr {
namespace {

using testing::make_image;
namespace fs = std::filesystem;

Image round_trip(const Image& img, ImageFormat format, EncodeOptions options = {}) {
  Result<std::vector<std::uint8_t>> encoded = encode_image(img, format, options);
  EXPECT_TRUE(encoded.ok()) << encoded.status().message();
  if (!encoded.ok()) return {};
  Result<Image> decoded = decode_image(*encoded);
  EXPECT_TRUE(decoded.ok()) << decoded.status().message();
  return decoded.ok() ? std::move(decoded).value() : Image{};
}

double mean_abs_diff(const Image& a, const Image& b) {
  double sum = 0;
  for (std::size_t i = 0; i < a.bytes.size(); ++i) sum += std::abs(int(a.bytes[i]) - int(b.bytes[i]));
  return sum / double(a.bytes.size());
}

// 16-bit sample rounded to 8 bits: the reference for codecs that only store 8 bits.
std::uint8_t to8(std::uint16_t v) {
  return std::uint8_t((v * 255u + 32767u) / 65535u);
}

// Keeps channels [0, keep) of each pixel: the reference for codecs that drop alpha.
Image drop_channels(const Image& img, int keep) {
  Image out = img;
  out.channels = keep;
  out.bytes.resize(out.sample_count());
  for (std::size_t p = 0; p < std::size_t(img.width) * img.height; ++p) {
    for (int c = 0; c < keep; ++c) out.bytes[p * keep + c] = img.bytes[p * img.channels + c];
  }
  return out;
}

class PngRoundTrip : public ::testing::TestWithParam<std::tuple<int, int>> {};

TEST_P(PngRoundTrip, IsExact) {
  auto [channels, bits] = GetParam();
  Image img = make_image(37, 23, channels, bits);
  Image back = round_trip(img, ImageFormat::kPng);
  EXPECT_EQ(back.width, 37);
  EXPECT_EQ(back.height, 23);
  EXPECT_EQ(back.channels, channels);
  EXPECT_EQ(back.bits, bits);
  EXPECT_EQ(back.bytes, img.bytes);
}

INSTANTIATE_TEST_SUITE_P(AllLayouts, PngRoundTrip,
                         ::testing::Combine(::testing::Values(1, 2, 3, 4), ::testing::Values(8, 16)));

// PNG image data is compressed in bands of kPngBandRows rows (png_idat.h): exact for heights on and around the
// band edges, and the same bytes whatever the number of threads.
TEST(PngBands, ExactAcrossBandEdgesAndIndependentOfThreads) {
  for (int height : {1, 63, 64, 65, 129, 200}) {
    for (int width : {1, 7}) {
      for (auto [channels, bits] : {std::pair{3, 8}, std::pair{4, 16}, std::pair{1, 16}}) {
        const Image img = make_image(width, height, channels, bits);
        const Image back = round_trip(img, ImageFormat::kPng);
        ASSERT_EQ(back.height, height);
        EXPECT_EQ(back.bytes, img.bytes) << width << "x" << height << " c" << channels << " b" << bits;
      }
    }
  }
  const Image img = make_image(50, 300, 3, 8);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  Result<std::vector<std::uint8_t>> one = encode_image(img, ImageFormat::kPng, {});
  omp_set_num_threads(3);
  Result<std::vector<std::uint8_t>> three = encode_image(img, ImageFormat::kPng, {});
  omp_set_num_threads(threads);
  ASSERT_TRUE(one.ok() && three.ok());
  EXPECT_EQ(*one, *three);
}

TEST(Image, Sample16IsNativeEndian) {
  Image img = make_image(2, 1, 1, 16);
  std::uint16_t v;
  std::memcpy(&v, img.bytes.data() + 2, 2);
  EXPECT_EQ(img.sample16(1), v);
  EXPECT_EQ(img.sample_count(), 2u);
  EXPECT_FALSE(img.has_alpha());
  EXPECT_TRUE(make_image(1, 1, 2, 8).has_alpha());
  EXPECT_TRUE(make_image(1, 1, 4, 8).has_alpha());
}

TEST(JpegRoundTrip, RgbIsClose) {
  Image img = make_image(64, 40, 3, 8);
  Image back = round_trip(img, ImageFormat::kJpeg);
  ASSERT_EQ(back.channels, 3);
  EXPECT_EQ(back.bits, 8);
  EXPECT_LT(mean_abs_diff(img, back), 3.0);
}

TEST(JpegRoundTrip, LowQualityStillDecodes) {  // 4:2:0 path
  Image img = make_image(33, 17, 3, 8);
  Image back = round_trip(img, ImageFormat::kJpeg, {.quality = 40});
  ASSERT_EQ(back.channels, 3);
  EXPECT_LT(mean_abs_diff(img, back), 16.0);  // the test image's per-channel noise is hard on 4:2:0 chroma
}

TEST(JpegRoundTrip, GrayStaysGray) {
  Image img = make_image(30, 20, 1, 8);
  Image back = round_trip(img, ImageFormat::kJpeg);
  ASSERT_EQ(back.channels, 1);
  EXPECT_LT(mean_abs_diff(img, back), 3.0);
}

TEST(JpegRoundTrip, DropsAlphaAndRounds16Bit) {
  Image img = make_image(24, 16, 4, 16);
  Image back = round_trip(img, ImageFormat::kJpeg);
  ASSERT_EQ(back.channels, 3);
  EXPECT_EQ(back.bits, 8);
  Image expected = drop_channels(make_image(24, 16, 4, 8), 3);  // 16-bit samples are v8 * 257 + small noise
  EXPECT_LT(mean_abs_diff(expected, back), 3.0);

  Image gray_alpha = round_trip(make_image(10, 10, 2, 8), ImageFormat::kJpeg);
  EXPECT_EQ(gray_alpha.channels, 1);
}

TEST(WebpRoundTrip, LosslessRgbAndRgbaAreExact) {
  for (int channels : {3, 4}) {
    Image img = make_image(41, 29, channels, 8);
    Image back = round_trip(img, ImageFormat::kWebp, {.lossless = true});
    ASSERT_EQ(back.channels, channels);
    EXPECT_EQ(back.bytes, img.bytes) << channels << " channels";  // including RGB under alpha 0 (exact mode)
  }
}

TEST(WebpRoundTrip, LossyIsClose) {
  for (int channels : {3, 4}) {
    Image img = make_image(64, 48, channels, 8);
    Image back = round_trip(img, ImageFormat::kWebp, {.quality = 95});
    ASSERT_EQ(back.channels, channels);
    if (channels == 3) {
      EXPECT_LT(mean_abs_diff(img, back), 8.0);  // WebP lossy is always 4:2:0; the test image has chroma noise
    } else {  // lossy WebP may alter RGB under alpha 0, but alpha itself is coded losslessly
      for (std::size_t p = 0; p < 64 * 48; ++p) EXPECT_EQ(back.bytes[p * 4 + 3], img.bytes[p * 4 + 3]);
    }
  }
}

TEST(WebpRoundTrip, GrayExpandsToRgb) {
  Image img = make_image(20, 12, 2, 16);
  Image back = round_trip(img, ImageFormat::kWebp, {.lossless = true});
  ASSERT_EQ(back.channels, 4);
  for (std::size_t p = 0; p < 20 * 12; ++p) {
    for (int c = 0; c < 3; ++c) EXPECT_EQ(back.bytes[p * 4 + c], to8(img.sample16(p * 2)));
    EXPECT_EQ(back.bytes[p * 4 + 3], to8(img.sample16(p * 2 + 1)));
  }
}

TEST(EncodeImage, RejectsBadInput) {
  Image img = make_image(4, 4, 3, 8);
  EXPECT_NE(encode_image(img, ImageFormat::kJpeg, {.quality = 0}).status().message().find("out of range"),
            std::string::npos);
  EXPECT_FALSE(encode_image(img, ImageFormat::kWebp, {.quality = 101}).ok());
  Image bad = img;
  bad.bytes.pop_back();
  EXPECT_NE(encode_image(bad, ImageFormat::kPng, {}).status().message().find("invalid image"), std::string::npos);
  bad = img;
  bad.bits = 12;
  EXPECT_FALSE(encode_image(bad, ImageFormat::kPng, {}).ok());
  bad = img;
  bad.channels = 5;
  EXPECT_FALSE(encode_image(bad, ImageFormat::kPng, {}).ok());
  EXPECT_FALSE(encode_image(Image{}, ImageFormat::kPng, {}).ok());
  Image wide;
  wide.width = 16384;
  wide.height = 1;
  wide.channels = 1;
  wide.bytes.resize(16384);
  EXPECT_NE(encode_image(wide, ImageFormat::kWebp, {}).status().message().find("WebP limit"), std::string::npos);
  EXPECT_TRUE(encode_image(wide, ImageFormat::kPng, {}).ok());
}

// What resr writes may be larger than what it reads: an upscaled 8K frame is 2^29 pixels, while a decoded file
// stays under 2^28 (a small hostile file must not cost gigabytes). 16400x16400 gray (269 MB): encoded, and its
// file then refused by the decoder with the input limit; past 2^30 the encoder refuses too.
TEST(EncodeImage, OutputsMayExceedTheDecodeLimit) {
  Image big;
  big.width = 16400;
  big.height = 16400;
  big.channels = 1;
  big.bits = 8;
  ASSERT_GT(std::int64_t(big.width) * big.height, kMaxImagePixels);
  big.bytes.assign(big.sample_count(), 7);
  for (ImageFormat f : {ImageFormat::kPng, ImageFormat::kTiff}) {
    Result<std::vector<std::uint8_t>> file = encode_image(big, f, {});
    ASSERT_TRUE(file.ok()) << file.status().message();
    EXPECT_EQ(decode_image(*file).status().message(),
              "image dimensions 16400x16400 exceed the limit of 268435456 pixels");
  }
  Image huge;
  huge.width = 65536;
  huge.height = 16385;
  huge.channels = 1;
  EXPECT_EQ(encode_image(huge, ImageFormat::kPng, {}).status().message(),
            "image dimensions 65536x16385 exceed the limit of 1073741824 pixels");
}

TEST(FormatFromExtension, KnownAndUnknown) {
  EXPECT_EQ(*format_from_extension("a/b.png"), ImageFormat::kPng);
  EXPECT_EQ(*format_from_extension("B.PNG"), ImageFormat::kPng);
  EXPECT_EQ(*format_from_extension("x.jpg"), ImageFormat::kJpeg);
  EXPECT_EQ(*format_from_extension("x.JPEG"), ImageFormat::kJpeg);
  EXPECT_EQ(*format_from_extension("dir.png/x.WebP"), ImageFormat::kWebp);
  Result<ImageFormat> bad = format_from_extension("out.xyz");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "unsupported output extension '.xyz' (use .png, .jpg, .webp or .tif)");
  EXPECT_FALSE(format_from_extension("dir.png/noext").ok());
  EXPECT_FALSE(format_from_extension("").ok());
  EXPECT_FALSE(format_from_extension("x.png.bak").ok());
}

class ImageFiles : public ::testing::Test {
 protected:
  void SetUp() override { fs::create_directories(dir_); }
  // Names of every file in the directory, so a test can assert that no temporary was left behind.
  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
  const test::ScopedTempDir tmp_{"resr_image_test_"};
  const fs::path& dir_ = tmp_.path();
};

TEST_F(ImageFiles, WriteThenReadEachFormat) {
  Image img = make_image(16, 9, 3, 8);
  for (const char* name : {"a.png", "b.jpg", "c.webp"}) {
    std::string path = (dir_ / name).string();
    Result<ImageFormat> format = format_from_extension(path);
    ASSERT_TRUE(format.ok());
    Status written = write_image_file(img, path, *format, {});
    ASSERT_TRUE(written.ok()) << written.message();
    Result<Image> back = read_image_file(path);
    ASSERT_TRUE(back.ok()) << back.status().message();
    EXPECT_EQ(back->width, 16);
    EXPECT_EQ(back->channels, 3);
  }
  EXPECT_EQ(listing(), (std::vector<std::string>{"a.png", "b.jpg", "c.webp"}));
}

TEST_F(ImageFiles, FailedEncodeLeavesNothing) {
  Image bad = make_image(4, 4, 3, 8);
  bad.bytes.resize(5);
  std::string path = (dir_ / "out.png").string();
  EXPECT_FALSE(write_image_file(bad, path, ImageFormat::kPng, {}).ok());
  EXPECT_TRUE(listing().empty());
}

TEST_F(ImageFiles, MissingDirectoryLeavesNothing) {
  std::string path = (dir_ / "missing" / "out.png").string();
  Status s = write_image_file(make_image(4, 4, 3, 8), path, ImageFormat::kPng, {});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("No such file"), std::string::npos) << s.message();
  EXPECT_FALSE(fs::exists(path));
  EXPECT_TRUE(listing().empty());
}

TEST_F(ImageFiles, FailedWriteKeepsExistingFile) {
  std::string path = (dir_ / "keep.png").string();
  { std::ofstream(path) << "old"; }
  Image bad = make_image(4, 4, 3, 8);
  bad.channels = 0;
  EXPECT_FALSE(write_image_file(bad, path, ImageFormat::kPng, {}).ok());
  EXPECT_EQ(listing(), std::vector<std::string>{"keep.png"});
  EXPECT_EQ(fs::file_size(path), 3u);
}

TEST_F(ImageFiles, ReadErrors) {
  Result<Image> missing = read_image_file((dir_ / "nope.png").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "cannot open: No such file or directory");
  EXPECT_FALSE(read_image_file(dir_.string()).ok());  // a directory
  std::string empty = (dir_ / "empty.png").string();
  { std::ofstream{empty}; }
  EXPECT_EQ(read_image_file(empty).status().message(), "empty file");
  std::string huge = (dir_ / "huge.png").string();
  { std::ofstream{huge}; }
  fs::resize_file(huge, (std::uintmax_t{1} << 30) + 1);  // sparse: costs no disk space
  Result<Image> too_large = read_image_file(huge);
  ASSERT_FALSE(too_large.ok());
  EXPECT_NE(too_large.status().message().find("file is too large"), std::string::npos);
}

}  // namespace
}  // namespace resr
