// VideoReader: a video file's units in demux order: each frame of its video stream decoded to RGB (8 bits, or
// 16 for sources of more than 8 bits per sample, as 10-bit anime encodes and HDR; with its timestamp, never
// resampled), and the packets of its other streams (audio, subtitles, more video) as they
// are, for the writer to copy.
//
//   auto reader = VideoReader::open("in.mp4");
//   while (true) {
//     auto unit = (*reader)->next();          // Result<std::optional<VideoUnit>>
//     if (!unit) return unit.status();        // "corrupt frame data (Invalid data found ...)"
//     if (!*unit) break;                      // the end
//   }
//
// Errors are one line (the caller prefixes the file): not a video, no video stream, an undecodable stream,
// unreadable data. A damaged packet the decoder refuses is skipped instead, and counted (damage()). The colour
// matrix and range of the RGB conversion come from the stream (BT.709 for untagged streams of 720 lines and
// more, else BT.601; limited range unless tagged full), and colour() gives them to the writer so that the output
// is encoded with the same ones.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/status.h"
#include "image/image.h"

struct AVFormatContext;
struct AVPacket;

namespace resr::video {

struct VideoUnit {
  bool is_frame = false;
  Image frame;                       // is_frame: the video stream's frame, RGB, of bits()
  std::int64_t pts = 0;              // is_frame: its timestamp in the video stream's time base
  std::int64_t duration = 0;         // is_frame: how long it lasts, in that time base, where the stream says; else 0
  std::shared_ptr<AVPacket> packet;  // otherwise: a packet of another stream (stream_index: the input's)
};

// FFmpeg's enum values (AVColorSpace, AVColorRange, AVColorPrimaries, AVColorTransferCharacteristic).
struct VideoColour {
  int space = 0, range = 0, primaries = 0, transfer = 0;
};

// The matrix players assume for an untagged stream: BT.709 (AVCOL_SPC_BT709) from 720 lines, else BT.601
// (AVCOL_SPC_SMPTE170M).
inline int untagged_colour_space(int height) {
  return height >= 720 ? 1 : 6;
}

class VideoReader {
 public:
  static Result<std::unique_ptr<VideoReader>> open(const std::string& path);
  ~VideoReader();
  VideoReader(const VideoReader&) = delete;
  VideoReader& operator=(const VideoReader&) = delete;

  int width() const;
  int height() const;
  int video_stream() const;              // its index among the input's streams
  const AVFormatContext* input() const;  // the streams, for the writer to copy
  VideoColour colour() const;
  int bits() const;  // of the RGB frames: 16 when the source has more than 8 bits per sample, else 8
  // From the container, or its duration times the frame rate (an estimate); 0 when unknown. For progress: the
  // rate may be FFmpeg's guess from the first frames (r_frame_rate: 1000 for a variable-rate Matroska clip).
  std::int64_t frame_count_hint() const;
  // As frame_count_hint, but only from a count or an average rate the container gives; 0 otherwise. For telling a
  // file cut short.
  std::int64_t declared_frame_count() const;
  // Once read: whether the last frame came at 90% or more of the video's duration. Fewer frames than declared are
  // then no cut: the rate the container gives does not describe a variable rate (frames 1 ms and 10 s apart).
  bool reached_its_end_in_time() const;

  // The next unit in demux order (the decoder's delayed frames come at the end); nullopt after the last. Video
  // data the decoder refuses as invalid is skipped, as FFmpeg's own tool does, and counted in damage().
  Result<std::optional<VideoUnit>> next();
  // "" or one line: how many damaged video packets were skipped, and where the first was; and a Y4M's last frame
  // cut short (left out), once the end is reached.
  std::string damage() const;
  // "" or one line: how many times the timestamps jumped (containers that allow it: MPEG-TS), joined so that each
  // part goes on from the one before.
  std::string timestamp_jumps() const;

 private:
  struct Impl;
  explicit VideoReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace resr::video
