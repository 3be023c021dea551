// ICC profile, EXIF, XMP, resolution and PNG texts through every codec: written, read back byte for byte, and
// tolerant of bad metadata.
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "image/codec.h"
#include "image/metadata.h"
#include "support/exif_blobs.h"
#include "test_images.h"

namespace resr {
namespace {

using testing::make_exif;
using testing::make_image;

// A structurally valid ICC v2 display profile (libpng checks the header, the color space against the PNG color
// type, and the tag table bounds) of `size` bytes: one private tag covering the rest, filled with a pattern.
std::vector<std::uint8_t> make_icc(const char* color_space, std::uint32_t size) {
  std::vector<std::uint8_t> p(size, 0);
  auto be32 = [&](std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) p[at + std::size_t(i)] = std::uint8_t(v >> (24 - 8 * i));
  };
  auto tag = [&](std::size_t at, const char* s) { std::memcpy(p.data() + at, s, 4); };
  be32(0, size);
  be32(8, 0x02100000);  // version 2.1
  tag(12, "mntr");
  tag(16, color_space);
  tag(20, "XYZ ");
  tag(36, "acsp");
  be32(68, 0x0000F6D6);  // D50 illuminant
  be32(72, 0x00010000);
  be32(76, 0x0000D32D);
  be32(128, 1);  // one tag
  tag(132, "zzzz");
  be32(136, 144);
  be32(140, size - 144);
  for (std::uint32_t i = 144; i < size; ++i) p[i] = std::uint8_t(i * 13 + i / 251);
  return p;
}

Image decode_ok(const std::vector<std::uint8_t>& data) {
  Result<Image> decoded = decode_image(data);
  EXPECT_TRUE(decoded.ok()) << decoded.status().message();
  return decoded.ok() ? std::move(decoded).value() : Image{};
}

std::vector<std::uint8_t> encode_ok(const Image& img, ImageFormat format, EncodeOptions options = {}) {
  Result<std::vector<std::uint8_t>> encoded = encode_image(img, format, options);
  EXPECT_TRUE(encoded.ok()) << encoded.status().message();
  return encoded.ok() ? std::move(encoded).value() : std::vector<std::uint8_t>{};
}

struct Case {
  ImageFormat format;
  int channels, bits;
  EncodeOptions options;
  const char* name;
};

TEST(MetadataRoundTrip, IccAndExifAreKeptExactly) {
  const Case cases[] = {
      {ImageFormat::kPng, 3, 8, {}, "png rgb8"},
      {ImageFormat::kPng, 4, 16, {}, "png rgba16"},
      {ImageFormat::kPng, 1, 16, {}, "png gray16"},
      {ImageFormat::kPng, 2, 8, {}, "png gray-alpha8"},
      {ImageFormat::kJpeg, 3, 8, {}, "jpeg rgb"},
      {ImageFormat::kJpeg, 1, 8, {}, "jpeg gray"},
      {ImageFormat::kJpeg, 3, 8, {.quality = 50}, "jpeg 4:2:0"},
      {ImageFormat::kWebp, 3, 8, {}, "webp lossy rgb"},
      {ImageFormat::kWebp, 4, 8, {}, "webp lossy rgba"},
      {ImageFormat::kWebp, 4, 8, {.lossless = true}, "webp lossless rgba"},
  };
  for (const Case& c : cases) {
    for (bool big_endian : {false, true}) {
      Image img = make_image(21, 13, c.channels, c.bits);
      // 70000 bytes: more than one JPEG APP2 marker holds, so the profile is split and reassembled.
      img.icc_profile = make_icc(c.channels <= 2 ? "GRAY" : "RGB ", 70000);
      img.exif = make_exif(big_endian, 6, 3000);
      Image back = decode_ok(encode_ok(img, c.format, c.options));
      EXPECT_EQ(back.icc_profile, img.icc_profile) << c.name;
      EXPECT_EQ(back.exif, img.exif) << c.name;
      EXPECT_EQ(exif_orientation(back), 6) << c.name;
    }
  }
}

// An XMP packet as an editor writes one, `orientation` in both of XMP's forms.
std::vector<std::uint8_t> make_xmp(int orientation) {
  const std::string o = std::to_string(orientation);
  const std::string text =
      "<?xpacket begin=\"\xEF\xBB\xBF\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n"
      "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n"
      " <rdf:Description rdf:about=\"\" xmlns:tiff=\"http://ns.adobe.com/tiff/1.0/\" tiff:Orientation=\"" +
      o +
      "\" xmlns:xmp=\"http://ns.adobe.com/xap/1.0/\" xmp:Rating=\"4\">\n"
      "  <dc:title xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><rdf:Alt><rdf:li xml:lang=\"x-default\">Caf\xC3\xA9"
      "</rdf:li></rdf:Alt></dc:title>\n"
      "  <tiff:Orientation> " +
      o +
      "</tiff:Orientation>\n"
      " </rdf:Description>\n</rdf:RDF></x:xmpmeta>\n<?xpacket end=\"w\"?>";
  return {text.begin(), text.end()};
}

// XMP goes through every format byte for byte, and the resolution through every format that states one outside
// EXIF (WebP states none); JPEG writes its resolution only without EXIF, whose own it would contradict.
TEST(MetadataRoundTrip, XmpAndResolutionAreKept) {
  const Case cases[] = {
      {ImageFormat::kPng, 3, 8, {}, "png rgb8"},    {ImageFormat::kPng, 2, 16, {}, "png gray-alpha16"},
      {ImageFormat::kJpeg, 3, 8, {}, "jpeg rgb"},   {ImageFormat::kJpeg, 1, 8, {}, "jpeg gray"},
      {ImageFormat::kWebp, 4, 8, {}, "webp rgba"},  {ImageFormat::kTiff, 3, 16, {}, "tiff rgb16"},
      {ImageFormat::kTiff, 1, 8, {}, "tiff gray8"},
  };
  for (const Case& c : cases) {
    for (bool exif : {false, true}) {
      Image img = make_image(21, 13, c.channels, c.bits);
      img.xmp = make_xmp(1);
      img.dpi_x = 300;
      img.dpi_y = 150;
      if (exif) img.exif = make_exif(false, 1);
      const Image back = decode_ok(encode_ok(img, c.format, c.options));
      EXPECT_EQ(back.xmp, img.xmp) << c.name;
      const bool stated = c.format != ImageFormat::kWebp;  // a JPEG with EXIF too: its JFIF header then
      // (PNG states whole pixels per metre, 300 dpi 11811: read back as the whole dpi meant, not 299.9994.)
      EXPECT_EQ(back.dpi_x, stated ? 300 : 0) << c.name << (exif ? " with EXIF" : "");
      EXPECT_EQ(back.dpi_y, stated ? 150 : 0) << c.name << (exif ? " with EXIF" : "");
    }
  }
  for (const double dpi : {72.0, 96.0, 600.0, 2400.0, 150.5}) {  // whole ones exact; others within 0.0127 dpi
    Image img = make_image(4, 4, 3, 8);
    img.dpi_x = img.dpi_y = dpi;
    const Image back = decode_ok(encode_ok(img, ImageFormat::kPng));
    EXPECT_NEAR(back.dpi_x, dpi, dpi == std::round(dpi) ? 0 : 0.0127);
  }
  Image big = make_image(8, 8, 3, 8);
  big.xmp.assign(70000, 'x');  // over what one JPEG APP1 marker holds: left out, the rest written
  big.icc_profile = make_icc("RGB ", 400);
  const Image back = decode_ok(encode_ok(big, ImageFormat::kJpeg));
  EXPECT_TRUE(back.xmp.empty());
  EXPECT_EQ(back.icc_profile, big.icc_profile);
  EXPECT_EQ(decode_ok(encode_ok(big, ImageFormat::kPng)).xmp, big.xmp);
}

// Turning the pixels upright by EXIF swaps the resolution's axes with the sides and sets XMP's orientation to 1 in
// both its forms; an orientation of 1 leaves both as they are.
TEST(MetadataRoundTrip, OrientationSwapsTheResolutionAndSetsXmpUpright) {
  Image img = make_image(6, 4, 3, 8);
  img.exif = make_exif(false, 6);
  img.xmp = make_xmp(6);
  img.dpi_x = 300;
  img.dpi_y = 100;
  apply_exif_orientation(img);
  EXPECT_EQ(img.width, 4);
  EXPECT_EQ(img.dpi_x, 100);
  EXPECT_EQ(img.dpi_y, 300);
  EXPECT_EQ(img.xmp, make_xmp(1));
  Image upright = make_image(6, 4, 3, 8);
  upright.exif = make_exif(false, 1);
  upright.xmp = make_xmp(6);  // XMP alone does not turn the pixels (browsers do not read it), nor is it changed
  upright.dpi_x = 300;
  apply_exif_orientation(upright);
  EXPECT_EQ(upright.xmp, make_xmp(6));
  EXPECT_EQ(upright.dpi_x, 300);
}

// XMP's pixel dimensions are set to the image's, in both of XMP's forms, as EXIF's are (an upscaled image's XMP
// stated the input's size beside EXIF's output size); the rest of the packet is kept.
TEST(MetadataRoundTrip, XmpPixelDimensionsStateTheImagesSize) {
  const std::string before =
      "<rdf:Description exif:PixelXDimension=\"12\" tiff:ImageWidth='12' tiff:ImageLength=\"8\" xmp:Rating=\"4\">"
      "<exif:PixelYDimension> 8</exif:PixelYDimension><dc:title>12x8</dc:title></rdf:Description>";
  Image img = make_image(4, 3, 3, 8);
  img.width = 1234;  // only the fields are read
  img.height = 56;
  img.xmp.assign(before.begin(), before.end());
  set_xmp_pixel_dimensions(img);
  EXPECT_EQ(std::string(img.xmp.begin(), img.xmp.end()),
            "<rdf:Description exif:PixelXDimension=\"1234\" tiff:ImageWidth='1234' tiff:ImageLength=\"56\" "
            "xmp:Rating=\"4\"><exif:PixelYDimension> 56</exif:PixelYDimension><dc:title>12x8</dc:title>"
            "</rdf:Description>");
  Image none = make_image(4, 3, 3, 8);
  set_xmp_pixel_dimensions(none);
  EXPECT_TRUE(none.xmp.empty());
}

TEST(MetadataRoundTrip, EachAloneAndNone) {
  for (ImageFormat format : {ImageFormat::kPng, ImageFormat::kJpeg, ImageFormat::kWebp}) {
    Image img = make_image(9, 7, 3, 8);
    Image none = decode_ok(encode_ok(img, format));
    EXPECT_TRUE(none.icc_profile.empty());
    EXPECT_TRUE(none.exif.empty());
    img.icc_profile = make_icc("RGB ", 400);
    Image icc_only = decode_ok(encode_ok(img, format));
    EXPECT_EQ(icc_only.icc_profile, img.icc_profile);
    EXPECT_TRUE(icc_only.exif.empty());
    img.icc_profile.clear();
    img.exif = make_exif(false, 3);
    Image exif_only = decode_ok(encode_ok(img, format));
    EXPECT_TRUE(exif_only.icc_profile.empty());
    EXPECT_EQ(exif_only.exif, img.exif);
  }
}

TEST(MetadataRoundTrip, JpegExifComesFirst) {
  Image img = make_image(8, 8, 3, 8);
  img.exif = make_exif(true, 8);
  std::vector<std::uint8_t> jpeg = encode_ok(img, ImageFormat::kJpeg);
  ASSERT_GT(jpeg.size(), 12u);
  EXPECT_EQ(jpeg[2], 0xFF);  // SOI, then APP1 "Exif\0\0" (no JFIF APP0 before it)
  EXPECT_EQ(jpeg[3], 0xE1);
  EXPECT_EQ(0, std::memcmp(jpeg.data() + 6, "Exif\0\0", 6));
  // A resolution outside the EXIF comes first in a JFIF header, or it would be lost (PNG pHYs to JPEG).
  img.dpi_x = 300;
  img.dpi_y = 150;
  jpeg = encode_ok(img, ImageFormat::kJpeg);
  EXPECT_EQ(jpeg[3], 0xE0);
  const Image back = decode_ok(jpeg);
  EXPECT_EQ(back.dpi_x, 300);
  EXPECT_EQ(back.dpi_y, 150);
  EXPECT_EQ(back.exif, img.exif);
}

TEST(MetadataRoundTrip, OversizedJpegExifIsLeftOut) {
  Image img = make_image(8, 8, 3, 8);
  img.exif = make_exif(false, 1, 70000);  // over the 65527 bytes one APP1 marker can carry
  Image back = decode_ok(encode_ok(img, ImageFormat::kJpeg));
  EXPECT_TRUE(back.exif.empty());
}

TEST(MetadataRoundTrip, PngDropsAProfileThatDoesNotFit) {
  Image img = make_image(8, 8, 3, 8);
  img.icc_profile = make_icc("GRAY", 400);  // gray profile on an RGB image: libpng refuses it
  Image back = decode_ok(encode_ok(img, ImageFormat::kPng));
  EXPECT_TRUE(back.icc_profile.empty());
  img.icc_profile.assign(300, 0xAB);  // not a profile at all
  back = decode_ok(encode_ok(img, ImageFormat::kPng));
  EXPECT_TRUE(back.icc_profile.empty());
  EXPECT_EQ(back.bytes, img.bytes);
}

TEST(MetadataRoundTrip, ProfilesMustFitThePixels) {
  Image gray = make_image(8, 8, 1, 8);
  gray.icc_profile = make_icc("RGB ", 400);
  EXPECT_TRUE(decode_ok(encode_ok(gray, ImageFormat::kJpeg)).icc_profile.empty());
  EXPECT_EQ(decode_ok(encode_ok(gray, ImageFormat::kWebp)).icc_profile, gray.icc_profile);  // WebP stores RGB
  gray.icc_profile = make_icc("GRAY", 400);
  EXPECT_TRUE(decode_ok(encode_ok(gray, ImageFormat::kWebp)).icc_profile.empty());
  Image rgb = make_image(8, 8, 4, 8);  // JPEG drops alpha, the RGB profile still fits
  rgb.icc_profile = make_icc("RGB ", 400);
  EXPECT_EQ(decode_ok(encode_ok(rgb, ImageFormat::kJpeg)).icc_profile, rgb.icc_profile);
  rgb.icc_profile = make_icc("CMYK", 400);
  for (ImageFormat format : {ImageFormat::kPng, ImageFormat::kJpeg, ImageFormat::kWebp}) {
    EXPECT_TRUE(decode_ok(encode_ok(rgb, format)).icc_profile.empty());
  }
}

TEST(MetadataRoundTrip, WebpExifPrefixIsStripped) {
  // Some writers store "Exif\0\0" + TIFF in the WebP EXIF chunk; decoding yields the bare TIFF structure.
  Image img = make_image(8, 8, 3, 8);
  const std::vector<std::uint8_t> tiff = make_exif(false, 5);
  img.exif = {'E', 'x', 'i', 'f', 0, 0};
  img.exif.insert(img.exif.end(), tiff.begin(), tiff.end());
  Image back = decode_ok(encode_ok(img, ImageFormat::kWebp));
  EXPECT_EQ(back.exif, tiff);
  EXPECT_EQ(exif_orientation(back), 5);
}

// The same in PNG's eXIf, which libpng itself refuses ("incorrect byte-order specifier") and would drop.
// EXIF and XMP as older ImageMagick and exiv2 wrote them into PNG: hex in "Raw profile type exif" (or APP1, with
// "Exif\0\0") and "Raw profile type xmp" text chunks. Read when the standard chunks are missing; a malformed one is
// no metadata, not an error.
TEST(MetadataRoundTrip, PngRawProfileTextsGiveExifAndXmp) {
  auto hex_profile = [](const char* name, const std::vector<std::uint8_t>& bytes) {
    std::string text = std::string("\n") + name + "\n" + std::string(8 - std::to_string(bytes.size()).size(), ' ') +
                       std::to_string(bytes.size());
    static constexpr char kDigits[] = "0123456789abcdef";
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      if (i % 36 == 0) text += '\n';
      text += kDigits[bytes[i] >> 4];
      text += kDigits[bytes[i] & 15];
    }
    return text + "\n";
  };
  auto with_text = [](std::vector<std::uint8_t> png, const std::string& key, const std::string& text) {
    std::vector<std::uint8_t> chunk(4, 0);
    const std::string body = std::string("tEXt") + key + std::string(1, '\0') + text;
    const auto length = std::uint32_t(body.size() - 4);
    for (int i = 0; i < 4; ++i) chunk[std::size_t(i)] = std::uint8_t(length >> (24 - 8 * i));
    chunk.insert(chunk.end(), body.begin(), body.end());
    const auto crc = std::uint32_t(crc32(0, reinterpret_cast<const Bytef*>(body.data()), uInt(body.size())));
    for (int i = 0; i < 4; ++i) chunk.push_back(std::uint8_t(crc >> (24 - 8 * i)));
    png.insert(png.begin() + 33, chunk.begin(), chunk.end());  // after the signature and IHDR
    return png;
  };
  const std::vector<std::uint8_t> plain = encode_ok(make_image(8, 6, 3, 8), ImageFormat::kPng);
  const std::vector<std::uint8_t> exif = make_exif(true, 6);
  std::vector<std::uint8_t> app1 = {'E', 'x', 'i', 'f', 0, 0};
  app1.insert(app1.end(), exif.begin(), exif.end());
  const std::vector<std::uint8_t> xmp = make_xmp(6);
  Image back = decode_ok(with_text(with_text(plain, "Raw profile type exif", hex_profile("exif", exif)),
                                   "Raw profile type xmp", hex_profile("xmp", xmp)));
  EXPECT_EQ(back.exif, exif);
  EXPECT_EQ(exif_orientation(back), 6);
  EXPECT_EQ(back.xmp, xmp);
  EXPECT_EQ(decode_ok(with_text(plain, "Raw profile type APP1", hex_profile("exif", app1))).exif, exif);
  // Malformed: a count past the digits, a bad digit, no count.
  for (const std::string& bad :
       {std::string("\nexif\n  999999\n4d4d"), std::string("\nexif\n       2\n4g4d"), std::string("exif")}) {
    EXPECT_TRUE(decode_ok(with_text(plain, "Raw profile type exif", bad)).exif.empty()) << bad;
  }
  // The standard eXIf wins over a raw profile.
  Image img = make_image(8, 6, 3, 8);
  img.exif = make_exif(false, 3);
  EXPECT_EQ(
      decode_ok(with_text(encode_ok(img, ImageFormat::kPng), "Raw profile type exif", hex_profile("exif", exif))).exif,
      img.exif);
}

// A PNG's text chunks reach a PNG output: Latin-1 and international (UTF-8), short and long (compressed); the
// writer's Software and the input file's dates are not carried, nor is a keyword libpng cannot write.
TEST(MetadataRoundTrip, PngTextsGoToAPngOutput) {
  Image img = make_image(8, 6, 3, 8);
  const std::string long_text(5000, 'a');
  img.png_texts = {{"Title", "Sunset \xE9t\xE9", false},
                   {"Author", "Zo\xC3\xAB", true},
                   {"Comment", long_text, false},
                   {"Description", long_text + "\xE2\x82\xAC", true},
                   {"Software", "an editor", false},
                   {"date:modify", "2020-01-01", false},
                   {"   ", "spaces", false}};
  const Image back = decode_ok(encode_ok(img, ImageFormat::kPng));
  ASSERT_EQ(back.png_texts.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(back.png_texts[i].keyword, img.png_texts[i].keyword);
    EXPECT_EQ(back.png_texts[i].text, img.png_texts[i].text) << img.png_texts[i].keyword;
    EXPECT_EQ(back.png_texts[i].international, img.png_texts[i].international) << img.png_texts[i].keyword;
  }
  img.png_texts.resize(5);  // and Software, as another program would have written it: read, not carried
  const std::vector<std::uint8_t> png = encode_ok(img, ImageFormat::kPng);
  EXPECT_EQ(decode_ok(png).png_texts.size(), 4u);
  // Bounded: 1 MiB of text in all (a file of 300 zTXt chunks of 8 MB each cost 2.4 GB); a text past it is left out
  // and the rest still read. EXIF and XMP after many texts still count (a cap on libpng's chunks lost them).
  img.png_texts.clear();
  for (int i = 0; i < 40; ++i) img.png_texts.push_back({"Note" + std::to_string(i), std::string(3000, 'n'), false});
  img.png_texts[1].text = std::string(std::size_t{1} << 20, 'b');
  img.xmp = make_xmp(1);
  std::vector<std::uint8_t> png_bytes = encode_ok(img, ImageFormat::kPng);
  // An eXIf after the texts and the image data, before IEND, as other writers may place it.
  const std::vector<std::uint8_t> exif = make_exif(false, 6);
  std::vector<std::uint8_t> chunk = {0,   0,  std::uint8_t(exif.size() >> 8), std::uint8_t(exif.size()), 'e', 'X',
                                     'I', 'f'};
  chunk.insert(chunk.end(), exif.begin(), exif.end());
  const auto crc = std::uint32_t(crc32(0, chunk.data() + 4, uInt(chunk.size() - 4)));
  for (int i = 0; i < 4; ++i) chunk.push_back(std::uint8_t(crc >> (24 - 8 * i)));
  png_bytes.insert(png_bytes.end() - 12, chunk.begin(), chunk.end());
  const Image bounded = decode_ok(png_bytes);
  ASSERT_EQ(bounded.png_texts.size(), 39u);
  EXPECT_EQ(bounded.png_texts[0].keyword, "Note0");
  EXPECT_EQ(bounded.png_texts[1].keyword, "Note2");
  EXPECT_EQ(bounded.xmp, img.xmp);
  EXPECT_EQ(bounded.exif, exif);
}

TEST(MetadataRoundTrip, PngColourChunksGoToAPngOutput) {
  Image img = make_image(8, 6, 3, 16);
  img.png_colour.gamma = 100000;  // linear light, which browsers show much darker as sRGB
  img.png_colour.chromaticities = {31270, 32900, 70800, 29200, 17000, 79700, 13100, 4600};  // BT.2020
  Image back = decode_ok(encode_ok(img, ImageFormat::kPng));
  EXPECT_EQ(back.png_colour.srgb_intent, -1);
  EXPECT_EQ(back.png_colour.gamma, 100000);
  EXPECT_EQ(back.png_colour.chromaticities, img.png_colour.chromaticities);
  EXPECT_FALSE(png_colour_fits_output(back, ImageFormat::kJpeg));
  EXPECT_FALSE(png_colour_fits_output(back, ImageFormat::kTiff));
  EXPECT_TRUE(png_colour_fits_output(back, ImageFormat::kPng));
  Image gray = back;  // primaries alone do not change a gray image's look
  gray.channels = 1;
  gray.png_colour.gamma = 0;
  EXPECT_TRUE(png_colour_fits_output(gray, ImageFormat::kJpeg));
  img.png_colour.chromaticities = {};  // gamma alone
  back = decode_ok(encode_ok(img, ImageFormat::kPng));
  EXPECT_EQ(back.png_colour.gamma, 100000);
  EXPECT_EQ(back.png_colour.chromaticities[1], 0);
  EXPECT_FALSE(png_colour_fits_output(back, ImageFormat::kWebp));
  img.png_colour.gamma = 45500;  // 1/2.2 as some writers round it: sRGB's look, nothing lost
  EXPECT_TRUE(png_colour_fits_output(img, ImageFormat::kJpeg));
  img.png_colour.gamma = 55556;  // 1/1.8, old Macs
  EXPECT_FALSE(png_colour_fits_output(img, ImageFormat::kJpeg));
  // An sRGB chunk goes out with sRGB's gAMA and cHRM beside it, and fits every format.
  img.png_colour = {};
  img.png_colour.srgb_intent = 1;  // relative colorimetric
  back = decode_ok(encode_ok(img, ImageFormat::kPng));
  EXPECT_EQ(back.png_colour.srgb_intent, 1);
  EXPECT_EQ(back.png_colour.gamma, 45455);
  EXPECT_EQ(back.png_colour.chromaticities[0], 31270);
  EXPECT_TRUE(png_colour_fits_output(back, ImageFormat::kJpeg));
  // An ICC profile rules: the chunks are neither written beside it nor read from a file that has both.
  img.icc_profile = make_icc("RGB ", 300);
  img.png_colour.srgb_intent = -1;
  img.png_colour.gamma = 100000;
  back = decode_ok(encode_ok(img, ImageFormat::kPng));
  EXPECT_EQ(back.icc_profile, img.icc_profile);
  EXPECT_TRUE(back.png_colour.empty());
  // Other formats neither write nor read them.
  img.icc_profile.clear();
  EXPECT_TRUE(decode_ok(encode_ok(img, ImageFormat::kTiff)).png_colour.empty());
}

TEST(MetadataRoundTrip, PngExifPrefixIsStripped) {
  Image img = make_image(8, 8, 3, 8);
  const std::vector<std::uint8_t> tiff = make_exif(false, 6);
  img.exif = {'E', 'x', 'i', 'f', 0, 0};
  img.exif.insert(img.exif.end(), tiff.begin(), tiff.end());
  const std::vector<std::uint8_t> png = encode_ok(img, ImageFormat::kPng);
  ASSERT_NE(std::search(png.begin(), png.end(), img.exif.begin(), img.exif.begin() + 6), png.end());  // as given
  Image back = decode_ok(png);
  EXPECT_EQ(back.exif, tiff);
  EXPECT_EQ(exif_orientation(back), 6);
  // A plain eXIf still reads as before.
  img.exif = tiff;
  EXPECT_EQ(decode_ok(encode_ok(img, ImageFormat::kPng)).exif, tiff);
}

TEST(MetadataRoundTrip, BrokenJpegIccChunksStillDecode) {
  Image img = make_image(16, 16, 3, 8);
  img.icc_profile = make_icc("RGB ", 70000);
  std::vector<std::uint8_t> jpeg = encode_ok(img, ImageFormat::kJpeg);
  const std::string magic("ICC_PROFILE\0", 12);
  auto at = std::search(jpeg.begin(), jpeg.end(), magic.begin(), magic.end());
  ASSERT_NE(at, jpeg.end());
  at[12] = 0;  // sequence number 0 is invalid: libjpeg warns (tolerated) and returns no profile
  Image back = decode_ok(jpeg);
  EXPECT_EQ(back.width, 16);
  EXPECT_TRUE(back.icc_profile.empty());
}

TEST(MetadataRoundTrip, FileHelpersCarryMetadata) {
  Image img = make_image(10, 6, 4, 16);
  img.icc_profile = make_icc("RGB ", 1000);
  img.exif = make_exif(true, 7);
  const std::string path = ::testing::TempDir() + "resr_metadata_test.png";
  ASSERT_TRUE(write_image_file(img, path, ImageFormat::kPng, {}).ok());
  Result<Image> back = read_image_file(path);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->icc_profile, img.icc_profile);
  EXPECT_EQ(back->exif, img.exif);
  EXPECT_EQ(back->bytes, img.bytes);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace resr
