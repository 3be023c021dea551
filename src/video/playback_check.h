// Whether a video resr has just written plays back: a video stream of the codec it encoded, whose first frame
// decodes. Some containers take a codec their lists allow and write it so that nothing reads it (HEVC in AVI came
// back as raw video; AV1 in MPEG-TS, with FFmpeg 5.1, as a data stream; raw YUV in MOV as an unknown pixel format),
// and the run ended with exit 0; checked on the finished temporary, before it takes the output's name.
//
//   RESR_RETURN_IF_ERROR(check_plays_back(temp_path, AV_CODEC_ID_HEVC, "avi"));
//
// Error: "the avi container wrote hevc video that reads back as rawvideo (the file would not play); another
// encoder, or a .mkv output". No decoder for the codec in this FFmpeg: only the stream is checked.
#pragma once

#include <string>

#include "core/status.h"
#include "video/av_handles.h"

namespace resr::video {

[[nodiscard]] Status check_plays_back(const std::string& path, AVCodecID encoded, const std::string& container);

}  // namespace resr::video
