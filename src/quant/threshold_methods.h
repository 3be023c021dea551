// Threshold methods: from the statistics of one activation tensor to the clipping threshold T of symmetric
// 8-bit quantization (|x| <= T maps onto q in [-127, 127], scale T / 127).
//
//   minmax      T = max|x|: nothing clipped, the coarsest steps.
//   percentile  T = the p-th percentile of |x| (default p = 99.99), read from the histogram with linear
//               interpolation inside the bin; never above max|x|.
//   kl          TensorRT's entropy calibration: over candidate thresholds i (in bins, i >= 128), the
//               reference P is the histogram up to i with everything beyond folded into its last bin, Q is P
//               squeezed into 128 levels and spread back over the non-empty bins of each level; T is the
//               candidate minimising KL(P || Q), at the upper edge of its last bin. Evaluated in O(128) per
//               candidate from prefix sums, so all candidates up to the last non-empty bin are tried.
//   mse         T minimising the expected squared quantization error over the histogram: values beyond T
//               cost their squared distance to T, values inside cost the rounding noise step^2 / 12 (step =
//               T / 127), except values below step / 2, which round to zero and cost x^2 (bins stand for their
//               centres). Candidates: every bin edge up to max|x|, and max|x|.
//
// A tensor that is all zero (max|x| = 0) gets T = 0 from every method; quantize_graph then uses the scale of
// T = 1 (see quantize_graph.h), so an all-zero calibration never yields a zero scale.
#pragma once

#include <string>

#include "quant/activation_stats.h"

namespace resr::quant {

enum class Method { kMinMax, kPercentile, kKl, kMse };

const char* method_name(Method m);                     // "minmax", "percentile", "kl", "mse"
bool parse_method(const std::string& s, Method* out);  // inverse of method_name

struct MethodOptions {
  double percentile = 99.99;  // percentile method, in (0, 100]
};

// T >= 0 and T <= stats.max_abs() for every method.
float compute_threshold(const TensorStats& stats, Method method, const MethodOptions& options = {});

}  // namespace resr::quant
