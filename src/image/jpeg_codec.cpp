// JPEG decode/encode with libjpeg(-turbo). Errors leave libjpeg through error_exit, which longjmps back to the
// setjmp in the frame that called into the library; those frames (read_header, read_pixels, write_jpeg) hold no
// C++ objects with destructors, so the jump skips none. Corrupt-data *warnings* (e.g. "Premature end of JPEG
// file", after which libjpeg pads the image with gray) are treated as errors too, so a truncated file is never
// returned as a silently damaged image; only warnings about harmless metadata are tolerated.
// Metadata: the ICC profile travels in APP2 "ICC_PROFILE" chunks (libjpeg-turbo's jpeg_read/write_icc_profile),
// EXIF in one APP1 "Exif\0\0" marker (at most 65527 bytes of payload: larger EXIF is not written), XMP in one APP1
// marker of its namespace (at most 65504 bytes; XMP's extension segments are not read), the resolution in the JFIF
// header, which files with EXIF have only for a resolution (EXIF states its own).
#include <cstdio>  // jpeglib.h needs FILE and size_t first

#include <jpeglib.h>
// jerror.h after jpeglib.h: its message numbering depends on jconfig.h's arithmetic-coding macros, and included
// first it numbers JWRN_BOGUS_ICC differently from the library.
#include <jerror.h>

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "image/codec_formats.h"

namespace resr::image_detail {
namespace {

// Hostile progressive files can hold thousands of tiny scans and take minutes to decode; real encoders emit
// about ten. libjpeg-turbo's djpeg offers the same guard (-maxscans).
constexpr int kMaxScans = 1000;

constexpr int kExifMarker = JPEG_APP0 + 1;
constexpr int kIccMarker = JPEG_APP0 + 2;
constexpr char kExifPrefix[] = "Exif\0";  // with the terminating NUL: "Exif\0\0"
constexpr unsigned int kExifPrefixSize = 6;
constexpr std::size_t kMaxMarkerData = 65533;  // a marker's 16-bit length counts its own two bytes
constexpr std::size_t kMaxExifBytes = kMaxMarkerData - kExifPrefixSize;
static_assert(kMaxExifBytes == kJpegMaxExifBytes);
constexpr std::size_t kMaxIccBytes = 255 * (kMaxMarkerData - 14);  // 255 APP2 chunks of 14 header bytes + data
constexpr char kXmpPrefix[] = "http://ns.adobe.com/xap/1.0/";      // with the terminating NUL (XMP Part 3, 1.1.3)
constexpr unsigned int kXmpPrefixSize = sizeof kXmpPrefix;
constexpr std::size_t kMaxXmpBytes = kMaxMarkerData - kXmpPrefixSize;
static_assert(kMaxXmpBytes == kJpegMaxXmpBytes);

bool try_assign(std::vector<std::uint8_t>& v, std::span<const std::uint8_t> data) {
  if (!try_resize(v, data.size())) return false;
  if (!data.empty()) std::memcpy(v.data(), data.data(), data.size());
  return true;
}

struct JpegError {
  jpeg_error_mgr mgr;  // first member: libjpeg passes &mgr back to the callbacks
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void on_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

void on_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace output
  switch (cinfo->err->msg_code) {
    case JWRN_EXTRANEOUS_DATA:  // junk between markers, common in camera files; pixels unaffected
    case JWRN_JFIF_MAJOR:
    case JWRN_ADOBE_XFORM:
    case JWRN_BOGUS_ICC:
      return;
    default:
      on_error(cinfo);
  }
}

void on_progress(j_common_ptr cinfo) {
  auto* d = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (!cinfo->is_decompressor || d->input_scan_number <= kMaxScans) return;
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  std::snprintf(err->message, sizeof err->message, "more than %d progressive scans", kMaxScans);
  std::longjmp(err->jump, 1);
}

void install_error_handler(JpegError* err) {
  jpeg_std_error(&err->mgr);
  err->mgr.error_exit = on_error;
  err->mgr.emit_message = on_message;
  err->message[0] = '\0';
}

bool read_header(j_decompress_ptr cinfo, JpegError* err, std::span<const std::uint8_t> data) {
  if (setjmp(err->jump)) return false;
  jpeg_create_decompress(cinfo);
  jpeg_mem_src(cinfo, data.data(), static_cast<unsigned long>(data.size()));
  jpeg_save_markers(cinfo, kExifMarker, 0xFFFF);  // keep APP1 (Exif) and APP2 (ICC) for read_metadata
  jpeg_save_markers(cinfo, kIccMarker, 0xFFFF);
  jpeg_read_header(cinfo, TRUE);
  return true;
}

// Reassembles the ICC profile from its APP2 chunks (malloc'ed by libjpeg; *icc stays null when there is none or
// its chunks are inconsistent, which libjpeg reports as the tolerated JWRN_BOGUS_ICC).
bool read_icc(j_decompress_ptr cinfo, JpegError* err, JOCTET** icc, unsigned int* length) {
  if (setjmp(err->jump)) return false;
  if (!jpeg_read_icc_profile(cinfo, icc, length)) *icc = nullptr;
  return true;
}

bool out_of_memory(JpegError* err) {
  std::snprintf(err->message, sizeof err->message, "out of memory");
  return false;
}

// ICC profile, the first APP1 "Exif\0\0" block, the first XMP packet and the JFIF resolution; call between
// jpeg_read_header and jpeg_start_decompress.
bool read_metadata(j_decompress_ptr cinfo, JpegError* err, Image* image) {
  JOCTET* icc = nullptr;
  unsigned int icc_length = 0;
  if (!read_icc(cinfo, err, &icc, &icc_length)) return false;
  if (icc) {
    bool ok = try_assign(image->icc_profile, {icc, icc_length});
    std::free(icc);
    if (!ok) return out_of_memory(err);
  }
  for (jpeg_saved_marker_ptr m = cinfo->marker_list; m; m = m->next) {
    if (m->marker != kExifMarker) continue;
    if (image->exif.empty() && m->data_length >= kExifPrefixSize &&
        std::memcmp(m->data, kExifPrefix, kExifPrefixSize) == 0) {
      if (!try_assign(image->exif, {m->data + kExifPrefixSize, m->data_length - kExifPrefixSize})) {
        return out_of_memory(err);
      }
    } else if (image->xmp.empty() && m->data_length > kXmpPrefixSize &&
               std::memcmp(m->data, kXmpPrefix, kXmpPrefixSize) == 0) {
      if (!try_assign(image->xmp, {m->data + kXmpPrefixSize, m->data_length - kXmpPrefixSize})) {
        return out_of_memory(err);
      }
    }
  }
  // JFIF density unit 1: dots per inch, 2: per centimetre; 0 states only the pixels' aspect ratio.
  if (cinfo->saw_JFIF_marker && (cinfo->density_unit == 1 || cinfo->density_unit == 2) && cinfo->X_density > 0 &&
      cinfo->Y_density > 0) {
    const double per_inch = cinfo->density_unit == 2 ? kCentimetersPerInch : 1.0;
    image->dpi_x = cinfo->X_density * per_inch;
    image->dpi_y = cinfo->Y_density * per_inch;
  }
  return true;
}

bool read_pixels(j_decompress_ptr cinfo, JpegError* err, Image* image) {
  if (setjmp(err->jump)) return false;
  jpeg_start_decompress(cinfo);
  if (int(cinfo->output_width) != image->width || int(cinfo->output_height) != image->height ||
      cinfo->output_components != image->channels) {
    std::snprintf(err->message, sizeof err->message, "unexpected output layout");
    return false;
  }
  std::size_t stride = std::size_t(image->width) * image->channels;
  std::size_t total = stride * std::size_t(image->height);
  while (cinfo->output_scanline < cinfo->output_height) {
    // Grow the buffer (doubling) as rows arrive rather than up front, so a tiny file claiming a huge size
    // fails on its missing data before it costs gigabytes.
    std::size_t need = (std::size_t(cinfo->output_scanline) + 1) * stride;
    if (image->bytes.size() < need &&
        !try_resize(image->bytes, std::min(total, std::max(need, 2 * image->bytes.size())))) {
      std::snprintf(err->message, sizeof err->message, "out of memory");
      return false;
    }
    JSAMPROW row = image->bytes.data() + cinfo->output_scanline * stride;
    if (jpeg_read_scanlines(cinfo, &row, 1) != 1) {  // only a suspending source stalls; ours never does
      std::snprintf(err->message, sizeof err->message, "decoder made no progress");
      return false;
    }
  }
  jpeg_finish_decompress(cinfo);
  return true;
}

// CMYK samples (4 channels) to RGB in place, as libtiff renders CMYK TIFFs: each colour the white its ink leaves,
// times what black leaves (R = (255 - C) * (255 - K) / 255), without the ICC profile a print workflow would use.
// Adobe's files (Photoshop's) store the inks inverted. The profile, CMYK, no longer fits and is left out.
void rgb_from_cmyk(Image& image, bool inverted) {
  const std::size_t pixels = std::size_t(image.width) * image.height;
  std::uint8_t* p = image.bytes.data();
  for (std::size_t i = 0; i < pixels; ++i) {
    int left[4];  // what each ink leaves of the white
    for (int c = 0; c < 4; ++c) left[c] = inverted ? p[4 * i + c] : 255 - p[4 * i + c];
    for (int c = 0; c < 3; ++c) p[3 * i + c] = std::uint8_t((left[c] * left[3] + 127) / 255);
  }
  image.bytes.resize(pixels * 3);
  image.channels = 3;
  image.icc_profile.clear();
}

// A destination that appends to a caller-owned vector (jpeg_mem_dest leaks its buffer when an error
// interrupts compression).
struct VectorDest {
  jpeg_destination_mgr pub;  // first member
  std::vector<std::uint8_t>* out;
};

void dest_init(j_compress_ptr cinfo) {
  auto* dest = reinterpret_cast<VectorDest*>(cinfo->dest);
  if (!try_resize(*dest->out, 1 << 16)) ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 0);
  dest->pub.next_output_byte = dest->out->data();
  dest->pub.free_in_buffer = dest->out->size();
}

boolean dest_grow(j_compress_ptr cinfo) {  // called when the buffer is full
  auto* dest = reinterpret_cast<VectorDest*>(cinfo->dest);
  std::size_t used = dest->out->size();
  if (!try_resize(*dest->out, used * 2)) ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 0);
  dest->pub.next_output_byte = dest->out->data() + used;
  dest->pub.free_in_buffer = dest->out->size() - used;
  return TRUE;
}

void dest_term(j_compress_ptr cinfo) {
  auto* dest = reinterpret_cast<VectorDest*>(cinfo->dest);
  dest->out->resize(dest->out->size() - dest->pub.free_in_buffer);  // shrinking never allocates
}

bool write_jpeg(j_compress_ptr cinfo, JpegError* err, VectorDest* dest, const std::uint8_t* pixels, int width,
                int height, int components, int quality, const Image* meta) {
  if (setjmp(err->jump)) return false;
  jpeg_create_compress(cinfo);
  dest->pub.init_destination = dest_init;
  dest->pub.empty_output_buffer = dest_grow;
  dest->pub.term_destination = dest_term;
  cinfo->dest = &dest->pub;
  cinfo->image_width = JDIMENSION(width);
  cinfo->image_height = JDIMENSION(height);
  cinfo->input_components = components;
  cinfo->in_color_space = components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(cinfo);
  jpeg_set_quality(cinfo, quality, TRUE);
  // Optimised Huffman tables make files smaller at no cost in quality, but libjpeg then buffers the whole
  // image's coefficients (2 bytes per sample): only for images up to 16 M samples (32 MiB of buffer).
  cinfo->optimize_coding =
      std::size_t(width) * std::size_t(height) * std::size_t(components) <= (std::size_t{1} << 24) ? TRUE : FALSE;
  if (components == 3 && quality >= 90) {
    // At high quality keep full-resolution chroma (4:4:4): 4:2:0 would blur the detail the model just added.
    cinfo->comp_info[0].h_samp_factor = 1;
    cinfo->comp_info[0].v_samp_factor = 1;
  }
  // Exif files start with APP1 right after SOI (EXIF 2.3 4.5.4), so the JFIF APP0 is left out when there is EXIF,
  // unless it carries a resolution, which would otherwise be lost: JFIF then EXIF, as Photoshop and Pillow write
  // (a JPEG input has both then; a camera's has only EXIF, and no resolution outside it).
  const bool exif = !meta->exif.empty() && meta->exif.size() <= kMaxExifBytes;
  const bool dpi = meta->dpi_x > 0 && meta->dpi_y > 0;
  if (exif && !dpi) {
    cinfo->write_JFIF_header = FALSE;
  } else if (dpi) {
    cinfo->density_unit = 1;  // dots per inch
    cinfo->X_density = UINT16(std::clamp(std::lround(meta->dpi_x), 1L, 65535L));
    cinfo->Y_density = UINT16(std::clamp(std::lround(meta->dpi_y), 1L, 65535L));
  }
  jpeg_start_compress(cinfo, TRUE);
  if (exif) {
    jpeg_write_m_header(cinfo, kExifMarker, unsigned(kExifPrefixSize + meta->exif.size()));
    for (unsigned int i = 0; i < kExifPrefixSize; ++i) jpeg_write_m_byte(cinfo, kExifPrefix[i]);
    for (std::uint8_t b : meta->exif) jpeg_write_m_byte(cinfo, b);
  }
  if (!meta->xmp.empty() && meta->xmp.size() <= kMaxXmpBytes) {
    jpeg_write_m_header(cinfo, kExifMarker, unsigned(kXmpPrefixSize + meta->xmp.size()));
    for (unsigned int i = 0; i < kXmpPrefixSize; ++i) jpeg_write_m_byte(cinfo, kXmpPrefix[i]);
    for (std::uint8_t b : meta->xmp) jpeg_write_m_byte(cinfo, b);
  }
  if (meta->icc_profile.size() <= kMaxIccBytes && icc_fits(meta->icc_profile, components == 3)) {
    jpeg_write_icc_profile(cinfo, meta->icc_profile.data(), unsigned(meta->icc_profile.size()));
  }
  std::size_t stride = std::size_t(width) * components;
  while (cinfo->next_scanline < cinfo->image_height) {
    JSAMPROW row = const_cast<std::uint8_t*>(pixels) + cinfo->next_scanline * stride;  // libjpeg only reads
    jpeg_write_scanlines(cinfo, &row, 1);
  }
  jpeg_finish_compress(cinfo);
  return true;
}

}  // namespace

Result<Image> decode_jpeg(std::span<const std::uint8_t> data, const SizeCheck& check_size) {
  JpegError err;
  install_error_handler(&err);
  jpeg_decompress_struct cinfo{};
  cinfo.err = &err.mgr;
  jpeg_progress_mgr progress{};
  progress.progress_monitor = on_progress;
  struct Guard {
    jpeg_decompress_struct* cinfo;
    ~Guard() { jpeg_destroy_decompress(cinfo); }
  } guard{&cinfo};
  auto corrupt = [&err] {
    // Valid files libjpeg does not read (12-bit, lossless or arithmetic-coded JPEG) are not corrupt; its other
    // "Unsupported ..." messages (an unknown marker) usually are.
    const std::string_view m(err.message);
    const bool unsupported =
        m.starts_with("Unsupported JPEG data precision") || m.starts_with("Unsupported JPEG process");
    return Status::error(std::string(unsupported ? "unsupported JPEG: " : "corrupt or truncated JPEG data: ") +
                         err.message);
  };

  if (!read_header(&cinfo, &err, data)) return corrupt();
  cinfo.progress = &progress;
  RESR_RETURN_IF_ERROR(check_header_size(cinfo.image_width, cinfo.image_height, check_size));
  Image image;  // read_pixels allocates the samples
  if (!read_metadata(&cinfo, &err, &image)) return corrupt();
  int channels = 3;
  const bool cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
  switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
      cinfo.out_color_space = JCS_GRAYSCALE;
      channels = 1;
      break;
    case JCS_CMYK:
    case JCS_YCCK:
      cinfo.out_color_space = JCS_CMYK;  // libjpeg turns YCCK into CMYK; made RGB below
      channels = 4;
      break;
    default:
      cinfo.out_color_space = JCS_RGB;
  }
  image.width = int(cinfo.image_width);
  image.height = int(cinfo.image_height);
  image.channels = channels;
  if (!read_pixels(&cinfo, &err, &image)) return corrupt();
  if (cmyk) rgb_from_cmyk(image, /*inverted=*/cinfo.saw_Adobe_marker != 0);
  return image;
}

Result<std::vector<std::uint8_t>> encode_jpeg(const Image& image, const EncodeOptions& options) {
  // JPEG holds 8-bit gray or RGB: round 16-bit samples, then drop alpha (not composited onto a background).
  // 8-bit gray or RGB is encoded straight from the image: no copy of what may be hundreds of megabytes.
  const int components = image.channels <= 2 ? 1 : 3;
  const bool direct = image.bits == 8 && components == image.channels;
  std::vector<std::uint8_t> samples;
  if (!direct) samples = samples_to_8bit(image);
  if (!direct && components != image.channels) {
    std::size_t pixels = std::size_t(image.width) * image.height;
    for (std::size_t p = 0; p < pixels; ++p) {
      for (int c = 0; c < components; ++c) samples[p * components + c] = samples[p * image.channels + c];
    }
    samples.resize(pixels * components);
  }

  std::vector<std::uint8_t> out;
  JpegError err;
  install_error_handler(&err);
  jpeg_compress_struct cinfo{};
  cinfo.err = &err.mgr;
  VectorDest dest{};
  dest.out = &out;
  struct Guard {
    jpeg_compress_struct* cinfo;
    ~Guard() { jpeg_destroy_compress(cinfo); }
  } guard{&cinfo};
  const std::uint8_t* pixels = direct ? image.bytes.data() : samples.data();
  if (!write_jpeg(&cinfo, &err, &dest, pixels, image.width, image.height, components, options.quality, &image)) {
    return Status::error(std::string("JPEG encoding failed: ") + err.message);
  }
  return out;
}

}  // namespace resr::image_detail
