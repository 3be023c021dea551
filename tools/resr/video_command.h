// `resr upscale` of videos (-i clip.mp4 -o big.mkv, or the videos of a folder): the model over every frame,
// through the video plugin (src/video/video_plugin.h), loaded only now, so that image work never needs FFmpeg.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "engine/model_loader.h"
#include "engine/upscale.h"
#include "model_options.h"
#include "video/video_writer.h"

namespace resr::cli {

struct VideoCommand {
  ModelOptions model;
  const engine::LoadedModel* loaded = nullptr;  // the model, when the caller has read it already (else from `model`)
  std::vector<std::pair<std::string, std::string>> files;  // (input, output)
  engine::UpscaleSettings settings;  // tiles, scale or size; alpha does not apply (frames are RGB)
  video::VideoOptions video;
  bool verbose = false, profile = false;
  std::string report;      // --report FILE.json: the video form of docs/report-schema.md
  bool crf_given = false;  // --crf was given: an encoder without a CRF setting gets a note
};

// Loads the model once (unless given) and upscales each video; one that fails is reported and the others go on. Returns
// the exit code: 0 when every video was written.
int run_video_upscale(const VideoCommand& c);

}  // namespace resr::cli
