#include "core/file_names.h"

#include <unistd.h>

#include <algorithm>
#include <climits>
#include <filesystem>

namespace resr {

std::string lower_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  for (char& c : ext)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return ext;
}

Result<std::vector<std::string>> list_files(const std::string& dir, bool (*keep)(const std::string& path)) {
  std::error_code ec;
  std::vector<std::string> files;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    if (!it->is_directory(type_ec) && keep(it->path().string())) files.push_back(it->path().string());
  }
  if (ec) return Status::error(dir + ": " + ec.message());
  std::sort(files.begin(), files.end());
  return files;
}

Status check_output_path(const std::string& output, const std::vector<std::string>& inputs) {
  for (const std::string& input : inputs) {
    if (!same_file(input, output)) continue;
    std::string message = output;
    message.append(": the output would overwrite its input ").append(input).append("; choose another output");
    return Status::error(message);
  }
  namespace fs = std::filesystem;
  const fs::path path(output);
  const std::string name = path.filename().string();
  const std::string folder = path.parent_path().empty() ? "." : path.parent_path().string();
  long most = ::pathconf(folder.c_str(), _PC_NAME_MAX);  // -1 where the folder does not exist (yet)
  if (most <= 0) most = NAME_MAX;
  if (name.size() <= std::size_t(most)) return ok_status();
  return Status::error(output + ": file name too long (" + std::to_string(name.size()) +
                       " bytes; the folder takes at most " + std::to_string(most) + ")");
}

bool same_file(const std::string& a, const std::string& b) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(a, ec) && fs::exists(b, ec)) return fs::equivalent(a, b, ec);
  std::error_code ec_a, ec_b;
  const fs::path pa = fs::weakly_canonical(fs::absolute(a, ec_a), ec_a);
  const fs::path pb = fs::weakly_canonical(fs::absolute(b, ec_b), ec_b);
  return !ec_a && !ec_b && pa == pb;
}

std::string file_identity(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path p = fs::weakly_canonical(fs::absolute(path, ec), ec);
  return ec ? path : p.string();
}

Status check_overwrites_none(const std::string& option, const std::string& path,
                             const std::vector<std::pair<std::string, std::string>>& kept) {
  for (const auto& [role, file] : kept) {
    if (file.empty() || !same_file(path, file)) continue;
    std::string message;
    message.append(option).append(" ").append(path).append(": would overwrite ").append(role).append(" ");
    message.append(file).append("; choose another file");
    return Status::error(message);
  }
  return ok_status();
}

}  // namespace resr
