// Colour bleeding under transparency: breadth-first 8-neighbour dilation of the visible colours into the fully
// transparent area, one ring per pass (the "alpha bleeding" used by texture tools to stop dark fringes under
// filtering), bounded to kBleedPasses rings; the rest gets the mean visible colour. Only frontier pixels are
// visited, so the cost is proportional to the image, not to image * passes.
#include "image/alpha.h"

#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "core/status.h"

namespace resr {
namespace {

enum : std::uint8_t { kHidden = 0, kKnown = 1, kQueued = 2 };

std::uint32_t get(const Image& img, std::size_t i) {
  return img.bits == 8 ? img.bytes[i] : img.sample16(i);
}

void set(Image& img, std::size_t i, std::uint32_t v) {
  if (img.bits == 8) {
    img.bytes[i] = std::uint8_t(v);
  } else {
    const auto v16 = std::uint16_t(v);
    std::memcpy(img.bytes.data() + 2 * i, &v16, 2);
  }
}

// Calls f(q) for each in-image 8-neighbour q of pixel p.
template <class F>
void for_neighbours(std::size_t p, int width, int height, F&& f) {
  const int x = int(p % std::size_t(width)), y = int(p / std::size_t(width));
  for (int dy = -1; dy <= 1; ++dy) {
    for (int dx = -1; dx <= 1; ++dx) {
      const int nx = x + dx, ny = y + dy;
      if ((dx == 0 && dy == 0) || nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
      f(std::size_t(ny) * std::size_t(width) + std::size_t(nx));
    }
  }
}

}  // namespace

void bleed_transparent_colors(Image& img) {
  if (!img.has_alpha()) return;
  RESR_ASSERT(img.width >= 0 && img.height >= 0 && img.bytes.size() == img.sample_count() * std::size_t(img.bits / 8));
  const int width = img.width, height = img.height;
  const auto channels = std::size_t(img.channels);
  const std::size_t colours = channels - 1;
  const std::size_t pixels = std::size_t(width) * std::size_t(height);

  std::vector<std::uint8_t> state(pixels, kHidden);
  std::uint64_t visible_sum[3] = {0, 0, 0};
  std::size_t visible = 0;
  for (std::size_t p = 0; p < pixels; ++p) {
    if (get(img, p * channels + colours) == 0) continue;
    state[p] = kKnown;
    ++visible;
    for (std::size_t c = 0; c < colours; ++c) visible_sum[c] += get(img, p * channels + c);
  }
  if (visible == 0 || visible == pixels) return;

  std::vector<std::size_t> frontier, next;
  for (std::size_t p = 0; p < pixels; ++p) {
    if (state[p] != kHidden) continue;
    bool touches = false;
    for_neighbours(p, width, height, [&](std::size_t q) { touches = touches || state[q] == kKnown; });
    if (touches) {
      state[p] = kQueued;
      frontier.push_back(p);
    }
  }

  std::vector<std::uint32_t> filled;
  for (int pass = 0; pass < kBleedPasses && !frontier.empty(); ++pass) {
    // All colours of a ring are computed from the previous rings before any is written.
    filled.assign(frontier.size() * colours, 0);
    for (std::size_t i = 0; i < frontier.size(); ++i) {
      std::uint64_t sum[3] = {0, 0, 0};
      std::uint64_t n = 0;
      for_neighbours(frontier[i], width, height, [&](std::size_t q) {
        if (state[q] != kKnown) return;
        ++n;
        for (std::size_t c = 0; c < colours; ++c) sum[c] += get(img, q * channels + c);
      });
      for (std::size_t c = 0; c < colours; ++c) filled[i * colours + c] = std::uint32_t((sum[c] + n / 2) / n);
    }
    for (std::size_t i = 0; i < frontier.size(); ++i) {
      for (std::size_t c = 0; c < colours; ++c) set(img, frontier[i] * channels + c, filled[i * colours + c]);
      state[frontier[i]] = kKnown;
    }
    next.clear();
    for (std::size_t p : frontier) {
      for_neighbours(p, width, height, [&](std::size_t q) {
        if (state[q] != kHidden) return;
        state[q] = kQueued;
        next.push_back(q);
      });
    }
    std::swap(frontier, next);
  }

  std::uint32_t mean[3] = {0, 0, 0};
  for (std::size_t c = 0; c < colours; ++c) mean[c] = std::uint32_t((visible_sum[c] + visible / 2) / visible);
  for (std::size_t p = 0; p < pixels; ++p) {
    if (state[p] == kKnown) continue;
    for (std::size_t c = 0; c < colours; ++c) set(img, p * channels + c, mean[c]);
  }
}

}  // namespace resr
