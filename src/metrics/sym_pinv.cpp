// Cyclic Jacobi eigenvalue iteration (Golub & Van Loan, Matrix Computations, 8.5) for symmetric_pinv.
#include "metrics/sym_pinv.h"

#include <algorithm>
#include <cmath>

#include "core/status.h"

namespace resr::metrics {

std::vector<double> symmetric_pinv(const std::vector<double>& in, int n, double rcond) {
  RESR_ASSERT(n > 0 && in.size() == std::size_t(n) * std::size_t(n));
  std::vector<double> a = in, v(std::size_t(n) * n, 0.0);
  auto A = [&](int i, int j) -> double& { return a[std::size_t(i) * n + j]; };
  auto V = [&](int i, int j) -> double& { return v[std::size_t(i) * n + j]; };
  for (int i = 0; i < n; ++i) V(i, i) = 1;

  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0, diag = 0;
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) (i == j ? diag : off) += A(i, j) * A(i, j);
    if (off <= 1e-30 * diag || off == 0) break;
    for (int p = 0; p < n - 1; ++p)
      for (int q = p + 1; q < n; ++q) {
        const double apq = A(p, q);
        if (apq == 0) continue;
        // Rotation that zeroes A(p, q): tan(theta) = t, the smaller root of t^2 + 2 tau t - 1 = 0.
        const double tau = (A(q, q) - A(p, p)) / (2 * apq);
        const double t = (tau >= 0 ? 1.0 : -1.0) / (std::fabs(tau) + std::sqrt(1 + tau * tau));
        const double c = 1 / std::sqrt(1 + t * t), s = t * c;
        for (int k = 0; k < n; ++k) {  // A <- A J (columns p, q)
          const double akp = A(k, p), akq = A(k, q);
          A(k, p) = c * akp - s * akq;
          A(k, q) = s * akp + c * akq;
        }
        for (int k = 0; k < n; ++k) {  // A <- J^T A (rows p, q)
          const double apk = A(p, k), aqk = A(q, k);
          A(p, k) = c * apk - s * aqk;
          A(q, k) = s * apk + c * aqk;
        }
        for (int k = 0; k < n; ++k) {  // V <- V J
          const double vkp = V(k, p), vkq = V(k, q);
          V(k, p) = c * vkp - s * vkq;
          V(k, q) = s * vkp + c * vkq;
        }
      }
  }

  double max_abs = 0;
  for (int i = 0; i < n; ++i) max_abs = std::max(max_abs, std::fabs(A(i, i)));
  const double cutoff = rcond * max_abs;
  std::vector<double> out(std::size_t(n) * n, 0.0);
  for (int k = 0; k < n; ++k) {
    const double l = A(k, k);
    if (!(std::fabs(l) > cutoff)) continue;
    const double inv = 1 / l;
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) out[std::size_t(i) * n + j] += V(i, k) * inv * V(j, k);
  }
  return out;
}

}  // namespace resr::metrics
