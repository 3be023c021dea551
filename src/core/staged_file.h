// Files that appear whole or not at all: the bytes go to a temporary beside the destination
// ("<path>.tmp-<pid>-<n>", or ".resr.tmp-<pid>-<n>" for a name near the 255-byte limit; same folder, so the rename
// cannot cross file systems) and are renamed over it only once they are all written. A reader, a crash or a failed
// write never leaves a partial file at the destination.
//
//   StagedFile f(path);
//   RESR_RETURN_IF_ERROR(f.write(bytes));   // or hand f.temp_path() to a library that writes files itself
//   RESR_RETURN_IF_ERROR(f.commit());
//
// A destination that is a symbolic link is written through it, as cp and FFmpeg write: the file it names (made if
// missing) gets the bytes and the link stays; the temporary goes beside that file. A destination that exists and is
// neither a file nor a folder (a device such as /dev/null or /dev/stdout, a named pipe) is written through too,
// once every byte is staged: the temporary goes in a private folder (mkdtemp) of the system's temporary folder and
// commit() copies it in. Renaming over it replaced the node with a plain file. A reader of the pipe that goes away
// fails the commit with "Broken pipe" (no SIGPIPE). So is a path naming an open descriptor (descriptor_named), into
// the descriptor itself. A file replaced keeps its permission bits (and, for root, its owner); one the user may not
// write is not replaced ("cannot write: the file is not writable").
//
// Messages name the step and the system's reason ("cannot create: Permission denied"); callers prepend the path.
// One StagedFile per destination at a time; distinct StagedFiles may be used from different threads.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/status.h"

namespace resr {

class StagedFile {
 public:
  explicit StagedFile(std::string path);
  ~StagedFile();  // removes the temporary unless committed
  StagedFile(const StagedFile&) = delete;
  StagedFile& operator=(const StagedFile&) = delete;

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_; }

  // Creates the temporary anew (a file or link already there under its name is removed, never written through)
  // and writes all of `bytes`. `durable` also waits until they are on the disk (fsync), for files whose loss after
  // a power cut would cost more than the wait (compiled models).
  [[nodiscard]] Status write(std::span<const std::uint8_t> bytes, bool durable = false);
  [[nodiscard]] Status write(std::string_view text, bool durable = false);
  // Renames the temporary over the destination; on failure the temporary is removed.
  [[nodiscard]] Status commit();

 private:
  [[nodiscard]] Status copy_into_node();
  void remove_temporary();  // and its folder when it has its own

  std::string path_;
  int descriptor_ = -1;      // the open descriptor path_ names (/dev/stdout), written into; else -1
  bool to_node_ = false;     // path_ is a device or pipe (or descriptor_): copied into, not replaced
  std::string destination_;  // path_ with its symbolic links followed; path_ itself for a device or pipe
  std::string folder_;       // a device's or pipe's temporary folder, private (mkdtemp); else empty
  std::string temp_;
  bool committed_ = false;
  int slot_ = -1;  // its place among the temporaries remove_staged_temporaries() knows (-1: none free)
};

// The open descriptor a path names, through its links: /dev/stdout (1), /dev/stderr (2), /dev/fd/N and
// /proc/self/fd/N (N); else -1. StagedFile writes such a path into the descriptor at its offset, once every byte is
// staged, as a device's: following the link to the file a shell redirected it to, and renaming over that, lost what
// `>> log` was to append to.
int descriptor_named(const std::string& path);

// Removes every temporary of a live StagedFile (unlink), for a signal handler about to end the process: a second
// Ctrl-C quits at once, and its destructors do not run. Async-signal-safe.
void remove_staged_temporaries() noexcept;

// With `on`, a write into a pipe or terminal that a signal interrupts (a reader that stopped reading, then Ctrl-C)
// fails with EINTR rather than waiting on, as it does for other signals: for a signal handler's first Ctrl-C, after
// which the run ends. Async-signal-safe (one atomic store).
void give_up_interrupted_writes(bool on = true) noexcept;

// StagedFile's write and commit in one call.
[[nodiscard]] Status write_file_atomically(const std::string& path, std::span<const std::uint8_t> bytes,
                                           bool durable = false);
[[nodiscard]] Status write_file_atomically(const std::string& path, std::string_view text, bool durable = false);

}  // namespace resr
