#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iterator>

#include "video/video_plugin.h"

namespace resr::video {

namespace {

// Where the plugin may be: $RESR_VIDEO_PLUGIN, beside the executable (a carried resr), where `cmake --install`
// puts it (relative to the executable, then under the configured prefix: the installed Python module), the
// build's own bin/ (programs of the build tree that are not in it: Python, tests), then the dynamic loader's paths.
std::string plugin_path() {
  const char* env = std::getenv("RESR_VIDEO_PLUGIN");
  if (env != nullptr && *env != '\0') return env;
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  const fs::path exe_dir = ec ? fs::path() : exe.parent_path();
  const fs::path dirs[] = {exe_dir, exe_dir.empty() ? fs::path() : exe_dir / ".." / RESR_INSTALL_PLUGIN_SUBDIR,
                           fs::path(RESR_INSTALL_PLUGIN_DIR), fs::path(RESR_BUILD_BIN_DIR)};
  for (const fs::path& dir : dirs) {
    const fs::path candidate = dir / kVideoPluginFile;
    if (!dir.empty() && fs::exists(candidate, ec)) return candidate.lexically_normal().string();
  }
  return kVideoPluginFile;
}

}  // namespace

Result<VideoPlugin> load_video_plugin() {
  const std::string name = plugin_path();
  void* lib = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* err = dlerror();
    return Status::error("video needs resr's video plugin " + name +
                         " (built when FFmpeg's libavformat-dev, libavcodec-dev and libswscale-dev are installed), "
                         "which did not load" +
                         (err != nullptr ? std::string(": ") + err : std::string()));
  }
  // Every symbol of this version, or none used: a plugin of another build may lay out the types otherwise.
  const char* const wanted[] = {kUpscaleVideoSymbol, kRemoveTemporariesSymbol, kGiveUpWritesSymbol};
  void* found[std::size(wanted)] = {};
  for (std::size_t i = 0; i < std::size(wanted); ++i) {
    found[i] = dlsym(lib, wanted[i]);
    if (found[i] == nullptr) {
      dlclose(lib);
      return Status::error(name + " has no " + wanted[i] + " (a plugin of another resr version)");
    }
  }
  return VideoPlugin{reinterpret_cast<UpscaleVideoFn>(found[0]), reinterpret_cast<RemoveTemporariesFn>(found[1]),
                     reinterpret_cast<GiveUpWritesFn>(found[2]), name};
}

std::vector<std::string> report_notes(const VideoJob& job, const VideoReport& report) {
  std::vector<std::string> notes;
  // Many fewer frames than declared (beyond what rounding a duration or a variable rate explains): a file cut
  // short. FFmpeg says nothing for some (a cut MPEG-TS), so this is said whether it reported errors or not.
  const std::int64_t declared = report.frames_declared;
  const bool short_of_declared = declared > 0 && report.frames < declared - std::max<std::int64_t>(2, declared / 10);
  const std::string read = std::to_string(report.frames) + " frames were read and written" +
                           (short_of_declared ? ", of about " + std::to_string(declared) +
                                                    " its container declares (the file may be cut short)"
                                              : "");
  // FFmpeg's errors on one line (each was a line of its own, each repeating the frame count).
  if (!report.library_errors.empty()) {
    std::string line = job.input + ": FFmpeg reported ";
    for (std::size_t i = 0; i < report.library_errors.size(); ++i)
      line += (i == 0 ? "\"" : ", \"") + report.library_errors[i] + "\"";
    notes.push_back(line + "; " + read);
  } else if (short_of_declared) {
    notes.push_back(job.input + ": " + read);
  }
  // "stream N (kind, codec): reason", one a stream; the streams of one reason in one note when there are many (200
  // fonts gave 200 lines): the first two named, and the count.
  std::vector<std::pair<std::string, std::vector<std::string>>> by_reason;  // in order of first appearance
  for (const std::string& d : report.dropped_streams) {
    const std::size_t cut = d.find("): ");
    const std::string what = cut == std::string::npos ? d : d.substr(0, cut + 1);
    const std::string why = cut == std::string::npos ? "" : d.substr(cut + 3);
    auto it = std::find_if(by_reason.begin(), by_reason.end(), [&](const auto& r) { return r.first == why; });
    if (it == by_reason.end()) it = by_reason.insert(by_reason.end(), {why, {}});
    it->second.push_back(what);
  }
  for (const auto& [why, streams] : by_reason) {
    if (streams.size() < 4) {
      for (const std::string& what : streams)
        notes.push_back(job.output + ": " + what + (why.empty() ? "" : ": " + why) + ": not copied");
      continue;
    }
    notes.push_back(job.output + ": " + streams[0] + ", " + streams[1] + " and " + std::to_string(streams.size() - 2) +
                    " more streams" + (why.empty() ? "" : ": " + why) + ": not copied");
  }
  for (const std::string& t : report.retimed_streams) notes.push_back(job.input + ": " + t);
  if (!report.damage.empty()) notes.push_back(job.input + ": " + report.damage);
  // An odd side rules out 4:2:0, which the encoders for players are given otherwise: what they get instead (H.264's
  // High 4:4:4, VP9's or AV1's RGB) plays in few players and no browser. Unsaid when the user chose the pixel format.
  const std::string& codec = report.codec;
  const std::string& format = report.pixel_format;
  const bool for_players = codec == "libx264" || codec == "libx265" || codec == "libvpx-vp9" || codec == "libaom-av1" ||
                           codec == "libsvtav1";
  if (job.options.pixel_format.empty() && for_players && !format.empty() && !format.starts_with("yuv420") &&
      (report.out_width % 2 != 0 || report.out_height % 2 != 0))
    notes.push_back(job.output + ": " + std::to_string(report.out_width) + "x" + std::to_string(report.out_height) +
                    " has an odd side, which 4:2:0 cannot take, so the video is " + format + " (not yuv420p)" +
                    ", which few players and no browser play; an even size (-s, --width, --height) gives 4:2:0");
  return notes;
}

}  // namespace resr::video
