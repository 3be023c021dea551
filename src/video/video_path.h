// Which paths resr treats as videos: by extension, so that images never need the video plugin.
#pragma once

#include <string>

namespace resr::video {

// .mp4, .mkv, .mov, .webm, .avi, .m4v, .ts, .mts, .flv, .wmv, .mpg, .mpeg, .y4m, in any case.
bool is_video_path(const std::string& path);

}  // namespace resr::video
