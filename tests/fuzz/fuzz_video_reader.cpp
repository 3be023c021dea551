// Build+run: scripts/fuzz.sh video_reader 60   (clang, libFuzzer + ASan/UBSan; FFmpeg itself uninstrumented)
//
// libFuzzer entry point for VideoReader: any file must give frames and packets, or an error, never a crash or
// sanitizer report in resr's code around FFmpeg. Each input is written to a file, as resr opens videos by path.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "core/status.h"
#include "video/video_reader.h"

extern "C" {
#include <libavutil/log.h>
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  av_log_set_level(AV_LOG_QUIET);
  static const std::string path = "/tmp/resr_fuzz_video_" + std::to_string(::getpid());
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  auto reader = resr::video::VideoReader::open(path);
  if (reader.ok()) {
    RESR_ASSERT((*reader)->width() > 0 && (*reader)->height() > 0);
    for (int units = 0; units < 64; ++units) {  // bounded: a few frames exercise every path
      auto unit = (*reader)->next();
      if (!unit.ok() || !*unit) break;
      const resr::video::VideoUnit& u = **unit;
      if (u.is_frame)
        RESR_ASSERT(u.frame.width == (*reader)->width() && u.frame.height == (*reader)->height() &&
                    u.frame.bytes.size() == std::size_t(u.frame.width) * u.frame.height * 3 * (u.frame.bits / 8));
      else
        RESR_ASSERT(u.packet != nullptr);
    }
  }
  return 0;
}
