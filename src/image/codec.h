// Image file codecs: PNG (8/16-bit), JPEG, WebP and TIFF (8/16-bit), decoded from memory or files and encoded to
// memory or files.
//
//   RESR_ASSIGN_OR_RETURN(Image img, read_image_file(in_path));           // error already names no path:
//   RESR_ASSIGN_OR_RETURN(ImageFormat fmt, format_from_extension(out));   //   callers add it with with_context
//   RESR_RETURN_IF_ERROR(write_image_file(img, out, fmt, {.quality = 90}));
//
// Decoding detects the format from magic bytes, never from the file name, and yields:
//   PNG   gray, gray+alpha, RGB or RGBA at 8 or 16 bits (16 kept); palette -> RGB(A), tRNS -> alpha,
//         bit depths 1/2/4 -> 8
//   JPEG  gray or RGB, 8-bit; CMYK/YCCK rendered to RGB as libtiff renders CMYK (no ICC)
//   WebP  RGB or RGBA, 8-bit (animated WebP is an error)
//   TIFF  the first image: gray, gray+alpha, RGB or RGBA at 8 or 16 bits (16 kept), strips or tiles,
//         interleaved or planar; other layouts libtiff renders (palette, 1/2/4-bit, YCbCr/JPEG, CMYK, ...)
//         as 8-bit RGB(A) or gray(+alpha); the Orientation tag is applied (upright pixels); floats are an error
// Every malformed, truncated or hostile input returns an error Status (one lower-case line); nothing here
// aborts, throws on bad data, or prints. Dimensions are checked before any pixel buffer is allocated:
// both sides >= 1, each side <= kMaxImageSide and width*height <= kMaxImagePixels (kMaxOutputPixels when encoding).
//
// Encoding: PNG and TIFF (Deflate) keep bit depth and channels. JPEG is 8-bit gray or RGB: 16-bit samples are rounded
// to 8 bits and alpha is dropped (not composited). WebP is 8-bit RGB or RGBA: gray is expanded to RGB, 16 bits rounded.
//
// Metadata (Image::icc_profile, exif, xmp, dpi_x/dpi_y): decoding fills them from PNG iCCP/eXIf/the XMP iTXt/pHYs
// (or the "Raw profile type exif/APP1/xmp" texts older ImageMagick and exiv2 wrote),
// JPEG APP2 "ICC_PROFILE" chunks / the first APP1 "Exif" and XMP blocks / JFIF density, WebP ICCP/EXIF/XMP chunks
// (WebP states no resolution outside EXIF), and TIFF's ICC tag, EXIF (tiff_exif.h), XMP tag and resolution (TIFF's own
// orientation tag is applied by the decoder); a metadata block that cannot be read is skipped (empty field), never an
// error. A leading "Exif\0\0" inside PNG/WebP EXIF is dropped. Encoding writes non-empty fields back, bytes unchanged:
// PNG iCCP + eXIf + XMP iTXt + pHYs + text chunks (Image::png_texts) + sRGB/gAMA/cHRM where there is no iCCP
// (Image::png_colour; both read from PNG only), JPEG APP1 Exif (right after
// SOI, the JFIF APP0 left out, unless there is a resolution for it; left out above 65527 bytes) + APP1 XMP (left out
// above 65504 bytes) + APP2 ICC (split over up to 255 markers), WebP ICCP/EXIF/XMP (extended VP8X container), TIFF the
// ICC tag, EXIF (tiff_exif.h), XMP tag and resolution (72 dpi when the image has none). A profile is written only when
// its colour space fits the stored pixels ("RGB " for RGB, "GRAY" for gray; WebP is always RGB; libpng further refuses
// malformed profile headers); otherwise it is left out. EXIF is copied verbatim: apply_exif_orientation (metadata.h)
// rotates the pixels and resets the tag, and engine::upscale_image sets its pixel dimensions to the output's
// (set_metadata_pixel_dimensions). Thread-safe: no shared state; different threads may decode/encode concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "image/image.h"

namespace resr {

enum class ImageFormat { kPng, kJpeg, kWebp, kTiff };

inline constexpr std::int64_t kMaxImageSide = std::int64_t{1} << 16;
inline constexpr std::int64_t kMaxImagePixels = std::int64_t{1} << 28;
// Images resr makes and encodes may be larger: an 8K frame upscaled 4x is 30720x17280 (2^29 pixels, 1.6 GB at
// 8-bit RGB). Decoding keeps kMaxImagePixels: a tiny hostile file must not cost gigabytes.
inline constexpr std::int64_t kMaxOutputPixels = std::int64_t{1} << 30;
inline constexpr std::int64_t kMaxImageFileBytes = std::int64_t{1} << 30;

struct EncodeOptions {
  int quality = 95;       // JPEG and lossy WebP, 1..100; ignored by PNG and TIFF
  bool lossless = false;  // WebP: lossless encoding (exact RGB, alpha kept), quality ignored; JPEG: an error
};

// The most EXIF bytes a JPEG holds (one APP1 segment, less its "Exif\0\0"): a larger EXIF is left out of a JPEG
// output.
inline constexpr std::size_t kJpegMaxExifBytes = 65527;
// The most XMP bytes a JPEG holds (one APP1 segment, less its namespace): a larger packet is left out of a JPEG
// output.
inline constexpr std::size_t kJpegMaxXmpBytes = 65504;

// ".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff" (case-insensitive) from the end of `path`; anything else is
// an error ("unsupported output extension '.xyz' (use .png, .jpg, .webp or .tif)").
Result<ImageFormat> format_from_extension(std::string_view path);

// Called with an image's size as its header stores it (before any orientation is applied) before its pixels are
// decoded: an error it returns is the decode's, so that a size the caller would refuse (an output past the limits)
// costs no decoding (a 2 MB PNG of 16384x16384 took 2.1 GB and 13 s before its output was refused).
using SizeCheck = std::function<Status(int stored_width, int stored_height)>;

// Whether encoding `image` as `format` writes its ICC profile: one whose colour space fits the pixels as that format
// stores them (WebP: always RGB); false when there is none. (libpng may still refuse a malformed profile.)
bool icc_profile_fits_output(const Image& image, ImageFormat format);

// Whether `format` shows `image` as its PNG colour chunks (Image::png_colour) do: a PNG output writes them, and the
// other formats, which resr writes them to in no form, are taken as sRGB by viewers, which is the same only for an
// sRGB chunk or a gamma of 1/2.2 and (for colour) sRGB's chromaticities (within 1%). True when there are none.
bool png_colour_fits_output(const Image& image, ImageFormat format);

// Decodes a whole encoded file held in memory.
Result<Image> decode_image(std::span<const std::uint8_t> bytes, const SizeCheck& check_size = {});

// Reads and decodes a file; files over kMaxImageFileBytes are refused before reading.
Result<Image> read_image_file(const std::string& path, const SizeCheck& check_size = {});

// Encodes to memory. Errors: inconsistent Image fields, quality outside 1..100, format limits (WebP sides <= 16383).
Result<std::vector<std::uint8_t>> encode_image(const Image& image, ImageFormat format, const EncodeOptions& options);

// Encodes, writes to a temporary beside `path` (core/staged_file.h) and renames it over `path` once complete.
// On any failure the temporary is removed and `path` is left untouched (never created or truncated).
Status write_image_file(const Image& image, const std::string& path, ImageFormat format, const EncodeOptions& options);

}  // namespace resr
