// What a video encoder is given besides the frames: its pixel format, the colour tags (and so the RGB -> YUV
// matrix) and the pixel aspect. Chosen from the source's and the output's sizes, once per video (VideoWriter).
//
//   RESR_ASSIGN_OR_RETURN(AVPixelFormat f, choose_pixel_format(*codec, w, h, bits, options.pixel_format));
//   colour = colour_for(colour, f, h, codec->id);
#pragma once

extern "C" {
#include <libavcodec/avcodec.h>
}

#include <string>

#include "core/status.h"
#include "video/video_reader.h"

namespace resr::video {

// An encoder that lists no pixel formats takes any (rawvideo, and wrapped_avframe for Y4M).
bool supports(const AVCodec& codec, AVPixelFormat f);

// `wanted` (an FFmpeg name) if the encoder takes it and the sizes suit its chroma; else, for "", 4:2:0 where the
// encoder and even sizes allow (10 bits for 16-bit frames where it takes that), else its format closest to RGB.
Result<AVPixelFormat> choose_pixel_format(const AVCodec& codec, int width, int height, int bits,
                                          const std::string& wanted);

// x264's and x265's preset names; other encoders check their own.
bool known_preset(const std::string& codec, const std::string& preset);

// The colour tags and matrix of the output: an RGB format has no matrix; a YUV one needs one swscale has
// coefficients for, so a source tagged RGB or YCgCo (or anything else swscale lacks) gets what players assume
// of an untagged stream of this height. YUV from RGB is limited range, as FFmpeg's own tool makes it, except
// where only full range is right: the yuvj formats, and Motion JPEG (its encoder refuses limited range).
VideoColour colour_for(VideoColour c, AVPixelFormat format, int height, AVCodecID codec);

// The source's pixel aspect, so that the picture keeps its displayed shape when the output's differs from the
// source's (--width and --height): FFmpeg's scale filter does the same. Unknown (0) stays unknown.
AVRational output_pixel_aspect(AVRational sar, int in_w, int in_h, int out_w, int out_h);

}  // namespace resr::video
