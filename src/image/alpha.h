// Alpha helpers for preparing images with transparency for the model.
//
//   if (img.has_alpha()) bleed_transparent_colors(img);   // before image_rgb_to_tensor(img)
//
// Why: the model sees RGB only. Fully transparent pixels usually hide black (or garbage) colour, and the model's
// receptive field mixes it into the visible pixels at the shape's edge, leaving a dark fringe once alpha is put
// back. Filling the hidden colour from the nearest visible neighbours removes the fringe; alpha is not changed.
#pragma once

#include "image/image.h"

namespace resr {

// Passes of 8-neighbour dilation before the remaining hidden pixels get the mean visible colour.
inline constexpr int kBleedPasses = 32;

// For images with alpha (2 or 4 channels): replaces the colour of every fully transparent pixel (alpha == 0) and
// keeps every other sample as it is. Pass k (1..kBleedPasses) fills each transparent pixel that touches (8-
// neighbourhood) a pixel that is visible or was filled in an earlier pass, with the mean colour of those
// neighbours (rounded to nearest); pixels still unfilled afterwards get the mean colour of all visible pixels.
// No-op for images without alpha and for images with no visible pixel. Works at 8 and 16 bits.
// Cost: O(pixels) time plus one byte of state per pixel. Precondition: a consistent Image.
void bleed_transparent_colors(Image& img);

}  // namespace resr
