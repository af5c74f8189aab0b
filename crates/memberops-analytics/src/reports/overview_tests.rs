use super::*;
use crate::reports::MemberIx;

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

fn member(member: MemberIx, joined: &str) -> MemberRow {
    MemberRow {
        member,
        joined: d(joined),
        channel: None,
    }
}

fn act(member: MemberIx, day: &str) -> DayRow {
    DayRow {
        member,
        day: d(day),
    }
}

fn paid(member: MemberIx, day: &str, orders: u32, paid: i64, refunded: i64) -> OrderDay {
    OrderDay {
        member,
        day: d(day),
        orders,
        paid_minor: paid,
        refunded_minor: refunded,
    }
}

/// Five members, churn after 30 days:
/// 1 joined 5 Jan; active 5 Jan, 10 Feb (1 order, 100.00), 2 Mar (1 order, 50.00),
///   20 Mar (2 orders, 80.00 paid, 30.00 refunded);
/// 2 joined 20 Feb; active 20 Feb, 5 Mar (1 order, 200.00);
/// 3 joined 10 Mar; active that day only;
/// 4 joined 1 Jan; active that day only;
/// 5 joined 1 Dec 2025; active 1 Feb, when its only order (50.00) was fully refunded.
fn shop() -> (Vec<MemberRow>, Vec<OrderDay>, Vec<DayRow>) {
    let members = vec![
        member(1, "2026-01-05"),
        member(2, "2026-02-20"),
        member(3, "2026-03-10"),
        member(4, "2026-01-01"),
        member(5, "2025-12-01"),
    ];
    let orders = vec![
        paid(1, "2026-02-10", 1, 10_000, 0),
        paid(1, "2026-03-02", 1, 5_000, 0),
        paid(1, "2026-03-20", 2, 8_000, 3_000),
        paid(2, "2026-03-05", 1, 20_000, 0),
        paid(5, "2026-02-01", 0, 5_000, 5_000),
    ];
    let active = vec![
        act(1, "2026-01-05"),
        act(1, "2026-02-10"),
        act(1, "2026-03-02"),
        act(1, "2026-03-20"),
        act(2, "2026-02-20"),
        act(2, "2026-03-05"),
        act(3, "2026-03-10"),
        act(4, "2026-01-01"),
        act(5, "2026-02-01"),
    ];
    (members, orders, active)
}

fn run(interval: Grain) -> Overview {
    let (m, o, a) = shop();
    let q = OverviewQuery::new(d("2026-03-01"), d("2026-03-31"), interval, 30).expect("query");
    overview(&q, &m, &o, &a)
}

#[test]
fn march_against_the_31_days_before() {
    let o = run(Grain::Month);
    let c = &o.current;
    assert_eq!(
        (c.from.as_str(), c.to.as_str()),
        ("2026-03-01", "2026-03-31")
    );
    assert_eq!(
        c.figures,
        Figures {
            members_total: 5,
            new_members: 1,
            active_members: 3,
            paying_members: 2,
            orders: 4,
            revenue_minor: 30_000,
            aov_minor: Some(7_500),
            arpu_minor: Some(10_000),
            repurchase_rate: Some(0.5),
            // Member 5, silent since 1 Feb, churns on 3 Mar; of the 3 members not churned
            // on 28 Feb (1, 2, 5) and 1 new member.
            newly_churned: 1,
            churn_rate: Some(0.25),
        }
    );
    assert_eq!(
        c.activity,
        Activity {
            dau: 0.13, // 4 member-days / 31 days
            wau: 0,
            mau: 3,
            dau_orders: 0.1, // 3 / 31
            wau_orders: 0,
            mau_orders: 2,
        }
    );
    let p = &o.previous;
    assert_eq!(
        (p.from.as_str(), p.to.as_str()),
        ("2026-01-29", "2026-02-28")
    );
    assert_eq!(
        p.figures,
        Figures {
            members_total: 4,
            new_members: 1,
            active_members: 3,
            paying_members: 1,
            orders: 1,
            // The fully refunded order nets to zero and is not an order.
            revenue_minor: 10_000,
            aov_minor: Some(10_000),
            arpu_minor: Some(3_333),
            repurchase_rate: Some(0.0),
            // 4 on 31 Jan, 1 on 4 Feb (back on 10 Feb); of 1 and 4 on 28 Jan and new member 2.
            newly_churned: 2,
            churn_rate: Some(0.666667),
        }
    );
    assert_eq!(
        (p.activity.mau, p.activity.mau_orders, p.activity.dau),
        (3, 1, 0.1)
    );
    assert_eq!(o.series.len(), 1);
    assert_eq!(o.series[0].period, "2026-03");
    assert_eq!(o.series[0].figures, c.figures);
}

#[test]
fn weekly_series_cut_at_the_range() {
    let o = run(Grain::Week);
    let names: Vec<(&str, &str, &str)> = o
        .series
        .iter()
        .map(|b| (b.period.as_str(), b.from.as_str(), b.to.as_str()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("2026-W09", "2026-03-01", "2026-03-01"),
            ("2026-W10", "2026-03-02", "2026-03-08"),
            ("2026-W11", "2026-03-09", "2026-03-15"),
            ("2026-W12", "2026-03-16", "2026-03-22"),
            ("2026-W13", "2026-03-23", "2026-03-29"),
            ("2026-W14", "2026-03-30", "2026-03-31"),
        ]
    );
    let w10 = &o.series[1].figures;
    assert_eq!(
        (w10.active_members, w10.orders, w10.revenue_minor),
        (2, 2, 25_000)
    );
    assert_eq!((w10.newly_churned, w10.repurchase_rate), (1, Some(0.0)));
    let w12 = &o.series[3].figures;
    assert_eq!(
        (w12.orders, w12.revenue_minor, w12.repurchase_rate),
        (2, 5_000, Some(1.0))
    );
    assert_eq!(o.series[4].figures.aov_minor, None, "no order that week");
    let total: u64 = o.series.iter().map(|b| b.figures.orders).sum();
    assert_eq!(total, o.current.figures.orders);
}

#[test]
fn bad_ranges_are_refused() {
    assert!(OverviewQuery::new(d("2026-03-02"), d("2026-03-01"), Grain::Day, 30).is_err());
    assert!(OverviewQuery::new(d("2020-01-01"), d("2026-03-01"), Grain::Day, 30).is_err());
    assert!(OverviewQuery::new(d("2020-01-01"), d("2026-03-01"), Grain::Month, 30).is_ok());
}
