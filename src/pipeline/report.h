// The --report FILE.json of `resr upscale`: per-image stage times and sizes plus totals and the model file
// size. Schema: docs/report-schema.md (version 1). Written atomically (temporary name, then rename).
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "pipeline/image_pipeline.h"

namespace resr::pipeline {

struct ReportContext {
  std::string model_name, model_path, architecture, backend;
  std::uint64_t model_file_bytes = 0;
  int model_scale = 0;
  double model_load_ms = 0, model_compile_ms = 0, wall_ms = 0;
  int tile = 0, tile_pad = 0;
  double scale = 0;
  PipelineThreads threads;  // those the run used ("threads": "load:proc:save", "compute_threads")
  bool tta = false;         // -x: test-time augmentation
  bool niqe = false;        // --niqe: write each image's "niqe" (JobResult::niqe) and the mean in the totals
};

std::string report_json(const std::vector<JobResult>& results, const ReportContext& ctx);
[[nodiscard]] Status write_report(const std::string& path, const std::vector<JobResult>& results,
                                  const ReportContext& ctx);
// The --profile table (milliseconds per stage, per image and totals).
std::string profile_table(const std::vector<JobResult>& results, double wall_ms);

}  // namespace resr::pipeline
