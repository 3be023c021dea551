#include "quant/quantize_graph.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "core/fp8.h"
#include "core/half.h"
#include "formats/weight_map.h"
#include "ir/fingerprint.h"
#include "quant/migration_estimate.h"

namespace resr::quant {
namespace {

std::string node_label(const ir::Node& n) {
  return "conv '" + n.name + "'";
}

// Per output channel: max|w| / qmax (127, or 448 for FP8), or 1 for an all-zero channel (any positive scale
// represents it exactly).
// `weights` are n's, or for INT8 with per-channel input scales its folded ones (ir::folded_int8_weights).
std::vector<float> weight_scales(const ir::Node& n, const std::vector<float>& weights, float qmax) {
  const int oc = n.conv.out_channels;
  const std::size_t per = weights.size() / std::size_t(oc);
  std::vector<float> scales(oc);
  for (int o = 0; o < oc; ++o) {
    float m = 0;
    for (std::size_t k = 0; k < per; ++k) m = std::max(m, std::fabs(weights[o * per + k]));
    scales[o] = m > 0 ? m / qmax : 1.0f;
  }
  return scales;
}

void set_fp8_input_quant(const TensorRange& r, ir::ConvQuant* q) {
  const float largest = std::max(std::fabs(r.min), std::fabs(r.max));
  q->in_scale = effective_threshold(largest) / kE4m3Max;
}

void set_input_quant(const TensorRange& r, bool asymmetric, ir::ConvQuant* q) {
  q->asymmetric = asymmetric;
  if (!asymmetric) {
    q->in_scale = effective_threshold(r.threshold) / 127.0f;
    q->in_zero = 0;
    return;
  }
  const float t = effective_threshold(r.threshold);
  float lo = std::clamp(r.min, -t, t), hi = std::clamp(r.max, -t, t);
  lo = std::min(lo, 0.0f);
  hi = std::max(hi, 0.0f);
  if (hi - lo < kMinThreshold) {  // (practically) all zero: as if the range were [-1, 1]
    lo = -1.0f;
    hi = 1.0f;
  }
  q->in_scale = (hi - lo) / 255.0f;
  q->in_zero = std::clamp(static_cast<int>(std::lround(-lo / q->in_scale)), 0, 255);
}

// Whether the range has the largest |x| of each of n's input channels (else a v1 table: per tensor).
bool has_channel_maxima(const TensorRange& r, const ir::Node& n) {
  return r.channel_max.size() >= std::size_t(n.conv.in_channels);
}

// The quantized convs reading one dense block (one concat_root) at one precision share one input quantization,
// set from the union of their input ranges (the widest threshold, the lowest min, the highest max), so that one
// quantized copy of the block serves them all (passes/code_blocks.h: each part is quantized once, not once per
// reader). The widest concat's range covers every part. Measured for x4plus INT8 (docs/quantization.md): no
// worse than a scale per conv. `precision_of` gives each conv's precision. Errors: a conv's input missing from
// the table, or with channel maxima for another channel count.
using BlockRanges = std::map<std::pair<int, ir::Precision>, TensorRange>;  // (concat root, precision) -> union
template <class PrecisionOf>
Result<BlockRanges> block_ranges(const ir::Graph& g, const CalibTable& table, PrecisionOf precision_of) {
  BlockRanges merged;
  for (const ir::Node& n : g.nodes) {
    if (n.op != ir::Op::kConv2d || !ir::is_quantized(precision_of(n))) continue;
    const std::string& input = g.values[n.inputs[0]].name;
    const TensorRange* found = table.find(input);
    if (found == nullptr)
      return Status::error("calibration table has no range for tensor '" + input + "' (input of " + node_label(n) +
                           ")");
    const TensorRange& r = *found;
    const std::size_t channels = std::size_t(g.values[n.inputs[0]].channels);
    if (!r.channel_max.empty() && r.channel_max.size() != channels)
      return Status::error("calibration table has " + std::to_string(r.channel_max.size()) +
                           " channel maxima for tensor '" + input + "' of " + std::to_string(channels) + " channels");
    const auto [it, first] = merged.try_emplace({g.concat_root(n.inputs[0]), precision_of(n)}, r);
    if (first) continue;
    it->second.threshold = std::max(it->second.threshold, r.threshold);
    it->second.min = std::min(it->second.min, r.min);
    it->second.max = std::max(it->second.max, r.max);
    std::vector<float>& m = it->second.channel_max;  // the same channels' maxima: a longer prefix of the block
    if (r.channel_max.size() > m.size()) m.resize(r.channel_max.size(), 0.0f);
    for (std::size_t c = 0; c < r.channel_max.size(); ++c) m[c] = std::max(m[c], r.channel_max[c]);
  }
  return merged;
}

// The migration strength a of each block key whose INT8 convs get per-channel input scales (channel_factors):
// options' channel_migration, or with migration_candidates the one choose_migration takes for all the key's readers
// together (they share the codes, so they must share the factors).
template <class PrecisionOf>
std::map<BlockRanges::key_type, float> block_migrations(const ir::Graph& g, const BlockRanges& ranges,
                                                        const QuantOptions& options, PrecisionOf precision_of) {
  std::map<BlockRanges::key_type, std::vector<const ir::Node*>> readers;
  for (const ir::Node& n : g.nodes) {
    if (n.op != ir::Op::kConv2d || precision_of(n) != ir::Precision::kInt8) continue;
    const BlockRanges::key_type key{g.concat_root(n.inputs[0]), ir::Precision::kInt8};
    if (has_channel_maxima(ranges.at(key), n)) readers[key].push_back(&n);
  }
  std::map<BlockRanges::key_type, float> strengths;
  for (const auto& [key, convs] : readers)
    strengths[key] = options.migration_candidates.empty()
                         ? options.channel_migration
                         : choose_migration(convs, ranges.at(key), options.migration_candidates);
  return strengths;
}

Status round_node_to_fp16(ir::Node& n) {
  for (std::vector<float>* v : {&n.weights, &n.bias}) {
    for (float& x : *v) {
      x = half_to_float(float_to_half(x));
      if (!std::isfinite(x)) return Status::error(node_label(n) + ": a parameter is out of the fp16 range");
    }
  }
  n.quant = ir::ConvQuant{};
  n.quant.precision = ir::Precision::kFp16;
  return {};
}

}  // namespace

Status check_table_model(const ir::Graph& g, const CalibTable& table) {
  const std::uint64_t fp = ir::graph_fingerprint(g);
  if (table.model_fingerprint != fp)
    return Status::error("calibration table was made for model " + ir::fingerprint_hex(table.model_fingerprint) +
                         ", this model is " + ir::fingerprint_hex(fp));
  // The fingerprint matches, so a tensor no conv reads is a line added by hand (or from another table).
  std::set<std::string> conv_inputs;
  for (const ir::Node& n : g.nodes)
    if (n.op == ir::Op::kConv2d) conv_inputs.insert(g.values[n.inputs[0]].name);
  for (const TensorRange& t : table.tensors)
    if (conv_inputs.count(t.name) == 0)
      return Status::error("calibration table has a range for tensor '" + t.name +
                           "', which no convolution of this model reads (a line from another table?)");
  return {};
}

Status check_conv_names(const ir::Graph& g, const std::map<std::string, ir::Precision>& per_conv) {
  std::set<std::string> convs;
  for (const ir::Node& n : g.nodes)
    if (n.op == ir::Op::kConv2d) convs.insert(n.name);
  for (const auto& [name, precision] : per_conv)
    if (!convs.count(name))
      return Status::error("'" + name + "' (to run at " + ir::precision_name(precision) +
                           ") is no convolution of this model");
  return {};
}

Status quantize_graph(ir::Graph& g, const CalibTable& table, const QuantOptions& options,
                      std::map<std::string, float>* migrations) {
  if (migrations != nullptr) migrations->clear();
  RESR_RETURN_IF_ERROR(check_table_model(g, table));
  if (!ir::is_quantized(options.precision))
    return Status::error(std::string("cannot quantize to ") + ir::precision_name(options.precision) + " (int8 or fp8)");
  if (options.precision == ir::Precision::kFp8 && options.asymmetric)
    return Status::error("fp8 is symmetric only (--asymmetric is for int8)");
  auto in_range = [](float a) { return a > 0.0f && a <= 1.0f; };
  if (!in_range(options.channel_migration) ||
      !std::all_of(options.migration_candidates.begin(), options.migration_candidates.end(), in_range))
    return Status::error("the channel scale migration must be in (0, 1]");
  RESR_RETURN_IF_ERROR(check_conv_names(g, options.per_conv));
  auto precision_of = [&](const ir::Node& n) {
    const auto it = options.per_conv.find(n.name);
    return it != options.per_conv.end() ? it->second : options.precision;
  };
  // Checked (block_ranges) before anything changes, so a failure leaves the graph as it was.
  RESR_ASSIGN_OR_RETURN(const BlockRanges ranges, block_ranges(g, table, precision_of));
  const bool channel_scales = options.channel_scales && !options.asymmetric;
  const auto strengths =
      channel_scales ? block_migrations(g, ranges, options, precision_of) : std::map<BlockRanges::key_type, float>{};
  for (ir::Node& n : g.nodes) {
    if (n.op != ir::Op::kConv2d) continue;
    const ir::Precision p = precision_of(n);
    if (p == ir::Precision::kFp16) {
      RESR_RETURN_IF_ERROR(round_node_to_fp16(n));
      continue;
    }
    n.quant = ir::ConvQuant{};
    n.quant.precision = p;
    if (!ir::is_quantized(p)) continue;
    const BlockRanges::key_type key{g.concat_root(n.inputs[0]), p};
    const TensorRange& range = ranges.at(key);  // the block's, shared
    if (p == ir::Precision::kFp8) {
      n.quant.weight_scales = weight_scales(n, n.weights, kE4m3Max);
      set_fp8_input_quant(range, &n.quant);
    } else {
      set_input_quant(range, options.asymmetric, &n.quant);
      if (const auto it = strengths.find(key); it != strengths.end() && has_channel_maxima(range, n)) {
        n.quant.in_channel_scales = channel_factors(range, n.conv.in_channels, it->second);
        if (migrations != nullptr) (*migrations)[n.name] = it->second;
      }
      n.quant.weight_scales = weight_scales(n, ir::folded_int8_weights(n), 127.0f);
    }
  }
  return ir::verify(g);
}

Status round_to_fp16(ir::Graph& g) {
  for (ir::Node& n : g.nodes)
    if (n.op == ir::Op::kConv2d && !ir::is_quantized(n.quant.precision)) RESR_RETURN_IF_ERROR(round_node_to_fp16(n));
  return ir::verify(g);
}

Result<std::map<std::string, ir::Precision>> read_qtable(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::error(path + ": cannot open");
  std::map<std::string, ir::Precision> keep;
  std::string line;
  for (int line_no = 1; std::getline(in, line); ++line_no) {
    auto error = [&](const std::string& what) {
      std::string message = path;
      message += ": line " + std::to_string(line_no) + ": ";
      message += what;
      return Status::error(message);
    };
    const std::size_t hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    std::istringstream fields(line);
    std::string name, precision, extra;
    if (!(fields >> name)) continue;  // blank or comment
    ir::Precision p;
    if (!(fields >> precision) || (fields >> extra)) return error("expected '<conv name> <fp32|fp16|int8|fp8>'");
    // NOLINTBEGIN(performance-inefficient-string-concatenation): error paths, run at most once
    if (!ir::parse_precision(precision, &p))
      return error("precision '" + precision + "' for '" + name + "' (use fp32, fp16, int8 or fp8)");
    if (!keep.emplace(name, p).second) return error("'" + name + "' listed twice");
    // NOLINTEND(performance-inefficient-string-concatenation)
  }
  if (in.bad()) return Status::error(path + ": read error");
  return keep;
}

}  // namespace resr::quant
