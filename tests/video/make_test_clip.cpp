// make_test_clip OUT.mkv [WIDTH HEIGHT FRAMES]: a test clip (video_fixture.h) for tests outside C++ (pytest).
#include <cstdio>
#include <cstdlib>

#include "video_fixture.h"

int main(int argc, char** argv) {
  if (argc != 2 && argc != 5) {
    std::fprintf(stderr, "usage: make_test_clip OUT.mkv [WIDTH HEIGHT FRAMES]\n");
    return 2;
  }
  resr::test::ClipSpec spec;
  if (argc == 5) {
    spec.width = std::atoi(argv[2]);
    spec.height = std::atoi(argv[3]);
    spec.frame_ms.clear();
    for (int i = 0; i < std::atoi(argv[4]); ++i) spec.frame_ms.push_back(40 * i);
  }
  const std::string error = resr::test::write_clip(argv[1], spec);
  if (!error.empty()) std::fprintf(stderr, "make_test_clip: %s\n", error.c_str());
  return error.empty() ? 0 : 1;
}
