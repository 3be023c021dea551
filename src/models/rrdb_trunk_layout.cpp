#include "models/rrdb_trunk_layout.h"

#include <string>
#include <utility>

namespace resr::models {
namespace {

// The BasicSR name of one key, or "" when it has none. Only the leading module name changes.
std::string basicsr_name(const std::string& key) {
  static const std::pair<const char*, const char*> kRenames[] = {
      {"conv_first.", "conv_first."}, {"RRDB_trunk.", "body."},     {"trunk_conv.", "conv_body."},
      {"upconv1.", "conv_up1."},      {"upconv2.", "conv_up2."},    {"upconv3.", "conv_up3."},
      {"HRconv.", "conv_hr."},        {"conv_last.", "conv_last."},
  };
  for (const auto& [from, to] : kRenames) {
    const std::string prefix = from;
    if (key.rfind(prefix, 0) != 0) continue;
    std::string rest = key.substr(prefix.size());
    if (prefix == "RRDB_trunk.") {
      // N.RDBk.convj.param -> N.rdbk.convj.param
      const std::size_t dot = rest.find('.');
      if (dot == std::string::npos || rest.compare(dot + 1, 3, "RDB") != 0) return "";
      rest.replace(dot + 1, 3, "rdb");
    }
    return to + rest;
  }
  return "";
}

}  // namespace

bool is_rrdb_trunk_layout(const formats::WeightMap& w) {
  return w.count("RRDB_trunk.0.RDB1.conv1.weight") != 0 && w.count("trunk_conv.weight") != 0;
}

Result<formats::WeightMap> rrdb_trunk_to_basicsr(const formats::WeightMap& w) {
  formats::WeightMap out;
  for (const auto& [key, tensor] : w) {
    const std::string name = basicsr_name(key);
    if (name.empty())
      return Status::error("RRDB_trunk layout: unexpected tensor '" + key +
                           "' (known: conv_first, RRDB_trunk.N.RDBk.convj, trunk_conv, upconv1-3, HRconv, conv_last)");
    if (!out.emplace(name, tensor).second) return Status::error("RRDB_trunk layout: two tensors for '" + name + "'");
  }
  return out;
}

}  // namespace resr::models
