#include "pipeline/report.h"

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "core/json_text.h"
#include "core/staged_file.h"

namespace resr::pipeline {
namespace {

nlohmann::json stage_json(const StageMs& ms) {
  return {{"decode", ms.decode},           {"preprocess", ms.preprocess}, {"inference", ms.inference},
          {"postprocess", ms.postprocess}, {"encode", ms.encode},         {"total", ms.total()}};
}

}  // namespace

std::string report_json(const std::vector<JobResult>& results, const ReportContext& ctx) {
  nlohmann::json images = nlohmann::json::array();
  StageMs sum;
  int failed = 0, niqe_count = 0;
  double niqe_sum = 0;
  for (const JobResult& r : results) {
    nlohmann::json j = {{"input", r.job.input}, {"output", r.job.output}, {"ok", r.status.ok()}};
    if (!r.status.ok()) {
      j["error"] = r.status.message();
      ++failed;
    }
    // What a failed file reached: its size once decoded, the rest once upscaled (not zeros for the stages not run).
    if (r.in_w > 0) j["input_size"] = {r.in_w, r.in_h};
    if (r.out_w > 0) {
      j["output_size"] = {r.out_w, r.out_h};
      j["tiles"] = r.tiles;
      j["tile_size"] = {r.tile_w, r.tile_h};  // as used; settings.tile is what was asked (0: automatic)
      j["context_overhead"] = r.context_overhead;
      j["memory_retries"] = r.memory_retries;
    }
    if (r.alpha_dropped) j["alpha_dropped"] = true;
    if (r.depth_reduced) j["depth_reduced"] = true;
    if (r.exif_dropped) j["exif_dropped"] = true;
    if (r.xmp_dropped) j["xmp_dropped"] = true;
    if (r.icc_dropped) j["icc_dropped"] = true;
    if (r.colour_dropped) j["colour_dropped"] = true;
    if (r.other_images > 0) j["other_images"] = r.other_images;
    j["ms"] = stage_json(r.ms);
    if (ctx.niqe) {
      j["niqe"] = r.niqe ? nlohmann::json(*r.niqe) : nlohmann::json(nullptr);
      if (!r.niqe_error.empty()) j["niqe_error"] = r.niqe_error;
      if (r.niqe) {
        niqe_sum += *r.niqe;
        ++niqe_count;
      }
    }
    images.push_back(std::move(j));
    sum.decode += r.ms.decode;
    sum.preprocess += r.ms.preprocess;
    sum.inference += r.ms.inference;
    sum.postprocess += r.ms.postprocess;
    sum.encode += r.ms.encode;
  }
  nlohmann::json report = {
      {"schema", "resr-report"},
      {"version", 1},
      {"model",
       {{"name", ctx.model_name},
        {"path", ctx.model_path},
        {"architecture", ctx.architecture},
        {"scale", ctx.model_scale},
        {"file_bytes", ctx.model_file_bytes},
        {"load_ms", ctx.model_load_ms},
        {"compile_ms", ctx.model_compile_ms}}},
      {"backend", ctx.backend},
      {"settings",
       {{"tile", ctx.tile},
        {"tile_pad", ctx.tile_pad},
        {"scale", ctx.scale},
        {"threads", std::to_string(ctx.threads.load) + ":" + std::to_string(ctx.threads.proc) + ":" +
                        std::to_string(ctx.threads.save)},
        {"compute_threads", ctx.threads.compute},
        {"tta", ctx.tta}}},
      {"images", images},
      {"totals", {{"images", results.size()}, {"failed", failed}, {"ms", stage_json(sum)}, {"wall_ms", ctx.wall_ms}}},
  };
  if (ctx.niqe)
    report["totals"]["niqe_mean"] = niqe_count > 0 ? nlohmann::json(niqe_sum / niqe_count) : nlohmann::json(nullptr);
  return json_text(report) + "\n";
}

Status write_report(const std::string& path, const std::vector<JobResult>& results, const ReportContext& ctx) {
  return write_file_atomically(path, report_json(results, ctx));
}

std::string profile_table(const std::vector<JobResult>& results, double wall_ms) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%-32s %9s %9s %10s %9s %9s %10s\n", "image (ms)", "decode", "preproc", "inference",
                "postproc", "encode", "total");
  out += line;
  StageMs sum;
  for (const JobResult& r : results) {
    std::string name = std::filesystem::path(r.job.input).filename().string();
    if (name.size() > 32) name = name.substr(0, 29) + "...";
    std::snprintf(line, sizeof line, "%-32s %9.1f %9.1f %10.1f %9.1f %9.1f %10.1f%s\n", name.c_str(), r.ms.decode,
                  r.ms.preprocess, r.ms.inference, r.ms.postprocess, r.ms.encode, r.ms.total(),
                  r.status.ok() ? "" : "  (failed)");
    out += line;
    sum.decode += r.ms.decode;
    sum.preprocess += r.ms.preprocess;
    sum.inference += r.ms.inference;
    sum.postprocess += r.ms.postprocess;
    sum.encode += r.ms.encode;
  }
  std::snprintf(line, sizeof line, "%-32s %9.1f %9.1f %10.1f %9.1f %9.1f %10.1f\n", "total", sum.decode, sum.preprocess,
                sum.inference, sum.postprocess, sum.encode, sum.total());
  out += line;
  std::snprintf(line, sizeof line, "wall time %.1f ms (stages overlap across threads)\n", wall_ms);
  out += line;
  return out;
}

}  // namespace resr::pipeline
