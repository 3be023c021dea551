// Element types of stored tensors, by the names safetensors gives them ("F32", "I64", "BOOL"); PyTorch's typed
// storages ("torch.LongStorage") map onto the same names. Shared by the .pth and .safetensors readers.
//
//   dtype_size("BF16") == 2;  is_weight_dtype("I64") == false;  dtype_of_torch_storage("torch.HalfStorage") == "F16"
//
// Weights are the floating types (F64, F32, F16, BF16), read as float32. Integer and bool tensors are what training
// code keeps beside them (AveragedModel's n_averaged, step counters, BatchNorm's num_batches_tracked): readers check
// their size and leave them out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace resr::formats {

// Bytes per element; 0 for a name this reader does not know (F8_E4M3, complex types...).
std::size_t dtype_size(const std::string& dtype);

// F64, F32, F16, BF16: a tensor read as weights.
bool is_weight_dtype(const std::string& dtype);

// The dtype of a torch storage class ("torch.FloatStorage" -> "F32"), or nullptr when it is none we know.
const char* dtype_of_torch_storage(const std::string& global);

// One little-endian element of a weight dtype at p, as float.
float weight_value(const std::string& dtype, const std::uint8_t* p);

}  // namespace resr::formats
