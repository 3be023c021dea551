// Ctrl-C (or a TERM) during a long run stops it cleanly: the work in progress ends at its next tile or frame,
// nothing partial is written, and what was finished stays. A second signal kills at once.
#pragma once

#include <atomic>

namespace resr::cli {

// Installs the SIGINT/SIGTERM handlers (once; later calls do nothing).
void catch_interrupts();
// Set by the first SIGINT/SIGTERM after catch_interrupts().
const std::atomic<bool>& interrupted();

// The exit code of an interrupted run (128 + SIGINT, as a shell reports it).
inline constexpr int kInterruptedExit = 130;

}  // namespace resr::cli
