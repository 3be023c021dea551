#include <dlfcn.h>

#include <filesystem>

#include "video/video_plugin.h"

namespace resr::video {

Result<UpscaleVideoFn> load_video_plugin() {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  const std::filesystem::path beside = ec ? std::filesystem::path() : exe.parent_path() / kVideoPluginFile;
  // Beside the executable (the build's bin/), else wherever the dynamic loader looks.
  const std::string name = !beside.empty() && std::filesystem::exists(beside, ec) ? beside.string() : kVideoPluginFile;
  void* lib = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* err = dlerror();
    return Status::error("video needs resr's video plugin " + name +
                         " (built when FFmpeg's libavformat-dev, libavcodec-dev and libswscale-dev are installed), "
                         "which did not load" +
                         (err != nullptr ? std::string(": ") + err : std::string()));
  }
  void* entry = dlsym(lib, kUpscaleVideoSymbol);
  if (entry == nullptr)
    return Status::error(name + " has no " + kUpscaleVideoSymbol + " (a plugin of another resr version)");
  return reinterpret_cast<UpscaleVideoFn>(entry);
}

}  // namespace resr::video
