#include "formats/onnx_external_data.h"

#include <filesystem>

namespace resr::formats::onnx_detail {

Result<std::span<const std::uint8_t>> ExternalData::bytes_of(const onnx::TensorProto& t) {
  std::string location;
  std::uint64_t offset = 0, length = 0;
  bool has_length = false;
  for (const auto& entry : t.external_data()) {
    // Digits only: std::stoull would take "-1" as 2^64 - 1.
    auto number = [&](std::uint64_t& out) -> Status {
      const std::string& v = entry.value();
      if (v.empty() || v.size() > 19 || v.find_first_not_of("0123456789") != std::string::npos)
        return Status::error("external data " + entry.key() + " '" + v + "' is not a number");
      out = std::stoull(v);
      return {};
    };
    if (entry.key() == "location") location = entry.value();
    if (entry.key() == "offset") RESR_RETURN_IF_ERROR(number(offset));
    if (entry.key() == "length") {
      RESR_RETURN_IF_ERROR(number(length));
      has_length = true;
    }
  }
  if (location.empty()) return Status::error("external data without a location");
  const std::filesystem::path relative(location);
  bool inside = relative.is_relative();
  for (const auto& part : relative) inside = inside && part != "..";
  if (!inside) return Status::error("external data file '" + location + "' is not inside the model's folder (refused)");
  if (folder_.empty())
    return Status::error("external data file '" + location + "': the model was not read from a file");
  // One mapping per file however its location is spelled ("w.bin", "./w.bin", "a/../w.bin").
  auto& file = files_[relative.lexically_normal().string()];
  if (!file) {
    const std::filesystem::path path = std::filesystem::path(folder_) / relative;
    std::error_code ec;
    if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec))  // a FIFO's open waits
      return Status::error("external data file '" + location + "' (beside the model) is not a regular file");
    auto mapped = std::make_unique<MappedFile>();
    const Status opened = mapped->open(path.string());
    if (!opened.ok())
      return Status::error("external data file '" + location + "' (beside the model): " + opened.message());
    file = std::move(mapped);
  }
  const std::span<const std::uint8_t> all = file->bytes();
  if (!has_length && offset <= all.size()) length = all.size() - offset;
  if (offset > all.size() || length > all.size() - offset)
    return Status::error("external data file '" + location + "' holds " + std::to_string(all.size()) +
                         " bytes, the tensor asks for " + std::to_string(length) + " from byte " +
                         std::to_string(offset));
  return all.subspan(std::size_t(offset), std::size_t(length));
}

}  // namespace resr::formats::onnx_detail
