// IntArgument: a Python integer of any size for a binding argument the library takes as a C++ int. pybind11's own
// int caster fails an integer past 32 bits as a mismatch of types, so the call raised a TypeError of many lines
// listing the whole signature; here such a value is a ValueError naming the argument:
//
//   m.def("f", [](IntArgument tile) { const int t = tile.as_int("tile"); ... }, py::arg("tile") = 0);
//   f(tile=2**40)   ->  ValueError: tile=1099511627776 is out of range (-2147483648 to 2147483647)
//
// Anything Python takes as an index converts (int, bool, numpy integers: __index__); a float or a str stays a
// TypeError, as before. Signatures and stubs still read `int`.
#pragma once

#include <pybind11/pybind11.h>

#include <climits>
#include <string>

struct IntArgument {
  pybind11::object value;  // a Python int

  // The value as an int, or a ValueError naming `name` when it is out of range.
  int as_int(const char* name) const {
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(value.ptr(), &overflow);
    if (v == -1 && PyErr_Occurred() != nullptr) throw pybind11::error_already_set();
    if (overflow != 0 || v < INT_MIN || v > INT_MAX)
      out_of_range(name, std::to_string(INT_MIN), std::to_string(INT_MAX));
    return int(v);
  }

  // The same for an unsigned 64-bit argument (a seed).
  unsigned long long as_uint64(const char* name) const {
    const unsigned long long v = PyLong_AsUnsignedLongLong(value.ptr());
    if (v == static_cast<unsigned long long>(-1) && PyErr_Occurred() != nullptr) {
      PyErr_Clear();  // negative, or past 64 bits
      out_of_range(name, "0", std::to_string(static_cast<unsigned long long>(-1)));
    }
    return v;
  }

 private:
  [[noreturn]] void out_of_range(const char* name, const std::string& least, const std::string& most) const {
    // Python refuses to print an int of over 4300 digits: its size then.
    std::string shown;
    try {
      shown = std::string(pybind11::str(value));
    } catch (const pybind11::error_already_set&) {
      shown = "(an integer of " + std::string(pybind11::str(value.attr("bit_length")())) + " bits)";
    }
    throw pybind11::value_error(std::string(name) + "=" + shown + " is out of range (" + least + " to " + most + ")");
  }
};

namespace pybind11::detail {

template <>
struct type_caster<IntArgument> {
  PYBIND11_TYPE_CASTER(IntArgument, const_name("int"));

  bool load(handle source, bool /*convert*/) {
    if (!source || PyFloat_Check(source.ptr()) != 0 || PyIndex_Check(source.ptr()) == 0) return false;
    PyObject* index = PyNumber_Index(source.ptr());
    if (index == nullptr) {
      PyErr_Clear();
      return false;
    }
    value.value = reinterpret_steal<object>(index);
    return true;
  }

  static handle cast(const IntArgument& argument, return_value_policy /*policy*/, handle /*parent*/) {
    return argument.value.inc_ref();
  }
};

}  // namespace pybind11::detail
