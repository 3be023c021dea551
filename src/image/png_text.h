// Internal to src/image: PNG text chunks (tEXt, zTXt, iTXt) parsed from their raw bytes, which libpng keeps as
// unknown chunks for us. libpng's own handling inflated every compressed text up to 8 MB, a thousand of them (a
// 2.3 MB file of 300 zTXt chunks cost 2.4 GB); here each is inflated only as far as its caller's budget.
//
//   PngText t;
//   if (parse_png_text("zTXt", data, [](std::string_view keyword) { return std::size_t{1} << 20; }, &t)) ...
//
// Layouts (PNG 1.2, 11.3.4): tEXt keyword NUL text (Latin-1); zTXt keyword NUL method(0) zlib-data; iTXt keyword NUL
// flag method language NUL translated-keyword NUL text (UTF-8, zlib-compressed when flag is 1). The data is untrusted:
// anything malformed, or a text that inflates past its budget, is no text (false), never an error. Pure function.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

namespace resr::image_detail {

struct PngText {
  std::string keyword, text;
  bool international = false;  // iTXt: UTF-8 (its language and translated keyword are not kept)
};

// `type` is the chunk's ("tEXt", "zTXt" or "iTXt"); `budget(keyword)` the most bytes its text may have (0: skip it).
bool parse_png_text(std::string_view type, std::span<const std::uint8_t> data,
                    const std::function<std::size_t(std::string_view keyword)>& budget, PngText* out);

}  // namespace resr::image_detail
