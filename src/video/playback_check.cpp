#include "video/playback_check.h"

#include <cerrno>

#include "video/library_log.h"

namespace resr::video {
namespace {

constexpr int kMaxVideoPackets = 512;  // an encoder's delay is a few dozen frames; its first frame comes well before
constexpr int kMaxPackets = 1 << 20;   // of all streams: many audio tracks, or one with a long lead, come first

// Y4M and other raw writers encode wrapped frames, which read back as raw video.
bool same_codec(AVCodecID written, AVCodecID encoded) {
  if (encoded == AV_CODEC_ID_WRAPPED_AVFRAME) return written == AV_CODEC_ID_RAWVIDEO;
  return written == encoded;
}

// Whether the stream's first frame decodes: packets are sent until one comes out, then the decoder is drained.
bool first_frame_decodes(AVFormatContext& file, int stream, const AVCodec& codec) {
  CodecContext decoder(avcodec_alloc_context3(&codec));
  if (!decoder || avcodec_parameters_to_context(decoder.get(), file.streams[stream]->codecpar) < 0 ||
      avcodec_open2(decoder.get(), &codec, nullptr) < 0)
    return false;
  PacketPtr packet(av_packet_alloc());
  FramePtr frame(av_frame_alloc());
  if (!packet || !frame) return false;
  int video_packets = 0;
  for (int read = 0; read < kMaxPackets && video_packets < kMaxVideoPackets && av_read_frame(&file, packet.get()) >= 0;
       ++read) {
    const bool ours = packet->stream_index == stream;
    video_packets += ours ? 1 : 0;
    if (ours) avcodec_send_packet(decoder.get(), packet.get());
    av_packet_unref(packet.get());
    if (ours && avcodec_receive_frame(decoder.get(), frame.get()) >= 0) return true;
  }
  avcodec_send_packet(decoder.get(), nullptr);
  return avcodec_receive_frame(decoder.get(), frame.get()) >= 0;
}

}  // namespace

Status check_plays_back(const std::string& path, AVCodecID encoded, const std::string& container) {
  const HeldLibraryLog quiet;  // the reading's complaints are this check's answer, not the user's concern
  const std::string unplayable = "the " + container + " container wrote " + avcodec_get_name(encoded) + " video ";
  const std::string advice = " (the file would not play); another encoder, or a .mkv output";
  AVFormatContext* raw = nullptr;
  // A file the system cannot open is not the encoder's doing (it vanished: its folder was unmounted); one whose
  // container does not parse is.
  if (const int rc = avformat_open_input(&raw, path.c_str(), nullptr, nullptr); rc < 0) {
    if (rc == AVERROR(ENOENT) || rc == AVERROR(EACCES) || rc == AVERROR(EIO))
      return Status::error("cannot read back what was written: " + av_error_text(rc));
    return Status::error(unplayable + "that does not read back" + advice);
  }
  const InputFormat file(raw);
  if (avformat_find_stream_info(raw, nullptr) < 0)
    return Status::error(unplayable + "that does not read back" + advice);
  const int stream = av_find_best_stream(raw, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  if (stream < 0) return Status::error(unplayable + "as data, with no video stream" + advice);
  const AVCodecID written = raw->streams[stream]->codecpar->codec_id;
  if (!same_codec(written, encoded))
    return Status::error(unplayable + "that reads back as " + avcodec_get_name(written) + advice);
  const AVCodec* decoder = avcodec_find_decoder(written);
  if (decoder == nullptr) return ok_status();  // nothing here to decode it with: the stream is what can be checked
  if (!first_frame_decodes(*raw, stream, *decoder))
    return Status::error(unplayable + "whose frames do not decode" + advice);
  return ok_status();
}

}  // namespace resr::video
