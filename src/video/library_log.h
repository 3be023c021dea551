// FFmpeg's log while video jobs run (one per process: FFmpeg has a single log callback).
//
//   const LibraryLog log(/*echo=*/false);   // from here on, FFmpeg's errors are kept, not printed
//   ... FFmpeg calls ...
//   report.library_errors = LibraryLog::errors();
//
// Damage the libraries recover from (a file that ends early, a broken packet skipped) is logged, not returned, so
// it is kept for the report instead of going unseen. With `echo`, every message of level info or worse is also
// printed as FFmpeg would. Jobs running at once share the log (each then reports the errors of all), and the last
// one out restores the process's own callback and level.
//
// HeldLibraryLog: while one lives, what FFmpeg logs on this thread is held back; keep() passes it on when the
// holder ends, as if logged then, and without it the messages are dropped. For attempts whose failure is expected
// and handled (an encoder tried with a time base it may refuse): a failed attempt leaves no error behind, and a
// successful one loses none of its messages.
#pragma once

#include <string>
#include <vector>

namespace resr::video {

class LibraryLog {
 public:
  explicit LibraryLog(bool echo);
  ~LibraryLog();
  LibraryLog(const LibraryLog&) = delete;
  LibraryLog& operator=(const LibraryLog&) = delete;
  static std::vector<std::string> errors();  // at most 8, each once, in order
};

class HeldLibraryLog {
 public:
  HeldLibraryLog();
  ~HeldLibraryLog();
  HeldLibraryLog(const HeldLibraryLog&) = delete;
  HeldLibraryLog& operator=(const HeldLibraryLog&) = delete;
  void keep() { keep_ = true; }

  struct Message {
    int level = 0;
    std::string printed;  // as FFmpeg would print it (echo)
    std::string error;    // as the report keeps it: "name: text"
  };
  std::vector<Message> messages;  // filled by the log callback

 private:
  HeldLibraryLog* outer_ = nullptr;
  bool keep_ = false;
};

}  // namespace resr::video
