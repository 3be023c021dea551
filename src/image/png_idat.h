// The image data of a PNG file (the payload of its IDAT chunks): every row Paeth-filtered, the filtered rows
// compressed as one zlib stream in bands of kPngBandRows rows, the bands in parallel (OpenMP).
//
//   Result<std::vector<std::vector<std::uint8_t>>> pieces = png_idat_stream(pixels, width, height, channels, bits);
//   // the pieces, concatenated, are the zlib stream; each goes into one IDAT chunk
//
// Why: deflate is sequential, and one core took about 200 ms for a 4x upscale of a 510x408 image, more than the
// whole GPU inference. Each band is raw deflate ending on a byte boundary (a sync flush; the last band
// finishes the stream), so the bands concatenate into one valid stream; the first piece starts with the zlib
// header, the last ends with the Adler-32, combined from the bands'. Bands lose at most one window of history at
// their start, a fraction of a percent of the size. The band height is fixed, so the bytes do not depend on the
// number of threads. Each thread reuses one deflate state and one row buffer for all its bands.
// Pixels are interleaved rows of width * channels samples, 8-bit or 16-bit in native byte order (written
// big-endian, as PNG stores them). Errors: zlib cannot allocate its state.
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"

namespace resr::image_detail {

inline constexpr int kPngBandRows = 64;

[[nodiscard]] Result<std::vector<std::vector<std::uint8_t>>> png_idat_stream(const std::uint8_t* pixels, int width,
                                                                             int height, int channels, int bits);

}  // namespace resr::image_detail
