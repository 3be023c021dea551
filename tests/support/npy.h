// Minimal reader for NumPy .npy files of little-endian float32 ('<f4', C order): enough for golden outputs.
#pragma once

#include <cstdint>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace resr::test {

struct NpyArray {
  std::vector<std::int64_t> shape;
  std::vector<float> data;
};

inline std::optional<NpyArray> read_npy_f32(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::nullopt;
  char magic[8];
  if (!f.read(magic, 8) || std::string(magic + 1, 5) != "NUMPY") return std::nullopt;
  std::uint16_t header_len = 0;
  if (magic[6] == 1) {
    unsigned char b[2];
    f.read(reinterpret_cast<char*>(b), 2);
    header_len = std::uint16_t(b[0] | (b[1] << 8));
  } else {
    return std::nullopt;
  }
  std::string header(header_len, '\0');
  f.read(header.data(), header_len);
  if (header.find("'<f4'") == std::string::npos || header.find("'fortran_order': False") == std::string::npos)
    return std::nullopt;
  NpyArray a;
  const std::size_t open = header.find('(', header.find("'shape'"));
  const std::size_t close = header.find(')', open);
  std::string dims = header.substr(open + 1, close - open - 1);
  std::int64_t count = 1;
  for (std::size_t pos = 0; pos < dims.size();) {
    std::size_t comma = dims.find(',', pos);
    std::string d = dims.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (d.find_first_of("0123456789") != std::string::npos) {
      a.shape.push_back(std::stoll(d));
      count *= a.shape.back();
    }
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  a.data.resize(static_cast<std::size_t>(count));
  if (!f.read(reinterpret_cast<char*>(a.data.data()), count * 4)) return std::nullopt;
  return a;
}

}  // namespace resr::test
