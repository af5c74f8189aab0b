"""The CLV benchmark's reference (bench/clv/run.sh): `lifetimes` fits BG/NBD and Gamma-Gamma
on the same summaries the Rust side fitted and scores every member the same way (P(alive),
expected orders in 90 days, expected order value, 12-month CLV at 1% a month). Prints one
JSON line."""
import json
import sys
import time
import warnings

warnings.filterwarnings("ignore")
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter

s = pd.read_csv(sys.argv[1])
t0 = time.perf_counter()
bgf = BetaGeoFitter(penalizer_coef=0.0).fit(s["frequency"], s["recency"], s["T"])
rep = s[s["frequency"] > 0]
ggf = GammaGammaFitter(penalizer_coef=0.0).fit(rep["frequency"], rep["monetary_value"])
fit_s = time.perf_counter() - t0
t1 = time.perf_counter()
alive = bgf.conditional_probability_alive(s["frequency"], s["recency"], s["T"])
e90 = bgf.conditional_expected_number_of_purchases_up_to_time(90, s["frequency"], s["recency"], s["T"])
clv = ggf.customer_lifetime_value(bgf, s["frequency"], s["recency"], s["T"], s["monetary_value"],
                                  time=12, discount_rate=0.01, freq="D")
score_s = time.perf_counter() - t1
print(json.dumps({
    "members": len(s),
    "fit_s": fit_s,
    "score_s": score_s,
    "total_s": fit_s + score_s,
    "params": {**bgf.params_.to_dict(), **ggf.params_.to_dict()},
    "clv_sum": float(clv.sum()),
}))
