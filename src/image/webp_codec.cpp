// WebP decode/encode with libwebp's advanced API: decoding after a header check (size limits, no animation) and
// encoding with an explicit config, so lossless output can keep exact RGB under transparent pixels.
// Metadata: the ICCP and EXIF chunks of the extended (VP8X) container are read with the demux API and written
// by re-muxing the encoded bitstream (WebPMux sets the VP8X flags).
#include <webp/decode.h>
#include <webp/demux.h>
#include <webp/encode.h>
#include <webp/mux.h>

#include <cstring>

#include "image/codec_formats.h"

namespace resr::image_detail {
namespace {

constexpr int kMaxWebpSide = 16383;  // the format's 14-bit size fields

const char* status_text(VP8StatusCode status) {
  switch (status) {
    case VP8_STATUS_OK:
      return "ok";
    case VP8_STATUS_OUT_OF_MEMORY:
      return "out of memory";
    case VP8_STATUS_INVALID_PARAM:
      return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR:
      return "bitstream error";
    case VP8_STATUS_UNSUPPORTED_FEATURE:
      return "unsupported feature";
    case VP8_STATUS_SUSPENDED:
      return "decoding suspended";
    case VP8_STATUS_USER_ABORT:
      return "decoding aborted";
    case VP8_STATUS_NOT_ENOUGH_DATA:
      return "not enough data";
  }
  return "unknown error";
}

const char* encode_error_text(WebPEncodingError error) {
  switch (error) {
    case VP8_ENC_ERROR_OUT_OF_MEMORY:
    case VP8_ENC_ERROR_BITSTREAM_OUT_OF_MEMORY:
      return "out of memory";
    case VP8_ENC_ERROR_BAD_DIMENSION:
      return "bad dimension";
    case VP8_ENC_ERROR_PARTITION0_OVERFLOW:
    case VP8_ENC_ERROR_PARTITION_OVERFLOW:
      return "partition overflow (try a lower quality)";
    case VP8_ENC_ERROR_FILE_TOO_BIG:
      return "output too big";
    default:
      return "internal encoder error";
  }
}

bool try_assign(std::vector<std::uint8_t>& v, const WebPData& data) {
  if (!try_resize(v, data.size)) return false;
  if (data.size > 0) std::memcpy(v.data(), data.bytes, data.size);
  return true;
}

// ICCP, EXIF and XMP chunks; a file the decoder accepted but the demuxer does not simply has no metadata.
Status read_metadata(std::span<const std::uint8_t> data, Image& image) {
  WebPData webp{data.data(), data.size()};
  WebPDemuxer* demux = WebPDemux(&webp);
  if (!demux) return ok_status();
  struct Guard {
    WebPDemuxer* demux;
    ~Guard() { WebPDemuxDelete(demux); }
  } guard{demux};
  WebPChunkIterator chunk;
  bool ok = true;
  if (WebPDemuxGetChunk(demux, "ICCP", 1, &chunk)) {
    ok = try_assign(image.icc_profile, chunk.chunk);
    WebPDemuxReleaseChunkIterator(&chunk);
  }
  if (ok && WebPDemuxGetChunk(demux, "EXIF", 1, &chunk)) {
    std::vector<std::uint8_t> raw;
    ok = try_assign(raw, chunk.chunk);
    WebPDemuxReleaseChunkIterator(&chunk);
    if (ok) image.exif = exif_from_container(raw);
  }
  if (ok && WebPDemuxGetChunk(demux, "XMP ", 1, &chunk)) {
    ok = try_assign(image.xmp, chunk.chunk);
    WebPDemuxReleaseChunkIterator(&chunk);
  }
  return ok ? ok_status() : Status::error("out of memory reading WebP metadata");
}

// Wraps an encoded bitstream in a VP8X container with the image's ICCP, EXIF and XMP chunks.
Result<std::vector<std::uint8_t>> add_metadata(const WebPMemoryWriter& encoded, const Image& image) {
  WebPData bitstream{encoded.mem, encoded.size};
  WebPMux* mux = WebPMuxCreate(&bitstream, 0);  // references our buffers, which outlive it
  if (!mux) return Status::error("WebP muxing failed: cannot parse the encoded bitstream");
  WebPData assembled;
  WebPDataInit(&assembled);
  struct Guard {
    WebPMux* mux;
    WebPData* assembled;
    ~Guard() {
      WebPMuxDelete(mux);
      WebPDataClear(assembled);
    }
  } guard{mux, &assembled};
  WebPData icc{image.icc_profile.data(), icc_fits(image.icc_profile, true) ? image.icc_profile.size() : 0};
  WebPData exif{image.exif.data(), image.exif.size()};
  WebPData xmp{image.xmp.data(), image.xmp.size()};
  if ((icc.size > 0 && WebPMuxSetChunk(mux, "ICCP", &icc, 0) != WEBP_MUX_OK) ||
      (exif.size > 0 && WebPMuxSetChunk(mux, "EXIF", &exif, 0) != WEBP_MUX_OK) ||
      (xmp.size > 0 && WebPMuxSetChunk(mux, "XMP ", &xmp, 0) != WEBP_MUX_OK) ||
      WebPMuxAssemble(mux, &assembled) != WEBP_MUX_OK) {
    return Status::error("WebP muxing failed: cannot add the ICC profile, EXIF or XMP");
  }
  std::vector<std::uint8_t> out;
  if (!try_assign(out, assembled)) return Status::error("out of memory assembling the WebP file");
  return out;
}

}  // namespace

Result<Image> decode_webp(std::span<const std::uint8_t> data, const SizeCheck& check_size) {
  WebPDecoderConfig config;
  if (!WebPInitDecoderConfig(&config)) return Status::error("libwebp version mismatch");
  VP8StatusCode status = WebPGetFeatures(data.data(), data.size(), &config.input);
  if (status != VP8_STATUS_OK) {
    return Status::error(std::string("corrupt or truncated WebP data: ") + status_text(status));
  }
  if (config.input.has_animation) return Status::error("animated WebP images are not supported");
  RESR_RETURN_IF_ERROR(check_header_size(config.input.width, config.input.height, check_size));
  int channels = config.input.has_alpha ? 4 : 3;
  // libwebp allocates the output itself (malloc, pages untouched until decoded) and we copy it once it is
  // complete: a zero-filled buffer of our own would make every tiny file claiming 16383x16383 cost 1 GiB of RSS.
  config.output.colorspace = channels == 4 ? MODE_RGBA : MODE_RGB;
  struct Guard {
    WebPDecBuffer* buffer;
    ~Guard() { WebPFreeDecBuffer(buffer); }
  } guard{&config.output};
  status = WebPDecode(data.data(), data.size(), &config);
  if (status != VP8_STATUS_OK) {
    return Status::error(std::string("corrupt or truncated WebP data: ") + status_text(status));
  }
  const WebPRGBABuffer& out = config.output.u.RGBA;
  if (config.output.width != config.input.width || config.output.height != config.input.height ||
      out.stride < config.input.width * channels) {
    return Status::error("corrupt WebP data: decoder output does not match the header");
  }
  Image image;
  RESR_RETURN_IF_ERROR(allocate_pixels(image, config.input.width, config.input.height, channels, 8));
  std::size_t row_bytes = std::size_t(image.width) * channels;
  for (int y = 0; y < image.height; ++y) {
    std::memcpy(image.bytes.data() + y * row_bytes, out.rgba + std::size_t(y) * out.stride, row_bytes);
  }
  RESR_RETURN_IF_ERROR(read_metadata(data, image));
  return image;
}

Result<std::vector<std::uint8_t>> encode_webp(const Image& image, const EncodeOptions& options) {
  if (image.width > kMaxWebpSide || image.height > kMaxWebpSide) {
    return Status::error("image dimensions " + std::to_string(image.width) + "x" + std::to_string(image.height) +
                         " exceed the WebP limit of " + std::to_string(kMaxWebpSide) + " pixels per side");
  }
  // WebP holds 8-bit RGB(A): round 16-bit samples and expand gray to RGB.
  std::vector<std::uint8_t> samples = samples_to_8bit(image);
  bool alpha = image.has_alpha();
  int channels = alpha ? 4 : 3;
  if (image.channels <= 2) {
    std::size_t pixels = std::size_t(image.width) * image.height;
    std::vector<std::uint8_t> rgb(pixels * channels);
    for (std::size_t p = 0; p < pixels; ++p) {
      std::uint8_t g = samples[p * image.channels];
      rgb[p * channels] = rgb[p * channels + 1] = rgb[p * channels + 2] = g;
      if (alpha) rgb[p * channels + 3] = samples[p * image.channels + 1];
    }
    samples = std::move(rgb);
  }

  WebPConfig config;
  if (!WebPConfigInit(&config)) return Status::error("libwebp version mismatch");
  config.lossless = options.lossless ? 1 : 0;
  config.exact = options.lossless ? 1 : 0;
  if (!options.lossless) config.quality = float(options.quality);
  if (!WebPValidateConfig(&config)) return Status::error("invalid WebP encoder settings");

  WebPPicture picture;
  if (!WebPPictureInit(&picture)) return Status::error("libwebp version mismatch");
  WebPMemoryWriter writer;
  WebPMemoryWriterInit(&writer);
  struct Guard {
    WebPPicture* picture;
    WebPMemoryWriter* writer;
    ~Guard() {
      WebPPictureFree(picture);
      WebPMemoryWriterClear(writer);
    }
  } guard{&picture, &writer};
  picture.use_argb = options.lossless ? 1 : 0;  // the lossless coder works on ARGB, the lossy one on YUV
  picture.width = image.width;
  picture.height = image.height;
  picture.writer = WebPMemoryWrite;
  picture.custom_ptr = &writer;
  int stride = image.width * channels;
  int imported = alpha ? WebPPictureImportRGBA(&picture, samples.data(), stride)
                       : WebPPictureImportRGB(&picture, samples.data(), stride);
  if (!imported) return Status::error("out of memory importing the image into the WebP encoder");
  if (!WebPEncode(&config, &picture)) {
    return Status::error(std::string("WebP encoding failed: ") + encode_error_text(picture.error_code));
  }
  if (!image.icc_profile.empty() || !image.exif.empty() || !image.xmp.empty()) return add_metadata(writer, image);
  return std::vector<std::uint8_t>(writer.mem, writer.mem + writer.size);
}

}  // namespace resr::image_detail
