// The model options shared by every subcommand that loads a model: -n NAME, -m PATH, --backend.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "engine/model_loader.h"

namespace resr::cli {

struct ModelOptions {
  engine::ModelSource source;
  std::string backend = "cpu";

  void add_to(CLI::App& cmd) {
    cmd.add_option("-n,--name", source.name, "model name in the model folder ($RESR_MODELS or models/)");
    cmd.add_option("-m,--model", source.path, "model .param file, or a folder to look up -n in");
    cmd.add_option("--backend", backend, "cpu (default) or ref (naive reference kernels)")
        ->check(CLI::IsMember({"cpu", "ref", "auto"}));
  }
};

}  // namespace resr::cli
