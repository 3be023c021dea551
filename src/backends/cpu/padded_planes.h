// PaddedPlanes: the CPU backend's activation layout. Planar (one plane per channel, like CHW), each plane
// holding the H x W interior inside a 1-pixel zero ring, rows of pitch W + 2, followed by kSlack floats.
//
//   plane c, interior pixel (y, x) lives at  data + c * plane_stride + (y + 1) * pitch + (x + 1)
//
// Why: a 3x3 conv with zero padding becomes a loop over the flat index range of rows 1..H with fixed
// tap offsets (+-pitch +-1), no border cases; a channel slice of a buffer is itself a PaddedPlanes, so a
// dense block's concatenation is one buffer that every conv writes its slice of (zero-copy concat).
// Invariant kept by every kernel: the ring and the slack of every plane it writes are zero on return.
#pragma once

#include <cstddef>
#include <cstdint>

namespace resr::cpu {

struct PaddedGeometry {
  static constexpr int kSlack = 64;  // floats after each plane: lets SIMD loops run past the last row
  int h = 0, w = 0;
  int pitch() const { return w + 2; }
  // Rounded up to a multiple of 16 floats so that every plane starts 64-byte aligned.
  std::size_t plane_stride() const {
    std::size_t n = std::size_t(h + 2) * std::size_t(pitch()) + kSlack;
    return (n + 15) / 16 * 16;
  }
  std::size_t floats(int channels) const { return plane_stride() * std::size_t(channels); }
  // Flat offset of interior pixel (0, 0) inside a plane.
  std::size_t origin() const { return std::size_t(pitch()) + 1; }
};

struct PaddedPlanes {
  float* data = nullptr;
  int channels = 0;
  PaddedGeometry geo;
  float* plane(int c) const { return data + std::size_t(c) * geo.plane_stride(); }
  PaddedPlanes slice(int first_channel, int count) const { return PaddedPlanes{plane(first_channel), count, geo}; }
};

// True when the memory of a and b (every plane, ring and slack included) intersects: the kernels' aliasing checks.
inline bool planes_overlap(const PaddedPlanes& a, const PaddedPlanes& b) {
  const float* a_end = a.data + a.geo.floats(a.channels);
  const float* b_end = b.data + b.geo.floats(b.channels);
  return a.data < b_end && b.data < a_end;
}

}  // namespace resr::cpu
