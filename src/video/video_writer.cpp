#include "video/video_writer.h"

#include <unistd.h>

extern "C" {
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <optional>
#include <vector>

#include "core/staged_file.h"
#include "video/av_handles.h"
#include "video/encoder_settings.h"
#include "video/library_log.h"
#include "video/playback_check.h"

namespace resr::video {

struct VideoWriter::Impl {
  std::optional<StagedFile> file;     // declared before `output`: its temporary goes after the output is closed
  AVFormatContext* output = nullptr;  // closed in the destructor
  CodecContext encoder;
  ScalerPtr scaler;
  // Two frames: each is held back until the next one's time gives it a duration (MP4 ends the last frame's
  // sample there: without one, players stop at its start and skip it), while the other is filled.
  FramePtr frames[2] = {FramePtr(av_frame_alloc()), FramePtr(av_frame_alloc())};
  int held = -1;                                   // the frame waiting for its duration, or -1
  std::map<std::int64_t, std::int64_t> durations;  // sent frames' pts -> duration, until their packet comes
  std::int64_t last_duration = 0;                  // in the encoder's time base
  std::int64_t held_duration = 0;                  // the last frame written's own, in it; 0: unknown
  PacketPtr packet{av_packet_alloc()};
  std::vector<int> stream_map;  // source stream -> output stream, -1: dropped
  std::vector<AVRational> source_time_base;
  std::vector<std::int64_t> source_start;  // per source stream: the input's start time in its time base
  std::vector<std::int64_t> last_dts;      // per output stream: the last copied packet's
  std::vector<int> moved;                  // per source stream: packets moved on for going back in time
  int source_video = -1;
  AVRational frame_time_base{1, 1};          // the source video's, in which write_frame's pts come
  std::int64_t last_pts = INT64_MIN;         // in the encoder's time base
  std::int64_t last_source_pts = INT64_MIN;  // write_frame's last, in the source's
  int frames_moved = 0;                      // frames whose source time went back or repeated
  int bits = 8;                              // of the RGB frames
  VideoColour colour;
  std::vector<std::string> dropped;
  std::string description;
  EncoderChoice choice;
  std::string video_codec;  // the encoder's codec ("h264"), for the header's errors
  bool flushed = false;     // the encoder was told the stream ended (finish())

  ~Impl() {
    // An encoder given up on (a stop, a failed write, a video without frames) is told the stream ended first:
    // SVT-AV1 closed without that waits forever for its threads, and so does its end of stream before any frame,
    // which then gets one blank frame first.
    if (encoder && avcodec_is_open(encoder.get()) != 0 && !flushed) {
      const HeldLibraryLog quiet;
      const bool svt = std::strcmp(encoder->codec->name, "libsvtav1") == 0, none_sent = last_pts == INT64_MIN;
      if (svt && none_sent && frames[0] && frames[0]->data[0] != nullptr) {
        frames[0]->pts = 0;
        avcodec_send_frame(encoder.get(), frames[0].get());
      }
      if ((svt || !none_sent) && avcodec_send_frame(encoder.get(), nullptr) >= 0)
        while (avcodec_receive_packet(encoder.get(), packet.get()) >= 0) av_packet_unref(packet.get());
    }
    if (output != nullptr) {
      if (output->pb != nullptr) avio_closep(&output->pb);
      avformat_free_context(output);
    }
  }
  Status drain_encoder();
  Status send_held(std::int64_t duration);
  Status prepare_frames();
  Status add_streams(const AVFormatContext& in);
  Status open_encoder(const AVFormatContext& in, int width, int height, const VideoOptions& o);
  Status try_encoder(const AVCodec& codec, const AVFormatContext& in, int width, int height, AVPixelFormat format,
                     AVRational time_base, const VideoOptions& o);
};

namespace {

// "stream 1 (audio, aac)", for the user's notes.
std::string describe_stream(std::size_t index, const AVCodecParameters& c) {
  const char* kind = av_get_media_type_string(c.codec_type);
  return "stream " + std::to_string(index) + " (" + (kind != nullptr ? kind : "unknown") + ", " +
         avcodec_get_name(c.codec_id) + ")";
}

// "29.97", "1e+06": a frame rate as people write it.
std::string format_rate(AVRational rate) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", av_q2d(rate));
  return text;
}

}  // namespace

VideoWriter::VideoWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
VideoWriter::~VideoWriter() = default;

// Y4M: raw frames only, in one video stream, one a tick and with no times (its muxer keeps no codec list).
bool holds_raw_frames(const AVOutputFormat& container) {
  return container.video_codec == AV_CODEC_ID_WRAPPED_AVFRAME;
}

// Containers whose video time base is its frame rate (a frame per tick): AVI, Y4M.
bool frames_on_a_grid(const AVOutputFormat& container) {
  return std::strcmp(container.name, "avi") == 0 || holds_raw_frames(container);
}

// MPEG-TS writes a codec it has no stream type for as private data, which no player reads (PCM audio, text
// subtitles); MPEG-PS (.mpg, .vob) writes any subtitle as a DVD subtitle (SubRip read back as dvd_subtitle). Only
// these are copied into them.
// AV1 only from FFmpeg 6.1: 5.1's muxer wrote it as a data stream.
constexpr AVCodecID kMpegTsCodecs[] = {
#if LIBAVFORMAT_VERSION_INT >= AV_VERSION_INT(60, 16, 100)
    AV_CODEC_ID_AV1,
#endif
    AV_CODEC_ID_MPEG1VIDEO, AV_CODEC_ID_MPEG2VIDEO, AV_CODEC_ID_MPEG4,        AV_CODEC_ID_H264,
    AV_CODEC_ID_HEVC,       AV_CODEC_ID_VC1,        AV_CODEC_ID_DIRAC,        AV_CODEC_ID_CAVS,
    AV_CODEC_ID_MP2,        AV_CODEC_ID_MP3,        AV_CODEC_ID_AAC,          AV_CODEC_ID_AAC_LATM,
    AV_CODEC_ID_AC3,        AV_CODEC_ID_EAC3,       AV_CODEC_ID_DTS,          AV_CODEC_ID_TRUEHD,
    AV_CODEC_ID_OPUS,       AV_CODEC_ID_S302M,      AV_CODEC_ID_DVB_SUBTITLE, AV_CODEC_ID_DVB_TELETEXT};
constexpr AVCodecID kMpegPsCodecs[] = {AV_CODEC_ID_MPEG1VIDEO, AV_CODEC_ID_MPEG2VIDEO, AV_CODEC_ID_MPEG4,
                                       AV_CODEC_ID_H264,       AV_CODEC_ID_MP1,        AV_CODEC_ID_MP2,
                                       AV_CODEC_ID_MP3,        AV_CODEC_ID_AC3,        AV_CODEC_ID_DTS,
                                       AV_CODEC_ID_PCM_S16BE,  AV_CODEC_ID_PCM_DVD,    AV_CODEC_ID_DVD_SUBTITLE};

template <std::size_t N>
bool listed(const AVCodecID (&codecs)[N], AVCodecID codec) {
  return std::find(std::begin(codecs), std::end(codecs), codec) != std::end(codecs);
}

bool is_mpeg_ps(const std::string& name) {
  return name == "mpeg" || name == "vob" || name == "dvd" || name == "svcd" || name == "vcd";
}

// MPEG-TS and MPEG-PS: their muxers keep no codec list and write any header, so the lists above are final.
bool lists_are_ours(const AVOutputFormat& container) {
  return std::strcmp(container.name, "mpegts") == 0 || is_mpeg_ps(container.name);
}

// Whether a container can hold a codec: FFmpeg answers 1 (yes), 0 (no), or a negative error where the muxer
// keeps no list (MPEG-TS, MPEG-PS): those take the codecs they have a stream type for (the rest they would write as
// data no player reads), and header_takes tries them.
bool may_hold(const AVOutputFormat& container, AVCodecID codec) {
  if (std::strcmp(container.name, "mpegts") == 0) return listed(kMpegTsCodecs, codec);
  // MOV's tag list has AV1 and VP9, but its muxer takes them only in MP4 ("only supported in MP4"), refusing the
  // header once the encoder runs: SVT-AV1 then hung, closed before its first frame.
  if (std::strcmp(container.name, "mov") == 0 && (codec == AV_CODEC_ID_AV1 || codec == AV_CODEC_ID_VP9)) return false;
  if (is_mpeg_ps(container.name)) return listed(kMpegPsCodecs, codec);
  return avformat_query_codec(&container, codec, FF_COMPLIANCE_NORMAL) != 0;
}

// Whether the container's muxer writes its header with this stream alone, into memory: some refuse only there
// (FLAC in MP4 is experimental; MOV takes no FLAC or Opus; MPEG-PS no AAC), and a refusal there failed the whole
// video with the muxer's bare "Invalid argument". Its complaints are dropped; the stream is named instead.
bool header_takes(const AVOutputFormat& container, const AVCodecParameters& params, AVRational time_base) {
  const HeldLibraryLog quiet;
  AVFormatContext* probe = nullptr;
  if (avformat_alloc_output_context2(&probe, &container, nullptr, nullptr) < 0 || probe == nullptr) return false;
  bool ok = false;
  AVStream* st = avformat_new_stream(probe, nullptr);
  if (st != nullptr && avcodec_parameters_copy(st->codecpar, &params) >= 0 && avio_open_dyn_buf(&probe->pb) >= 0) {
    st->codecpar->codec_tag = 0;
    st->time_base = time_base;
    ok = avformat_write_header(probe, nullptr) >= 0;
    std::uint8_t* bytes = nullptr;
    avio_close_dyn_buf(probe->pb, &bytes);
    av_free(bytes);
    probe->pb = nullptr;
  }
  avformat_free_context(probe);
  return ok;
}
bool header_takes(const AVOutputFormat& container, const AVStream& source) {
  return header_takes(container, *source.codecpar, source.time_base);
}

// Whether the container takes video of this codec, as the muxer's header answers (see header_takes), for a codec
// FFmpeg's lists say it does not hold: MOV and AVI write FFV1, HuffYUV or ProRes all the same, with their own tags.
// (Not for every codec: a header may also want what only the encoder gives, as H.264 in Matroska its extradata.)
bool header_takes_video(const AVOutputFormat& container, AVCodecID codec, int width, int height, AVPixelFormat format) {
  AVCodecParameters* params = avcodec_parameters_alloc();
  if (params == nullptr) return true;  // out of memory here: the real header says
  params->codec_type = AVMEDIA_TYPE_VIDEO;
  params->codec_id = codec;
  params->width = width;
  params->height = height;
  params->format = format;
  const bool ok = header_takes(container, *params, AVRational{1, 25});
  avcodec_parameters_free(&params);
  return ok;
}

// The encoder when none is named: x264 where the container holds H.264 (most do), else the container's own
// (WebM: VP9).
Result<std::string> default_encoder(const AVOutputFormat& container) {
  if (holds_raw_frames(container)) return std::string(avcodec_get_name(AV_CODEC_ID_WRAPPED_AVFRAME));
  if (may_hold(container, AV_CODEC_ID_H264) && avcodec_find_encoder_by_name("libx264") != nullptr)
    return std::string("libx264");
  const AVCodec* own = avcodec_find_encoder(container.video_codec);
  if (own == nullptr)
    return Status::error("no encoder here for the " + std::string(container.name) +
                         " container's video; name one (--vcodec, or VideoSettings::codec)");
  return std::string(own->name);
}

Status VideoWriter::Impl::open_encoder(const AVFormatContext& in, int width, int height, const VideoOptions& options) {
  VideoOptions o = options;
  if (o.codec.empty()) {
    RESR_ASSIGN_OR_RETURN(o.codec, default_encoder(*output->oformat));
  }
  const AVCodec* codec = avcodec_find_encoder_by_name(o.codec.c_str());
  if (codec == nullptr || codec->type != AVMEDIA_TYPE_VIDEO)
    return Status::error("no video encoder named '" + o.codec + "' in this FFmpeg");
  RESR_ASSIGN_OR_RETURN(const AVPixelFormat format, choose_pixel_format(*codec, width, height, bits, o.pixel_format));
  // Said here by name: the muxer's own refusal comes at the header, as a bare "Invalid argument".
  video_codec = avcodec_get_name(codec->id);
  // Y4M holds raw frames only: any encoder was refused at the header, once running (SVT-AV1 then hung).
  if (holds_raw_frames(*output->oformat) && codec->id != AV_CODEC_ID_WRAPPED_AVFRAME)
    return Status::error("the " + std::string(output->oformat->name) + " container holds raw frames only (--vcodec " +
                         o.codec + "); leave --vcodec out, or write a .mkv");
  // MPEG-TS and MPEG-PS write any header, and video they have no stream type for as data no player reads.
  const AVOutputFormat& container = *output->oformat;
  if (!may_hold(container, codec->id) &&
      (lists_are_ours(container) || !header_takes_video(container, codec->id, width, height, format)))
    return Status::error("the " + std::string(container.name) + " container cannot hold " +
                         avcodec_get_name(codec->id) + " video (--vcodec " + o.codec +
                         "); another encoder, or a .mkv output, which holds any");
  colour = colour_for(colour, format, height, codec->id);
  if (!known_preset(o.codec, o.preset))  // x264 itself prints a bad preset's error on stderr: refused first
    return Status::error("the " + o.codec + " encoder has no preset '" + o.preset + "'");
  // x265 (3.5) writes past its buffers and crashes on frames smaller than one 64-pixel block both ways.
  if (o.codec == "libx265" && width < 64 && height < 64)
    return Status::error("the libx265 encoder crashes on frames smaller than 64x64; the output is " +
                         std::to_string(width) + "x" + std::to_string(height) + " (libx264 or ffv1 take it)");
  const AVStream& s = *in.streams[source_video];
  frame_time_base = s.time_base;
  // The source's timestamps pass through unchanged where the encoder takes its time base. Some refuse
  // MPEG-TS's or MP4's 1/90000: MPEG-4 part 2 takes at most 1/65535, so it gets 1/60000 (a multiple of the
  // common frame rates; no two frames meet); MPEG-2 takes only standard frame rates, so it gets 1 / the frame
  // rate, and a variable-rate source is retimed to that grid. What a refused attempt logs is dropped.
  const AVRational rate = av_guess_frame_rate(const_cast<AVFormatContext*>(&in), const_cast<AVStream*>(&s), nullptr);
  std::vector<AVRational> bases = {s.time_base};
  // AVI and Y4M count frames: their time base is the frame rate (AVI wrote 1000 fps of mostly empty frames from a
  // Matroska source, and Y4M's header declared it). Frames that meet on that grid move on by one.
  if (frames_on_a_grid(*output->oformat) && rate.num > 0 && rate.den > 0) bases.insert(bases.begin(), av_inv_q(rate));
  if (s.time_base.den > 65535) bases.push_back({1, 60000});
  if (rate.num > 0 && rate.den > 0 && av_cmp_q(av_inv_q(rate), bases.back()) != 0 &&
      av_cmp_q(av_inv_q(rate), bases.front()) != 0)
    bases.push_back(av_inv_q(rate));
  Status opened;
  for (std::size_t i = 0; i < bases.size(); ++i) {
    HeldLibraryLog held;  // a refused attempt's complaints are dropped; the last attempt's, and a success's, kept
    opened = try_encoder(*codec, in, width, height, format, bases[i], o);
    if (opened.ok() || i + 1 == bases.size()) held.keep();
    if (!opened.ok() && i + 1 == bases.size()) {
      // The encoder's own reason ("invalid width x height (17000x64)") is in its log, not in its return code
      // ("Generic error in an external library").
      const auto reason = std::find_if(held.messages.begin(), held.messages.end(),
                                       [](const HeldLibraryLog::Message& m) { return !m.error.empty(); });
      if (reason != held.messages.end()) opened = Status::error(opened.message() + " (" + reason->error + ")");
    }
    if (!opened.ok()) continue;
    if (i > 0) {
      char step[96];
      std::snprintf(step, sizeof step, " (frame times rounded to steps of %d/%d s)", bases[i].num, bases[i].den);
      description += step;
    }
    return opened;
  }
  return opened;
}

Status VideoWriter::Impl::try_encoder(const AVCodec& codec, const AVFormatContext& in, int width, int height,
                                      AVPixelFormat format, AVRational time_base, const VideoOptions& o) {
  const AVStream& s = *in.streams[source_video];
  encoder.reset(avcodec_alloc_context3(&codec));  // a context whose open failed is not opened again
  if (!encoder) return Status::error("out of memory");
  AVCodecContext& e = *encoder;
  e.width = width;
  e.height = height;
  e.pix_fmt = format;
  e.time_base = time_base;
  e.framerate = av_guess_frame_rate(const_cast<AVFormatContext*>(&in), const_cast<AVStream*>(&s), nullptr);
  const AVRational sar =  // the container's where it has one (Matroska), else the codec's
      av_guess_sample_aspect_ratio(const_cast<AVFormatContext*>(&in), const_cast<AVStream*>(&s), nullptr);
  e.sample_aspect_ratio = output_pixel_aspect(sar, s.codecpar->width, s.codecpar->height, width, height);
  e.colorspace = AVColorSpace(colour.space);
  e.color_range = AVColorRange(colour.range);
  e.color_primaries = AVColorPrimaries(colour.primaries);
  e.color_trc = AVColorTransferCharacteristic(colour.transfer);
  e.thread_count = 0;
  if ((output->oformat->flags & AVFMT_GLOBALHEADER) != 0) e.flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  // AVI keeps no presentation times: reordered (B) frames would come back late by the reordering delay.
  if (frames_on_a_grid(*output->oformat)) e.max_b_frames = 0;
  description = o.codec + " " + av_get_pix_fmt_name(format);
  choice = {o.codec, av_get_pix_fmt_name(format), false};
  if (av_opt_find(e.priv_data, "crf", nullptr, 0, 0) != nullptr) {
    // x264 and x265 take any number here and use 51 for more (VP9 and AV1 go to 63): refused rather than changed.
    if ((o.codec.rfind("libx264", 0) == 0 || o.codec == "libx265") && o.crf > 51)  // libx264rgb too
      return Status::error("the " + o.codec + " encoder takes crf 0 to 51, got " + std::to_string(o.crf));
    if (av_opt_set_int(e.priv_data, "crf", o.crf, 0) < 0)
      return Status::error("the " + o.codec + " encoder refuses crf " + std::to_string(o.crf));
    description += " crf " + std::to_string(o.crf);
    choice.crf = true;
  }
  std::string with_preset;
  if (!o.preset.empty()) {  // else the encoder's own default, which for x264 and x265 is medium
    if (av_opt_find(e.priv_data, "preset", nullptr, 0, 0) == nullptr)
      return Status::error("the " + o.codec + " encoder has no presets (--preset " + o.preset + ")");
    if (av_opt_set(e.priv_data, "preset", o.preset.c_str(), 0) < 0)
      return Status::error("the " + o.codec + " encoder has no preset '" + o.preset + "'");
    with_preset = " with preset '" + o.preset + "'";
  }
  // x265 prints its settings, statistics and advice (some 27 lines) on stderr itself, past FFmpeg's log: errors only.
  if (o.codec == "libx265") av_opt_set(e.priv_data, "x265-params", "log-level=error", 0);
  // SVT-AV1 prints its banner and configuration (some 15 lines) likewise, by its own log level from the environment:
  // errors only, unless the user set it.
  if (o.codec == "libsvtav1") ::setenv("SVT_LOG", "1", /*overwrite=*/0);
  const int rc = avcodec_open2(&e, &codec, nullptr);
  if (rc < 0) return Status::error("cannot open the " + o.codec + " encoder" + with_preset + ": " + av_error_text(rc));
  return ok_status();
}

Status VideoWriter::Impl::add_streams(const AVFormatContext& in) {
  stream_map.assign(in.nb_streams, -1);
  moved.assign(in.nb_streams, 0);
  // The output starts at 0 where the input starts (an MPEG-TS recording may start hours in), every stream moved by
  // the same time, so they stay in step.
  const std::int64_t start = in.start_time == AV_NOPTS_VALUE ? 0 : in.start_time;
  for (unsigned i = 0; i < in.nb_streams; ++i) {
    const AVStream& s = *in.streams[i];
    source_time_base.push_back(s.time_base);
    source_start.push_back(av_rescale_q(start, AV_TIME_BASE_Q, s.time_base));
    const bool video = int(i) == source_video;
    const AVMediaType type = s.codecpar->codec_type;
    const std::string what = describe_stream(i, *s.codecpar);
    if (video) {  // frames are upscaled as RGB: an alpha channel is left out, and said so
      const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(AVPixelFormat(s.codecpar->format));
      if (d != nullptr && (d->flags & AV_PIX_FMT_FLAG_ALPHA) != 0) dropped.push_back(what + ": its alpha channel");
      // Fields are upscaled together as one picture (combed where they differ); the output is progressive.
      const AVFieldOrder field = s.codecpar->field_order;
      if (field != AV_FIELD_UNKNOWN && field != AV_FIELD_PROGRESSIVE)
        dropped.push_back(what +
                          ": its field order (interlaced: each frame's two fields are upscaled as one picture and "
                          "the output is progressive; deinterlace first)");
      // FFmpeg 5.1's Matroska muxer writes no display matrix: a phone clip's rotation would be lost silently.
      const bool writes_no_rotation =
          std::strcmp(output->oformat->name, "matroska") == 0 || std::strcmp(output->oformat->name, "webm") == 0;
      for (int k = 0; writes_no_rotation && k < s.nb_side_data; ++k)
        if (s.side_data[k].type == AV_PKT_DATA_DISPLAYMATRIX)
          dropped.push_back(what + ": its display rotation (the " + std::string(output->oformat->name) +
                            " container of this FFmpeg cannot hold it; .mp4 and .mov keep it)");
    } else if (type == AVMEDIA_TYPE_ATTACHMENT && std::strcmp(output->oformat->name, "matroska") == 0) {
      // Fonts an anime encode's ASS subtitles are drawn with: Matroska to Matroska keeps them (they have no
      // packets; the muxer writes each stream's extradata with its filename and mimetype tags).
    } else {
      if (type != AVMEDIA_TYPE_AUDIO && type != AVMEDIA_TYPE_SUBTITLE && type != AVMEDIA_TYPE_VIDEO) {
        dropped.push_back(what + ": not audio, video or subtitles");
        continue;
      }
      if (holds_raw_frames(*output->oformat)) {  // Y4M: one raw video stream
        dropped.push_back(what + ": the " + std::string(output->oformat->name) +
                          " container holds one video stream only (Matroska, .mkv, holds any stream)");
        continue;
      }
      if ((s.disposition & AV_DISPOSITION_ATTACHED_PIC) != 0) {
        dropped.push_back(what + ": a cover picture");
        continue;
      }
      if (!may_hold(*output->oformat, s.codecpar->codec_id) || !header_takes(*output->oformat, s)) {
        const bool matroska = std::strcmp(output->oformat->name, "matroska") == 0;
        dropped.push_back(what + ": the " + std::string(output->oformat->name) + " container cannot hold it" +
                          (matroska ? "" : " (Matroska, .mkv, holds any stream)"));
        continue;
      }
    }
    AVStream* out = avformat_new_stream(output, nullptr);
    if (out == nullptr) return Status::error("out of memory");
    int rc = video ? avcodec_parameters_from_context(out->codecpar, encoder.get())
                   : avcodec_parameters_copy(out->codecpar, s.codecpar);
    if (rc < 0) return Status::error("cannot set up output stream " + std::to_string(i) + ": " + av_error_text(rc));
    if (!video) out->codecpar->codec_tag = 0;
    out->time_base = video ? encoder->time_base : s.time_base;
    // Not the cover-picture mark, when the only video was a cover: the MP4 muxer then looked for a cover image
    // ("cannot write the container header: Invalid argument").
    out->disposition = video ? s.disposition & ~AV_DISPOSITION_ATTACHED_PIC : s.disposition;
    out->sample_aspect_ratio = video ? encoder->sample_aspect_ratio : s.sample_aspect_ratio;
    if (video && encoder->framerate.num > 0 && encoder->framerate.den > 0)
      out->avg_frame_rate = encoder->framerate;  // Matroska's DefaultDuration; players and later tools read it
    av_dict_copy(&out->metadata, s.metadata, 0);
    // The source encoder's name and mkvmerge's statistics describe the old stream, not the new one.
    if (video)
      for (const char* stale : {"ENCODER", "BPS", "DURATION", "NUMBER_OF_FRAMES", "NUMBER_OF_BYTES",
                                "_STATISTICS_WRITING_APP", "_STATISTICS_WRITING_DATE_UTC", "_STATISTICS_TAGS"})
        av_dict_set(&out->metadata, stale, nullptr, 0);
    // Stream side data: a copied stream keeps all of it; the new video keeps its display rotation (phones) and
    // its HDR10 metadata (mastering display, content light levels), which upscaling leaves true.
    for (int k = 0; k < s.nb_side_data; ++k) {
      const AVPacketSideData& d = s.side_data[k];
      if (video && d.type != AV_PKT_DATA_DISPLAYMATRIX && d.type != AV_PKT_DATA_MASTERING_DISPLAY_METADATA &&
          d.type != AV_PKT_DATA_CONTENT_LIGHT_LEVEL)
        continue;
      std::uint8_t* copy = av_stream_new_side_data(out, d.type, d.size);
      if (copy == nullptr) return Status::error("out of memory");
      std::memcpy(copy, d.data, d.size);
    }
    stream_map[i] = out->index;
  }
  last_dts.assign(output->nb_streams, AV_NOPTS_VALUE);
  return ok_status();
}

Result<std::unique_ptr<VideoWriter>> VideoWriter::open(const std::string& path, const VideoReader& source, int width,
                                                       int height, const VideoOptions& options) {
  auto impl = std::make_unique<Impl>();
  if (!impl->frames[0] || !impl->frames[1] || !impl->packet) return Status::error("out of memory");
  if (options.crf < 0 || options.crf > 63)
    return Status::error("crf must be in [0, 63], got " + std::to_string(options.crf));
  impl->source_video = source.video_stream();
  impl->colour = source.colour();
  impl->bits = source.bits();
  int rc = avformat_alloc_output_context2(&impl->output, nullptr, nullptr, path.c_str());
  if (rc < 0 || impl->output == nullptr)
    return Status::error("no video container for this file name's extension (" + av_error_text(rc) + ")");
  // FFmpeg's Y4M writer takes more than 8 bits a sample (C420p10, ...) only when told that files other programs
  // may not read are fine; resr reads them, and so do x264, x265 and FFmpeg.
  if (holds_raw_frames(*impl->output->oformat)) impl->output->strict_std_compliance = FF_COMPLIANCE_UNOFFICIAL;
  const AVFormatContext& in = *source.input();
  RESR_RETURN_IF_ERROR(impl->open_encoder(in, width, height, options));
  RESR_RETURN_IF_ERROR(impl->prepare_frames());
  RESR_RETURN_IF_ERROR(impl->add_streams(in));
  av_dict_copy(&impl->output->metadata, in.metadata, 0);
  impl->file.emplace(path);
  rc = avio_open(&impl->output->pb, impl->file->temp_path().c_str(), AVIO_FLAG_WRITE);
  if (rc < 0) return Status::error("cannot create: " + av_error_text(rc));
  rc = avformat_write_header(impl->output, nullptr);
  if (rc < 0)  // where the codec lists said yes or "unknown" (VP9 in MOV, anything but raw frames in Y4M)
    return Status::error("cannot write the container header: " + av_error_text(rc) + " (does the " +
                         impl->output->oformat->name + " container hold " + impl->video_codec +
                         " video? a .mkv output holds any)");
  // Some containers fix their own tick (Matroska, WebM and FLV count milliseconds) whatever the source does: frames
  // closer than a tick would meet.
  const AVRational rate = impl->encoder->framerate;
  const AVRational tick = impl->output->streams[impl->stream_map[impl->source_video]]->time_base;
  if (rate.num > 0 && rate.den > 0 && av_cmp_q(tick, av_inv_q(rate)) > 0)
    return Status::error("the source's " + format_rate(rate) + " fps is finer than the " + impl->output->oformat->name +
                         " container's timestamps (" + std::to_string(tick.num) + "/" + std::to_string(tick.den) +
                         " s): its frames would meet; write .mp4 or .mov");
  return std::unique_ptr<VideoWriter>(new VideoWriter(std::move(impl)));
}

// The RGB -> encoder conversion with the source's matrix and range, and the frame it fills: set up once.
Status VideoWriter::Impl::prepare_frames() {
  const AVCodecContext& e = *encoder;
  const AVPixelFormat rgb_format = bits == 16 ? AV_PIX_FMT_RGB48 : AV_PIX_FMT_RGB24;
  scaler.reset(sws_getContext(e.width, e.height, rgb_format, e.width, e.height, e.pix_fmt,
                              SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INP, nullptr, nullptr, nullptr));
  if (!scaler) return Status::error("cannot convert RGB to " + std::string(av_get_pix_fmt_name(e.pix_fmt)));
  const int* yuv = sws_getCoefficients(colour.space);
  sws_setColorspaceDetails(scaler.get(), yuv, 1, yuv, colour.range == AVCOL_RANGE_JPEG ? 1 : 0, 0, 1 << 16, 1 << 16);
  for (FramePtr& frame : frames) {
    frame->format = e.pix_fmt;
    frame->width = e.width;
    frame->height = e.height;
    if (av_frame_get_buffer(frame.get(), 0) < 0) return Status::error("out of memory for a frame");
  }
  return ok_status();
}

Status VideoWriter::Impl::drain_encoder() {
  while (true) {
    int rc = avcodec_receive_packet(encoder.get(), packet.get());
    if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return ok_status();
    if (rc < 0) return Status::error("encoding failed: " + av_error_text(rc));
    if (const auto d = durations.find(packet->pts); d != durations.end()) {
      if (packet->duration <= 0) packet->duration = d->second;
      durations.erase(d);
    }
    const int out = stream_map[source_video];
    av_packet_rescale_ts(packet.get(), encoder->time_base, output->streams[out]->time_base);
    packet->stream_index = out;
    rc = av_interleaved_write_frame(output, packet.get());
    if (rc < 0) return Status::error("cannot write: " + av_error_text(rc));
  }
}

Status VideoWriter::write_frame(const Image& rgb, std::int64_t pts, std::int64_t duration) {
  Impl& m = *impl_;
  AVCodecContext& e = *m.encoder;
  if (rgb.width != e.width || rgb.height != e.height || rgb.channels != 3 || rgb.bits != m.bits)
    return Status::error("internal: a frame of " + std::to_string(rgb.width) + "x" + std::to_string(rgb.height) +
                         " where the encoder takes " + std::to_string(e.width) + "x" + std::to_string(e.height));
  AVFrame& f = *m.frames[m.held == 0 ? 1 : 0];  // the one not held back
  // The encoder may still hold this frame's buffers from before: a fresh one only then.
  if (av_frame_make_writable(&f) < 0) return Status::error("out of memory for a frame");
  const std::uint8_t* src[4] = {rgb.bytes.data(), nullptr, nullptr, nullptr};
  const int src_stride[4] = {rgb.width * 3 * (m.bits / 8), 0, 0, 0};
  sws_scale(m.scaler.get(), src, src_stride, 0, rgb.height, f.data, f.linesize);
  // Rounded to a coarser encoder time base, two close frames of a variable rate may meet: the later one moves
  // on by one tick, as the encoder takes only increasing times.
  const std::int64_t from_start = pts - m.source_start[std::size_t(m.source_video)];
  if (m.last_source_pts != INT64_MIN && pts <= m.last_source_pts) ++m.frames_moved;  // said (retimed_streams)
  m.last_source_pts = std::max(m.last_source_pts, pts);
  f.pts = std::max(av_rescale_q(from_start, m.frame_time_base, e.time_base),
                   m.last_pts == INT64_MIN ? INT64_MIN : m.last_pts + 1);
  m.last_pts = f.pts;
  m.held_duration =
      duration > 0 ? std::max<std::int64_t>(av_rescale_q(duration, m.frame_time_base, e.time_base), 1) : 0;
  if (m.held >= 0) RESR_RETURN_IF_ERROR(m.send_held(f.pts - m.frames[m.held]->pts));
  m.held = &f == m.frames[0].get() ? 0 : 1;
  return ok_status();
}

// Sends the held frame with its duration (kept for its packet: encoders do not carry it through). Y4M keeps no
// times, one frame a tick: a frame lasting several ticks (a variable-rate source's gap) is sent once a tick, up to
// 1 GiB of frames, where the gap was closed up and every later frame came early.
Status VideoWriter::Impl::send_held(std::int64_t duration) {
  AVFrame& f = *frames[held];
  held = -1;
  const bool untimed = encoder->codec_id == AV_CODEC_ID_WRAPPED_AVFRAME;
  // At most 1 GiB of repeats: a timestamp jump (a joined stream, a bogus duration) is damage, not a pause to replay.
  const std::int64_t frame_bytes = std::max(1, av_image_get_buffer_size(AVPixelFormat(f.format), f.width, f.height, 1));
  const std::int64_t max_repeats = std::max<std::int64_t>(1, (std::int64_t{1} << 30) / frame_bytes);
  const std::int64_t times = untimed ? std::clamp<std::int64_t>(duration, 1, max_repeats) : 1;
  const std::int64_t first = f.pts;
  for (std::int64_t k = 0; k < times; ++k) {
    f.pts = first + k;
    durations[f.pts] = last_duration = times > 1 ? 1 : duration;
    const int rc = avcodec_send_frame(encoder.get(), &f);
    if (rc < 0) return Status::error("encoding failed: " + av_error_text(rc));
    RESR_RETURN_IF_ERROR(drain_encoder());
  }
  return ok_status();
}

Status VideoWriter::copy_packet(AVPacket& p) {
  Impl& m = *impl_;
  if (p.stream_index < 0 || std::size_t(p.stream_index) >= m.stream_map.size() || m.stream_map[p.stream_index] < 0)
    return ok_status();
  const int out = m.stream_map[p.stream_index];
  const std::int64_t start = m.source_start[std::size_t(p.stream_index)];
  if (p.pts != AV_NOPTS_VALUE) p.pts -= start;
  if (p.dts != AV_NOPTS_VALUE) p.dts -= start;
  const AVStream& o = *m.output->streams[out];
  av_packet_rescale_ts(&p, m.source_time_base[p.stream_index], o.time_base);
  // Muxers refuse a packet that goes back in time (audio and video: nor one at the same time, unless the container
  // allows it), and one would fail the whole video: it is moved on just past the one before, as FFmpeg's own tool
  // does, and counted for a note.
  std::int64_t& last = m.last_dts[std::size_t(out)];
  if (p.dts != AV_NOPTS_VALUE && last != AV_NOPTS_VALUE) {
    const AVMediaType type = o.codecpar->codec_type;
    const bool strict = (m.output->oformat->flags & AVFMT_TS_NONSTRICT) == 0 && type != AVMEDIA_TYPE_SUBTITLE &&
                        type != AVMEDIA_TYPE_DATA;
    const std::int64_t least = strict ? last + 1 : last;
    if (p.dts < least) {
      if (p.pts != AV_NOPTS_VALUE) p.pts += least - p.dts;
      p.dts = least;
      ++m.moved[std::size_t(p.stream_index)];
    }
  }
  if (p.dts != AV_NOPTS_VALUE) last = p.dts;
  p.stream_index = out;
  p.pos = -1;
  const int rc = av_interleaved_write_frame(m.output, &p);
  if (rc < 0) return Status::error("cannot write: " + av_error_text(rc));
  return ok_status();
}

Status VideoWriter::finish() {
  Impl& m = *impl_;
  if (m.held >= 0) {  // the last frame lasts as the source says, else as long as the one before, or one frame period
    const AVCodecContext& e = *m.encoder;
    std::int64_t duration = m.held_duration > 0 ? m.held_duration : m.last_duration;
    if (duration <= 0 && e.framerate.num > 0 && e.framerate.den > 0)
      duration = av_rescale_q(1, av_inv_q(e.framerate), e.time_base);
    RESR_RETURN_IF_ERROR(m.send_held(std::max<std::int64_t>(duration, 1)));
  }
  int rc = avcodec_send_frame(m.encoder.get(), nullptr);
  m.flushed = true;
  if (rc < 0) return Status::error("encoding failed: " + av_error_text(rc));
  RESR_RETURN_IF_ERROR(m.drain_encoder());
  rc = av_write_trailer(m.output);
  if (rc < 0) return Status::error("cannot complete the file: " + av_error_text(rc));
  rc = avio_closep(&m.output->pb);
  if (rc < 0) return Status::error("cannot complete the file: " + av_error_text(rc));
  RESR_RETURN_IF_ERROR(check_plays_back(m.file->temp_path(), m.encoder->codec_id, m.output->oformat->name));
  return m.file->commit();
}

const std::vector<std::string>& VideoWriter::dropped_streams() const {
  return impl_->dropped;
}
std::vector<std::string> VideoWriter::retimed_streams() const {
  const Impl& m = *impl_;
  std::vector<std::string> lines;
  for (std::size_t i = 0; i < m.moved.size(); ++i) {
    if (m.moved[i] == 0) continue;
    lines.push_back(describe_stream(i, *m.output->streams[m.stream_map[i]]->codecpar) + ": " +
                    std::to_string(m.moved[i]) + " packet" + (m.moved[i] == 1 ? "" : "s") +
                    " went back in time; moved on just past the one before");
  }
  if (m.frames_moved > 0)  // the frames themselves, which keep their order: they were moved unsaid
    lines.insert(lines.begin(),
                 describe_stream(std::size_t(m.source_video),
                                 *m.output->streams[m.stream_map[std::size_t(m.source_video)]]->codecpar) +
                     ": " + std::to_string(m.frames_moved) + " frame" + (m.frames_moved == 1 ? "" : "s") +
                     " went back in time or repeated one's time; each moved on just past the one before");
  return lines;
}
std::string VideoWriter::encoder_description() const {
  return impl_->description;
}

const VideoWriter::EncoderChoice& VideoWriter::encoder_choice() const {
  return impl_->choice;
}

}  // namespace resr::video
