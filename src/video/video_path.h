// Which paths resr treats as videos: by extension, so that images never need the video plugin.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace resr::video {

// .mp4, .mkv, .mov, .webm, .avi, .m4v, .ts, .mts, .flv, .wmv, .mpg, .mpeg, .y4m, in any case.
bool is_video_path(const std::string& path);

// The videos directly in a folder, sorted (none: empty). Error: the folder cannot be read.
Result<std::vector<std::string>> list_video_files(const std::string& dir);

}  // namespace resr::video
