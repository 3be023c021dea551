#include "backends/cuda/conv_path.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace resr::cuda {

namespace {

bool measured(double ms) {
  return std::isfinite(ms) && ms > 0;
}

}  // namespace

ConvPath faster_path(double fused_ms, double legacy_ms) {
  if (!measured(fused_ms)) return measured(legacy_ms) ? ConvPath::kLegacy : ConvPath::kFused;
  if (!measured(legacy_ms)) return ConvPath::kFused;
  return fused_ms <= legacy_ms ? ConvPath::kFused : ConvPath::kLegacy;
}

bool outputs_agree(float max_abs_difference, float largest_output) {
  return std::isfinite(largest_output) && max_abs_difference <= 1e-2f * std::max(1.0f, largest_output);
}

bool worth_keeping(const ConvPathChoice& c) {
  return !c.unchecked && (c.fused_differs || (measured(c.fused_ms) && measured(c.legacy_ms)));
}

std::string conv_path_key(const std::string& signature) {
  return "path2|" + signature;
}

std::string encode_conv_path(const ConvPathChoice& c) {
  char buf[96];
  const char* path = c.fused_differs ? "differs" : c.path == ConvPath::kFused ? "fused" : "legacy";
  std::snprintf(buf, sizeof(buf), "%s %.6g %.6g", path, c.fused_ms, c.legacy_ms);
  return buf;
}

std::optional<ConvPathChoice> decode_conv_path(const std::string& entry) {
  char path[8] = {};  // "differs" and its terminator
  ConvPathChoice c;
  int used = 0;
  if (std::sscanf(entry.c_str(), "%7s %lf %lf%n", path, &c.fused_ms, &c.legacy_ms, &used) != 3 ||
      std::size_t(used) != entry.size())
    return std::nullopt;
  if (std::strcmp(path, "fused") == 0) {
    c.path = ConvPath::kFused;
  } else if (std::strcmp(path, "legacy") == 0) {
    c.path = ConvPath::kLegacy;
  } else if (std::strcmp(path, "differs") == 0) {
    c.path = ConvPath::kLegacy;
    c.fused_differs = true;
  } else {
    return std::nullopt;
  }
  return c;
}

}  // namespace resr::cuda
