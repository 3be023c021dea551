#include "video_fixture.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/mastering_display_metadata.h>
}

#include <algorithm>
#include <cstring>

namespace resr::test {
namespace {

struct Packet {
  long long ms;
  int stream;
  std::string data;
  long long duration_ms = 0;
  bool key = true;
};

std::vector<Packet> encode_video(const ClipSpec& spec, AVCodecContext*& enc, std::string& error) {
  std::vector<Packet> out;
  const AVCodec* codec = avcodec_find_encoder(spec.rotation != 0 ? AV_CODEC_ID_MPEG4 : AV_CODEC_ID_FFV1);
  enc = avcodec_alloc_context3(codec);
  enc->width = spec.width;
  enc->height = spec.height;
  enc->pix_fmt = spec.rgb          ? (spec.alpha ? AV_PIX_FMT_RGB32 : AV_PIX_FMT_0RGB32)
                 : spec.bits == 10 ? AV_PIX_FMT_YUV420P10
                                   : AV_PIX_FMT_YUV420P;
  if (spec.rgb) enc->colorspace = AVCOL_SPC_RGB;
  enc->sample_aspect_ratio = AVRational{spec.sar_num, spec.sar_den};
  enc->time_base = AVRational{1, 1000};
  enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;       // Matroska keeps FFV1's header in the stream's extradata
  if (spec.damaged_frame >= 0) enc->gop_size = 1;  // every frame a key frame: the damage costs one
  if (avcodec_open2(enc, codec, nullptr) < 0) {
    error = "cannot open the video encoder";
    return out;
  }
  AVFrame* f = av_frame_alloc();
  AVPacket* p = av_packet_alloc();
  f->format = enc->pix_fmt;
  f->width = spec.width;
  f->height = spec.height;
  av_frame_get_buffer(f, 0);
  auto drain = [&] {
    while (avcodec_receive_packet(enc, p) == 0) {
      out.push_back(Packet{p->pts, 0, std::string(reinterpret_cast<char*>(p->data), std::size_t(p->size)), 0,
                           (p->flags & AV_PKT_FLAG_KEY) != 0});
      av_packet_unref(p);
    }
  };
  for (std::size_t i = 0; i < spec.frame_ms.size(); ++i) {
    av_frame_make_writable(f);
    // 8-bit samples, or 10-bit ones (little-endian uint16) at 4x the value plus a low-bit ramp that 8 bits lose;
    // RGB: the three "planes" are the bytes of a packed pixel.
    const auto put = [&](int plane, int x, int y, int v) {
      if (spec.rgb) {
        f->data[0][y * f->linesize[0] + 4 * x + plane] = std::uint8_t(v);
      } else if (spec.bits == 10) {
        const int deep = 4 * v + (x + y) % 4;
        f->data[plane][y * f->linesize[plane] + 2 * x] = std::uint8_t(deep & 0xff);
        f->data[plane][y * f->linesize[plane] + 2 * x + 1] = std::uint8_t(deep >> 8);
      } else {
        f->data[plane][y * f->linesize[plane] + x] = std::uint8_t(v);
      }
    };
    for (int y = 0; y < spec.height; ++y)
      for (int x = 0; x < spec.width; ++x) {
        const bool square = x / 6 == int(i) % 5 && y / 6 == 1;
        put(0, x, y, square ? 230 : 30 + 5 * x + 2 * y);
      }
    const int chroma_w = spec.rgb ? spec.width : spec.width / 2, chroma_h = spec.rgb ? spec.height : spec.height / 2;
    for (int y = 0; y < chroma_h; ++y)
      for (int x = 0; x < chroma_w; ++x) {
        put(1, x, y, 100 + 4 * x);
        put(2, x, y, 160 - 3 * y + 7 * int(i));
      }
    f->pts = spec.frame_ms[i];
    avcodec_send_frame(enc, f);
    drain();
  }
  avcodec_send_frame(enc, nullptr);
  drain();
  av_frame_free(&f);
  av_packet_free(&p);
  return out;
}

}  // namespace

std::string write_clip(const std::string& path, const ClipSpec& spec) {
  AVFormatContext* oc = nullptr;
  if (avformat_alloc_output_context2(&oc, nullptr, spec.rotation != 0 ? "mp4" : "matroska", path.c_str()) < 0)
    return "no muxer";
  std::string error;
  AVCodecContext* enc = nullptr;
  std::vector<Packet> packets = encode_video(spec, enc, error);
  if (!error.empty()) return error;
  if (spec.damaged_frame >= 0 && std::size_t(spec.damaged_frame) < packets.size())
    packets[std::size_t(spec.damaged_frame)].data = std::string(7, '\xff');
  AVStream* vs = avformat_new_stream(oc, nullptr);
  avcodec_parameters_from_context(vs->codecpar, enc);
  vs->time_base = enc->time_base;
  vs->sample_aspect_ratio = enc->sample_aspect_ratio;
  avcodec_free_context(&enc);
  if (spec.rotation != 0) {
    auto* matrix = reinterpret_cast<std::int32_t*>(av_stream_new_side_data(vs, AV_PKT_DATA_DISPLAYMATRIX, 36));
    av_display_rotation_set(matrix, spec.rotation);
  }
  if (spec.max_cll > 0) {
    auto* md = reinterpret_cast<AVMasteringDisplayMetadata*>(
        av_stream_new_side_data(vs, AV_PKT_DATA_MASTERING_DISPLAY_METADATA, sizeof(AVMasteringDisplayMetadata)));
    *md = AVMasteringDisplayMetadata{};
    const AVRational primaries[3][2] = {{{34000, 50000}, {16000, 50000}},  // BT.2020 red, green, blue
                                        {{13250, 50000}, {34500, 50000}},
                                        {{7500, 50000}, {3000, 50000}}};
    for (int k = 0; k < 3; ++k) {
      md->display_primaries[k][0] = primaries[k][0];
      md->display_primaries[k][1] = primaries[k][1];
    }
    md->white_point[0] = AVRational{15635, 50000};
    md->white_point[1] = AVRational{16450, 50000};
    md->max_luminance = AVRational{1000, 1};
    md->min_luminance = AVRational{1, 10000};
    md->has_primaries = 1;
    md->has_luminance = 1;
    auto* cll = reinterpret_cast<AVContentLightMetadata*>(
        av_stream_new_side_data(vs, AV_PKT_DATA_CONTENT_LIGHT_LEVEL, sizeof(AVContentLightMetadata)));
    cll->MaxCLL = unsigned(spec.max_cll);
    cll->MaxFALL = unsigned(spec.max_cll / 2);
  }
  if (spec.audio && spec.rotation == 0) {
    AVStream* as = avformat_new_stream(oc, nullptr);
    AVCodecParameters* a = as->codecpar;
    a->codec_type = AVMEDIA_TYPE_AUDIO;
    a->codec_id = AV_CODEC_ID_PCM_S16LE;
    a->sample_rate = 8000;
    a->ch_layout = AVChannelLayout AV_CHANNEL_LAYOUT_MONO;
    a->format = AV_SAMPLE_FMT_S16;
    a->bits_per_coded_sample = 16;
    a->block_align = 2;
    as->time_base = AVRational{1, 1000};
    const int last = spec.frame_ms.empty() ? 0 : spec.frame_ms.back();
    for (int ms = 0, k = 0; ms <= last; ms += 40, ++k) {
      std::string pcm(640, '\0');
      for (std::size_t s = 0; s < pcm.size(); ++s) pcm[s] = char((s * 7 + std::size_t(k) * 13) & 0xff);
      packets.push_back(Packet{ms, as->index, pcm, 40});
    }
  }
  if (spec.subtitle && spec.rotation == 0) {
    AVStream* ss = avformat_new_stream(oc, nullptr);
    ss->codecpar->codec_type = AVMEDIA_TYPE_SUBTITLE;
    ss->codecpar->codec_id = AV_CODEC_ID_SUBRIP;
    ss->time_base = AVRational{1, 1000};
    packets.push_back(Packet{100, ss->index, "hello", 500});
  }
  if (spec.font && spec.rotation == 0) {  // Matroska's attachments: a stream with no packets, its bytes in extradata
    AVStream* fs = avformat_new_stream(oc, nullptr);
    fs->codecpar->codec_type = AVMEDIA_TYPE_ATTACHMENT;
    fs->codecpar->codec_id = AV_CODEC_ID_TTF;
    const std::string font = "not really a font";
    fs->codecpar->extradata = static_cast<std::uint8_t*>(av_mallocz(font.size() + AV_INPUT_BUFFER_PADDING_SIZE));
    std::memcpy(fs->codecpar->extradata, font.data(), font.size());
    fs->codecpar->extradata_size = int(font.size());
    av_dict_set(&fs->metadata, "filename", "subs.ttf", 0);
    av_dict_set(&fs->metadata, "mimetype", "application/x-truetype-font", 0);
  }
  std::stable_sort(packets.begin(), packets.end(), [](const Packet& a, const Packet& b) { return a.ms < b.ms; });
  if (avio_open(&oc->pb, path.c_str(), AVIO_FLAG_WRITE) < 0) return "cannot create " + path;
  if (avformat_write_header(oc, nullptr) < 0) return "cannot write the header";
  AVPacket* p = av_packet_alloc();
  for (const Packet& k : packets) {
    av_new_packet(p, int(k.data.size()));
    std::memcpy(p->data, k.data.data(), k.data.size());
    p->stream_index = k.stream;
    p->pts = p->dts = av_rescale_q(k.ms + spec.start_ms, AVRational{1, 1000}, oc->streams[k.stream]->time_base);
    p->duration = av_rescale_q(k.duration_ms, AVRational{1, 1000}, oc->streams[k.stream]->time_base);
    if (k.stream == 0 && k.key) p->flags |= AV_PKT_FLAG_KEY;
    if (av_interleaved_write_frame(oc, p) < 0) return "cannot write a packet";
  }
  av_packet_free(&p);
  av_write_trailer(oc);
  avio_closep(&oc->pb);
  avformat_free_context(oc);
  return "";
}

std::vector<ProbedStream> probe(const std::string& path) {
  std::vector<ProbedStream> streams;
  AVFormatContext* ic = nullptr;
  if (avformat_open_input(&ic, path.c_str(), nullptr, nullptr) < 0) return streams;
  if (avformat_find_stream_info(ic, nullptr) < 0) {
    avformat_close_input(&ic);
    return streams;
  }
  for (unsigned i = 0; i < ic->nb_streams; ++i) {
    const AVCodecParameters* c = ic->streams[i]->codecpar;
    const char* type = av_get_media_type_string(c->codec_type);
    ProbedStream s;
    s.type = type != nullptr ? type : "?";
    s.codec = avcodec_get_name(c->codec_id);
    s.width = c->width;
    s.height = c->height;
    s.colour_space = c->color_space;
    s.colour_range = c->color_range;
    const AVRational sar = av_guess_sample_aspect_ratio(ic, ic->streams[i], nullptr);
    s.sar_num = sar.num;
    s.sar_den = sar.den;
    const std::uint8_t* matrix = av_stream_get_side_data(ic->streams[i], AV_PKT_DATA_DISPLAYMATRIX, nullptr);
    if (matrix != nullptr) s.rotation = av_display_rotation_get(reinterpret_cast<const std::int32_t*>(matrix));
    const std::uint8_t* md = av_stream_get_side_data(ic->streams[i], AV_PKT_DATA_MASTERING_DISPLAY_METADATA, nullptr);
    if (md != nullptr)
      s.mastering_max_nits = av_q2d(reinterpret_cast<const AVMasteringDisplayMetadata*>(md)->max_luminance);
    const std::uint8_t* cll = av_stream_get_side_data(ic->streams[i], AV_PKT_DATA_CONTENT_LIGHT_LEVEL, nullptr);
    if (cll != nullptr) s.max_cll = int(reinterpret_cast<const AVContentLightMetadata*>(cll)->MaxCLL);
    streams.push_back(s);
  }
  AVPacket* p = av_packet_alloc();
  while (av_read_frame(ic, p) >= 0) {
    const AVRational tb = ic->streams[p->stream_index]->time_base;
    const long long t = p->pts != AV_NOPTS_VALUE ? p->pts : p->dts;
    streams[std::size_t(p->stream_index)].packets.push_back(ProbedPacket{
        av_rescale_q(t, tb, AVRational{1, 1000}), std::string(reinterpret_cast<char*>(p->data), std::size_t(p->size))});
    av_packet_unref(p);
  }
  av_packet_free(&p);
  avformat_close_input(&ic);
  for (ProbedStream& s : streams)
    std::stable_sort(s.packets.begin(), s.packets.end(),
                     [](const ProbedPacket& a, const ProbedPacket& b) { return a.ms < b.ms; });
  return streams;
}

}  // namespace resr::test
