// resr eval: quality of images: NIQE (no reference) always; PSNR (RGB and Y), worst-block PSNR and SSIM (RGB and
// Y) against references when given. With --models, the comparison of models over a folder (eval_models.h).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "core/json_text.h"
#include "eval_models.h"
#include "image/codec.h"
#include "image/metadata.h"
#include "metrics/niqe.h"
#include "metrics/psnr.h"
#include "metrics/ssim.h"

namespace resr::cli {
namespace {

struct EvalOptions {
  ModelComparisonOptions compare;
  std::vector<std::string> images, refs;
  bool y_channel = false, json = false;
  int crop = 0, block = 64;
  bool comparison_options_given = false;   // --dir, --tile, --bf16 or --backend: they apply with --models
  bool worst_block_options_given = false;  // --y or --block: they apply with --ref
};

nlohmann::json db_json(double db) {
  return std::isinf(db) ? nlohmann::json("inf") : nlohmann::json(db);
}

// The image without `border` pixels at each edge (BasicSR's crop_border for NIQE).
Result<Image> cropped(const Image& img, int border) {
  if (border == 0) return img;
  if (2 * std::int64_t(border) >= img.width || 2 * std::int64_t(border) >= img.height)
    return Status::error("crop border leaves nothing");
  Image out;
  out.width = img.width - 2 * border;
  out.height = img.height - 2 * border;
  out.channels = img.channels;
  out.bits = img.bits;
  const std::size_t px = std::size_t(img.channels) * (img.bits / 8);
  out.bytes.resize(std::size_t(out.width) * out.height * px);
  for (int y = 0; y < out.height; ++y)
    std::memcpy(&out.bytes[std::size_t(y) * out.width * px],
                &img.bytes[(std::size_t(y + border) * img.width + border) * px], out.width * px);
  return out;
}

struct Means {
  double sum = 0;
  int count = 0;
  void add(double v) {
    if (std::isfinite(v)) {
      sum += v;
      ++count;
    }
  }
  double mean() const { return count > 0 ? sum / count : NAN; }
  nlohmann::json json() const { return count > 0 ? nlohmann::json(mean()) : nlohmann::json(nullptr); }
};

int run_eval(const EvalOptions& o) {
  if (!o.compare.models.empty()) {
    if (!o.images.empty() || !o.refs.empty()) return fail("--models compares models over --dir; give no image files");
    if (o.compare.dir.empty()) return fail("--models needs --dir DIR, the folder of images to upscale");
    if (o.worst_block_options_given)
      return fail("--y and --block set the worst-block PSNR against --ref, which --models does not measure");
    ModelComparisonOptions c = o.compare;
    c.json = o.json;
    c.crop = o.crop;
    return run_model_comparison(c);
  }
  if (o.images.empty()) return fail("give images to evaluate, or --models REF MODEL... --dir DIR");
  if (o.comparison_options_given) return fail("--dir, --tile, --bf16 and --backend apply with --models");
  if (o.worst_block_options_given && o.refs.empty())
    return fail("--y and --block set the worst-block PSNR against references: give --ref");
  if (!o.refs.empty() && o.refs.size() != o.images.size())
    return fail("--ref: give one reference per image (" + std::to_string(o.images.size()) + " images, " +
                std::to_string(o.refs.size()) + " references)");
  metrics::PsnrOptions po;
  po.crop_border = o.crop;
  metrics::PsnrOptions po_y = po;
  po_y.y_channel = true;
  metrics::SsimOptions so{.y_channel = false, .crop_border = o.crop}, so_y{.y_channel = true, .crop_border = o.crop};
  const char* y = o.y_channel ? "(Y)" : "";
  nlohmann::json rows = nlohmann::json::array();
  Means psnr_mean, psnr_y_mean, ssim_mean, ssim_y_mean, niqe_mean;
  int failed = 0;
  for (std::size_t i = 0; i < o.images.size(); ++i) {
    const std::string& name = o.images[i];
    nlohmann::json row = {{"image", name}};
    // A file that cannot be read or compared is reported and left out; the others go on.
    auto skip = [&](const std::string& message) {
      say(message);
      row["error"] = message;
      rows.push_back(std::move(row));
      ++failed;
    };
    auto a = read_image_file(name);  // compared as displayed: upright, as `resr upscale` reads them
    if (!a) {
      skip(name + ": " + a.status().message());
      continue;
    }
    apply_exif_orientation(*a);
    std::string line = name;
    if (!o.refs.empty()) {
      auto b = read_image_file(o.refs[i]);
      if (!b) {
        skip(o.refs[i] + ": " + b.status().message());
        continue;
      }
      apply_exif_orientation(*b);
      auto p = metrics::psnr(*a, *b, po);
      auto py = p ? metrics::psnr(*a, *b, po_y) : p;
      auto worst = metrics::worst_block_psnr(*a, *b, o.block, o.y_channel ? po_y : po);
      const Status compared = !p ? p.status() : !py ? py.status() : worst.status();
      if (!compared.ok()) {
        skip(name + ": " + compared.message());
        continue;
      }
      // SSIM needs its 11x11 window: a smaller image has PSNR without it, as NIQE's n/a below.
      auto s = metrics::ssim(*a, *b, so);
      auto sy = s ? metrics::ssim(*a, *b, so_y) : s;
      psnr_mean.add(*p);
      psnr_y_mean.add(*py);
      if (s) {
        ssim_mean.add(*s);
        ssim_y_mean.add(*sy);
      }
      row["ref"] = o.refs[i];
      row["psnr_db"] = db_json(*p);
      row["psnr_y_db"] = db_json(*py);
      row["worst_block_psnr_db"] = db_json(worst->worst_db);
      row["worst_block_at"] = {worst->worst_x, worst->worst_y};
      row["block"] = o.block;
      row["worst_block_on"] = o.y_channel ? "y" : "rgb";
      row["ssim"] = s ? nlohmann::json(*s) : nlohmann::json(nullptr);
      row["ssim_y"] = s ? nlohmann::json(*sy) : nlohmann::json(nullptr);
      if (!s) row["ssim_error"] = s.status().message();
      // The block as measured: no larger than the image (less --crop), which holds one then.
      const int block_w = std::min(o.block, a->width - 2 * o.crop), block_h = std::min(o.block, a->height - 2 * o.crop);
      char buf[512];
      std::snprintf(buf, sizeof buf, " vs %s: PSNR %.3f dB (Y %.3f dB), worst %dx%d block%s %.3f dB at (%d,%d)",
                    o.refs[i].c_str(), *p, *py, block_w, block_h, y, worst->worst_db, worst->worst_x, worst->worst_y);
      line += buf;
      if (s) {
        std::snprintf(buf, sizeof buf, ", SSIM %.4f (Y %.4f)", *s, *sy);
        line += buf;
      } else {
        line += ", SSIM n/a (" + s.status().message() + ")";
      }
    } else {
      line += ":";
    }
    // NIQE never stops the run: an image without one (too small, flat) says why and is left out of the mean.
    auto c = cropped(*a, o.crop);
    auto q = c ? metrics::niqe(*c) : Result<double>(c.status());
    if (q) {
      niqe_mean.add(*q);
      row["niqe"] = *q;
      char buf[64];
      std::snprintf(buf, sizeof buf, "%s NIQE %.4f", o.refs.empty() ? "" : ",", *q);
      line += buf;
    } else {
      row["niqe"] = nullptr;
      row["niqe_error"] = q.status().message();
      line += (o.refs.empty() ? " NIQE n/a (" : ", NIQE n/a (") + q.status().message() + ")";
    }
    rows.push_back(std::move(row));
    if (!o.json) std::printf("%s\n", line.c_str());
  }
  if (o.json) {
    nlohmann::json j = {{"images", rows}, {"mean_niqe", niqe_mean.json()}};
    if (!o.refs.empty()) {
      j["mean_psnr_db"] = psnr_mean.count > 0 ? db_json(psnr_mean.mean()) : nlohmann::json("inf");
      j["mean_psnr_y_db"] = psnr_y_mean.count > 0 ? db_json(psnr_y_mean.mean()) : nlohmann::json("inf");
      j["mean_ssim"] = ssim_mean.json();
      j["mean_ssim_y"] = ssim_y_mean.json();
    }
    std::printf("%s\n", json_text(j).c_str());
  } else if (o.images.size() - std::size_t(failed) > 1) {
    if (!o.refs.empty()) {
      std::printf("mean PSNR %.3f dB (Y %.3f dB) over %d images with finite PSNR\n",
                  psnr_mean.count > 0 ? psnr_mean.mean() : INFINITY,
                  psnr_y_mean.count > 0 ? psnr_y_mean.mean() : INFINITY, psnr_mean.count);
      if (ssim_mean.count > 0)
        std::printf("mean SSIM %.4f (Y %.4f) over %d images\n", ssim_mean.mean(), ssim_y_mean.mean(), ssim_mean.count);
      else
        std::printf("mean SSIM n/a (no image has one)\n");
    }
    if (niqe_mean.count > 0)
      std::printf("mean NIQE %.4f over %d images\n", niqe_mean.mean(), niqe_mean.count);
    else
      std::printf("mean NIQE n/a (no image has one)\n");
  }
  if (failed > 0 && o.images.size() == 1) return 1;  // its line above says it all
  if (failed > 0) return fail(std::to_string(failed) + " of " + std::to_string(o.images.size()) + " images failed");
  return 0;
}

}  // namespace

void add_eval_command(CLI::App& app, Action* action) {
  auto o = std::make_shared<EvalOptions>();
  CLI::App* cmd = app.add_subcommand("eval",
                                     "image quality: NIQE (no reference; lower is better), and PSNR, worst-block PSNR "
                                     "and SSIM against references");
  cmd->add_option("images", o->images, "images to evaluate");
  cmd->add_option("--ref", o->refs, "reference images, one per image (optional; enables PSNR and SSIM)");
  cmd->add_flag("--y", o->y_channel, "worst-block PSNR on BT.601 luma (Y) instead of RGB (NIQE always uses Y)");
  cmd->add_option("--models", o->compare.models,
                  "compare models over --dir: the first is the reference (e.g. FP32), each other one (e.g. an INT8 "
                  ".resr) is scored against it (files, or names in the model folder)");
  cmd->add_option("--dir", o->compare.dir, "with --models: the folder of images to upscale");
  cmd->add_option("--backend", o->compare.backend, "with --models: cpu (default) or ref")
      ->check(CLI::IsMember({"cpu", "ref"}));
  cmd->add_option("--tile", o->compare.tile, "with --models: tile size (default auto; the same for every model)")
      ->check(CLI::Range(0, 100000));
  cmd->add_flag("--bf16", o->compare.bf16,
                "with --models: every model but the first multiplies in bfloat16 on a CPU with AVX512_BF16 (as "
                "upscale --bf16); --models x4plus x4plus --bf16 measures what it costs");
  cmd->add_option("--crop", o->crop, "border pixels ignored by every metric (default 0, the contest's NIQE)")
      ->check(CLI::Range(0, 10000));
  cmd->add_option("--block", o->block, "block size for the worst-block PSNR (default 64)")
      ->check(CLI::Range(1, 100000));
  cmd->add_flag("--json", o->json, "JSON output");
  cmd->callback([o, action, cmd] {
    o->comparison_options_given =
        cmd->count("--dir") + cmd->count("--tile") + cmd->count("--bf16") + cmd->count("--backend") > 0;
    o->worst_block_options_given = cmd->count("--y") + cmd->count("--block") > 0;
    *action = [o] { return run_eval(*o); };
  });
}

}  // namespace resr::cli
