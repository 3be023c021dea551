// File names by extension and folder listings (core/file_names.h).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/file_names.h"
#include "support/temp_dir.h"

namespace resr {
namespace {

namespace fs = std::filesystem;

TEST(FileNames, LowerExtension) {
  EXPECT_EQ(lower_extension("a/photo.JPG"), ".jpg");
  EXPECT_EQ(lower_extension("clip.Mp4"), ".mp4");
  EXPECT_EQ(lower_extension("a.b/file"), "");
  EXPECT_EQ(lower_extension("dir/.hidden"), "");
  EXPECT_EQ(lower_extension("x.tar.GZ"), ".gz");
  EXPECT_EQ(lower_extension("\xc3\x89t\xc3\xa9.\xc3\x89"), ".\xc3\x89");  // only ASCII letters change
}

bool is_txt(const std::string& path) {
  return lower_extension(path) == ".txt";
}

TEST(FileNames, ListsTheMatchingEntriesButFoldersSorted) {
  const test::ScopedTempDir tmp("resr_file_names_");
  fs::create_directories(tmp.path() / "sub.txt");  // a folder is never listed, nor a link to one
  fs::create_directory_symlink(tmp.path() / "sub.txt", tmp.path() / "link.txt");
  for (const char* name : {"b.TXT", "a.txt", "c.png", "sub.txt/inner.txt"}) std::ofstream(tmp.path() / name) << "x";
  // A dangling link is listed, for its reader to name as unreadable (it was left out unseen).
  fs::create_symlink(tmp.path() / "gone.txt", tmp.path() / "c.txt");
  Result<std::vector<std::string>> files = list_files(tmp.path().string(), is_txt);
  ASSERT_TRUE(files.ok()) << files.status().message();
  EXPECT_EQ(*files, (std::vector<std::string>{(tmp.path() / "a.txt").string(), (tmp.path() / "b.TXT").string(),
                                              (tmp.path() / "c.txt").string()}));

  const std::string missing = (tmp.path() / "missing").string();
  Result<std::vector<std::string>> none = list_files(missing, is_txt);
  EXPECT_EQ(none.status().message(), missing + ": No such file or directory");
}

TEST(FileNames, AnOutputIsRefusedWhenItIsAnInputOrItsNameTooLong) {
  const test::ScopedTempDir tmp("resr_output_path_");
  fs::create_directories(tmp.path());
  const std::string a = (tmp.path() / "a.png").string(), b = (tmp.path() / "b.png").string();
  for (const std::string& f : {a, b}) std::ofstream(f) << "x";
  fs::create_symlink(a, tmp.path() / "link.png");
  const std::string link = (tmp.path() / "link.png").string();

  EXPECT_TRUE(check_output_path((tmp.path() / "out.png").string(), {a, b}).ok());
  EXPECT_TRUE(check_output_path((tmp.path() / "new/out.png").string(), {}).ok());  // a folder not made yet
  EXPECT_EQ(check_output_path(b, {a, b}).message(),
            b + ": the output would overwrite its input " + b + "; choose another output");
  EXPECT_EQ(check_output_path(link, {a}).message(),  // a link to an input is that input
            link + ": the output would overwrite its input " + a + "; choose another output");
  const std::string long_name = (tmp.path() / (std::string(300, 'n') + ".png")).string();
  EXPECT_EQ(check_output_path(long_name, {a}).message(),
            long_name + ": file name too long (304 bytes; the folder takes at most 255)");
}

}  // namespace
}  // namespace resr
