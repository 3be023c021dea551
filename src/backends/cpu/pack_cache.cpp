#include "backends/cpu/pack_cache.h"

#include <cstring>

namespace resr::cpu {
namespace {

// Multiply-xor over the weights' words in four independent lanes (a lookup, not a check: equal weights are
// compared in full). x4plus's 16.7M weights: a few ms.
std::uint64_t hash_weights(const float* w, std::size_t n) {
  std::uint64_t h[4] = {0x9e3779b97f4a7c15ull ^ n, 1, 2, 3};
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int l = 0; l < 4; ++l) {
      std::uint32_t bits;
      std::memcpy(&bits, w + i + std::size_t(l), sizeof bits);
      h[l] = (h[l] ^ bits) * 0x100000001b3ull;
    }
  for (; i < n; ++i) {
    std::uint32_t bits;
    std::memcpy(&bits, w + i, sizeof bits);
    h[0] = (h[0] ^ bits) * 0x100000001b3ull;
  }
  return (h[0] ^ (h[1] >> 1)) * 0x9e3779b97f4a7c15ull ^ (h[2] * 31 + h[3]);
}

}  // namespace

std::shared_ptr<const Conv3x3Impl> PackCache::get_or_pack(const float* weights, int oc, int ic, ir::Precision precision,
                                                          const std::string& layer, FloatProducts products) {
  const std::size_t n = std::size_t(oc) * ic * 9;
  const Key key{hash_weights(weights, n), oc, ic, int(precision), int(products)};
  auto same = [&](const Entry& e) { return std::memcmp(e.weights.data(), weights, n * sizeof(float)) == 0; };
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    for (auto [it, end] = entries_.equal_range(key); it != end; ++it)
      if (same(it->second)) {
        ++hits_;
        return it->second.conv;
      }
  }
  // Packed outside the lock: other convs pack meanwhile. Two threads packing the same conv both keep theirs.
  auto conv = std::make_shared<const Conv3x3Impl>(Conv3x3Impl::create(weights, oc, ic, precision, layer, products));
  Entry entry{std::vector<float>(weights, weights + n), conv};  // the copy too, while other threads use the cache
  const std::lock_guard<std::mutex> lock(mutex_);
  ++packs_;
  entries_.emplace(key, std::move(entry));
  return conv;
}

int PackCache::hits() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return hits_;
}

int PackCache::packs() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return packs_;
}

}  // namespace resr::cpu
