// The video plugin's one export (video_plugin.h): C linkage, so the loader finds it by name.
#include "video/video_plugin.h"

extern "C" __attribute__((visibility("default"))) void resr_upscale_video_v3(const resr::video::VideoJob& job,
                                                                             resr::video::VideoReport* report,
                                                                             resr::Status* status) {
  *status = resr::video::upscale_video(job, report);
}
