#include "pipeline/image_pipeline.h"
#include "core/elapsed.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "core/exception_status.h"
#include "core/openmp_threads.h"
#include "image/metadata.h"
#include "metrics/niqe.h"
#include "pipeline/bounded_queue.h"

namespace resr::pipeline {
namespace {

// The threads the process threads' OpenMP teams share: OMP_NUM_THREADS's first number when set ("4" or "4,2"),
// else every core. (The teams are set with omp_set_num_threads, which would override the variable.)
int compute_cores() {
  if (const char* env = std::getenv("OMP_NUM_THREADS")) {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    if (end != env && n > 0) return static_cast<int>(std::min<long>(n, kMaxOpenMpThreads));
  }
  return std::max(1, omp_get_num_procs());
}

using Clock = std::chrono::steady_clock;

struct Item {
  int index = -1;
  Image image;
};

// Runs `count` threads of `body`; the last one to finish runs `after` (closing the next queue).
void spawn(std::vector<std::thread>& threads, int count, const std::function<void()>& body,
           const std::function<void()>& after, const std::shared_ptr<std::atomic<int>>& live) {
  live->store(count);
  for (int i = 0; i < count; ++i)
    threads.emplace_back([body, after, live] {
      body();
      if (live->fetch_sub(1) == 1) after();
    });
}

}  // namespace

PipelineThreads pipeline_threads(const PipelineConfig& config, int jobs) {
  PipelineThreads t;
  // No more process threads (each with its own executable) than files.
  t.proc = std::clamp(config.proc_threads, 1, std::max(1, jobs));
  if (jobs > 1) {
    t.load = std::max(1, config.load_threads);
    t.save = std::max(1, config.save_threads);
  }
  t.compute = std::max(1, compute_cores() / t.proc);
  return t;
}

std::vector<JobResult> run_pipeline(const std::vector<Job>& jobs, const PipelineConfig& config,
                                    const std::function<Result<Processor>()>& make_processor,
                                    const Progress& progress) {
  const int n = static_cast<int>(jobs.size());
  std::vector<JobResult> results(jobs.size());
  for (int i = 0; i < n; ++i) results[i].job = jobs[i];
  const PipelineThreads counts = pipeline_threads(config, n);
  const int loaders = counts.load, procs = counts.proc, savers = counts.save;

  std::vector<Processor> processors;
  for (int p = 0; p < procs; ++p) {
    auto made = make_processor();
    if (!made) {
      for (JobResult& r : results) r.status = made.status();
      return results;
    }
    processors.push_back(std::move(*made));
  }

  std::mutex progress_mutex;
  int files_done = 0;
  auto finish = [&](int index) {
    std::lock_guard lock(progress_mutex);
    ++files_done;
    if (progress.on_file) progress.on_file(results[index], files_done, n);
  };

  // Each job's output format, found by its loader before anything is decoded (an output name without a known
  // extension fails at once, not after the upscale); read by its saver after the queues' hand-over.
  std::vector<ImageFormat> formats(jobs.size(), config.format);
  auto fail_job = [&](int index, Status why) {
    results[index].status = std::move(why);
    finish(index);
  };
  auto stopped = [&](int index) {
    if (config.cancel == nullptr || !config.cancel->load()) return false;
    fail_job(index, Status::stopped("interrupted").with_context(results[index].job.input));
    return true;
  };
  // A stage that throws (an allocation outside a tile's retry: the input's copy, the final resize, the encoder;
  // or a bug) fails its job alone: on a stage thread, an exception would end the whole run.
  auto guarded = [&](int i, const std::string& file, auto&& stage) -> decltype(stage()) {
    try {
      return stage();
    } catch (...) {
      fail_job(i, current_exception_status().with_context(file));
    }
    return {};
  };
  // The three stages of one job; a stage that fails records why and finishes the job.
  auto load_stage = [&](int i) -> std::optional<Image> {
    JobResult& r = results[i];
    if (stopped(i)) return std::nullopt;
    if (config.format_from_output_extension) {
      Result<ImageFormat> format = format_from_extension(r.job.output);
      if (!format) {
        fail_job(i, format.status().with_context(r.job.output));
        return std::nullopt;
      }
      formats[i] = *format;
    }
    if (config.encode.lossless && formats[i] == ImageFormat::kJpeg) {  // before the work it would cost
      fail_job(i, Status::error(r.job.output + ": JPEG has no lossless mode; write .webp, .png or .tif"));
      return std::nullopt;
    }
    const auto t0 = Clock::now();
    auto image = read_image_file(r.job.input, config.check_size);
    if (image) apply_exif_orientation(*image);
    r.ms.decode = ms_since(t0);
    if (!image) {
      fail_job(i, image.status().with_context(r.job.input));
      return std::nullopt;
    }
    r.in_w = image->width;
    r.in_h = image->height;
    r.other_images = image->other_images;
    return std::move(*image);
  };
  auto process_stage = [&](Processor& processor, int i, const Image& image) -> std::optional<Image> {
    JobResult& r = results[i];
    if (stopped(i)) return std::nullopt;  // decoded but not begun: not begun at all
    engine::StageTimes times;
    auto out = processor(image, &times, progress.on_tile);
    r.ms.preprocess = times.preprocess_ms;
    r.ms.inference = times.inference_ms;
    r.ms.postprocess = times.postprocess_ms;
    r.tiles = times.tiles;
    r.context_overhead = times.context_overhead;
    r.memory_retries = times.memory_retries;
    r.tile_w = times.tile_w;
    r.tile_h = times.tile_h;
    if (!out) {
      fail_job(i, out.status().with_context(r.job.input));
      return std::nullopt;
    }
    r.out_w = out->width;
    r.out_h = out->height;
    return std::move(*out);
  };
  auto save_stage = [&](int i, Image image) -> bool {
    JobResult& r = results[i];
    if (config.niqe) {
      const auto tq = Clock::now();
      Result<double> q = metrics::niqe(image);
      r.niqe_ms = ms_since(tq);
      if (q.ok())
        r.niqe = *q;
      else
        r.niqe_error = q.status().message();
    }
    r.alpha_dropped = image.has_alpha() && formats[i] == ImageFormat::kJpeg;
    r.depth_reduced = image.bits == 16 && (formats[i] == ImageFormat::kJpeg || formats[i] == ImageFormat::kWebp);
    r.exif_dropped = image.exif.size() > kJpegMaxExifBytes && formats[i] == ImageFormat::kJpeg;
    r.xmp_dropped = image.xmp.size() > kJpegMaxXmpBytes && formats[i] == ImageFormat::kJpeg;
    r.icc_dropped = !image.icc_profile.empty() && !icc_profile_fits_output(image, formats[i]);
    r.colour_dropped = !png_colour_fits_output(image, formats[i]);
    const auto t0 = Clock::now();
    Status written = write_image_file(image, r.job.output, formats[i], config.encode);
    r.ms.encode = ms_since(t0);
    if (!written.ok()) r.status = written.with_context(r.job.output);
    image = Image{};  // free before reporting progress
    finish(i);
    return true;
  };
  auto load = [&](int i) { return guarded(i, results[i].job.input, [&] { return load_stage(i); }); };
  auto process = [&](Processor& processor, int i, const Image& image) {
    return guarded(i, results[i].job.input, [&] { return process_stage(processor, i, image); });
  };
  auto save = [&](int i, Image image) {
    guarded(i, results[i].job.output, [&] { return save_stage(i, std::move(image)); });
  };

  if (n == 1) {
    // One file: nothing to overlap, so no threads to start (a library caller's loop over single files pays no
    // thread start-up), with the OpenMP team a lone process thread would get, restored afterwards.
    struct TeamForThisRun {  // restored however the stages end (a bad_alloc included)
      int caller = omp_get_max_threads();
      explicit TeamForThisRun(int threads) { omp_set_num_threads(threads); }
      ~TeamForThisRun() { omp_set_num_threads(caller); }
      TeamForThisRun(const TeamForThisRun&) = delete;
      TeamForThisRun& operator=(const TeamForThisRun&) = delete;
    } const team(counts.compute);
    if (std::optional<Image> in = load(0))
      if (std::optional<Image> out = process(processors[0], 0, *in)) {
        in.reset();
        save(0, std::move(*out));
      }
    return results;
  }

  BoundedQueue<Item> to_proc(config.queue_depth), to_save(config.queue_depth);
  std::atomic<int> next{0};
  std::vector<std::thread> threads;
  spawn(
      threads, loaders,
      [&] {
        for (int i; (i = next.fetch_add(1)) < n;)
          if (std::optional<Image> image = load(i)) to_proc.push(Item{i, std::move(*image)});
      },
      [&] { to_proc.close(); }, std::make_shared<std::atomic<int>>());

  std::atomic<int> proc_slot{0};
  spawn(
      threads, procs,
      [&] {
        Processor& processor = processors[proc_slot.fetch_add(1)];
        omp_set_num_threads(counts.compute);  // no oversubscription across process threads
        while (auto item = to_proc.pop())
          if (std::optional<Image> out = process(processor, item->index, item->image)) {
            item->image = Image{};
            to_save.push(Item{item->index, std::move(*out)});
          }
        // No more work for this thread: free its executables and their working memory now, while the last
        // images are still being encoded, rather than at the end (lower peak memory).
        processor = Processor();
      },
      [&] { to_save.close(); }, std::make_shared<std::atomic<int>>());

  spawn(
      threads, savers,
      [&] {
        while (auto item = to_save.pop()) save(item->index, std::move(item->image));
      },
      [] {}, std::make_shared<std::atomic<int>>());

  for (std::thread& t : threads) t.join();
  return results;
}

}  // namespace resr::pipeline
