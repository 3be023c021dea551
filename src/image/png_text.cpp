#include "image/png_text.h"

#include <zlib.h>

#include <algorithm>

namespace resr::image_detail {
namespace {

// Inflates a zlib stream into `out`, at most `limit` bytes: false when the stream is bad, cut short or longer.
bool inflate_at_most(std::span<const std::uint8_t> in, std::size_t limit, std::string* out) {
  z_stream z{};
  if (inflateInit(&z) != Z_OK) return false;
  z.next_in = const_cast<Bytef*>(in.data());  // zlib's API is not const; it only reads
  z.avail_in = uInt(std::min<std::size_t>(in.size(), 0xFFFFFFFFu));
  out->clear();
  char buffer[16384];
  int result = Z_OK;
  while (result == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buffer);
    z.avail_out = sizeof buffer;
    result = inflate(&z, Z_NO_FLUSH);
    const std::size_t got = sizeof buffer - z.avail_out;
    if (out->size() + got > limit || (result != Z_OK && result != Z_STREAM_END) ||
        (result == Z_OK && got == 0 && z.avail_in == 0)) {
      inflateEnd(&z);
      return false;
    }
    out->append(buffer, got);
  }
  inflateEnd(&z);
  return true;
}

// The NUL-terminated field at `at` (advanced past its NUL); false when there is no NUL.
bool take_field(std::string_view data, std::size_t* at, std::string_view* field) {
  const std::size_t end = data.find('\0', *at);
  if (end == std::string_view::npos) return false;
  *field = data.substr(*at, end - *at);
  *at = end + 1;
  return true;
}

}  // namespace

bool parse_png_text(std::string_view type, std::span<const std::uint8_t> data,
                    const std::function<std::size_t(std::string_view keyword)>& budget, PngText* out) {
  const std::string_view bytes(reinterpret_cast<const char*>(data.data()), data.size());
  std::size_t at = 0;
  std::string_view keyword;
  if (!take_field(bytes, &at, &keyword) || keyword.empty() || keyword.size() > 79) return false;
  const std::size_t limit = budget(keyword);
  if (limit == 0) return false;
  out->keyword.assign(keyword);
  out->international = type == "iTXt";
  bool compressed = type == "zTXt";
  if (type == "zTXt") {
    if (at >= bytes.size() || bytes[at] != 0) return false;  // method 0, deflate: the only one
    ++at;
  } else if (type == "iTXt") {
    if (at + 2 > bytes.size() || (bytes[at] != 0 && bytes[at] != 1) || bytes[at + 1] != 0) return false;
    compressed = bytes[at] == 1;
    at += 2;
    std::string_view language, translated;
    if (!take_field(bytes, &at, &language) || !take_field(bytes, &at, &translated)) return false;
  } else if (type != "tEXt") {
    return false;
  }
  const std::span<const std::uint8_t> rest = data.subspan(at);
  if (compressed) return inflate_at_most(rest, limit, &out->text);
  if (rest.size() > limit) return false;
  out->text.assign(reinterpret_cast<const char*>(rest.data()), rest.size());
  return true;
}

}  // namespace resr::image_detail
