// What the CUDA backend compiled or measured, kept on disk so that the next process on the same GPU skips it:
// cuDNN execution plans of fused conv graphs (as cuDNN's JSON; compiling one costs about half a second of CPU,
// and x4plus has ten per input size) and measured legacy conv algorithms (cudnnFind runs every algorithm).
//
//   PlanCache cache = PlanCache::from_environment("cuda");
//   CacheView view{&cache, device_fingerprint};       // keys are scoped to one GPU, driver and cuDNN
//   if (std::optional<std::string> v = view.get(key)) ...; else view.put(key, value);
//
// One file per entry, named by a 64-bit hash of its key; the file holds the whole key (a hash collision is a
// miss) and a checksum (a damaged or truncated file is a miss). put() writes a temporary file and renames it into
// place, so processes sharing the directory never read half an entry. The directory is kept under a byte budget,
// least recently used first (a hit refreshes the file's time). Nothing here fails its caller: a cache that cannot
// be read or written misses. Threads: get and put may be called concurrently.
//
// Where: $RESR_CACHE_DIR if set ("off" or empty: no cache), else $XDG_CACHE_HOME/resr, else $HOME/.cache/resr.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

namespace resr::cuda {

class PlanCache {
 public:
  static constexpr std::uintmax_t kDefaultBudget = std::uintmax_t{256} << 20;

  // No cache: every get misses and put does nothing.
  PlanCache() = default;
  // The entries under `dir` (created on the first put).
  explicit PlanCache(std::filesystem::path dir, std::uintmax_t byte_budget = kDefaultBudget);
  // `subdir` of the directory named above, or no cache.
  static PlanCache from_environment(const std::string& subdir);

  bool enabled() const { return !dir_.empty(); }
  const std::filesystem::path& dir() const { return dir_; }

  std::optional<std::string> get(const std::string& key) const;
  void put(const std::string& key, const std::string& value) const;
  // Removes the entry of `key` (a plan that no longer runs), if the file holds that key; counts nothing.
  void erase(const std::string& key) const;

  // The file an entry of `key` lives in.
  std::filesystem::path entry_path(const std::string& key) const;

  // "plan cache: H hits, M misses, S stored" over every cache of this process so far.
  static std::string process_stats();

 private:
  std::optional<std::string> find(const std::string& key) const;
  void trim() const;

  std::filesystem::path dir_;
  std::uintmax_t budget_ = kDefaultBudget;
};

// With RESR_VERBOSE=plans, one line on stderr for a plan made for a w x h input since `start`: its time,
// process_stats() and `detail` (if any), so that a run shows what its plans compiled and what they loaded.
void report_planning(int w, int h, std::chrono::steady_clock::time_point start, const std::string& detail = {});

// Keys are spelled as groups: a group's tag, then its values, then ';' ("T 2 1 64 32;"), so that attributes of
// different kinds or counts never spell the same key. Appends one group to `key`.
void append_key_group(std::string& key, const char* tag, std::initializer_list<std::int64_t> values);
void append_key_group(std::string& key, const char* tag, const std::vector<std::int64_t>& values);

// A cache seen through a key prefix; a null cache misses.
struct CacheView {
  const PlanCache* cache = nullptr;
  std::string scope;

  std::optional<std::string> get(const std::string& key) const {
    return cache == nullptr ? std::nullopt : cache->get(scope + key);
  }
  void put(const std::string& key, const std::string& value) const {
    if (cache != nullptr) cache->put(scope + key, value);
  }
  void erase(const std::string& key) const {
    if (cache != nullptr) cache->erase(scope + key);
  }
};

}  // namespace resr::cuda
