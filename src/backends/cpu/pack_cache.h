// Packed 3x3 convs (Conv3x3Impl) shared across compiles of graphs that differ in a few convs: the precision
// search (quant/precision_search.h) compiles x4plus once per candidate, and most of its 351 convs are the same
// each time, yet packing (Winograd weight transforms) is most of a compile. An entry is found by the conv's
// precision, products (FloatProducts), shape and weights: the weights are hashed, then compared in full, so a different
// conv never gets another's packing. Thread-safe (packing runs on every core). Entries live as long as the cache, or as
// long as an executable still holds them.
//
//   cpu::PackCache cache;
//   for (...) cpu::compile(graph_variant, &cache);   // packs each distinct conv once
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "backends/cpu/conv3x3_impl.h"
#include "ir/graph.h"

namespace resr::cpu {

class PackCache {
 public:
  // Conv3x3Impl::create's arguments; its result, packed now or found.
  std::shared_ptr<const Conv3x3Impl> get_or_pack(const float* weights, int oc, int ic, ir::Precision precision,
                                                 const std::string& layer,
                                                 FloatProducts products = FloatProducts::kFp32);

  int hits() const;
  int packs() const;

 private:
  using Key = std::tuple<std::uint64_t, int, int, int, int>;  // weights' hash, oc, ic, precision, products
  struct Entry {
    std::vector<float> weights;
    std::shared_ptr<const Conv3x3Impl> conv;
  };
  mutable std::mutex mutex_;
  std::multimap<Key, Entry> entries_;
  int hits_ = 0, packs_ = 0;
};

}  // namespace resr::cpu
