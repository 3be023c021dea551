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

Result<std::vector<std::string>> list_video_files(const std::string& dir) {
  return list_files(dir, is_video_path);
}

}  // namespace resr::video
