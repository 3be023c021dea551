// Decoder coverage beyond round trips: PNG color types our encoder never writes (palette, tRNS, 1/2/4-bit),
// and hostile input: truncation at every length, hand-made headers with absurd sizes, random bytes.
#include <gtest/gtest.h>
#include <zlib.h>

#include <array>
#include <random>
#include <string>

#include "image/codec.h"
#include "support/paths.h"
#include "test_images.h"

namespace resr {
namespace {

using Bytes = std::vector<std::uint8_t>;

void put_be32(Bytes& out, std::uint32_t v) {
  for (int shift : {24, 16, 8, 0}) out.push_back(std::uint8_t(v >> shift));
}

void add_chunk(Bytes& png, const char* type, const Bytes& data) {
  put_be32(png, std::uint32_t(data.size()));
  std::size_t start = png.size();
  png.insert(png.end(), type, type + 4);
  png.insert(png.end(), data.begin(), data.end());
  put_be32(png, std::uint32_t(crc32(0, png.data() + start, uInt(png.size() - start))));
}

// A PNG with a correct structure and CRCs. `rows` is the unfiltered scanline data (for Adam7: the rows of all
// passes in order); filter byte 0 is added to each.
Bytes make_png(std::uint32_t width, std::uint32_t height, int depth, int color_type, const std::vector<Bytes>& rows,
               const std::vector<std::pair<const char*, Bytes>>& extra = {}, int interlace = 0) {
  Bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  Bytes ihdr;
  put_be32(ihdr, width);
  put_be32(ihdr, height);
  ihdr.insert(ihdr.end(), {std::uint8_t(depth), std::uint8_t(color_type), 0, 0, std::uint8_t(interlace)});
  add_chunk(png, "IHDR", ihdr);
  for (const auto& [type, data] : extra) add_chunk(png, type, data);
  Bytes raw;
  for (const Bytes& row : rows) {
    raw.push_back(0);
    raw.insert(raw.end(), row.begin(), row.end());
  }
  uLongf size = compressBound(uLong(raw.size()));
  Bytes idat(size);
  EXPECT_EQ(compress(idat.data(), &size, raw.data(), uLong(raw.size())), Z_OK);
  idat.resize(size);
  add_chunk(png, "IDAT", idat);
  add_chunk(png, "IEND", {});
  return png;
}

Image decode_ok(const Bytes& data) {
  Result<Image> r = decode_image(data);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? std::move(r).value() : Image{};
}

std::string decode_error(const Bytes& data) {
  Result<Image> r = decode_image(data);
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : r.status().message();
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST(DecodePng, PaletteBecomesRgb) {
  Bytes plte = {255, 0, 0, 0, 255, 0, 0, 0, 255};
  Image img = decode_ok(make_png(3, 1, 8, 3, {{2, 0, 1}}, {{"PLTE", plte}}));
  EXPECT_EQ(img.channels, 3);
  EXPECT_EQ(img.bits, 8);
  EXPECT_EQ(img.bytes, (Bytes{0, 0, 255, 255, 0, 0, 0, 255, 0}));
}

TEST(DecodePng, PaletteWithTrnsBecomesRgbaAtLowDepth) {
  Bytes plte = {10, 20, 30, 40, 50, 60};
  // 2-bit indices 1, 0, 1, 1 packed in one byte; tRNS gives entry 0 alpha 0 and entry 1 (implicitly) 255.
  Image img = decode_ok(make_png(4, 1, 2, 3, {{0b01000101}}, {{"PLTE", plte}, {"tRNS", {0}}}));
  ASSERT_EQ(img.channels, 4);
  EXPECT_EQ(img.bytes, (Bytes{40, 50, 60, 255, 10, 20, 30, 0, 40, 50, 60, 255, 40, 50, 60, 255}));
}

TEST(DecodePng, LowBitGrayExpandsTo8) {
  Image one = decode_ok(make_png(8, 1, 1, 0, {{0b10110000}}));
  EXPECT_EQ(one.channels, 1);
  EXPECT_EQ(one.bytes, (Bytes{255, 0, 255, 255, 0, 0, 0, 0}));
  Image four = decode_ok(make_png(2, 1, 4, 0, {{0xf5}}));
  EXPECT_EQ(four.bytes, (Bytes{255, 0x55}));
}

TEST(DecodePng, GrayTrnsBecomesAlpha) {
  Image img = decode_ok(make_png(3, 1, 8, 0, {{7, 8, 7}}, {{"tRNS", {0, 7}}}));
  ASSERT_EQ(img.channels, 2);
  EXPECT_EQ(img.bytes, (Bytes{7, 0, 8, 255, 7, 0}));
}

TEST(DecodePng, Rgb16TrnsBecomesRgba16) {
  Bytes row = {0x12, 0x34, 0, 0, 0xff, 0xff, 0, 1, 0, 2, 0, 3};  // pixel 1 matches tRNS (1, 2, 3)
  Image img = decode_ok(make_png(2, 1, 16, 2, {row}, {{"tRNS", {0, 1, 0, 2, 0, 3}}}));
  ASSERT_EQ(img.channels, 4);
  ASSERT_EQ(img.bits, 16);
  EXPECT_EQ(img.sample16(0), 0x1234);
  EXPECT_EQ(img.sample16(2), 0xffff);
  EXPECT_EQ(img.sample16(3), 0xffff);  // opaque
  EXPECT_EQ(img.sample16(6), 3);
  EXPECT_EQ(img.sample16(7), 0);  // transparent
}

TEST(DecodePng, Adam7InterlaceIsUndone) {
  // 3x3 gray, pixel (x, y) = 10 * y + x; Adam7 passes 1, 4, 5, 6, 6, 7 hold these rows (2, 3 are empty here).
  Image img = decode_ok(make_png(3, 3, 8, 0, {{0}, {2}, {20, 22}, {1}, {21}, {10, 11, 12}}, {}, 1));
  EXPECT_EQ(img.bytes, (Bytes{0, 1, 2, 10, 11, 12, 20, 21, 22}));
}

TEST(DecodePng, AbsurdDimensionsAreRejectedBeforeAllocating) {
  EXPECT_EQ(decode_error(make_png(1000000, 1000000, 8, 2, {{0, 0, 0}})),
            "image dimensions 1000000x1000000 exceed the limit of 268435456 pixels");
  EXPECT_EQ(decode_error(make_png(0xffffffff, 0xfffffff0, 8, 0, {{0}})),  // product overflows int64
            "image dimensions 4294967295x4294967280 exceed the limit of 268435456 pixels");
  EXPECT_TRUE(contains(decode_error(make_png(70000, 1, 8, 0, {{0}})), "pixels per side"));
  EXPECT_TRUE(contains(decode_error(make_png(0, 5, 8, 0, {{0}})), "zero width or height"));
  EXPECT_TRUE(contains(decode_error(make_png(5, 0, 8, 0, {})), "zero width or height"));
  // Within the limits, but a 100-byte file cannot inflate to 256 MiB.
  EXPECT_TRUE(contains(decode_error(make_png(16384, 16384, 8, 0, {{0}})), "cannot hold"));
}

// An APNG (acTL before the image data) is refused, as animated WebP is: libpng would give its first frame alone.
// Other chunks before the data (a text chunk) are passed over.
// Image data past what the image holds even uncompressed is refused before libpng inflates it (it inflated what
// followed the image to its end: 8 MB of deflated zeros after a 1x1 image took 30 s). Incompressible pixels, whose
// data is as large as the image, are read.
TEST(DecodePng, ImageDataLargerThanTheImageUncompressedIsRefused) {
  std::uint32_t seed = 12345;
  auto noise = [&seed](std::size_t n) {
    Bytes b(n);
    for (std::uint8_t& x : b) x = std::uint8_t((seed = seed * 1664525u + 1013904223u) >> 24);
    return b;
  };
  std::vector<Bytes> rows;
  for (int y = 0; y < 64; ++y) rows.push_back(noise(64 * 3));
  EXPECT_EQ(decode_ok(make_png(64, 64, 8, 2, rows)).bytes.size(), 64u * 64 * 3);
  // An encoder flushing after every row, stored: about 6 bytes a row more than the row, which for a 1-pixel-wide
  // image is more than twice the row (a first bound refused such files).
  {
    const std::uint32_t h = 20000;
    Bytes raw(2 * h, 0), idat(compressBound(uLong(2 * h)) + 16 * h);
    z_stream z{};
    ASSERT_EQ(deflateInit(&z, 0), Z_OK);
    z.next_out = idat.data();
    z.avail_out = uInt(idat.size());
    for (std::uint32_t y = 0; y < h; ++y) {
      raw[2 * y + 1] = std::uint8_t(y);
      z.next_in = raw.data() + 2 * y;
      z.avail_in = 2;
      ASSERT_NE(deflate(&z, y + 1 < h ? Z_FULL_FLUSH : Z_FINISH), Z_STREAM_ERROR);
    }
    idat.resize(z.total_out);
    deflateEnd(&z);
    Bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}, ihdr;
    put_be32(ihdr, 1);
    put_be32(ihdr, h);
    ihdr.insert(ihdr.end(), {8, 0, 0, 0, 0});
    add_chunk(png, "IHDR", ihdr);
    add_chunk(png, "IDAT", idat);
    add_chunk(png, "IEND", {});
    ASSERT_GT(idat.size(), 4u * h);  // more than twice the rows' 2 bytes each
    EXPECT_EQ(decode_ok(png).height, int(h));
  }
  // A chunk claiming more than the file holds is refused before libpng allocates what it claims (2 GiB for a
  // 141-byte file's tEXt).
  {
    Bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}, ihdr;
    put_be32(ihdr, 1);
    put_be32(ihdr, 1);
    ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});
    add_chunk(png, "IHDR", ihdr);
    put_be32(png, 0x7fffffff);
    png.insert(png.end(), {'t', 'E', 'X', 't'});
    png.insert(png.end(), 100, 'x');
    EXPECT_EQ(
        decode_error(png),
        "corrupt or truncated PNG data: chunk tEXt at byte 33 claims 2147483647 bytes, the file has 100 after its "
        "header");
  }
  // One gray pixel, then 100 KB of noise in the same stream.
  const std::string error = decode_error(make_png(1, 1, 8, 0, {noise(1 + 100000)}));
  EXPECT_TRUE(contains(error, "bytes of image data, more than a 1x1 image holds uncompressed")) << error;
}

// Every decoder hands the size its header stores to the caller's check before it decodes the pixels, and fails with
// the check's error: an output past the limits was refused only after a 16384x16384 PNG took 2.1 GB to decode.
TEST(Decode, TheSizeCheckSeesTheStoredSizeFirst) {
  const Image image = testing::make_image(5, 3, 3, 8);
  for (const ImageFormat format : {ImageFormat::kPng, ImageFormat::kJpeg, ImageFormat::kWebp, ImageFormat::kTiff}) {
    Result<std::vector<std::uint8_t>> bytes = encode_image(image, format, EncodeOptions{});
    ASSERT_TRUE(bytes.ok()) << bytes.status().message();
    int seen_w = 0, seen_h = 0;
    const Result<Image> refused = decode_image(*bytes, [&](int w, int h) {
      seen_w = w;
      seen_h = h;
      return Status::error("too big for the caller");
    });
    ASSERT_FALSE(refused.ok()) << int(format);
    EXPECT_EQ(refused.status().message(), "too big for the caller") << int(format);
    EXPECT_EQ(seen_w, 5) << int(format);
    EXPECT_EQ(seen_h, 3) << int(format);
    EXPECT_TRUE(decode_image(*bytes, [](int, int) { return ok_status(); }).ok()) << int(format);
  }
}

TEST(DecodePng, AnimatedPngIsRefused) {
  const Bytes actl = {0, 0, 0, 2, 0, 0, 0, 0};  // 2 frames, played forever
  EXPECT_EQ(decode_error(make_png(2, 2, 8, 0, {{1, 2}, {3, 4}}, {{"acTL", actl}})),
            "animated PNG (APNG) images are not supported");
  EXPECT_EQ(decode_ok(make_png(2, 2, 8, 0, {{1, 2}, {3, 4}}, {{"tEXt", {'a', 0, 'b'}}})).bytes, (Bytes{1, 2, 3, 4}));
}

TEST(DecodePng, BadCrcAndShortImageData) {
  Bytes png = make_png(2, 2, 8, 0, {{1, 2}, {3, 4}});
  Bytes bad_crc = png;
  bad_crc[29] ^= 1;  // IHDR CRC
  EXPECT_TRUE(contains(decode_error(bad_crc), "corrupt or truncated PNG data"));
  EXPECT_TRUE(contains(decode_error(make_png(2, 3, 8, 0, {{1, 2}})), "corrupt or truncated PNG data"));
}

// An 8x8 RGB JPEG from resr's own encoder.
Bytes small_jpeg() {
  Result<Bytes> jpeg = encode_image(testing::make_image(8, 8, 3, 8), ImageFormat::kJpeg, {});
  EXPECT_TRUE(jpeg.ok());
  return jpeg.ok() ? *jpeg : Bytes{};
}

// Where a baseline or extended JPEG's frame header (SOF0/SOF1) starts.
std::size_t start_of_frame(const Bytes& data) {
  std::size_t sof = 2;
  while (sof + 1 < data.size() && !(data[sof] == 0xff && (data[sof + 1] == 0xc0 || data[sof + 1] == 0xc1))) ++sof;
  return sof;
}

TEST(DecodeJpeg, AbsurdDimensionsAreRejected) {
  Bytes data = small_jpeg();
  const std::size_t sof = start_of_frame(data);
  ASSERT_LT(sof + 9, data.size());
  // Height and width 60000 (0xea60): libjpeg itself accepts up to 65500 per side.
  for (std::size_t i : {sof + 5, sof + 7}) {
    data[i] = 0xea;
    data[i + 1] = 0x60;
  }
  EXPECT_EQ(decode_error(data), "image dimensions 60000x60000 exceed the limit of 268435456 pixels");
}

// A valid JPEG that libjpeg does not read (12-bit samples) is called unsupported, not corrupt.
// CMYK and YCCK JPEGs (Photoshop's, print workflows; Adobe's inverted inks) become RGB as libtiff renders CMYK
// TIFFs; they were refused. The files (libjpeg, quality 100): left half full cyan, right half 50% black.
TEST(DecodeJpeg, CmykAndYcckBecomeRgb) {
  for (const char* name : {"cmyk_adobe_16x8.jpg", "ycck_adobe_16x8.jpg"}) {
    auto image = read_image_file(test::data_path(name));
    ASSERT_TRUE(image.ok()) << name << ": " << image.status().message();
    ASSERT_EQ(image->channels, 3) << name;
    ASSERT_EQ(image->width, 16);
    const auto near = [&](int x, int y, std::array<int, 3> want) {
      for (int c = 0; c < 3; ++c)
        EXPECT_NEAR(image->bytes[(std::size_t(y) * 16 + x) * 3 + c], want[std::size_t(c)], 3) << name << " x " << x;
    };
    near(1, 3, {0, 255, 255});
    near(14, 3, {127, 127, 127});
  }
}

TEST(DecodeJpeg, TwelveBitSamplesAreUnsupportedNotCorrupt) {
  Bytes data = small_jpeg();
  const std::size_t sof = start_of_frame(data);
  ASSERT_LT(sof + 4, data.size());
  data[sof + 4] = 12;  // the frame's sample precision
  EXPECT_EQ(decode_error(data), "unsupported JPEG: Unsupported JPEG data precision 12");
}

TEST(DecodeErrors, EmptyAndUnknown) {
  EXPECT_EQ(decode_error({}), "empty file");
  EXPECT_EQ(decode_error({'G', 'I', 'F', '8', '9', 'a'}), "not a PNG, JPEG, WebP or TIFF image");
  EXPECT_EQ(decode_error({0x89}), "not a PNG, JPEG, WebP or TIFF image");
  EXPECT_EQ(decode_error({'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'A', 'V', 'E'}), "not a PNG, JPEG, WebP or TIFF image");
}

// Every proper prefix of a valid file must be an error (never a crash, never a silently gray-padded image).
void expect_all_prefixes_fail(const Bytes& full, const std::string& what) {
  ASSERT_TRUE(decode_image(full).ok()) << what;
  for (std::size_t n = 1; n < full.size(); ++n) {
    Result<Image> r = decode_image(std::span(full.data(), n));
    EXPECT_FALSE(r.ok()) << what << " cut at " << n << " of " << full.size();
  }
}

TEST(DecodeErrors, TruncatedFilesFail) {
  struct Case {
    const char* name;
    int channels, bits;
    ImageFormat format;
    EncodeOptions options;
  };
  for (const Case& c :
       {Case{"png8", 3, 8, ImageFormat::kPng, {}}, Case{"png16", 4, 16, ImageFormat::kPng, {}},
        Case{"jpeg", 3, 8, ImageFormat::kJpeg, {}}, Case{"jpeg-gray", 1, 8, ImageFormat::kJpeg, {}},
        Case{"webp-lossy", 3, 8, ImageFormat::kWebp, {}}, Case{"webp-lossy-alpha", 4, 8, ImageFormat::kWebp, {}},
        Case{"webp-lossless", 4, 8, ImageFormat::kWebp, {.lossless = true}}}) {
    Result<Bytes> data = encode_image(testing::make_image(24, 17, c.channels, c.bits), c.format, c.options);
    ASSERT_TRUE(data.ok()) << c.name;
    expect_all_prefixes_fail(*data, c.name);
  }
}

TEST(DecodeErrors, RandomBytesAndCorruptionNeverCrash) {
  std::mt19937 rng(1234);
  for (int i = 0; i < 200; ++i) {
    Bytes junk(rng() % 300);
    for (auto& b : junk) b = std::uint8_t(rng());
    EXPECT_FALSE(decode_image(junk).ok());
  }
  // Valid magic followed by junk.
  for (Bytes magic : {Bytes{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}, Bytes{0xff, 0xd8, 0xff},
                      Bytes{'R', 'I', 'F', 'F', 100, 0, 0, 0, 'W', 'E', 'B', 'P'}}) {
    for (int i = 0; i < 100; ++i) {
      Bytes data = magic;
      for (int n = int(rng() % 200); n > 0; --n) data.push_back(std::uint8_t(rng()));
      EXPECT_FALSE(decode_image(data).ok());
    }
  }
  // Bit flips in valid files: the result may be an image or an error, but must not crash (run under ASan).
  for (ImageFormat format : {ImageFormat::kPng, ImageFormat::kJpeg, ImageFormat::kWebp}) {
    Result<Bytes> data = encode_image(testing::make_image(20, 20, 4, 8), format, {});
    ASSERT_TRUE(data.ok());
    for (int i = 0; i < 300; ++i) {
      Bytes copy = *data;
      for (int k = 0; k < 3; ++k) copy[rng() % copy.size()] ^= std::uint8_t(1u << (rng() % 8));
      Result<Image> r = decode_image(copy);
      if (r.ok()) {
        EXPECT_EQ(r->bytes.size(), r->sample_count() * std::size_t(r->bits / 8));
      }
    }
  }
}

}  // namespace
}  // namespace resr
