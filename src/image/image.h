// Image: a decoded raster with interleaved samples, the exchange format between image/ codecs and the pipeline.
//
//   channels: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA (alpha is straight, not premultiplied)
//   bits:     8 (one uint8 per sample) or 16 (one native-endian uint16 per sample, two bytes in `bytes`)
//   bytes:    width * height * channels * bits / 8 bytes, rows top to bottom, no padding
//
// Metadata travels with the pixels: `icc_profile` is the raw ICC profile (empty when none), `exif` the raw
// TIFF-structured EXIF payload, starting with "II*\0" or "MM\0*" (no JPEG "Exif\0\0" prefix; empty when none),
// `xmp` the XMP packet, and `dpi_x`/`dpi_y` the resolution the file states outside its EXIF. Decoders fill them
// where the format carries them and encoders write them back (codec.h); metadata.h reads and applies the EXIF
// orientation.
//
// A default-constructed Image is empty (0x0). Codecs always produce consistent images; code that builds one by
// hand must keep `bytes.size()` in step with the fields (encode_image checks and reports a mismatch).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace resr {

// The most further images (TIFF pages) a decode counts: a file may hold 100,000.
inline constexpr int kOtherImagesCounted = 1000;

struct Image {
  int width = 0, height = 0;
  int channels = 0;  // 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA
  int bits = 8;      // 8 or 16
  std::vector<std::uint8_t> bytes;
  std::vector<std::uint8_t> icc_profile;  // raw ICC profile, or empty
  std::vector<std::uint8_t> exif;         // raw TIFF-structured EXIF ("II*\0..." / "MM\0*..."), or empty
  std::vector<std::uint8_t> xmp;          // the XMP packet (UTF-8 XML, no NUL), or empty
  // Pixels per inch across and down, as PNG pHYs, JPEG JFIF density or TIFF X/YResolution state it (carried
  // unchanged, like EXIF's own resolution); 0 when the file states none, or only an aspect ratio.
  double dpi_x = 0, dpi_y = 0;
  // A PNG's text chunks (title, author, comments), for a PNG output; not the XMP, raw profiles, Software or
  // ImageMagick's date: texts (the input file's dates), which would misdescribe the output.
  struct Text {
    std::string keyword, text;  // text: Latin-1, or UTF-8 when `international` (iTXt)
    bool international = false;
  };
  std::vector<Text> png_texts;
  // A PNG's colour space where it has no ICC profile, in PNG's fixed point (x 100000): the sRGB chunk's rendering
  // intent (-1: none), gAMA (0: none) and cHRM's white point and primaries (white y 0: none), for a PNG output; resr
  // writes them to no other format (png_colour_fits_output).
  struct PngColour {
    int srgb_intent = -1;
    std::int32_t gamma = 0;
    std::array<std::int32_t, 8> chromaticities{};  // white x, y, red x, y, green x, y, blue x, y
    bool empty() const { return srgb_intent < 0 && gamma == 0 && chromaticities[1] == 0; }
  };
  PngColour png_colour;
  // Images after the one read, left out (a TIFF's further pages); kOtherImagesCounted: as many or more.
  int other_images = 0;

  // Number of samples (pixels * channels).
  std::size_t sample_count() const { return std::size_t(width) * std::size_t(height) * std::size_t(channels); }
  bool has_alpha() const { return channels == 2 || channels == 4; }
  // The i-th sample of a 16-bit image; memcpy because `bytes` carries no uint16 alignment guarantee.
  std::uint16_t sample16(std::size_t i) const {
    std::uint16_t v;
    std::memcpy(&v, bytes.data() + 2 * i, sizeof v);
    return v;
  }
};

// The metadata an image made from `from` (upscaled, resized) carries: ICC profile, EXIF, XMP, resolution, texts,
// colour chunks.
inline void carry_metadata(const Image& from, Image& to) {
  to.icc_profile = from.icc_profile;
  to.exif = from.exif;
  to.xmp = from.xmp;
  to.dpi_x = from.dpi_x;
  to.dpi_y = from.dpi_y;
  to.png_texts = from.png_texts;
  to.png_colour = from.png_colour;
}

}  // namespace resr
