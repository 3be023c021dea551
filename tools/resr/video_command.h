// `resr upscale` of a video (-i clip.mp4 -o big.mkv): the model over every frame, through the video plugin
// (src/video/video_plugin.h), loaded only now, so that image work never needs FFmpeg.
#pragma once

#include <string>

#include "engine/upscale.h"
#include "model_options.h"
#include "video/video_writer.h"

namespace resr::cli {

struct VideoCommand {
  ModelOptions model;
  std::string input, output;
  engine::UpscaleSettings settings;  // tiles, scale or size; alpha does not apply (frames are RGB)
  video::VideoOptions video;
  bool verbose = false, profile = false;
  std::string report;  // --report FILE.json: the video form of docs/report-schema.md
};

int run_video_upscale(const VideoCommand& c);

}  // namespace resr::cli
