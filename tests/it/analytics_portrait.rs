//! The member portrait through the API and the CLI, on members whose profiles are given
//! below (docs/analytics.md, "Portrait").

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::TestApp;

/// (external id, gender, birthday, region, channel)
type Person = (
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
    &'static str,
);

const PEOPLE: [Person; 4] = [
    ("p1", Some("female"), Some("1990-01-01"), "north", "ads"),
    ("p2", Some("female"), Some("2000-06-01"), "south", "ads"),
    ("p3", Some("male"), None, "north", "shop"),
    ("p4", None, Some("1995-12-31"), "north", "shop"),
];

fn values(body: &Value, dimension: &str) -> Vec<(String, u64, f64)> {
    body["distribution"]
        .as_array()
        .expect("distribution")
        .iter()
        .filter(|r| r["dimension"] == dimension)
        .map(|r| {
            (
                r["value"].as_str().expect("value").to_owned(),
                r["members"].as_u64().expect("members"),
                r["share"].as_f64().expect("share"),
            )
        })
        .collect()
}

fn v(s: &str, n: u64, share: f64) -> (String, u64, f64) {
    (s.to_owned(), n, share)
}

async fn portrait_of_everyone_and_of_a_segment(app: TestApp) {
    for (id, gender, birthday, region, channel) in PEOPLE {
        let (s, b) = app
            .post(
                "/v1/members",
                json!({"external_id": id, "gender": gender, "birthday": birthday, "region": region,
                       "channel": channel, "time_zone": "Asia/Shanghai"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    let (s, b) = app.get("/v1/analytics/portrait?as_of=2026-03-15").await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["members"], 4);
    assert_eq!(
        values(&b, "gender"),
        [
            v("female", 2, 0.5),
            v("male", 1, 0.25),
            v("(unknown)", 1, 0.25)
        ]
    );
    // On 15 March 2026: 36, 25 (June birthday not yet), none, 30.
    assert_eq!(
        values(&b, "age_band"),
        [
            v("25-34", 2, 0.5),
            v("35-44", 1, 0.25),
            v("(unknown)", 1, 0.25)
        ]
    );
    assert_eq!(
        values(&b, "region"),
        [v("north", 3, 0.75), v("south", 1, 0.25)]
    );
    assert_eq!(values(&b, "channel"), [v("ads", 2, 0.5), v("shop", 2, 0.5)]);
    for dim in ["tier", "stage", "rfm_class", "value_class"] {
        let total: u64 = values(&b, dim).iter().map(|r| r.1).sum();
        assert_eq!(total, 4, "{dim} divides every member");
    }

    let (s, seg) = app
        .post(
            "/v1/segments",
            json!({"name": "women", "condition": {"all": [{"field": "gender", "op": "eq", "value": "female"}]}}),
        )
        .await;
    assert!(s.is_success(), "{seg}");
    let id = seg["id"].as_str().expect("id");
    let (s, w) = app
        .get(&format!(
            "/v1/analytics/portrait?segment_id={id}&as_of=2026-03-15"
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{w}");
    assert_eq!(
        (w["members"].as_u64(), w["segment_id"].as_str()),
        (Some(2), Some(id))
    );
    assert_eq!(values(&w, "gender"), [v("female", 2, 1.0)]);
    assert_eq!(
        values(&w, "region"),
        [v("north", 1, 0.5), v("south", 1, 0.5)]
    );

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_memberops"))
        .args([
            "--db",
            &app._db.url,
            "report",
            "portrait",
            "--segment-id",
            id,
            "--as-of",
            "2026-03-15",
        ])
        .output()
        .expect("run memberops");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8(out.stdout).expect("utf-8");
    assert!(
        csv.starts_with("dimension,value,members,share\ngender,female,2,1\n"),
        "{csv}"
    );
    assert!(
        csv.contains("\nage_band,25-34,1,0.5\nage_band,35-44,1,0.5\n"),
        "{csv}"
    );

    let (s, _) = app
        .get("/v1/analytics/portrait?segment_id=seg_missing")
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
both!(portrait_of_everyone_and_of_a_segment);
