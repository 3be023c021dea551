#include "models/detect.h"

#include <optional>
#include <string>

#include "models/esrgan_layout.h"
#include "models/rrdb_trunk_layout.h"

namespace resr::models {
namespace {

// `layout`: "" for BasicSR's key names, else the layout they were renamed from (for the description).
Result<DetectedModel> build_rrdbnet(const formats::WeightMap& w, const std::string& layout) {
  const std::string what = layout.empty() ? "RRDBNet" : "RRDBNet (" + layout + ")";
  auto detected = RrdbConfig::detect_from_weights(w, /*any_upsample_count=*/!layout.empty());
  if (!detected) return detected.status().with_context(what);
  const RrdbConfig c = *detected;
  auto g = build_rrdbnet_graph(w, c);
  if (!g) return g.status().with_context(what);
  DetectedModel m;
  m.graph = std::move(*g);
  m.architecture = "RRDBNet";
  m.scale = c.scale;
  m.description = "RRDBNet (" + (layout.empty() ? "" : layout + ", ") + "scale " + std::to_string(c.scale) +
                  ", num_block " + std::to_string(c.num_block) + ", num_feat " + std::to_string(c.num_feat) +
                  ", num_grow_ch " + std::to_string(c.num_grow_ch) + ")";
  m.rrdb = c;
  return m;
}

bool matches_a_layout(const formats::WeightMap& w) {
  return RrdbConfig::matches(w) || is_esrgan_layout(w) || is_rrdb_trunk_layout(w) || SrvggConfig::matches(w);
}

// Training code keeps the network under an attribute (Lightning's "model.", GANs' "generator." or "net_g."): the
// keys without the first component they all share, or nothing when they share none.
std::optional<formats::WeightMap> without_common_prefix(const formats::WeightMap& w) {
  std::string prefix;
  for (const auto& [key, tensor] : w) {
    const std::size_t dot = key.find('.');
    if (dot == std::string::npos || dot == 0) return std::nullopt;
    if (prefix.empty()) prefix = key.substr(0, dot + 1);
    if (key.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  }
  formats::WeightMap out;
  for (const auto& [key, tensor] : w) out.emplace(key.substr(prefix.size()), tensor);
  return out;
}

Result<DetectedModel> build_known_layout(const formats::WeightMap& w, const DetectOptions& o) {
  DetectedModel m;
  if (RrdbConfig::matches(w)) return build_rrdbnet(w, "");
  if (is_esrgan_layout(w)) {
    RESR_ASSIGN_OR_RETURN(const formats::WeightMap renamed, esrgan_to_basicsr(w));
    return build_rrdbnet(renamed, "ESRGAN layout");
  }
  if (is_rrdb_trunk_layout(w)) {
    RESR_ASSIGN_OR_RETURN(const formats::WeightMap renamed, rrdb_trunk_to_basicsr(w));
    return build_rrdbnet(renamed, "RRDB_trunk layout");
  }
  auto detected = SrvggConfig::detect_from_weights(w);
  if (!detected) return detected.status().with_context("SRVGGNetCompact");
  SrvggConfig c = *detected;
  if (!c.act_known && o.srvgg_act) c.act = *o.srvgg_act;
  auto g = build_srvgg_graph(w, c);
  if (!g) return g.status().with_context("SRVGGNetCompact");
  m.graph = std::move(*g);
  m.architecture = "SRVGGNetCompact";
  m.scale = c.upscale;
  m.description = "SRVGGNetCompact (scale " + std::to_string(c.upscale) + ", num_conv " + std::to_string(c.num_conv) +
                  ", num_feat " + std::to_string(c.num_feat) + ", act " + act_name(c.act) +
                  (c.act_known || o.srvgg_act ? "" : " (assumed: no weights tell relu from leakyrelu)") + ")";
  m.srvgg = c;
  return m;
}

}  // namespace

Result<DetectedModel> build_from_weights(const formats::WeightMap& w, const DetectOptions& o) {
  if (matches_a_layout(w)) return build_known_layout(w, o);
  if (auto inner = without_common_prefix(w); inner && matches_a_layout(*inner)) return build_known_layout(*inner, o);
  return Status::error("unknown architecture: found " + formats::describe_keys(w) +
                       "; expected RRDBNet (conv_first, body.N.rdbK.convJ, conv_body, conv_up1, conv_up2, conv_hr, "
                       "conv_last; ESRGAN's model.0, model.1.sub.N.RDBk.convj.0, ...; or conv_first, "
                       "RRDB_trunk.N.RDBk.convj, trunk_conv, upconv1, ...) or SRVGGNetCompact "
                       "(body.N.weight/bias: conv, activation, ..., conv)");
}

}  // namespace resr::models
