// exif_orientation / apply_exif_orientation: the eight orientations, both byte orders, and hostile EXIF.
#include "image/metadata.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <tuple>
#include <vector>

#include "support/exif_blobs.h"
#include "test_images.h"

namespace resr {
namespace {

using testing::kExifOrientationAt;
using testing::make_exif;

Image gray(int width, int height, std::vector<std::uint8_t> values) {
  Image img;
  img.width = width;
  img.height = height;
  img.channels = 1;
  img.bits = 8;
  img.bytes = std::move(values);
  return img;
}

// The upright image is 3x2 {1 2 3 / 4 5 6}; a camera holding it in orientation o stores these pixels
// (worked out by hand from the EXIF definitions, not with the code under test).
Image stored_for(int orientation) {
  switch (orientation) {
    case 1:
      return gray(3, 2, {1, 2, 3, 4, 5, 6});
    case 2:
      return gray(3, 2, {3, 2, 1, 6, 5, 4});
    case 3:
      return gray(3, 2, {6, 5, 4, 3, 2, 1});
    case 4:
      return gray(3, 2, {4, 5, 6, 1, 2, 3});
    case 5:
      return gray(2, 3, {1, 4, 2, 5, 3, 6});
    case 6:
      return gray(2, 3, {3, 6, 2, 5, 1, 4});
    case 7:
      return gray(2, 3, {6, 3, 5, 2, 4, 1});
    case 8:
      return gray(2, 3, {4, 1, 5, 2, 6, 3});
  }
  return {};
}

class Orientation : public ::testing::TestWithParam<std::tuple<int, bool>> {};

TEST_P(Orientation, EndsUpUpright) {
  auto [orientation, big_endian] = GetParam();
  Image img = stored_for(orientation);
  img.exif = make_exif(big_endian, orientation);
  const std::vector<std::uint8_t> exif_before = img.exif;
  EXPECT_EQ(exif_orientation(img), orientation);

  apply_exif_orientation(img);
  EXPECT_EQ(img.width, 3);
  EXPECT_EQ(img.height, 2);
  EXPECT_EQ(img.bytes, (std::vector<std::uint8_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(exif_orientation(img), 1);
  std::vector<std::uint8_t> expected_exif = make_exif(big_endian, 1);
  EXPECT_EQ(img.exif, expected_exif);  // only the orientation value changed
  EXPECT_EQ(img.exif.size(), exif_before.size());

  apply_exif_orientation(img);  // idempotent once upright
  EXPECT_EQ(img.bytes, (std::vector<std::uint8_t>{1, 2, 3, 4, 5, 6}));
}

INSTANTIATE_TEST_SUITE_P(AllEight, Orientation, ::testing::Combine(::testing::Range(1, 9), ::testing::Bool()));

// A thumbnail (IFD1) is stored as the pixels were and shown turned by the orientation tag: once the pixels are
// upright and the tag 1 it would show sideways, so it is unlinked; with nothing turned it stays.
TEST(Orientation, TurningThePixelsUnlinksTheThumbnail) {
  constexpr std::size_t kNextIfdAt = 8 + 2 + 12 * 3;  // after make_exif's three IFD0 entries
  for (const bool big_endian : {false, true}) {
    for (const int orientation : {1, 6}) {
      Image img = stored_for(orientation);
      img.exif = make_exif(big_endian, orientation, 16);
      img.exif[kNextIfdAt + (big_endian ? 3 : 0)] = 64;  // IFD1 at byte 64, in the padding
      apply_exif_orientation(img);
      const std::uint8_t* next = img.exif.data() + kNextIfdAt;
      EXPECT_EQ(next[0] | next[1] | next[2] | next[3], orientation == 1 ? 64 : 0) << big_endian;
      EXPECT_EQ(exif_orientation(img), 1);
    }
  }
}

TEST(Orientation, MovesWholeMultiBytePixels) {
  // RGBA 16-bit, rotate 90 clockwise (6): pixel (x, y) of the upright image is stored pixel (y, h - 1 - x).
  Image img = testing::make_image(5, 3, 4, 16);
  const Image stored = img;
  img.exif = make_exif(false, 6);
  apply_exif_orientation(img);
  ASSERT_EQ(img.width, 3);
  ASSERT_EQ(img.height, 5);
  ASSERT_EQ(img.bytes.size(), stored.bytes.size());
  for (int y = 0; y < 5; ++y) {
    for (int x = 0; x < 3; ++x) {
      EXPECT_EQ(0, std::memcmp(img.bytes.data() + (std::size_t(y) * 3 + x) * 8,
                               stored.bytes.data() + (std::size_t(2 - x) * 5 + y) * 8, 8));
    }
  }
}

TEST(Orientation, AbsentMeansOne) {
  Image img = stored_for(6);
  const Image before = img;
  EXPECT_EQ(exif_orientation(img), 1);  // no EXIF
  img.exif = make_exif(true, 0);        // EXIF without the tag
  EXPECT_EQ(exif_orientation(img), 1);
  apply_exif_orientation(img);
  EXPECT_EQ(img.bytes, before.bytes);
  EXPECT_EQ(img.exif, make_exif(true, 0));
}

// Sets a 16- or 32-bit field of little-endian EXIF.
void poke(std::vector<std::uint8_t>& e, std::size_t at, std::uint32_t v, int size) {
  for (int i = 0; i < size; ++i) e[at + std::size_t(i)] = std::uint8_t(v >> (8 * i));
}

void expect_ignored(const std::vector<std::uint8_t>& exif, const char* what) {
  Image img = stored_for(6);
  img.exif = exif;
  EXPECT_EQ(exif_orientation(img), 1) << what;
  apply_exif_orientation(img);
  EXPECT_EQ(img.bytes, stored_for(6).bytes) << what;
  EXPECT_EQ(img.exif, exif) << what;
}

TEST(Orientation, MalformedExifIsIgnored) {
  const std::vector<std::uint8_t> good = make_exif(false, 6);
  for (std::size_t n = 0; n < kExifOrientationAt + 2; ++n) {  // every truncation that cuts the tag off
    expect_ignored({good.begin(), good.begin() + std::ptrdiff_t(n)}, "truncated");
  }
  auto bad = [&](std::size_t at, std::uint32_t v, int size, const char* what) {
    std::vector<std::uint8_t> e = good;
    poke(e, at, v, size);
    expect_ignored(e, what);
  };
  bad(4, 0xFFFFFFFF, 4, "IFD offset at the end of the address space");
  bad(4, 0xFFFFFFF0, 4, "IFD offset wrapping");
  bad(4, std::uint32_t(good.size() - 1), 4, "IFD offset on the last byte");
  bad(4, std::uint32_t(good.size()), 4, "IFD offset just past the end");
  std::vector<std::uint8_t> endless = make_exif(false, 0);  // no orientation among the real entries
  poke(endless, 8, 0xFFFF, 2);
  expect_ignored(endless, "entry count far beyond the data");
  bad(2, 43, 2, "bad magic");
  bad(0, 'I' | 'M' << 8, 2, "mixed byte order mark");
  bad(kExifOrientationAt - 6, 4, 2, "orientation typed LONG");
  bad(kExifOrientationAt - 4, 2, 4, "orientation count 2");
  bad(kExifOrientationAt, 0, 2, "orientation 0");
  bad(kExifOrientationAt, 9, 2, "orientation 9");
  bad(kExifOrientationAt, 0x0600, 2, "orientation in the wrong byte order");

  std::vector<std::uint8_t> prefixed = {'E', 'x', 'i', 'f', 0, 0};  // the JPEG container prefix is not EXIF
  prefixed.insert(prefixed.end(), good.begin(), good.end());
  expect_ignored(prefixed, "Exif prefix");
  expect_ignored({'I', 'I', 42, 0, 8, 0, 0, 0}, "header only");
}

TEST(Orientation, RandomCorruptionNeverCrashes) {
  std::mt19937 rng(12345);
  for (int iter = 0; iter < 5000; ++iter) {
    std::vector<std::uint8_t> e = make_exif(iter % 2 == 0, 1 + iter % 8, iter % 3 == 0 ? 40 : 0);
    const int flips = 1 + int(rng() % 6);
    for (int i = 0; i < flips; ++i) e[rng() % e.size()] = std::uint8_t(rng());
    if (rng() % 4 == 0) e.resize(rng() % e.size());
    Image img = testing::make_image(3, 5, 2, 8);
    img.exif = e;
    const int o = exif_orientation(img);
    ASSERT_GE(o, 1);
    ASSERT_LE(o, 8);
    apply_exif_orientation(img);
    ASSERT_EQ(img.bytes.size(), 30u);
    ASSERT_EQ(img.width * img.height, 15);
    ASSERT_EQ(exif_orientation(img), 1);
    ASSERT_EQ(img.exif.size(), e.size());
  }
}

// The EXIF a written image carries states its own size (engine::upscale_image rewrites it after the passes).
TEST(ExifPixelDimensions, AreRewrittenInPlaceInBothByteOrders) {
  for (const bool big_endian : {false, true}) {
    Image img = gray(2, 1, {0, 0});
    img.width = 148;
    img.height = 116;
    img.exif = testing::make_exif_with_size(big_endian, 37, 29);
    std::vector<std::uint8_t> expected = testing::make_exif_with_size(big_endian, 148, 116);
    set_exif_pixel_dimensions(img);
    EXPECT_EQ(img.exif, expected) << big_endian;
    // A SHORT cannot hold 65536: the entry becomes a LONG, in its own value field.
    img.width = 70000;
    img.height = 65536;
    set_exif_pixel_dimensions(img);
    expected = testing::make_exif_with_size(big_endian, 70000, 0);
    expected[testing::kExifPixelYAt - 6 + (big_endian ? 1 : 0)] = 4;  // type LONG
    for (int k = 0; k < 4; ++k)
      expected[testing::kExifPixelYAt + std::size_t(k)] = std::uint8_t(65536u >> (big_endian ? 24 - 8 * k : 8 * k));
    EXPECT_EQ(img.exif, expected) << big_endian;
  }
}

TEST(ExifPixelDimensions, MalformedOrMissingIsLeftAlone) {
  Image img = gray(2, 1, {0, 0});
  img.exif = make_exif(false, 6);  // no EXIF IFD at all
  std::vector<std::uint8_t> before = img.exif;
  set_exif_pixel_dimensions(img);
  EXPECT_EQ(img.exif, before);
  img.exif = testing::make_exif_with_size(false, 37, 29);
  img.exif[21] = 0xFF;  // the ExifIFD pointer (bytes 18-21) past the end
  before = img.exif;
  set_exif_pixel_dimensions(img);
  EXPECT_EQ(img.exif, before);
  for (std::size_t cut = 0; cut < testing::make_exif_with_size(false, 1, 1).size(); ++cut) {
    img.exif = testing::make_exif_with_size(false, 37, 29);
    img.exif.resize(cut);
    before = img.exif;
    set_exif_pixel_dimensions(img);  // never past the end (ASan in the fuzzed decoders; here: size and contents)
    ASSERT_EQ(img.exif.size(), cut);
    if (cut < testing::kExifPixelXAt + 4) {
      EXPECT_EQ(img.exif, before) << cut;
    }
  }
}

}  // namespace
}  // namespace resr
