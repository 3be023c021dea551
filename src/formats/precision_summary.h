// How much of a graph runs at each precision: Conv2d counts and shares of the multiply-adds, as `resr info`,
// `resr convert` and the .resr metadata report them ("int8: 340 convs, 97.3% of multiply-adds").
//
// Multiply-adds are counted on a 64x64 input (the spatial ratio between layers is what matters, and 64
// divides by every pixel-unshuffle factor); a graph that cannot take 64x64, or would grow it past 2^20 pixels a
// side, counts each conv once per pixel.
#pragma once

#include <array>
#include <string>

#include "ir/graph.h"

namespace resr::formats {

struct PrecisionShare {
  int convs = 0;
  double mac_share = 0;  // in [0, 1]; the shares of a graph with convolutions add up to 1
};

struct PrecisionSummary {
  std::array<PrecisionShare, 4> by;  // indexed by ir::Precision

  PrecisionShare& at(ir::Precision p) { return by[static_cast<int>(p)]; }
  const PrecisionShare& at(ir::Precision p) const { return by[static_cast<int>(p)]; }
  // "int8 340 convs (97.3% of multiply-adds), fp32 11 convs (2.7%)"; precisions without convs are left out.
  std::string line() const;
};

// g must pass ir::verify.
PrecisionSummary summarize_precision(const ir::Graph& g);

}  // namespace resr::formats
