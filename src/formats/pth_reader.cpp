#include "formats/pth_reader.h"

#include <cstring>
#include <map>

#include "core/half.h"
#include "formats/file_bytes.h"
#include "formats/pickle.h"
#include "formats/zip_archive.h"

namespace resr::formats {
namespace {

constexpr std::int64_t kMaxTensorElements = std::int64_t{1} << 31;

using pickle::Kind;
using pickle::Object;

std::size_t element_size(const std::string& dtype) {
  return dtype == "F32" ? 4 : 2;
}

// Finds the state dict inside the unpickled object: under the first of the wrapper keys training code uses
// (BasicSR's "params_ema" and "params", Lightning's "state_dict", others' "model_state_dict", "model", "net") whose
// value is a dict, else the top level.
Result<const Object*> state_dict_of(const Object* root) {
  if (root->kind != Kind::kDict)
    return Status::error(std::string("the pickle holds a ") + pickle::kind_name(root->kind) + ", not a state dict");
  for (const char* wrapper : {"params_ema", "params-ema", "params", "state_dict", "model_state_dict", "model", "net"})
    for (auto it = root->entries.rbegin(); it != root->entries.rend(); ++it)
      if (it->first->kind == Kind::kString && it->first->s == wrapper && it->second->kind == Kind::kDict)
        return it->second;
  return root;
}

class StorageCache {
 public:
  StorageCache(const ZipArchive& zip, std::string prefix) : zip_(zip), prefix_(std::move(prefix)) {}

  // The storage's bytes, read once; checked against what this reference declares (element count and type) every
  // time, as another reference to the same storage may declare more.
  Result<std::span<const std::uint8_t>> get(const Object& storage) {
    std::span<const std::uint8_t> data;
    if (auto it = views_.find(storage.s); it != views_.end()) {
      data = it->second;
    } else {
      const std::string name = prefix_ + "data/" + storage.s;
      const ZipArchive::Entry* e = zip_.find(name);
      if (e == nullptr) return Status::error("storage '" + storage.s + "' is missing from the archive (" + name + ")");
      std::vector<std::uint8_t>& scratch = scratch_[storage.s];
      RESR_ASSIGN_OR_RETURN(data, zip_.read(*e, scratch));
      views_.emplace(storage.s, data);
    }
    // In elements: a declared count near 2^62 would overflow a product in bytes.
    const std::uint64_t es = element_size(storage.dtype);
    if (storage.i < 0 || std::uint64_t(storage.i) > data.size() / es)
      return Status::error("storage '" + storage.s + "' has " + std::to_string(data.size()) + " bytes, needs " +
                           std::to_string(storage.i) + " elements of " + std::to_string(es));
    return data;
  }

 private:
  const ZipArchive& zip_;
  std::string prefix_;
  std::map<std::string, std::vector<std::uint8_t>> scratch_;
  std::map<std::string, std::span<const std::uint8_t>> views_;
};

Result<WeightTensor> to_weight(const Object& t, StorageCache& storages) {
  const Object& storage = *t.items[0];
  WeightTensor w;
  w.shape = t.size;
  w.dtype = storage.dtype;
  std::int64_t numel = 1;
  for (std::int64_t d : t.size) {
    if (d != 0 && numel > kMaxTensorElements / d) return Status::error("tensor is too large");
    numel *= d;
  }
  // Contiguous (row-major) strides; dimensions of size 1 may carry any stride.
  std::int64_t expect = 1;
  for (std::size_t k = t.size.size(); k-- > 0;) {
    if (t.size[k] != 1 && t.stride[k] != expect)
      return Status::error("tensor is not contiguous (size " + w.shape_string() + ", stride " +
                           std::to_string(t.stride[k]) + " in dim " + std::to_string(k) + ")");
    expect *= t.size[k];
  }
  if (t.storage_offset > storage.i || numel > storage.i - t.storage_offset)
    return Status::error("storage '" + storage.s + "' holds " + std::to_string(storage.i) +
                         " elements, the tensor needs " + std::to_string(numel) + " from offset " +
                         std::to_string(t.storage_offset));
  RESR_ASSIGN_OR_RETURN(std::span<const std::uint8_t> bytes, storages.get(storage));
  const std::size_t es = element_size(storage.dtype);
  const std::uint8_t* src = bytes.data() + std::size_t(t.storage_offset) * es;
  w.data.resize(std::size_t(numel));
  if (storage.dtype == "F32") {
    if (numel > 0) std::memcpy(w.data.data(), src, std::size_t(numel) * 4);
  } else {
    for (std::int64_t k = 0; k < numel; ++k) {
      std::uint16_t h;
      std::memcpy(&h, src + 2 * k, 2);
      w.data[std::size_t(k)] = storage.dtype == "F16" ? half_to_float(h) : bf16_to_float(h);
    }
  }
  return w;
}

}  // namespace

bool looks_like_pth(std::span<const std::uint8_t> head) {
  return head.size() >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4;
}

Result<WeightMap> parse_pth(std::span<const std::uint8_t> bytes) {
  if (bytes.size() >= 2 && bytes[0] == 0x80)
    return Status::error("legacy (pre-1.6, non-zip) PyTorch serialization is not supported; re-save with torch.save");
  RESR_ASSIGN_OR_RETURN(ZipArchive zip, ZipArchive::open(bytes));
  const ZipArchive::Entry* pkl = nullptr;
  for (const ZipArchive::Entry& e : zip.entries()) {
    const std::size_t slash = e.name.find('/');
    if (slash != std::string::npos && e.name.substr(slash + 1) == "data.pkl") {
      pkl = &e;
      break;
    }
  }
  if (pkl == nullptr) {
    for (const ZipArchive::Entry& e : zip.entries())
      if (e.name.find("constants.pkl") != std::string::npos)
        return Status::error("TorchScript archives are not supported (save the state_dict instead)");
    return Status::error("not a PyTorch checkpoint: no '<name>/data.pkl' in the archive");
  }
  const std::string prefix = pkl->name.substr(0, pkl->name.size() - std::string("data.pkl").size());
  if (const ZipArchive::Entry* bo = zip.find(prefix + "byteorder")) {
    std::vector<std::uint8_t> scratch;
    RESR_ASSIGN_OR_RETURN(std::span<const std::uint8_t> order, zip.read(*bo, scratch, 16));
    if (std::string(order.begin(), order.end()) != "little")
      return Status::error("big-endian checkpoints are not supported");
  }
  std::vector<std::uint8_t> pkl_scratch;
  RESR_ASSIGN_OR_RETURN(std::span<const std::uint8_t> program, zip.read(*pkl, pkl_scratch, std::uint64_t{256} << 20));
  pickle::Unpickler unpickler;
  auto root = unpickler.run(program);
  if (!root) return root.status().with_context("data.pkl");
  RESR_ASSIGN_OR_RETURN(const Object* dict, state_dict_of(*root));
  StorageCache storages(zip, prefix);
  WeightMap weights;
  for (const auto& [key, value] : dict->entries) {
    if (key->kind != Kind::kString) continue;
    if (value->kind != Kind::kTensor) continue;  // e.g. a step counter beside the tensors
    auto w = to_weight(*value, storages);
    if (!w) return w.status().with_context("tensor '" + key->s + "'");
    weights[key->s] = std::move(*w);
  }
  if (weights.empty()) {
    std::string keys;
    for (std::size_t k = 0; k < dict->entries.size() && k < 5; ++k)
      if (dict->entries[k].first->kind == Kind::kString) keys += (keys.empty() ? "" : ", ") + dict->entries[k].first->s;
    return Status::error("no tensors found in the state dict" + (keys.empty() ? "" : " (keys: " + keys + ")"));
  }
  return strip_module_prefix(std::move(weights));
}

Result<WeightMap> read_pth(const std::string& path) {
  auto bytes = read_file_bytes(path);
  if (!bytes) return bytes.status().with_context(path);
  auto w = parse_pth(*bytes);
  if (!w) return w.status().with_context(path);
  return w;
}

}  // namespace resr::formats
