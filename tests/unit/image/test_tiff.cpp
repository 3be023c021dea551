// TIFF: round trips of every layout resr writes, files in the layouts other tools write (tiles, separate planes,
// palette, 1-bit, orientation), made here with libtiff itself, and bad files.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <tiffio.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "image/codec.h"
#include "image/metadata.h"
#include "image/tiff_exif.h"
#include "support/exif_blobs.h"
#include "support/paths.h"
#include "support/temp_dir.h"
#include "test_images.h"

namespace resr {
namespace {

using testing::make_image;

// A TIFF written by libtiff with `tags` set on it, then each row (or tile) from `pixels` by `write`; its bytes.
// `mode` "wb" writes it big-endian.
std::vector<std::uint8_t> libtiff_file(const std::function<void(TIFF*)>& tags, const std::function<bool(TIFF*)>& write,
                                       const char* mode = "w") {
  const test::ScopedTempDir dir("resr_tiff_");
  std::filesystem::create_directories(dir.path());
  const std::string path = (dir.path() / "t.tif").string();
  TIFF* t = TIFFOpen(path.c_str(), mode);
  EXPECT_NE(t, nullptr);
  if (t == nullptr) return {};
  tags(t);
  EXPECT_TRUE(write(t));
  TIFFClose(t);
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void basic_tags(TIFF* t, int w, int h, int bits, int samples, int photometric) {
  TIFFSetField(t, TIFFTAG_IMAGEWIDTH, w);
  TIFFSetField(t, TIFFTAG_IMAGELENGTH, h);
  TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, bits);
  TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, samples);
  TIFFSetField(t, TIFFTAG_PHOTOMETRIC, photometric);
  TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_LZW);
}

// The one extra sample is straight (unassociated) alpha.
void straight_alpha(TIFF* t) {
  const std::uint16_t alpha = EXTRASAMPLE_UNASSALPHA;
  TIFFSetField(t, TIFFTAG_EXTRASAMPLES, 1, &alpha);
}

Image decoded(const std::vector<std::uint8_t>& bytes) {
  Result<Image> img = decode_image(bytes);
  EXPECT_TRUE(img.ok()) << img.status().message();
  return img.ok() ? std::move(*img) : Image{};
}

TEST(Tiff, EveryLayoutRoundTripsExactlyWithItsProfile) {
  for (int channels = 1; channels <= 4; ++channels)
    for (int bits : {8, 16}) {
      Image img = make_image(37, 29, channels, bits, 5);
      img.icc_profile = std::vector<std::uint8_t>(200, 7);
      std::memcpy(img.icc_profile.data() + 16, channels >= 3 ? "RGB " : "GRAY", 4);
      auto bytes = encode_image(img, ImageFormat::kTiff, {});
      ASSERT_TRUE(bytes.ok()) << bytes.status().message();
      const Image back = decoded(*bytes);
      EXPECT_EQ(back.width, 37);
      EXPECT_EQ(back.height, 29);
      EXPECT_EQ(back.channels, channels);
      EXPECT_EQ(back.bits, bits);
      EXPECT_EQ(back.bytes, img.bytes) << channels << " channels, " << bits << " bits";
      EXPECT_EQ(back.icc_profile, img.icc_profile);
    }
  // Deflate with prediction: about as small as PNG (which filters and deflates too).
  const Image photo = make_image(256, 256, 3, 8);
  auto bytes = encode_image(photo, ImageFormat::kTiff, {});
  auto png = encode_image(photo, ImageFormat::kPng, {});
  ASSERT_TRUE(bytes.ok() && png.ok());
  EXPECT_LT(bytes->size(), photo.bytes.size() * 3 / 4);
  EXPECT_LT(double(bytes->size()), 1.3 * double(png->size())) << "PNG " << png->size();
}

TEST(Tiff, TiledSixteenBitRgbIsReadSampleForSample) {
  const Image img = make_image(37, 29, 3, 16, 9);
  const auto bytes = libtiff_file(
      [](TIFF* t) {
        basic_tags(t, 37, 29, 16, 3, PHOTOMETRIC_RGB);
        TIFFSetField(t, TIFFTAG_TILEWIDTH, 16);
        TIFFSetField(t, TIFFTAG_TILELENGTH, 16);
      },
      [&](TIFF* t) {
        std::vector<std::uint16_t> tile(16 * 16 * 3);
        for (int ty = 0; ty < 29; ty += 16)
          for (int tx = 0; tx < 37; tx += 16) {
            std::fill(tile.begin(), tile.end(), 0);
            for (int y = ty; y < std::min(29, ty + 16); ++y)
              for (int x = tx; x < std::min(37, tx + 16); ++x)
                for (int c = 0; c < 3; ++c)
                  tile[((y - ty) * 16 + (x - tx)) * 3 + c] = img.sample16((std::size_t(y) * 37 + x) * 3 + c);
            if (TIFFWriteTile(t, tile.data(), tx, ty, 0, 0) < 0) return false;
          }
        return true;
      });
  const Image back = decoded(bytes);
  EXPECT_EQ(back.bits, 16);
  EXPECT_EQ(back.bytes, img.bytes);
}

// Tiles are multiples of 16, so a writer that stores a small image as one tile makes it larger than the image;
// some use large fixed tiles on any image. Both are read.
TEST(Tiff, TilesLargerThanTheImageAreRead) {
  const Image img = make_image(20, 12, 3, 8, 4);
  for (int tile : {32, 1024}) {
    const auto bytes = libtiff_file(
        [&](TIFF* t) {
          basic_tags(t, 20, 12, 8, 3, PHOTOMETRIC_RGB);
          TIFFSetField(t, TIFFTAG_TILEWIDTH, tile);
          TIFFSetField(t, TIFFTAG_TILELENGTH, tile);
        },
        [&](TIFF* t) {
          std::vector<std::uint8_t> buf(std::size_t(tile) * tile * 3, 0);
          for (int y = 0; y < 12; ++y)
            std::memcpy(buf.data() + std::size_t(y) * tile * 3, img.bytes.data() + std::size_t(y) * 20 * 3, 20 * 3);
          return TIFFWriteTile(t, buf.data(), 0, 0, 0, 0) >= 0;
        });
    EXPECT_EQ(decoded(bytes).bytes, img.bytes) << tile;
  }
}

TEST(Tiff, SeparatePlanesAreInterleaved) {
  const Image img = make_image(20, 10, 4, 8, 3);
  const auto bytes = libtiff_file(
      [](TIFF* t) {
        basic_tags(t, 20, 10, 8, 4, PHOTOMETRIC_RGB);
        TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_SEPARATE);
        straight_alpha(t);
      },
      [&](TIFF* t) {
        std::vector<std::uint8_t> row(20);
        for (int c = 0; c < 4; ++c)
          for (int y = 0; y < 10; ++y) {
            for (int x = 0; x < 20; ++x) row[x] = img.bytes[(std::size_t(y) * 20 + x) * 4 + c];
            if (TIFFWriteScanline(t, row.data(), y, std::uint16_t(c)) < 0) return false;
          }
        return true;
      });
  const Image back = decoded(bytes);
  EXPECT_EQ(back.channels, 4);
  EXPECT_EQ(back.bytes, img.bytes);
}

TEST(Tiff, PaletteAndOneBitImagesAreRendered) {
  // A 4-entry palette (libtiff's 16-bit colour map), 8 bits per index.
  const auto palette =
      libtiff_file([](TIFF* t) { basic_tags(t, 4, 2, 8, 1, PHOTOMETRIC_PALETTE); },
                   [](TIFF* t) {
                     std::vector<std::uint16_t> r(256, 0), g(256, 0), b(256, 0);
                     r[1] = 0xffff;
                     g[2] = 0xffff;
                     b[3] = 0xffff;
                     if (TIFFSetField(t, TIFFTAG_COLORMAP, r.data(), g.data(), b.data()) == 0) return false;
                     std::uint8_t rows[2][4] = {{0, 1, 2, 3}, {3, 2, 1, 0}};
                     return TIFFWriteScanline(t, rows[0], 0, 0) >= 0 && TIFFWriteScanline(t, rows[1], 1, 0) >= 0;
                   });
  const Image rgb = decoded(palette);
  ASSERT_EQ(rgb.channels, 3);
  ASSERT_EQ(rgb.bits, 8);
  const std::vector<std::uint8_t> first_row = {0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255};
  EXPECT_EQ(std::vector<std::uint8_t>(rgb.bytes.begin(), rgb.bytes.begin() + 12), first_row);
  // 1-bit, 0 is white: a scanned page.
  const auto bilevel = libtiff_file([](TIFF* t) { basic_tags(t, 8, 1, 1, 1, PHOTOMETRIC_MINISWHITE); },
                                    [](TIFF* t) {
                                      std::uint8_t row = 0b10100000;  // black, white, black, then white
                                      return TIFFWriteScanline(t, &row, 0, 0) >= 0;
                                    });
  const Image gray = decoded(bilevel);
  ASSERT_EQ(gray.channels, 1);
  EXPECT_EQ(gray.bytes, (std::vector<std::uint8_t>{0, 255, 0, 255, 255, 255, 255, 255}));
}

TEST(Tiff, AlphaComesOutStraight) {
  // Premultiplied in the file (associated alpha), read sample for sample: made straight.
  const auto associated = libtiff_file(
      [](TIFF* t) {
        basic_tags(t, 1, 1, 8, 4, PHOTOMETRIC_RGB);
        const std::uint16_t kind = EXTRASAMPLE_ASSOCALPHA;
        TIFFSetField(t, TIFFTAG_EXTRASAMPLES, 1, &kind);
      },
      [](TIFF* t) {
        std::uint8_t px[4] = {50, 30, 10, 128};
        return TIFFWriteScanline(t, px, 0, 0) >= 0;
      });
  EXPECT_EQ(decoded(associated).bytes, (std::vector<std::uint8_t>{100, 60, 20, 128}));
  // A second extra sample is dropped; alpha and colour are read as stored (libtiff's rendering would have
  // premultiplied the colour and lost precision at low alpha).
  const auto two_extra = libtiff_file(
      [](TIFF* t) {
        basic_tags(t, 1, 1, 8, 5, PHOTOMETRIC_RGB);
        const std::uint16_t kinds[2] = {EXTRASAMPLE_UNASSALPHA, EXTRASAMPLE_UNSPECIFIED};
        TIFFSetField(t, TIFFTAG_EXTRASAMPLES, 2, kinds);
      },
      [](TIFF* t) {
        std::uint8_t px[5] = {101, 61, 21, 3, 7};
        return TIFFWriteScanline(t, px, 0, 0) >= 0;
      });
  EXPECT_EQ(decoded(two_extra).bytes, (std::vector<std::uint8_t>{101, 61, 21, 3}));
  // Gray with straight alpha, rendered (white is zero): libtiff leaves gray alone, and so does resr.
  const auto gray = libtiff_file(
      [](TIFF* t) {
        basic_tags(t, 1, 1, 8, 2, PHOTOMETRIC_MINISWHITE);
        const std::uint16_t kind = EXTRASAMPLE_UNASSALPHA;
        TIFFSetField(t, TIFFTAG_EXTRASAMPLES, 1, &kind);
      },
      [](TIFF* t) {
        std::uint8_t px[2] = {155, 128};  // gray 100 where 0 is black
        return TIFFWriteScanline(t, px, 0, 0) >= 0;
      });
  const Image gray_alpha = decoded(gray);
  ASSERT_EQ(gray_alpha.channels, 2);
  EXPECT_EQ(gray_alpha.bytes, (std::vector<std::uint8_t>{100, 128}));
}

// Depths other than 8 and 16 are scaled: 12-bit gray to 16 bits (libtiff's rendering has no routine for it).
TEST(Tiff, TwelveBitGrayBecomesSixteen) {
  const auto bytes = libtiff_file([](TIFF* t) { basic_tags(t, 2, 1, 12, 1, PHOTOMETRIC_MINISBLACK); },
                                  [](TIFF* t) {
                                    std::uint8_t row[3] = {0xff, 0xf8, 0x00};  // 4095, 2048
                                    return TIFFWriteScanline(t, row, 0, 0) >= 0;
                                  });
  const Image img = decoded(bytes);
  ASSERT_EQ(img.bits, 16);
  std::uint16_t samples[2] = {};
  std::memcpy(samples, img.bytes.data(), 4);
  EXPECT_EQ(samples[0], 65535);
  EXPECT_EQ(samples[1], 32776);  // 2048 * 65535 / 4095, rounded
}

// Layouts libtiff renders without their alpha (it draws alpha for RGB and 8-bit gray only): the alpha sample is
// read from the file beside the rendered colour.
TEST(Tiff, AlphaOfRenderedLayoutsIsKept) {
  const std::uint16_t straight = EXTRASAMPLE_UNASSALPHA;
  // CMYK + alpha: no ink is white, full cyan is (0, 255, 255); colour stays straight.
  const auto cmyk = libtiff_file(
      [&](TIFF* t) {
        basic_tags(t, 2, 1, 8, 5, PHOTOMETRIC_SEPARATED);
        TIFFSetField(t, TIFFTAG_EXTRASAMPLES, 1, &straight);
      },
      [](TIFF* t) {
        std::uint8_t row[10] = {0, 0, 0, 0, 100, 255, 0, 0, 0, 7};
        return TIFFWriteScanline(t, row, 0, 0) >= 0;
      });
  EXPECT_EQ(decoded(cmyk).bytes, (std::vector<std::uint8_t>{255, 255, 255, 100, 0, 255, 255, 7}));
  // Palette + alpha, in 16x16 tiles.
  const auto palette = libtiff_file(
      [&](TIFF* t) {
        basic_tags(t, 17, 1, 8, 2, PHOTOMETRIC_PALETTE);
        TIFFSetField(t, TIFFTAG_EXTRASAMPLES, 1, &straight);
        TIFFSetField(t, TIFFTAG_TILEWIDTH, 16);
        TIFFSetField(t, TIFFTAG_TILELENGTH, 16);
      },
      [](TIFF* t) {
        std::vector<std::uint16_t> r(256, 0), g(256, 0), b(256, 0);
        r[1] = 0xffff;
        TIFFSetField(t, TIFFTAG_COLORMAP, r.data(), g.data(), b.data());
        std::vector<std::uint8_t> tile(16 * 16 * 2, 0);
        for (int x = 0; x < 16; ++x) tile[2 * x + 1] = std::uint8_t(10 * x);
        tile[2] = 1;  // pixel 1 is red
        if (TIFFWriteTile(t, tile.data(), 0, 0, 0, 0) < 0) return false;
        for (int x = 0; x < 16; ++x) tile[2 * x + 1] = 200;
        return TIFFWriteTile(t, tile.data(), 16, 0, 0, 0) >= 0;
      });
  const Image pal = decoded(palette);
  ASSERT_EQ(pal.channels, 4);
  for (int x = 0; x < 17; ++x) EXPECT_EQ(pal.bytes[4 * x + 3], x < 16 ? 10 * x : 200) << x;
  EXPECT_EQ(pal.bytes[4], 255);
  // 4-bit gray + alpha, packed two samples to a byte: alpha 5 of 15 is 85 of 255.
  const auto packed = libtiff_file(
      [&](TIFF* t) {
        basic_tags(t, 3, 1, 4, 2, PHOTOMETRIC_MINISBLACK);
        TIFFSetField(t, TIFFTAG_EXTRASAMPLES, 1, &straight);
      },
      [](TIFF* t) {
        std::uint8_t row[3] = {0xf5, 0x0f, 0x80};
        return TIFFWriteScanline(t, row, 0, 0) >= 0;
      });
  EXPECT_EQ(decoded(packed).bytes, (std::vector<std::uint8_t>{255, 85, 0, 255, 136, 0}));
  // 16-bit white-is-zero + alpha: read as stored, gray inverted, 16 bits kept.
  const auto white16 = libtiff_file(
      [&](TIFF* t) {
        basic_tags(t, 1, 1, 16, 2, PHOTOMETRIC_MINISWHITE);
        TIFFSetField(t, TIFFTAG_EXTRASAMPLES, 1, &straight);
      },
      [](TIFF* t) {
        std::uint16_t px[2] = {1000, 4321};
        return TIFFWriteScanline(t, px, 0, 0) >= 0;
      });
  const Image w = decoded(white16);
  ASSERT_EQ(w.bits, 16);
  std::uint16_t samples[2] = {};
  std::memcpy(samples, w.bytes.data(), 4);
  EXPECT_EQ(samples[0], 64535);
  EXPECT_EQ(samples[1], 4321);
  // Premultiplied inks cannot be made straight once rendered: refused, in words.
  const auto premultiplied_cmyk = libtiff_file(
      [](TIFF* t) {
        basic_tags(t, 1, 1, 8, 5, PHOTOMETRIC_SEPARATED);
        const std::uint16_t kind = EXTRASAMPLE_ASSOCALPHA;
        TIFFSetField(t, TIFFTAG_EXTRASAMPLES, 1, &kind);
      },
      [](TIFF* t) {
        std::uint8_t px[5] = {10, 20, 30, 0, 128};
        return TIFFWriteScanline(t, px, 0, 0) >= 0;
      });
  const Result<Image> r = decode_image(premultiplied_cmyk);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "TIFF: unsupported layout: 8-bit CMYK with premultiplied alpha");
}

TEST(Tiff, SmallUncompressedTilesAreRendered) {
  // 16x16 palette tiles of 256 bytes, uncompressed: libtiff reads them only from a mapped file.
  const auto bytes = libtiff_file(
      [](TIFF* t) {
        basic_tags(t, 37, 21, 8, 1, PHOTOMETRIC_PALETTE);
        TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_NONE);
        TIFFSetField(t, TIFFTAG_TILEWIDTH, 16);
        TIFFSetField(t, TIFFTAG_TILELENGTH, 16);
      },
      [](TIFF* t) {
        std::vector<std::uint16_t> ramp(256);
        for (int i = 0; i < 256; ++i) ramp[i] = std::uint16_t(i * 257);
        TIFFSetField(t, TIFFTAG_COLORMAP, ramp.data(), ramp.data(), ramp.data());
        std::vector<std::uint8_t> tile(256);
        for (int ty = 0; ty < 21; ty += 16)
          for (int tx = 0; tx < 37; tx += 16) {
            for (int i = 0; i < 256; ++i) tile[i] = std::uint8_t(tx + ty + i % 16);
            if (TIFFWriteTile(t, tile.data(), tx, ty, 0, 0) < 0) return false;
          }
        return true;
      });
  const Image img = decoded(bytes);
  ASSERT_EQ(img.width, 37);
  ASSERT_EQ(img.channels, 3);
  EXPECT_EQ(img.bytes[(std::size_t(20) * 37 + 36) * 3], 32 + 16 + 4);  // tile (32, 16), column 4
}

TEST(Tiff, TheOrientationTagIsApplied) {
  // Stored 3 wide and 2 high; orientation 6 (rotate 90 clockwise) shows it 2 wide and 3 high.
  for (bool palette : {false, true}) {  // the direct path and libtiff's rendering
    const auto bytes = libtiff_file(
        [&](TIFF* t) {
          basic_tags(t, 3, 2, 8, 1, palette ? PHOTOMETRIC_PALETTE : PHOTOMETRIC_MINISBLACK);
          TIFFSetField(t, TIFFTAG_ORIENTATION, ORIENTATION_RIGHTTOP);
        },
        [&](TIFF* t) {
          if (palette) {
            std::vector<std::uint16_t> ramp(256);
            for (int i = 0; i < 256; ++i) ramp[i] = std::uint16_t(i * 257);
            TIFFSetField(t, TIFFTAG_COLORMAP, ramp.data(), ramp.data(), ramp.data());
          }
          std::uint8_t r0[3] = {1, 2, 3}, r1[3] = {4, 5, 6};
          return TIFFWriteScanline(t, r0, 0, 0) >= 0 && TIFFWriteScanline(t, r1, 1, 0) >= 0;
        });
    const Image img = decoded(bytes);
    ASSERT_EQ(img.width, 2) << palette;
    ASSERT_EQ(img.height, 3) << palette;
    std::vector<std::uint8_t> firsts;
    for (std::size_t i = 0; i < 6; ++i) firsts.push_back(img.bytes[i * img.channels]);
    // Upright: the stored left column (1, 4) is the top row, read right to left: 4 1 / 5 2 / 6 3.
    EXPECT_EQ(firsts, (std::vector<std::uint8_t>{4, 1, 5, 2, 6, 3})) << palette;
  }
}

// Numbers of a TIFF structure in its byte order ("II" or "MM" in its first bytes).
std::uint32_t tiff_u16(const std::vector<std::uint8_t>& b, std::size_t i) {
  return b.at(0) == 'M' ? std::uint32_t(b.at(i) << 8 | b.at(i + 1)) : std::uint32_t(b.at(i) | b.at(i + 1) << 8);
}
std::uint32_t tiff_u32(const std::vector<std::uint8_t>& b, std::size_t i) {
  return b.at(0) == 'M' ? tiff_u16(b, i) << 16 | tiff_u16(b, i + 2) : tiff_u16(b, i) | tiff_u16(b, i + 2) << 16;
}

// The entries of the IFD at `at` of a TIFF structure: tag -> (type, count, value bytes).
struct IfdEntry {
  std::uint32_t type = 0, count = 0;
  std::vector<std::uint8_t> value;
};
std::map<std::uint32_t, IfdEntry> ifd_entries(const std::vector<std::uint8_t>& b, std::uint32_t at) {
  auto u16 = [&](std::size_t i) { return tiff_u16(b, i); };
  auto u32 = [&](std::size_t i) { return tiff_u32(b, i); };
  static constexpr std::uint32_t kSize[14] = {0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8, 4};
  std::map<std::uint32_t, IfdEntry> entries;
  std::uint32_t last = 0;
  for (std::uint32_t i = 0, n = u16(at); i < n; ++i) {
    const std::size_t e = at + 2 + 12 * std::size_t(i);
    IfdEntry entry{u16(e + 2), u32(e + 4), {}};
    EXPECT_GT(u16(e), last) << "entries in ascending tag order";
    last = u16(e);
    const std::size_t bytes = kSize[entry.type] * entry.count, from = bytes <= 4 ? e + 8 : u32(e + 8);
    EXPECT_LE(from + bytes, b.size());
    if (from + bytes <= b.size()) entry.value.assign(b.begin() + long(from), b.begin() + long(from + bytes));
    entries[u16(e)] = entry;
  }
  return entries;
}

std::string text(const IfdEntry& e) {
  return {e.value.begin(), std::find(e.value.begin(), e.value.end(), 0)};
}

// The IFD a pointer entry (ExifIFD, GPSIFD) of blob `b` points at.
std::map<std::uint32_t, IfdEntry> pointed_ifd(const std::vector<std::uint8_t>& b, const IfdEntry& pointer) {
  const std::vector<std::uint8_t>& v = pointer.value;
  EXPECT_EQ(v.size(), 4u);
  if (v.size() != 4) return {};
  const std::uint32_t at = b.at(0) == 'M' ? std::uint32_t(v[0]) << 24 | v[1] << 16 | v[2] << 8 | v[3]
                                          : v[0] | v[1] << 8 | v[2] << 16 | std::uint32_t(v[3]) << 24;
  return ifd_entries(b, at);
}

// A 3x2 gray TIFF with IFD0 descriptive tags, orientation 6, and an EXIF IFD written by libtiff (its custom
// directory API, as cameras' and editors' TIFFs carry it), with a MakerNote of `maker_note` bytes.
std::vector<std::uint8_t> tiff_with_exif(std::size_t maker_note, bool big_endian = false) {
  return libtiff_file(
      [](TIFF* t) {
        basic_tags(t, 3, 2, 8, 1, PHOTOMETRIC_MINISBLACK);
        TIFFSetField(t, TIFFTAG_ORIENTATION, ORIENTATION_RIGHTTOP);
        TIFFSetField(t, TIFFTAG_MAKE, "Canon");
        TIFFSetField(t, TIFFTAG_MODEL, "EOS R5");
        TIFFSetField(t, TIFFTAG_SOFTWARE, "a raw converter");
        TIFFSetField(t, TIFFTAG_EXIFIFD, std::uint64_t{0});  // its offset comes once the EXIF IFD is written
      },
      [maker_note](TIFF* t) {
        std::uint8_t r0[3] = {1, 2, 3}, r1[3] = {4, 5, 6};
        if (TIFFWriteScanline(t, r0, 0, 0) < 0 || TIFFWriteScanline(t, r1, 1, 0) < 0 || !TIFFWriteDirectory(t))
          return false;
        std::uint64_t exif_at = 0;
        const std::vector<std::uint8_t> note(maker_note, 0x5A);
        if (TIFFCreateEXIFDirectory(t) != 0) return false;
        TIFFSetField(t, EXIFTAG_DATETIMEORIGINAL, "2024:01:02 03:04:05");
        TIFFSetField(t, EXIFTAG_EXPOSURETIME, 0.004);
        const std::uint16_t iso[1] = {400};
        TIFFSetField(t, EXIFTAG_ISOSPEEDRATINGS, 1, iso);
        if (maker_note > 0) TIFFSetField(t, EXIFTAG_MAKERNOTE, std::uint32_t(note.size()), note.data());
        if (!TIFFWriteCustomDirectory(t, &exif_at) || !TIFFSetDirectory(t, 0)) return false;
        TIFFSetField(t, TIFFTAG_EXIFIFD, exif_at);
        return TIFFRewriteDirectory(t) != 0;  // (appended: written in place, IFD0 would overwrite the EXIF IFD)
      },
      big_endian ? "wb" : "w");
}

TEST(Tiff, ExifIsReadSoThatOtherFormatsCarryIt) {
  for (const bool big_endian : {false, true}) {
    SCOPED_TRACE(big_endian ? "big-endian" : "little-endian");
    const Image img = decoded(tiff_with_exif(100, big_endian));
    ASSERT_EQ(img.width, 2);              // orientation 6 applied to the pixels...
    EXPECT_EQ(exif_orientation(img), 1);  // ...and not left in the EXIF to be applied again
    ASSERT_GE(img.exif.size(), 8u);
    EXPECT_EQ(std::string(img.exif.begin(), img.exif.begin() + 4), std::string(big_endian ? "MM\0*" : "II*\0", 4));
    const auto ifd0 = ifd_entries(img.exif, 8);
    ASSERT_TRUE(ifd0.count(0x010F) && ifd0.count(0x0110) && ifd0.count(0x0131) && ifd0.count(0x8769));
    EXPECT_EQ(text(ifd0.at(0x010F)), "Canon");
    EXPECT_EQ(text(ifd0.at(0x0110)), "EOS R5");
    for (std::uint32_t storage : {0x0100u, 0x0101u, 0x0111u, 0x0112u, 0x0117u})  // sizes, strips, orientation
      EXPECT_EQ(ifd0.count(storage), 0u) << std::hex << storage;
    const auto exif = pointed_ifd(img.exif, ifd0.at(0x8769));
    ASSERT_TRUE(exif.count(0x9003) && exif.count(0x829A) && exif.count(0x8827) && exif.count(0x927C));
    EXPECT_EQ(text(exif.at(0x9003)), "2024:01:02 03:04:05");
    EXPECT_EQ(exif.at(0x8827).value, big_endian ? (std::vector<std::uint8_t>{400 >> 8, 400 & 0xff})
                                                : (std::vector<std::uint8_t>{400 & 0xff, 400 >> 8}));
    EXPECT_EQ(exif.at(0x829A).type, 5u);  // RATIONAL, 8 bytes
    EXPECT_EQ(exif.at(0x927C).value.size(), 100u);

    // PNG, JPEG and WebP outputs carry it as it is.
    for (ImageFormat f : {ImageFormat::kPng, ImageFormat::kJpeg, ImageFormat::kWebp}) {
      Result<std::vector<std::uint8_t>> encoded = encode_image(img, f, {});
      ASSERT_TRUE(encoded.ok()) << encoded.status().message();
      EXPECT_EQ(decoded(*encoded).exif, img.exif) << int(f);
    }
  }
}

TEST(Tiff, ExifPastAJpegSegmentDropsTheMakerNoteFirst) {
  const Image img = decoded(tiff_with_exif(70000));
  ASSERT_FALSE(img.exif.empty());
  EXPECT_LE(img.exif.size(), 65527u);
  const auto ifd0 = ifd_entries(img.exif, 8);
  ASSERT_TRUE(ifd0.count(0x8769));
  const auto exif = pointed_ifd(img.exif, ifd0.at(0x8769));
  EXPECT_EQ(exif.count(0x927C), 0u);
  EXPECT_EQ(text(exif.at(0x9003)), "2024:01:02 03:04:05");
}

// tests/data/exif_gps_gray_3x2.tif: written by libtiff with EXIF and GPS IFDs (and, as libtiff leaves it, an
// orphaned first IFD0); the GPS IFD is carried too.
TEST(Tiff, TheGpsIfdIsCarriedToo) {
  Result<Image> img = read_image_file(test::data_path("exif_gps_gray_3x2.tif"));
  ASSERT_TRUE(img.ok()) << img.status().message();
  const auto ifd0 = ifd_entries(img->exif, 8);
  ASSERT_TRUE(ifd0.count(0x8769) && ifd0.count(0x8825));
  const auto gps = pointed_ifd(img->exif, ifd0.at(0x8825));
  ASSERT_TRUE(gps.count(0x0001));  // GPSLatitudeRef
  EXPECT_EQ(text(gps.at(0x0001)), "N");
}

// A 1x1 gray little-endian TIFF (its one pixel 77) built by hand whose EXIF pointer aims at an IFD of 1024
// entries, each naming the same 64 KB value: copied as it is, that would be 64 MB of EXIF from a file of 78 KB.
std::vector<std::uint8_t> shared_value_tiff() {
  std::vector<std::uint8_t> f{'I', 'I'};  // (GCC 12 misreads an insert into an empty vector here)
  auto put16 = [&](std::uint32_t v) {
    f.push_back(std::uint8_t(v));
    f.push_back(std::uint8_t(v >> 8));
  };
  auto put32 = [&](std::uint32_t v) {
    put16(v & 0xffff);
    put16(v >> 16);
  };
  auto entry = [&](std::uint32_t tag, std::uint32_t type, std::uint32_t count, std::uint32_t value) {
    put16(tag);
    put16(type);
    put32(count);
    put32(value);
  };
  constexpr std::uint32_t kIfd0 = 8, kEntries0 = 10, kExif = kIfd0 + 2 + 12 * kEntries0 + 4, kShared = 1024;
  constexpr std::uint32_t kPixel = kExif + 2 + 12 * kShared + 4, kValue = kPixel + 2;
  put16(42);
  put32(kIfd0);
  put16(kEntries0);
  entry(0x0100, 3, 1, 1);       // ImageWidth
  entry(0x0101, 3, 1, 1);       // ImageLength
  entry(0x0102, 3, 1, 8);       // BitsPerSample
  entry(0x0103, 3, 1, 1);       // Compression: none
  entry(0x0106, 3, 1, 1);       // Photometric: black is zero
  entry(0x0111, 4, 1, kPixel);  // StripOffsets
  entry(0x0115, 3, 1, 1);       // SamplesPerPixel
  entry(0x0116, 3, 1, 1);       // RowsPerStrip
  entry(0x0117, 4, 1, 1);       // StripByteCounts
  entry(0x8769, 4, 1, kExif);   // ExifIFD
  put32(0);
  put16(kShared);
  for (std::uint32_t i = 0; i < kShared; ++i) entry(0x9000 + i, 7, 65536, kValue);
  put32(0);
  f.push_back(77);
  f.push_back(0);
  f.resize(kValue + 65536, 0x5A);
  return f;
}

TEST(Tiff, EntriesSharingALargeValueGiveNoExifAndCostNothing) {
  const std::vector<std::uint8_t> f = shared_value_tiff();
  rusage before{}, after{};
  ::getrusage(RUSAGE_SELF, &before);
  const Image img = decoded(f);
  ::getrusage(RUSAGE_SELF, &after);
  EXPECT_EQ(img.bytes, std::vector<std::uint8_t>{77});
  EXPECT_TRUE(img.exif.empty()) << img.exif.size();
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 32 * 1024) << "KB more at the peak: the values were copied";
}

TEST(Tiff, DescriptiveTagsAloneAreCarriedAndDamagedExifIsDropped) {
  // A TIFF whose only descriptive tags are its resolution and writer carries no EXIF blob; one with a Make does.
  const auto plain = [](const char* make) {
    return libtiff_file(
        [make](TIFF* t) {
          basic_tags(t, 1, 1, 8, 1, PHOTOMETRIC_MINISBLACK);
          TIFFSetField(t, TIFFTAG_XRESOLUTION, 300.0);
          TIFFSetField(t, TIFFTAG_YRESOLUTION, 300.0);
          TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_INCH);
          TIFFSetField(t, TIFFTAG_SOFTWARE, "a scanner's driver");
          if (make != nullptr) TIFFSetField(t, TIFFTAG_MAKE, make);
        },
        [](TIFF* t) {
          std::uint8_t px = 7;
          return TIFFWriteScanline(t, &px, 0, 0) >= 0;
        });
  };
  EXPECT_TRUE(decoded(plain(nullptr)).exif.empty());
  const Image scanned = decoded(plain("EPSON"));
  ASSERT_FALSE(scanned.exif.empty());
  const auto tags = ifd_entries(scanned.exif, 8);
  ASSERT_TRUE(tags.count(0x010F) && tags.count(0x011A) && tags.count(0x0131));
  EXPECT_EQ(text(tags.at(0x010F)), "EPSON");
  EXPECT_EQ(tags.count(0x8769) + tags.count(0x8825), 0u);
  // The EXIF pointer aimed past the end: the pixels still decode, with IFD0's tags but no EXIF IFD.
  std::vector<std::uint8_t> bytes = tiff_with_exif(0);
  const Image good = decoded(bytes);
  ASSERT_FALSE(good.exif.empty());
  std::uint32_t ifd0 = bytes[4] | bytes[5] << 8 | bytes[6] << 16 | std::uint32_t(bytes[7]) << 24;
  const std::uint32_t n = bytes[ifd0] | bytes[ifd0 + 1] << 8;
  for (std::uint32_t i = 0; i < n; ++i) {
    const std::size_t e = ifd0 + 2 + 12 * std::size_t(i);
    if ((bytes[e] | bytes[e + 1] << 8) == 0x8769) std::memset(&bytes[e + 8], 0xFF, 4);
  }
  const Image damaged = decoded(bytes);
  EXPECT_EQ(damaged.bytes, good.bytes);
  const auto kept = ifd_entries(damaged.exif, 8);
  ASSERT_TRUE(kept.count(0x010F));
  EXPECT_EQ(text(kept.at(0x010F)), "Canon");
  EXPECT_EQ(kept.count(0x8769), 0u);
}

// Opens `bytes` with libtiff itself (a reader other than resr's) and hands it to `check`.
void with_libtiff(const std::vector<std::uint8_t>& bytes, const std::function<void(TIFF*)>& check) {
  const test::ScopedTempDir dir("resr_tiff_read_");
  std::filesystem::create_directories(dir.path());
  const std::string path = (dir.path() / "t.tif").string();
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  TIFF* t = TIFFOpen(path.c_str(), "r");
  ASSERT_NE(t, nullptr);
  check(t);
  TIFFClose(t);
}

std::string libtiff_text(TIFF* t, std::uint32_t tag) {
  const char* s = nullptr;
  return TIFFGetField(t, tag, &s) != 0 && s != nullptr ? std::string(s) : std::string("(none)");
}

TEST(Tiff, ExifIsWrittenToTiffOutputs) {
  for (const bool big_endian : {false, true}) {
    SCOPED_TRACE(big_endian ? "big-endian" : "little-endian");
    const Image img = decoded(tiff_with_exif(100, big_endian));
    ASSERT_FALSE(img.exif.empty());
    Result<std::vector<std::uint8_t>> encoded = encode_image(img, ImageFormat::kTiff, {});
    ASSERT_TRUE(encoded.ok()) << encoded.status().message();
    EXPECT_EQ(encoded->at(0), big_endian ? 'M' : 'I') << "the file takes the EXIF's byte order";
    const Image back = decoded(*encoded);
    EXPECT_EQ(back.bytes, img.bytes);
    // The EXIF comes back but for Software (the input's writer, not this file's), with resr's 72 dpi added.
    const auto in0 = ifd_entries(img.exif, 8), out0 = ifd_entries(back.exif, 8);
    ASSERT_TRUE(in0.count(0x0131) && in0.count(0x8769) && out0.count(0x8769));
    EXPECT_EQ(out0.count(0x0131), 0u);
    EXPECT_EQ(in0.count(0x011A) + in0.count(0x011B) + in0.count(0x0128), 0u);
    EXPECT_EQ(out0.count(0x011A) + out0.count(0x011B) + out0.count(0x0128), 3u);
    EXPECT_EQ(out0.size(), in0.size() - 1 + 3);
    const auto same = [](const std::map<std::uint32_t, IfdEntry>& a, const std::map<std::uint32_t, IfdEntry>& b,
                         std::uint32_t tag) {
      return b.count(tag) != 0 && a.at(tag).type == b.at(tag).type && a.at(tag).count == b.at(tag).count &&
             a.at(tag).value == b.at(tag).value;
    };
    for (const auto& [tag, entry] : in0) {
      if (tag != 0x0131 && tag != 0x8769) {
        EXPECT_TRUE(same(in0, out0, tag)) << std::hex << tag;
      }
    }
    const auto in_exif = pointed_ifd(img.exif, in0.at(0x8769)), out_exif = pointed_ifd(back.exif, out0.at(0x8769));
    EXPECT_EQ(out_exif.size(), in_exif.size());
    for (const auto& [tag, entry] : in_exif) EXPECT_TRUE(same(in_exif, out_exif, tag)) << std::hex << tag;
    // libtiff finds the tags where a TIFF reader looks for them.
    with_libtiff(*encoded, [](TIFF* t) {
      EXPECT_EQ(libtiff_text(t, TIFFTAG_MAKE), "Canon");
      EXPECT_EQ(libtiff_text(t, TIFFTAG_MODEL), "EOS R5");
      std::uint16_t orientation = 0;
      ASSERT_NE(TIFFGetField(t, TIFFTAG_ORIENTATION, &orientation), 0);
      EXPECT_EQ(orientation, ORIENTATION_TOPLEFT);
      std::uint64_t exif_at = 0;
      ASSERT_NE(TIFFGetField(t, TIFFTAG_EXIFIFD, &exif_at), 0);
      ASSERT_NE(TIFFReadEXIFDirectory(t, exif_at), 0);
      EXPECT_EQ(libtiff_text(t, EXIFTAG_DATETIMEORIGINAL), "2024:01:02 03:04:05");
      std::uint16_t iso_count = 0;
      const std::uint16_t* iso = nullptr;
      ASSERT_NE(TIFFGetField(t, EXIFTAG_ISOSPEEDRATINGS, &iso_count, &iso), 0);
      ASSERT_EQ(iso_count, 1);
      EXPECT_EQ(iso[0], 400);
    });
  }
  // The GPS IFD too, and after a trip through PNG.
  Result<Image> gps = read_image_file(test::data_path("exif_gps_gray_3x2.tif"));
  ASSERT_TRUE(gps.ok()) << gps.status().message();
  Result<std::vector<std::uint8_t>> png = encode_image(*gps, ImageFormat::kPng, {});
  ASSERT_TRUE(png.ok());
  Result<std::vector<std::uint8_t>> tiff = encode_image(decoded(*png), ImageFormat::kTiff, {});
  ASSERT_TRUE(tiff.ok()) << tiff.status().message();
  // The same EXIF and GPS IFDs; IFD0 gains resr's own 72 dpi, which reading carries as descriptive tags.
  const std::vector<std::uint8_t> back = decoded(*tiff).exif;
  const auto in0 = ifd_entries(gps->exif, 8), out0 = ifd_entries(back, 8);
  ASSERT_TRUE(out0.count(0x8769) && out0.count(0x8825) && out0.count(0x011A));
  for (const std::uint32_t pointer : {0x8769u, 0x8825u}) {
    const auto in = pointed_ifd(gps->exif, in0.at(pointer)), out = pointed_ifd(back, out0.at(pointer));
    EXPECT_EQ(out.size(), in.size());
    for (const auto& [tag, entry] : in) {
      ASSERT_TRUE(out.count(tag)) << std::hex << tag;
      EXPECT_EQ(out.at(tag).value, entry.value) << std::hex << tag;
    }
  }
}

TEST(Tiff, ExifOfOtherFormatsIsWrittenToTiffOutputs) {
  // A JPEG's EXIF is often IFD0 alone: Make is written; its Orientation is not (the file's stands), nor its
  // XResolution (a tag of whatever wrote the input, not of this file: the file says 72 dpi).
  for (const bool big_endian : {false, true}) {
    Image img = make_image(3, 2, 3, 8);
    img.exif = testing::make_exif(big_endian, 6);
    img.exif.at(big_endian ? 61 : 58) = 44;  // XResolution 300/1 (300 = 0x12C: one byte of it was 72)
    img.exif.at(big_endian ? 60 : 59) = 1;
    Result<std::vector<std::uint8_t>> encoded = encode_image(img, ImageFormat::kTiff, {});
    ASSERT_TRUE(encoded.ok()) << encoded.status().message();
    EXPECT_EQ(decoded(*encoded).bytes, img.bytes);
    with_libtiff(*encoded, [](TIFF* t) {
      EXPECT_EQ(libtiff_text(t, TIFFTAG_MAKE), "Canon");
      float resolution = 0;
      ASSERT_NE(TIFFGetField(t, TIFFTAG_XRESOLUTION, &resolution), 0);
      EXPECT_EQ(resolution, 72.0f);
      std::uint16_t orientation = 0;
      ASSERT_NE(TIFFGetField(t, TIFFTAG_ORIENTATION, &orientation), 0);
      EXPECT_EQ(orientation, ORIENTATION_TOPLEFT);
      std::uint64_t exif_at = 0;
      EXPECT_EQ(TIFFGetField(t, TIFFTAG_EXIFIFD, &exif_at), 0);
    });
  }
}

TEST(Tiff, ExifWhoseEntriesShareALargeValueIsNotWrittenToTiffOutputs) {
  // As an EXIF blob (PNG's eXIf chunk can hold one this size), 1024 entries of 64 KB each: 64 MB if copied.
  Image img = make_image(3, 2, 1, 8);
  img.exif = shared_value_tiff();
  Result<std::vector<std::uint8_t>> encoded = encode_image(img, ImageFormat::kTiff, {});
  ASSERT_TRUE(encoded.ok()) << encoded.status().message();
  EXPECT_LT(encoded->size(), 4096u);
  EXPECT_EQ(decoded(*encoded).bytes, img.bytes);
}

// Files libtiff writes with tags of their own and a second image: the file's tags win over the EXIF's, and the
// second directory stays linked after the new IFD0.
TEST(Tiff, TheFilesOwnTagsAndLaterImagesStay) {
  const Image source = decoded(tiff_with_exif(0));  // Make "Canon", an EXIF IFD
  const auto file = libtiff_file([](TIFF* t) { basic_tags(t, 1, 1, 8, 1, PHOTOMETRIC_MINISBLACK); },
                                 [](TIFF* t) {
                                   std::uint8_t px = 9;
                                   TIFFSetField(t, TIFFTAG_MAKE, "the file's own");
                                   if (TIFFWriteScanline(t, &px, 0, 0) < 0 || !TIFFWriteDirectory(t)) return false;
                                   basic_tags(t, 1, 1, 8, 1, PHOTOMETRIC_MINISBLACK);
                                   px = 11;
                                   return TIFFWriteScanline(t, &px, 0, 0) >= 0;
                                 });
  const std::vector<std::uint8_t> with = image_detail::tiff_file_with_exif(file, source.exif);
  ASSERT_GT(with.size(), file.size());
  with_libtiff(with, [](TIFF* t) {
    EXPECT_EQ(libtiff_text(t, TIFFTAG_MAKE), "the file's own");
    EXPECT_EQ(libtiff_text(t, TIFFTAG_MODEL), "EOS R5");
    std::uint64_t exif_at = 0;
    EXPECT_NE(TIFFGetField(t, TIFFTAG_EXIFIFD, &exif_at), 0);
    EXPECT_EQ(TIFFNumberOfDirectories(t), 2u);
  });
  EXPECT_EQ(decoded(with).bytes, std::vector<std::uint8_t>{9});
  // The first page is read and the others counted, for a note (a scan's thumbnail first was upscaled unsaid).
  EXPECT_EQ(decoded(file).other_images, 1);
  // A reduced-resolution copy (a thumbnail after the image) is not a page.
  const auto with_thumbnail = libtiff_file([](TIFF* t) { basic_tags(t, 2, 1, 8, 1, PHOTOMETRIC_MINISBLACK); },
                                           [](TIFF* t) {
                                             std::uint8_t px[2] = {9, 10};
                                             if (TIFFWriteScanline(t, px, 0, 0) < 0 || !TIFFWriteDirectory(t))
                                               return false;
                                             basic_tags(t, 1, 1, 8, 1, PHOTOMETRIC_MINISBLACK);
                                             TIFFSetField(t, TIFFTAG_SUBFILETYPE, FILETYPE_REDUCEDIMAGE);
                                             return TIFFWriteScanline(t, px, 0, 0) >= 0;
                                           });
  EXPECT_EQ(decoded(with_thumbnail).other_images, 0);
  EXPECT_EQ(decoded(libtiff_file([](TIFF* t) { basic_tags(t, 1, 1, 8, 1, PHOTOMETRIC_MINISBLACK); },
                                 [](TIFF* t) {
                                   std::uint8_t px = 9;
                                   return TIFFWriteScanline(t, &px, 0, 0) >= 0;
                                 }))
                .other_images,
            0);
  // Pages are counted up to kOtherImagesCounted; a file with more gets that count, which the note says as "more
  // than" (a file of 100,000 pages was said to hold 1001): both files hold more than that many images.
  for (const int pages : {kOtherImagesCounted + 1, kOtherImagesCounted + 5}) {
    const auto many = libtiff_file([](TIFF* t) { basic_tags(t, 1, 1, 8, 1, PHOTOMETRIC_MINISBLACK); },
                                   [pages](TIFF* t) {
                                     for (int p = 0; p < pages; ++p) {
                                       std::uint8_t px = 9;
                                       if (p > 0) basic_tags(t, 1, 1, 8, 1, PHOTOMETRIC_MINISBLACK);
                                       if (TIFFWriteScanline(t, &px, 0, 0) < 0) return false;
                                       if (p + 1 < pages && !TIFFWriteDirectory(t)) return false;
                                     }
                                     return true;
                                   });
    EXPECT_EQ(decoded(many).other_images, kOtherImagesCounted) << pages;
  }
}

// ComponentsConfiguration (0x9101) describes a JPEG's compressed data: it is not written into a TIFF.
TEST(Tiff, JpegOnlyExifTagsAreNotWrittenToTiffOutputs) {
  Image img = make_image(3, 2, 1, 8);
  img.exif = testing::make_exif_with_size(false, 3, 2);
  img.exif.at(28) = 0x01;  // the EXIF IFD's first entry, PixelXDimension (0xA002), becomes 0x9101
  img.exif.at(29) = 0x91;
  Result<std::vector<std::uint8_t>> encoded = encode_image(img, ImageFormat::kTiff, {});
  ASSERT_TRUE(encoded.ok()) << encoded.status().message();
  const std::vector<std::uint8_t> back = decoded(*encoded).exif;
  const auto ifd0 = ifd_entries(back, 8);
  ASSERT_TRUE(ifd0.count(0x8769));
  const auto exif = pointed_ifd(back, ifd0.at(0x8769));
  EXPECT_EQ(exif.count(0x9101), 0u);
  EXPECT_EQ(exif.count(0xA003), 1u);
}

TEST(Tiff, DamagedExifLeavesTheTiffOutputWhole) {
  const Image source = decoded(tiff_with_exif(20));
  ASSERT_FALSE(source.exif.empty());
  std::vector<std::vector<std::uint8_t>> blobs;
  for (std::size_t n = 0; n < source.exif.size(); n += 3)
    blobs.emplace_back(source.exif.begin(), source.exif.begin() + long(n));
  // Every value field of IFD0 but its EXIF pointer (its last entry), and of the EXIF IFD, aimed past the end:
  // values held in the entry become 0xFF bytes, values held elsewhere are skipped; then the pointer too.
  std::vector<std::uint8_t> wild = source.exif;
  const std::uint32_t last = 8 + 2 + 12 * (tiff_u16(wild, 8) - 1);  // IFD0's last entry
  ASSERT_EQ(tiff_u16(wild, last), 0x8769u);
  const std::uint32_t exif_ifd = tiff_u32(wild, last + 8);
  for (std::uint32_t k = 0; k + 1 < tiff_u16(wild, 8); ++k) std::memset(&wild[8 + 10 + 12 * k], 0xFF, 4);
  for (std::uint32_t k = 0; k < tiff_u16(wild, exif_ifd); ++k) std::memset(&wild[exif_ifd + 10 + 12 * k], 0xFF, 4);
  {
    Image img = make_image(3, 2, 1, 8);
    img.exif = wild;
    Result<std::vector<std::uint8_t>> encoded = encode_image(img, ImageFormat::kTiff, {});
    ASSERT_TRUE(encoded.ok()) << encoded.status().message();
    with_libtiff(*encoded, [](TIFF* t) { EXPECT_EQ(libtiff_text(t, TIFFTAG_MAKE), "(none)"); });
    const std::vector<std::uint8_t> back = decoded(*encoded).exif;
    const auto ifd0 = ifd_entries(back, 8);
    ASSERT_TRUE(ifd0.count(0x8769));
    const auto exif = pointed_ifd(back, ifd0.at(0x8769));
    EXPECT_EQ(exif.count(0x9003) + exif.count(0x829A), 0u);  // DateTimeOriginal, ExposureTime: out of the blob
    ASSERT_TRUE(exif.count(0x8827));                         // ISO, held in its entry
    EXPECT_EQ(exif.at(0x8827).value, (std::vector<std::uint8_t>{0xFF, 0xFF}));
  }
  blobs.push_back(wild);
  std::memset(&wild[last + 8], 0xFF, 4);
  blobs.push_back(wild);
  blobs.push_back(std::vector<std::uint8_t>(64, 0xFF));
  for (const std::vector<std::uint8_t>& blob : blobs) {
    Image img = make_image(3, 2, 1, 8);
    img.exif = blob;
    Result<std::vector<std::uint8_t>> encoded = encode_image(img, ImageFormat::kTiff, {});
    ASSERT_TRUE(encoded.ok()) << encoded.status().message();
    const Image back = decoded(*encoded);
    EXPECT_EQ(back.bytes, img.bytes) << blob.size() << " bytes of EXIF";
  }
}

TEST(Tiff, BadFilesGiveOneLineErrors) {
  const Image img = make_image(64, 64, 3, 8);
  auto good = encode_image(img, ImageFormat::kTiff, {});
  ASSERT_TRUE(good.ok());
  // Cut short: the strips are not all there.
  std::vector<std::uint8_t> cut(good->begin(), good->begin() + std::ptrdiff_t(good->size() / 3));
  Result<Image> r = decode_image(cut);
  EXPECT_FALSE(r.ok());
  // A header and nothing else.
  r = decode_image(std::vector<std::uint8_t>{'I', 'I', 42, 0, 8, 0, 0, 0});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("TIFF: ", 0), 0u) << r.status().message();
  // 32-bit floats are not images resr reads.
  const auto floats = libtiff_file(
      [](TIFF* t) {
        basic_tags(t, 2, 1, 32, 1, PHOTOMETRIC_MINISBLACK);
        TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_IEEEFP);
      },
      [](TIFF* t) {
        float row[2] = {0.5f, 1.0f};
        return TIFFWriteScanline(t, row, 0, 0) >= 0;
      });
  r = decode_image(floats);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unsupported"), std::string::npos) << r.status().message();
  // Nor signed integers (libtiff would render them as unsigned).
  const auto signed_samples = libtiff_file(
      [](TIFF* t) {
        basic_tags(t, 2, 1, 8, 1, PHOTOMETRIC_MINISBLACK);
        TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_INT);
      },
      [](TIFF* t) {
        std::int8_t row[2] = {-5, 7};
        return TIFFWriteScanline(t, row, 0, 0) >= 0;
      });
  r = decode_image(signed_samples);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "TIFF: unsupported layout: signed integer samples");
  // Layouts libtiff's rendering has no routine for are named, not its handle ("memory: Sorry, ...").
  const auto cmyk16 = libtiff_file([](TIFF* t) { basic_tags(t, 1, 1, 16, 4, PHOTOMETRIC_SEPARATED); },
                                   [](TIFF* t) {
                                     std::uint16_t px[4] = {1, 2, 3, 4};
                                     return TIFFWriteScanline(t, px, 0, 0) >= 0;
                                   });
  r = decode_image(cmyk16);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "TIFF: unsupported layout: 16-bit CMYK");
  // Nor Lab, which libtiff renders against the wrong white (white came out as 255, 250, 223).
  const auto lab = libtiff_file([](TIFF* t) { basic_tags(t, 1, 1, 8, 3, PHOTOMETRIC_CIELAB); },
                                [](TIFF* t) {
                                  std::uint8_t px[3] = {255, 0, 0};
                                  return TIFFWriteScanline(t, px, 0, 0) >= 0;
                                });
  r = decode_image(lab);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "TIFF: unsupported layout: 8-bit Lab (convert it to RGB first)");
  // Dimensions past the limit are refused before any pixel is read.
  const auto huge = libtiff_file([](TIFF* t) { basic_tags(t, 100000, 1, 8, 1, PHOTOMETRIC_MINISBLACK); },
                                 [](TIFF* t) {
                                   std::vector<std::uint8_t> row(100000, 0);
                                   return TIFFWriteScanline(t, row.data(), 0, 0) >= 0;
                                 });
  r = decode_image(huge);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("exceed the limit"), std::string::npos) << r.status().message();
  EXPECT_EQ(r.status().message().find('\n'), std::string::npos);
}

// A few hundred bytes declaring a 16000x16000 RGBA16 image (about 2 GB): refused before the image is allocated,
// as its one deflated strip cannot expand to it; an uncompressed file cut short is refused the same way.
TEST(Tiff, StoredDataThatCannotHoldTheImageIsRefusedFirst) {
  const auto bomb = libtiff_file(
      [](TIFF* t) {
        basic_tags(t, 16000, 16000, 16, 4, PHOTOMETRIC_RGB);
        TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE);
        straight_alpha(t);
        TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 16000);
      },
      [](TIFF* t) {
        const std::uint8_t junk[16] = {0x78, 0x9c, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
        return TIFFWriteRawStrip(t, 0, const_cast<std::uint8_t*>(junk), sizeof junk) > 0;
      });
  ASSERT_LT(bomb.size(), 1000u);
  Result<Image> r = decode_image(bomb);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "TIFF: corrupt or truncated: 16 bytes of image data cannot hold a 16000x16000 image");
  // Uncompressed, its last rows missing.
  const Image img = make_image(40, 30, 3, 8);
  const auto plain = libtiff_file(
      [](TIFF* t) {
        basic_tags(t, 40, 30, 8, 3, PHOTOMETRIC_RGB);
        TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_NONE);
        TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 1);
      },
      [&img](TIFF* t) {
        for (int y = 0; y < 30; ++y)
          if (TIFFWriteScanline(t, const_cast<std::uint8_t*>(img.bytes.data()) + y * 40 * 3, std::uint32_t(y), 0) < 0)
            return false;
        return true;
      });
  EXPECT_EQ(decoded(plain).bytes, img.bytes);  // whole, it is read
  // Rows 20..29 said to lie past the end of the file: the StripOffsets (tag 273) of the first IFD, patched.
  std::vector<std::uint8_t> cut = plain;
  std::uint32_t ifd = 0;
  std::memcpy(&ifd, cut.data() + 4, 4);  // little-endian, as libtiff writes here ("w")
  std::uint16_t entries = 0;
  std::memcpy(&entries, cut.data() + ifd, 2);
  bool patched = false;
  for (std::uint16_t e = 0; e < entries; ++e) {
    const std::uint8_t* entry = cut.data() + ifd + 2 + 12 * e;
    std::uint16_t tag = 0;
    std::uint32_t count = 0, array = 0;
    std::memcpy(&tag, entry, 2);
    std::memcpy(&count, entry + 4, 4);
    std::memcpy(&array, entry + 8, 4);
    if (tag != TIFFTAG_STRIPOFFSETS || count != 30) continue;
    const std::uint32_t past_the_end = 0x7fffff00;
    for (std::uint32_t row = 20; row < 30; ++row) std::memcpy(cut.data() + array + 4 * row, &past_the_end, 4);
    patched = true;
  }
  ASSERT_TRUE(patched);
  r = decode_image(cut);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("cannot hold a 40x30 image"), std::string::npos) << r.status().message();
}

TEST(Tiff, FileNamesAndFolders) {
  EXPECT_EQ(*format_from_extension("a/b.TIF"), ImageFormat::kTiff);
  EXPECT_EQ(*format_from_extension("scan.tiff"), ImageFormat::kTiff);
  const test::ScopedTempDir dir("resr_tiff_file_");
  std::filesystem::create_directories(dir.path());
  const std::string path = (dir.path() / "x.tiff").string();
  const Image img = make_image(9, 7, 2, 16);
  ASSERT_TRUE(write_image_file(img, path, ImageFormat::kTiff, {}).ok());
  Result<Image> back = read_image_file(path);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->bytes, img.bytes);
}

}  // namespace
}  // namespace resr
