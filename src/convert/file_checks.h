// Checks of the files a conversion or calibration names, made before the long work starts, so that a mistyped
// path fails at once rather than after minutes of calibration or precision search.
#pragma once

#include <string>

#include "core/status.h"

namespace resr::conversion {

// `path` is no folder, and its folder exists and takes a new file (one is created there and removed when `path`
// does not exist: access() alone says yes to root, even in /proc) ("x.calib: cannot write (no folder a/b)"); an
// existing file must be writable ("x.calib: cannot write (the file is not writable)"), as cp asks. A device or pipe,
// or an open descriptor (/dev/stdout), is written into, not replaced: it must be writable itself, whatever its
// folder (/dev) allows.
[[nodiscard]] Status check_writable_file(const std::string& path);

// `path` is an existing, readable regular file ("t.calib: no such file").
[[nodiscard]] Status check_readable_file(const std::string& path);

}  // namespace resr::conversion
