// Test clips made and inspected with FFmpeg's libraries directly (not through resr's video code), so that the
// video tests check resr against FFmpeg's own view of the files.
#pragma once

#include <string>
#include <vector>

namespace resr::test {

struct ClipSpec {
  int width = 32, height = 24;
  std::vector<int> frame_ms = {0, 40, 80, 160, 200, 240};  // variable frame times
  bool audio = true;                                       // PCM, 8 kHz mono, a packet per 40 ms
  bool subtitle = true;                                    // one SubRip line "hello" at 100 ms for 500 ms
  bool font = false;                                       // a font attachment (ASS subtitles' fonts), "subs.ttf"
  int rotation = 0;              // degrees: an MP4 with MPEG-4 part 2 video and this display rotation, no other streams
  int bits = 8;                  // 10: FFV1 in yuv420p10le, the same picture at 4x the sample values
  int start_ms = 0;              // added to every stream's times (MPEG-TS recordings start anywhere)
  bool rgb = false;              // FFV1 in packed RGB (bgr0), tagged as such (AVCOL_SPC_RGB), as libx264rgb's output
  bool alpha = false;            // with rgb: BGRA, the fourth byte alpha
  int sar_num = 0, sar_den = 1;  // the video's pixel aspect (0: unknown)
  int damaged_frame = -1;        // this frame's packet replaced by bytes no decoder takes (-1: none)
  int max_cll = 0;               // > 0: HDR10 stream side data: a mastering display (1000 nits) and this MaxCLL
};

// Writes a Matroska clip: FFV1 video (yuv420p, a gradient with a square moving each frame) and the streams
// asked for; or, with a rotation, the MP4 described there. Returns "" or what failed.
std::string write_clip(const std::string& path, const ClipSpec& spec);

struct ProbedPacket {
  long long ms = 0;  // presentation time
  std::string data;
};
struct ProbedStream {
  std::string type, codec;  // "video", "h264"
  int width = 0, height = 0;
  double rotation = 0;                // of its display matrix, degrees (0 when it has none)
  int colour_space = 2;               // AVColorSpace: its matrix tag (2: unspecified)
  int colour_range = 0;               // AVColorRange: 1 limited (tv), 2 full (pc), 0 unspecified
  int sar_num = 0, sar_den = 1;       // its pixel aspect
  double mastering_max_nits = 0;      // of its mastering display metadata (0 when it has none)
  int max_cll = 0;                    // of its content light level metadata (0 when it has none)
  std::vector<ProbedPacket> packets;  // sorted by time
};
// Every stream of a file and its packets; empty when the file does not open.
std::vector<ProbedStream> probe(const std::string& path);

}  // namespace resr::test
