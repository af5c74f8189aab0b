//! Predicted member value: BG/NBD (P(alive), expected orders) and Gamma-Gamma (expected order value), fitted by maximum likelihood.
