#include "image/image_files.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

namespace resr {
namespace fs = std::filesystem;

bool is_image_file_name(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".webp" || ext == ".tif" || ext == ".tiff";
}

Result<std::vector<std::string>> list_image_files(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Status::error(dir + ": not a folder");
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.is_regular_file() && is_image_file_name(entry.path().string())) files.push_back(entry.path().string());
  if (ec) return Status::error(dir + ": " + ec.message());
  std::sort(files.begin(), files.end());
  if (files.empty()) return Status::error(dir + ": no .png, .jpg, .webp or .tif images in the folder");
  return files;
}

}  // namespace resr
