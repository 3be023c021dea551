// Internal to src/api: the engine's model source for the public options' model fields, which UpscalerOptions,
// CalibrationOptions and ConvertOptions share (model, model_path, model_dir, activation, denoise_strength,
// dn_model).
#pragma once

#include <cstdio>
#include <filesystem>
#include <string>

#include "engine/model_loader.h"

namespace resr::api_detail {

// model_path, or else the name `model` in model_dir (empty: the default folder); both is an error, as -n with -m FILE
// is for the CLI (which of them the caller meant is not known). The model is
// the one resr upscale runs: realesr-general-x4v3 blended with its -wdn twin as denoise_strength says (-1: as
// resr upscale, 0.5 when the twin is there). Errors: activation or denoise_strength out of range, by name; no
// model, or model_path / model_dir of the wrong kind.
template <class Options>
Result<engine::ModelSource> model_source(const Options& o) {
  if (!o.activation.empty() && o.activation != "relu" && o.activation != "leakyrelu")
    return Status::error("activation must be 'relu' or 'leakyrelu' (or empty), got '" + o.activation + "'");
  if (o.denoise_strength != -1 && !(o.denoise_strength >= 0 && o.denoise_strength <= 1)) {
    char value[32];
    std::snprintf(value, sizeof value, "%.9g", o.denoise_strength);
    return Status::error(std::string("denoise_strength must be in [0, 1] (or -1: as resr upscale), got ") + value);
  }
  // The loader's own messages name the CLI's -n and -m: the library's cases are told by their options' names.
  std::error_code ec;
  if (!o.model_path.empty() && std::filesystem::is_directory(o.model_path, ec))
    return Status::error("model_path " + o.model_path + " is a folder, not a model file (a folder goes in model_dir)");
  if (!o.model_path.empty() && !o.model.empty())
    return Status::error("model '" + o.model + "' and model_path " + o.model_path + ": set one of them");
  if (o.model_path.empty()) {
    if (o.model.empty()) return Status::error("no model given: set model (a name in model_dir) or model_path");
    if (!o.model_dir.empty() && !std::filesystem::is_directory(o.model_dir, ec))
      return Status::error("model_dir " + o.model_dir +
                           (std::filesystem::exists(o.model_dir, ec)
                                ? " is a file, not a folder (a file goes in model_path)"
                                : ": folder not found"));
  }
  engine::ModelSource source;
  source.path = o.model_path.empty() ? o.model_dir : o.model_path;
  source.name = o.model_path.empty() ? o.model : "";
  if (!o.activation.empty())
    source.srvgg_act =
        o.activation == "leakyrelu" ? models::SrvggConfig::Act::kLeakyRelu : models::SrvggConfig::Act::kRelu;
  source.real_esrgan_dn_default = true;
  if (o.denoise_strength != -1) source.denoise_strength = static_cast<float>(o.denoise_strength);
  source.dn_model = o.dn_model;
  return source;
}

}  // namespace resr::api_detail
