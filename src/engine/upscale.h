// Whole-image upscaling: Image -> model -> Image, keeping the channel layout and bit depth of the input.
// Gray goes through the model as RGB (replicated) and comes back as the mean of the three planes; an alpha
// channel goes through the model as a gray image, so edges stay as sharp as the colour.
#pragma once

#include "backends/executable.h"
#include "image/image.h"

namespace resr::engine {

[[nodiscard]] Result<Image> upscale_image(const Image& input, Executable& exe);

}  // namespace resr::engine
