// Asymmetric generalized Gaussian (AGGD) fit by moment matching, as in NIQE/BRISQUE (Lasmar et al. 2009; BasicSR's
// estimate_aggd_param): with sigma_l^2 = mean of x^2 over x < 0, sigma_r^2 over x > 0, gamma_hat = sigma_l /
// sigma_r, r_hat = mean(|x|)^2 / mean(x^2) over all samples, and R = r_hat (gamma_hat^3 + 1)(gamma_hat + 1) /
// (gamma_hat^2 + 1)^2, the shape alpha is the gamma in 0.2, 0.201, ..., 10.0 whose
// Gamma(2/gamma)^2 / (Gamma(1/gamma) Gamma(3/gamma)) is nearest to R (first on ties), and
// beta_{l,r} = sigma_{l,r} sqrt(Gamma(1/alpha) / Gamma(3/alpha)).
//
// Samples are float32 (the MSCN planes); sums are in double. Zeros belong to neither side. When a side is empty
// (or all samples are zero) beta is NaN and alpha is 0.2, exactly as NumPy's argmin over a NaN array gives; NIQE
// then drops the block from the covariance. Pure; safe from any thread (the table is built once, thread-safely).
#pragma once

#include <cstddef>

namespace resr::metrics {

struct AggdFit {
  double alpha = 0, beta_left = 0, beta_right = 0;
};

AggdFit fit_aggd(const float* samples, std::size_t n);

}  // namespace resr::metrics
