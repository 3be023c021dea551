// quantize_u8_groups: the loop the SIMD input quantizers share (quantize_planes_u8_avx2 / _avx512): every row of
// every 4-channel group of `out` (ring rows included), then the group's slack and alignment words. The quantizer
// supplies the row: row(std::integral_constant<int, NC>, src, div, pitch, dst) writes `pitch` words of dst from the
// NC (1..4) real channels' rows src[0..NC) (the other bytes 0), channel k divided by div[k] (U8Quant::divisor; one
// value per row, so the row hoists its broadcasts out of the pixel loop). OpenMP over groups x rows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "backends/cpu/conv3x3_int8.h"
#include "core/status.h"

namespace resr::cpu {

template <class Row>
void quantize_u8_groups(const PaddedPlanes& in, const QuantizedPlanes& out, const Row& row) {
  RESR_ASSERT(in.channels == out.channels && in.geo.h == out.geo.h && in.geo.w == out.geo.w);
  const int rows = out.geo.h + 2, pitch = out.geo.pitch();
  const int groups = out.groups();
  const std::size_t tail_words = (out.group_stride() - std::size_t(rows) * pitch * 4) / 4;
#pragma omp parallel for collapse(2) schedule(static)
  for (int g = 0; g < groups; ++g) {
    for (int y = 0; y < rows; ++y) {
      const int nc = in.channels - 4 * g < 4 ? in.channels - 4 * g : 4;
      const float* src[4] = {};
      float div[4] = {1.0f, 1.0f, 1.0f, 1.0f};
      for (int k = 0; k < nc; ++k) {
        src[k] = in.plane(4 * g + k) + std::size_t(y) * pitch;
        div[k] = out.quant.divisor(4 * g + k);
      }
      auto* dst = reinterpret_cast<std::int32_t*>(out.group(g) + std::size_t(y) * pitch * 4);
      switch (nc) {
        case 1:
          row(std::integral_constant<int, 1>{}, src, div, pitch, dst);
          break;
        case 2:
          row(std::integral_constant<int, 2>{}, src, div, pitch, dst);
          break;
        case 3:
          row(std::integral_constant<int, 3>{}, src, div, pitch, dst);
          break;
        default:
          row(std::integral_constant<int, 4>{}, src, div, pitch, dst);
          break;
      }
      if (y == rows - 1) {
        const std::int32_t pad = quantized_pad_word(out, g);
        auto* end = reinterpret_cast<std::int32_t*>(out.group(g) + std::size_t(rows) * pitch * 4);
        for (std::size_t i = 0; i < tail_words; ++i) end[i] = pad;
      }
    }
  }
}

}  // namespace resr::cpu
