// Image resampling: separable filters computed in float, antialiased when downscaling.
//
//   Image small = resize_image(upscaled, upscaled.width * 3 / 4, upscaled.height * 3 / 4,
//                              ResizeFilter::kLanczos3, upscaled.bits);   // e.g. outscale 3 from an x4 model
//
// Geometry: pixel centres are aligned (output x samples input position (x + 0.5) * in_w / out_w - 0.5), as in
// PIL, OpenCV and MATLAB imresize. When downscaling, the kernel is stretched by the scale factor so it averages
// (antialiasing); when upscaling it interpolates. Taps that fall outside the image read the nearest edge pixel.
// Samples are converted to float in [0, 1] (v / 255 or v / 65535) and stay float through both passes; only the
// final result is clamped to [0, 1] and rounded to `out_bits` (so 16-bit input keeps its precision, and 8 <-> 16
// conversion happens on the way). Any channel count 1..4 is handled; when the image has alpha (2 or 4 channels)
// colour is filtered premultiplied by alpha and divided by the filtered alpha afterwards, so colours hidden under
// transparent pixels never bleed into visible ones. Output pixels whose filtered alpha is (nearly) zero get colour
// 0 (black): their colour is undefined; use bleed_transparent_colors (alpha.h) if it matters downstream.
// When the size is unchanged the samples are copied exactly (only converted to `out_bits`).
//
// Filters:
//   kLanczos3  windowed sinc, a = 3: the sharpest; slight ringing at hard edges (clamped on output)
//   kArea      exact pixel-area coverage (box): average of the covered input area; for integer factors
//              downscaling it is the plain block mean; upscaling is near-nearest with blended seams
//   kBicubic   Keys cubic convolution, a = -0.5 (true bicubic, 4 taps when upscaling)
//   kNearest   the input pixel under the output pixel centre, no blending
//
// The output carries the input's metadata (carry_metadata). Memory: the output image plus a few float rows (the
// horizontal pass is kept for only as many input rows as the vertical kernel spans). RowResampler does the same
// for an input that arrives a band of rows at a time and is never whole in memory.
// Preconditions (RESR_ASSERT; programming errors, not bad input): a consistent Image (as the codecs produce),
// out_w >= 1, out_h >= 1, out_bits 8 or 16. Pure function; safe to call from any thread.
#pragma once

#include <memory>

#include "image/image.h"

namespace resr {

enum class ResizeFilter { kLanczos3, kArea, kBicubic, kNearest };

Image resize_image(const Image& in, int out_w, int out_h, ResizeFilter filter, int out_bits);

// resize_image for an input that arrives top to bottom, a band of rows at a time (upscale's last model pass,
// before its resize to the output size): each output row is written as soon as the input rows it reads have come,
// and an input row is kept only as one horizontally filtered float row, for as long as the vertical kernel spans.
// The output equals resize_image's sample for sample, however the input is cut into bands.
//
//   Image out = ...;                          // out_w x out_h, its channels and bits set, bytes sized
//   RowResampler r(in_w, in_h, out, ResizeFilter::kLanczos3);
//   r.push(band, 0, band.height);             // band: input rows [r.rows_pushed(), + band.height)
//   ...                                       // until r.rows_pushed() == in_h, when every output row is written
//
// Preconditions (RESR_ASSERT): `out` consistent with out.channels 1..4 and bits 8 or 16, at least 1x1, and not the
// input's size (resize_image copies that); bands of out.channels channels, in_w wide, 8 or 16 bits, pushed in order
// and not past in_h. `out` must outlive the resampler, which holds a reference to it.
class RowResampler {
 public:
  RowResampler(int in_w, int in_h, Image& out, ResizeFilter filter);
  ~RowResampler();
  RowResampler(const RowResampler&) = delete;
  RowResampler& operator=(const RowResampler&) = delete;

  // Input rows [rows_pushed(), rows_pushed() + count), read from rows [first, first + count) of `band`.
  void push(const Image& band, int first, int count);
  int rows_pushed() const { return pushed_; }
  // Output rows written so far (all of them once every input row is pushed).
  int rows_written() const { return written_; }

 private:
  struct State;  // taps and the ring of filtered rows (resize.cpp)
  std::unique_ptr<State> state_;
  Image& out_;
  int pushed_ = 0, written_ = 0;
};

}  // namespace resr
