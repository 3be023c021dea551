// A check for floating-point options beside CLI::Range, which lets NaN through (every comparison with it is
// false): `->check(CLI::Range(0.01, 64.0))->check(kNotNan)`.
#pragma once

#include <CLI/CLI.hpp>
#include <cmath>
#include <string>

namespace resr::cli {

inline const CLI::Validator kNotNan(
    [](std::string& text) {
      double v = 0;
      if (!CLI::detail::lexical_cast(text, v)) return std::string();  // not a number at all: the conversion says so
      return std::isnan(v) ? "not a number: " + text : std::string();
    },
    "not NaN");

}  // namespace resr::cli
