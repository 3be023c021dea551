// Ctrl-C (or a TERM, or a HUP) during a long run stops it cleanly: the work in progress ends at its next tile or frame,
// nothing partial is written, and what was finished stays. A second signal kills at once, removing the
// temporaries of files being written (core/staged_file.h).
#pragma once

#include <atomic>

namespace resr::cli {

// Installs the SIGINT/SIGTERM/SIGHUP handlers (once; later calls do nothing).
void catch_interrupts();
// A loaded library's own staged-file functions (the video plugin's, whose StagedFiles are its own): `give_up_writes`
// called by the first signal, as the executable's give_up_interrupted_writes; `remove` by the second, before
// quitting. One library at a time; null: none.
void also_for_library(void (*remove)(), void (*give_up_writes)());
// Set by the first of those signals after catch_interrupts().
const std::atomic<bool>& interrupted();

// The exit code of an interrupted run, as a shell reports a process the signal ended: 128 + the first signal's
// number (130 for Ctrl-C, 143 for a TERM, 129 for a HUP).
int interrupted_exit();

}  // namespace resr::cli
