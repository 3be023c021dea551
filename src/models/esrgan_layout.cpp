#include "models/esrgan_layout.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

namespace resr::models {
namespace {

std::vector<std::string> split_dots(const std::string& key) {
  std::vector<std::string> parts(1);
  for (char ch : key) {
    if (ch == '.')
      parts.emplace_back();
    else
      parts.back() += ch;
  }
  return parts;
}

// A small decimal index written plainly ("12"; not "012", which would alias another key), or -1.
int index_of(const std::string& s) {
  if (s.empty() || s.size() > 4 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return -1;
  if (s.size() > 1 && s[0] == '0') return -1;
  return std::stoi(s);
}

// The index after a fixed prefix ("RDB2" -> 2 for "RDB"), or -1.
int suffix_index(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0 ? index_of(s.substr(prefix.size())) : -1;
}

bool is_param(const std::string& s) {
  return s == "weight" || s == "bias";
}

}  // namespace

bool is_esrgan_layout(const formats::WeightMap& w) {
  return w.count("model.0.weight") != 0 && w.count("model.1.sub.0.RDB1.conv1.0.weight") != 0;
}

Result<formats::WeightMap> esrgan_to_basicsr(const formats::WeightMap& w) {
  int num_block = 0;
  while (w.count("model.1.sub." + std::to_string(num_block) + ".RDB1.conv1.0.weight") != 0) ++num_block;
  // First the names inside the trunk; the convs after it are named once all their indices are known.
  formats::WeightMap out;
  std::set<int> tail;  // i of model.i.* for i >= 2
  for (const auto& [key, tensor] : w) {
    const std::vector<std::string> p = split_dots(key);
    const int top = p.size() >= 3 && p[0] == "model" ? index_of(p[1]) : -1;
    std::string name;
    if (top == 0 && p.size() == 3 && is_param(p[2])) {
      name = "conv_first." + p[2];
    } else if (top == 1 && p.size() == 8 && p[2] == "sub" && p[6] == "0" && is_param(p[7])) {
      const int b = index_of(p[3]), r = suffix_index(p[4], "RDB"), k = suffix_index(p[5], "conv");
      if (b >= 0 && b < num_block && r >= 1 && r <= 3 && k >= 1 && k <= 5)
        name = "body." + std::to_string(b) + ".rdb" + std::to_string(r) + ".conv" + std::to_string(k) + "." + p[7];
    } else if (top == 1 && p.size() == 5 && p[2] == "sub" && index_of(p[3]) == num_block && is_param(p[4])) {
      name = "conv_body." + p[4];
    } else if (top >= 2 && p.size() == 3 && is_param(p[2])) {
      tail.insert(top);
      continue;
    }
    if (name.empty())
      return Status::error("ESRGAN layout: unexpected tensor '" + key +
                           "' (known: model.0, model.1.sub.N.RDBk.convj.0, model.1.sub." + std::to_string(num_block) +
                           ", and convs after the trunk)");
    if (!out.emplace(name, tensor).second) return Status::error("ESRGAN layout: two tensors for '" + name + "'");
  }
  // n upsampling convs at 3, 6, ..., 3n (each after its Upsample at 3i - 1, with a LeakyReLU at 3i + 1), then
  // HR_conv0 at 3n + 2 (LeakyReLU at 3n + 3) and HR_conv1 at 3n + 4.
  const std::vector<int> found(tail.begin(), tail.end());
  const int n = static_cast<int>(found.size()) - 2;
  std::vector<int> expected;
  for (int i = 1; i <= n; ++i) expected.push_back(3 * i);
  expected.push_back(3 * n + 2);
  expected.push_back(3 * n + 4);
  if (n < 0 || n > 3 || found != expected) {
    std::string list;
    for (int i : found) list += (list.empty() ? "model." : ", model.") + std::to_string(i);
    return Status::error("ESRGAN layout: the convs after the trunk (" + (list.empty() ? "none" : list) +
                         ") are not 0 to 3 nearest-upsample convs (model.3, model.6, ...) and the two HR convs; "
                         "pixel-shuffle upsamplers are not supported");
  }
  for (int i = 0; i < n + 2; ++i) {
    const std::string name = i < n ? "conv_up" + std::to_string(i + 1) : i == n ? "conv_hr" : "conv_last";
    for (const char* param : {"weight", "bias"}) {
      auto t = w.find("model." + std::to_string(found[std::size_t(i)]) + "." + param);
      if (t != w.end()) out[name + "." + param] = t->second;
    }
  }
  return out;
}

}  // namespace resr::models
