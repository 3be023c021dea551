// Internal to image/: the per-format decoders and encoders behind codec.h, plus the shared checks.
// decode_* receive data whose magic bytes already matched; encode_* receive images that passed
// check_image_layout. Each returns the messages documented in codec.h. Decoders fill Image::icc_profile and
// Image::exif from the format's metadata blocks; encoders write non-empty ones back (see codec.h for the limits).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "image/codec.h"
#include "image/image.h"

namespace resr::image_detail {

// Zero sides, a side over kMaxImageSide, or an area over `max_pixels` -> error (before any allocation).
Status check_dimensions(std::int64_t width, std::int64_t height, std::int64_t max_pixels = kMaxImagePixels);

// Fields agree with each other and with bytes.size(); the area is at most `max_pixels`.
Status check_image_layout(const Image& image, std::int64_t max_pixels = kMaxImagePixels);

// Sets the fields and allocates zeroed sample storage; out-of-memory becomes an error instead of an exception.
// Call only after check_dimensions.
Status allocate_pixels(Image& image, int width, int height, int channels, int bits);

// vector::resize that reports failure instead of throwing: used inside C library callbacks, where an
// exception must not unwind through C frames.
bool try_resize(std::vector<std::uint8_t>& v, std::size_t size) noexcept;

// Same image at 8 bits: 16-bit samples rounded (v * 255 / 65535, to nearest); 8-bit images copied.
std::vector<std::uint8_t> samples_to_8bit(const Image& image);

// A raw TIFF-structured EXIF payload from a container's EXIF block: drops a leading "Exif\0\0" (which some
// writers put in PNG eXIf and WebP EXIF chunks although those formats store the bare TIFF structure).
std::vector<std::uint8_t> exif_from_container(std::span<const std::uint8_t> data);

// Whether an ICC profile may be attached to pixels of that kind: its header's data colour space (bytes 16..19)
// must be "RGB " for RGB pixels and "GRAY" for gray ones. Encoders leave out profiles that do not fit.
bool icc_fits(std::span<const std::uint8_t> icc, bool rgb);

// Resolution units: Image::dpi_x / dpi_y are pixels per inch; PNG stores pixels per metre, JPEG and TIFF may store
// pixels per centimetre.
inline constexpr double kInchesPerMeter = 1 / 0.0254;
inline constexpr double kCentimetersPerInch = 2.54;

// Each checks the header's size (check_dimensions, then `check_size` when set) before decoding pixels.
Result<Image> decode_png(std::span<const std::uint8_t> data, const SizeCheck& check_size);
Result<Image> decode_jpeg(std::span<const std::uint8_t> data, const SizeCheck& check_size);
Result<Image> decode_webp(std::span<const std::uint8_t> data, const SizeCheck& check_size);
Result<Image> decode_tiff(std::span<const std::uint8_t> data, const SizeCheck& check_size);

// check_dimensions, then `check_size` when set.
Status check_header_size(std::int64_t width, std::int64_t height, const SizeCheck& check_size);

Result<std::vector<std::uint8_t>> encode_png(const Image& image);
Result<std::vector<std::uint8_t>> encode_jpeg(const Image& image, const EncodeOptions& options);
Result<std::vector<std::uint8_t>> encode_webp(const Image& image, const EncodeOptions& options);
Result<std::vector<std::uint8_t>> encode_tiff(const Image& image);

}  // namespace resr::image_detail
