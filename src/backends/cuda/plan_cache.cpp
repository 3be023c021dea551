#include "backends/cuda/plan_cache.h"
#include "core/elapsed.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <system_error>
#include <tuple>
#include <vector>

namespace resr::cuda {
namespace {

namespace fs = std::filesystem;

constexpr const char* kMagic = "resr-plan-cache";
constexpr int kFormat = 1;
constexpr std::uintmax_t kMaxEntryBytes = std::uintmax_t{64} << 20;

// FNV-1a, 64 bits.
std::uint64_t fnv1a(const std::string& a, const std::string& b = {}) {
  std::uint64_t h = 14695981039346656037ull;
  for (const std::string* s : {&a, &b})
    for (const char c : *s) {
      h ^= std::uint8_t(c);
      h *= 1099511628211ull;
    }
  return h;
}

// Every cache of the process, for process_stats().
std::atomic<int> hits{0}, misses{0}, stored{0};

std::string hex(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

template <typename Values>
void append_group(std::string& key, const char* tag, const Values& values) {
  key += tag;
  for (const std::int64_t v : values) key += ' ' + std::to_string(v);
  key += ';';
}

}  // namespace

void append_key_group(std::string& key, const char* tag, std::initializer_list<std::int64_t> values) {
  append_group(key, tag, values);
}

void append_key_group(std::string& key, const char* tag, const std::vector<std::int64_t>& values) {
  append_group(key, tag, values);
}

PlanCache::PlanCache(fs::path dir, std::uintmax_t byte_budget) : dir_(std::move(dir)), budget_(byte_budget) {}

PlanCache PlanCache::from_environment(const std::string& subdir) {
  fs::path root;
  if (const char* d = std::getenv("RESR_CACHE_DIR"); d != nullptr) {
    if (*d == '\0' || std::string(d) == "off") return PlanCache();
    root = d;
  } else if (const char* x = std::getenv("XDG_CACHE_HOME"); x != nullptr && *x != '\0') {
    root = fs::path(x) / "resr";
  } else if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0') {
    root = fs::path(h) / ".cache" / "resr";
  } else {
    return PlanCache();
  }
  return PlanCache(root / subdir);
}

fs::path PlanCache::entry_path(const std::string& key) const {
  return dir_ / (hex(fnv1a(key)) + ".plan");
}

std::string PlanCache::process_stats() {
  return "plan cache: " + std::to_string(hits.load()) + " hits, " + std::to_string(misses.load()) + " misses, " +
         std::to_string(stored.load()) + " stored";
}

void report_planning(int w, int h, std::chrono::steady_clock::time_point start, const std::string& detail) {
  const char* v = std::getenv("RESR_VERBOSE");
  if (v == nullptr || std::strstr(v, "plans") == nullptr) return;
  const double ms = ms_since(start);
  std::fprintf(stderr, "cuda: planned %dx%d in %.0f ms (%s%s%s)\n", w, h, ms, PlanCache::process_stats().c_str(),
               detail.empty() ? "" : "; ", detail.c_str());
}

std::optional<std::string> PlanCache::get(const std::string& key) const {
  if (!enabled()) return std::nullopt;
  std::optional<std::string> value = find(key);
  ++(value ? hits : misses);
  return value;
}

std::optional<std::string> PlanCache::find(const std::string& key) const {
  const fs::path path = entry_path(key);
  std::error_code ec;
  const std::uintmax_t bytes = fs::file_size(path, ec);
  if (ec || bytes > kMaxEntryBytes) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) return std::nullopt;
  const std::size_t eol = file.find('\n');
  if (eol == std::string::npos) return std::nullopt;
  std::istringstream header(file.substr(0, eol));
  std::string magic, checksum;
  int format = 0;
  std::size_t key_bytes = 0, value_bytes = 0;
  if (!(header >> magic >> format >> key_bytes >> value_bytes >> checksum) || magic != kMagic || format != kFormat ||
      file.size() - eol - 1 != key_bytes + value_bytes || file.compare(eol + 1, key_bytes, key) != 0 ||
      key_bytes != key.size())
    return std::nullopt;
  std::string value = file.substr(eol + 1 + key_bytes);
  if (checksum != hex(fnv1a(key, value))) return std::nullopt;
  fs::last_write_time(path, fs::file_time_type::clock::now(), ec);  // recently used: trimmed last
  return value;
}

void PlanCache::erase(const std::string& key) const {
  if (!enabled() || !find(key)) return;  // (a file of another key, sharing the hash, stays)
  std::error_code ec;
  fs::remove(entry_path(key), ec);
}

void PlanCache::put(const std::string& key, const std::string& value) const {
  if (!enabled() || key.size() + value.size() > kMaxEntryBytes) return;
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return;
  static std::atomic<unsigned> counter{0};
  const fs::path final_path = entry_path(key);
  const fs::path temp = dir_ / (".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
                                final_path.filename().string());
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << kMagic << ' ' << kFormat << ' ' << key.size() << ' ' << value.size() << ' ' << hex(fnv1a(key, value)) << '\n'
        << key << value;
    out.close();
    if (!out) {
      fs::remove(temp, ec);
      return;
    }
  }
  fs::rename(temp, final_path, ec);
  if (ec) {
    fs::remove(temp, ec);
    return;
  }
  ++stored;
  trim();
}

void PlanCache::trim() const {
  std::error_code ec;
  std::vector<std::tuple<fs::file_time_type, std::uintmax_t, fs::path>> entries;
  std::uintmax_t total = 0;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() != ".plan") continue;
    std::error_code e;
    const std::uintmax_t bytes = it->file_size(e);
    const fs::file_time_type time = it->last_write_time(e);
    if (e) continue;
    entries.emplace_back(time, bytes, it->path());
    total += bytes;
  }
  if (total <= budget_) return;
  std::sort(entries.begin(), entries.end());
  // Down to three quarters of the budget, so that the next puts do not trim again straight away.
  for (const auto& [time, bytes, path] : entries) {
    if (total <= budget_ / 4 * 3) break;
    if (fs::remove(path, ec)) total -= bytes;
  }
}

}  // namespace resr::cuda
