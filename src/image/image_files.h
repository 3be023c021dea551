// Finding image files by name: the extensions the codecs read (.png, .jpg, .jpeg, .webp, .tif, .tiff, any case), and
// the sorted list of such files in one folder (not recursive). Folder mode of upscale, bench --contest, eval and
// calibrate all take their inputs this way.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace resr {

bool is_image_file_name(const std::string& path);

// Regular files with an image extension directly inside `dir`, sorted by path. Errors: not a folder, unreadable,
// no image in it ("<dir>: no .png, .jpg, .webp or .tif images in the folder").
[[nodiscard]] Result<std::vector<std::string>> list_image_files(const std::string& dir);

}  // namespace resr
