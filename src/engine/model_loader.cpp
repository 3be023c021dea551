#include "engine/model_loader.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <new>
#include <optional>
#include <span>
#include <string_view>

#include "core/file_names.h"
#include "formats/ncnn_reader.h"
#include "formats/onnx_reader.h"
#include "formats/pth_reader.h"
#include "formats/resr_file.h"
#include "formats/safetensors_reader.h"
#include "models/blend.h"
#include "models/detect.h"

#ifndef RESR_DEFAULT_MODEL_DIR
#define RESR_DEFAULT_MODEL_DIR "models"
#endif

namespace resr::engine {
namespace fs = std::filesystem;

namespace {

struct ModelDirSetting {
  std::string path;
  bool from_env = false;  // RESR_MODELS set and not empty
};

ModelDirSetting model_dir_setting() {
  const char* env = std::getenv("RESR_MODELS");
  if (env != nullptr && *env != '\0') return {env, true};
  return {RESR_DEFAULT_MODEL_DIR, false};
}

}  // namespace

std::string default_model_dir() {
  return model_dir_setting().path;
}

namespace {

// Source formats first, so adding a compiled NAME.resr beside NAME.param does not change what -n NAME loads.
constexpr const char* kExtensions[] = {".param", ".pth", ".safetensors", ".onnx", ".resr"};

Result<fs::path> resolve_model(const ModelSource& src) {
  std::error_code ec;
  if (!src.path.empty() && !fs::is_directory(src.path, ec)) {
    if (!src.name.empty())
      return Status::error(src.path + (fs::exists(src.path, ec) ? ": -n needs -m to be a folder, not a file"
                                                                : ": model folder not found"));
    if (!fs::exists(src.path, ec)) return Status::error(src.path + ": model file not found");
    return fs::path(src.path);
  }
  if (src.name.empty())
    return Status::error(src.path.empty() ? "no model given: use -n NAME or -m FILE"
                                          : "-m " + src.path + " is a folder: name a model in it with -n NAME");
  const ModelDirSetting setting = model_dir_setting();
  const bool from_env = src.path.empty() && setting.from_env;
  const fs::path dir = src.path.empty() ? fs::path(setting.path) : fs::path(src.path);
  if (!fs::is_directory(dir, ec))
    return Status::error("model '" + src.name + "': the model folder " + dir.string() +
                         (from_env ? " (RESR_MODELS)" : "") +
                         (fs::exists(dir, ec) ? " is not a folder" : " does not exist"));
  for (const std::string& stem : {src.name, "realesrgan-" + src.name})
    for (const char* ext : kExtensions) {
      const fs::path candidate = dir / (stem + ext);
      if (fs::exists(candidate, ec)) return candidate;
    }
  // A name with a folder or a model extension was meant as a file (eval --models takes either).
  const std::string ext = lower_extension(src.name);
  if (src.name.find('/') != std::string::npos ||
      std::any_of(std::begin(kExtensions), std::end(kExtensions), [&](const char* e) { return ext == e; })) {
    // It said "not found" of a file that is there.
    if (fs::is_regular_file(src.name, ec) || fs::is_regular_file(dir / src.name, ec))
      return Status::error(src.name +
                           ": a file, where a model's name is wanted: give a model file with -m "
                           "(model_path), or the name without its extension");
    return Status::error(src.name + ": model file not found (nor a model of that name in " + dir.string() + ")");
  }
  return Status::error(
      "model '" + src.name + "' not found in " + dir.string() + " (looked for " + src.name + " and realesrgan-" +
      src.name + " with .param/.pth/.safetensors/.onnx/.resr; set RESR_MODELS, or name the file: -m, model_path)");
}

Result<ir::Graph> from_weights(const formats::WeightMap& w, const std::string& path, std::string* detected,
                               const models::DetectOptions& detect, bool* activation_open) {
  auto m = models::build_from_weights(w, detect);
  if (!m) return m.status().with_context(path);
  if (detected != nullptr) *detected = m->description;
  if (activation_open != nullptr) *activation_open = m->srvgg && !m->srvgg->act_known;
  return std::move(m->graph);
}

// Blending INT8 or FP16 weights would leave them off their scales / off the binary16 grid.
bool all_fp32(const ir::Graph& g) {
  for (const ir::Node& n : g.nodes)
    if (n.op == ir::Op::kConv2d && n.quant.precision != ir::Precision::kFp32) return false;
  return true;
}

std::uint64_t size_of(const fs::path& p) {
  std::error_code ec;
  const auto n = fs::file_size(p, ec);
  return ec ? 0 : std::uint64_t(n);
}

// The format the first bytes show for sure ("resr", "pth", "ncnn", "safetensors"), or an image's name ("a PNG
// image"), or "" when they show none (ONNX has no magic).
std::string format_by_content(std::span<const std::uint8_t> head) {
  auto starts = [&](std::string_view magic) {
    return head.size() >= magic.size() && std::memcmp(head.data(), magic.data(), magic.size()) == 0;
  };
  if (formats::has_resr_magic(head)) return "resr";
  if (formats::looks_like_pth(head)) return "pth";
  if (starts("7767517")) return "ncnn";
  if (head.size() >= 9 && head[8] == '{' && head[6] == 0 && head[7] == 0) return "safetensors";
  if (starts("\x89PNG")) return "a PNG image";
  if (starts("\xff\xd8\xff")) return "a JPEG image";
  if (starts("RIFF") && head.size() >= 12 &&
      std::string_view(reinterpret_cast<const char*>(head.data()) + 8, 4) == "WEBP")
    return "a WebP image";
  if (starts(std::string_view("II*\0", 4)) || starts(std::string_view("MM\0*", 4))) return "a TIFF image";
  if (starts("GIF8")) return "a GIF image";
  return "";
}

}  // namespace

Result<std::string> detect_model_format(const std::string& path) {
  const std::string ext = lower_extension(path);
  std::string by_name;
  if (ext == ".param") by_name = "ncnn";
  if (ext == ".pth" || ext == ".pt") by_name = "pth";
  if (ext == ".safetensors") by_name = "safetensors";
  if (ext == ".onnx") by_name = "onnx";
  if (ext == ".resr") by_name = "resr";
  // A FIFO's open would wait for a writer, through Ctrl-C; a model is read twice (here, then by its reader), which
  // a pipe or device cannot give.
  std::error_code ec;
  if (fs::is_directory(path, ec)) return Status::error(path + ": is a folder, not a model file");
  if (fs::exists(path, ec) && !fs::is_regular_file(path, ec))
    return Status::error(path + ": not a regular file (a pipe or device), not a model file");
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    const int err = errno;
    if (!by_name.empty()) return by_name;  // the reader names the problem
    return Status::error(path + ": cannot open: " + std::strerror(err));
  }
  std::uint8_t head[16] = {};
  f.read(reinterpret_cast<char*>(head), sizeof head);
  const std::size_t n = static_cast<std::size_t>(f.gcount());
  if (n == 0) return Status::error(path + ": empty file (0 bytes), not a model");
  // The bytes win over the name: a .pth saved as .safetensors is read as what it is, and an image is named as one
  // (each was a reader's complaint such as "not a zip archive ... truncated?").
  const std::string by_content = format_by_content({head, n});
  if (by_content.find(' ') != std::string::npos) return Status::error(path + ": " + by_content + ", not a model file");
  if (!by_content.empty()) return by_content;
  if (!by_name.empty()) return by_name;
  if (n >= 2 && (head[0] == 0x08 || head[0] == 0x0a || head[0] == 0x12 || head[0] == 0x1a || head[0] == 0x3a ||
                 head[0] == 0x42))  // a protobuf field tag of ModelProto
    return std::string("onnx");
  return Status::error(path + ": unknown model file type (expected .param, .pth, .safetensors, .onnx or .resr)");
}

namespace {

// A weight that is not finite makes every pixel NaN, written as black with exit 0: a corrupt or diverged model.
Status check_finite(const ir::Graph& g, const std::string& path) {
  for (const ir::Node& n : g.nodes) {
    const auto bad = [](float v) { return !std::isfinite(v); };
    // The slope of a LeakyReLU fused into the conv (ONNX's alpha) too.
    float first_bad = bad(n.conv.activation_slope) ? n.conv.activation_slope : 0.0f;
    for (const std::vector<float>* values : {&n.weights, &n.bias, &n.slopes, &n.coeffs})
      if (auto it = std::find_if(values->begin(), values->end(), bad); it != values->end()) first_bad = *it;
    if (bad(first_bad))
      return Status::error(path + ": layer '" + n.name + "' holds a" + (std::isnan(first_bad) ? " NaN" : "n infinite") +
                           " weight (a corrupt or diverged model)");
  }
  return ok_status();
}

Result<ir::Graph> read_graph(const std::string& path, std::string* detected, const models::DetectOptions& detect,
                             bool* activation_open) {
  RESR_ASSIGN_OR_RETURN(std::string format, detect_model_format(path));
  if (format == "ncnn") {
    fs::path bin = path;
    bin.replace_extension(".bin");
    return formats::read_ncnn_model(path, bin.string());
  }
  if (format == "pth") {
    RESR_ASSIGN_OR_RETURN(formats::WeightMap w, formats::read_pth(path));
    return from_weights(w, path, detected, detect, activation_open);
  }
  if (format == "resr") {
    RESR_ASSIGN_OR_RETURN(formats::ResrModel m, formats::read_resr_file(path));
    return std::move(m.graph);
  }
  if (format == "safetensors") {
    RESR_ASSIGN_OR_RETURN(formats::SafetensorsFile f, formats::read_safetensors(path));
    return from_weights(f.weights, path, detected, detect, activation_open);
  }
  return formats::read_onnx_model(path);
}

}  // namespace

Result<ir::Graph> read_model_graph(const std::string& path, std::string* detected, const models::DetectOptions& detect,
                                   bool* activation_open) {
  // A model file whose readers' limits still leave more than the machine holds is named, where the CLI's last
  // resort said only "out of memory (try a smaller image or tile size)".
  try {
    RESR_ASSIGN_OR_RETURN(ir::Graph g, read_graph(path, detected, detect, activation_open));
    RESR_RETURN_IF_ERROR(check_finite(g, path));
    return g;
  } catch (const std::bad_alloc&) {
    return Status::out_of_memory(path + ": out of memory reading the model");
  }
}

Result<LoadedModel> load_model(const ModelSource& source) {
  RESR_ASSIGN_OR_RETURN(fs::path file, resolve_model(source));
  LoadedModel m;
  m.name = file.stem().string();
  m.param_path = file.string();
  RESR_ASSIGN_OR_RETURN(m.format, detect_model_format(m.param_path));
  fs::path weights = file;
  if (m.format == "ncnn") weights.replace_extension(".bin");
  m.weights_path = weights.string();
  models::DetectOptions detect;
  detect.srvgg_act = source.srvgg_act;
  bool activation_open = false;
  RESR_ASSIGN_OR_RETURN(ir::Graph g, read_model_graph(m.param_path, &m.detected, detect, &activation_open));
  // Told but with nothing to decide: said, where it was taken and ignored.
  if (source.srvgg_act && !activation_open)
    return Status::error(m.param_path +
                         ": --act (activation) applies to SRVGGNetCompact weights without PReLU slopes; this "
                         "model's activation is in the file");
  m.activation_assumed = activation_open && !source.srvgg_act;
  m.file_bytes = size_of(file) + (weights != file ? size_of(weights) : 0);

  // Without -dn, resr upscale blends realesr-general-x4v3 at 0.5 when its -wdn twin (or --dn-model) is there, as
  // Real-ESRGAN does by default (not where the pair cannot be blended); --dn-model with another model needs -dn.
  std::optional<float> strength = source.denoise_strength;
  bool defaulted = false;
  // Not a .resr: convert wrote it blended already (by default), and a twin beside it would blend it again.
  if (!strength && source.real_esrgan_dn_default && m.name == "realesr-general-x4v3" && m.format != "resr") {
    std::error_code ec;
    const fs::path twin = file.parent_path() / ("realesr-general-wdn-x4v3" + file.extension().string());
    defaulted = !source.dn_model.empty() || fs::exists(twin, ec);
    if (defaulted) strength = 0.5f;
  }
  if (!strength && !source.dn_model.empty())
    return Status::error(m.param_path +
                         ": --dn-model (dn_model) needs -dn (denoise_strength), the weight of this model in the blend");
  const float dn = strength.value_or(1.0f);
  if (!(dn >= 0.0f && dn <= 1.0f)) return Status::error("-dn (denoise_strength) must be in [0, 1]");
  if (!source.dn_model.empty() || (strength && dn != 1.0f)) {
    fs::path other = source.dn_model;
    if (other.empty()) {
      if (m.name != "realesr-general-x4v3")
        return Status::error(
            m.param_path +
            ": -dn (denoise_strength) needs --dn-model (dn_model), the model to blend with, unless the model is "
            "realesr-general-x4v3, whose realesr-general-wdn-x4v3 twin is used");
      other = file.parent_path() / ("realesr-general-wdn-x4v3" + file.extension().string());
      std::error_code ec;
      if (!fs::exists(other, ec))
        return Status::error(other.string() +
                             ": not found (-dn, denoise_strength, blends realesr-general-x4v3 with this model)");
    }
    if (dn != 1.0f) {
      RESR_ASSIGN_OR_RETURN(ir::Graph b, read_model_graph(other.string(), nullptr, detect));
      const bool fp32 = all_fp32(g) && all_fp32(b);
      if (!fp32 && !defaulted)
        return Status::error(m.param_path + ": -dn blends FP32 weights; blend before converting to fp16/int8");
      if (fp32) {  // a compiled pair under the default is used as it is, as without the twin
        auto blended = models::blend_graphs(g, b, dn);
        if (!blended) return blended.status().with_context(m.param_path + " and " + other.string());
        g = std::move(*blended);
        m.dn_path = other.string();
        m.dn_strength = dn;
      }
    }
  }
  auto summary = models::summarize(g);
  if (!summary) return summary.status().with_context(m.param_path);
  m.summary = *summary;
  m.graph = std::make_shared<const ir::Graph>(std::move(g));
  return m;
}

}  // namespace resr::engine
