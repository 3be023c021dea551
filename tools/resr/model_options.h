// The model options shared by every subcommand that loads a model: -n NAME, -m PATH, --backend, and the
// denoise strength of realesr-general-x4v3 (-dn / --dn STRENGTH, --dn-model FILE; main() accepts the
// Real-ESRGAN spelling "-dn", which CLI11 cannot declare, as "--dn").
#pragma once

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "core/file_names.h"
#include "engine/backend_factory.h"
#include "engine/model_loader.h"
#include "number_checks.h"

namespace resr::cli {

struct ModelOptions {
  engine::ModelSource source;
  std::string backend = "auto";
  bool fp32 = false;  // --fp32 (add_precision_flags)
  bool bf16 = false;  // --bf16 (add_precision_flags; precision_notices.h says when it cannot take effect)

  // How upscaling runs the model: on the GPU in FP16 unless --fp32; on the CPU in fp32 unless --bf16.
  // The model as upscale runs it: without -dn, realesr-general-x4v3 blended with its twin at 0.5 as Real-ESRGAN's
  // inference script does. info, calibrate, convert and bench --contest take it too, so that a table and a .resr
  // are of the model upscale runs (-dn 1 for the file alone), as the library's Upscaler does; bench's timing takes the
  // file as it is.
  engine::ModelSource upscale_source() const {
    engine::ModelSource s = source;
    s.real_esrgan_dn_default = true;
    return s;
  }
  engine::BackendOptions backend_options() const {
    engine::BackendOptions o;
    o.fp32_as_fp16 = !fp32;
    o.cpu_bf16 = bf16;
    return o;
  }
  // --fp32 and --bf16, for the subcommands that run the model on images (upscale, bench).
  void add_precision_flags(CLI::App& cmd) {
    cmd.add_flag("--fp32", fp32,
                 "on the GPU, run FP32 models in FP32 (default: FP16, as Real-ESRGAN does; >= 50 dB against FP32). "
                 "The CPU runs them in FP32 either way");
    cmd.add_flag("--bf16", bf16,
                 "on a CPU with AVX512_BF16 (Zen 4 and later, Sapphire Rapids and later), multiply in bfloat16: x4plus "
                 "1.4-1.5x, "
                 "x4fast 1.1-1.25x faster, less exact (45-47 dB mean PSNR against FP32; docs/quantization.md). No "
                 "effect elsewhere");
  }

  // runs_the_model: the subcommand runs it (upscale, bench, calibrate), so --backend is one of its options; info and
  // convert only read it (their --backend was taken and ignored).
  void add_to(CLI::App& cmd, bool runs_the_model = true) {
    cmd.add_option("-n,--name", source.name, "model name in the model folder ($RESR_MODELS or models/)");
    cmd.add_option(
        "-m,--model", source.path,
        "model file (.param, .pth, .safetensors, .onnx, or a converted .resr), or a folder to look up -n in");
    if (runs_the_model)
      cmd.add_option("--backend", backend,
                     "auto (default: cuda when a GPU is present and the model has no INT8 convs, else cpu), cpu, cuda "
                     "(NVIDIA GPU; builds with nvcc + cuDNN) or ref (naive reference kernels)")
          ->check(CLI::IsMember({"cpu", "cuda", "ref", "auto"}));
    cmd.add_option_function<float>(
           "--dn,--denoise-strength", [this](const float& v) { source.denoise_strength = v; },
           "-dn: denoise strength 0..1 for realesr-general-x4v3: w = dn * model + (1 - dn) * its -wdn twin (upscale's "
           "default: 0.5 when the twin is beside it, as Real-ESRGAN; 1 = no blending)")
        ->check(CLI::Range(0.0f, 1.0f))
        ->check(kNotNan);
    cmd.add_option("--dn-model", source.dn_model,
                   "the model blended in with weight 1 - dn (default: realesr-general-wdn-x4v3 beside -m/-n)");
    cmd.add_option_function<std::string>(
           "--act",
           [this](const std::string& v) {
             source.srvgg_act =
                 v == "leakyrelu" ? models::SrvggConfig::Act::kLeakyRelu : models::SrvggConfig::Act::kRelu;
           },
           "SRVGGNetCompact .pth/.safetensors without PReLU weights: relu (default, assumed) or leakyrelu; the "
           "weights cannot tell them apart")
        ->check(CLI::IsMember({"relu", "leakyrelu"}));
  }
};

// One line on stderr when the model's activation was assumed (SRVGGNetCompact weights without PReLU slopes).
inline void note_assumed_activation(const engine::LoadedModel& m) {
  if (m.activation_assumed)
    std::fprintf(stderr,
                 "resr: note: %s: ReLU assumed (the weights cannot tell ReLU from LeakyReLU; --act leakyrelu "
                 "for a LeakyReLU model)\n",
                 m.param_path.c_str());
}

// A file the command writes besides its outputs (--report, --json), refused before any work when it would
// overwrite one of the model's files.
inline Status check_spares_model(const std::string& option, const std::string& path, const engine::LoadedModel& m) {
  if (path.empty()) return ok_status();
  std::vector<std::pair<std::string, std::string>> kept;
  for (const std::string& f : m.files()) kept.emplace_back("the model file", f);
  return check_overwrites_none(option, path, kept);
}

// For commands that write what they make of the model (calibrate, convert): the blend upscale's default made
// (stdout), and the assumed activation.
inline void note_model_as_upscale_runs_it(const engine::LoadedModel& m) {
  if (!m.dn_path.empty())
    std::printf("blended with %s, as upscale runs it (-dn 1: the file alone)\n", m.dn_path.c_str());
  note_assumed_activation(m);
}

}  // namespace resr::cli
