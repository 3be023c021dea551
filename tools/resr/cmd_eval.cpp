// resr eval: quality of images against references (PSNR overall and worst block, RGB or Y).
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "image/codec.h"
#include "metrics/psnr.h"

namespace resr::cli {
namespace {

struct EvalOptions {
  std::vector<std::string> images, refs;
  bool y_channel = false, json = false;
  int crop = 0, block = 64;
};

nlohmann::json db_json(double db) {
  return std::isinf(db) ? nlohmann::json("inf") : nlohmann::json(db);
}

int run_eval(const EvalOptions& o) {
  if (o.refs.size() != o.images.size())
    return fail("--ref: give one reference per image (" + std::to_string(o.images.size()) + " images, " +
                std::to_string(o.refs.size()) + " references)");
  metrics::PsnrOptions po;
  po.y_channel = o.y_channel;
  po.crop_border = o.crop;
  nlohmann::json rows = nlohmann::json::array();
  double sum = 0;
  int finite = 0;
  for (std::size_t i = 0; i < o.images.size(); ++i) {
    auto a = read_image_file(o.images[i]);
    if (!a) return fail(o.images[i] + ": " + a.status().message());
    auto b = read_image_file(o.refs[i]);
    if (!b) return fail(o.refs[i] + ": " + b.status().message());
    auto p = metrics::psnr(*a, *b, po);
    if (!p) return fail(o.images[i] + ": " + p.status().message());
    auto worst = metrics::worst_block_psnr(*a, *b, o.block, po);
    if (!worst) return fail(o.images[i] + ": " + worst.status().message());
    if (!std::isinf(*p)) {
      sum += *p;
      ++finite;
    }
    rows.push_back({{"image", o.images[i]},
                    {"ref", o.refs[i]},
                    {"psnr_db", db_json(*p)},
                    {"worst_block_psnr_db", db_json(worst->worst_db)},
                    {"worst_block_at", {worst->worst_x, worst->worst_y}},
                    {"block", o.block}});
    if (!o.json)
      std::printf("%s vs %s: PSNR%s %.3f dB, worst %dx%d block %.3f dB at (%d,%d)\n", o.images[i].c_str(),
                  o.refs[i].c_str(), o.y_channel ? "(Y)" : "", *p, o.block, o.block, worst->worst_db, worst->worst_x,
                  worst->worst_y);
  }
  const double mean = finite > 0 ? sum / finite : INFINITY;
  if (o.json) {
    std::printf("%s\n", nlohmann::json({{"images", rows}, {"mean_psnr_db", db_json(mean)}}).dump(2).c_str());
  } else if (o.images.size() > 1) {
    std::printf("mean PSNR %.3f dB over %d images with finite PSNR\n", mean, finite);
  }
  return 0;
}

}  // namespace

void add_eval_command(CLI::App& app, Action* action) {
  auto o = std::make_shared<EvalOptions>();
  CLI::App* cmd = app.add_subcommand("eval", "image quality against references: PSNR, worst-block PSNR");
  cmd->add_option("images", o->images, "images to evaluate")->required();
  cmd->add_option("--ref", o->refs, "reference images, one per image")->required();
  cmd->add_flag("--y", o->y_channel, "on BT.601 luma (Y) instead of RGB");
  cmd->add_option("--crop", o->crop, "border pixels ignored")->check(CLI::Range(0, 10000));
  cmd->add_option("--block", o->block, "block size for the worst-block PSNR (default 64)")
      ->check(CLI::Range(1, 100000));
  cmd->add_flag("--json", o->json, "JSON output");
  cmd->callback([o, action] { *action = [o] { return run_eval(*o); }; });
}

}  // namespace resr::cli
