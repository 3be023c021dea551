// Build+run: scripts/fuzz.sh image_decode 60   (clang, libFuzzer + ASan/UBSan; see the script for the sources)
//
// libFuzzer entry point for decode_image: any input must yield an image or an error, never a crash, leak or
// sanitizer report. The 4 GiB RSS limit leaves room for the largest image the dimension limits allow.
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/status.h"
#include "image/codec.h"
#include "image/metadata.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  resr::Result<resr::Image> image = resr::decode_image(std::span(data, size));
  if (!image.ok()) return 0;
  RESR_ASSERT(image->bytes.size() == image->sample_count() * std::size_t(image->bits / 8));
  // What the pipeline does next with the file's EXIF: turn the pixels upright, then state a size.
  const std::size_t exif_bytes = image->exif.size();
  resr::apply_exif_orientation(*image);
  resr::set_exif_pixel_dimensions(*image);
  RESR_ASSERT(image->exif.size() == exif_bytes);
  return 0;
}
