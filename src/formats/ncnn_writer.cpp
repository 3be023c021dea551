#include "formats/ncnn_writer.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <string>

#include "core/half.h"
#include "core/staged_file.h"
#include "formats/weight_map.h"

namespace resr::formats {
namespace {

void put_u32(std::vector<std::uint8_t>& b, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(std::uint8_t(v >> (8 * i)));
}
void put_floats(std::vector<std::uint8_t>& b, const std::vector<float>& v) {
  const std::size_t at = b.size();
  b.resize(at + v.size() * 4);
  if (!v.empty()) std::memcpy(b.data() + at, v.data(), v.size() * 4);
}

std::string layer_name(const ir::Node& n, std::size_t index) {
  std::string s = n.name.empty() ? std::string(ir::op_name(n.op)) + "_" + std::to_string(index) : n.name;
  for (char& c : s)
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') c = '_';
  return s;
}

std::string number(float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9e", double(v));
  return buf;
}

}  // namespace

NcnnFiles serialize_ncnn_model(const ir::Graph& g, bool fp16) {
  const std::vector<int> uses = g.use_counts();
  // Blob names: the value id; a value used k > 1 times gets a Split with k outputs, handed out in order.
  auto blob = [&](int v) -> std::string {
    if (v == g.input) return "data";
    if (v == g.output) return "output";
    std::string name = "v";  // (not "v" + to_string: GCC 12 reports a false -Wrestrict there)
    name += std::to_string(v);
    return name;
  };
  std::vector<int> next_split(g.values.size(), 0);
  auto read_blob = [&](int v) {
    if (uses[std::size_t(v)] <= 1) return blob(v);
    return blob(v) + "_s" + std::to_string(next_split[std::size_t(v)]++);
  };
  std::ostringstream body;
  int layers = 0, blobs = 0;
  NcnnFiles out;
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& n = g.nodes[i];
    std::vector<std::string> ins;
    for (int v : n.inputs) ins.push_back(read_blob(v));
    const std::string name = layer_name(n, i);
    std::string type, params;
    switch (n.op) {
      case ir::Op::kInput:
        type = "Input";
        break;
      case ir::Op::kConv2d: {
        const ir::ConvParams& c = n.conv;
        type = "Convolution";
        params = "0=" + std::to_string(c.out_channels) + " 1=" + std::to_string(c.kernel_w) +
                 " 11=" + std::to_string(c.kernel_h) + " 2=" + std::to_string(c.dilation) +
                 " 3=" + std::to_string(c.stride) + " 4=" + std::to_string(c.pad) +
                 " 5=" + std::string(n.bias.empty() ? "0" : "1") + " 6=" + std::to_string(n.weights.size());
        if (c.activation == ir::Activation::kRelu) params += " 9=1";
        if (c.activation == ir::Activation::kLeakyRelu) params += " 9=2 -23310=1," + number(c.activation_slope);
        if (fp16) {
          put_u32(out.bin, 0x01306B47u);
          for (float w : n.weights) {
            const std::uint16_t h = float_to_half(w);
            out.bin.push_back(std::uint8_t(h & 0xff));
            out.bin.push_back(std::uint8_t(h >> 8));
          }
          while (out.bin.size() % 4 != 0) out.bin.push_back(0);
        } else {
          put_u32(out.bin, 0);
          put_floats(out.bin, n.weights);
        }
        put_floats(out.bin, n.bias);
        break;
      }
      case ir::Op::kPRelu:
        type = "PReLU";
        params = "0=" + std::to_string(n.slopes.size());
        put_floats(out.bin, n.slopes);
        break;
      case ir::Op::kConcat:
        type = "Concat";
        params = "0=0";
        break;
      case ir::Op::kWeightedSum: {
        type = "Eltwise";
        params = "0=1 -23301=" + std::to_string(n.coeffs.size());
        for (float c : n.coeffs) params += "," + number(c);
        break;
      }
      case ir::Op::kUpsampleNearest:
        type = "Interp";
        params = "0=1 1=" + number(float(n.factor)) + " 2=" + number(float(n.factor));
        break;
      case ir::Op::kPixelShuffle:
        type = "PixelShuffle";
        params = "0=" + std::to_string(n.factor);
        break;
      case ir::Op::kPixelUnshuffle:
        type = "Reorg";
        params = "0=" + std::to_string(n.factor);
        break;
    }
    body << type << " " << name << " " << ins.size() << " 1";
    for (const std::string& s : ins) body << " " << s;
    body << " " << blob(n.output) << (params.empty() ? "" : " ") << params << "\n";
    ++layers;
    ++blobs;
    const int k = uses[std::size_t(n.output)] - (n.output == g.output ? 1 : 0);
    if (k > 1) {
      body << "Split split_" << n.output << " 1 " << k << " " << blob(n.output);
      for (int s = 0; s < k; ++s) body << " " << blob(n.output) << "_s" << s;
      body << "\n";
      ++layers;
      blobs += k;
    }
  }
  out.param = "7767517\n" + std::to_string(layers) + " " + std::to_string(blobs) + "\n" + body.str();
  return out;
}

Status write_ncnn_model(const ir::Graph& g, const std::string& param_path, const std::string& bin_path, bool fp16) {
  RESR_RETURN_IF_ERROR(ir::verify(g));
  // Two files, committed one after the other: into a device or pipe the second could fail after the first was
  // in place (a .bin beside no .param, or beside an older one), so both must be files.
  for (const std::string& path : {param_path, bin_path}) {
    std::error_code ec;
    if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec))
      return Status::error(path +
                           ": not a regular file (a device, pipe or folder): an ncnn model is written as "
                           "two files, a .param and a .bin");
  }
  const NcnnFiles f = serialize_ncnn_model(g, fp16);
  StagedFile bin(bin_path), param(param_path);
  RESR_RETURN_IF_ERROR(bin.write(f.bin).with_context(bin_path));
  RESR_RETURN_IF_ERROR(param.write(f.param).with_context(param_path));
  // The weights first: the .param names the model, so it is the file that must not appear before its .bin.
  RESR_RETURN_IF_ERROR(bin.commit().with_context(bin_path));
  return param.commit().with_context(param_path);
}

}  // namespace resr::formats
