// Element access and the conv epilogue on the device, shared by the CUDA backend's kernels (kernels.cu) and its
// own tensor-core conv (tensor_conv.cu): fp32 or binary16 storage read and written as fp32, and
// element_math.h's epilogue at one element of a conv output.
#pragma once

#include <cuda_fp16.h>

#include "backends/cuda/element_math.h"
#include "backends/cuda/kernels.h"

namespace resr::cuda {

__device__ inline float load(const float* p, std::size_t i) {
  return p[i];
}
__device__ inline float load(const __half* p, std::size_t i) {
  return __half2float(p[i]);
}
__device__ inline void store(float* p, std::size_t i, float v) {
  p[i] = v;
}
__device__ inline void store(__half* p, std::size_t i, float v) {
  p[i] = __float2half_rn(v);
}

template <class T>
__device__ inline float load_at(const Planes& p, Coord e) {
  return load(static_cast<const T*>(p.data), element_at(e, p.w, p.s));
}
template <class T>
__device__ inline void store_at(const Planes& p, Coord e, float v) {
  store(static_cast<T*>(p.data), element_at(e, p.w, p.s), v);
}

// The epilogue of `a` at element e of y on the conv's value `conv` (residuals read at e).
template <class T>
__device__ inline float apply_epilogue(float conv, Coord e, int w, const EpilogueArgs& a) {
  float res[kMaxResiduals];
  for (int k = 0; k < a.residual_count; ++k)
    res[k] = load(static_cast<const T*>(a.residuals[k]), element_at(e, w, a.residual_strides[k]));
  const float slope = a.act == Act::kPrelu ? a.slopes[a.one_slope ? 0 : e.c] : a.leaky_slope;
  const float bias = a.bias != nullptr ? a.bias[e.c] : 0.0f;
  return epilogue_value(conv, bias, a.act, slope, a.out_scale, res, a.residual_scales, a.residual_count);
}

}  // namespace resr::cuda
