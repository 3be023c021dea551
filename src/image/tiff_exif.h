// Internal to src/image: the EXIF of a classic TIFF file as a standalone TIFF-structured blob, the form Image::exif
// holds for every format (EXIF 2.3 4.6: IFD0 with pointers to the EXIF and GPS IFDs).
//
// Carried: IFD0's descriptive tags (ImageDescription, Make, Model, XResolution, YResolution, ResolutionUnit,
// Software, DateTime, Artist, Copyright), every entry of the EXIF IFD (0x8769) and of the GPS IFD (0x8825), values
// byte for byte in the file's byte order. Not carried: the image-structure tags, Orientation (decoding applies
// it, so the upright pixels need none), the EXIF IFD's own sub-IFD (Interoperability), and the MakerNote when the
// blob would otherwise pass 65527 bytes (what a JPEG APP1 segment holds).
//
// The file is untrusted: entries of unknown types or whose values lie outside the file are skipped, and a file
// without an EXIF or GPS IFD, a BigTIFF, or a structure too broken to walk gives an empty blob. Never an error:
// the pixels decode either way. Pure function; safe from any thread.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace resr::image_detail {

std::vector<std::uint8_t> exif_from_tiff_file(std::span<const std::uint8_t> file);

}  // namespace resr::image_detail
