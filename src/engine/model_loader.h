// Finding and loading a model the way the CLI names it, from any supported file format.
//
//   -n NAME            NAME.{param,pth,safetensors,onnx,resr} (or realesrgan-NAME.*) in the model folder:
//                      $RESR_MODELS if set, else the models/ folder of the source tree resr was built from
//   -m DIR -n NAME     the same inside DIR
//   -m FILE            that file: .param (+ .bin beside it), .pth / .pt, .safetensors, .onnx, .resr; an
//                      unknown extension is recognised by its first bytes (.resr magic, zip = .pth, JSON header =
//                      .safetensors, 7767517 = ncnn, else ONNX)
//
// Weight-only files (.pth, .safetensors) go through models::build_from_weights, which detects the
// architecture and scale from the tensor names and shapes; graph files (.param, .onnx) are mapped op by op;
// a compiled .resr holds the graph with its precisions (formats/resr_file.h).
// Denoise strength (realesr-general-x4v3): with denoise_strength < 1, the weights are blended with those of
// a second model of the same structure, w = dn * w_model + (1 - dn) * w_dn_model, as Real-ESRGAN's
// inference_realesrgan.py does; the second model is dn_model, or else "realesr-general-wdn-x4v3.<ext>"
// beside a model named realesr-general-x4v3.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "ir/graph.h"
#include "models/detect.h"
#include "models/summary.h"

namespace resr::engine {

struct ModelSource {
  ModelSource() = default;
  ModelSource(std::string p, std::string n) : path(std::move(p)), name(std::move(n)) {}  // {dir, name}

  std::string path;  // -m: a model file or a folder; may be empty
  std::string name;  // -n: a model name; may be empty
  // -dn, in [0, 1]; 1 = no blending. Unset: no blending, or with real_esrgan_dn_default (resr upscale, the library) 0.5
  // for realesr-general-x4v3 when its twin (or dn_model) is there and both are FP32, as Real-ESRGAN does (not a
  // .resr, which convert wrote blended).
  std::optional<float> denoise_strength;
  bool real_esrgan_dn_default = false;
  std::string dn_model;  // --dn-model: the model blended in with weight 1 - dn
  // --act: SRVGGNetCompact weights without PReLU slopes cannot tell ReLU from LeakyReLU; unset: ReLU, assumed.
  std::optional<models::SrvggConfig::Act> srvgg_act;
};

struct LoadedModel {
  std::string name;                 // file stem, e.g. "realesrgan-x4plus"
  std::string format;               // "ncnn", "pth", "safetensors", "onnx" or "resr"
  std::string param_path;           // the model file (.param for ncnn)
  std::string weights_path;         // the .bin for ncnn, else the model file
  std::string dn_path;              // the blended-in model, when denoise blending was applied
  float dn_strength = 1.0f;         // and the model's weight in the blend (dn; the twin's is 1 - dn)
  std::string detected;             // weight formats: what detection found ("RRDBNet (scale 2, num_block 23, ...)")
  bool activation_assumed = false;  // SRVGGNetCompact weights without PReLU slopes, no --act: ReLU assumed
  std::uint64_t file_bytes = 0;
  std::shared_ptr<const ir::Graph> graph;
  models::ModelSummary summary;

  // The files it was read from (model, weights, blended-in twin), which nothing may write over.
  std::vector<std::string> files() const {
    std::vector<std::string> f;
    for (const std::string& p : {param_path, weights_path, dn_path})
      if (!p.empty()) f.push_back(p);
    return f;
  }
};

std::string default_model_dir();

// "ncnn", "pth", "safetensors", "onnx", "resr": from the first bytes where they show the format for sure (a .pth
// renamed .safetensors is read as a .pth), else from the extension, else a protobuf's first byte (ONNX). Errors:
// an empty file, an image ("<path>: a PNG image, not a model file"), a file that is none of them.
[[nodiscard]] Result<std::string> detect_model_format(const std::string& path);

// Reads one model file into a graph (no lookup, no blending). `detected` receives the weight-format
// detection line when non-null. A NaN or infinite weight is an error naming the layer (every pixel would be NaN);
// running out of memory is one too ("<path>: out of memory reading the model", Status::out_of_memory).
// activation_open (optional): set when SRVGGNetCompact weights give no activation (ReLU unless `detect` tells).
[[nodiscard]] Result<ir::Graph> read_model_graph(const std::string& path, std::string* detected = nullptr,
                                                 const models::DetectOptions& detect = {},
                                                 bool* activation_open = nullptr);

[[nodiscard]] Result<LoadedModel> load_model(const ModelSource& source);

}  // namespace resr::engine
