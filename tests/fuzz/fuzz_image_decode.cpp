// Build+run: scripts/fuzz.sh image_decode 60   (clang, libFuzzer + ASan/UBSan; see the script for the sources)
//
// libFuzzer entry point for decode_image: any input must yield an image or an error, never a crash, leak or
// sanitizer report. The 4 GiB RSS limit leaves room for the largest image the dimension limits allow. The input is
// also taken as an EXIF blob (a TIFF-structured one: the TIFF seeds give it shape) and written into a small TIFF,
// which must then decode.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "image/codec.h"
#include "image/metadata.h"
#include "image/tiff_exif.h"

namespace {

// A 2x1 gray TIFF in each byte order.
const std::vector<std::uint8_t>& carrier(bool big_endian) {
  static const auto make = [](bool big) {
    resr::Image img;
    img.width = 2;
    img.height = img.channels = 1;
    img.bytes = {10, 200};
    if (big) img.exif = {'M', 'M'};  // (too short to carry anything: only the byte order is taken from it)
    resr::Result<std::vector<std::uint8_t>> file = resr::encode_image(img, resr::ImageFormat::kTiff, {});
    RESR_ASSERT(file.ok());
    return *file;
  };
  static const std::vector<std::uint8_t> little = make(false), big = make(true);
  return big_endian ? big : little;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> input(data, size);
  const std::vector<std::uint8_t> with_exif =
      resr::image_detail::tiff_file_with_exif(carrier(resr::image_detail::exif_is_big_endian(input)), input);
  resr::Result<resr::Image> back = resr::decode_image(with_exif);
  RESR_ASSERT(back.ok() && back->bytes == (std::vector<std::uint8_t>{10, 200}));
  resr::Result<resr::Image> image = resr::decode_image(std::span(data, size));
  if (!image.ok()) return 0;
  RESR_ASSERT(image->bytes.size() == image->sample_count() * std::size_t(image->bits / 8));
  // What the pipeline does next with the file's EXIF: turn the pixels upright, then state a size.
  const std::size_t exif_bytes = image->exif.size();
  resr::apply_exif_orientation(*image);
  resr::set_metadata_pixel_dimensions(*image);
  RESR_ASSERT(image->exif.size() == exif_bytes);
  return 0;
}
