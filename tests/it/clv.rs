//! Predicted member value (docs/predicted-value.md): `memberops report clv` against the
//! Python package `lifetimes` on a seeded simulated base (parameters and every member within
//! 1%), the stored predictions in the member view and as segment fields (index = SQL), and
//! the refusals.

use std::collections::HashMap;

use chrono::{Days, NaiveDate};
use memberops_analytics::clv::simulate::{SimParams, simulate};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::{TestApp, python_has};

const AS_OF: &str = "2026-06-30";
const HORIZON: u32 = 365;

fn day(n: u32) -> NaiveDate {
    let as_of = NaiveDate::parse_from_str(AS_OF, "%Y-%m-%d").unwrap_or_default();
    as_of - Days::new(u64::from(HORIZON)) + Days::new(u64::from(n))
}

fn major(minor: i64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

fn paid(id: &str, member: &str, amount_minor: i64, on: NaiveDate) -> Value {
    json!({"id": id, "type": "order.paid", "member": member, "auto_create": true,
           "occurred_at": format!("{on}T04:00:00Z"),
           "properties": {"order_id": id, "amount": major(amount_minor)}})
}

/// Loads the simulated base through the API; returns the orders that count, as
/// (external id, day, minor amount), for `lifetimes`.
async fn load_base(app: &TestApp, members: usize) -> Vec<(String, NaiveDate, i64)> {
    let base = simulate(members, HORIZON, SimParams::default(), 42);
    let mut events = Vec::new();
    let mut counted = Vec::new();
    for (i, orders) in base.iter().enumerate() {
        let m = format!("c{i}");
        for (k, &(d, v)) in orders.iter().enumerate() {
            events.push(paid(&format!("o{i}-{k}"), &m, v, day(d)));
            counted.push((m.clone(), day(d), v));
        }
    }
    // Not orders for the model: one fully refunded (on a day of its own), one after as-of.
    events.push(paid("refunded", "c0", 5000, day(HORIZON - 1)));
    events.push(
        json!({"id": "refund", "type": "order.refunded", "member": "c0",
        "occurred_at": format!("{}T05:00:00Z", day(HORIZON - 1)),
        "properties": {"order_id": "refunded", "amount": "50.00"}}),
    );
    events.push(paid("late", "c1", 7000, day(HORIZON + 3)));
    for chunk in events.chunks(1000) {
        let r = app.batch(Value::Array(chunk.to_vec())).await;
        assert_eq!(r["accepted"].as_u64(), Some(chunk.len() as u64), "{r}");
    }
    counted
}

/// `lifetimes` on the same transactions: parameters and per-member outputs.
fn lifetimes_reference(orders: &[(String, NaiveDate, i64)]) -> Value {
    let dir = tempfile::tempdir().expect("tmp");
    let csv = dir.path().join("orders.csv");
    let mut text = String::from("member,date,amount\n");
    for (m, d, v) in orders {
        text.push_str(&format!("{m},{d},{}\n", major(*v)));
    }
    std::fs::write(&csv, text).expect("write");
    let script = r#"
import json, sys, warnings
warnings.filterwarnings("ignore")
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.utils import summary_data_from_transaction_data
tx = pd.read_csv(sys.argv[1], parse_dates=["date"])
s = summary_data_from_transaction_data(tx, "member", "date", monetary_value_col="amount",
                                       observation_period_end=sys.argv[2], freq="D")
bgf = BetaGeoFitter(penalizer_coef=0.0).fit(s["frequency"], s["recency"], s["T"])
rep = s[s["frequency"] > 0]
ggf = GammaGammaFitter(penalizer_coef=0.0).fit(rep["frequency"], rep["monetary_value"])
alive = bgf.conditional_probability_alive(s["frequency"], s["recency"], s["T"])
e90 = bgf.conditional_expected_number_of_purchases_up_to_time(90, s["frequency"], s["recency"], s["T"])
aov = ggf.conditional_expected_average_profit(s["frequency"], s["monetary_value"])
clv = ggf.customer_lifetime_value(bgf, s["frequency"], s["recency"], s["T"], s["monetary_value"],
                                  time=12, discount_rate=0.01, freq="D")
out = {"params": {**bgf.params_.to_dict(), **ggf.params_.to_dict()}, "members": {}}
for i, m in enumerate(s.index):
    out["members"][m] = [float(alive[i]), float(e90.iloc[i]), float(aov.iloc[i]), float(clv.iloc[i])]
print(json.dumps(out))
"#;
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&csv)
        .arg(AS_OF)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("lifetimes JSON")
}

fn report_csv(app: &TestApp, format: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_memberops"))
        .arg("--db")
        .arg(&app._db.url)
        .args(["report", "clv", "--as-of", AS_OF, "--format", format])
        .output()
        .expect("memberops report clv");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn within(ours: f64, theirs: f64, abs: f64) -> bool {
    (ours - theirs).abs() <= (0.01 * theirs.abs()).max(abs)
}

async fn clv_matches_lifetimes(app: TestApp) {
    if !python_has("lifetimes", "lifetimes") {
        return;
    }
    let orders = load_base(&app, 1500).await;
    let reference = lifetimes_reference(&orders);

    // The fit, through the on-demand refresh (what the daily job runs).
    let (s, fit) = app
        .post("/v1/predicted-value:refresh", json!({"as_of": AS_OF}))
        .await;
    assert_eq!(s, StatusCode::OK, "{fit}");
    assert_eq!(fit["members"], 1500, "{fit}");
    let theirs = &reference["params"];
    for k in ["r", "alpha", "a", "b", "p", "q"] {
        let (o, t) = (fit["params"][k].as_f64(), theirs[k].as_f64());
        let (Some(o), Some(t)) = (o, t) else {
            panic!("{k}: {fit} {theirs}")
        };
        assert!(within(o, t, 0.0), "{k}: ours {o}, lifetimes {t}");
    }
    // Gamma-Gamma's scale is in the money unit: ours minor, lifetimes' major.
    let v = fit["params"]["v_minor"].as_f64().unwrap_or(0.0) / 100.0;
    assert!(within(v, theirs["v"].as_f64().unwrap_or(0.0), 0.0), "v {v}");

    // The CLI: exact columns, one row per member with an order by as-of.
    let csv = report_csv(&app, "csv");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("member_id,p_alive,expected_orders_90d,expected_aov,clv_12m")
    );
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect();
    assert_eq!(rows.len(), 1500);
    let ids: Vec<String> = rows.iter().map(|r| r[0].clone()).collect();
    let external: HashMap<String, String> = app
        .store
        .external_ids(&app.ws.id, &ids)
        .await
        .expect("ids")
        .into_iter()
        .collect();
    let members = reference["members"].as_object().expect("members");
    let mut alive_below = 0;
    for r in &rows {
        assert!(r[0].starts_with("mbr_"), "{r:?}");
        let ext = &external[&r[0]];
        let want = &members[ext];
        let f = |i: usize| r[i].parse::<f64>().unwrap_or(f64::NAN);
        let w = |i: usize| want[i].as_f64().unwrap_or(f64::NAN);
        assert!(
            within(f(1), w(0), 1e-9),
            "{ext} p_alive {} vs {}",
            f(1),
            w(0)
        );
        assert!(
            within(f(2), w(1), 1e-9),
            "{ext} expected orders {} vs {}",
            f(2),
            w(1)
        );
        // Money: major units with two decimals (rounded to the fen).
        for (i, j) in [(3, 2), (4, 3)] {
            assert!(
                r[i].split_once('.').is_some_and(|(_, d)| d.len() == 2),
                "{r:?}"
            );
            assert!(
                within(f(i), w(j), 0.006),
                "{ext} col {i}: {} vs {}",
                f(i),
                w(j)
            );
        }
        if f(1) < 0.3 {
            alive_below += 1;
        }
    }
    assert!(alive_below > 0, "the base has members likely gone");

    // JSON: the same rows, money in minor units.
    let json: Value = serde_json::from_str(&report_csv(&app, "json")).expect("json");
    assert_eq!(json.as_array().map(Vec::len), Some(1500));
    let first = &json[0];
    assert_eq!(first["member_id"], rows[0][0].as_str());
    assert_eq!(
        major(first["clv_12m_minor"].as_i64().unwrap_or(-1)),
        rows[0][4]
    );

    // The member view shows the stored predictions, by internal or external id.
    let (s, p) = app
        .get(&format!("/v1/members/{}/predicted", rows[0][0]))
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["as_of"], AS_OF);
    assert_eq!(p["p_alive"].to_string(), rows[0][1]);
    assert_eq!(
        major(p["expected_aov_minor"].as_i64().unwrap_or(-1)),
        rows[0][3]
    );
    let (s, q) = app
        .get(&format!("/v1/members/{}/predicted", external[&rows[0][0]]))
        .await;
    assert_eq!((s, &q), (StatusCode::OK, &p));

    // Segment fields: both engines, the CSV's count.
    for engine in ["index", "sql"] {
        let (s, b) = app
            .post(
                "/v1/segments:preview",
                json!({"condition": {"field": "p_alive", "op": "lt", "value": 0.3}, "engine": engine}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["count"], alive_below, "{engine}");
    }
    let over: usize = rows
        .iter()
        .filter(|r| r[4].parse::<f64>().is_ok_and(|v| v > 1000.0))
        .count();
    let mut counts = Vec::new();
    for engine in ["index", "sql"] {
        let cond = json!({"all": [{"field": "clv_12m", "op": "gt", "value": 1000},
                                  {"field": "expected_orders_90d", "op": "gte", "value": 0}]});
        let (s, b) = app
            .post(
                "/v1/segments:preview",
                json!({"condition": cond, "engine": engine}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        counts.push(b["count"].clone());
    }
    assert_eq!(counts, [json!(over), json!(over)]);
}
both!(clv_matches_lifetimes);

async fn predictions_refuse_what_they_cannot_answer(app: TestApp) {
    // One buyer with one order day: nothing to fit.
    app.batch(json!([paid("x1", "solo", 1000, day(100))])).await;
    let (s, b) = app
        .post("/v1/predicted-value:refresh", json!({"as_of": AS_OF}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["code"], "not_enough_data");
    let (s, b) = app.get("/v1/members/solo/predicted").await;
    assert_eq!(
        (s, &b["code"]),
        (StatusCode::NOT_FOUND, &json!("not_found"))
    );
    let (s, _) = app.get("/v1/members/nobody/predicted").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, b) = app
        .post(
            "/v1/predicted-value:refresh",
            json!({"as_of": "2026-13-01"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (s, b) = app
        .post(
            "/v1/predicted-value:refresh",
            json!({"as_of": AS_OF, "asof": AS_OF}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    // A segment on a predicted value is valid and matches nobody without predictions.
    let (s, b) = app
        .post(
            "/v1/segments:preview",
            json!({"condition": {"field": "clv_12m", "op": "lte", "value": 1e9}}),
        )
        .await;
    assert_eq!((s, &b["count"]), (StatusCode::OK, &json!(0)), "{b}");
    let (s, b) = app
        .post(
            "/v1/segments:preview",
            json!({"condition": {"field": "p_alive", "op": "eq", "value": 0.5}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
}
both!(predictions_refuse_what_they_cannot_answer);
