#include "formats/pth_state_dict.h"

#include <cstring>
#include <map>

#include "formats/tensor_dtype.h"

namespace resr::formats {
namespace {

constexpr std::int64_t kMaxTensorElements = std::int64_t{1} << 31;

using pickle::Kind;
using pickle::Object;

constexpr int kMaxNesting = 4;

// The dict under the first wrapper key `dict` has, or nullptr.
const Object* wrapped(const Object* dict) {
  for (const char* wrapper : {"params_ema", "params-ema", "params", "state_dict", "model_state_dict", "model", "net"})
    for (auto it = dict->entries.rbegin(); it != dict->entries.rend(); ++it)
      if (it->first->kind == Kind::kString && it->first->s == wrapper && it->second->kind == Kind::kDict)
        return it->second;
  return nullptr;
}

// Wrappers may nest ({"state_dict": {"params_ema": ...}}).
Result<const Object*> state_dict_of(const Object* root) {
  if (root->kind != Kind::kDict)
    return Status::error(std::string("the pickle holds a ") + pickle::kind_name(root->kind) + ", not a state dict");
  const Object* dict = root;
  for (int depth = 0; depth < kMaxNesting; ++depth) {
    const Object* inner = wrapped(dict);
    if (inner == nullptr) break;
    dict = inner;
  }
  return dict;
}

// Whether `dict` is a state dict itself: it holds a weight (a float tensor of at least one dimension; counters and
// scalars such as an EMA decay sit beside a GAN's dicts of networks too).
bool holds_a_weight(const Object* dict) {
  for (const auto& [key, value] : dict->entries)
    if (value->kind == Kind::kTensor && !value->size.empty() && is_weight_dtype(value->items[0]->dtype)) return true;
  return false;
}

// The storage's bytes, checked against what this reference declares (element count and type): another reference
// to the same storage may declare more.
Result<std::span<const std::uint8_t>> checked_bytes(const Object& storage, const StorageBytes& bytes_of) {
  RESR_ASSIGN_OR_RETURN(std::span<const std::uint8_t> data, bytes_of(storage));
  // In elements: a declared count near 2^62 would overflow a product in bytes.
  const std::uint64_t es = dtype_size(storage.dtype);
  if (storage.i < 0 || std::uint64_t(storage.i) > data.size() / es)
    return Status::error("storage '" + storage.s + "' has " + std::to_string(data.size()) + " bytes, needs " +
                         std::to_string(storage.i) + " elements of " + std::to_string(es));
  return data;
}

// Values read from each storage so far, by key. Tensors may view one storage (tied weights; a dict saved under two
// names), but not read it over and over: a 534-byte file whose tensor of 2^31 values viewed one element with stride
// 0 (or 64 tensors viewing one storage) decoded to gigabytes.
using StorageReads = std::map<std::string, std::int64_t>;
constexpr std::int64_t kMaxReadsPerValue = 4;

Result<WeightTensor> to_weight(const Object& t, const StorageBytes& bytes_of, StorageReads& reads) {
  const Object& storage = *t.items[0];
  WeightTensor w;
  w.shape = t.size;
  w.dtype = storage.dtype;
  std::int64_t numel = 1;
  for (std::int64_t d : t.size) {
    if (d != 0 && numel > kMaxTensorElements / d) return Status::error("tensor is too large");
    numel *= d;
  }
  if (numel == 0) return w;  // nothing to read (and the sizes' product below could overflow past a 0)
  // Any strides (channels_last weights are saved permuted) as long as every element lies in the storage: the
  // last element's offset is the storage offset plus each (size - 1) * stride. Contiguous F32 ones are copied whole.
  std::int64_t span = 1, expect = 1;  // expect: the contiguous stride, at most numel
  bool contiguous = true;
  for (std::size_t k = t.size.size(); k-- > 0;) {
    if (t.size[k] != 1 && t.stride[k] != expect) contiguous = false;
    expect *= t.size[k];
    if (t.size[k] > 1) {
      if (t.stride[k] > kMaxTensorElements / (t.size[k] - 1))
        return Status::error("tensor stride " + std::to_string(t.stride[k]) + " is too large");
      span += (t.size[k] - 1) * t.stride[k];
    }
  }
  if (t.storage_offset > storage.i || span > storage.i - t.storage_offset)
    return Status::error("storage '" + storage.s + "' holds " + std::to_string(storage.i) +
                         " elements, the tensor needs " + std::to_string(span) + " from offset " +
                         std::to_string(t.storage_offset));
  // First: the storage's size is then the file's, and the product below cannot overflow.
  RESR_ASSIGN_OR_RETURN(std::span<const std::uint8_t> bytes, checked_bytes(storage, bytes_of));
  std::int64_t& read = reads[storage.s];
  if (numel > kMaxReadsPerValue * storage.i + 4096 - read)
    return Status::error("its " + std::to_string(numel) + " values would read storage '" + storage.s + "' (" +
                         std::to_string(storage.i) + " elements) more than " + std::to_string(kMaxReadsPerValue) +
                         " times over" +
                         (read > 0 ? ", with the " + std::to_string(read) + " values other tensors read from it" : "") +
                         " (a broadcast view, stride 0?)");
  read += numel;
  const std::size_t es = dtype_size(storage.dtype);
  const std::uint8_t* src = bytes.data() + std::size_t(t.storage_offset) * es;
  w.data.resize(std::size_t(numel));
  auto value = [&](std::int64_t at) { return weight_value(storage.dtype, src + std::size_t(at) * es); };
  if (contiguous && storage.dtype == "F32") {
    std::memcpy(w.data.data(), src, std::size_t(numel) * 4);
    return w;
  }
  // Row-major walk over the logical index, keeping its storage offset (k itself for contiguous halves).
  const std::size_t dims = t.size.size();
  std::vector<std::int64_t> index(dims, 0);
  std::int64_t at = 0;
  for (std::int64_t k = 0; k < numel; ++k) {
    w.data[std::size_t(k)] = value(at);
    for (std::size_t d = dims; d-- > 0;) {
      if (++index[d] < t.size[d]) {
        at += t.stride[d];
        break;
      }
      at -= (t.size[d] - 1) * t.stride[d];
      index[d] = 0;
    }
  }
  return w;
}

// The float tensors of `dict` under "<prefix><key>"; with `nested`, those of the dicts in it too, under
// "<key>.<inner key>" (a GAN's {"generator": {...}, "discriminator": {...}}: models/detect.h picks the network).
Status add_weights(const Object* dict, const std::string& prefix, int nested, const StorageBytes& bytes_of,
                   StorageReads& reads, WeightMap& weights) {
  for (const auto& [key, value] : dict->entries) {
    if (key->kind != Kind::kString) continue;
    if (value->kind == Kind::kDict && nested > 0) {
      RESR_RETURN_IF_ERROR(add_weights(value, prefix + key->s + ".", nested - 1, bytes_of, reads, weights));
      continue;
    }
    if (value->kind != Kind::kTensor) continue;  // e.g. a step counter beside the tensors
    // Integer tensors (AveragedModel's n_averaged, num_batches_tracked) are counters, not weights.
    if (!is_weight_dtype(value->items[0]->dtype)) continue;
    auto w = to_weight(*value, bytes_of, reads);
    if (!w) return w.status().with_context("tensor '" + prefix + key->s + "'");
    weights[prefix + key->s] = std::move(*w);
  }
  return {};
}

}  // namespace

Result<WeightMap> state_dict_weights(const Object* root, const StorageBytes& bytes_of) {
  RESR_ASSIGN_OR_RETURN(const Object* dict, state_dict_of(root));
  WeightMap weights;
  StorageReads reads;
  // A dict of networks (no tensor of its own) is read whole; in a state dict, nested dicts are not weights.
  RESR_RETURN_IF_ERROR(add_weights(dict, "", holds_a_weight(dict) ? 0 : kMaxNesting, bytes_of, reads, weights));
  if (weights.empty()) {
    std::string keys;
    for (std::size_t k = 0; k < dict->entries.size() && k < 5; ++k)
      if (dict->entries[k].first->kind == Kind::kString) keys += (keys.empty() ? "" : ", ") + dict->entries[k].first->s;
    return Status::error("no tensors found in the state dict" + (keys.empty() ? "" : " (keys: " + keys + ")"));
  }
  return strip_module_prefix(std::move(weights));
}

}  // namespace resr::formats
