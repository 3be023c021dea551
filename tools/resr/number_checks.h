// Number checks the option parser lacks: NaN for floating-point options (CLI::Range lets it through, as every
// comparison with it is false: `->check(CLI::Range(0.01, 64.0))->check(kNotNan)`), a minus sign or overflow for
// unsigned ones (the conversion wraps "-1" to 2^64 - 1: `->check(kPlainUnsigned)`), and lists of integers such as
// "128x96" or "1:1:2" (sscanf's %d wrapped 4294967304 to 8).
#pragma once

#include <CLI/CLI.hpp>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace resr::cli {

inline const CLI::Validator kNotNan(
    [](std::string& text) {
      double v = 0;
      if (!CLI::detail::lexical_cast(text, v)) return std::string();  // not a number at all: the conversion says so
      return std::isnan(v) ? "not a number: " + text : std::string();
    },
    "not NaN");

inline const CLI::Validator kPlainUnsigned(
    [](std::string& text) {
      std::uint64_t v = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec == std::errc::result_out_of_range) return "out of range (at most 18446744073709551615): " + text;
      return ec != std::errc() || end != text.data() + text.size() ? "not a non-negative integer: " + text
                                                                   : std::string();
    },
    "unsigned");

// `count` decimal integers separated by `separator` ("128x96": 'x', 2), each one that fits an int; nullopt for
// anything else (a sign other than '-', spaces, junk, overflow, a missing or extra field).
inline std::optional<std::vector<int>> parse_int_fields(std::string_view text, char separator, std::size_t count) {
  std::vector<int> values;
  const char* at = text.data();
  const char* end = text.data() + text.size();
  while (values.size() < count) {
    int v = 0;
    const auto [next, ec] = std::from_chars(at, end, v);
    if (ec != std::errc()) return std::nullopt;
    values.push_back(v);
    at = next;
    if (values.size() < count) {
      if (at == end || *at != separator) return std::nullopt;
      ++at;
    }
  }
  if (at != end) return std::nullopt;
  return values;
}

}  // namespace resr::cli
