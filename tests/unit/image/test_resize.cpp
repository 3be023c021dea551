// resize_image: exactness where it must be exact, kernel values, antialiasing, precision and alpha handling.
#include "image/resize.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <set>
#include <tuple>
#include <vector>

#include "test_images.h"

namespace resr {
namespace {

using testing::make_image;

constexpr ResizeFilter kAllFilters[] = {ResizeFilter::kLanczos3, ResizeFilter::kArea, ResizeFilter::kBicubic,
                                        ResizeFilter::kNearest};

std::uint32_t sample(const Image& img, std::size_t i) {
  return img.bits == 8 ? img.bytes[i] : img.sample16(i);
}

void set_sample(Image& img, std::size_t i, std::uint32_t v) {
  if (img.bits == 8) {
    img.bytes[i] = std::uint8_t(v);
  } else {
    const auto v16 = std::uint16_t(v);
    std::memcpy(img.bytes.data() + 2 * i, &v16, 2);
  }
}

using testing::blank;

// Every pixel holds `pixel` (one value per channel).
Image constant(int width, int height, int bits, const std::vector<std::uint32_t>& pixel) {
  Image img = blank(width, height, int(pixel.size()), bits);
  for (std::size_t i = 0; i < img.sample_count(); ++i) set_sample(img, i, pixel[i % pixel.size()]);
  return img;
}

class ResizeLayouts : public ::testing::TestWithParam<std::tuple<int, int>> {};

TEST_P(ResizeLayouts, IdentityIsExact) {
  auto [channels, bits] = GetParam();
  Image img = make_image(13, 9, channels, bits);  // includes transparent pixels with colour under them
  for (ResizeFilter f : kAllFilters) {
    Image out = resize_image(img, 13, 9, f, bits);
    EXPECT_EQ(out.width, 13);
    EXPECT_EQ(out.height, 9);
    EXPECT_EQ(out.channels, channels);
    EXPECT_EQ(out.bytes, img.bytes);
  }
}

TEST_P(ResizeLayouts, ConstantStaysConstant) {
  auto [channels, bits] = GetParam();
  std::vector<std::uint32_t> pixel = {37, 200, 91, 128};
  if (bits == 16) pixel = {12345, 65535, 1, 40000};
  pixel.resize(std::size_t(channels));
  Image img = constant(11, 7, bits, pixel);
  const int sizes[][2] = {{29, 5}, {5, 19}, {1, 1}, {40, 40}, {3, 2}, {11, 3}};
  for (ResizeFilter f : kAllFilters) {
    for (auto [w, h] : sizes) {
      Image out = resize_image(img, w, h, f, bits);
      ASSERT_EQ(out.bytes.size(), std::size_t(w) * h * channels * (bits / 8));
      for (std::size_t i = 0; i < out.sample_count(); ++i) {
        ASSERT_EQ(sample(out, i), pixel[i % pixel.size()]) << "filter " << int(f) << " to " << w << "x" << h;
      }
    }
  }
}

TEST_P(ResizeLayouts, AreaUndoesNearestUpscale) {
  auto [channels, bits] = GetParam();
  Image img = make_image(9, 7, channels, bits, 7);
  for (std::size_t i = channels - 1; img.has_alpha() && i < img.sample_count(); i += channels) {
    set_sample(img, i, bits == 8 ? 255 : 65535);  // opaque: the colour of transparent pixels is not kept
  }
  Image up = resize_image(img, 18, 14, ResizeFilter::kNearest, bits);
  for (int y = 0; y < 14; ++y) {  // nearest 2x duplicates every pixel
    for (int x = 0; x < 18; ++x) {
      for (int c = 0; c < channels; ++c) {
        ASSERT_EQ(sample(up, (std::size_t(y) * 18 + x) * channels + c),
                  sample(img, (std::size_t(y / 2) * 9 + x / 2) * channels + c));
      }
    }
  }
  Image down = resize_image(up, 9, 7, ResizeFilter::kArea, bits);
  EXPECT_EQ(down.bytes, img.bytes);
}

INSTANTIATE_TEST_SUITE_P(AllLayouts, ResizeLayouts,
                         ::testing::Combine(::testing::Values(1, 2, 3, 4), ::testing::Values(8, 16)));

TEST(Resize, BitDepthConversion) {
  Image img = make_image(6, 4, 3, 8);
  Image wide = resize_image(img, 6, 4, ResizeFilter::kLanczos3, 16);
  ASSERT_EQ(wide.bits, 16);
  for (std::size_t i = 0; i < img.sample_count(); ++i) ASSERT_EQ(wide.sample16(i), img.bytes[i] * 257u);
  Image back = resize_image(wide, 6, 4, ResizeFilter::kBicubic, 8);
  EXPECT_EQ(back.bytes, img.bytes);
  Image up = resize_image(img, 12, 8, ResizeFilter::kNearest, 16);  // filtered path converts too
  EXPECT_EQ(up.sample16(0), img.bytes[0] * 257u);
}

TEST(Resize, BicubicIsKeysCubic) {
  // A step upscaled 2x samples at quarter phases: Keys (a = -0.5) weights there are 0.8671875, 0.2265625,
  // -0.0703125, -0.0234375; bilinear would give 16384 and 49151 instead.
  Image step = blank(8, 1, 1, 16);
  for (int x = 4; x < 8; ++x) set_sample(step, std::size_t(x), 65535);
  Image out = resize_image(step, 16, 1, ResizeFilter::kBicubic, 16);
  EXPECT_NEAR(out.sample16(7), 13312, 1);  // 65535 * (0.2265625 - 0.0234375)
  EXPECT_NEAR(out.sample16(8), 52223, 1);  // 65535 * (0.8671875 - 0.0703125)
  EXPECT_EQ(out.sample16(6), 0u);          // undershoot, clamped
  EXPECT_EQ(out.sample16(0), 0u);
  EXPECT_EQ(out.sample16(15), 65535u);
}

TEST(Resize, DownscalingIsAntialiased) {
  // A one-pixel checkerboard has no low frequencies: a filter stretched by the scale averages it to mid-gray,
  // a point-sampled kernel would alias into stripes.
  Image board = blank(64, 64, 1, 8);
  for (int y = 0; y < 64; ++y) {
    for (int x = 0; x < 64; ++x) set_sample(board, std::size_t(y) * 64 + x, (x + y) % 2 ? 255 : 0);
  }
  for (ResizeFilter f : {ResizeFilter::kLanczos3, ResizeFilter::kArea, ResizeFilter::kBicubic}) {
    Image out = resize_image(board, 16, 16, f, 8);
    for (int y = 0; y < 16; ++y) {
      for (int x = 0; x < 16; ++x) {
        // Clamped edges repeat the border pixel, which tilts the balance there a little.
        const bool edge = x == 0 || y == 0 || x == 15 || y == 15;
        ASSERT_NEAR(int(out.bytes[std::size_t(y) * 16 + x]), 128, edge ? 4 : 1) << int(f) << " " << x << "," << y;
      }
    }
  }
}

TEST(Resize, Keeps16BitPrecision) {
  Image ramp = blank(4096, 2, 1, 16);
  for (std::size_t i = 0; i < ramp.sample_count(); ++i) set_sample(ramp, i, std::uint32_t(i % 4096) * 16);
  for (ResizeFilter f : kAllFilters) {
    for (int w : {1000, 6000}) {
      Image out = resize_image(ramp, w, 3, f, 16);
      std::set<std::uint16_t> distinct;
      std::size_t off_8bit_grid = 0;
      for (std::size_t i = 0; i < out.sample_count(); ++i) {
        distinct.insert(out.sample16(i));
        off_8bit_grid += out.sample16(i) % 257 != 0;
      }
      EXPECT_GT(distinct.size(), 900u) << int(f) << " to " << w;
      EXPECT_GT(off_8bit_grid, out.sample_count() * 9 / 10) << int(f) << " to " << w;
    }
  }
}

TEST(Resize, TransparentColourDoesNotBleed) {
  // An opaque red pixel among transparent black ones: filtering unpremultiplied colour would darken it.
  for (int bits : {8, 16}) {
    const std::uint32_t max = bits == 8 ? 255 : 65535;
    Image img = blank(3, 3, 4, bits);
    set_sample(img, 4 * 4 + 0, max);
    set_sample(img, 4 * 4 + 3, max);
    for (ResizeFilter f : kAllFilters) {
      for (auto [w, h] : {std::pair{7, 7}, {2, 2}, {9, 4}, {1, 1}}) {
        Image out = resize_image(img, w, h, f, bits);
        std::size_t visible = 0;
        for (std::size_t p = 0; p < std::size_t(w) * h; ++p) {
          if (sample(out, p * 4 + 3) == 0) continue;
          ++visible;
          ASSERT_EQ(sample(out, p * 4 + 0), max) << int(f) << " " << w << "x" << h;
          ASSERT_EQ(sample(out, p * 4 + 1), 0u);
          ASSERT_EQ(sample(out, p * 4 + 2), 0u);
        }
        if (f != ResizeFilter::kNearest) {  // nearest 3 -> 2 skips the middle pixel
          EXPECT_GT(visible, 0u);
        }
      }
    }
  }
}

TEST(Resize, OneByOneAndOddSizes) {
  Image dot = constant(1, 1, 8, {10, 20, 30});
  for (ResizeFilter f : kAllFilters) {
    Image out = resize_image(dot, 5, 3, f, 8);
    ASSERT_EQ(out.bytes.size(), 45u);
    for (std::size_t i = 0; i < out.sample_count(); ++i) ASSERT_EQ(out.bytes[i], std::uint8_t(10 + 10 * (i % 3)));
  }
  Image img = make_image(7, 5, 1, 8);
  Image mean = resize_image(img, 1, 1, ResizeFilter::kArea, 8);
  unsigned sum = 0;
  for (std::uint8_t v : img.bytes) sum += v;
  EXPECT_EQ(mean.bytes[0], (sum + 17) / 35);
  for (ResizeFilter f : kAllFilters) {
    for (auto [w, h] : {std::pair{3, 7}, {13, 1}, {1, 9}, {6, 4}}) {
      Image out = resize_image(img, w, h, f, 8);
      EXPECT_EQ(out.width, w);
      EXPECT_EQ(out.height, h);
      EXPECT_EQ(out.bytes.size(), std::size_t(w) * h);
    }
  }
}

// RowResampler gives resize_image's output sample for sample however the input is cut into bands, and writes an
// output row as soon as the rows it reads have come: most of the input gives part of the output, not none or all.
TEST(RowResampler, BandsGiveTheWholeResizeAndStreamTheOutput) {
  for (ResizeFilter f : kAllFilters) {
    for (int channels = 1; channels <= 4; ++channels) {
      for (int bits : {8, 16}) {
        const Image in = make_image(23, 17, channels, bits, std::uint32_t(channels * 7 + bits));
        for (auto [w, h] : {std::pair{9, 6}, {50, 40}, {11, 31}, {23, 5}}) {
          const Image whole = resize_image(in, w, h, f, 16);
          for (int band : {1, 2, 5, 17}) {
            Image out = blank(w, h, channels, 16);
            RowResampler r(in.width, in.height, out, f);
            bool checked = false;
            for (int y = 0; y < in.height; y += band) {
              // Each band as its own image, as upscale's last pass holds one row of tiles.
              const int rows = std::min(band, in.height - y);
              Image part = blank(in.width, rows, channels, bits);
              const std::size_t row_bytes = std::size_t(in.width) * channels * (bits / 8);
              std::memcpy(part.bytes.data(), in.bytes.data() + std::size_t(y) * row_bytes, rows * row_bytes);
              r.push(part, 0, rows);
              if (!checked && y + rows >= 12 && y + rows < in.height && h > 5) {
                checked = true;
                EXPECT_GT(r.rows_written(), 0) << "filter " << int(f) << " to " << w << "x" << h;
                EXPECT_LT(r.rows_written(), h) << "filter " << int(f) << " to " << w << "x" << h;
              }
            }
            EXPECT_EQ(r.rows_pushed(), in.height);
            ASSERT_EQ(r.rows_written(), h);
            ASSERT_EQ(out.bytes, whole.bytes) << "filter " << int(f) << ", " << channels << " channels, " << bits
                                              << " bits, to " << w << "x" << h << ", bands of " << band;
          }
        }
      }
    }
  }
}

TEST(Resize, CarriesMetadata) {
  Image img = make_image(4, 4, 3, 8);
  img.icc_profile = {1, 2, 3};
  img.exif = {'I', 'I', 42, 0};
  Image out = resize_image(img, 8, 2, ResizeFilter::kLanczos3, 8);
  EXPECT_EQ(out.icc_profile, img.icc_profile);
  EXPECT_EQ(out.exif, img.exif);
}

}  // namespace
}  // namespace resr
