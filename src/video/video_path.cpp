#include "video/video_path.h"

#include "core/file_names.h"

namespace resr::video {

bool is_video_path(const std::string& path) {
  const std::string ext = lower_extension(path);
  for (const char* v :
       {".mp4", ".mkv", ".mov", ".webm", ".avi", ".m4v", ".ts", ".mts", ".flv", ".wmv", ".mpg", ".mpeg", ".y4m"})
    if (ext == v) return true;
  return false;
}

}  // namespace resr::video
