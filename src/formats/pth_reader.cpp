#include "formats/pth_reader.h"

#include <map>

#include "formats/file_bytes.h"
#include "formats/pickle.h"
#include "formats/pth_legacy.h"
#include "formats/pth_state_dict.h"
#include "formats/zip_archive.h"

namespace resr::formats {
namespace {

using pickle::Object;

class StorageCache {
 public:
  StorageCache(const ZipArchive& zip, std::string prefix) : zip_(zip), prefix_(std::move(prefix)) {}

  // The storage's bytes, read once.
  Result<std::span<const std::uint8_t>> get(const Object& storage) {
    if (auto it = views_.find(storage.s); it != views_.end()) return it->second;
    const std::string name = prefix_ + "data/" + storage.s;
    const ZipArchive::Entry* e = zip_.find(name);
    if (e == nullptr) return Status::error("storage '" + storage.s + "' is missing from the archive (" + name + ")");
    std::vector<std::uint8_t>& scratch = scratch_[storage.s];
    RESR_ASSIGN_OR_RETURN(std::span<const std::uint8_t> data, zip_.read(*e, scratch));
    views_.emplace(storage.s, data);
    return data;
  }

 private:
  const ZipArchive& zip_;
  std::string prefix_;
  std::map<std::string, std::vector<std::uint8_t>> scratch_;
  std::map<std::string, std::span<const std::uint8_t>> views_;
};

}  // namespace

bool looks_like_pth(std::span<const std::uint8_t> head) {
  return (head.size() >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4) ||
         looks_like_legacy_pth(head);
}

Result<WeightMap> parse_pth(std::span<const std::uint8_t> bytes) {
  if (looks_like_legacy_pth(bytes)) return parse_legacy_pth(bytes);
  if (bytes.size() >= 2 && bytes[0] == 0x80)
    return Status::error("a pickle without the legacy torch.save header: not a PyTorch checkpoint");
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
  StorageCache storages(zip, prefix);
  return state_dict_weights(*root, [&](const Object& storage) { return storages.get(storage); });
}

Result<WeightMap> read_pth(const std::string& path) {
  auto bytes = read_file_bytes(path);
  if (!bytes) return bytes.status().with_context(path);
  auto w = parse_pth(*bytes);
  if (!w) return w.status().with_context(path);
  return w;
}

}  // namespace resr::formats
