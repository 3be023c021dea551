// Format after huggingface/safetensors' README (header layout and dtype names).
#include "formats/safetensors_reader.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string_view>

#include "core/half.h"
#include "formats/file_bytes.h"
#include "formats/tensor_dtype.h"

namespace resr::formats {
namespace {

// The format allows headers of up to 100 MB; an SR model's is a few KB (a thousand tensors, 100 KB), and parsing
// 100 MB of JSON took up to 3.8 GB: 16 MiB, and JSON nested at most 64 deep (a model's nests 3).
constexpr std::uint64_t kMaxHeader = std::uint64_t{16} << 20;
constexpr int kMaxHeaderDepth = 64;
constexpr std::int64_t kMaxTensorElements = std::int64_t{1} << 31;

Result<WeightTensor> read_tensor(const nlohmann::json& info, std::span<const std::uint8_t> data) {
  if (!info.is_object()) return Status::error("entry is not an object");
  auto dtype = info.find("dtype");
  auto shape = info.find("shape");
  auto offsets = info.find("data_offsets");
  if (dtype == info.end() || !dtype->is_string() || shape == info.end() || !shape->is_array() ||
      offsets == info.end() || !offsets->is_array() || offsets->size() != 2)
    return Status::error("entry needs dtype, shape and data_offsets [begin, end]");
  WeightTensor w;
  w.dtype = dtype->get<std::string>();
  const std::size_t es = dtype_size(w.dtype);
  if (es == 0)
    return Status::error("dtype " + w.dtype + " is not supported (F64, F32, F16, BF16; integers are skipped)");
  if (shape->size() > 8) return Status::error("too many dimensions");
  std::int64_t numel = 1;
  for (const auto& d : *shape) {
    if (!d.is_number_unsigned()) return Status::error("shape holds a non-integer");
    const std::uint64_t v = d.get<std::uint64_t>();
    if (v > std::uint64_t(kMaxTensorElements) || (v != 0 && numel > kMaxTensorElements / std::int64_t(v)))
      return Status::error("tensor is too large");
    w.shape.push_back(std::int64_t(v));
    numel *= std::int64_t(v);
  }
  if (!(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned())
    return Status::error("data_offsets are not integers");
  const std::uint64_t begin = (*offsets)[0].get<std::uint64_t>(), end = (*offsets)[1].get<std::uint64_t>();
  if (begin > end || end > data.size())
    return Status::error("data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + "] lie outside the " +
                         std::to_string(data.size()) + "-byte data block");
  if (end - begin != std::uint64_t(numel) * es)
    return Status::error("data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + "] hold " +
                         std::to_string(end - begin) + " bytes, " + w.dtype + " " + w.shape_string() + " needs " +
                         std::to_string(std::uint64_t(numel) * es));
  if (!is_weight_dtype(w.dtype)) return w;  // a counter: checked, not read
  const std::uint8_t* src = data.data() + begin;
  w.data.resize(std::size_t(numel));
  if (w.dtype == "F32") {
    if (numel > 0) std::memcpy(w.data.data(), src, std::size_t(numel) * 4);
  } else {
    for (std::int64_t k = 0; k < numel; ++k) w.data[std::size_t(k)] = weight_value(w.dtype, src + std::size_t(k) * es);
  }
  return w;
}

// The deepest nesting of arrays and objects in JSON text (brackets inside strings not counted), stopping past `most`.
int json_depth(std::string_view text, int most) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > most) break;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

// Error when two tensors' data_offsets overlap, which the format forbids: 2000 tensors over one 4 MB block made a
// 4.4 MB file decode to 16 GB. (Entries whose offsets are malformed are left to read_tensor to name.)
Status check_no_overlap(const nlohmann::json& header) {
  struct Range {
    std::uint64_t begin, end;
    std::string name;
  };
  std::vector<Range> ranges;
  for (const auto& [key, info] : header.items()) {
    if (key == "__metadata__" || !info.is_object()) continue;
    auto offsets = info.find("data_offsets");
    if (offsets == info.end() || !offsets->is_array() || offsets->size() != 2 || !(*offsets)[0].is_number_unsigned() ||
        !(*offsets)[1].is_number_unsigned())
      continue;
    const std::uint64_t begin = (*offsets)[0].get<std::uint64_t>(), end = (*offsets)[1].get<std::uint64_t>();
    if (begin < end) ranges.push_back({begin, end, key});
  }
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) { return a.begin < b.begin; });
  for (std::size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].begin < ranges[i - 1].end)
      return Status::error("tensors '" + ranges[i - 1].name + "' and '" + ranges[i].name +
                           "' overlap in the data block (data_offsets [" + std::to_string(ranges[i - 1].begin) + ", " +
                           std::to_string(ranges[i - 1].end) + "] and [" + std::to_string(ranges[i].begin) + ", " +
                           std::to_string(ranges[i].end) + "])");
  return ok_status();
}

}  // namespace

Result<SafetensorsFile> parse_safetensors(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < 8) return Status::error("file too short for a safetensors header (truncated?)");
  std::uint64_t n = 0;
  for (int k = 7; k >= 0; --k) n = (n << 8) | bytes[std::size_t(k)];
  if (n > kMaxHeader)
    return Status::error("header length " + std::to_string(n) + " is absurd (not a safetensors file?)");
  if (n > bytes.size() - 8)
    return Status::error("header of " + std::to_string(n) + " bytes runs past the end of the file (truncated?)");
  const char* text = reinterpret_cast<const char*>(bytes.data() + 8);
  if (json_depth(std::string_view(text, n), kMaxHeaderDepth) > kMaxHeaderDepth)
    return Status::error("header nests more than " + std::to_string(kMaxHeaderDepth) +
                         " deep (not a safetensors file?)");
  nlohmann::json header = nlohmann::json::parse(text, text + n, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object()) return Status::error("header is not a JSON object");
  const std::span<const std::uint8_t> data = bytes.subspan(8 + std::size_t(n));
  RESR_RETURN_IF_ERROR(check_no_overlap(header));
  SafetensorsFile out;
  for (const auto& [key, info] : header.items()) {
    if (key == "__metadata__") {
      if (info.is_object())
        for (const auto& [mk, mv] : info.items())
          if (mv.is_string()) out.metadata[mk] = mv.get<std::string>();
      continue;
    }
    auto w = read_tensor(info, data);
    if (!w) return w.status().with_context("tensor '" + key + "'");
    if (is_weight_dtype(w->dtype)) out.weights[key] = std::move(*w);
  }
  if (out.weights.empty()) return Status::error("no float tensors (weights) in the file");
  RESR_ASSIGN_OR_RETURN(out.weights, strip_module_prefix(std::move(out.weights)));
  return out;
}

Result<SafetensorsFile> read_safetensors(const std::string& path) {
  auto bytes = read_file_bytes(path);
  if (!bytes) return bytes.status().with_context(path);
  auto f = parse_safetensors(*bytes);
  if (!f) return f.status().with_context(path);
  return f;
}

Status write_safetensors(const std::string& path, const WeightMap& weights, bool fp16,
                         const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  const std::size_t es = fp16 ? 2 : 4;
  for (const auto& [key, w] : weights) {
    const std::uint64_t bytes = w.data.size() * es;
    header[key] = {{"dtype", fp16 ? "F16" : "F32"}, {"shape", w.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  while (text.size() % 8 != 0) text += ' ';
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return Status::error(path + ": cannot create: " + std::strerror(errno));
  std::uint8_t len[8];
  for (int k = 0; k < 8; ++k) len[k] = std::uint8_t(std::uint64_t(text.size()) >> (8 * k));
  bool ok = std::fwrite(len, 1, 8, f) == 8 && std::fwrite(text.data(), 1, text.size(), f) == text.size();
  for (const auto& [key, w] : weights) {
    if (fp16) {
      std::vector<std::uint16_t> h(w.data.size());
      for (std::size_t k = 0; k < h.size(); ++k) h[k] = float_to_half(w.data[k]);
      ok = ok && std::fwrite(h.data(), 2, h.size(), f) == h.size();
    } else {
      ok = ok && std::fwrite(w.data.data(), 4, w.data.size(), f) == w.data.size();
    }
  }
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) return Status::error(path + ": write error");
  return {};
}

}  // namespace resr::formats
