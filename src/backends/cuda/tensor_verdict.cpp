#include "backends/cuda/tensor_verdict.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace resr::cuda {

namespace {

// The kernel's version, a hash of its sources made when CMake configures (src/backends/cuda/CMakeLists.txt): a
// verdict made for another kernel is not taken.
#ifndef RESR_TENSOR_CONV_VERSION
#define RESR_TENSOR_CONV_VERSION "unversioned"
#endif
constexpr const char* kKernelVersion = "tensor-conv " RESR_TENSOR_CONV_VERSION;

}  // namespace

std::string tensor_verdict_key(const std::string& geometry) {
  return std::string(kKernelVersion) + "|" + geometry;
}

std::string encode_tensor_verdict(const TensorVerdict& v) {
  char buf[128];
  if (v.cut) {
    std::snprintf(buf, sizeof(buf), "tensor %d %d %d %d %d %d %.6g %.6g", v.cut->rows_per_warp, v.cut->chunk,
                  v.cut->stages, int(v.cut->products), int(v.cut->warpgroup), v.cut->parts, v.cudnn_ms, v.tensor_ms);
  } else {
    std::snprintf(buf, sizeof(buf), "cudnn %.6g %.6g", v.cudnn_ms, v.tensor_ms);
  }
  return buf;
}

std::optional<TensorVerdict> decode_tensor_verdict(const std::string& entry) {
  // Space-separated words, each read whole: an integer field must not be the front of a number ("1.5").
  std::vector<std::string> words;
  for (std::size_t at = 0; at <= entry.size();) {
    const std::size_t space = std::min(entry.find(' ', at), entry.size());
    words.push_back(entry.substr(at, space - at));
    at = space + 1;
  }
  const auto integer = [](const std::string& w, int* out) {
    char* end = nullptr;
    const long v = std::strtol(w.c_str(), &end, 10);
    *out = int(v);
    return !w.empty() && end == w.c_str() + w.size() && v >= -1000000 && v <= 1000000;
  };
  const auto real = [](const std::string& w, double* out) {
    char* end = nullptr;
    *out = std::strtod(w.c_str(), &end);
    return !w.empty() && end == w.c_str() + w.size();
  };
  TensorVerdict v;
  if (words.size() == 9 && words[0] == "tensor") {
    int f[6] = {};
    for (int i = 0; i < 6; ++i)
      if (!integer(words[std::size_t(i) + 1], &f[i])) return std::nullopt;
    if (!real(words[7], &v.cudnn_ms) || !real(words[8], &v.tensor_ms)) return std::nullopt;
    const int rows = f[0], chunk = f[1], stages = f[2], products = f[3], warpgroup = f[4], parts = f[5];
    if ((rows != 2 && rows != 4) || chunk < 16 || chunk % 16 != 0 || (stages != 1 && stages != 2) || products < 0 ||
        products > 2 || (warpgroup != 0 && warpgroup != 1) || (parts != 1 && parts != 2))
      return std::nullopt;
    v.cut = tensor_conv::Cut{rows, chunk, stages, tensor_conv::Products(products), warpgroup == 1, parts};
    return v;
  }
  if (words.size() == 3 && words[0] == "cudnn" && real(words[1], &v.cudnn_ms) && real(words[2], &v.tensor_ms)) return v;
  return std::nullopt;
}

bool worth_keeping(const TensorVerdict& v) {
  return std::isfinite(v.cudnn_ms) && v.cudnn_ms > 0;
}

}  // namespace resr::cuda
