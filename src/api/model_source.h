// Internal to src/api: the engine's model source for the public options' model / model_path / model_dir.
#pragma once

#include <string>

#include "engine/model_loader.h"

namespace resr::api_detail {

// model_path, when given, wins; otherwise the name `model` in model_dir (empty: the default folder). The model is
// the one resr upscale runs: realesr-general-x4v3 blended with its -wdn twin as the denoise strength says (-1: as
// resr upscale, 0.5 when the twin is there; the loader refuses other values outside [0, 1]).
inline engine::ModelSource model_source(const std::string& model, const std::string& model_path,
                                        const std::string& model_dir, double denoise_strength,
                                        const std::string& dn_model) {
  engine::ModelSource source;
  source.path = model_path.empty() ? model_dir : model_path;
  source.name = model_path.empty() ? model : "";
  source.real_esrgan_dn_default = true;
  if (denoise_strength != -1) source.denoise_strength = static_cast<float>(denoise_strength);
  source.dn_model = dn_model;
  return source;
}

}  // namespace resr::api_detail
