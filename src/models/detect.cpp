#include "models/detect.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

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

// 0-dim tensors are what training code keeps beside the weights (an EMA decay, a step); no layer of these
// architectures has one. Nothing when there are none (the usual case: no copy of the weights).
std::optional<formats::WeightMap> without_scalars(const formats::WeightMap& w) {
  if (std::none_of(w.begin(), w.end(), [](const auto& entry) { return entry.second.shape.empty(); }))
    return std::nullopt;
  formats::WeightMap out;
  for (const auto& [key, tensor] : w)
    if (!tensor.shape.empty()) out.emplace(key, tensor);
  return out;
}

// Training code keeps networks under attributes (Lightning's "model.", a GAN's "net_g." and "net_d." or
// "generator." and "discriminator."): the keys grouped by their first component, without it. Keys with no dot
// belong to no group.
std::map<std::string, formats::WeightMap> networks_by_prefix(const formats::WeightMap& w) {
  std::map<std::string, formats::WeightMap> groups;
  for (const auto& [key, tensor] : w) {
    const std::size_t dot = key.find('.');
    if (dot == std::string::npos || dot == 0) continue;
    groups[key.substr(0, dot + 1)].emplace(key.substr(dot + 1), tensor);
  }
  return groups;
}

using Network = std::pair<std::string, formats::WeightMap>;  // its keys' prefix ("net_g."), its weights

// The groups under `prefix` that are a known layout (without a DataParallel "module."), looking `depth` levels
// down: {"generator": {"params_ema": ...}} is "generator.params_ema.".
void find_networks(const formats::WeightMap& w, const std::string& prefix, int depth, std::vector<Network>& found) {
  for (auto& [name, inner] : networks_by_prefix(w)) {
    Result<formats::WeightMap> plain = formats::strip_module_prefix(inner);
    if (plain.ok() && matches_a_layout(*plain)) {
      found.emplace_back(prefix + name, std::move(*plain));
    } else if (depth > 1) {
      find_networks(inner, prefix + name, depth - 1, found);
    }
  }
}

// Whether a prefix names an exponential moving average: a word "ema" in it ("net_g_ema.", "params_ema.", "ema.";
// not "schema.").
bool names_an_average(const std::string& prefix) {
  std::string word;
  for (const char c : prefix + ".") {
    if (std::isalnum(static_cast<unsigned char>(c)) != 0) {
      word += char(std::tolower(static_cast<unsigned char>(c)));
    } else {
      if (word == "ema") return true;
      word.clear();
    }
  }
  return false;
}

// The one group that is a known layout; of several, the one whose name says EMA (the averaged generator, as
// Real-ESRGAN's params_ema). Error when several remain; nullopt when none is one.
Result<std::optional<Network>> the_network(const formats::WeightMap& w) {
  std::vector<Network> found;
  find_networks(w, "", /*depth=*/3, found);
  if (found.size() > 1 &&
      std::count_if(found.begin(), found.end(), [](const Network& n) { return names_an_average(n.first); }) == 1)
    found.erase(std::remove_if(found.begin(), found.end(), [](const Network& n) { return !names_an_average(n.first); }),
                found.end());
  if (found.size() > 1) {
    std::string names;
    for (const Network& n : found) names += (names.empty() ? "'" : ", '") + n.first + "'";
    return Status::error("several networks in the file (" + names + "); save the one to run alone");
  }
  if (found.empty()) return std::optional<Network>();
  return std::optional<Network>(std::move(found.front()));
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

Result<DetectedModel> build_from_weights(const formats::WeightMap& weights, const DetectOptions& o) {
  const std::optional<formats::WeightMap> trimmed = without_scalars(weights);
  const formats::WeightMap& w = trimmed ? *trimmed : weights;
  if (matches_a_layout(w)) return build_known_layout(w, o);
  RESR_ASSIGN_OR_RETURN(auto network, the_network(w));
  if (network) {
    RESR_ASSIGN_OR_RETURN(DetectedModel m, build_known_layout(network->second, o));
    if (network->second.size() != w.size()) m.description += ", the network under '" + network->first + "'";
    return m;
  }
  return Status::error("unknown architecture: found " + formats::describe_keys(w) +
                       "; expected RRDBNet (conv_first, body.N.rdbK.convJ, conv_body, conv_up1, conv_up2, conv_hr, "
                       "conv_last; ESRGAN's model.0, model.1.sub.N.RDBk.convj.0, ...; or conv_first, "
                       "RRDB_trunk.N.RDBk.convj, trunk_conv, upconv1, ...) or SRVGGNetCompact "
                       "(body.N.weight/bias: conv, activation, ..., conv)");
}

}  // namespace resr::models
