// NIQE, the Naturalness Image Quality Evaluator (Mittal, Soundararajan, Bovik, "Making a 'completely blind'
// image quality analyzer", IEEE Signal Processing Letters 2013): a no-reference score, lower is more natural
// (photos ~3-6). This is BasicSR's calculate_niqe(img, crop_border=0, input_order='HWC', convert_to='y'), the
// metric of the 2023 super-resolution contest, with MATLAB's pristine model embedded (niqe_params.h).
//
//   Result<double> q = metrics::niqe(image);   // 4.1059 for shared/images/0002.png
//
// Algorithm (the reference's data types kept where they decide results: planes are float32, as in BasicSR; with
// a double MSCN, exactly-flat areas stop giving exact zeros and NIQE moves by up to 0.13 on upscaled images):
//   1. Y = round(16 + (65.481 R + 128.553 G + 24.966 B) / 255) (BT.601, MATLAB rgb2ycbcr), cut to whole 96x96
//      blocks (floor of height / 96 and width / 96; the remainder at the right and bottom is ignored);
//   2. at two scales (the Y plane, then matlab_imresize(Y / 255, 0.5) * 255 with 48x48 blocks):
//      MSCN = (Y - mu) / (sigma + 1), mu and sigma = sqrt(|E[Y^2] - mu^2|) from the 7x7 Gaussian window with
//      replicated edges; per block 18 features: fit_aggd (aggd.h) of the block (alpha, mean beta) and, for the
//      circular shifts (0,1), (1,0), (1,1), (1,-1) of the block, of block * shifted block (alpha, mean, beta_l,
//      beta_r);
//   3. blocks in column-major order; mu = per-feature mean ignoring NaN, cov = covariance (n - 1) of the blocks
//      without NaN; quality = sqrt((mu_p - mu) pinv((cov_p + cov) / 2) (mu_p - mu)^T) (sym_pinv.h).
// Where the reference would produce NaN, this returns a number or an error instead: a covariance from a
// single NaN-free block is zero (as MATLAB's nancov gives); a feature undefined in every block is an error.
//
// Input: any consistent Image. Gray is treated as R = G = B (what cv2.imread gives BasicSR for a gray file);
// alpha is ignored (also as cv2.imread's default); 16-bit samples are first rounded to 8 bits (v / 257), since
// the metric and its pristine model are defined on 8-bit images.
// Errors: an image smaller than one block ("image 80x60 is smaller than one 96x96 NIQE block"), too little
// texture (a feature undefined in every block, e.g. a flat image). Never NaN.
// Threads: OpenMP inside (MSCN rows, blocks); otherwise pure, callable from several threads at once.
// Cost: about 1 s for a 2040x1632 image on one core.
#pragma once

#include "core/status.h"
#include "image/image.h"
#include "metrics/plane.h"

namespace resr::metrics {

inline constexpr int kNiqeBlock = 96;

[[nodiscard]] Result<double> niqe(const Image& img);

// Steps of niqe(), exposed for tests:
// The rounded Y plane of step 1 (uncropped); values are integers 16..235 stored as float.
FloatPlane niqe_luma(const Image& img);
// NIQE of a Y plane on the 0..255 scale (steps 2 and 3); the same errors as niqe().
[[nodiscard]] Result<double> niqe_of_luma(const FloatPlane& y);

}  // namespace resr::metrics
