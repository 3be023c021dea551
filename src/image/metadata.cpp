// EXIF orientation from a raw TIFF structure (TIFF 6.0 section 2 "Image File Header" / "IFD"; EXIF 2.3 4.6.4):
// an 8-byte header ("II" or "MM", 42, offset of IFD0), then IFD0 = a 16-bit entry count and 12-byte entries
// (tag, type, count, value-or-offset). Orientation is tag 0x0112, type SHORT, count 1, its value held in the
// first two bytes of the entry's value field. Every read is checked against the buffer size in 64-bit arithmetic.
#include "image/metadata.h"

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "image/codec_formats.h"
#include "image/tiff_structure.h"

namespace resr {
namespace image_detail {

std::vector<std::uint8_t> exif_from_container(std::span<const std::uint8_t> data) {
  static constexpr std::uint8_t kPrefix[6] = {'E', 'x', 'i', 'f', 0, 0};
  if (data.size() >= sizeof kPrefix && std::memcmp(data.data(), kPrefix, sizeof kPrefix) == 0) {
    data = data.subspan(sizeof kPrefix);
  }
  return {data.begin(), data.end()};
}

bool icc_fits(std::span<const std::uint8_t> icc, bool rgb) {
  return icc.size() >= 20 && std::memcmp(icc.data() + 16, rgb ? "RGB " : "GRAY", 4) == 0;
}

}  // namespace image_detail

namespace {

constexpr std::uint16_t kOrientationTag = 0x0112;
constexpr std::uint16_t kTypeShort = 3;
constexpr std::size_t kNotFound = ~std::size_t{0};

// Offset in `exif` of the value field of the entry `tag` in the IFD at `ifd` (its type in *type, count 1 only), or
// kNotFound.
std::size_t find_entry(const image_detail::TiffStructure& tiff, std::uint64_t ifd, std::uint32_t tag,
                       std::uint32_t* type) {
  std::uint32_t count = 0;
  if (!tiff.u16(ifd, &count)) return kNotFound;
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::uint64_t entry = ifd + 2 + 12 * i;
    std::uint32_t t = 0, n = 0, ignored = 0;
    if (!tiff.u16(entry, &t) || !tiff.u16(entry + 2, type) || !tiff.u32(entry + 4, &n) ||
        !tiff.u32(entry + 8, &ignored))
      return kNotFound;  // IFD cut short before the tag was found
    if (t == tag) return n == 1 ? std::size_t(entry + 8) : kNotFound;
  }
  return kNotFound;
}

// Offset in `exif` of the orientation entry's 2-byte value (IFD0, one SHORT of 1..8), or kNotFound; *big_endian
// gets the byte order.
std::size_t find_orientation(std::span<const std::uint8_t> exif, bool* big_endian) {
  image_detail::TiffStructure tiff(exif);
  std::uint64_t ifd = 0;
  if (!tiff.read_header(&ifd)) return kNotFound;
  *big_endian = tiff.big_endian();
  std::uint32_t type = 0, value = 0;
  const std::size_t at = find_entry(tiff, ifd, kOrientationTag, &type);
  if (at == kNotFound || type != kTypeShort || !tiff.u16(at, &value) || value < 1 || value > 8) return kNotFound;
  return at;
}

// Source pixel (in a stored image of w x h) of upright pixel (x, y) for orientation o.
struct Point {
  int x, y;
};
Point source_of(int o, int x, int y, int w, int h) {
  switch (o) {
    case 2:
      return {w - 1 - x, y};
    case 3:
      return {w - 1 - x, h - 1 - y};
    case 4:
      return {x, h - 1 - y};
    case 5:
      return {y, x};
    case 6:
      return {y, h - 1 - x};
    case 7:
      return {w - 1 - y, h - 1 - x};
    case 8:
      return {w - 1 - y, x};
    default:
      return {x, y};
  }
}

}  // namespace

int exif_orientation(const Image& image) {
  bool big_endian = false;
  std::size_t at = find_orientation(image.exif, &big_endian);
  if (at == kNotFound) return 1;
  return big_endian ? image.exif[at] << 8 | image.exif[at + 1] : image.exif[at + 1] << 8 | image.exif[at];
}

void apply_exif_orientation(Image& image) {
  bool big_endian = false;
  const std::size_t at = find_orientation(image.exif, &big_endian);
  if (at == kNotFound) return;
  const int o = exif_orientation(image);
  if (o == 1) return;
  image_detail::store_uint(image.exif, at, 1, 2, big_endian);  // 1: normal, now that the pixels are turned
  // The thumbnail (IFD1) is stored as the pixels were and shown turned by the same tag, now 1: it would show
  // sideways. It is unlinked (its bytes stay, unreferenced) rather than turned.
  image_detail::TiffStructure tiff(image.exif);
  std::uint64_t ifd0 = 0;
  std::uint32_t entries = 0;
  if (tiff.read_header(&ifd0) && tiff.u16(ifd0, &entries)) {
    const std::uint64_t next = ifd0 + 2 + 12 * std::uint64_t(entries);
    std::uint32_t ignored = 0;
    if (tiff.u32(next, &ignored)) image_detail::store_uint(image.exif, std::size_t(next), 0, 4, big_endian);
  }
  apply_orientation(image, o);
}

void set_exif_pixel_dimensions(Image& image) {
  std::uint64_t ifd0 = 0;
  image_detail::TiffStructure header(image.exif);
  if (!header.read_header(&ifd0)) return;
  std::uint32_t type = 0, exif_ifd = 0;
  const std::size_t pointer = find_entry(header, ifd0, 0x8769, &type);
  if (pointer == kNotFound) return;
  const bool read =
      type == kTypeShort ? header.u16(pointer, &exif_ifd) : (type == 4 || type == 13) && header.u32(pointer, &exif_ifd);
  if (!read) return;
  const bool big_endian = header.big_endian();
  for (const auto& [tag, value] : {std::pair{0xA002u, image.width}, std::pair{0xA003u, image.height}}) {
    const std::size_t at = find_entry(header, exif_ifd, tag, &type);
    if (at == kNotFound || value < 0 || (type != kTypeShort && type != 4)) continue;
    if (type == kTypeShort && value > 0xFFFF) {
      image_detail::store_uint(image.exif, at - 6, 4, 2, big_endian);  // a count-1 SHORT's field holds a LONG
      type = 4;
    }
    if (type == kTypeShort) {
      image_detail::store_uint(image.exif, at, std::uint32_t(value), 2, big_endian);
      image_detail::store_uint(image.exif, at + 2, 0, 2, big_endian);
    } else {
      image_detail::store_uint(image.exif, at, std::uint32_t(value), 4, big_endian);
    }
  }
}

namespace {

// Where XMP states property `name` as a whole number, as an attribute (tiff:Orientation="6") or an element
// (<tiff:Orientation>6<...): each value's digits, as (offset, length) in `text`.
std::vector<std::pair<std::size_t, std::size_t>> xmp_numbers(std::string_view text, std::string_view name) {
  auto skip_spaces = [&text](std::size_t at) {
    while (at < text.size() && (text[at] == ' ' || text[at] == '\t' || text[at] == '\n' || text[at] == '\r')) ++at;
    return at;
  };
  std::vector<std::pair<std::size_t, std::size_t>> found;
  for (std::size_t at = text.find(name); at != std::string_view::npos; at = text.find(name, at + 1)) {
    std::size_t v = skip_spaces(at + name.size());
    if (v < text.size() && text[v] == '=') {
      v = skip_spaces(v + 1);
      if (v < text.size() && (text[v] == '"' || text[v] == '\''))
        v = skip_spaces(v + 1);
      else
        continue;
    } else if (at > 0 && text[at - 1] == '<' && v < text.size() && text[v] == '>') {
      v = skip_spaces(v + 1);
    } else {
      continue;
    }
    std::size_t end = v;
    while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
    if (end > v) found.emplace_back(v, end - v);
  }
  return found;
}

std::string_view as_text(const std::vector<std::uint8_t>& xmp) {
  return {reinterpret_cast<const char*>(xmp.data()), xmp.size()};
}

// XMP's tiff:Orientation set to 1 in place: one digit for another, the packet's length unchanged.
void set_xmp_orientation_upright(std::vector<std::uint8_t>& xmp) {
  for (const auto& [at, length] : xmp_numbers(as_text(xmp), "tiff:Orientation"))
    if (length == 1 && xmp[at] >= '1' && xmp[at] <= '8') xmp[at] = '1';
}

}  // namespace

void set_xmp_pixel_dimensions(Image& image) {
  if (image.xmp.empty()) return;
  const std::string_view text = as_text(image.xmp);
  std::vector<std::pair<std::pair<std::size_t, std::size_t>, int>> edits;  // (offset, length), new value
  for (const auto& [name, value] : {std::pair<std::string_view, int>{"exif:PixelXDimension", image.width},
                                    {"exif:PixelYDimension", image.height},
                                    {"tiff:ImageWidth", image.width},
                                    {"tiff:ImageLength", image.height}})
    for (const auto& span : xmp_numbers(text, name)) edits.emplace_back(span, value);
  std::sort(edits.begin(), edits.end(), [](const auto& a, const auto& b) { return a.first.first > b.first.first; });
  for (const auto& [span, value] : edits) {  // from the end, so that earlier offsets stay valid
    const std::string digits = std::to_string(value);
    const auto at = image.xmp.begin() + std::ptrdiff_t(span.first);
    image.xmp.erase(at, at + std::ptrdiff_t(span.second));
    image.xmp.insert(image.xmp.begin() + std::ptrdiff_t(span.first), digits.begin(), digits.end());
  }
}

void apply_orientation(Image& image, int o) {
  if (o < 2 || o > 8) return;
  RESR_ASSERT(image.bytes.size() == image.sample_count() * std::size_t(image.bits / 8));
  const int w = image.width, h = image.height;
  const bool swap = o >= 5;
  const int out_w = swap ? h : w, out_h = swap ? w : h;
  const std::size_t pixel = std::size_t(image.channels) * std::size_t(image.bits / 8);
  std::vector<std::uint8_t> out(image.bytes.size());
  for (int y = 0; y < out_h; ++y) {
    for (int x = 0; x < out_w; ++x) {
      const Point s = source_of(o, x, y, w, h);
      std::memcpy(out.data() + (std::size_t(y) * out_w + x) * pixel,
                  image.bytes.data() + (std::size_t(s.y) * w + s.x) * pixel, pixel);
    }
  }
  image.bytes = std::move(out);
  image.width = out_w;
  image.height = out_h;
  if (swap) std::swap(image.dpi_x, image.dpi_y);
  set_xmp_orientation_upright(image.xmp);
}

}  // namespace resr
