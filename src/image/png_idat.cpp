#include "image/png_idat.h"

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace resr::image_detail {
namespace {

// The Paeth predictor of the PNG specification: the neighbour (left a, above b, upper-left c) nearest
// p = a + b - c, ties in the order a, b, c. Written with selects only (|p - a| = |b - c| and so on), so the row
// loop can vectorise: the predictor reads unfiltered bytes, so no byte depends on the one before.
inline std::uint8_t paeth(int a, int b, int c) {
  const int pa = std::abs(b - c), pb = std::abs(a - c), pc = std::abs(a + b - 2 * c);
  const int bc = pb <= pc ? b : c;
  return std::uint8_t(pa <= pb && pa <= pc ? a : bc);
}

// One row's Paeth residuals: out[i] = r[i] - paeth(r[i - bpp], up[i], up[i - bpp]), the bytes before the row 0.
// Also built for AVX2 (chosen at run time), where GCC vectorises the loop well: the filter was a quarter of PNG
// encoding's time with SSE2 alone (docs/architecture.md).
#if defined(__GNUC__) && defined(__ELF__) && (defined(__x86_64__) || defined(__i386__))  // ifunc: ELF only
#define RESR_ALSO_FOR_AVX2 __attribute__((target_clones("avx2", "default")))
#else
#define RESR_ALSO_FOR_AVX2
#endif
RESR_ALSO_FOR_AVX2 void paeth_row(const std::uint8_t* r, const std::uint8_t* up, std::size_t n, std::size_t bpp,
                                  std::uint8_t* out) {
  const std::size_t first = std::min(bpp, n);
  for (std::size_t i = 0; i < first; ++i) out[i] = std::uint8_t(r[i] - paeth(0, up[i], 0));
  for (std::size_t i = first; i < n; ++i) out[i] = std::uint8_t(r[i] - paeth(r[i - bpp], up[i], up[i - bpp]));
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

struct Layout {
  const std::uint8_t* pixels;
  int height, bits;
  std::size_t bpp, row_bytes;
};

struct Band {
  std::vector<std::uint8_t> deflated;
  uLong adler = 1;
  std::size_t filtered_bytes = 0;
  bool ok = false;
};

// One thread's working memory, reused for each of its bands: fresh pages cost a fault each.
class BandCompressor {
 public:
  explicit BandCompressor(std::size_t row_bytes) : above_(row_bytes), row_(row_bytes) {
    ok_ = deflateInit2(&z_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_RLE) == Z_OK;
  }
  BandCompressor(const BandCompressor&) = delete;
  BandCompressor& operator=(const BandCompressor&) = delete;
  ~BandCompressor() {
    if (ok_) deflateEnd(&z_);
  }

  // Rows [y0, y1): filter bytes and Paeth residuals, then raw deflate (run-length strategy: smooth upscaled
  // images leave long runs of small residuals), ending with a sync flush, or finishing the stream when `last`.
  Band compress(const Layout& l, int y0, int y1, bool last) {
    Band band;
    if (!ok_ || deflateReset(&z_) != Z_OK) return band;
    filter(l, y0, y1);
    band.filtered_bytes = filtered_.size();
    band.adler = adler32_z(adler32(0, nullptr, 0), filtered_.data(), filtered_.size());
    // Into this thread's buffer (sized for the worst case, its pages touched once per thread), then copied out at
    // its compressed size: fresh memory for each band's worst case would cost a page fault per 4 KiB.
    const std::size_t bound = deflateBound(&z_, uLong(filtered_.size())) + 64;  // + the sync flush's empty block
    if (deflated_.size() < bound) deflated_.resize(bound);
    z_.next_in = filtered_.data();
    z_.avail_in = uInt(filtered_.size());
    const int flush = last ? Z_FINISH : Z_SYNC_FLUSH;
    std::size_t used = 0;
    for (;;) {
      z_.next_out = deflated_.data() + used;
      z_.avail_out = uInt(deflated_.size() - used);
      const int status = deflate(&z_, flush);
      used = deflated_.size() - z_.avail_out;
      if (status == Z_STREAM_ERROR) return band;
      // Done when the stream ended (Z_FINISH), or when the flush left room unused (zlib's rule for Z_SYNC_FLUSH).
      if (last ? status == Z_STREAM_END : z_.avail_out != 0) break;
      deflated_.resize(deflated_.size() * 2);
    }
    band.deflated.assign(deflated_.begin(), deflated_.begin() + std::ptrdiff_t(used));
    band.ok = true;
    return band;
  }

 private:
  void filter(const Layout& l, int y0, int y1) {
    const std::size_t n = l.row_bytes;
    filtered_.resize(std::size_t(y1 - y0) * (n + 1));
    std::fill(above_.begin(), above_.end(), std::uint8_t{0});
    if (y0 > 0) png_row(l.pixels, n, y0 - 1, l.bits, above_.data());
    for (int y = y0; y < y1; ++y) {
      png_row(l.pixels, n, y, l.bits, row_.data());
      std::uint8_t* out = filtered_.data() + std::size_t(y - y0) * (n + 1);
      out[0] = 4;  // Paeth
      paeth_row(row_.data(), above_.data(), n, l.bpp, out + 1);
      std::swap(above_, row_);
    }
  }

  z_stream z_{};
  bool ok_ = false;
  std::vector<std::uint8_t> above_, row_, filtered_, deflated_;
};

}  // namespace

Result<std::vector<std::vector<std::uint8_t>>> png_idat_stream(const std::uint8_t* pixels, int width, int height,
                                                               int channels, int bits) {
  Layout l{pixels, height, bits, std::size_t(channels) * std::size_t(bits / 8), 0};
  l.row_bytes = std::size_t(width) * l.bpp;
  const int bands = (height + kPngBandRows - 1) / kPngBandRows;
  std::vector<Band> done(static_cast<std::size_t>(bands));
#pragma omp parallel
  {
    BandCompressor compressor(l.row_bytes);
#pragma omp for schedule(dynamic)
    for (int b = 0; b < bands; ++b) {
      const int y0 = b * kPngBandRows, y1 = std::min(height, y0 + kPngBandRows);
      done[std::size_t(b)] = compressor.compress(l, y0, y1, b == bands - 1);
    }
  }
  std::vector<std::vector<std::uint8_t>> pieces;
  pieces.reserve(done.size() + 2);
  // 0x78: deflate, 32 KiB window; 0x9c: default level, and (0x78 << 8 | 0x9c) a multiple of 31 as the check needs.
  pieces.push_back({0x78, 0x9c});
  uLong adler = adler32(0, nullptr, 0);
  for (Band& band : done) {
    if (!band.ok) return Status::error("PNG encoding failed: zlib could not compress (out of memory)");
    adler = adler32_combine(adler, band.adler, z_off_t(band.filtered_bytes));
    pieces.push_back(std::move(band.deflated));
  }
  std::vector<std::uint8_t> trailer;
  for (int shift = 24; shift >= 0; shift -= 8) trailer.push_back(std::uint8_t(adler >> shift));
  pieces.push_back(std::move(trailer));
  return pieces;
}

}  // namespace resr::image_detail
