// The restricted unpickler: a state dict is read; every global outside the allow-list is refused by name
// before anything could run (hand-crafted malicious pickles); malformed programs fail cleanly.
#include <gtest/gtest.h>

#include <filesystem>

#include "formats/pickle.h"
#include "formats/pth_reader.h"
#include "pickle_bytes.h"

namespace resr::formats {
namespace {

using test::PickleWriter;

Result<const pickle::Object*> run(pickle::Unpickler& u, const test::Bytes& b) {
  return u.run(b);
}

TEST(Pickle, ReadsAStateDictWithOrderedDictAndTensors) {
  PickleWriter p;
  p.proto().global("collections", "OrderedDict").empty_tuple().reduce().op('q').byte(0);
  p.mark().str("conv.weight").tensor("FloatStorage", "0", 6, 0, {2, 3}, {3, 1});
  p.str("conv.bias").tensor("HalfStorage", "1", 2, 0, {2}, {1}).op('u');
  p.mark().str("_metadata").op('}').op('d').op('b').stop();  // BUILD with the OrderedDict's state
  pickle::Unpickler u;
  auto root = run(u, p.out);
  ASSERT_TRUE(root.ok()) << root.status().message();
  ASSERT_EQ((*root)->kind, pickle::Kind::kDict);
  ASSERT_EQ((*root)->entries.size(), 2u);
  const pickle::Object* t = (*root)->entries[0].second;
  ASSERT_EQ(t->kind, pickle::Kind::kTensor);
  EXPECT_EQ(t->size, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(t->stride, (std::vector<std::int64_t>{3, 1}));
  EXPECT_EQ(t->items[0]->dtype, "F32");
  EXPECT_EQ((*root)->entries[1].second->items[0]->dtype, "F16");
}

struct Malicious {
  const char* module;
  const char* name;
};

class MaliciousGlobal : public ::testing::TestWithParam<Malicious> {};

// GLOBAL module\nname\n, then a call that would run a shell command if this were Python's pickle.
TEST_P(MaliciousGlobal, IsRefusedByNameAndNothingRuns) {
  const std::string marker = (std::filesystem::temp_directory_path() / "resr_pickle_pwned").string();
  std::filesystem::remove(marker);
  for (bool stack_global : {false, true}) {
    PickleWriter p;
    p.proto();
    if (stack_global) {
      p.str(GetParam().module).str(GetParam().name).op(0x93);
    } else {
      p.global(GetParam().module, GetParam().name);
    }
    p.mark().str("touch " + marker).tuple().reduce().stop();
    pickle::Unpickler u;
    auto r = run(u, p.out);
    ASSERT_FALSE(r.ok());
    const std::string full = std::string(GetParam().module) + "." + GetParam().name;
    EXPECT_NE(r.status().message().find("refusing global '" + full + "'"), std::string::npos) << r.status().message();
  }
  EXPECT_FALSE(std::filesystem::exists(marker));
}

INSTANTIATE_TEST_SUITE_P(Globals, MaliciousGlobal,
                         ::testing::Values(Malicious{"os", "system"}, Malicious{"posix", "system"},
                                           Malicious{"nt", "system"}, Malicious{"builtins", "eval"},
                                           Malicious{"builtins", "exec"}, Malicious{"__builtin__", "eval"},
                                           Malicious{"builtins", "getattr"}, Malicious{"builtins", "__import__"},
                                           Malicious{"subprocess", "Popen"}, Malicious{"subprocess", "check_output"},
                                           Malicious{"torch", "load"}, Malicious{"torch.serialization", "load"},
                                           Malicious{"collections", "OrderedDicts"},
                                           Malicious{"torch._utils", "_rebuild_tensor_v3"}));

TEST(Pickle, GetattrChainIsRefused) {
  // builtins.getattr(builtins.__import__('os'), 'system')('id'): refused at the first GLOBAL.
  PickleWriter p;
  p.proto().global("builtins", "getattr").mark().global("builtins", "__import__").mark().str("os").tuple().reduce();
  p.str("system").tuple().reduce().mark().str("id").tuple().reduce().stop();
  pickle::Unpickler u;
  auto r = run(u, p.out);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("'builtins.getattr'"), std::string::npos);
}

TEST(Pickle, AllowedGlobalsCannotBeCalledWithOtherMeaning) {
  {  // calling a storage type
    PickleWriter p;
    p.proto().global("torch", "FloatStorage").mark().integer(3).tuple().reduce().stop();
    pickle::Unpickler u;
    auto r = run(u, p.out);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("cannot be called"), std::string::npos) << r.status().message();
  }
  {  // a persistent id that is not a storage record
    PickleWriter p;
    p.proto().mark().str("module").str("os").tuple().op('Q').stop();
    pickle::Unpickler u;
    EXPECT_FALSE(run(u, p.out).ok());
  }
  {  // unsupported storage dtype
    PickleWriter p;
    p.proto().storage("ComplexFloatStorage", "0", 1).stop();
    pickle::Unpickler u;
    auto r = run(u, p.out);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("torch.ComplexFloatStorage"), std::string::npos) << r.status().message();
  }
  {  // BUILD (setstate) on anything but a dict or tensor
    PickleWriter p;
    p.proto().op(']').op('}').op('b').stop();
    pickle::Unpickler u;
    EXPECT_FALSE(run(u, p.out).ok());
  }
}

TEST(Pickle, MalformedProgramsFailCleanly) {
  const std::vector<test::Bytes> programs = {
      {},                                              // empty
      {0x80, 0x02},                                    // no STOP
      {0x80, 0x02, '.'},                               // STOP on an empty stack
      {0x80, 0x02, 't', '.'},                          // TUPLE without MARK
      {0x80, 0x02, 'h', 7, '.'},                       // GET of an unset memo entry
      {0x80, 0x02, 'X', 0xff, 0xff, 0xff, 0x7f, 'a'},  // string longer than the data
      {0x80, 0x02, 's', '.'},                          // SETITEM on nothing
      {0x80, 0x02, 'I', '1', '\n', '.'},               // protocol-0 INT: unsupported opcode
      {0x80, 0x09, '.'},                               // bad protocol
      {0x80, 0x02, ']', 'N', 's', '.'},                // SETITEM on a list with too few items
  };
  for (const test::Bytes& b : programs) {
    pickle::Unpickler u;
    auto r = run(u, b);
    EXPECT_FALSE(r.ok());
    EXPECT_FALSE(r.status().message().empty());
  }
}

TEST(PthReader, MaliciousPickleInsideACheckpointIsRefused) {
  PickleWriter p;
  p.proto().global("posix", "system").mark().str("echo pwned").tuple().reduce().stop();
  const test::Bytes zip = test::make_zip({{"archive/data.pkl", p.out}, {"archive/version", {'3', '\n'}}});
  auto w = parse_pth(zip);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().message().rfind("data.pkl: ", 0), 0u) << w.status().message();
  EXPECT_NE(w.status().message().find("refusing global 'posix.system'"), std::string::npos);
}

}  // namespace
}  // namespace resr::formats
