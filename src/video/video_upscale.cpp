// upscale_video (video_plugin.h): reader -> upscaler -> writer threads. Units keep their demux order on the
// way, so the other streams' packets reach the muxer near the frames they were read with.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <tuple>

#include "core/elapsed.h"
#include "core/exception_status.h"
#include "pipeline/bounded_queue.h"
#include "video/av_handles.h"
#include "video/library_log.h"
#include "video/video_plugin.h"

namespace resr::video {
namespace {

using Clock = std::chrono::steady_clock;

// The first error of any stage; once set, the stages stop working and only drain their queues.
class FirstError {
 public:
  void set(Status s) {
    std::lock_guard lock(mutex_);
    if (status_.ok()) status_ = std::move(s);
    failed_ = true;
  }
  bool failed() const { return failed_; }
  Status get() {
    std::lock_guard lock(mutex_);
    return status_;
  }

 private:
  std::mutex mutex_;
  Status status_;
  std::atomic<bool> failed_{false};
};

// `work()`'s Status, or an exception it throws as one (out of memory; a bug): on the stage threads an exception
// would end the process.
template <class Work>
Status caught(Work&& work) {
  try {
    return work();
  } catch (...) {
    return current_exception_status();
  }
}

// A push between the stage threads, guarded like their work: it allocates (the queue's deque).
template <class Queue>
Status push_caught(Queue& queue, VideoUnit&& unit) {
  return caught([&] {
    queue.push(std::move(unit));
    return ok_status();
  });
}

// A failure with FFmpeg's last logged error added, where the message does not hold it: the error codes alone said
// "cannot write: Invalid argument" where FFmpeg had logged why ("Application provided duration ... is invalid"),
// shown only with -v. (A stop asked for, or memory, is said as it is.)
Status with_library_reason(Status failed) {
  if (failed.ok() || failed.is_stopped() || failed.is_out_of_memory()) return failed;
  const std::vector<std::string> errors = LibraryLog::errors();
  if (errors.empty() || failed.message().find(errors.back()) != std::string::npos) return failed;
  return Status::error(failed.message() + " (FFmpeg: " + errors.back() + ")");
}

Status upscale_video_logged(const VideoJob& job, VideoReport* report) {
  VideoReport r;
  auto opened = VideoReader::open(job.input);
  if (!opened) return opened.status().with_context(job.input);
  const std::unique_ptr<VideoReader> reader = std::move(*opened);
  r.in_width = reader->width();
  r.in_height = reader->height();
  auto size = job.output_size(r.in_width, r.in_height);
  if (!size) return size.status().with_context(job.input);
  std::tie(r.out_width, r.out_height) = *size;
  // FFmpeg's own frame limit, (w + 128) * (h + 128) under 2^28, is below resr's 2^30: said before any work, where
  // the encoder's open said "Invalid argument (IMGUTILS: Picture size 16384x16384 is invalid)".
  if (av_image_check_size(unsigned(r.out_width), unsigned(r.out_height), 0, nullptr) < 0)
    return Status::error(job.output + ": output size " + std::to_string(r.out_width) + "x" +
                         std::to_string(r.out_height) +
                         " is past the largest video frame FFmpeg encodes (about 268 million pixels); ask for a "
                         "smaller one (-s, --width)");
  auto writer = VideoWriter::open(job.output, *reader, r.out_width, r.out_height, job.options);
  if (!writer) return writer.status().with_context(job.output);
  r.encoder = (*writer)->encoder_description();
  r.codec = (*writer)->encoder_choice().codec;
  r.pixel_format = (*writer)->encoder_choice().pixel_format;
  r.crf_used = (*writer)->encoder_choice().crf;
  r.dropped_streams = (*writer)->dropped_streams();

  const std::int64_t total = reader->frame_count_hint();
  r.frames_declared = reader->declared_frame_count();
  // Frames waiting between the stages: a few, fewer when they are huge (an 8K output frame is 200 MB).
  const std::size_t frame_bytes = std::size_t(r.out_width) * r.out_height * 3 * (reader->bits() / 8);
  const std::size_t depth =
      std::clamp<std::size_t>((std::size_t{256} << 20) / std::max<std::size_t>(frame_bytes, 1), 1, 4);
  pipeline::BoundedQueue<VideoUnit> decoded(depth), upscaled(depth);
  FirstError error;
  // A stop asked for (Ctrl-C, a progress callback) fails the job wherever it is noticed: by the reader, or by the
  // writer once the reader is done, up to the moment before the file is completed.
  const auto stopped = [&] {
    if (job.cancel == nullptr || !job.cancel->load()) return false;
    error.set(Status::stopped(job.input + ": interrupted; " + job.output + " not written"));
    return true;
  };
  std::thread read_thread([&] {
    while (!error.failed()) {
      if (stopped()) break;
      const auto t0 = Clock::now();
      std::optional<VideoUnit> unit;
      const Status read = caught([&] {
        Result<std::optional<VideoUnit>> next = reader->next();
        if (next.ok()) unit = std::move(*next);
        return next.status();
      });
      r.decode_ms += ms_since(t0);
      if (!read.ok()) {
        error.set(read.with_context(job.input));
        break;
      }
      if (!unit) break;
      if (const Status pushed = push_caught(decoded, std::move(*unit)); !pushed.ok()) {
        error.set(pushed.with_context(job.input));
        break;
      }
    }
    decoded.close();
  });
  std::thread upscale_thread([&] {
    std::int64_t frame = 0;
    while (auto unit = decoded.pop()) {
      if (error.failed()) continue;  // drain
      if (unit->is_frame) {
        const auto t0 = Clock::now();
        Image out;
        const Status upscaled_ok = caught([&] {
          Result<Image> result = job.upscale(unit->frame);
          if (result.ok()) out = std::move(*result);
          return result.status();
        });
        r.upscale_ms += ms_since(t0);
        if (!upscaled_ok.ok()) {
          error.set(upscaled_ok.with_context(job.input + ": frame " + std::to_string(frame)));
          continue;
        }
        unit->frame = std::move(out);
        ++frame;
      }
      if (const Status pushed = push_caught(upscaled, std::move(*unit)); !pushed.ok())
        error.set(pushed.with_context(job.input));
    }
    upscaled.close();
  });
  while (auto unit = upscaled.pop()) {
    if (error.failed()) continue;
    const auto t0 = Clock::now();
    const Status st = caught([&] {
      return unit->is_frame ? (*writer)->write_frame(unit->frame, unit->pts, unit->duration)
                            : (*writer)->copy_packet(*unit->packet);
    });
    r.encode_ms += ms_since(t0);
    if (!st.ok()) {
      error.set(st.with_context(job.output));
      continue;
    }
    if (unit->is_frame) {
      ++r.frames;
      if (job.on_frame) job.on_frame(r.frames, total);
      stopped();
    }
  }
  read_thread.join();
  upscale_thread.join();
  if (!error.failed()) stopped();
  if (error.failed()) return error.get();
  if (r.frames == 0) {  // with what the reader saw, where there was something (a file ending inside frame 1)
    const std::string damage = reader->damage();
    return Status::error(job.input + ": the video stream has no frames" + (damage.empty() ? "" : " (" + damage + ")"));
  }
  const auto t0 = Clock::now();
  const Status finished = caught([&] { return (*writer)->finish(); });
  r.encode_ms += ms_since(t0);
  if (!finished.ok()) return finished.with_context(job.output);
  r.retimed_streams = (*writer)->retimed_streams();
  if (reader->reached_its_end_in_time()) r.frames_declared = 0;  // fewer frames, but none missing in time
  if (std::string jumps = reader->timestamp_jumps(); !jumps.empty()) r.retimed_streams.push_back(std::move(jumps));
  r.damage = reader->damage();
  r.library_errors = LibraryLog::errors();
  if (report != nullptr) *report = r;
  return ok_status();
}

}  // namespace

Status upscale_video(const VideoJob& job, VideoReport* report) {
  const LibraryLog log(job.library_log);
  return with_library_reason(upscale_video_logged(job, report));
}

}  // namespace resr::video
