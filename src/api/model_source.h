// Internal to src/api: the engine's model source for the public options' model / model_path / model_dir.
#pragma once

#include <string>

#include "engine/model_loader.h"

namespace resr::api_detail {

// model_path, when given, wins; otherwise the name `model` in model_dir (empty: the default folder).
inline engine::ModelSource model_source(const std::string& model, const std::string& model_path,
                                        const std::string& model_dir) {
  engine::ModelSource source;
  source.path = model_path.empty() ? model_dir : model_path;
  source.name = model_path.empty() ? model : "";
  return source;
}

}  // namespace resr::api_detail
