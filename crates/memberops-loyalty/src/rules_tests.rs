//! Unit tests of the earning rules.

use super::*;
use chrono::TimeZone;

fn member(tier: &str) -> MemberState {
    MemberState {
        tier: tier.into(),
        tz: chrono_tz::Asia::Shanghai,
        order_times: Vec::new(),
        usage: BTreeMap::new(),
    }
}

fn order(id: &str, amount: i64, at: Millis) -> EventFacts {
    EventFacts {
        event_id: id.into(),
        event_type: "order.paid".into(),
        occurred_at: at,
        amount_minor: Some(amount),
        channel: Some("app".into()),
        categories: vec!["shoes".into()],
        order_id: Some(format!("o-{id}")),
    }
}

fn ms(y: i32, mo: u32, d: u32, h: u32) -> Millis {
    chrono::Utc
        .with_ymd_and_hms(y, mo, d, h, 0, 0)
        .single()
        .expect("valid")
        .timestamp_millis()
}

#[test]
fn spend_earns_growth_per_yuan_and_points_times_tier() {
    let p = Program::default();
    let at = ms(2026, 5, 1, 2);
    let a = evaluate(&p, &order("e1", 19_999, at), &member("gold"));
    assert_eq!(a.len(), 1);
    assert_eq!((a[0].growth, a[0].points), (199, 298)); // 199 × 1.5 = 298.5 → 298
    assert_eq!(
        (a[0].rule_id.as_str(), a[0].event_id.as_str()),
        ("spend", "e1")
    );
    let a = evaluate(&p, &order("e2", 19_999, at), &member("normal"));
    assert_eq!((a[0].growth, a[0].points), (199, 199));
    assert!(evaluate(&p, &order("e3", 99, at), &member("normal")).is_empty());
}

#[test]
fn caps_trim_and_count_caps_skip() {
    let p = Program::default();
    let mut m = member("normal");
    let share = EventFacts {
        event_type: "content.shared".into(),
        amount_minor: None,
        ..order("s", 0, ms(2026, 5, 1, 2))
    };
    m.usage.insert(
        "content_shared".into(),
        RuleUsage {
            day: Earned {
                growth: 18,
                points: 0,
                count: 4,
            },
            ..RuleUsage::default()
        },
    );
    let a = evaluate(&p, &share, &m);
    assert_eq!((a[0].growth, a[0].capped), (2, true));
    m.usage.get_mut("content_shared").expect("usage").day.growth = 20;
    assert!(evaluate(&p, &share, &m).is_empty());

    let reg = EventFacts {
        event_type: "member.registered".into(),
        ..share.clone()
    };
    assert_eq!(evaluate(&p, &reg, &m)[0].growth, 100);
    m.usage.insert(
        "registered".into(),
        RuleUsage {
            lifetime: Earned {
                growth: 100,
                points: 0,
                count: 1,
            },
            ..RuleUsage::default()
        },
    );
    assert!(evaluate(&p, &reg, &m).is_empty());
}

#[test]
fn campaign_conditions_weekday_in_member_zone_and_validity() {
    let mut p = Program::default();
    // Double points on Saturdays for app orders over 100 yuan, May 2026 only.
    p.rules.push(EarningRule {
        id: "may_saturdays".into(),
        name: "周六双倍".into(),
        event_type: "order.paid".into(),
        enabled: true,
        conditions: Conditions {
            min_amount_minor: Some(10_000),
            channels: vec!["app".into()],
            categories: vec!["shoes".into(), "bags".into()],
            weekdays: vec![Weekday::Sat],
            tiers: vec![],
            ..Conditions::default()
        },
        reward: Reward {
            growth: RewardAmount::None,
            points: RewardAmount::PerAmount {
                per_minor: 100,
                units: 1,
            },
            trial_tier: None,
        },
        points_multiplier: PointsMultiplier::PerTier(BTreeMap::from([("gold".to_owned(), 20_000)])),
        caps: Caps::default(),
        valid_from: Some(ms(2026, 4, 30, 16)),
        valid_to: Some(ms(2026, 5, 31, 16)),
    });
    p.validate().expect("valid");
    // 2026-05-01 is a Friday; 17:00 UTC Friday is 01:00 Saturday in Shanghai.
    let sat_local = ms(2026, 5, 1, 17);
    let a = evaluate(&p, &order("e", 20_000, sat_local), &member("gold"));
    assert_eq!(a.len(), 2);
    assert_eq!((a[1].rule_id.as_str(), a[1].points), ("may_saturdays", 400));
    let fri_local = ms(2026, 5, 1, 10);
    assert_eq!(
        evaluate(&p, &order("e", 20_000, fri_local), &member("gold")).len(),
        1
    );
    let mut o = order("e", 20_000, sat_local);
    o.channel = Some("pos".into());
    assert_eq!(evaluate(&p, &o, &member("gold")).len(), 1);
    let june = ms(2026, 6, 6, 2);
    assert_eq!(
        evaluate(&p, &order("e", 20_000, june), &member("gold")).len(),
        1
    );
}

#[test]
fn per_amount_floors_and_never_goes_negative() {
    let r = RewardAmount::PerAmount {
        per_minor: 100,
        units: 2,
    };
    assert_eq!(r.of(Some(1_99)), 2);
    assert_eq!(r.of(Some(-500)), 0);
    assert_eq!(r.of(None), 0);
    assert_eq!(scale_bp(7, 15_000), 10);
}

#[test]
fn member_days_by_day_of_month_and_fixed_date_in_the_member_zone() {
    let mut p = Program::default();
    p.rules.push(EarningRule {
        id: "member_day".into(),
        name: "会员日".into(),
        event_type: "order.paid".into(),
        enabled: true,
        conditions: Conditions {
            month_days: vec![8],
            ..Conditions::default()
        },
        reward: Reward {
            growth: RewardAmount::None,
            points: RewardAmount::Fixed { amount: 50 },
            trial_tier: None,
        },
        points_multiplier: PointsMultiplier::None,
        caps: Caps::default(),
        valid_from: None,
        valid_to: None,
    });
    let base = p.rules.len() - 1;
    let mut anniversary = p.rules[base].clone();
    anniversary.id = "anniversary".into();
    anniversary.conditions = Conditions {
        dates: vec!["09-18".into()],
        ..Conditions::default()
    };
    p.rules.push(anniversary);
    p.validate().expect("valid");
    let earned = |at| {
        evaluate(&p, &order("e", 20_000, at), &member("gold"))
            .into_iter()
            .map(|a| a.rule_id)
            .collect::<Vec<_>>()
    };
    // 2026-06-07 17:00 UTC is the 8th, 01:00, in Shanghai; 10:00 UTC is still the 7th.
    assert!(earned(ms(2026, 6, 7, 17)).contains(&"member_day".to_owned()));
    assert!(!earned(ms(2026, 6, 7, 10)).contains(&"member_day".to_owned()));
    assert!(earned(ms(2026, 9, 18, 2)).contains(&"anniversary".to_owned()));
    assert!(!earned(ms(2026, 9, 19, 2)).contains(&"anniversary".to_owned()));

    let mut bad = p.clone();
    bad.rules[base].conditions.month_days = vec![0, 32];
    bad.rules[base + 1].conditions.dates = vec!["02-30".into()];
    let crate::LoyaltyError::InvalidProgram(errs) = bad.validate().expect_err("invalid") else {
        panic!("not a program error")
    };
    let errs = errs.0;
    let locs: Vec<String> = errs.iter().map(|e| e.loc.join(".")).collect();
    for loc in [
        format!("rules.{base}.conditions.month_days.0"),
        format!("rules.{base}.conditions.month_days.1"),
        format!("rules.{}.conditions.dates.0", base + 1),
    ] {
        assert!(locs.contains(&loc), "{loc} not in {locs:?}");
    }
}

#[test]
fn repeat_and_frequent_purchases_earn_their_rules() {
    let mut p = Program::default();
    let rule = |id: &str, conditions| EarningRule {
        id: id.into(),
        name: id.into(),
        event_type: "order.paid".into(),
        enabled: true,
        conditions,
        reward: Reward {
            growth: RewardAmount::Fixed { amount: 30 },
            points: RewardAmount::None,
            trial_tier: None,
        },
        points_multiplier: PointsMultiplier::None,
        caps: Caps::default(),
        valid_from: None,
        valid_to: None,
    };
    p.rules.push(rule(
        "repeat",
        Conditions {
            min_order_number: Some(2),
            ..Conditions::default()
        },
    ));
    p.rules.push(rule(
        "frequent",
        Conditions {
            min_orders_in_days: Some(OrdersInDays {
                orders: 3,
                days: 30,
            }),
            ..Conditions::default()
        },
    ));
    p.validate().expect("valid");
    let day = |d: u32| ms(2026, 3, d, 4);
    let earned = |at: Millis, times: &[Millis]| {
        let mut m = member("normal");
        m.order_times = times.to_vec();
        evaluate(&p, &order("e", 10_000, at), &m)
            .into_iter()
            .map(|a| a.rule_id)
            .filter(|r| r == "repeat" || r == "frequent")
            .collect::<Vec<_>>()
    };
    // The first order is not a repeat; a backdated first order makes a later one the 2nd.
    assert!(earned(day(1), &[day(1)]).is_empty());
    assert_eq!(earned(day(5), &[day(1), day(5)]), vec!["repeat"]);
    assert!(earned(day(1), &[day(1), day(5)]).is_empty());
    // Three orders within 30 days, this one included.
    assert_eq!(
        earned(day(20), &[day(1), day(5), day(20)]),
        vec!["repeat", "frequent"]
    );
    assert_eq!(
        earned(ms(2026, 4, 10, 4), &[day(1), day(5), ms(2026, 4, 10, 4)]),
        vec!["repeat"]
    );
    // Only orders match.
    let mut visit = order("v", 10_000, day(20));
    visit.order_id = None;
    let mut m = member("normal");
    m.order_times = vec![day(1), day(5), day(20)];
    assert!(
        evaluate(&p, &visit, &m)
            .iter()
            .all(|a| a.rule_id != "repeat")
    );
    let mut bad = p.clone();
    let n = bad.rules.len();
    bad.rules[n - 2].conditions.min_order_number = Some(0);
    bad.rules[n - 1].conditions.min_orders_in_days = Some(OrdersInDays { orders: 0, days: 7 });
    let locs: Vec<String> = match bad.validate() {
        Err(crate::LoyaltyError::InvalidProgram(inv)) => {
            inv.0.iter().map(|e| e.loc.join(".")).collect()
        }
        other => panic!("{other:?}"),
    };
    assert!(
        locs.iter().any(|l| l.ends_with("min_order_number")),
        "{locs:?}"
    );
    assert!(
        locs.iter().any(|l| l.ends_with("min_orders_in_days")),
        "{locs:?}"
    );
}
