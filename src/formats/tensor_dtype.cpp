#include "formats/tensor_dtype.h"

#include <cstring>

#include "core/half.h"
#include "formats/weight_map.h"

namespace resr::formats {
namespace {

struct Known {
  const char* dtype;
  const char* torch_storage;
  std::size_t bytes;
  bool weight;
};

constexpr Known kKnown[] = {
    {"F64", "torch.DoubleStorage", 8, true},
    {"F32", "torch.FloatStorage", 4, true},
    {"F16", "torch.HalfStorage", 2, true},
    {"BF16", "torch.BFloat16Storage", 2, true},
    {"I64", "torch.LongStorage", 8, false},
    {"I32", "torch.IntStorage", 4, false},
    {"I16", "torch.ShortStorage", 2, false},
    {"I8", "torch.CharStorage", 1, false},
    {"U8", "torch.ByteStorage", 1, false},
    {"BOOL", "torch.BoolStorage", 1, false},
    {"U16", nullptr, 2, false},
    {"U32", nullptr, 4, false},
    {"U64", nullptr, 8, false},
};

const Known* find(const std::string& dtype) {
  for (const Known& k : kKnown)
    if (dtype == k.dtype) return &k;
  return nullptr;
}

}  // namespace

std::size_t dtype_size(const std::string& dtype) {
  const Known* k = find(dtype);
  return k != nullptr ? k->bytes : 0;
}

bool is_weight_dtype(const std::string& dtype) {
  const Known* k = find(dtype);
  return k != nullptr && k->weight;
}

const char* dtype_of_torch_storage(const std::string& global) {
  for (const Known& k : kKnown)
    if (k.torch_storage != nullptr && global == k.torch_storage) return k.dtype;
  return nullptr;
}

float weight_value(const std::string& dtype, const std::uint8_t* p) {
  if (dtype == "F32") {
    float f;
    std::memcpy(&f, p, 4);
    return f;
  }
  if (dtype == "F64") {
    double d;
    std::memcpy(&d, p, 8);
    return static_cast<float>(d);
  }
  std::uint16_t h;
  std::memcpy(&h, p, 2);
  return dtype == "F16" ? half_to_float(h) : bf16_to_float(h);
}

}  // namespace resr::formats
