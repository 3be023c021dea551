#include "video/video_reader.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <deque>
#include <vector>

#include "video/av_handles.h"
#include "video/library_log.h"

extern "C" {
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
}

namespace resr::video {

struct VideoReader::Impl {
  InputFormat format;
  CodecContext decoder;
  ScalerPtr scaler;
  int scaler_format = -1;  // the decoded pixel format `scaler` converts from
  PacketPtr packet{av_packet_alloc()};
  FramePtr frame{av_frame_alloc()};
  int stream = -1;
  int bits = 8;
  VideoColour colour;
  std::deque<VideoUnit> pending;
  std::int64_t frames = 0, last_pts = AV_NOPTS_VALUE, frame_step = 1;
  double duration_seconds() const;  // the video's, from the container; 0 when unknown
  bool flushed = false;
  std::int64_t damaged = 0;  // packets or frames the decoder refused as invalid data, skipped
  std::string first_damage;
  std::string path;
  std::int64_t video_packets = 0;
  std::string cut_frame;  // a Y4M that ends inside a frame: said, as FFmpeg drops that frame without a word
  // Containers whose timestamps may jump (MPEG-TS: joined files, broadcast captures): each stream's times moved by
  // its offset (AV_TIME_BASE units), which each of its jumps changes so that it goes on from where it was. Per
  // stream: the streams of a joined file jump one after the other, interleaved (an audio packet of the second part
  // before the first part's last video packet).
  struct StreamTimes {
    std::int64_t offset = 0;
    std::int64_t next_dts = AV_NOPTS_VALUE;  // offset included
    std::int64_t last_dts = AV_NOPTS_VALUE;  // offset included
    std::int64_t step = 0;                   // between its last two packets: their duration when none is given
    int jumps = 0;
  };
  std::vector<StreamTimes> times;
  double first_jump_s = -1;

  void skip_damage(int rc) {
    if (damaged++ == 0) first_damage = "frame " + std::to_string(frames) + ": " + av_error_text(rc);
  }

  // Y4M is its header line, then per frame "FRAME\n" and the frame's bytes: bytes past the whole frames read are a
  // frame cut short.
  void check_for_a_cut_frame() {
    if (std::string(format->iformat->name) != "yuv4mpegpipe") return;
    const AVCodecParameters& p = *format->streams[stream]->codecpar;
    const int frame_bytes = av_image_get_buffer_size(AVPixelFormat(p.format), p.width, p.height, 1);
    const std::int64_t size = avio_size(format->pb);
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr || frame_bytes <= 0 || size <= 0) {
      if (f != nullptr) std::fclose(f);
      return;
    }
    std::int64_t header = 0;
    for (int c = std::fgetc(f); c != EOF && c != '\n' && header < 4096; c = std::fgetc(f)) ++header;
    std::fclose(f);
    const std::int64_t packet = 6 + std::int64_t(frame_bytes);  // "FRAME\n" + the frame
    const std::int64_t left = size - (header + 1) - video_packets * packet;
    if (left > 0 && left < packet)
      cut_frame = "the file ends inside frame " + std::to_string(video_packets + 1) + " (" + std::to_string(left) +
                  " of its " + std::to_string(packet) + " bytes), which is left out";
  }
  void join_timestamp_jumps(AVPacket& p);

  Status drain_decoder();
  Result<VideoUnit> to_rgb(const AVFrame& f);
  // frame_count_hint (guessed_rate: r_frame_rate where the container gives no average) or declared_frame_count.
  std::int64_t frame_count(bool guessed_rate) const;
};

namespace {

static_assert(AVCOL_SPC_BT709 == 1 && AVCOL_SPC_SMPTE170M == 6, "untagged_colour_space's values");

// Untagged streams: BT.709 for HD, BT.601 below, as players assume; limited range unless tagged full.
VideoColour resolve_colour(const AVCodecParameters& p) {
  VideoColour c{p.color_space, p.color_range, p.color_primaries, p.color_trc};
  if (c.space == AVCOL_SPC_UNSPECIFIED || c.space == AVCOL_SPC_RESERVED) c.space = untagged_colour_space(p.height);
  if (c.range != AVCOL_RANGE_JPEG) c.range = AVCOL_RANGE_MPEG;
  return c;
}

}  // namespace

VideoReader::VideoReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
VideoReader::~VideoReader() = default;

Result<std::unique_ptr<VideoReader>> VideoReader::open(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  if (!impl->packet || !impl->frame) return Status::error("out of memory");
  // A FIFO (or a device) would keep FFmpeg's open waiting for a writer, through Ctrl-C.
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
    return Status::error(std::string("cannot open: ") + (S_ISDIR(st.st_mode) ? "is a folder" : "not a regular file"));
  // Only the video containers and the file protocol: a playlist or concat script posing as a video (HLS,
  // ffconcat, image sequences) would make FFmpeg open other files or URLs.
  AVDictionary* options = nullptr;
  av_dict_set(&options, "format_whitelist", "mov,matroska,avi,mpegts,mpeg,flv,asf,yuv4mpegpipe", 0);
  av_dict_set(&options, "protocol_whitelist", "file", 0);
  AVFormatContext* raw = nullptr;
  int rc = 0;
  std::string reason;  // the demuxer's own, from its log: a Y4M of 16383x16383 gave only "Device or resource busy"
  {
    HeldLibraryLog held;
    rc = avformat_open_input(&raw, path.c_str(), nullptr, &options);
    const auto error = std::find_if(held.messages.begin(), held.messages.end(),
                                    [](const HeldLibraryLog::Message& m) { return !m.error.empty(); });
    if (rc >= 0)
      held.keep();
    else
      reason = error != held.messages.end() ? error->error : av_error_text(rc);
  }
  av_dict_free(&options);
  if (rc < 0)
    return Status::error("cannot open as a video (" + reason +
                         "; resr reads MP4/MOV, Matroska/WebM, AVI, MPEG-TS/PS, FLV, ASF/WMV and Y4M)");
  impl->format.reset(raw);
  rc = avformat_find_stream_info(raw, nullptr);
  if (rc < 0) return Status::error("cannot read the video's streams: " + av_error_text(rc));
  const AVCodec* codec = nullptr;
  impl->stream = av_find_best_stream(raw, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
  if (impl->stream < 0 || codec == nullptr)
    return Status::error(impl->stream == AVERROR_DECODER_NOT_FOUND ? "no decoder for its video stream"
                                                                   : "no video stream");
  const AVStream* s = raw->streams[impl->stream];
  if (s->codecpar->width <= 0 || s->codecpar->height <= 0)  // FFmpeg decoded no frame while probing
    return Status::error("its video stream gives no frame size (no decodable video data)");
  if (s->codecpar->width > 16384 || s->codecpar->height > 16384)
    return Status::error("video frames of " + std::to_string(s->codecpar->width) + "x" +
                         std::to_string(s->codecpar->height) + " pixels are not supported");
  impl->decoder.reset(avcodec_alloc_context3(codec));
  if (!impl->decoder) return Status::error("out of memory");
  rc = avcodec_parameters_to_context(impl->decoder.get(), s->codecpar);
  if (rc >= 0) {
    impl->decoder->pkt_timebase = s->time_base;
    rc = avcodec_open2(impl->decoder.get(), codec, nullptr);
  }
  if (rc < 0) return Status::error("cannot open the " + std::string(codec->name) + " decoder: " + av_error_text(rc));
  impl->colour = resolve_colour(*s->codecpar);
  const AVPixFmtDescriptor* source = av_pix_fmt_desc_get(AVPixelFormat(s->codecpar->format));
  impl->bits = source != nullptr && source->comp[0].depth > 8 ? 16 : 8;
  // A frame without a timestamp follows the one before by one frame period (in the stream's time base).
  const AVRational rate = av_guess_frame_rate(raw, const_cast<AVStream*>(s), nullptr);
  if (rate.num > 0 && rate.den > 0)
    impl->frame_step = std::max<std::int64_t>(1, av_rescale_q(1, av_inv_q(rate), s->time_base));
  return std::unique_ptr<VideoReader>(new VideoReader(std::move(impl)));
}

int VideoReader::width() const {
  return impl_->format->streams[impl_->stream]->codecpar->width;
}
int VideoReader::height() const {
  return impl_->format->streams[impl_->stream]->codecpar->height;
}
int VideoReader::video_stream() const {
  return impl_->stream;
}
const AVFormatContext* VideoReader::input() const {
  return impl_->format.get();
}
VideoColour VideoReader::colour() const {
  return impl_->colour;
}
int VideoReader::bits() const {
  return impl_->bits;
}
std::string VideoReader::damage() const {
  if (impl_->damaged == 0) return impl_->cut_frame;
  return std::to_string(impl_->damaged) + " damaged video packet" + (impl_->damaged == 1 ? "" : "s") +
         " skipped (the first at " + impl_->first_damage + "); frames there may be missing" +
         (impl_->cut_frame.empty() ? "" : "; " + impl_->cut_frame);
}

std::int64_t VideoReader::frame_count_hint() const {
  return impl_->frame_count(true);
}

std::int64_t VideoReader::declared_frame_count() const {
  return impl_->frame_count(false);
}

std::int64_t VideoReader::Impl::frame_count(bool guessed_rate) const {
  const AVStream& s = *format->streams[stream];
  if (s.nb_frames > 0) return s.nb_frames;
  // Matroska and others keep no count: the duration times the frame rate.
  const bool average = s.avg_frame_rate.num > 0 && s.avg_frame_rate.den > 0;
  if (!average && !guessed_rate) return 0;
  const AVRational rate = average ? s.avg_frame_rate : s.r_frame_rate;
  if (rate.num <= 0 || rate.den <= 0) return 0;
  const double frames = duration_seconds() * av_q2d(rate);
  return frames >= 1 && frames < 1e12 ? static_cast<std::int64_t>(std::llround(frames)) : 0;
}

double VideoReader::Impl::duration_seconds() const {
  const AVStream& s = *format->streams[stream];
  // The video's own duration: the stream's, or the DURATION tag Matroska writers keep per track ("00:01:02.5"); the
  // file's only when it holds nothing else (an audio track may run longer).
  double seconds = 0;
  int h = 0, m = 0;
  double sec = 0;
  const AVDictionaryEntry* tag = av_dict_get(s.metadata, "DURATION", nullptr, 0);
  if (s.duration > 0 && s.time_base.den > 0)
    seconds = double(s.duration) * av_q2d(s.time_base);
  else if (tag != nullptr && std::sscanf(tag->value, "%d:%d:%lf", &h, &m, &sec) == 3)
    // The track's end, its start included (FFmpeg's Matroska writer): a clip starting 10^9 s in was "declared"
    // 10^10 frames.
    seconds = h * 3600.0 + m * 60.0 + sec -
              (s.start_time != AV_NOPTS_VALUE && s.time_base.den > 0 ? double(s.start_time) * av_q2d(s.time_base) : 0);
  else if (format->nb_streams == 1 && format->duration > 0)
    seconds = double(format->duration) / AV_TIME_BASE;
  return seconds;
}

bool VideoReader::reached_its_end_in_time() const {
  const Impl& m = *impl_;
  const AVStream& s = *m.format->streams[m.stream];
  const double span = m.duration_seconds();
  if (span <= 0 || m.last_pts == AV_NOPTS_VALUE || s.time_base.den <= 0) return false;
  const std::int64_t start = s.start_time != AV_NOPTS_VALUE ? s.start_time : 0;
  return double(m.last_pts - start) * av_q2d(s.time_base) >= 0.9 * span;
}

Result<VideoUnit> VideoReader::Impl::to_rgb(const AVFrame& f) {
  const AVCodecParameters& p = *format->streams[stream]->codecpar;
  // (Frame 0 itself may differ from what the stream declares: two files of other sizes joined, whose header the
  // second one's set. It "changed the size" before any frame had.)
  if (f.width != p.width || f.height != p.height)
    return Status::error("frame " + std::to_string(frames) +
                         (frames == 0
                              ? " is " + std::to_string(f.width) + "x" + std::to_string(f.height) + ", not the " +
                                    std::to_string(p.width) + "x" + std::to_string(p.height) + " its stream declares"
                              : " changes the size from " + std::to_string(p.width) + "x" + std::to_string(p.height) +
                                    " to " + std::to_string(f.width) + "x" + std::to_string(f.height)) +
                         ", which is not supported (one size a video)");
  if (f.format != scaler_format) {  // the first frame, or a new pixel format: a converter with the matrix and range
    scaler.reset(sws_getContext(f.width, f.height, AVPixelFormat(f.format), f.width, f.height,
                                bits == 16 ? AV_PIX_FMT_RGB48 : AV_PIX_FMT_RGB24,
                                SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, nullptr, nullptr, nullptr));
    if (!scaler) return Status::error("cannot convert its frames to RGB");
    const int* yuv = sws_getCoefficients(colour.space);
    sws_setColorspaceDetails(scaler.get(), yuv, colour.range == AVCOL_RANGE_JPEG ? 1 : 0, yuv, 1, 0, 1 << 16, 1 << 16);
    scaler_format = f.format;
  }
  VideoUnit unit;
  unit.is_frame = true;
  unit.frame.width = f.width;
  unit.frame.height = f.height;
  unit.frame.channels = 3;
  unit.frame.bits = bits;  // RGB48 is native-endian, as Image's 16-bit samples
  unit.frame.bytes.resize(std::size_t(f.width) * f.height * 3 * (bits / 8));
  std::uint8_t* dst[4] = {unit.frame.bytes.data(), nullptr, nullptr, nullptr};
  const int dst_stride[4] = {f.width * 3 * (bits / 8), 0, 0, 0};
  sws_scale(scaler.get(), f.data, f.linesize, 0, f.height, dst, dst_stride);
  std::int64_t pts = f.best_effort_timestamp;
  if (pts == AV_NOPTS_VALUE) pts = last_pts == AV_NOPTS_VALUE ? 0 : last_pts + frame_step;
  unit.pts = last_pts = pts;
  unit.duration = std::max<std::int64_t>(f.pkt_duration, 0);
  ++frames;
  return unit;
}

Status VideoReader::Impl::drain_decoder() {
  while (true) {
    const int rc = avcodec_receive_frame(decoder.get(), frame.get());
    if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return ok_status();
    if (rc == AVERROR_INVALIDDATA) {  // a damaged frame: the rest of the video is still worth having
      skip_damage(rc);
      continue;
    }
    if (rc < 0)
      return Status::error("frame " + std::to_string(frames) + ": corrupt video data (" + av_error_text(rc) + ")");
    Result<VideoUnit> unit = to_rgb(*frame);
    av_frame_unref(frame.get());
    if (!unit) return unit.status();
    pending.push_back(std::move(*unit));
  }
}

// In an audio or video stream, a jump of more than 10 s either way, or back before the stream's last packet, is a
// discontinuity, as FFmpeg's own tool takes it (its -dts_delta_threshold): left as it is, every later frame would be
// moved on to just past the last one before it, and the second half of a joined file would play in an instant.
void VideoReader::Impl::join_timestamp_jumps(AVPacket& p) {
  const AVFormatContext& in = *format;
  if ((in.iformat->flags & AVFMT_TS_DISCONT) == 0 || p.stream_index < 0 || unsigned(p.stream_index) >= in.nb_streams)
    return;
  if (times.empty()) times.resize(in.nb_streams);
  const AVRational tb = in.streams[p.stream_index]->time_base;
  auto shift = [&](std::int64_t by) {
    const std::int64_t ticks = av_rescale_q(by, AV_TIME_BASE_Q, tb);
    if (p.pts != AV_NOPTS_VALUE) p.pts += ticks;
    if (p.dts != AV_NOPTS_VALUE) p.dts += ticks;
  };
  // Subtitles and data come seconds or minutes apart (DVB subtitles, teletext): their gaps are no jumps. They take
  // the video's offset, which moves with the part they belong to.
  const AVMediaType type = in.streams[p.stream_index]->codecpar->codec_type;
  if (type != AVMEDIA_TYPE_VIDEO && type != AVMEDIA_TYPE_AUDIO) {
    shift(times[std::size_t(stream)].offset);
    return;
  }
  StreamTimes& t = times[std::size_t(p.stream_index)];
  shift(t.offset);
  if (p.dts == AV_NOPTS_VALUE) return;
  std::int64_t dts = av_rescale_q(p.dts, tb, AV_TIME_BASE_Q);
  constexpr std::int64_t kThreshold = 10 * std::int64_t{AV_TIME_BASE}, kBack = AV_TIME_BASE / 10;
  if (t.next_dts != AV_NOPTS_VALUE) {
    const std::int64_t delta = dts - t.next_dts;
    // Back before the last packet, not before the predicted time: without packet durations (H.264 in MPEG-TS) the
    // prediction repeats the last step, and after a pause that is the pause itself.
    const bool back = t.last_dts != AV_NOPTS_VALUE && dts + kBack < t.last_dts;
    if (delta < -kThreshold || delta > kThreshold || back) {
      if (first_jump_s < 0)
        first_jump_s = double(t.next_dts - (in.start_time == AV_NOPTS_VALUE ? 0 : in.start_time)) / AV_TIME_BASE;
      ++t.jumps;
      t.offset -= delta;
      shift(-delta);
      dts -= delta;
    }
  }
  if (t.last_dts != AV_NOPTS_VALUE && dts > t.last_dts) t.step = dts - t.last_dts;
  t.last_dts = dts;
  t.next_dts = dts + (p.duration > 0 ? av_rescale_q(p.duration, tb, AV_TIME_BASE_Q) : t.step);
}

std::string VideoReader::timestamp_jumps() const {
  const Impl& m = *impl_;
  int jumps = 0;  // of the stream that jumped most: the streams of one joined file jump once each
  for (const Impl::StreamTimes& t : m.times) jumps = std::max(jumps, t.jumps);
  if (jumps == 0) return "";
  char at[32];
  std::snprintf(at, sizeof at, "%.3f", m.first_jump_s);
  return "its timestamps jumped " + std::to_string(jumps) + (jumps == 1 ? " time" : " times") + " (the first at " + at +
         " s); each part goes on from the one before";
}

Result<std::optional<VideoUnit>> VideoReader::next() {
  Impl& m = *impl_;
  while (m.pending.empty()) {
    if (m.flushed) return std::optional<VideoUnit>();
    const int rc = av_read_frame(m.format.get(), m.packet.get());
    if (rc == AVERROR_EOF) {
      m.check_for_a_cut_frame();
      avcodec_send_packet(m.decoder.get(), nullptr);  // the decoder's delayed frames
      RESR_RETURN_IF_ERROR(m.drain_decoder());
      m.flushed = true;
      continue;
    }
    if (rc < 0) return Status::error("cannot read the video: " + av_error_text(rc));
    m.join_timestamp_jumps(*m.packet);
    if (m.packet->stream_index == m.stream) {
      ++m.video_packets;
      const int sent = avcodec_send_packet(m.decoder.get(), m.packet.get());
      av_packet_unref(m.packet.get());
      if (sent == AVERROR_INVALIDDATA)
        m.skip_damage(sent);
      else if (sent < 0 && sent != AVERROR(EAGAIN))
        return Status::error("frame " + std::to_string(m.frames) + ": corrupt video data (" + av_error_text(sent) +
                             ")");
      RESR_RETURN_IF_ERROR(m.drain_decoder());
    } else {
      VideoUnit unit;
      unit.packet.reset(av_packet_alloc(), PacketFreer());
      if (!unit.packet) return Status::error("out of memory");
      av_packet_move_ref(unit.packet.get(), m.packet.get());
      m.pending.push_back(std::move(unit));
    }
  }
  VideoUnit unit = std::move(m.pending.front());
  m.pending.pop_front();
  return std::optional<VideoUnit>(std::move(unit));
}

}  // namespace resr::video
