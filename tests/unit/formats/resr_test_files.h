// Helpers for the .resr tests: fixture graphs at each precision, and hand-made files (a valid file taken
// apart into its sections, edited, and put back together with a correct size and checksum).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/model_loader.h"
#include "formats/resr_file.h"
#include "formats/resr_layout.h"
#include "support/paths.h"

namespace resr::test {

inline ir::Graph fixture_graph(const std::string& name) {
  auto g = engine::read_model_graph(data_path("fixtures/" + name));
  RESR_ASSERT(g.ok());
  return std::move(*g);
}

// Every other Conv2d FP8 (E4M3) with per-channel scales max|w| / 448.
inline void make_fp8_alternate(ir::Graph& g) {
  int k = 0;
  for (ir::Node& n : g.nodes) {
    if (n.op != ir::Op::kConv2d || k++ % 2 == 1) continue;
    n.quant = ir::ConvQuant{};
    n.quant.precision = ir::Precision::kFp8;
    n.quant.in_scale = 0.021f;
    const std::size_t per = n.weights.size() / std::size_t(n.conv.out_channels);
    n.quant.weight_scales.assign(std::size_t(n.conv.out_channels), 1.0f);
    for (int o = 0; o < n.conv.out_channels; ++o) {
      float m = 0;
      for (std::size_t i = 0; i < per; ++i) m = std::max(m, std::fabs(n.weights[o * per + i]));
      if (m > 0) n.quant.weight_scales[std::size_t(o)] = m / 448.0f;
    }
  }
}

// Per output channel: max|w| / 127 of `weights` (n's, or folded), or 1 for an all-zero channel.
inline std::vector<float> int8_weight_scales(const ir::Node& n, const std::vector<float>& weights) {
  const std::size_t per = weights.size() / std::size_t(n.conv.out_channels);
  std::vector<float> scales(std::size_t(n.conv.out_channels), 1.0f);
  for (int o = 0; o < n.conv.out_channels; ++o) {
    float m = 0;
    for (std::size_t i = 0; i < per; ++i) m = std::max(m, std::fabs(weights[o * per + i]));
    if (m > 0) scales[std::size_t(o)] = m / 127.0f;
  }
  return scales;
}

// Every Conv2d (or every other one when `alternate`) INT8 with per-channel scales max|w| / 127.
inline void make_int8(ir::Graph& g, bool asymmetric, bool alternate = false) {
  int k = 0;
  for (ir::Node& n : g.nodes) {
    if (n.op != ir::Op::kConv2d || (alternate && k++ % 2 == 1)) continue;
    ir::ConvQuant& q = n.quant;
    q.precision = ir::Precision::kInt8;
    q.asymmetric = asymmetric;
    q.in_scale = 0.013f;
    q.in_zero = asymmetric ? 77 : 0;
    q.weight_scales = int8_weight_scales(n, n.weights);
  }
}

// make_int8 (symmetric) with per-channel input scales: uneven factors, the weight scales those of the folded weights.
inline void make_int8_per_channel(ir::Graph& g) {
  make_int8(g, false);
  for (ir::Node& n : g.nodes) {
    if (n.op != ir::Op::kConv2d) continue;
    ir::ConvQuant& q = n.quant;
    q.in_channel_scales.resize(std::size_t(n.conv.in_channels));
    for (std::size_t c = 0; c < q.in_channel_scales.size(); ++c) q.in_channel_scales[c] = 0.3f + 0.37f * float(c % 7);
    q.weight_scales = int8_weight_scales(n, ir::folded_int8_weights(n));
  }
}

inline void make_fp16(ir::Graph& g) {
  for (ir::Node& n : g.nodes)
    if (n.op == ir::Op::kConv2d) n.quant.precision = ir::Precision::kFp16;
}

inline std::vector<std::uint8_t> serialize(const ir::Graph& g) {
  formats::ResrMetadata meta;
  meta.model = "test";
  meta.source = "fixture";
  meta.architecture = "generic";
  meta.scale = 4;
  meta.source_fingerprint = 0x0123456789abcdefull;
  auto bytes = formats::serialize_resr(g, meta);
  RESR_ASSERT(bytes.ok());
  return std::move(*bytes);
}

// A file's three sections, for editing.
struct ResrParts {
  nlohmann::json metadata, graph;
  std::vector<std::uint8_t> blob;
};

inline ResrParts split_resr(const std::vector<std::uint8_t>& file) {
  namespace L = formats::resr_layout;
  auto section = [&](int i) {
    const std::uint8_t* e = file.data() + 32 + 24 * i;
    return std::vector<std::uint8_t>(file.begin() + long(L::get_u64(e + 8)),
                                     file.begin() + long(L::get_u64(e + 8) + L::get_u64(e + 16)));
  };
  const auto m = section(0), g = section(1);
  return {nlohmann::json::parse(m.begin(), m.end()), nlohmann::json::parse(g.begin(), g.end()), section(2)};
}

// Fixes the declared size and the checksum after an edit.
inline void reseal(std::vector<std::uint8_t>& file) {
  namespace L = formats::resr_layout;
  L::put_u64(file.data() + 24, file.size());
  L::put_u32(file.data() + 12, L::payload_crc(file.data(), file.size()));
}

inline std::vector<std::uint8_t> join_resr(const ResrParts& p) {
  namespace L = formats::resr_layout;
  std::vector<std::uint8_t> file(L::kResrHeaderSize, 0);
  std::memcpy(file.data(), L::kMagic, 8);
  L::put_u32(file.data() + 8, L::kResrVersion);
  L::put_u32(file.data() + 16, L::kResrHeaderSize);
  L::put_u32(file.data() + 20, L::kResrSectionCount);
  const std::string m = p.metadata.dump(), g = p.graph.dump();
  auto add = [&](int i, const std::uint8_t* data, std::size_t n, bool align) {
    const std::uint64_t off = align ? L::align_up(file.size()) : file.size();
    file.resize(off + n);
    std::copy(data, data + n, file.begin() + long(off));
    L::put_u32(file.data() + 32 + 24 * i, std::uint32_t(i + 1));
    L::put_u64(file.data() + 32 + 24 * i + 8, off);
    L::put_u64(file.data() + 32 + 24 * i + 16, n);
  };
  add(0, reinterpret_cast<const std::uint8_t*>(m.data()), m.size(), false);
  add(1, reinterpret_cast<const std::uint8_t*>(g.data()), g.size(), false);
  add(2, p.blob.data(), p.blob.size(), true);
  reseal(file);
  return file;
}

}  // namespace resr::test
