// ImagePipeline: upscales a list of files with load -> process -> save stages on their own threads, joined
// by bounded queues (like realesrgan-ncnn-vulkan's -j load:proc:save), so decoding and encoding overlap
// inference. A failing file is recorded and skipped; the others go on.
//
//   PipelineConfig cfg;  cfg.proc_threads = 1;
//   std::vector<JobResult> r = run_pipeline(jobs, cfg, make_processor, progress);
//
// Each process thread gets its own Executable from `make_processor` (executables are not reentrant) and
// an even share of the cores for the kernels' OpenMP teams. A single file runs its three stages on the calling
// thread, one after the other (nothing would overlap), with the calling thread's OpenMP setting restored after.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/upscale.h"
#include "image/codec.h"

namespace resr::pipeline {

struct Job {
  std::string input, output;
};

struct StageMs {
  double decode = 0, preprocess = 0, inference = 0, postprocess = 0, encode = 0;
  double total() const { return decode + preprocess + inference + postprocess + encode; }
};

struct JobResult {
  Job job;
  Status status;  // the first error, prefixed with the file it concerns
  int in_w = 0, in_h = 0, out_w = 0, out_h = 0, tiles = 0;
  double context_overhead = 1.0;  // model pixels / image pixels (engine::StageTimes)
  int memory_retries = 0;         // passes run again with smaller tiles after running out of memory
  int tile_w = 0, tile_h = 0;     // the first pass's tile core as used (engine::StageTimes)
  bool alpha_dropped = false;     // an image with alpha written as JPEG, which holds none
  bool depth_reduced = false;     // a 16-bit image written as JPEG or WebP, which hold 8 bits a sample
  bool exif_dropped = false;      // EXIF over kJpegMaxExifBytes, which a JPEG output cannot hold
  bool xmp_dropped = false;       // XMP over kJpegMaxXmpBytes, likewise
  bool icc_dropped = false;       // an ICC profile that does not fit the output's pixels (gray into WebP's RGB)
  bool colour_dropped = false;    // PNG colour chunks unlike sRGB's, left out of a format other than PNG
  int other_images = 0;           // images in the input file after the one upscaled (TIFF pages), left out
  StageMs ms;
  // With PipelineConfig::niqe: metrics::niqe of the output image, or why it has none (e.g. smaller than one
  // 96x96 block; the file is still written and counts as ok), and its time, which is in no stage of `ms`.
  std::optional<double> niqe;
  std::string niqe_error;
  double niqe_ms = 0;
};

// Upscales one decoded image (the process stage); made once per process thread.
using Processor = std::function<Result<Image>(const Image& in, engine::StageTimes* times,
                                              const std::function<void(int, int)>& on_tile)>;

struct PipelineConfig {
  int load_threads = 1, proc_threads = 1, save_threads = 1;
  std::size_t queue_depth = 2;
  // The format of every output when format_from_output_extension is off (folder mode, -f); otherwise each
  // job's output extension decides, and a job whose output has none that is known fails before decoding.
  ImageFormat format = ImageFormat::kPng;
  EncodeOptions encode;
  bool format_from_output_extension = true;
  bool niqe = false;  // compute the NIQE of each output in the save stage, before encoding (JobResult::niqe)
  // Each input's size from its header, before it is decoded: a size the processor would refuse fails the job there
  // (engine::check_stored_size), at no decoding cost. Unset: none.
  SizeCheck check_size;
  // Once set, jobs not yet begun (decoded or not) fail with "interrupted" (the processor stops the image in
  // flight itself); images already upscaled are still written.
  const std::atomic<bool>* cancel = nullptr;
};

struct Progress {
  std::function<void(const JobResult&, int files_done, int files_total)> on_file;
  std::function<void(int tiles_done, int tiles_total)> on_tile;
};

// The threads a run of `jobs` files uses: its stage threads, no more process threads than files (one file starts
// none: each stage runs on the caller's thread, counted as one each), and each process thread's OpenMP team, the
// cores shared among the process threads: every core, or OMP_NUM_THREADS's first number when it is set (on a
// shared machine fewer threads can be faster). What `resr upscale --report` records.
struct PipelineThreads {
  int load = 1, proc = 1, save = 1;
  int compute = 1;
};
PipelineThreads pipeline_threads(const PipelineConfig& config, int jobs);

std::vector<JobResult> run_pipeline(const std::vector<Job>& jobs, const PipelineConfig& config,
                                    const std::function<Result<Processor>()>& make_processor,
                                    const Progress& progress = {});

}  // namespace resr::pipeline
