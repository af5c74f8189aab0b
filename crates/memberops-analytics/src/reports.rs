//! Report tables built from plain rows: overview, cohorts, funnels, channel retention, repurchase, decomposition, portrait, loyalty economics.
