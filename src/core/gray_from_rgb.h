// One gray sample from the model's three output planes, as Real-ESRGAN returns a gray image (and an alpha channel
// the model upscaled) to one channel: each plane clamped to [0, 1] (its output clamp, NaN as 0), then OpenCV's
// RGB-to-gray weights (BT.601 luma). The CPU's tile pasting and image conversion and the CUDA backend's device-side
// packing share it, so a gray output is the same on every path.
#pragma once

#ifdef __CUDACC__
#define RESR_GRAY_HD __host__ __device__ inline
#else
#define RESR_GRAY_HD inline
#endif

namespace resr {

RESR_GRAY_HD float clamped_unit(float v) {
  return v > 0.0f ? (v < 1.0f ? v : 1.0f) : 0.0f;  // NaN fails both comparisons: 0
}

RESR_GRAY_HD float gray_from_rgb(float r, float g, float b) {
  return 0.299f * clamped_unit(r) + 0.587f * clamped_unit(g) + 0.114f * clamped_unit(b);
}

}  // namespace resr

#undef RESR_GRAY_HD
