#include "interrupt.h"

#include <unistd.h>

#include <csignal>

namespace resr::cli {
namespace {

std::atomic<bool> flag{false};

extern "C" void on_interrupt(int signal) {
  flag.store(true);
  std::signal(signal, SIG_DFL);
  // write(2) is safe in a signal handler, stdio is not.
  static const char kMessage[] = "\nresr: stopping after the current tile or frame (again to quit at once)\n";
  const ssize_t ignored = ::write(2, kMessage, sizeof kMessage - 1);
  (void)ignored;
}

}  // namespace

void catch_interrupts() {
  static const bool installed = [] {
    std::signal(SIGINT, on_interrupt);
    std::signal(SIGTERM, on_interrupt);
    return true;
  }();
  (void)installed;
}

const std::atomic<bool>& interrupted() {
  return flag;
}

}  // namespace resr::cli
