// Internal to src/image: the EXIF of a classic TIFF file as a standalone TIFF-structured blob, the form Image::exif
// holds for every format (EXIF 2.3 4.6: IFD0 with pointers to the EXIF and GPS IFDs), and such a blob written into a
// TIFF file.
//
// Carried: IFD0's descriptive tags (ImageDescription, Make, Model, XResolution, YResolution, ResolutionUnit,
// Software, DateTime, Artist, Copyright), the entries of the EXIF IFD (0x8769) and of the GPS IFD (0x8825), values
// byte for byte in the file's byte order. Not carried: the image-structure tags, Orientation (decoding applies
// it, so the upright pixels need none), pointers to sub-IFDs (the EXIF IFD's Interoperability IFD, IFD-typed
// entries), and, in a blob, the MakerNote when the blob would otherwise pass 65527 bytes (what a JPEG APP1
// segment holds).
//
// The file is untrusted: entries of unknown types or whose values lie outside the file are skipped, and a file
// with no EXIF or GPS IFD and no descriptive tag but resolution and Software (which nearly every TIFF has), a
// BigTIFF, or a structure too broken to walk gives an empty blob. Never an error: the pixels decode either way.
// Pure functions; safe from any thread.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace resr::image_detail {

std::vector<std::uint8_t> exif_from_tiff_file(std::span<const std::uint8_t> file);

// True when the EXIF blob `exif` is big-endian ("MM"): a TIFF file that is to hold it is written in its byte order.
bool exif_is_big_endian(std::span<const std::uint8_t> exif);

// `file`, a classic TIFF (as libtiff writes it) in the byte order of `exif` (any format's EXIF blob, untrusted),
// with what tiff_exif carries of that EXIF added: IFD0's descriptive tags the file lacks, but for the writer's
// (resolution and Software, which describe the input file), and the EXIF and GPS IFDs (but for the two tags that
// describe a JPEG's compressed data). They go after the file's bytes, with a copy of IFD0 that holds them and that
// the header then names (the old IFD0 stays, unreferenced; later IFDs stay linked). The file comes back as it is
// when the blob is unreadable or carries nothing, the byte orders differ, the result would pass classic TIFF's
// 4 GiB or cannot be allocated, or the EXIF added would pass about twice the blob (twice, plus IFD0's own entries
// and 64 bytes: entries sharing one value, as a hostile blob makes them, would exceed it).
std::vector<std::uint8_t> tiff_file_with_exif(std::vector<std::uint8_t> file, std::span<const std::uint8_t> exif);

}  // namespace resr::image_detail
