#include "eval_models.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "core/json_text.h"
#include "engine/compiled_model.h"
#include "engine/upscale.h"
#include "image/codec.h"
#include "image/image_files.h"
#include "metrics/psnr.h"
#include "metrics/ssim.h"
#include "precision_notices.h"

namespace resr::cli {
namespace {

// A model argument: an existing file or folder is -m, anything else a name (-n) in the model folder.
engine::ModelSource source_of(const std::string& arg) {
  std::error_code ec;
  if (std::filesystem::exists(arg, ec)) return engine::ModelSource(arg, "");
  return engine::ModelSource("", arg);
}

Image widen_to_16_bits(const Image& img) {
  if (img.bits == 16) return img;
  Image out = img;
  out.bits = 16;
  out.bytes.resize(img.sample_count() * 2);
  for (std::size_t i = 0; i < img.sample_count(); ++i) {
    const std::uint16_t v = std::uint16_t(img.bytes[i] * 257);  // exact: 255 -> 65535
    std::memcpy(out.bytes.data() + 2 * i, &v, 2);
  }
  return out;
}

struct Scores {
  double psnr_rgb = 0, psnr_y = 0, ssim_rgb = 0, ssim_y = 0;
  std::string ssim_error;  // SSIM's window did not fit (the output, less --crop, under 11x11): PSNR alone
  int ssim_count = 0;      // in a sum: the images with an SSIM
};

Result<Scores> score(const Image& out, const Image& ref, int crop) {
  Scores s;
  RESR_ASSIGN_OR_RETURN(s.psnr_rgb, metrics::psnr(out, ref, {.y_channel = false, .crop_border = crop}));
  RESR_ASSIGN_OR_RETURN(s.psnr_y, metrics::psnr(out, ref, {.y_channel = true, .crop_border = crop}));
  Result<double> ssim = metrics::ssim(out, ref, {.y_channel = false, .crop_border = crop});
  if (!ssim) {  // as eval --ref: PSNR without it
    s.ssim_error = ssim.status().message();
    return s;
  }
  s.ssim_rgb = *ssim;
  RESR_ASSIGN_OR_RETURN(s.ssim_y, metrics::ssim(out, ref, {.y_channel = true, .crop_border = crop}));
  return s;
}

nlohmann::json ssim_json(const Scores& s, double v) {
  return s.ssim_error.empty() ? nlohmann::json(v) : nlohmann::json(nullptr);
}

nlohmann::json db(double v) {
  return std::isinf(v) ? nlohmann::json("inf") : nlohmann::json(v);
}

}  // namespace

int run_model_comparison(const ModelComparisonOptions& o) {
  if (o.models.size() < 2) return fail("--models: give the reference model and at least one model to compare");
  auto files = list_image_files(o.dir);
  if (!files) return fail(files.status().message());
  struct Entry {
    std::string arg;
    engine::CompiledModel model;
    Scores sum;
  };
  std::vector<Entry> entries;
  note_bf16_unavailable(o.bf16, o.backend);
  for (const std::string& arg : o.models) {
    auto loaded = engine::load_model(source_of(arg));
    if (!loaded) return fail(loaded.status().message());
    engine::BackendOptions backend_options;
    backend_options.cpu_bf16 = o.bf16 && !entries.empty() && o.backend == "cpu";  // the reference stays exact
    auto compiled = engine::CompiledModel::compile(*loaded, o.backend, backend_options);
    if (!compiled) return fail(arg + ": " + compiled.status().message());
    if (!entries.empty() && compiled->summary().scale != entries.front().model.summary().scale)
      return fail(arg + ": scale differs from the reference model " + o.models.front());
    entries.push_back({backend_options.cpu_bf16 ? arg + " (bf16)" : arg, std::move(*compiled), {}});
  }
  engine::UpscaleSettings settings;
  settings.tile = o.tile;
  nlohmann::json rows = nlohmann::json::array();
  int scored = 0, failed = 0;
  for (const std::string& file : *files) {
    // Every model's scores on the image, or the first error: a file that fails is reported and left out of the means.
    auto scores = [&]() -> Result<std::vector<Scores>> {
      auto img = read_image_file(file);
      if (!img) return img.status();
      const Image wide = widen_to_16_bits(*img);
      RESR_ASSIGN_OR_RETURN(const Image ref, engine::upscale_image(wide, entries.front().model, settings));
      std::vector<Scores> each;
      for (std::size_t m = 1; m < entries.size(); ++m) {
        RESR_ASSIGN_OR_RETURN(const Image out, engine::upscale_image(wide, entries[m].model, settings));
        Result<Scores> s = score(out, ref, o.crop);
        if (!s) return Status::error("upscaled: " + s.status().message());  // of the output, not the file named
        each.push_back(*s);
      }
      return each;
    }();
    if (!scores) {
      std::fprintf(stderr, "resr: %s: %s\n", file.c_str(), scores.status().message().c_str());
      rows.push_back({{"image", file}, {"error", scores.status().message()}});
      ++failed;
      continue;
    }
    ++scored;
    for (std::size_t m = 1; m < entries.size(); ++m) {
      const Scores& s = (*scores)[m - 1];
      Scores& sum = entries[m].sum;
      sum.psnr_rgb += s.psnr_rgb;
      sum.psnr_y += s.psnr_y;
      if (s.ssim_error.empty()) {
        sum.ssim_rgb += s.ssim_rgb;
        sum.ssim_y += s.ssim_y;
        ++sum.ssim_count;
      }
      nlohmann::json row = {{"image", file},
                            {"model", entries[m].arg},
                            {"psnr_db", db(s.psnr_rgb)},
                            {"psnr_y_db", db(s.psnr_y)},
                            {"ssim", ssim_json(s, s.ssim_rgb)},
                            {"ssim_y", ssim_json(s, s.ssim_y)}};
      if (!s.ssim_error.empty()) row["ssim_error"] = "upscaled: " + s.ssim_error;
      rows.push_back(std::move(row));
      if (!o.json) {
        char ssim_text[64];
        std::snprintf(ssim_text, sizeof ssim_text, "SSIM %.5f (Y %.5f)", s.ssim_rgb, s.ssim_y);
        std::printf("%s  %s vs %s: PSNR %.3f dB (Y %.3f dB), %s\n", file.c_str(), entries[m].arg.c_str(),
                    o.models.front().c_str(), s.psnr_rgb, s.psnr_y,
                    s.ssim_error.empty() ? ssim_text : ("SSIM n/a (upscaled: " + s.ssim_error + ")").c_str());
      }
    }
    std::fflush(stdout);  // minutes per image with big models: show each line as it comes
  }
  if (scored == 0) {  // one image: its line above says it all
    if (files->size() == 1) return 1;
    return fail("none of the " + std::to_string(files->size()) + " images could be scored");
  }
  const double n = double(scored);
  nlohmann::json means = nlohmann::json::array();
  for (std::size_t m = 1; m < entries.size(); ++m) {
    const Scores& s = entries[m].sum;
    const double k = s.ssim_count;  // the images with an SSIM
    means.push_back({{"model", entries[m].arg},
                     {"mean_psnr_db", db(s.psnr_rgb / n)},
                     {"mean_psnr_y_db", db(s.psnr_y / n)},
                     {"mean_ssim", k > 0 ? nlohmann::json(s.ssim_rgb / k) : nlohmann::json(nullptr)},
                     {"mean_ssim_y", k > 0 ? nlohmann::json(s.ssim_y / k) : nlohmann::json(nullptr)}});
    if (!o.json) {
      char ssim_text[96];
      std::snprintf(ssim_text, sizeof ssim_text, "SSIM %.5f (Y %.5f) over %d", s.ssim_rgb / k, s.ssim_y / k,
                    s.ssim_count);
      std::printf("mean over %d images, %s vs %s: PSNR %.3f dB (Y %.3f dB), %s\n", scored, entries[m].arg.c_str(),
                  o.models.front().c_str(), s.psnr_rgb / n, s.psnr_y / n, k > 0 ? ssim_text : "SSIM n/a");
    }
  }
  if (o.json)
    std::printf(
        "%s\n",
        json_text(nlohmann::json({{"reference", o.models.front()}, {"images", rows}, {"means", means}})).c_str());
  if (failed > 0) return fail(std::to_string(failed) + " of " + std::to_string(files->size()) + " images failed");
  return 0;
}

}  // namespace resr::cli
