#include "interrupt.h"

#include <unistd.h>

#include <cerrno>
#include <csignal>

namespace resr::cli {
namespace {

std::atomic<bool> flag{false};

static_assert(std::atomic<bool>::is_always_lock_free, "the flag is set from a signal handler");

extern "C" void on_interrupt(int signal) {
  const int saved_errno = errno;  // the interrupted code may be about to read it
  flag.store(true);
  std::signal(signal, SIG_DFL);
  // write(2) is safe in a signal handler, stdio is not.
  static const char kMessage[] = "\nresr: stopping after the current tile or frame (again to quit at once)\n";
  const ssize_t ignored = ::write(2, kMessage, sizeof kMessage - 1);
  (void)ignored;
  errno = saved_errno;
}

// Installs the handler for `signal` unless it is ignored (nohup, a background job's SIGINT): that stays.
void install(int signal) {
  struct sigaction old = {};
  if (sigaction(signal, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) return;
  std::signal(signal, on_interrupt);
}

}  // namespace

void catch_interrupts() {
  static const bool installed = [] {
    install(SIGINT);
    install(SIGTERM);
    return true;
  }();
  (void)installed;
}

const std::atomic<bool>& interrupted() {
  return flag;
}

}  // namespace resr::cli
