#include "backends/cuda/tensor_verdict.h"

#include <cmath>
#include <cstdio>
#include <cstring>

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
  TensorVerdict v;
  int rows = 0, chunk = 0, stages = 0, products = 0, warpgroup = 0, parts = 0, used = 0;
  if (std::sscanf(entry.c_str(), "tensor %d %d %d %d %d %d %lf %lf%n", &rows, &chunk, &stages, &products, &warpgroup,
                  &parts, &v.cudnn_ms, &v.tensor_ms, &used) == 8 &&
      std::size_t(used) == entry.size()) {
    if ((rows != 2 && rows != 4) || chunk < 16 || chunk % 16 != 0 || (stages != 1 && stages != 2) || products < 0 ||
        products > 2 || (warpgroup != 0 && warpgroup != 1) || (parts != 1 && parts != 2))
      return std::nullopt;
    v.cut = tensor_conv::Cut{rows, chunk, stages, tensor_conv::Products(products), warpgroup == 1, parts};
    return v;
  }
  used = 0;
  if (std::sscanf(entry.c_str(), "cudnn %lf %lf%n", &v.cudnn_ms, &v.tensor_ms, &used) == 2 &&
      std::size_t(used) == entry.size())
    return v;
  return std::nullopt;
}

bool worth_keeping(const TensorVerdict& v) {
  return std::isfinite(v.cudnn_ms) && v.cudnn_ms > 0;
}

}  // namespace resr::cuda
