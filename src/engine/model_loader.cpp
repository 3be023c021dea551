#include "engine/model_loader.h"

#include <cstdlib>
#include <filesystem>

#include "formats/ncnn_reader.h"

#ifndef RESR_DEFAULT_MODEL_DIR
#define RESR_DEFAULT_MODEL_DIR "models"
#endif

namespace resr::engine {
namespace fs = std::filesystem;

std::string default_model_dir() {
  const char* env = std::getenv("RESR_MODELS");
  return (env != nullptr && *env != '\0') ? std::string(env) : std::string(RESR_DEFAULT_MODEL_DIR);
}

namespace {

Result<fs::path> resolve_param(const ModelSource& src) {
  std::error_code ec;
  if (!src.path.empty() && !fs::is_directory(src.path, ec)) {
    if (!src.name.empty()) return Status::error(src.path + ": -n needs -m to be a folder, not a file");
    if (!fs::exists(src.path, ec)) return Status::error(src.path + ": model file not found");
    return fs::path(src.path);
  }
  if (src.name.empty()) return Status::error("no model given: use -n NAME or -m FILE.param");
  const fs::path dir = src.path.empty() ? fs::path(default_model_dir()) : fs::path(src.path);
  for (const std::string& stem : {src.name, "realesrgan-" + src.name}) {
    const fs::path candidate = dir / (stem + ".param");
    if (fs::exists(candidate, ec)) return candidate;
  }
  return Status::error("model '" + src.name + "' not found in " + dir.string() + " (looked for " + src.name +
                       ".param; set RESR_MODELS or use -m)");
}

}  // namespace

Result<LoadedModel> load_model(const ModelSource& source) {
  RESR_ASSIGN_OR_RETURN(fs::path param, resolve_param(source));
  if (param.extension() != ".param")
    return Status::error(param.string() + ": unsupported model file type (expected an ncnn .param file)");
  fs::path bin = param;
  bin.replace_extension(".bin");
  LoadedModel m;
  m.name = param.stem().string();
  m.param_path = param.string();
  m.weights_path = bin.string();
  RESR_ASSIGN_OR_RETURN(ir::Graph g, formats::read_ncnn_model(m.param_path, m.weights_path));
  auto summary = models::summarize(g);
  if (!summary) return summary.status().with_context(m.param_path);
  m.summary = *summary;
  std::error_code ec;
  m.file_bytes = fs::file_size(param, ec) + fs::file_size(bin, ec);
  m.graph = std::make_shared<const ir::Graph>(std::move(g));
  return m;
}

}  // namespace resr::engine
