#include "video/video_path.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

namespace resr::video {

bool is_video_path(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  for (const char* v :
       {".mp4", ".mkv", ".mov", ".webm", ".avi", ".m4v", ".ts", ".mts", ".flv", ".wmv", ".mpg", ".mpeg", ".y4m"})
    if (ext == v) return true;
  return false;
}

}  // namespace resr::video
