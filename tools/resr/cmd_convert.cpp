// resr convert: writes a loaded model (any input format) in another format. Targets are a table, so a new
// one (the compiled .resr of a later issue, with --precision) is one more entry.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "commands.h"
#include "formats/ncnn_reader.h"
#include "formats/ncnn_writer.h"
#include "model_options.h"

namespace resr::cli {
namespace {

struct ConvertOptions {
  ModelOptions model;
  std::string to = "ncnn";
  std::string output;
  std::string storage = "fp32";
};

// ncnn: OUT.param + OUT.bin; read back through the ncnn reader before anything is written.
int write_ncnn(const ConvertOptions& o, const engine::LoadedModel& m) {
  std::filesystem::path param = o.output;
  if (param.extension() != ".param") return fail(o.output + ": the ncnn output must be a .param file");
  std::filesystem::path bin = param;
  bin.replace_extension(".bin");
  const bool fp16 = o.storage == "fp16";
  const formats::NcnnFiles files = formats::serialize_ncnn_model(*m.graph, fp16);
  auto back = formats::parse_ncnn_model(files.param, files.bin);
  if (!back) return fail("internal error: the written ncnn model does not read back: " + back.status().message());
  Status st = formats::write_ncnn_model(*m.graph, param.string(), bin.string(), fp16);
  if (!st.ok()) return fail(st.message());
  std::printf("wrote %s and %s (%zu layers, %s weights, %zu bytes) from %s [%s]\n", param.string().c_str(),
              bin.string().c_str(), back->nodes.size(), o.storage.c_str(), files.bin.size(), m.param_path.c_str(),
              m.summary.architecture.c_str());
  return 0;
}

struct Target {
  const char* name;
  int (*write)(const ConvertOptions&, const engine::LoadedModel&);
};
constexpr Target kTargets[] = {{"ncnn", write_ncnn}};

int run_convert(const ConvertOptions& o) {
  auto model = engine::load_model(o.model.source);
  if (!model) return fail(model.status().message());
  for (const Target& t : kTargets)
    if (o.to == t.name) return t.write(o, *model);
  return fail("unknown --to target '" + o.to + "'");
}

}  // namespace

void add_convert_command(CLI::App& app, Action* action) {
  auto opts = std::make_shared<ConvertOptions>();
  CLI::App* cmd = app.add_subcommand("convert", "write a model in another format (ncnn .param/.bin)");
  opts->model.add_to(*cmd);
  std::vector<std::string> targets;
  for (const Target& t : kTargets) targets.emplace_back(t.name);
  cmd->add_option("--to", opts->to, "output format: ncnn")->check(CLI::IsMember(targets));
  cmd->add_option("-o,--output", opts->output, "output file (ncnn: OUT.param, OUT.bin written beside it)")->required();
  cmd->add_option("--storage", opts->storage, "ncnn convolution weight storage: fp32 (default, exact) or fp16")
      ->check(CLI::IsMember({"fp32", "fp16"}));
  cmd->callback([opts, action] { *action = [opts] { return run_convert(*opts); }; });
}

}  // namespace resr::cli
