#include "backends/cuda/conv_path.h"

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

bool worth_keeping(const ConvPathChoice& c) {
  return measured(c.fused_ms) && measured(c.legacy_ms);
}

std::string conv_path_key(const std::string& signature) {
  return "path|" + signature;
}

std::string encode_conv_path(const ConvPathChoice& c) {
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%s %.6g %.6g", c.path == ConvPath::kFused ? "fused" : "legacy", c.fused_ms,
                c.legacy_ms);
  return buf;
}

std::optional<ConvPathChoice> decode_conv_path(const std::string& entry) {
  char path[8] = {};
  ConvPathChoice c;
  int used = 0;
  if (std::sscanf(entry.c_str(), "%7s %lf %lf%n", path, &c.fused_ms, &c.legacy_ms, &used) != 3 ||
      std::size_t(used) != entry.size())
    return std::nullopt;
  if (std::strcmp(path, "fused") == 0) {
    c.path = ConvPath::kFused;
  } else if (std::strcmp(path, "legacy") == 0) {
    c.path = ConvPath::kLegacy;
  } else {
    return std::nullopt;
  }
  return c;
}

}  // namespace resr::cuda
