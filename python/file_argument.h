// FileArgument: a file or folder name for a binding argument, as Python's open() takes one: str (with the surrogate
// escapes os.listdir makes of names that are not UTF-8), bytes or os.PathLike (pathlib.Path), as the system's
// bytes. Taken as std::string, a pathlib.Path failed as a mismatch of types, a TypeError of many lines listing the
// whole signature; a NUL raises ValueError("embedded null byte"), as open() does.
//
//   m.def("f", [](const FileArgument& model_path) { use(model_path.path); }, py::arg("model_path") = "");
#pragma once

#include <pybind11/pybind11.h>

#include <string>

struct FileArgument {
  std::string path;
};

namespace pybind11::detail {

template <>
struct type_caster<FileArgument> {
  PYBIND11_TYPE_CASTER(FileArgument, const_name("str | os.PathLike"));

  bool load(handle source, bool /*convert*/) {
    if (!source || (PyUnicode_Check(source.ptr()) == 0 && PyBytes_Check(source.ptr()) == 0 &&
                    PyObject_HasAttrString(source.ptr(), "__fspath__") == 0))
      return false;  // another type: pybind's TypeError
    PyObject* converted = nullptr;
    if (PyUnicode_FSConverter(source.ptr(), &converted) == 0) throw error_already_set();  // a NUL, a bad __fspath__
    value.path = std::string(reinterpret_steal<bytes>(converted));
    return true;
  }

  static handle cast(const FileArgument& argument, return_value_policy /*policy*/, handle /*parent*/) {
    return PyUnicode_DecodeFSDefaultAndSize(argument.path.data(), ssize_t(argument.path.size()));
  }
};

}  // namespace pybind11::detail
