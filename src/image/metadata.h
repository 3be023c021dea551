// EXIF orientation: read it from Image::exif and apply it to the pixels, so the image the model sees (and the one
// written out) is upright, and viewers do not rotate it a second time.
//
//   RESR_ASSIGN_OR_RETURN(Image img, read_image_file(path));   // fills img.exif / img.icc_profile when present
//   apply_exif_orientation(img);                                // upright pixels, orientation tag now 1
//   ... upscale; copy img.exif and img.icc_profile to the output Image; write_image_file(...) stores them ...
//
// Orientation values (TIFF 6.0 / EXIF 2.3 tag 0x0112 in IFD0), as "where stored row 0 / column 0 are shown":
//   1 top/left (as stored)   2 mirrored left-right   3 rotated 180          4 mirrored top-bottom
//   5 transposed             6 rotate 90 clockwise   7 transversed          8 rotate 90 counter-clockwise
// (5-8 swap width and height.)
//
// The EXIF bytes are untrusted: parsing is bounds-checked everywhere, accepts both byte orders ("II" little-endian,
// "MM" big-endian), and treats anything malformed (bad header, truncated or out-of-range IFD, a tag of the wrong
// type or count, a value outside 1..8) as "no orientation" (1). Nothing here allocates beyond the output pixels,
// throws on bad data, or prints. Pure functions of their arguments; safe from any thread.
#pragma once

#include "image/image.h"

namespace resr {

// The orientation (1..8) recorded in image.exif; 1 when absent or unparseable.
int exif_orientation(const Image& image);

// Rotates/flips image.bytes (and swaps width/height for 5..8) so the image is upright, then rewrites the
// orientation value inside image.exif to 1 (in place, same byte order; every other EXIF byte is kept).
// No-op when the orientation is 1, absent or unparseable. Precondition: a consistent Image.
void apply_exif_orientation(Image& image);

// The pixel part of the above for an orientation found elsewhere (a TIFF's own Orientation tag): image.bytes
// rotated/flipped upright for orientation 2..8, dpi_x and dpi_y swapped with the sides, and an XMP packet's
// tiff:Orientation (attribute or element) set to 1, which viewers reading XMP would otherwise apply again; other
// values leave it as it is. image.exif is not touched.
void apply_orientation(Image& image, int orientation);

// Rewrites EXIF's PixelXDimension and PixelYDimension (tags 0xA002 / 0xA003 in the EXIF IFD, SHORT or LONG, count 1)
// inside image.exif to image.width and image.height, in place: an upscaled image's EXIF would otherwise state the
// input's size. A SHORT that cannot hold the new size becomes a LONG (same 4-byte value field); a missing tag or a
// malformed EXIF is left as it is.
void set_exif_pixel_dimensions(Image& image);

// The same for XMP's pixel dimensions (exif:PixelXDimension / PixelYDimension, tiff:ImageWidth / ImageLength, as
// attributes or elements): their numbers replaced by image.width and image.height; nothing else of the packet
// changes. No XMP, or none of them: nothing.
void set_xmp_pixel_dimensions(Image& image);

// Both of the above: the metadata carried to an output (upscaled, resized) states the output's size.
inline void set_metadata_pixel_dimensions(Image& image) {
  set_exif_pixel_dimensions(image);
  set_xmp_pixel_dimensions(image);
}

}  // namespace resr
