//! Rough speed and memory check on synthetic members:
//! `cargo run --release -p memberops-segments --example segments_speed [members]`.
//! A smoke check for development, not the benchmark of record (that lives in `bench/`).

use std::time::Instant;

use chrono::{Days, NaiveDate};
use memberops_core::member::Gender;
use memberops_segments::eval::NoEvents;
use memberops_segments::rfm::{RfmConfig, RfmInput, score_all};
use memberops_segments::{EvalContext, MemberRow, Node, SegmentIndex, Stage};

/// xorshift: deterministic without a rand dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let as_of = NaiveDate::from_ymd_opt(2026, 6, 1).expect("date");
    let as_of_ms: i64 = 1_780_272_000_000;

    let inputs: Vec<RfmInput> = (0..n)
        .map(|_| {
            let orders = if rng.below(10) < 3 {
                0
            } else {
                1 + rng.below(20) as u32
            };
            let last = as_of - Days::new(rng.below(720));
            let first = last - Days::new(rng.below(720));
            RfmInput {
                first_order: (orders > 0).then_some(first),
                last_order: (orders > 0).then_some(last),
                orders,
                order_days: orders,
                monetary: i64::from(orders) * rng.below(50_000) as i64,
            }
        })
        .collect();
    let t = Instant::now();
    let scores = score_all(&inputs, as_of, &RfmConfig::default()).expect("rfm");
    println!("rfm score_all, {n} members: {:?}", t.elapsed());

    let regions = [
        "上海", "北京", "广州", "深圳", "杭州", "成都", "武汉", "西安",
    ];
    let channels = ["wechat", "app", "store", "tmall", "douyin"];
    let tiers = ["普通", "银卡", "金卡", "白金", "钻石"];
    let tags = [
        "coffee", "tea", "vip", "student", "mom", "gym", "pet", "travel",
    ];
    let mut idx = SegmentIndex::new();
    let t = Instant::now();
    for (i, s) in scores.iter().enumerate() {
        let mut r = MemberRow::new(format!("mbr_{i:012}"), chrono_tz::Asia::Shanghai);
        r.gender = Some([Gender::Male, Gender::Female][rng.below(2) as usize]);
        r.birthday = NaiveDate::from_ymd_opt(
            1960 + rng.below(45) as i32,
            1 + rng.below(12) as u32,
            1 + rng.below(28) as u32,
        );
        r.region = Some(regions[rng.below(8) as usize].into());
        r.channel = Some(channels[rng.below(5) as usize].into());
        r.tier = Some(tiers[rng.below(5) as usize].into());
        r.registered_at = Some(as_of_ms - rng.below(1000) as i64 * 86_400_000);
        r.orders = inputs[i].orders;
        r.spend = inputs[i].monetary;
        r.last_order_at = s.recency_days.map(|d| as_of_ms - d * 86_400_000);
        r.points_balance = rng.below(10_000) as i64;
        r.stage = Some(Stage::ALL[rng.below(5) as usize]);
        (r.r, r.f, r.m, r.rfm_class) = (s.r, s.f, s.m, s.class);
        r.tags = (0..rng.below(4))
            .map(|_| tags[rng.below(8) as usize].to_owned())
            .collect();
        if rng.below(5) == 0 {
            r.attributes
                .insert("vip_level".into(), serde_json::json!(rng.below(5)));
        }
        idx.upsert(&r).expect("upsert");
    }
    println!("index upsert, {n} members: {:?}", t.elapsed());
    let mem = idx.memory_bytes();
    println!(
        "index memory_bytes: {mem} ({:.1} bytes/member)",
        mem as f64 / n as f64
    );

    let tree = Node::from_json(&serde_json::json!({"all": [
        {"field": "gender", "op": "eq", "value": "female"},
        {"field": "age", "op": "between", "value": [25, 40]},
        {"field": "region", "op": "in", "value": ["上海", "杭州", "北京"]},
        {"field": "spend", "op": "gte", "value": 10_000},
        {"field": "last_order_at", "op": "within_last_days", "value": 180},
        {"field": "tags", "op": "has_tag", "value": "coffee"}
    ]}))
    .expect("tree");
    let ctx = EvalContext::new(as_of_ms, &NoEvents);
    let mut times = vec![];
    let mut count = 0;
    for _ in 0..21 {
        let t = Instant::now();
        count = idx.count(&tree, &ctx);
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "6-condition count = {count}: median {:?}, min {:?}, max {:?}",
        times[10], times[0], times[20]
    );
    let t = Instant::now();
    let page = idx.members(&tree, &ctx, 100, None).expect("page");
    println!(
        "members(limit 100): {} ids in {:?}",
        page.ids.len(),
        t.elapsed()
    );
}
