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

Result<std::vector<std::string>> list_video_files(const std::string& dir) {
  std::error_code ec;
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
    if (entry.is_regular_file() && is_video_path(entry.path().string())) files.push_back(entry.path().string());
  if (ec) return Status::error(dir + ": " + ec.message());
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace resr::video
