// append_values: n floats appended to a vector chunk by chunk, each chunk written by the caller, instead of
// sizing the vector first. Sizing zero-fills it, and for a model's weights that costs about as much as decoding
// them (the pages are touched twice).
//
//   append_values(weights, count, [&](float* dst, std::size_t first, std::size_t n) { decode(src + first, n, dst); });
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace resr::formats {

// fill(dst, first, n) writes values [first, first + n) to dst (n <= 1024).
template <class Fill>
void append_values(std::vector<float>& out, std::size_t count, Fill fill) {
  constexpr std::size_t kChunk = 1024;
  float chunk[kChunk];
  out.reserve(out.size() + count);
  for (std::size_t first = 0; first < count; first += kChunk) {
    const std::size_t n = std::min(kChunk, count - first);
    fill(chunk, first, n);
    out.insert(out.end(), chunk, chunk + n);
  }
}

}  // namespace resr::formats
