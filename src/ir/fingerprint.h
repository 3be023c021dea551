// graph_fingerprint: a 64-bit FNV-1a hash of a graph's structure and FP32 parameters (ops, names, params,
// weights, bias, slopes, coeffs, factors; not the quantization settings). Identifies "the same model" for
// calibration tables and .resr files; not a cryptographic hash.
#pragma once

#include <cstdint>
#include <string>

#include "ir/graph.h"

namespace resr::ir {

std::uint64_t graph_fingerprint(const Graph& g);
std::string fingerprint_hex(std::uint64_t fingerprint);  // 16 lower-case hex digits

}  // namespace resr::ir
