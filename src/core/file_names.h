// File names as resr sorts them: by extension, in any case ("photo.JPG" is a JPEG, "clip.MP4" a video), and
// folders as the sorted list of the files of one kind directly in them (not recursive); and the one output name
// refused, the input's own.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace resr {

// The extension of the path's file name with its dot, ASCII lower-cased ("a/photo.JPG" -> ".jpg"); empty when it
// has none (std::filesystem's rule: "a/.hidden" has none).
std::string lower_extension(const std::string& path);

// The entries directly inside `dir` whose path `keep` accepts, sorted by path: files, and whatever else is not a
// folder (a dangling link, a FIFO), so that the reader names each one it cannot read instead of it being left out
// unseen. Error: the folder cannot be read ("<dir>: <reason>").
[[nodiscard]] Result<std::vector<std::string>> list_files(const std::string& dir,
                                                          bool (*keep)(const std::string& path));

// Checked before any work, so that a refused output costs nothing: error when `output` is one of `inputs` (the same
// path, or a link to the same file), which writing it would replace ("<output>: the output would overwrite its
// input <input>; choose another output"), or when its file name is longer than its folder takes (255 bytes on most
// file systems), which was found only when the finished file was written ("<output>: file name too long (300
// bytes; the folder takes at most 255)").
[[nodiscard]] Status check_output_path(const std::string& output, const std::vector<std::string>& inputs);

// Whether two paths name one file: links to one existing file, or (where either does not exist yet) the same
// absolute, normalized path.
bool same_file(const std::string& a, const std::string& b);

// One name per file, for finding two jobs with one output: the absolute, normalized path with the links of its
// existing part followed ("./a.png", "a.png" and a link to it give one name).
std::string file_identity(const std::string& path);

// A file a command writes besides its outputs (--report, --json), checked against the files it reads or writes
// (each {"its input", "a.png"}): "<option> <path>: would overwrite <role> <file>; choose another file".
[[nodiscard]] Status check_overwrites_none(const std::string& option, const std::string& path,
                                           const std::vector<std::pair<std::string, std::string>>& kept);

}  // namespace resr
