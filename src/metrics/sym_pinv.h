// Moore-Penrose pseudo-inverse of a small symmetric matrix (NIQE's 36x36 averaged covariance), in double:
// cyclic Jacobi eigen-decomposition A = V diag(l) V^T, then V diag(1/l) V^T over the eigenvalues with
// |l| > rcond * max|l| (NumPy's pinv default rcond = 1e-15; for a symmetric matrix the singular values are |l|).
// `a` is n x n row-major and must be symmetric (only symmetric input is meaningful); returns n x n row-major.
// Cost O(n^3) per sweep, a few sweeps; pure.
#pragma once

#include <vector>

namespace resr::metrics {

std::vector<double> symmetric_pinv(const std::vector<double>& a, int n, double rcond = 1e-15);

}  // namespace resr::metrics
