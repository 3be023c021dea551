#include "resr/metrics.h"

#include <string>

#include "image/codec_formats.h"
#include "metrics/niqe.h"
#include "metrics/psnr.h"
#include "metrics/ssim.h"

namespace resr {

// Images built by hand (the Python bindings' arrays) are checked as the upscaler checks them.
Result<double> niqe(const Image& image) {
  RESR_RETURN_IF_ERROR(image_detail::check_image_layout(image, kMaxOutputPixels));
  return metrics::niqe(image);
}

namespace {

Status check_crop(const QualityOptions& o) {
  if (o.crop_border < 0) return Status::error("crop_border must be 0 or more, got " + std::to_string(o.crop_border));
  return ok_status();
}

}  // namespace

Result<double> psnr(const Image& image, const Image& reference, const QualityOptions& options) {
  RESR_RETURN_IF_ERROR(check_crop(options));
  RESR_RETURN_IF_ERROR(image_detail::check_image_layout(image, kMaxOutputPixels));
  RESR_RETURN_IF_ERROR(image_detail::check_image_layout(reference, kMaxOutputPixels));
  return metrics::psnr(image, reference, {.y_channel = options.y_channel, .crop_border = options.crop_border});
}

Result<double> ssim(const Image& image, const Image& reference, const QualityOptions& options) {
  RESR_RETURN_IF_ERROR(check_crop(options));
  RESR_RETURN_IF_ERROR(image_detail::check_image_layout(image, kMaxOutputPixels));
  RESR_RETURN_IF_ERROR(image_detail::check_image_layout(reference, kMaxOutputPixels));
  return metrics::ssim(image, reference, {.y_channel = options.y_channel, .crop_border = options.crop_border});
}

}  // namespace resr
