// Output comparisons for tests. std::max(m, NaN) keeps m, so a plain running maximum of |a - b| would pass an
// output full of NaN; max_abs_error returns NaN then, which fails every EXPECT_LE.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>

namespace resr::test {

// The largest |a[i] - b[i]| over n elements; NaN when any difference is NaN.
template <class A, class B>
double max_abs_error(const A* a, const B* b, std::size_t n) {
  double m = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double d = std::fabs(double(a[i]) - double(b[i]));
    if (std::isnan(d)) return std::numeric_limits<double>::quiet_NaN();
    if (d > m) m = d;
  }
  return m;
}

}  // namespace resr::test
