#include "engine/upscale.h"

#include "image/convert.h"

namespace resr::engine {

Result<Image> upscale_image(const Image& input, Executable& exe) {
  RESR_ASSIGN_OR_RETURN(Tensor rgb, exe.run(image_rgb_to_tensor(input)));
  Tensor alpha_up;
  if (input.has_alpha()) {
    const Tensor alpha = image_alpha_to_tensor(input);
    Tensor alpha_rgb(3, alpha.h(), alpha.w());
    for (int c = 0; c < 3; ++c)
      std::copy(alpha.data(), alpha.data() + alpha.numel(), alpha_rgb.plane(c));
    RESR_ASSIGN_OR_RETURN(Tensor up, exe.run(alpha_rgb));
    alpha_up = Tensor(1, up.h(), up.w());
    const std::int64_t n = up.h() * std::int64_t{up.w()};
    for (std::int64_t i = 0; i < n; ++i)
      alpha_up.data()[i] = (up.plane(0)[i] + up.plane(1)[i] + up.plane(2)[i]) / 3.0f;
  }
  return tensor_to_image(rgb, input.has_alpha() ? &alpha_up : nullptr, input.channels, input.bits);
}

}  // namespace resr::engine
