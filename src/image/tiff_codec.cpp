// TIFF through libtiff, from and to memory (TIFFClientOpenExt over a byte buffer), with libtiff's messages caught
// per handle (TIFFOpenOptions), so that nothing is printed and the first error becomes the Status.
//
// Decoding reads the first image of the file. Gray (either polarity) and RGB of 1 to 16 unsigned bits, with or
// without extra samples, in strips or tiles, interleaved or in separate planes, are read sample for sample
// (8 and 16 bits as stored, other depths scaled to 8 or 16). Everything else libtiff can turn into RGBA (palette,
// YCbCr and JPEG, CMYK, Lab, LogLuv, ...) goes through TIFFReadRGBAImageOriented at 8 bits: RGB, or RGBA when the
// file has alpha, whose alpha is read from the file beside it. The first extra sample is alpha (also when its
// kind is unspecified, as libtiff reports a missing ExtraSamples tag); premultiplied alpha, from the file or from
// libtiff's rendering, is made straight (refused for palette and CMYK, whose rendering cannot be undone). The TIFF
// Orientation tag is applied (the pixels come out upright); the ICC profile is read and written; EXIF (IFD0's
// descriptive tags and the EXIF and GPS IFDs, tiff_exif.h) is read, so that other formats carry it, and written (except
// into a BigTIFF). Encoding: one image, interleaved, Deflate with horizontal prediction, alpha as unassociated extra
// sample, 72 dpi.
#include <tiffio.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>

#include "core/deflate_bound.h"
#include "image/codec_formats.h"
#include "image/metadata.h"
#include "image/tiff_exif.h"

namespace resr::image_detail {
namespace {

constexpr tmsize_t kMaxLibtiffAllocation = tmsize_t{1} << 30;  // one buffer inside libtiff (a strip, a tile)

// The bytes libtiff reads or writes, and the first error it reported.
struct MemoryFile {
  std::span<const std::uint8_t> input;          // reading
  std::vector<std::uint8_t>* output = nullptr;  // writing
  std::uint64_t position = 0;
  std::string error;

  std::uint64_t size() const { return output != nullptr ? output->size() : input.size(); }
};

MemoryFile& file_of(thandle_t h) {
  return *static_cast<MemoryFile*>(h);
}

tmsize_t read_proc(thandle_t h, void* buffer, tmsize_t n) {
  MemoryFile& f = file_of(h);
  if (n < 0 || f.output != nullptr || f.position >= f.input.size()) return 0;
  const std::uint64_t count = std::min<std::uint64_t>(std::uint64_t(n), f.input.size() - f.position);
  std::memcpy(buffer, f.input.data() + f.position, count);
  f.position += count;
  return tmsize_t(count);
}

tmsize_t write_proc(thandle_t h, void* buffer, tmsize_t n) {
  MemoryFile& f = file_of(h);
  constexpr std::uint64_t kLimit = std::uint64_t(kMaxImageFileBytes) * 4;
  if (n < 0 || f.output == nullptr || f.position > kLimit || std::uint64_t(n) > kLimit - f.position) return -1;
  const std::uint64_t end = f.position + std::uint64_t(n);
  if (end > f.output->size() && !try_resize(*f.output, std::size_t(end))) return -1;
  std::memcpy(f.output->data() + f.position, buffer, std::size_t(n));
  f.position = end;
  return n;
}

toff_t seek_proc(thandle_t h, toff_t offset, int whence) {
  MemoryFile& f = file_of(h);
  std::uint64_t base = 0;
  if (whence == SEEK_CUR) base = f.position;
  if (whence == SEEK_END) base = f.size();
  f.position = base + offset;
  return f.position;
}

int close_proc(thandle_t /*h*/) {
  return 0;
}

toff_t size_proc(thandle_t h) {
  return file_of(h).size();
}

// Reading maps the input buffer itself (libtiff then reads strips and tiles in place; without a mapping it
// refuses some valid uncompressed tiles); writing has nothing to map.
int map_proc(thandle_t h, void** base, toff_t* size) {
  MemoryFile& f = file_of(h);
  if (f.output != nullptr || f.input.empty()) return 0;
  *base = const_cast<std::uint8_t*>(f.input.data());  // libtiff only reads a read-only handle's mapping
  *size = f.input.size();
  return 1;
}

void unmap_proc(thandle_t /*h*/, void* /*base*/, toff_t /*size*/) {}

int on_error(TIFF* /*tif*/, void* user, const char* module, const char* format, va_list args) {
  auto& f = *static_cast<MemoryFile*>(user);
  if (f.error.empty()) {  // the first since the last clear_error(): the cause, not its consequences
    char text[512];
    std::vsnprintf(text, sizeof text, format, args);
    f.error = (module != nullptr && module[0] != '\0') ? std::string(module) + ": " + text : std::string(text);
    for (char& c : f.error)
      if (c == '\n' || c == '\r' || c == '\t') c = ' ';  // some of libtiff's messages span lines
  }
  return 1;  // handled: nothing printed
}

int on_warning(TIFF* /*tif*/, void* /*user*/, const char* /*module*/, const char* /*format*/, va_list /*args*/) {
  return 1;  // warnings (unknown tags and the like) are dropped
}

struct TiffCloser {
  void operator()(TIFF* t) const { TIFFClose(t); }
};
using TiffPtr = std::unique_ptr<TIFF, TiffCloser>;

TiffPtr open_tiff(MemoryFile& file, const char* mode) {
  TIFFOpenOptions* options = TIFFOpenOptionsAlloc();
  if (options == nullptr) return nullptr;
  TIFFOpenOptionsSetMaxSingleMemAlloc(options, kMaxLibtiffAllocation);
  TIFFOpenOptionsSetErrorHandlerExtR(options, on_error, &file);
  TIFFOpenOptionsSetWarningHandlerExtR(options, on_warning, &file);
  TIFF* t = TIFFClientOpenExt("memory", mode, &file, read_proc, write_proc, seek_proc, close_proc, size_proc, map_proc,
                              unmap_proc, options);
  TIFFOpenOptionsFree(options);
  return TiffPtr(t);
}

// Before each step whose failure is reported: errors libtiff recovered from earlier must not be blamed.
void clear_error(MemoryFile& file) {
  file.error.clear();
}

Status tiff_error(const MemoryFile& file, const std::string& what) {
  return Status::error("TIFF: " + what + (file.error.empty() ? "" : " (" + file.error + ")"));
}

struct Layout {
  std::uint32_t width = 0, height = 0;
  std::uint16_t bits = 0, samples = 0, photometric = 0, planar = PLANARCONFIG_CONTIG, format = SAMPLEFORMAT_UINT;
  std::uint16_t orientation = ORIENTATION_TOPLEFT;
  std::uint16_t extra = 0;  // extra samples; the first is taken as alpha, also when its kind is unspecified
  std::uint16_t alpha_kind = EXTRASAMPLE_UNSPECIFIED;  // of the first extra sample: ASSOCALPHA is premultiplied
};

// In words, for refusals: "16-bit CMYK", "32-bit floating-point RGB", "8-bit CMYK with premultiplied alpha",
// "8-bit palette with alpha in separate planes".
std::string layout_name(const Layout& l) {
  std::string kind;
  switch (l.photometric) {
    case PHOTOMETRIC_MINISBLACK:
      kind = "gray";
      break;
    case PHOTOMETRIC_MINISWHITE:
      kind = "gray (white is zero)";
      break;
    case PHOTOMETRIC_RGB:
      kind = "RGB";
      break;
    case PHOTOMETRIC_PALETTE:
      kind = "palette";
      break;
    case PHOTOMETRIC_SEPARATED:
      kind = "CMYK";
      break;
    case PHOTOMETRIC_YCBCR:
      kind = "YCbCr";
      break;
    case PHOTOMETRIC_CIELAB:
    case PHOTOMETRIC_ICCLAB:
    case PHOTOMETRIC_ITULAB:
      kind = "Lab";
      break;
    case PHOTOMETRIC_LOGL:
    case PHOTOMETRIC_LOGLUV:
      kind = "LogLuv";
      break;
    default:
      kind = "photometric " + std::to_string(l.photometric);
  }
  const char* format = l.format == SAMPLEFORMAT_IEEEFP ? " floating-point " : " ";
  const char* alpha = l.extra == 0                             ? ""
                      : l.alpha_kind == EXTRASAMPLE_ASSOCALPHA ? " with premultiplied alpha"
                                                               : " with alpha";
  const char* planes = l.planar == PLANARCONFIG_SEPARATE ? " in separate planes" : "";
  return std::to_string(l.bits) + "-bit" + format + kind + alpha + planes;
}

// The colour samples of a pixel before its extra ones: 1 for gray, 3 for RGB; 0 for the other photometrics.
int colour_samples(const Layout& l) {
  if (l.photometric == PHOTOMETRIC_MINISBLACK || l.photometric == PHOTOMETRIC_MINISWHITE) return 1;
  return l.photometric == PHOTOMETRIC_RGB ? 3 : 0;
}

// Gray (either polarity) or RGB of 1 to 16 unsigned bits, with any number of extra samples (the first is alpha,
// the others are dropped): read as stored, so that 16 bits stay 16 and alpha is exact (libtiff's rendering has
// no alpha for most of these, and premultiplies RGB's).
bool direct(const Layout& l) {
  if (l.format != SAMPLEFORMAT_UINT || l.bits < 1 || l.bits > 16) return false;
  const int colours = colour_samples(l);
  return colours > 0 && l.samples == colours + l.extra;
}

// The image's channels: colour, then alpha when the file has extra samples.
int image_channels(const Layout& l) {
  return colour_samples(l) + (l.extra > 0 ? 1 : 0);
}

// The most bytes one stored byte can decode to, for the compressions with a known bound (run lengths of 128,
// LZW strings of at most 4096 bytes per 9-bit code, deflate's, JPEG's 2 bits per 8x8 block and component,
// rounded up); 0 for the others (ZSTD, LZMA, fax ...), which are not checked.
std::uint64_t most_expansion(std::uint16_t compression) {
  switch (compression) {
    case COMPRESSION_NONE:
      return 1;
    case COMPRESSION_PACKBITS:
      return 64;
    case COMPRESSION_LZW:
      return 3641;
    case COMPRESSION_ADOBE_DEFLATE:
    case COMPRESSION_DEFLATE:
      return kMaxDeflateExpansion;
    case COMPRESSION_JPEG:
    case COMPRESSION_OJPEG:
      return 1024;
    default:
      return 0;
  }
}

// A file whose stored data (the strips or tiles it lists, as far as they lie in the file) cannot decode to the
// image it declares: refused before the image is allocated, so that a few hundred bytes cannot claim gigabytes.
Status check_stored_data(TIFF* t, const Layout& l, std::size_t file_size) {
  std::uint16_t compression = COMPRESSION_NONE;
  TIFFGetFieldDefaulted(t, TIFFTAG_COMPRESSION, &compression);
  const std::uint64_t ratio = most_expansion(compression);
  if (ratio == 0) return ok_status();
  // The image's bytes as stored before compression (libtiff's own count: subsampled YCbCr stores less), per plane.
  const std::uint64_t planes = l.planar == PLANARCONFIG_SEPARATE ? std::max<std::uint16_t>(l.samples, 1) : 1;
  const std::uint64_t raw = std::uint64_t(TIFFVStripSize64(t, l.height)) * planes;
  const std::uint32_t striles = TIFFIsTiled(t) != 0 ? TIFFNumberOfTiles(t) : TIFFNumberOfStrips(t);
  std::uint64_t stored = 0;
  for (std::uint32_t i = 0; i < striles && stored * ratio < raw; ++i) {
    const std::uint64_t offset = TIFFGetStrileOffset(t, i), count = TIFFGetStrileByteCount(t, i);
    if (offset < file_size) stored += std::min<std::uint64_t>(count, file_size - offset);
  }
  if (stored * ratio < raw)
    return Status::error("TIFF: corrupt or truncated: " + std::to_string(stored) +
                         " bytes of image data cannot hold a " + std::to_string(l.width) + "x" +
                         std::to_string(l.height) + " image");
  return ok_status();
}

// Straight alpha from premultiplied colours (8 or 16 bits; alpha last): c * max / a, rounded, at most max.
void unpremultiply(Image& img) {
  const std::size_t pixels = std::size_t(img.width) * img.height;
  const int colours = img.channels - 1;
  if (img.bits == 8) {
    for (std::size_t i = 0; i < pixels; ++i) {
      std::uint8_t* p = img.bytes.data() + i * img.channels;
      const std::uint32_t a = p[colours];
      if (a == 0 || a == 255) continue;
      for (int c = 0; c < colours; ++c) p[c] = std::uint8_t(std::min<std::uint32_t>(255, (p[c] * 255u + a / 2) / a));
    }
    return;
  }
  for (std::size_t i = 0; i < pixels; ++i) {
    std::uint16_t s[4];
    std::memcpy(s, img.bytes.data() + i * img.channels * 2, std::size_t(img.channels) * 2);
    const std::uint64_t a = s[colours];
    if (a == 0 || a == 65535) continue;
    for (int c = 0; c < colours; ++c) s[c] = std::uint16_t(std::min<std::uint64_t>(65535, (s[c] * 65535u + a / 2) / a));
    std::memcpy(img.bytes.data() + i * img.channels * 2, s, std::size_t(img.channels) * 2);
  }
}

// Rows of stored samples as libtiff decodes them: `rows` rows of `row_bytes` bytes from `data`, covering
// columns x0 .. x0 + cols - 1 of image rows y0 .. y0 + rows - 1, of sample plane `plane` (0 when interleaved).
struct Block {
  const std::uint8_t* data;
  std::size_t row_bytes;
  std::uint32_t x0, y0, cols, rows;
  int plane;
};

// Hands each tile, or each row of the strips, of planes first_plane .. last_plane - 1 to `use`.
Status for_each_block(TIFF* t, MemoryFile& file, const Layout& l, int first_plane, int last_plane,
                      const std::function<void(const Block&)>& use) {
  const std::size_t samples_per_row_pixel = l.planar == PLANARCONFIG_CONTIG ? l.samples : 1;
  const auto packed_bytes = [&](std::uint32_t columns) {
    return (std::size_t(columns) * samples_per_row_pixel * l.bits + 7) / 8;
  };
  if (TIFFIsTiled(t) != 0) {
    std::uint32_t tw = 0, th = 0;
    TIFFGetField(t, TIFFTAG_TILEWIDTH, &tw);
    TIFFGetField(t, TIFFTAG_TILELENGTH, &th);
    const tmsize_t tile_bytes = TIFFTileSize(t);
    if (tw == 0 || th == 0 || tile_bytes <= 0 || tile_bytes > kMaxLibtiffAllocation ||
        packed_bytes(tw) * th > std::size_t(tile_bytes))
      return tiff_error(file, "bad tile size");
    std::vector<std::uint8_t> tile;
    if (!try_resize(tile, std::size_t(tile_bytes))) return Status::error("TIFF: out of memory for a tile");
    for (int s = first_plane; s < last_plane; ++s)
      for (std::uint32_t y = 0; y < l.height; y += th)
        for (std::uint32_t x = 0; x < l.width; x += tw) {
          clear_error(file);
          if (TIFFReadTile(t, tile.data(), x, y, 0, std::uint16_t(s)) < 0)
            return tiff_error(file, "cannot read the tile at " + std::to_string(x) + "," + std::to_string(y));
          use(Block{tile.data(), packed_bytes(tw), x, y, std::min(tw, l.width - x), std::min(th, l.height - y), s});
        }
    return ok_status();
  }
  const tmsize_t line_bytes = TIFFScanlineSize(t);
  if (line_bytes <= 0 || std::size_t(line_bytes) < packed_bytes(l.width) || line_bytes > kMaxLibtiffAllocation)
    return tiff_error(file, "bad row size");
  std::vector<std::uint8_t> line;
  if (!try_resize(line, std::size_t(line_bytes))) return Status::error("TIFF: out of memory for a row");
  for (int s = first_plane; s < last_plane; ++s)
    for (std::uint32_t y = 0; y < l.height; ++y) {
      clear_error(file);
      if (TIFFReadScanline(t, line.data(), y, std::uint16_t(s)) < 0)
        return tiff_error(file, "cannot read row " + std::to_string(y));
      use(Block{line.data(), std::size_t(line_bytes), 0, y, l.width, 1, s});
    }
  return ok_status();
}

// The sample at bit `position` of a decoded row, scaled from `bits` to `out_bits` (8 or 16), rounded: 16-bit
// samples in native order (libtiff swaps them), the others a most-significant-first bit string.
std::uint32_t stored_sample(const std::uint8_t* row, std::size_t position, int bits, int out_bits) {
  std::uint32_t v = 0;
  if (bits == 16) {
    std::uint16_t native = 0;
    std::memcpy(&native, row + position / 8, 2);
    v = native;
  } else if (bits == 8) {
    v = row[position / 8];
  } else {
    for (int i = 0; i < bits; ++i, ++position) v = (v << 1) | ((row[position / 8] >> (7 - position % 8)) & 1u);
  }
  const std::uint32_t max = (1u << bits) - 1, out_max = (1u << out_bits) - 1;
  return max == out_max ? v : (v * out_max + max / 2) / max;
}

void put_sample(Image& img, std::size_t index, std::uint32_t v) {
  if (img.bits == 8) {
    img.bytes[index] = std::uint8_t(v);
  } else {
    const auto v16 = std::uint16_t(v);
    std::memcpy(img.bytes.data() + index * 2, &v16, 2);
  }
}

// Gray becomes black-is-zero: white-is-zero files store max - gray.
void invert_gray(Image& img) {
  const std::size_t pixels = std::size_t(img.width) * img.height;
  const std::uint32_t max = (1u << img.bits) - 1;
  for (std::size_t i = 0; i < pixels; ++i) {
    const std::size_t at = i * img.channels;
    std::uint32_t v = img.bits == 8 ? img.bytes[at] : 0;
    if (img.bits == 16) {
      std::uint16_t v16 = 0;
      std::memcpy(&v16, img.bytes.data() + at * 2, 2);
      v = v16;
    }
    put_sample(img, at, max - v);
  }
}

// The image's channels of each pixel (the first of `l.samples`): 8 and 16 bits copied as stored, 1 to 7 bits
// scaled to 8, 9 to 15 to 16.
Status read_direct(TIFF* t, MemoryFile& file, const Layout& l, Image& img) {
  const int channels = image_channels(l), out_bits = l.bits > 8 ? 16 : 8;
  RESR_RETURN_IF_ERROR(allocate_pixels(img, int(l.width), int(l.height), channels, out_bits));
  clear_error(file);  // the layout checks report only their own findings
  const bool interleaved = l.planar == PLANARCONFIG_CONTIG;
  const std::size_t row_samples = interleaved ? l.samples : 1;  // a stored row's samples per pixel
  const std::size_t bytes = std::size_t(out_bits / 8), pixel = bytes * channels;
  const bool whole_pixels = interleaved && l.bits == out_bits && row_samples == std::size_t(channels);
  RESR_RETURN_IF_ERROR(for_each_block(t, file, l, 0, interleaved ? 1 : channels, [&](const Block& b) {
    for (std::uint32_t r = 0; r < b.rows; ++r) {
      const std::size_t first = (std::size_t(b.y0 + r) * img.width + b.x0) * channels;  // sample index
      const std::uint8_t* src = b.data + r * b.row_bytes;
      if (whole_pixels) {
        std::memcpy(img.bytes.data() + first * bytes, src, b.cols * pixel);
        continue;
      }
      for (std::uint32_t c = 0; c < b.cols; ++c)
        for (int ch = interleaved ? 0 : b.plane; ch < (interleaved ? channels : b.plane + 1); ++ch) {
          const std::size_t stored = std::size_t(c) * row_samples + (interleaved ? ch : 0);
          put_sample(img, first + std::size_t(c) * channels + ch,
                     stored_sample(src, stored * l.bits, l.bits, out_bits));
        }
    }
  }));
  if (l.photometric == PHOTOMETRIC_MINISWHITE) invert_gray(img);
  return ok_status();
}

// The first extra sample of each pixel, at 8 bits, into the last channel of `img`: for the layouts libtiff
// renders without their alpha (palette, CMYK, Lab). Read through a handle of its own: libtiff cannot restart a
// strip for row reads after its rendering has read it whole.
Status read_alpha(std::span<const std::uint8_t> data, const Layout& l, Image& img) {
  if (l.format != SAMPLEFORMAT_UINT || l.bits > 16 || l.photometric == PHOTOMETRIC_YCBCR ||
      l.photometric == PHOTOMETRIC_LOGL || l.photometric == PHOTOMETRIC_LOGLUV)
    return Status::error("TIFF: unsupported layout: " + layout_name(l));
  MemoryFile file;
  file.input = data;
  TiffPtr t = open_tiff(file, "r");
  if (!t) return tiff_error(file, "cannot open");
  const int alpha = l.samples - l.extra;
  const bool interleaved = l.planar == PLANARCONFIG_CONTIG;
  const int plane = interleaved ? 0 : alpha;
  clear_error(file);
  return for_each_block(t.get(), file, l, plane, plane + 1, [&](const Block& b) {
    for (std::uint32_t r = 0; r < b.rows; ++r) {
      const std::uint8_t* src = b.data + r * b.row_bytes;
      std::uint8_t* dst = img.bytes.data() + (std::size_t(b.y0 + r) * img.width + b.x0) * img.channels;
      for (std::uint32_t c = 0; c < b.cols; ++c) {
        const std::size_t sample = interleaved ? std::size_t(c) * l.samples + alpha : c;
        dst[c * img.channels + img.channels - 1] = std::uint8_t(stored_sample(src, sample * l.bits, l.bits, 8));
      }
    }
  });
}

// read_direct, then straight alpha where the file's is premultiplied.
Status read_samples(TIFF* t, MemoryFile& file, const Layout& l, Image& img) {
  RESR_RETURN_IF_ERROR(read_direct(t, file, l, img));
  if (l.alpha_kind == EXTRASAMPLE_ASSOCALPHA) unpremultiply(img);
  return ok_status();
}

// Any layout libtiff can render: 8-bit RGB(A), or gray(+alpha) for gray photometrics, in stored row order.
// libtiff renders RGB with straight alpha premultiplied, and associated or unspecified alpha as stored; the other
// photometrics' colour as stored, and their alpha not at all (read_alpha reads it). What comes out premultiplied
// is made straight after; unspecified alpha is taken as straight on both paths.
Status read_rgba(TIFF* t, MemoryFile& file, std::span<const std::uint8_t> data, const Layout& l, Image& img) {
  char why[1024] = {};
  if (TIFFRGBAImageOK(t, why) == 0) {
    std::string reason(why);
    if (!reason.empty()) reason[0] = char(std::tolower(static_cast<unsigned char>(reason[0])));
    return Status::error("TIFF: unsupported layout: " + reason);
  }
  const bool gray = l.photometric == PHOTOMETRIC_MINISBLACK || l.photometric == PHOTOMETRIC_MINISWHITE;
  const bool alpha = l.extra > 0;
  // Premultiplied inks or palette entries cannot be made straight after libtiff has turned them into RGB.
  if (alpha && l.alpha_kind == EXTRASAMPLE_ASSOCALPHA && !gray && l.photometric != PHOTOMETRIC_RGB)
    return Status::error("TIFF: unsupported layout: " + layout_name(l));
  std::vector<std::uint8_t> raster;  // uint32 ABGR per pixel
  if (!try_resize(raster, std::size_t(l.width) * l.height * 4))
    return Status::error("TIFF: out of memory for the image");
  clear_error(file);
  // Asking for the file's own orientation leaves the rows as stored: the orientation is applied once, after.
  if (TIFFReadRGBAImageOriented(t, l.width, l.height, reinterpret_cast<std::uint32_t*>(raster.data()), l.orientation,
                                /*stop_on_error=*/1) == 0) {
    // Layouts TIFFRGBAImageOK lets through and its renderer then has no routine for (16-bit CMYK, ...).
    if (file.error.find("can not handle") != std::string::npos)
      return Status::error("TIFF: unsupported layout: " + layout_name(l));
    return tiff_error(file, "cannot read the image");
  }
  const int channels = (gray ? 1 : 3) + (alpha ? 1 : 0);
  RESR_RETURN_IF_ERROR(allocate_pixels(img, int(l.width), int(l.height), channels, 8));
  for (std::size_t i = 0; i < std::size_t(l.width) * l.height; ++i) {
    std::uint32_t v = 0;
    std::memcpy(&v, raster.data() + 4 * i, 4);
    std::uint8_t* p = img.bytes.data() + i * channels;
    if (gray) {
      p[0] = std::uint8_t(TIFFGetR(v));
    } else {
      p[0] = std::uint8_t(TIFFGetR(v));
      p[1] = std::uint8_t(TIFFGetG(v));
      p[2] = std::uint8_t(TIFFGetB(v));
    }
    if (alpha) p[channels - 1] = std::uint8_t(TIFFGetA(v));
  }
  if (alpha && l.photometric != PHOTOMETRIC_RGB) RESR_RETURN_IF_ERROR(read_alpha(data, l, img));
  const bool premultiplied = l.alpha_kind == EXTRASAMPLE_ASSOCALPHA ||
                             (l.photometric == PHOTOMETRIC_RGB && l.alpha_kind == EXTRASAMPLE_UNASSALPHA);
  if (alpha && premultiplied) unpremultiply(img);
  return ok_status();
}

// The XMP packet (tag 700) and the resolution in inches or centimetres (ResolutionUnit 1, none, states only the
// pixels' aspect ratio).
void read_xmp_and_resolution(TIFF* t, Image& img) {
  std::uint32_t xmp_size = 0;
  void* xmp = nullptr;
  if (TIFFGetField(t, TIFFTAG_XMLPACKET, &xmp_size, &xmp) != 0 && xmp != nullptr && xmp_size > 0) {
    const auto* bytes = static_cast<const std::uint8_t*>(xmp);
    img.xmp.assign(bytes, bytes + xmp_size);
  }
  float x = 0, y = 0;
  std::uint16_t unit = RESUNIT_INCH;
  TIFFGetFieldDefaulted(t, TIFFTAG_RESOLUTIONUNIT, &unit);
  if (TIFFGetField(t, TIFFTAG_XRESOLUTION, &x) != 0 && TIFFGetField(t, TIFFTAG_YRESOLUTION, &y) != 0 &&
      std::isfinite(x) && std::isfinite(y) && x > 0 && y > 0 && (unit == RESUNIT_INCH || unit == RESUNIT_CENTIMETER)) {
    const double per_inch = unit == RESUNIT_CENTIMETER ? kCentimetersPerInch : 1.0;
    img.dpi_x = x * per_inch;
    img.dpi_y = y * per_inch;
  }
}

// The pages after the current directory, for a note (which page of a scan is meant is the user's to choose), not
// counting reduced-resolution copies of an image (thumbnails, pyramid levels); at most kOtherImagesCounted
// directories read, and a file with more gets that count ("more than").
int further_pages(TIFF* t) {
  int pages = 0;
  for (int i = 0; i < kOtherImagesCounted; ++i) {
    if (TIFFReadDirectory(t) == 0) return pages;
    std::uint32_t kind = 0;
    TIFFGetFieldDefaulted(t, TIFFTAG_SUBFILETYPE, &kind);
    if ((kind & FILETYPE_REDUCEDIMAGE) == 0) ++pages;
  }
  return TIFFReadDirectory(t) != 0 ? kOtherImagesCounted : pages;
}

}  // namespace

Result<Image> decode_tiff(std::span<const std::uint8_t> data, const SizeCheck& check_size) {
  MemoryFile file;
  file.input = data;
  TiffPtr t = open_tiff(file, "r");  // mapped: map_proc hands libtiff the buffer
  if (!t) return tiff_error(file, "cannot open");
  Layout l;
  TIFFGetField(t.get(), TIFFTAG_IMAGEWIDTH, &l.width);
  TIFFGetField(t.get(), TIFFTAG_IMAGELENGTH, &l.height);
  TIFFGetFieldDefaulted(t.get(), TIFFTAG_BITSPERSAMPLE, &l.bits);
  TIFFGetFieldDefaulted(t.get(), TIFFTAG_SAMPLESPERPIXEL, &l.samples);
  TIFFGetFieldDefaulted(t.get(), TIFFTAG_PLANARCONFIG, &l.planar);
  TIFFGetFieldDefaulted(t.get(), TIFFTAG_SAMPLEFORMAT, &l.format);
  TIFFGetFieldDefaulted(t.get(), TIFFTAG_ORIENTATION, &l.orientation);
  if (TIFFGetField(t.get(), TIFFTAG_PHOTOMETRIC, &l.photometric) == 0)
    l.photometric = l.samples >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK;
  std::uint16_t* kinds = nullptr;
  TIFFGetFieldDefaulted(t.get(), TIFFTAG_EXTRASAMPLES, &l.extra, &kinds);
  if (l.extra > 0 && kinds != nullptr) l.alpha_kind = kinds[0];
  RESR_RETURN_IF_ERROR(check_header_size(l.width, l.height, check_size));
  if (l.format == SAMPLEFORMAT_INT)  // libtiff would render them as unsigned: wrong pixels, silently
    return Status::error("TIFF: unsupported layout: signed integer samples");
  // libtiff renders Lab against its D50 white without adapting it to sRGB's: white came out (255, 250, 223),
  // every colour tinted, silently.
  if (l.photometric == PHOTOMETRIC_CIELAB || l.photometric == PHOTOMETRIC_ICCLAB || l.photometric == PHOTOMETRIC_ITULAB)
    return Status::error("TIFF: unsupported layout: " + layout_name(l) + " (convert it to RGB first)");
  // Tiles far larger than the image are forged sizes that would only make libtiff or this code allocate (a few
  // hundred bytes of file must not claim a gigabyte). Writers round tiles up to multiples of 16 and may use
  // large fixed sizes on small images: allowed up to 4 times the image's bytes, or 64 MiB.
  if (TIFFIsTiled(t.get()) != 0) {
    const std::uint64_t image_bytes = std::uint64_t(l.width) * l.height * std::max<std::uint16_t>(l.samples, 1) *
                                      ((std::max<std::uint16_t>(l.bits, 1) + 7) / 8);
    const tmsize_t tile_bytes = TIFFTileSize(t.get());
    if (tile_bytes <= 0 ||
        std::uint64_t(tile_bytes) > std::max<std::uint64_t>(std::uint64_t{64} << 20, 4 * image_bytes))
      return Status::error("TIFF: tiles of " + std::to_string(tile_bytes) + " bytes for a " + std::to_string(l.width) +
                           "x" + std::to_string(l.height) + " image");
  }
  RESR_RETURN_IF_ERROR(check_stored_data(t.get(), l, data.size()));
  Image img;
  RESR_RETURN_IF_ERROR(direct(l) ? read_samples(t.get(), file, l, img) : read_rgba(t.get(), file, data, l, img));
  std::uint32_t icc_size = 0;
  void* icc = nullptr;
  if (TIFFGetField(t.get(), TIFFTAG_ICCPROFILE, &icc_size, &icc) != 0 && icc != nullptr && icc_size > 0) {
    const auto* bytes = static_cast<const std::uint8_t*>(icc);
    img.icc_profile.assign(bytes, bytes + icc_size);
  }
  read_xmp_and_resolution(t.get(), img);  // before the orientation, which may swap the resolution's axes
  if (l.orientation >= 2 && l.orientation <= 8) apply_orientation(img, l.orientation);
  img.exif = exif_from_tiff_file(data);
  img.other_images = further_pages(t.get());
  return img;
}

Result<std::vector<std::uint8_t>> encode_tiff(const Image& image) {
  std::vector<std::uint8_t> bytes;
  MemoryFile file;
  file.output = &bytes;
  // Classic TIFF's offsets are 32-bit: samples past 2 GiB (compression may not shrink them) are written as BigTIFF,
  // without EXIF. Otherwise the file takes the EXIF's byte order, so that its values are copied as they are.
  const bool big_tiff = image.bytes.size() > (std::size_t{1} << 31);
  TiffPtr t = open_tiff(file, big_tiff ? "w8" : exif_is_big_endian(image.exif) ? "wb" : "wl");
  if (!t) return tiff_error(file, "cannot create the encoder");
  const bool rgb = image.channels >= 3;
  const bool alpha = image.channels == 2 || image.channels == 4;
  TIFFSetField(t.get(), TIFFTAG_IMAGEWIDTH, std::uint32_t(image.width));
  TIFFSetField(t.get(), TIFFTAG_IMAGELENGTH, std::uint32_t(image.height));
  TIFFSetField(t.get(), TIFFTAG_BITSPERSAMPLE, std::uint16_t(image.bits));
  TIFFSetField(t.get(), TIFFTAG_SAMPLESPERPIXEL, std::uint16_t(image.channels));
  TIFFSetField(t.get(), TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_UINT);
  TIFFSetField(t.get(), TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
  TIFFSetField(t.get(), TIFFTAG_PHOTOMETRIC, rgb ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
  TIFFSetField(t.get(), TIFFTAG_ORIENTATION, ORIENTATION_TOPLEFT);
  // Required by TIFF 6.0 (baseline), and not written by libtiff unless set: the image's, else 72 dpi, what readers
  // assume without.
  const bool dpi = image.dpi_x > 0 && image.dpi_y > 0;
  TIFFSetField(t.get(), TIFFTAG_XRESOLUTION, dpi ? image.dpi_x : 72.0);
  TIFFSetField(t.get(), TIFFTAG_YRESOLUTION, dpi ? image.dpi_y : 72.0);
  TIFFSetField(t.get(), TIFFTAG_RESOLUTIONUNIT, RESUNIT_INCH);
  if (!image.xmp.empty()) TIFFSetField(t.get(), TIFFTAG_XMLPACKET, std::uint32_t(image.xmp.size()), image.xmp.data());
  TIFFSetField(t.get(), TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE);
  TIFFSetField(t.get(), TIFFTAG_PREDICTOR, PREDICTOR_HORIZONTAL);
  // zlib level 1, not libtiff's 6: 0001.png's x4 output (2040x1632) encoded in 75-107 ms instead of 179-186, for
  // 0.7% more bytes (lossless either way).
  TIFFSetField(t.get(), TIFFTAG_ZIPQUALITY, 1);
  if (alpha) {
    const std::uint16_t kind = EXTRASAMPLE_UNASSALPHA;
    TIFFSetField(t.get(), TIFFTAG_EXTRASAMPLES, std::uint16_t(1), &kind);
  }
  if (!image.icc_profile.empty() && icc_fits(image.icc_profile, rgb))
    TIFFSetField(t.get(), TIFFTAG_ICCPROFILE, std::uint32_t(image.icc_profile.size()), image.icc_profile.data());
  TIFFSetField(t.get(), TIFFTAG_ROWSPERSTRIP, TIFFDefaultStripSize(t.get(), 0));
  const std::size_t row_bytes = std::size_t(image.width) * image.channels * (image.bits / 8);
  std::vector<std::uint8_t> row(row_bytes);  // libtiff may change the row it is given (prediction)
  for (int y = 0; y < image.height; ++y) {
    std::memcpy(row.data(), image.bytes.data() + std::size_t(y) * row_bytes, row_bytes);
    if (TIFFWriteScanline(t.get(), row.data(), std::uint32_t(y), 0) < 0)
      return tiff_error(file, "cannot write row " + std::to_string(y));
  }
  if (TIFFWriteDirectory(t.get()) == 0) return tiff_error(file, "cannot finish the file");
  t.reset();  // flushes
  if (!file.error.empty()) return tiff_error(file, "encoding failed");
  if (!big_tiff && !image.exif.empty()) return tiff_file_with_exif(std::move(bytes), image.exif);
  return bytes;
}

}  // namespace resr::image_detail
