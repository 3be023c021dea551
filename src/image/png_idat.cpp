#include "image/png_idat.h"

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace resr::image_detail {
namespace {

// The Paeth predictor of the PNG specification: the neighbour (left a, above b, upper-left c) nearest a + b - c.
std::uint8_t paeth(int a, int b, int c) {
  const int p = a + b - c;
  const int pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  if (pa <= pb && pa <= pc) return std::uint8_t(a);
  return std::uint8_t(pb <= pc ? b : c);
}

// Row y as PNG stores it: 16-bit samples big-endian.
void png_row(const std::uint8_t* pixels, std::size_t row_bytes, int y, int bits, std::uint8_t* out) {
  const std::uint8_t* src = pixels + std::size_t(y) * row_bytes;
  if (bits == 16 && std::endian::native == std::endian::little) {
    for (std::size_t i = 0; i + 1 < row_bytes; i += 2) {
      out[i] = src[i + 1];
      out[i + 1] = src[i];
    }
  } else {
    std::memcpy(out, src, row_bytes);
  }
}

struct Band {
  std::vector<std::uint8_t> deflated;
  uLong adler = 1;
  std::size_t filtered_bytes = 0;
  bool ok = false;
};

// Rows [y0, y1): filter bytes and Paeth residuals, then raw deflate (run-length strategy: smooth upscaled images
// leave long runs of small residuals), ending with a sync flush, or finishing the stream when `last`.
Band compress_band(const std::uint8_t* pixels, std::size_t row_bytes, int bits, std::size_t bpp, int y0, int y1,
                   bool last) {
  Band band;
  std::vector<std::uint8_t> filtered(std::size_t(y1 - y0) * (row_bytes + 1));
  std::vector<std::uint8_t> above(row_bytes, 0), row(row_bytes);
  if (y0 > 0) png_row(pixels, row_bytes, y0 - 1, bits, above.data());
  for (int y = y0; y < y1; ++y) {
    png_row(pixels, row_bytes, y, bits, row.data());
    std::uint8_t* out = filtered.data() + std::size_t(y - y0) * (row_bytes + 1);
    out[0] = 4;  // Paeth
    for (std::size_t i = 0; i < row_bytes; ++i) {
      const int a = i >= bpp ? row[i - bpp] : 0, c = i >= bpp ? above[i - bpp] : 0;
      out[i + 1] = std::uint8_t(row[i] - paeth(a, above[i], c));
    }
    std::swap(above, row);
  }
  band.filtered_bytes = filtered.size();
  band.adler = adler32(0, nullptr, 0);
  band.adler = adler32_z(band.adler, filtered.data(), filtered.size());

  z_stream z{};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_RLE) != Z_OK) return band;
  band.deflated.resize(deflateBound(&z, uLong(filtered.size())) + 64);  // + the sync flush's empty block
  z.next_in = filtered.data();
  z.avail_in = uInt(filtered.size());
  const int flush = last ? Z_FINISH : Z_SYNC_FLUSH;
  std::size_t used = 0;
  int status = Z_OK;
  for (;;) {
    z.next_out = band.deflated.data() + used;
    z.avail_out = uInt(band.deflated.size() - used);
    status = deflate(&z, flush);
    used = band.deflated.size() - z.avail_out;
    if (status == Z_STREAM_ERROR) break;
    // Done when the stream ended (Z_FINISH), or when the flush left room unused (zlib's rule for Z_SYNC_FLUSH).
    if (last ? status == Z_STREAM_END : z.avail_out != 0) break;
    band.deflated.resize(band.deflated.size() * 2);
  }
  band.deflated.resize(used);
  band.ok = status != Z_STREAM_ERROR;
  deflateEnd(&z);
  return band;
}

}  // namespace

Result<std::vector<std::uint8_t>> png_idat_stream(const std::uint8_t* pixels, int width, int height, int channels,
                                                  int bits) {
  const std::size_t bpp = std::size_t(channels) * std::size_t(bits / 8);
  const std::size_t row_bytes = std::size_t(width) * bpp;
  const int bands = (height + kPngBandRows - 1) / kPngBandRows;
  std::vector<Band> done(static_cast<std::size_t>(bands));
#pragma omp parallel for schedule(dynamic)
  for (int b = 0; b < bands; ++b) {
    const int y0 = b * kPngBandRows, y1 = std::min(height, y0 + kPngBandRows);
    done[std::size_t(b)] = compress_band(pixels, row_bytes, bits, bpp, y0, y1, b == bands - 1);
  }
  std::size_t total = 6;
  for (const Band& band : done) {
    if (!band.ok) return Status::error("PNG encoding failed: zlib could not compress (out of memory)");
    total += band.deflated.size();
  }
  std::vector<std::uint8_t> stream;
  stream.reserve(total);
  stream.push_back(0x78);  // deflate, 32 KiB window
  stream.push_back(0x9c);  // default level; (0x78 << 8 | 0x9c) is a multiple of 31, as the header check needs
  uLong adler = adler32(0, nullptr, 0);
  for (const Band& band : done) {
    stream.insert(stream.end(), band.deflated.begin(), band.deflated.end());
    adler = adler32_combine(adler, band.adler, z_off_t(band.filtered_bytes));
  }
  for (int shift = 24; shift >= 0; shift -= 8) stream.push_back(std::uint8_t(adler >> shift));
  return stream;
}

}  // namespace resr::image_detail
