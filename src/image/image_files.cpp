#include "image/image_files.h"

#include <filesystem>

#include "core/file_names.h"

namespace resr {

bool is_image_file_name(const std::string& path) {
  const std::string ext = lower_extension(path);
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".webp" || ext == ".tif" || ext == ".tiff";
}

Result<std::vector<std::string>> list_image_files(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return Status::error(dir + ": not a folder");
  RESR_ASSIGN_OR_RETURN(std::vector<std::string> files, list_files(dir, is_image_file_name));
  if (files.empty()) return Status::error(dir + ": no .png, .jpg, .webp or .tif images in the folder");
  return files;
}

}  // namespace resr
