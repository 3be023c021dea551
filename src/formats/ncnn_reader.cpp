// ncnn .param/.bin reader. The .param grammar follows ncnn's ParamDict: "id=value" pairs, where ids at or
// below -23300 carry arrays ("-23310=2,0.1,0.2" is array id 10 with two elements).
#include "formats/ncnn_reader.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <map>
#include <new>
#include <optional>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "core/half.h"
#include "formats/file_bytes.h"
#include "formats/weight_arrays.h"

namespace resr::formats {
namespace {

constexpr int kMagic = 7767517;
constexpr int kMaxLayers = 100000;
constexpr int kMaxParamId = 32;
constexpr std::size_t kMaxWeights = std::size_t{1} << 28;  // 1 GiB of fp32 in one layer is not a real model

struct ParamValue {
  std::vector<float> values;  // scalars have one element
  bool is_array = false;
};

struct LayerSpec {
  int line = 0;
  std::string type, name;
  std::vector<std::string> bottoms, tops;
  std::map<int, ParamValue> params;

  std::optional<float> get(int id) const {
    auto it = params.find(id);
    if (it == params.end() || it->second.is_array || it->second.values.empty()) return std::nullopt;
    return it->second.values[0];
  }
  float get_or(int id, float fallback) const { return get(id).value_or(fallback); }
  const std::vector<float>* array(int id) const {
    auto it = params.find(id);
    return (it == params.end() || !it->second.is_array) ? nullptr : &it->second.values;
  }
};

Status line_error(int line, const std::string& what) {
  return Status::error("line " + std::to_string(line) + ": " + what);
}

Result<float> parse_number(std::string_view text) {
  float v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(v))
    return Status::error("bad number '" + std::string(text) + "'");
  return v;
}

Result<std::pair<int, ParamValue>> parse_param(std::string_view token) {
  const std::size_t eq = token.find('=');
  if (eq == std::string_view::npos || eq == 0)
    return Status::error("expected id=value, got '" + std::string(token) + "'");
  int id = 0;
  auto key = token.substr(0, eq);
  auto [p, ec] = std::from_chars(key.data(), key.data() + key.size(), id);
  if (ec != std::errc() || p != key.data() + key.size())
    return Status::error("bad parameter id '" + std::string(key) + "'");
  std::string_view rest = token.substr(eq + 1);
  ParamValue pv;
  if (id <= -23300) {
    id = -id - 23300;
    pv.is_array = true;
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    while (true) {
      std::size_t comma = rest.find(',', start);
      parts.push_back(rest.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    RESR_ASSIGN_OR_RETURN(float count, parse_number(parts[0]));
    if (count < 0 || count != std::floor(count) || std::size_t(count) != parts.size() - 1)
      return Status::error("array parameter " + std::to_string(id) + " declares " + std::string(parts[0]) +
                           " elements, has " + std::to_string(parts.size() - 1));
    for (std::size_t i = 1; i < parts.size(); ++i) {
      RESR_ASSIGN_OR_RETURN(float v, parse_number(parts[i]));
      pv.values.push_back(v);
    }
  } else {
    RESR_ASSIGN_OR_RETURN(float v, parse_number(rest));
    pv.values.push_back(v);
  }
  if (id < 0 || id >= kMaxParamId) return Status::error("parameter id " + std::to_string(id) + " out of range");
  return std::make_pair(id, std::move(pv));
}

std::vector<std::string_view> split_ws(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    std::size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '\r') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

Result<int> to_count(std::string_view token, int max, const char* what) {
  int v = -1;
  auto [p, ec] = std::from_chars(token.data(), token.data() + token.size(), v);
  if (ec != std::errc() || p != token.data() + token.size() || v < 0 || v > max)
    return Status::error(std::string("bad ") + what + " '" + std::string(token) + "'");
  return v;
}

Result<std::vector<LayerSpec>> parse_param_text(std::string_view text) {
  std::vector<std::string_view> lines;
  for (std::size_t start = 0; start < text.size();) {
    std::size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  if (lines.empty() || split_ws(lines[0]).empty()) return Status::error("empty file");
  {
    auto magic = split_ws(lines[0]);
    if (magic.size() != 1 || magic[0] != std::to_string(kMagic))
      return line_error(1, "not an ncnn param file (expected magic number 7767517)");
  }
  if (lines.size() < 2) return line_error(2, "missing layer and blob counts");
  auto counts = split_ws(lines[1]);
  if (counts.size() != 2) return line_error(2, "expected '<layer count> <blob count>'");
  auto layer_count = to_count(counts[0], kMaxLayers, "layer count");
  if (!layer_count) return layer_count.status().with_context("line 2");
  auto blob_count = to_count(counts[1], kMaxLayers * 8, "blob count");
  if (!blob_count) return blob_count.status().with_context("line 2");

  std::vector<LayerSpec> layers;
  for (std::size_t li = 2; li < lines.size(); ++li) {
    auto tok = split_ws(lines[li]);
    if (tok.empty()) continue;
    const int line = static_cast<int>(li) + 1;
    if (static_cast<int>(layers.size()) == *layer_count)
      return line_error(line, "more layers than the declared " + std::to_string(*layer_count));
    if (tok.size() < 4) return line_error(line, "expected '<type> <name> <inputs> <outputs> ...'");
    LayerSpec spec;
    spec.line = line;
    spec.type = tok[0];
    spec.name = tok[1];
    auto nb = to_count(tok[2], 1024, "input count");
    if (!nb) return nb.status().with_context("line " + std::to_string(line));
    auto nt = to_count(tok[3], 1024, "output count");
    if (!nt) return nt.status().with_context("line " + std::to_string(line));
    if (tok.size() < 4 + std::size_t(*nb) + std::size_t(*nt))
      return line_error(line, "fewer blob names than the declared input and output counts");
    std::size_t k = 4;
    for (int i = 0; i < *nb; ++i) spec.bottoms.emplace_back(tok[k++]);
    for (int i = 0; i < *nt; ++i) spec.tops.emplace_back(tok[k++]);
    for (; k < tok.size(); ++k) {
      auto pv = parse_param(tok[k]);
      if (!pv) return pv.status().with_context("line " + std::to_string(line));
      spec.params[pv->first] = std::move(pv->second);
    }
    layers.push_back(std::move(spec));
  }
  if (static_cast<int>(layers.size()) != *layer_count)
    return Status::error("declares " + std::to_string(*layer_count) + " layers, found " +
                         std::to_string(layers.size()) + " (truncated?)");
  return layers;
}

// Sequential reader over the .bin contents with ncnn's storage tags.
class WeightReader {
 public:
  explicit WeightReader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}

  // Tagged array (Convolution weights), located: the convs' weights are decoded after parsing, on every core
  // (decode_pending).
  Result<WeightArray> tagged(std::size_t count) {
    if (count > kMaxWeights) return Status::error("weight count " + std::to_string(count) + " is absurd");
    if (remaining() < 4) return too_short(4);
    std::uint32_t tag = 0;
    std::memcpy(&tag, bytes_.data() + pos_, 4);
    if (tag == 0x01306B47u) {
      pos_ += 4;
      const std::size_t bytes = (count * 2 + 3) / 4 * 4;
      if (remaining() < bytes) return too_short(bytes);
      const WeightArray w{bytes_.subspan(pos_, count * 2), true};
      pos_ += bytes;
      return w;
    }
    if (tag == 0 || tag == 0x0002C056u) {
      pos_ += 4;
      return raw_slice(count);
    }
    if (tag == 0x000D4B38u) return Status::error("int8-quantized ncnn weights are not supported");
    return Status::error("unknown weight storage tag 0x" + hex(tag) + " at byte " + std::to_string(pos_));
  }

  // Untagged fp32 array, located.
  Result<WeightArray> raw_slice(std::size_t count) {
    if (count > kMaxWeights) return Status::error("weight count " + std::to_string(count) + " is absurd");
    if (remaining() < count * 4) return too_short(count * 4);
    const WeightArray w{bytes_.subspan(pos_, count * 4), false};
    pos_ += count * 4;
    return w;
  }
  // Untagged fp32 array, decoded (biases, slopes).
  Result<std::vector<float>> raw(std::size_t count) {
    RESR_ASSIGN_OR_RETURN(const WeightArray w, raw_slice(count));
    std::vector<float> out;
    RESR_RETURN_IF_ERROR(decode_weight_array(w, /*finite_only=*/true, &out));
    return out;
  }

  std::size_t remaining() const { return bytes_.size() - pos_; }

 private:
  Status too_short(std::size_t need) const {
    return Status::error("file too short: needs " + std::to_string(need) + " more bytes at byte " +
                         std::to_string(pos_) + ", has " + std::to_string(remaining()));
  }
  static std::string hex(std::uint32_t v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%08X", v);
    return buf;
  }
  std::span<const std::uint8_t> bytes_;
  std::size_t pos_ = 0;
};

Result<int> positive_int(const LayerSpec& s, int id, int fallback, int max, const char* what) {
  const float v = s.get_or(id, static_cast<float>(fallback));
  if (v != std::floor(v) || v < 1 || v > max)
    return Status::error(std::string("bad ") + what + " " + std::to_string(v));
  return static_cast<int>(v);
}

struct Builder {
  ir::Graph g;
  std::unordered_map<std::string, int> blobs;  // blob name -> value id
  std::vector<int> consumed;                   // per value
  struct PendingWeights {
    std::size_t node;
    WeightArray weights;
    std::string layer;  // for errors: "Convolution 'name' (.param line N)"
  };
  std::vector<PendingWeights> pending;  // conv weights located, decoded by decode_pending

  Result<int> lookup(const std::string& name) {
    auto it = blobs.find(name);
    if (it == blobs.end()) return Status::error("input blob '" + name + "' is not produced by an earlier layer");
    return it->second;
  }
  Status define(const std::string& name, int value) {
    if (!blobs.emplace(name, value).second) return Status::error("blob '" + name + "' is produced twice");
    return {};
  }
};

Status expect_io(const LayerSpec& s, std::size_t bottoms, std::size_t tops) {
  if (s.bottoms.size() != bottoms || s.tops.size() != tops)
    return Status::error(s.type + " needs " + std::to_string(bottoms) + " input(s) and " + std::to_string(tops) +
                         " output(s)");
  return {};
}

// `weights`: where the conv's weights lie (decoded later).
Status add_conv(const LayerSpec& s, int input_channels, WeightReader& w, ir::Node& node, WeightArray* weights) {
  ir::ConvParams& c = node.conv;
  RESR_ASSIGN_OR_RETURN(c.out_channels, positive_int(s, 0, 0, 1 << 16, "num_output"));
  RESR_ASSIGN_OR_RETURN(c.kernel_w, positive_int(s, 1, 0, 15, "kernel size"));
  RESR_ASSIGN_OR_RETURN(c.kernel_h, positive_int(s, 11, c.kernel_w, 15, "kernel height"));
  RESR_ASSIGN_OR_RETURN(c.dilation, positive_int(s, 2, 1, 8, "dilation"));
  RESR_ASSIGN_OR_RETURN(c.stride, positive_int(s, 3, 1, 8, "stride"));
  const float pad = s.get_or(4, 0);
  if (pad != std::floor(pad) || pad < 0 || pad > 16) return Status::error("unsupported padding " + std::to_string(pad));
  c.pad = static_cast<int>(pad);
  for (int id : {12, 13}) {
    if (s.get(id) && *s.get(id) != s.get_or(id - 10, 1)) return Status::error("non-square dilation/stride");
  }
  for (int id : {14, 15, 16}) {
    if (s.get(id) && *s.get(id) != pad) return Status::error("asymmetric padding is not supported");
  }
  if (s.get_or(8, 0) != 0) return Status::error("int8 convolutions are not supported");
  if (s.get_or(19, 0) != 0) return Status::error("dynamic weights are not supported");
  const float wsize = s.get_or(6, 0);
  const std::size_t per_in = std::size_t(c.out_channels) * c.kernel_h * c.kernel_w;
  if (wsize <= 0 || wsize != std::floor(wsize) || wsize > float(kMaxWeights) || std::size_t(wsize) % per_in != 0)
    return Status::error("weight_data_size " + std::to_string(static_cast<long long>(wsize)) +
                         " is not a multiple of num_output x kernel area");
  c.in_channels = static_cast<int>(std::size_t(wsize) / per_in);
  if (c.in_channels != input_channels)  // checked before reading, so the message names the real problem
    return Status::error("weights expect " + std::to_string(c.in_channels) + " input channels, input '" + s.bottoms[0] +
                         "' has " + std::to_string(input_channels));
  switch (static_cast<int>(s.get_or(9, 0))) {
    case 0:
      break;
    case 1:
      c.activation = ir::Activation::kRelu;
      break;
    case 2: {
      c.activation = ir::Activation::kLeakyRelu;
      const auto* a = s.array(10);
      c.activation_slope = (a != nullptr && !a->empty()) ? (*a)[0] : 0.0f;
      break;
    }
    default:
      return Status::error("unsupported fused activation type " + std::to_string(static_cast<int>(s.get_or(9, 0))));
  }
  auto located = w.tagged(std::size_t(wsize));
  if (!located) return located.status().with_context("weights");
  *weights = *located;
  if (s.get_or(5, 0) != 0) {
    auto bias = w.raw(std::size_t(c.out_channels));
    if (!bias) return bias.status().with_context("bias");
    node.bias = std::move(*bias);
  }
  return {};
}

std::string layer_label(const LayerSpec& s) {
  return "line " + std::to_string(s.line) + ": " + s.type + " '" + s.name + "'";
}

// A layer named in an error about its weights, which is the .bin's: "Convolution 'name' (.param line N)", so that
// "x.bin: line 5: ..." does not point at a line of a binary file.
std::string weights_label(const LayerSpec& s) {
  return s.type + " '" + s.name + "' (.param line " + std::to_string(s.line) + ")";
}

// Whether an error is about the weights (the .bin) rather than the layer's text (the .param).
bool is_weight_error(const Status& st) {
  const std::string& msg = st.message();
  return msg.find("weights") != std::string::npos || msg.find("bias") != std::string::npos ||
         msg.find("slopes") != std::string::npos;
}

Status add_layer(Builder& b, const LayerSpec& s, WeightReader& w) {
  ir::Node node;
  node.name = s.name;
  WeightArray conv_weights;
  bool has_weights = false;
  if (s.type == "Input") {
    RESR_RETURN_IF_ERROR(expect_io(s, 0, 1));
    const float c = s.get_or(2, 3);
    if (c != 3 && c != 0 && c != -1 && s.get(2)) return Status::error("input must have 3 channels");
    node.op = ir::Op::kInput;
    node.output = b.g.add_value(s.tops[0], 3);
    b.g.input = node.output;
  } else if (s.type == "Split") {
    if (s.bottoms.size() != 1 || s.tops.empty()) return Status::error("Split needs 1 input and 1+ outputs");
    RESR_ASSIGN_OR_RETURN(int v, b.lookup(s.bottoms[0]));
    for (const std::string& t : s.tops) RESR_RETURN_IF_ERROR(b.define(t, v));
    return {};  // Split is a fan-out of the same value, not an op
  } else {
    for (const std::string& bottom : s.bottoms) {
      RESR_ASSIGN_OR_RETURN(int v, b.lookup(bottom));
      node.inputs.push_back(v);
    }
    auto in_c = [&](std::size_t i) { return b.g.values[node.inputs[i]].channels; };
    int out_channels = 0;
    if (s.type == "Convolution") {
      node.op = ir::Op::kConv2d;
      RESR_RETURN_IF_ERROR(expect_io(s, 1, 1));
      RESR_RETURN_IF_ERROR(add_conv(s, in_c(0), w, node, &conv_weights));
      has_weights = true;
      out_channels = node.conv.out_channels;
    } else if (s.type == "PReLU") {
      RESR_RETURN_IF_ERROR(expect_io(s, 1, 1));
      node.op = ir::Op::kPRelu;
      RESR_ASSIGN_OR_RETURN(int n, positive_int(s, 0, 1, 1 << 16, "num_slope"));
      if (n != 1 && n != in_c(0))
        return Status::error(std::to_string(n) + " slopes for " + std::to_string(in_c(0)) + " channels");
      auto slopes = w.raw(std::size_t(n));
      if (!slopes) return slopes.status().with_context("slopes");
      node.slopes = std::move(*slopes);
      out_channels = in_c(0);
    } else if (s.type == "Concat") {
      if (s.bottoms.empty() || s.tops.size() != 1) return Status::error("Concat needs inputs and 1 output");
      if (s.get_or(0, 0) != 0) return Status::error("only channel concatenation (axis 0) is supported");
      node.op = ir::Op::kConcat;
      for (std::size_t i = 0; i < node.inputs.size(); ++i) out_channels += in_c(i);
    } else if (s.type == "Eltwise") {
      if (s.bottoms.size() < 2 || s.tops.size() != 1) return Status::error("Eltwise needs 2+ inputs and 1 output");
      // ncnn's default operation (no 0=) is PROD, which writers then leave out.
      if (s.get_or(0, 0) != 1) return Status::error("only Eltwise SUM (0=1) is supported");
      node.op = ir::Op::kWeightedSum;
      const auto* coeffs = s.array(1);
      if (coeffs != nullptr && !coeffs->empty()) {
        if (coeffs->size() != s.bottoms.size()) return Status::error("Eltwise coefficient count != input count");
        node.coeffs = *coeffs;
      } else {
        node.coeffs.assign(s.bottoms.size(), 1.0f);
      }
      out_channels = in_c(0);
    } else if (s.type == "BinaryOp") {
      RESR_RETURN_IF_ERROR(expect_io(s, 2, 1));
      if (s.get_or(0, 0) != 0 || s.get_or(1, 0) != 0)
        return Status::error("only BinaryOp add of two blobs is supported");
      node.op = ir::Op::kWeightedSum;
      node.coeffs = {1.0f, 1.0f};
      out_channels = in_c(0);
    } else if (s.type == "Interp") {
      RESR_RETURN_IF_ERROR(expect_io(s, 1, 1));
      if (s.get_or(0, 0) != 1) return Status::error("only nearest-neighbour Interp (0=1) is supported");
      const float hs = s.get_or(1, 1), ws = s.get_or(2, 1);
      if (hs != ws || hs != std::floor(hs) || hs < 1 || hs > 16 || s.get_or(3, 0) != 0 || s.get_or(4, 0) != 0)
        return Status::error("only equal integer Interp scales are supported");
      node.op = ir::Op::kUpsampleNearest;
      node.factor = static_cast<int>(hs);
      out_channels = in_c(0);
    } else if (s.type == "PixelShuffle") {
      RESR_RETURN_IF_ERROR(expect_io(s, 1, 1));
      if (s.get_or(1, 0) != 0) return Status::error("only PixelShuffle mode 0 is supported");
      node.op = ir::Op::kPixelShuffle;
      RESR_ASSIGN_OR_RETURN(node.factor, positive_int(s, 0, 1, 16, "upscale factor"));
      const int rr = node.factor * node.factor;
      if (in_c(0) % rr != 0)
        return Status::error(std::to_string(in_c(0)) + " channels cannot be shuffled by " +
                             std::to_string(node.factor));
      out_channels = in_c(0) / rr;
    } else if (s.type == "Reorg") {  // space-to-depth; mode 0 is PyTorch's pixel_unshuffle channel order
      RESR_RETURN_IF_ERROR(expect_io(s, 1, 1));
      if (s.get_or(1, 0) != 0) return Status::error("only Reorg mode 0 (pixel_unshuffle order) is supported");
      node.op = ir::Op::kPixelUnshuffle;
      RESR_ASSIGN_OR_RETURN(node.factor, positive_int(s, 0, 1, 16, "stride"));
      out_channels = in_c(0) * node.factor * node.factor;
    } else {
      return Status::error("unknown layer type '" + s.type + "'");
    }
    node.output = b.g.add_value(s.tops[0], out_channels);
  }
  for (int v : node.inputs) ++b.consumed[v];
  b.consumed.resize(b.g.values.size(), 0);
  b.g.values[node.output].producer = static_cast<int>(b.g.nodes.size());
  RESR_RETURN_IF_ERROR(b.define(s.tops[0], node.output));
  if (has_weights) b.pending.push_back({b.g.nodes.size(), conv_weights, weights_label(s)});
  b.g.nodes.push_back(std::move(node));
  return {};
}

// The located conv weights decoded into their nodes, on every core; the first failure in file order is the error.
Status decode_pending(Builder& b) {
  std::vector<WeightArray> arrays;
  std::vector<std::vector<float>*> outs;
  for (const Builder::PendingWeights& p : b.pending) {
    arrays.push_back(p.weights);
    outs.push_back(&b.g.nodes[p.node].weights);
  }
  std::size_t failed = 0;
  const Status st = decode_weight_arrays(arrays, outs, /*finite_only=*/true, &failed);
  if (!st.ok()) return st.with_context("weights").with_context(b.pending[failed].layer);
  return {};
}

}  // namespace

Result<ir::Graph> parse_ncnn_model(std::string_view param_text, std::span<const std::uint8_t> bin) {
  RESR_ASSIGN_OR_RETURN(std::vector<LayerSpec> layers, parse_param_text(param_text));
  Builder b;
  WeightReader weights(bin);
  for (const LayerSpec& s : layers) {
    b.consumed.resize(b.g.values.size() + 1, 0);
    Status st = add_layer(b, s, weights);
    if (!st.ok()) return st.with_context(is_weight_error(st) ? weights_label(s) : layer_label(s));
  }
  if (weights.remaining() != 0)
    return Status::error("weights: file too long: " + std::to_string(weights.remaining()) +
                         " bytes left after the last layer (weights of another model?)");
  RESR_RETURN_IF_ERROR(decode_pending(b));
  if (b.g.input < 0) return Status::error("no Input layer");
  // The output is the one value nobody consumes (ncnn names it "output" by convention).
  std::vector<int> unused;
  for (int v = 0; v < static_cast<int>(b.g.values.size()); ++v)
    if (b.consumed[v] == 0) unused.push_back(v);
  if (unused.size() == 1) {
    b.g.output = unused[0];
  } else if (auto it = b.blobs.find("output"); it != b.blobs.end()) {
    b.g.output = it->second;
  } else {
    return Status::error("cannot tell the output: " + std::to_string(unused.size()) + " blobs are never consumed");
  }
  RESR_RETURN_IF_ERROR(ir::verify(b.g));
  return std::move(b.g);
}

Result<ir::Graph> read_ncnn_model(const std::string& param_path, const std::string& bin_path) {
  auto param = read_file_bytes(param_path, std::uint64_t{64} << 20);
  if (!param) return param.status().with_context(param_path);
  std::string_view text(reinterpret_cast<const char*>(param->data()), param->size());
  // The .param's own mistakes first: a text file that is no .param was named by its missing .bin.
  if (auto layers = parse_param_text(text); !layers) return layers.status().with_context(param_path);
  MappedFile bin;
  RESR_RETURN_IF_ERROR(bin.open(bin_path).with_context(bin_path));
  auto graph = parse_ncnn_model(text, bin.bytes());
  if (!graph) return graph.status().with_context(is_weight_error(graph.status()) ? bin_path : param_path);
  return graph;
}

}  // namespace resr::formats
