// The model's output to [0, 1] (NaN as 0) and to an 8- or 16-bit sample, and one gray sample from its three planes,
// as Real-ESRGAN returns a gray image (and an alpha channel the model upscaled) to one channel: each plane clamped,
// then OpenCV's RGB-to-gray weights (BT.601 luma). The CPU's tile pasting and image conversion and the CUDA
// backend's device-side packing share these, so an output sample is the same on every path.
#pragma once

#include <cmath>

#ifdef __CUDACC__
#define RESR_GRAY_HD __host__ __device__ inline
#else
#define RESR_GRAY_HD inline
#endif

namespace resr {

RESR_GRAY_HD float clamped_unit(float v) {
  return v > 0.0f ? (v < 1.0f ? v : 1.0f) : 0.0f;  // NaN fails both comparisons: 0
}

// [0,1] to a sample of `bits` (8 or 16): NaN -> 0, clamped, rounded half away from zero (what std::lround does for
// these non-negative values, written with floor so that the GPU gives the same integers and the CPU's loops
// vectorize; lround is a library call per sample).
RESR_GRAY_HD unsigned sample_from_unit(float v, int bits) {
  const float scaled = clamped_unit(v) * (bits == 16 ? 65535.0f : 255.0f);
  const float whole = floorf(scaled);
  return unsigned(whole) + (scaled - whole >= 0.5f ? 1u : 0u);
}

RESR_GRAY_HD float gray_from_rgb(float r, float g, float b) {
  return 0.299f * clamped_unit(r) + 0.587f * clamped_unit(g) + 0.114f * clamped_unit(b);
}

}  // namespace resr

#undef RESR_GRAY_HD
