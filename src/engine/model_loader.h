// Finding and loading a model the way the CLI names it.
//
//   -n NAME            NAME.param/.bin (or realesrgan-NAME.param/.bin) in the model folder:
//                      $RESR_MODELS if set, else the models/ folder of the source tree resr was built from
//   -m DIR -n NAME     the same inside DIR
//   -m FILE.param      that file and FILE.bin beside it
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "ir/graph.h"
#include "models/summary.h"

namespace resr::engine {

struct ModelSource {
  std::string path;  // -m: a .param file or a folder; may be empty
  std::string name;  // -n: a model name; may be empty
};

struct LoadedModel {
  std::string name;        // file stem, e.g. "realesrgan-x4plus"
  std::string param_path;  // files it came from
  std::string weights_path;
  std::uint64_t file_bytes = 0;
  std::shared_ptr<const ir::Graph> graph;
  models::ModelSummary summary;
};

std::string default_model_dir();
[[nodiscard]] Result<LoadedModel> load_model(const ModelSource& source);

}  // namespace resr::engine
