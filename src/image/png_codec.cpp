// PNG decode/encode with libpng's progressive-free "read_image" API from memory.
// libpng reports errors by longjmp to the setjmp in the calling frame; the functions that call setjmp
// (read_header, read_pixels, write_png) hold no C++ objects with destructors, so the jump skips none
// (the rule in [csetjmp.syn]); buffers and the png structs live in the callers, which clean up either way.
#include <png.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "core/deflate_bound.h"
#include "image/codec_formats.h"
#include "image/png_idat.h"
#include "image/png_text.h"

namespace resr::image_detail {
namespace {

// The keyword of the iTXt chunk that holds XMP (XMP Specification Part 3, 1.1.5).
constexpr char kXmpKeyword[] = "XML:com.adobe.xmp";
constexpr std::size_t kMaxCarriedTextBytes = std::size_t{1} << 20;  // the texts carried to the output, in all
constexpr std::size_t kMaxXmpBytes = std::size_t{16} << 20;
constexpr std::size_t kMaxRawProfileBytes = std::size_t{32} << 20;  // hex: twice the bytes

// The bytes of an ImageMagick "Raw profile type NAME" text: a newline, NAME, a newline, the byte count right-aligned,
// a newline, then that many bytes in hex, broken into lines. Empty when the text is not that.
std::vector<std::uint8_t> raw_profile_bytes(std::string_view text) {
  std::size_t at = text.find_first_not_of(" \n");
  at = at == std::string_view::npos ? at : text.find('\n', at);  // past the name
  if (at == std::string_view::npos) return {};
  at = text.find_first_not_of(" \n", at);
  std::size_t count = 0;
  for (; at < text.size() && text[at] >= '0' && text[at] <= '9'; ++at) {
    count = count * 10 + std::size_t(text[at] - '0');
    if (count > text.size() / 2) return {};  // more bytes than the text has digits for
  }
  std::vector<std::uint8_t> bytes;
  bytes.reserve(count);
  int high = -1;
  for (; at < text.size() && bytes.size() < count; ++at) {
    const char c = text[at];
    if (c == '\n' || c == ' ' || c == '\r') continue;
    const int v = c >= '0' && c <= '9'   ? c - '0'
                  : c >= 'a' && c <= 'f' ? c - 'a' + 10
                  : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                         : -1;
    if (v < 0) return {};
    if (high < 0) {
      high = v;
    } else {
      bytes.push_back(std::uint8_t(high * 16 + v));
      high = -1;
    }
  }
  if (bytes.size() != count || count == 0) return {};
  return bytes;
}

// A text chunk's keyword libpng writes: 1-79 Latin-1 letters, not all spaces (libpng fails the whole file on one it
// does not: a keyword of spaces is read, but not written).
bool writable_keyword(std::string_view key) {
  if (key.empty() || key.size() > 79 || key.find_first_not_of(' ') == std::string_view::npos) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u >= 32 && u <= 126) || u >= 161;
  });
}

// Pixels per metre as dots per inch, whole where a whole dpi was meant: PNG stores 300 dpi as 11811 and 72 as 2835,
// which read back as 299.9994 and 72.009; a whole dpi is never more than half a pixel per metre (0.0127 dpi) away.
double dpi_of(png_uint_32 pixels_per_meter) {
  const double dpi = pixels_per_meter / kInchesPerMeter, whole = std::round(dpi);
  return std::abs(dpi - whole) <= 0.0128 ? whole : dpi;
}

png_uint_32 pixels_per_meter(double dpi) {
  return png_uint_32(std::clamp(std::lround(dpi * kInchesPerMeter), 1L, 0x7FFFFFFFL));  // PNG: at most 2^31 - 1
}

struct PngIo {
  const std::uint8_t* data = nullptr;  // decode source
  std::size_t size = 0, pos = 0;
  std::vector<std::uint8_t>* out = nullptr;  // encode sink
  char message[256] = {};
};

void on_error(png_structp png, png_const_charp msg) {
  auto* io = static_cast<PngIo*>(png_get_error_ptr(png));
  std::snprintf(io->message, sizeof io->message, "%s", msg);
  png_longjmp(png, 1);
}

void on_warning(png_structp, png_const_charp) {}  // recoverable by definition, and this module never prints

void read_bytes(png_structp png, png_bytep dst, png_size_t n) {
  auto* io = static_cast<PngIo*>(png_get_io_ptr(png));
  if (n > io->size - io->pos) png_error(png, "unexpected end of data");
  std::memcpy(dst, io->data + io->pos, n);
  io->pos += n;
}

void write_bytes(png_structp png, png_bytep src, png_size_t n) {
  auto* io = static_cast<PngIo*>(png_get_io_ptr(png));
  std::size_t old = io->out->size();
  if (!try_resize(*io->out, old + n)) png_error(png, "out of memory");
  std::memcpy(io->out->data() + old, src, n);
}

void flush_bytes(png_structp) {}

struct PngLayout {
  png_uint_32 width = 0, height = 0;
  int channels = 0, bits = 0;
  std::size_t rowbytes = 0;
};

// Reads the header and sets the expansions that bring every color type to 1-4 channels of 8 or 16 bits.
bool read_header(png_structp png, png_infop info, PngLayout* layout) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_user_limits(png, kMaxImageSide, kMaxImageSide);
  // eXIf kept as it is: libpng drops one that starts "Exif\0\0", as some writers store it (read_metadata strips it).
  // The text chunks too, compressed as they are (png_text.h inflates them within budgets): libpng inflated each up
  // to 8 MB, a thousand of them (a 2.3 MB file of 300 zTXt chunks cost 2.4 GB and 15 s).
  static constexpr png_byte kKeptAsTheyAre[] = {'e', 'X', 'I', 'f', 0, 't', 'E', 'X', 't', 0,
                                                'z', 'T', 'X', 't', 0, 'i', 'T', 'X', 't', 0};
  png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_ALWAYS, kKeptAsTheyAre, 4);
  png_read_info(png, info);
  int color_type = png_get_color_type(png, info);
  int depth = png_get_bit_depth(png, info);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color_type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
  if (depth == 16 && std::endian::native == std::endian::little) png_set_swap(png);  // PNG is big-endian
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  layout->width = png_get_image_width(png, info);
  layout->height = png_get_image_height(png, info);
  layout->channels = png_get_channels(png, info);
  layout->bits = png_get_bit_depth(png, info);
  layout->rowbytes = png_get_rowbytes(png, info);
  return true;
}

// png_read_end validates the chunks after the pixels, so a file cut anywhere is reported as truncated.
bool read_pixels(png_structp png, png_infop info, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_image(png, rows);
  png_read_end(png, info);
  return true;
}

// The header and metadata chunks by libpng, then the image data made by png_idat_stream (compressed in parallel),
// one IDAT chunk per piece, and IEND. libpng's own row writer (png_write_image, png_write_end) is not used.
bool write_png(png_structp png, png_infop info, const Image* image, const std::string* xmp_text,
               const std::vector<std::uint8_t>* pieces, std::size_t count) {
  if (setjmp(png_jmpbuf(png))) return false;
  static constexpr int kColorTypes[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                         PNG_COLOR_TYPE_RGB_ALPHA};
  png_set_IHDR(png, info, png_uint_32(image->width), png_uint_32(image->height), image->bits,
               kColorTypes[image->channels], PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  // libpng validates the ICC header against the color type; a mismatching profile is dropped with a warning
  // (benign errors) instead of failing the whole write.
  png_set_benign_errors(png, 1);
  if (!image->icc_profile.empty()) {
    png_set_iCCP(png, info, "ICC profile", PNG_COMPRESSION_TYPE_BASE, image->icc_profile.data(),
                 png_uint_32(image->icc_profile.size()));
  }
  const Image::PngColour& colour = image->png_colour;
  if (image->icc_profile.empty() && colour.srgb_intent >= 0) {
    png_set_sRGB_gAMA_and_cHRM(png, info, colour.srgb_intent);  // with sRGB's gAMA and cHRM, as PNG advises
  } else if (image->icc_profile.empty()) {
    if (colour.gamma > 0) png_set_gAMA_fixed(png, info, colour.gamma);
    const std::array<std::int32_t, 8>& c = colour.chromaticities;
    if (c[1] > 0) png_set_cHRM_fixed(png, info, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]);
  }
  if (!image->exif.empty()) {  // libpng copies the block; the const_cast never writes
    png_set_eXIf_1(png, info, png_uint_32(image->exif.size()), const_cast<png_bytep>(image->exif.data()));
  }
  if (image->dpi_x > 0 && image->dpi_y > 0) {
    png_set_pHYs(png, info, pixels_per_meter(image->dpi_x), pixels_per_meter(image->dpi_y), PNG_RESOLUTION_METER);
  }
  if (!image->xmp.empty()) {  // an uncompressed iTXt, as XMP's specification asks; libpng copies the text
    png_text text{};
    text.compression = PNG_ITXT_COMPRESSION_NONE;
    text.key = const_cast<png_charp>(kXmpKeyword);
    text.text = const_cast<png_charp>(xmp_text->c_str());
    text.itxt_length = xmp_text->size();
    png_set_text(png, info, &text, 1);
  }
  for (const Image::Text& t : image->png_texts) {  // long ones compressed, as their writers would have
    if (!writable_keyword(t.keyword) || t.keyword == kXmpKeyword) continue;  // one XMP packet: image->xmp
    png_text text{};
    const bool compressed = t.text.size() > 1024;
    text.compression = t.international ? (compressed ? PNG_ITXT_COMPRESSION_zTXt : PNG_ITXT_COMPRESSION_NONE)
                                       : (compressed ? PNG_TEXT_COMPRESSION_zTXt : PNG_TEXT_COMPRESSION_NONE);
    text.key = const_cast<png_charp>(t.keyword.c_str());
    text.text = const_cast<png_charp>(t.text.c_str());
    png_set_text(png, info, &text, 1);
  }
  png_write_info(png, info);
  static constexpr std::size_t kMaxChunk = std::size_t{1} << 30;  // PNG chunks hold at most 2^31 - 1 bytes
  for (std::size_t i = 0; i < count; ++i) {
    const std::vector<std::uint8_t>& piece = pieces[i];
    for (std::size_t at = 0; at < piece.size(); at += kMaxChunk)
      png_write_chunk(png, reinterpret_cast<png_const_bytep>("IDAT"), piece.data() + at,
                      std::min(kMaxChunk, piece.size() - at));
  }
  png_write_chunk(png, reinterpret_cast<png_const_bytep>("IEND"), nullptr, 0);
  return true;
}

std::uint32_t load_be32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}

// One walk over the chunks' headers (not their data): the IDAT chunks' bytes, whether an acTL chunk (APNG's
// animation control) comes before them (libpng would read the first frame alone, silently), and a chunk longer
// than what the file has left (libpng allocated and filled what a 141-byte file's tEXt chunk claimed, 2 GiB, before
// finding the end), as the error precheck_ihdr gives.
struct ChunkScan {
  std::uint64_t idat_bytes = 0;
  bool animated = false;
  Status overlong;
};

ChunkScan scan_chunks(std::span<const std::uint8_t> data) {
  ChunkScan scan;
  bool seen_idat = false;
  for (std::uint64_t at = 8; at + 8 <= data.size();) {  // past the signature
    const std::uint64_t length = load_be32(data.data() + at);
    const std::string type(reinterpret_cast<const char*>(data.data() + at + 4), 4);
    if (type == "acTL" && !seen_idat) scan.animated = true;
    if (at + 12 + length > data.size()) {
      scan.overlong = Status::error("corrupt or truncated PNG data: chunk " + type + " at byte " + std::to_string(at) +
                                    " claims " + std::to_string(length) + " bytes, the file has " +
                                    std::to_string(data.size() - at - 8) + " after its header");
      break;
    }
    if (type == "IDAT") {
      seen_idat = true;
      scan.idat_bytes += length;
    }
    if (type == "IEND") break;
    at += 12 + length;  // length, type, data, CRC
  }
  return scan;
}

// Checks the IHDR fields ourselves before libpng runs: gives the same dimension errors as the other formats
// and rejects files far too small for their claimed size before anything is allocated, or whose image data is more
// than the image holds even stored uncompressed (libpng inflates what follows the image to its end: a 1x1 image
// with 8 MB of deflated zeros took 30 s).
Status precheck_ihdr(std::span<const std::uint8_t> data, const ChunkScan& chunks) {
  if (data.size() < 26 || std::memcmp(data.data() + 12, "IHDR", 4) != 0) return ok_status();  // libpng reports
  std::int64_t width = load_be32(data.data() + 16), height = load_be32(data.data() + 20);
  RESR_RETURN_IF_ERROR(check_dimensions(width, height));
  int depth = data[24], color_type = data[25];
  int channels = color_type == 0 ? 1 : color_type == 2 ? 3 : color_type == 3 ? 1 : color_type == 4 ? 2 : 4;
  std::int64_t min_raw_bytes = width * height * channels * depth / 8;
  // An IDAT stream shorter than the raw size / deflate's largest expansion is certainly truncated.
  if (min_raw_bytes > std::int64_t(data.size()) * kMaxDeflateExpansion + 1024) {
    return Status::error("corrupt or truncated PNG data: " + std::to_string(data.size()) + " bytes cannot hold a " +
                         std::to_string(width) + "x" + std::to_string(height) + " image");
  }
  // Stored rows: a filter byte and the row's bytes each, interlaced passes under 2h + 7 rows; stored deflate adds 5
  // bytes a 64 KiB block, and an encoder flushing every row about 10 bytes a row (16 allowed): twice that, and
  // 64 KiB, is more than any encoder writes.
  const std::int64_t row_bytes = (width * channels * depth + 7) / 8 + 1 + 16;
  const std::uint64_t most = 2 * std::uint64_t(2 * height + 7) * std::uint64_t(row_bytes) + 65536;
  RESR_RETURN_IF_ERROR(chunks.overlong);
  if (chunks.idat_bytes > most)
    return Status::error("corrupt PNG data: " + std::to_string(chunks.idat_bytes) +
                         " bytes of image data, more than a " + std::to_string(width) + "x" + std::to_string(height) +
                         " image holds uncompressed");
  return ok_status();
}

// sRGB, gAMA and cHRM as libpng has checked them (it gives an sRGB chunk's gamma and chromaticities as sRGB's own).
void read_colour(png_structp png, png_infop info, Image::PngColour& colour) {
  int intent = 0;
  if (png_get_sRGB(png, info, &intent) != 0) colour.srgb_intent = intent;
  png_fixed_point gamma = 0;
  if (png_get_gAMA_fixed(png, info, &gamma) != 0 && gamma > 0) colour.gamma = gamma;
  std::array<png_fixed_point, 8> c{};
  if (png_get_cHRM_fixed(png, info, &c[0], &c[1], &c[2], &c[3], &c[4], &c[5], &c[6], &c[7]) != 0 && c[1] > 0) {
    std::copy(c.begin(), c.end(), colour.chromaticities.begin());
  }
}

// iCCP (libpng has checked the profile header and inflated it), eXIf and the text chunks (kept unknown to libpng:
// the XMP iTXt, the texts carried, ImageMagick's raw profiles, whose EXIF and XMP count when the file has no eXIf
// or XMP iTXt) and pHYs in metres, from before or after the pixels.
void read_metadata(png_structp png, png_infop info, Image& image) {
  png_charp name = nullptr;
  int compression = 0;
  png_bytep profile = nullptr;
  png_uint_32 length = 0;
  if (png_get_iCCP(png, info, &name, &compression, &profile, &length) != 0 && profile && length > 0) {
    image.icc_profile.assign(profile, profile + length);
  }
  png_unknown_chunkp chunks = nullptr;
  const int count = png_get_unknown_chunks(png, info, &chunks);
  std::vector<std::uint8_t> raw_exif, raw_xmp;
  // Each kind is tried once (the first chunk of it, good or not), and the texts carried share 1 MiB, eight that do
  // not fit ending them: inflating is bounded (a thousand XMP chunks of 16 MB each).
  enum class Kind { kSkipped, kXmp, kRawExif, kRawXmp, kCarried };
  bool xmp_tried = false, raw_exif_tried = false, raw_xmp_tried = false;
  std::size_t text_left = kMaxCarriedTextBytes;
  int texts_refused = 0;
  Kind kind = Kind::kSkipped;
  const auto budget = [&](std::string_view key) -> std::size_t {
    kind = Kind::kSkipped;
    if (key == kXmpKeyword) {
      if (std::exchange(xmp_tried, true)) return 0;
      kind = Kind::kXmp;
      return kMaxXmpBytes;
    }
    if (key == "Raw profile type exif" || key == "Raw profile type APP1") {
      if (std::exchange(raw_exif_tried, true)) return 0;
      kind = Kind::kRawExif;
      return kMaxRawProfileBytes;
    }
    if (key == "Raw profile type xmp") {
      if (std::exchange(raw_xmp_tried, true)) return 0;
      kind = Kind::kRawXmp;
      return kMaxRawProfileBytes;
    }
    if (key.starts_with("Raw profile type ") || key == "Software" || key.starts_with("date:") || !writable_keyword(key))
      return 0;
    kind = text_left > 0 ? Kind::kCarried : Kind::kSkipped;
    return text_left;
  };
  for (int i = 0; i < count; ++i) {
    const std::string_view type(reinterpret_cast<const char*>(chunks[i].name), 4);
    const std::span<const std::uint8_t> data(chunks[i].data, chunks[i].data != nullptr ? chunks[i].size : 0);
    if (type == "eXIf") {
      if (image.exif.empty() && !data.empty()) image.exif = exif_from_container(data);
      continue;
    }
    PngText t;
    kind = Kind::kSkipped;
    const bool parsed = parse_png_text(type, data, budget, &t);
    if (!parsed) {
      if (kind == Kind::kCarried && ++texts_refused == 8) text_left = 0;
      continue;
    }
    switch (kind) {
      case Kind::kXmp:
        image.xmp.assign(t.text.begin(), t.text.end());
        break;
      case Kind::kRawExif:
        raw_exif = raw_profile_bytes(t.text);
        break;
      case Kind::kRawXmp:
        raw_xmp = raw_profile_bytes(t.text);
        break;
      case Kind::kCarried:
        text_left -= t.text.size();
        image.png_texts.push_back({std::move(t.keyword), std::move(t.text), t.international});
        break;
      case Kind::kSkipped:
        break;
    }
  }
  // The standard chunks first; the raw profiles are what older ImageMagick and exiv2 wrote before them.
  if (image.exif.empty() && !raw_exif.empty()) image.exif = exif_from_container(raw_exif);
  if (image.xmp.empty()) image.xmp = std::move(raw_xmp);
  if (image.icc_profile.empty()) read_colour(png, info, image.png_colour);  // a profile, where there is one, rules
  png_uint_32 res_x = 0, res_y = 0;
  int unit = 0;
  if (png_get_pHYs(png, info, &res_x, &res_y, &unit) != 0 && unit == PNG_RESOLUTION_METER && res_x > 0 && res_y > 0) {
    image.dpi_x = dpi_of(res_x);
    image.dpi_y = dpi_of(res_y);
  }
}

}  // namespace

Result<Image> decode_png(std::span<const std::uint8_t> data, const SizeCheck& check_size) {
  const ChunkScan chunks = scan_chunks(data);
  RESR_RETURN_IF_ERROR(precheck_ihdr(data, chunks));
  if (chunks.animated) return Status::error("animated PNG (APNG) images are not supported");
  PngIo io;
  io.data = data.data();
  io.size = data.size();
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &io, on_error, on_warning);
  if (!png) return Status::error("out of memory creating the PNG decoder");
  png_infop info = png_create_info_struct(png);
  struct Guard {
    png_structp* png;
    png_infop* info;
    ~Guard() { png_destroy_read_struct(png, *info ? info : nullptr, nullptr); }
  } guard{&png, &info};
  if (!info) return Status::error("out of memory creating the PNG decoder");
  png_set_read_fn(png, &io, read_bytes);

  PngLayout layout;
  auto corrupt = [&io] { return Status::error(std::string("corrupt or truncated PNG data: ") + io.message); };
  if (!read_header(png, info, &layout)) return corrupt();
  RESR_RETURN_IF_ERROR(check_header_size(layout.width, layout.height, check_size));
  if (layout.channels < 1 || layout.channels > 4 || (layout.bits != 8 && layout.bits != 16) ||
      layout.rowbytes != std::size_t(layout.width) * layout.channels * (layout.bits / 8)) {
    return Status::error("unsupported PNG layout: " + std::to_string(layout.channels) + " channels of " +
                         std::to_string(layout.bits) + " bits");
  }
  Image image;
  RESR_RETURN_IF_ERROR(allocate_pixels(image, int(layout.width), int(layout.height), layout.channels, layout.bits));
  std::vector<png_bytep> rows(layout.height);
  for (std::size_t y = 0; y < rows.size(); ++y) rows[y] = image.bytes.data() + y * layout.rowbytes;
  if (!read_pixels(png, info, rows.data())) return corrupt();
  read_metadata(png, info, image);
  return image;
}

Result<std::vector<std::uint8_t>> encode_png(const Image& image) {
  std::vector<std::uint8_t> out;
  PngIo io;
  io.out = &out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &io, on_error, on_warning);
  if (!png) return Status::error("out of memory creating the PNG encoder");
  png_infop info = png_create_info_struct(png);
  struct Guard {
    png_structp* png;
    png_infop* info;
    ~Guard() { png_destroy_write_struct(png, *info ? info : nullptr); }
  } guard{&png, &info};
  if (!info) return Status::error("out of memory creating the PNG encoder");
  png_set_write_fn(png, &io, write_bytes, flush_bytes);

  // Paeth rows and run-length deflate: upscaled images are smooth, so Paeth leaves long runs of small residuals
  // that RLE packs about as tightly as libpng's default (level 6, adaptive filters), 5x faster (figures in
  // docs/architecture.md); and in bands on every core. Encoding was the slowest stage of a GPU upscale.
  RESR_ASSIGN_OR_RETURN(const std::vector<std::vector<std::uint8_t>> idat,
                        png_idat_stream(image.bytes.data(), image.width, image.height, image.channels, image.bits));
  // the header and metadata chunks
  std::size_t bytes = 4096 + image.icc_profile.size() + image.exif.size() + image.xmp.size();
  for (const std::vector<std::uint8_t>& piece : idat) bytes += piece.size() + 12;
  out.reserve(bytes);  // one allocation: growing a large buffer copies it, and fresh pages cost a fault each
  // libpng takes the XMP packet as a C string (made here: no C++ object may be built in write_png's setjmp frame).
  const std::string xmp_text(image.xmp.begin(), image.xmp.end());
  if (!write_png(png, info, &image, &xmp_text, idat.data(), idat.size())) {
    return Status::error(std::string("PNG encoding failed: ") + io.message);
  }
  return out;
}

}  // namespace resr::image_detail
