#include "interrupt.h"

#include <unistd.h>

#include <cerrno>
#include <csignal>

#include "core/staged_file.h"

namespace resr::cli {
namespace {

std::atomic<bool> flag{false};
std::atomic<int> first_signal{0};
std::atomic<void (*)()> library_remove{nullptr};
std::atomic<void (*)()> library_give_up{nullptr};

static_assert(std::atomic<bool>::is_always_lock_free, "the flag is set from a signal handler");
static_assert(std::atomic<int>::is_always_lock_free, "the signal is kept from a signal handler");
static_assert(std::atomic<void (*)()>::is_always_lock_free, "read from a signal handler");

extern "C" void on_interrupt(int signal) {
  const int saved_errno = errno;  // the interrupted code may be about to read it
  if (flag.exchange(true)) {
    // The second: quit at once, without the temporaries of files being written (their destructors do not run).
    remove_staged_temporaries();
    if (void (*remove)() = library_remove.load(); remove != nullptr) remove();
    std::signal(signal, SIG_DFL);
    std::raise(signal);
    return;
  }
  first_signal.store(signal);
  give_up_interrupted_writes();  // a write waiting on a reader that stopped reading ends too
  if (void (*give_up)() = library_give_up.load(); give_up != nullptr) give_up();
  // write(2) is safe in a signal handler, stdio is not.
  static const char kMessage[] = "\nresr: stopping after the current tile or frame (again to quit at once)\n";
  const ssize_t ignored = ::write(2, kMessage, sizeof kMessage - 1);
  (void)ignored;
  errno = saved_errno;
}

// Installs the handler for `signal` unless it is ignored (nohup, a background job's SIGINT): that stays. Without
// SA_RESTART (std::signal's), so that a call blocked in the kernel (opening a FIFO no one writes, a read or write
// that waits) returns EINTR and the run ends; restarted, it swallowed the first Ctrl-C or TERM.
void install(int signal) {
  struct sigaction old = {};
  if (sigaction(signal, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) return;
  struct sigaction on = {};
  on.sa_handler = on_interrupt;
  sigemptyset(&on.sa_mask);
  on.sa_flags = 0;
  sigaction(signal, &on, nullptr);
}

}  // namespace

void catch_interrupts() {
  static const bool installed = [] {
    install(SIGINT);
    install(SIGTERM);
    install(SIGHUP);  // the terminal or ssh session closed
    return true;
  }();
  (void)installed;
}

void also_for_library(void (*remove)(), void (*give_up_writes)()) {
  library_remove.store(remove);
  library_give_up.store(give_up_writes);
}

const std::atomic<bool>& interrupted() {
  return flag;
}

int interrupted_exit() {
  const int signal = first_signal.load();
  return 128 + (signal != 0 ? signal : SIGINT);
}

}  // namespace resr::cli
