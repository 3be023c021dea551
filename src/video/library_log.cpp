#include "video/library_log.h"

extern "C" {
#include <libavutil/log.h>
}

#include <algorithm>
#include <atomic>
#include <cstdarg>
#include <mutex>

namespace resr::video {
namespace {

std::mutex g_mutex;
std::vector<std::string> g_errors;
std::atomic<bool> g_echo{false};
int g_users = 0;
int g_host_level = AV_LOG_INFO;
thread_local int t_muted = 0;

void callback(void* object, int level, const char* format, va_list args) {
  if (t_muted > 0) return;
  if (g_echo.load()) {
    va_list copy;
    va_copy(copy, args);
    av_log_default_callback(object, level, format, copy);
    va_end(copy);
  }
  if (level > AV_LOG_ERROR) return;
  char line[512];
  int prefix = 0;  // no "[name @ address] ": the name alone is put first below
  av_log_format_line2(object, level, format, args, line, sizeof line, &prefix);
  std::string text(line);
  const AVClass* cls = object != nullptr ? *static_cast<AVClass**>(object) : nullptr;
  if (cls != nullptr && cls->item_name != nullptr) text = std::string(cls->item_name(object)) + ": " + text;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  std::lock_guard lock(g_mutex);
  if (g_errors.size() < 8 && std::find(g_errors.begin(), g_errors.end(), text) == g_errors.end())
    g_errors.push_back(text);
}

}  // namespace

LibraryLog::LibraryLog(bool echo) {
  std::lock_guard lock(g_mutex);
  if (g_users++ == 0) {
    g_errors.clear();
    g_echo = echo;
    g_host_level = av_log_get_level();
    av_log_set_level(echo ? AV_LOG_INFO : AV_LOG_ERROR);
    av_log_set_callback(&callback);
  }
}

LibraryLog::~LibraryLog() {
  std::lock_guard lock(g_mutex);
  if (--g_users == 0) {
    av_log_set_callback(av_log_default_callback);
    av_log_set_level(g_host_level);  // as the process had it
  }
}

std::vector<std::string> LibraryLog::errors() {
  std::lock_guard lock(g_mutex);
  return g_errors;
}

MutedLibraryLog::MutedLibraryLog() {
  ++t_muted;
}

MutedLibraryLog::~MutedLibraryLog() {
  --t_muted;
}

}  // namespace resr::video
