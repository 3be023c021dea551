#include "video/encoder_settings.h"

extern "C" {
#include <libavutil/pixdesc.h>
}

#include <climits>
#include <cstdint>

namespace resr::video {

bool supports(const AVCodec& codec, AVPixelFormat f) {
  if (codec.pix_fmts == nullptr) return true;
  for (const AVPixelFormat* p = codec.pix_fmts; *p != AV_PIX_FMT_NONE; ++p)
    if (*p == f) return true;
  return false;
}

Result<AVPixelFormat> choose_pixel_format(const AVCodec& codec, int width, int height, int bits,
                                          const std::string& wanted) {
  if (!wanted.empty()) {
    const AVPixelFormat f = av_get_pix_fmt(wanted.c_str());
    if (f == AV_PIX_FMT_NONE) return Status::error("unknown pixel format '" + wanted + "'");
    if (!supports(codec, f))
      return Status::error("the " + std::string(codec.name) + " encoder cannot take pixel format '" + wanted + "'");
    // Subsampled chroma needs sizes it divides; encoders refuse others with a vague error.
    const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(f);
    const int step_w = 1 << d->log2_chroma_w, step_h = 1 << d->log2_chroma_h;
    if (width % step_w != 0 || height % step_h != 0)
      return Status::error("pixel format '" + wanted + "' needs a width divisible by " + std::to_string(step_w) +
                           " and a height by " + std::to_string(step_h) + "; the output is " + std::to_string(width) +
                           "x" + std::to_string(height));
    return f;
  }
  // 4:2:0 is what players take; it needs even sizes. Deep sources stay deep where the encoder allows.
  const bool even = width % 2 == 0 && height % 2 == 0;
  if (even && bits == 16 && supports(codec, AV_PIX_FMT_YUV420P10)) return AV_PIX_FMT_YUV420P10;
  if (even && supports(codec, AV_PIX_FMT_YUV420P)) return AV_PIX_FMT_YUV420P;
  if (codec.pix_fmts == nullptr) return bits == 16 ? AV_PIX_FMT_YUV444P10 : AV_PIX_FMT_YUV444P;
  const AVPixelFormat f =
      avcodec_find_best_pix_fmt_of_list(codec.pix_fmts, bits == 16 ? AV_PIX_FMT_RGB48 : AV_PIX_FMT_RGB24, 0, nullptr);
  if (f == AV_PIX_FMT_NONE)
    return Status::error("the " + std::string(codec.name) + " encoder takes no RGB-like format");
  return f;
}

bool known_preset(const std::string& codec, const std::string& preset) {
  if (preset.empty() || (codec != "libx264" && codec != "libx265")) return true;
  for (const char* p :
       {"ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo"})
    if (preset == p) return true;
  return false;
}

VideoColour colour_for(VideoColour c, AVPixelFormat format, int height, AVCodecID codec) {
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(format);
  if (d != nullptr && (d->flags & AV_PIX_FMT_FLAG_RGB) != 0) {
    c.space = AVCOL_SPC_RGB;
    c.range = AVCOL_RANGE_JPEG;  // RGB samples span their whole range
    return c;
  }
  if (c.space == AVCOL_SPC_RGB) c.range = AVCOL_RANGE_MPEG;
  const bool full_only = codec == AV_CODEC_ID_MJPEG || format == AV_PIX_FMT_YUVJ420P || format == AV_PIX_FMT_YUVJ422P ||
                         format == AV_PIX_FMT_YUVJ444P || format == AV_PIX_FMT_YUVJ440P ||
                         format == AV_PIX_FMT_YUVJ411P;
  if (full_only) c.range = AVCOL_RANGE_JPEG;
  switch (c.space) {
    case AVCOL_SPC_BT709:
    case AVCOL_SPC_FCC:
    case AVCOL_SPC_BT470BG:
    case AVCOL_SPC_SMPTE170M:
    case AVCOL_SPC_SMPTE240M:
    case AVCOL_SPC_BT2020_NCL:
    case AVCOL_SPC_BT2020_CL:
      return c;
    default:
      c.space = untagged_colour_space(height);
      return c;
  }
}

AVRational output_pixel_aspect(AVRational sar, int in_w, int in_h, int out_w, int out_h) {
  if (sar.num <= 0 || sar.den <= 0 || in_w <= 0 || in_h <= 0) return sar;
  AVRational out{0, 1};
  av_reduce(&out.num, &out.den, std::int64_t(sar.num) * in_w * out_h, std::int64_t(sar.den) * in_h * out_w, INT_MAX);
  return out;
}

}  // namespace resr::video
