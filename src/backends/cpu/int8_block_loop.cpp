#include "backends/cpu/int8_block_loop.h"

#include <cstring>

namespace resr::cpu {

Int8Span int8_span(const PaddedGeometry& geo, int mask_extra) {
  Int8Span s;
  s.pitch = geo.pitch();
  s.start = s.pitch + 1;                // interior (0, 0)
  s.end = geo.h * s.pitch + geo.w + 1;  // one past interior (h-1, w-1)
  s.stride = geo.plane_stride();
  s.ring_mask.resize(std::size_t(s.pitch) + std::size_t(mask_extra));
  for (std::size_t j = 0; j < s.ring_mask.size(); ++j) {
    const int c = int(j % std::size_t(s.pitch));
    s.ring_mask[j] = (c >= 1 && c <= geo.w) ? -1 : 0;
  }
  return s;
}

void finish_outside_span(const Int8Span& s, const PaddedPlanes& out, const QuantizedPlanes* qout, int oc) {
  if (qout != nullptr) {
    for (int g = 0; g < qout->groups(); ++g) {
      auto* dst = reinterpret_cast<std::int32_t*>(qout->group(g));
      const std::int32_t pad = quantized_pad_word(*qout, g);
      std::fill(dst, dst + s.start, pad);
      std::fill(dst + s.end, dst + qout->group_stride() / 4, pad);
    }
    return;
  }
  for (int o = 0; o < oc; ++o) {
    float* dst = out.plane(o);
    std::memset(dst, 0, std::size_t(s.start) * sizeof(float));
    std::memset(dst + s.end, 0, (s.stride - std::size_t(s.end)) * sizeof(float));
  }
}

}  // namespace resr::cpu
