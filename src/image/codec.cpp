// Format detection, limits, and file I/O around the per-format codecs (png_codec.cpp, jpeg_codec.cpp,
// webp_codec.cpp, tiff_codec.cpp). Files are read with POSIX calls so the size can be checked before reading and
// directories are refused; output goes to a temporary that is renamed into place, so a failed write never leaves a
// partial image at the destination.
#include "image/codec.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/populate_pages.h"
#include "core/staged_file.h"
#include "image/codec_formats.h"

namespace resr {
namespace image_detail {

Status check_dimensions(std::int64_t width, std::int64_t height, std::int64_t max_pixels) {
  if (width <= 0 || height <= 0) {
    return Status::error(std::string(width < 0 || height < 0 ? "image has a negative" : "image has zero") +
                         " width or height (" + std::to_string(width) + "x" + std::to_string(height) + ")");
  }
  std::string dims = std::to_string(width) + "x" + std::to_string(height);
  // Area first: it is the limit that matters for memory. Either side alone over the area limit exceeds it, and
  // otherwise the product is below 2^30 * 2^32 and cannot overflow (headers carry at most 32-bit sizes).
  if (width > max_pixels || height > max_pixels || width * height > max_pixels) {
    return Status::error("image dimensions " + dims + " exceed the limit of " + std::to_string(max_pixels) + " pixels");
  }
  if (width > kMaxImageSide || height > kMaxImageSide) {
    return Status::error("image dimensions " + dims + " exceed the limit of " + std::to_string(kMaxImageSide) +
                         " pixels per side");
  }
  return ok_status();
}

Status check_header_size(std::int64_t width, std::int64_t height, const SizeCheck& check_size) {
  RESR_RETURN_IF_ERROR(check_dimensions(width, height));
  return check_size ? check_size(int(width), int(height)) : ok_status();
}

Status check_image_layout(const Image& image, std::int64_t max_pixels) {
  if (image.channels < 1 || image.channels > 4) {
    return Status::error("invalid image: " + std::to_string(image.channels) + " channels (expected 1..4)");
  }
  if (image.bits != 8 && image.bits != 16) {
    return Status::error("invalid image: " + std::to_string(image.bits) + " bits per sample (expected 8 or 16)");
  }
  RESR_RETURN_IF_ERROR(check_dimensions(image.width, image.height, max_pixels));
  std::size_t expected = image.sample_count() * std::size_t(image.bits / 8);
  if (image.bytes.size() != expected) {
    return Status::error("invalid image: " + std::to_string(image.bytes.size()) + " bytes of samples, expected " +
                         std::to_string(expected));
  }
  return ok_status();
}

Status allocate_pixels(Image& image, int width, int height, int channels, int bits) {
  image.width = width;
  image.height = height;
  image.channels = channels;
  image.bits = bits;
  if (!try_resize(image.bytes, image.sample_count() * std::size_t(bits / 8))) {
    return Status::error("out of memory allocating a " + std::to_string(width) + "x" + std::to_string(height) +
                         " image");
  }
  return ok_status();
}

bool try_resize(std::vector<std::uint8_t>& v, std::size_t size) noexcept {
  try {
    resize_populated(v, size);
    return true;
  } catch (...) {  // bad_alloc or length_error
    return false;
  }
}

std::vector<std::uint8_t> samples_to_8bit(const Image& image) {
  if (image.bits == 8) return image.bytes;
  std::vector<std::uint8_t> out(image.sample_count());
  // (v * 255 + 32767) / 65535 is v / 257 rounded to nearest, in exact integer arithmetic.
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<std::uint8_t>((std::uint32_t{image.sample16(i)} * 255u + 32767u) / 65535u);
  }
  return out;
}

}  // namespace image_detail

namespace {

bool starts_with(std::span<const std::uint8_t> data, std::string_view magic, std::size_t offset = 0) {
  if (data.size() < offset + magic.size()) return false;
  return std::memcmp(data.data() + offset, magic.data(), magic.size()) == 0;
}

std::string errno_message() {
  return std::strerror(errno);
}

// Closes a POSIX descriptor on every path out of a function.
struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

Result<ImageFormat> format_from_extension(std::string_view path) {
  std::size_t slash = path.find_last_of('/');
  std::size_t dot = path.find_last_of('.');
  std::string ext;
  if (dot != std::string_view::npos && (slash == std::string_view::npos || dot > slash)) {
    for (char c : path.substr(dot)) ext += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (ext == ".png") return ImageFormat::kPng;
  if (ext == ".jpg" || ext == ".jpeg") return ImageFormat::kJpeg;
  if (ext == ".webp") return ImageFormat::kWebp;
  if (ext == ".tif" || ext == ".tiff") return ImageFormat::kTiff;
  if (ext.empty()) return Status::error("output path has no extension (use .png, .jpg, .webp or .tif)");
  return Status::error("unsupported output extension '" + ext + "' (use .png, .jpg, .webp or .tif)");
}

Result<Image> decode_image(std::span<const std::uint8_t> bytes, const SizeCheck& check_size) {
  if (bytes.empty()) return Status::error("empty file");
  if (starts_with(bytes, "\x89PNG\r\n\x1a\n")) return image_detail::decode_png(bytes, check_size);
  if (starts_with(bytes, "\xff\xd8\xff")) return image_detail::decode_jpeg(bytes, check_size);
  if (starts_with(bytes, "RIFF") && starts_with(bytes, "WEBP", 8)) return image_detail::decode_webp(bytes, check_size);
  // Classic TIFF ("II*\0", "MM\0*") and BigTIFF ("II+\0", "MM\0+").
  if (starts_with(bytes, std::string_view("II*\0", 4)) || starts_with(bytes, std::string_view("MM\0*", 4)) ||
      starts_with(bytes, std::string_view("II+\0", 4)) || starts_with(bytes, std::string_view("MM\0+", 4)))
    return image_detail::decode_tiff(bytes, check_size);
  return Status::error("not a PNG, JPEG, WebP or TIFF image");
}

Result<Image> read_image_file(const std::string& path, const SizeCheck& check_size) {
  // O_NONBLOCK: a FIFO's open would wait for a writer (forever, even through Ctrl-C); it is refused below.
  FdCloser file{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)};
  if (file.fd < 0) return Status::error("cannot open: " + errno_message());
  struct stat st {};
  if (::fstat(file.fd, &st) != 0) return Status::error("cannot open: " + errno_message());
  if (!S_ISREG(st.st_mode)) return Status::error("cannot open: not a regular file");
  if (st.st_size > kMaxImageFileBytes) {
    return Status::error("file is too large (" + std::to_string(st.st_size) + " bytes; the limit is 1 GiB)");
  }
  std::vector<std::uint8_t> data(static_cast<std::size_t>(st.st_size));
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::read(file.fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::error("cannot read: " + errno_message());
    if (n == 0) break;  // the file shrank while we read it; decode what we got (it will likely report truncation)
    done += static_cast<std::size_t>(n);
  }
  data.resize(done);
  return decode_image(data, check_size);
}

Result<std::vector<std::uint8_t>> encode_image(const Image& image, ImageFormat format, const EncodeOptions& options) {
  RESR_RETURN_IF_ERROR(image_detail::check_image_layout(image, kMaxOutputPixels));
  const bool lossless_format = format == ImageFormat::kPng || format == ImageFormat::kTiff;
  if (!lossless_format && (options.quality < 1 || options.quality > 100)) {
    return Status::error("quality " + std::to_string(options.quality) + " is out of range (1..100)");
  }
  if (options.lossless && format == ImageFormat::kJpeg)  // a lossy file where exact pixels were asked for
    return Status::error("JPEG has no lossless mode; write .webp, .png or .tif");
  switch (format) {
    case ImageFormat::kPng:
      return image_detail::encode_png(image);
    case ImageFormat::kJpeg:
      return image_detail::encode_jpeg(image, options);
    case ImageFormat::kWebp:
      return image_detail::encode_webp(image, options);
    case ImageFormat::kTiff:
      return image_detail::encode_tiff(image);
  }
  return Status::error("unknown image format");
}

bool icc_profile_fits_output(const Image& image, ImageFormat format) {
  const bool rgb = format == ImageFormat::kWebp || image.channels >= 3;
  return image_detail::icc_fits(image.icc_profile, rgb);
}

bool png_colour_fits_output(const Image& image, ImageFormat format) {
  const Image::PngColour& colour = image.png_colour;
  if (format == ImageFormat::kPng || colour.srgb_intent >= 0) return true;
  constexpr std::int32_t kSrgbGamma = 45455;  // 1/2.2 in PNG's fixed point
  constexpr std::array<std::int32_t, 8> kSrgbChromaticities = {31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000};
  constexpr std::int32_t kOneHundredth = 1000;  // of a chromaticity coordinate
  const auto near = [](std::int32_t a, std::int32_t b, std::int32_t within) { return std::abs(a - b) <= within; };
  if (colour.gamma != 0 && !near(colour.gamma, kSrgbGamma, kSrgbGamma / 100)) return false;
  if (colour.chromaticities[1] == 0 || image.channels < 3) return true;  // primaries do not change a gray image
  for (std::size_t i = 0; i < kSrgbChromaticities.size(); ++i)
    if (!near(colour.chromaticities[i], kSrgbChromaticities[i], kOneHundredth)) return false;
  return true;
}

Status write_image_file(const Image& image, const std::string& path, ImageFormat format, const EncodeOptions& options) {
  RESR_ASSIGN_OR_RETURN(std::vector<std::uint8_t> encoded, encode_image(image, format, options));
  return write_file_atomically(path, encoded);
}

}  // namespace resr
