// The video plugin's exports (video_plugin.h): C linkage, so the loader finds them by name.
#include "core/staged_file.h"
#include "video/video_plugin.h"

extern "C" __attribute__((visibility("default"))) void resr_upscale_video_v7(const resr::video::VideoJob& job,
                                                                             resr::video::VideoReport* report,
                                                                             resr::Status* status) {
  *status = resr::video::upscale_video(job, report);
}

extern "C" __attribute__((visibility("default"))) void resr_remove_staged_temporaries_v1() {
  resr::remove_staged_temporaries();
}

extern "C" __attribute__((visibility("default"))) void resr_give_up_interrupted_writes_v1() {
  resr::give_up_interrupted_writes();
}
