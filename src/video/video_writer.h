// VideoWriter: encodes upscaled RGB frames into a new video file and copies the source's other streams
// (audio, subtitles, further video) into it unchanged, each packet with its own timestamps. Every stream is moved
// by the input's start time, so the output starts at 0. Frames keep their source timestamps, and each lasts until
// the next (the last as long as the source says, else as the one before), so nothing is dropped, duplicated or
// shifted. A copied packet
// that goes back in time, which muxers refuse, is moved on just past the one before. Encoders that refuse the
// source's time base get the finest one they take (MPEG-4 part 2: 1/60000 s), and MPEG-2, which takes only a
// standard frame rate, 1 / the frame rate: a variable-rate source's frames that would meet on that grid are moved
// on by one step. Y4M gets raw frames. The file is written under a temporary name in the same folder and renamed
// over `path` by finish(); a writer destroyed before that removes it.
//
//   auto w = VideoWriter::open(out, *reader, 4 * reader->width(), 4 * reader->height(), options);
//   (*w)->write_frame(rgb, pts);  (*w)->copy_packet(packet);  ...  (*w)->finish();
//
// Errors are one line (the caller prefixes the file): unknown container or encoder, an unsupported pixel
// format, a failed write.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "image/image.h"
#include "video/video_reader.h"

namespace resr::video {

struct VideoOptions {
  std::string codec;  // an FFmpeg encoder name; empty: libx264, or the container's own (WebM: VP9)
  int crf = 18;       // quality for encoders with a CRF (x264, x265, VP9, AV1): lower is better
  // For encoders with presets (x264's and x265's names, SVT-AV1's numbers, ...); empty: the encoder's own default
  // (medium for x264 and x265). Given to an encoder without presets, it is refused.
  std::string preset;
  // Empty: 4:2:0 where the encoder and even sizes allow (10 bits for sources of more than 8, where the encoder
  // takes it), else the encoder's format closest to RGB.
  std::string pixel_format;
};

class VideoWriter {
 public:
  static Result<std::unique_ptr<VideoWriter>> open(const std::string& path, const VideoReader& source, int width,
                                                   int height, const VideoOptions& options);
  ~VideoWriter();
  VideoWriter(const VideoWriter&) = delete;
  VideoWriter& operator=(const VideoWriter&) = delete;

  // A frame of width x height RGB of the source reader's bits() at `pts`, in the source video stream's time base;
  // `duration` (same base; 0: unknown) is used for the last frame only: the others last until the next.
  Status write_frame(const Image& rgb, std::int64_t pts, std::int64_t duration = 0);
  // A packet of another source stream (its stream_index the source's); one the output does not carry is dropped.
  Status copy_packet(AVPacket& packet);
  // Drains the encoder, completes the file and renames it into place.
  Status finish();

  // The source streams left out (the container cannot hold their codec), one line each, for the user.
  const std::vector<std::string>& dropped_streams() const;
  // The copied streams with packets that went back in time (muxers refuse them), moved on, and the video when its
  // frames' times went back or repeated (each frame moved on past the one before): one line each.
  std::vector<std::string> retimed_streams() const;
  std::string encoder_description() const;  // "libx264 yuv420p crf 18"
  // What the description says, as fields: the encoder, its pixel format, and whether it took the CRF.
  struct EncoderChoice {
    std::string codec, pixel_format;  // "libx264", "yuv420p"
    bool crf = false;
  };
  const EncoderChoice& encoder_choice() const;

 private:
  struct Impl;
  explicit VideoWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace resr::video
