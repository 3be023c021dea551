#include "formats/weight_arrays.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <new>

#include "core/populate_pages.h"

namespace resr::formats {

static_assert(std::endian::native == std::endian::little, "weights are stored little-endian");

void widen_binary16(const std::uint8_t* src, std::size_t n, float* dst) {
  for (std::size_t i = 0; i < n; ++i) {
    std::uint16_t h;
    std::memcpy(&h, src + 2 * i, sizeof h);
    const std::uint32_t em = h & 0x7fffu;
    // Both forms computed, then chosen by masks: no branch, so the loop vectorizes.
    const std::uint32_t inf_nan = 0u - std::uint32_t(em >= 0x7c00u), small = 0u - std::uint32_t(em < 0x0400u);
    // Normal numbers: rebias the exponent (15 -> 127); infinity and NaN: exponent all ones.
    const std::uint32_t normal = (em << 13) + 0x38000000u + (inf_nan & 0x38000000u);
    // Zero and subnormals: em * 2^-24, exact in float.
    const std::uint32_t sub = std::bit_cast<std::uint32_t>(static_cast<float>(static_cast<int>(em)) * 0x1p-24f);
    dst[i] = std::bit_cast<float>((sub & small) | (normal & ~small) | (std::uint32_t(h & 0x8000u) << 16));
  }
}

Status decode_weight_array(const WeightArray& a, bool finite_only, std::vector<float>* out) {
  const std::size_t elem = a.fp16 ? 2 : 4, count = a.bytes.size() / elem, first_new = out->size();
  constexpr std::size_t kChunk = 1024;
  float chunk[kChunk];
  out->reserve(out->size() + count);
  populate_pages(out->data() + out->size(), count * sizeof(float));  // one call, not a fault per page
  for (std::size_t first = 0; first < count; first += kChunk) {
    const std::size_t n = std::min(kChunk, count - first);
    if (a.fp16) {
      widen_binary16(a.bytes.data() + 2 * first, n, chunk);
    } else {
      std::memcpy(chunk, a.bytes.data() + 4 * first, 4 * n);
    }
    out->insert(out->end(), chunk, chunk + n);
  }
  if (finite_only && !a.fp16 &&
      !std::all_of(out->begin() + std::ptrdiff_t(first_new), out->end(), [](float v) { return std::isfinite(v); }))
    return Status::error("non-finite weight value");
  return {};
}

Status decode_weight_arrays(const std::vector<WeightArray>& arrays, const std::vector<std::vector<float>*>& outs,
                            bool finite_only, std::size_t* failed) {
  std::vector<Status> results(arrays.size());
#pragma omp parallel for schedule(dynamic)
  for (std::size_t i = 0; i < arrays.size(); ++i) {
    try {
      results[i] = decode_weight_array(arrays[i], finite_only, outs[i]);
    } catch (const std::bad_alloc&) {  // must not leave the parallel region
      results[i] = Status::error("out of memory");
    }
  }
  for (std::size_t i = 0; i < results.size(); ++i)
    if (!results[i].ok()) {
      *failed = i;
      return results[i];
    }
  return {};
}

}  // namespace resr::formats
