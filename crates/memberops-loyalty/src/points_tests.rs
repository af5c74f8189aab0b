use super::*;
use chrono::TimeZone;
use proptest::prelude::*;

const SH: Tz = chrono_tz::Asia::Shanghai;
const DAY: i64 = DAY_MS;

fn policy(shortfall: ShortfallPolicy) -> PointsPolicy {
    PointsPolicy {
        pending_days: 7,
        expiry: Expiry::AfterDays { days: 30 },
        shortfall,
    }
}

fn earning(lot: &str, points: i64, at: Millis, order: Option<&str>) -> Earning {
    Earning {
        lot_id: lot.into(),
        points,
        at,
        reference: format!("evt-{lot}"),
        order_id: order.map(str::to_owned),
    }
}

fn book(
    acc: &mut PointsAccount,
    ledger: &mut Vec<PointsEntry>,
    decide: impl FnOnce(&PointsAccount) -> Vec<PointsEntry>,
) {
    let entries = decide(acc);
    acc.apply(&entries).expect("apply");
    ledger.extend(entries);
}

#[test]
fn earned_points_are_pending_then_available_then_expire() {
    let p = policy(ShortfallPolicy::RecordDebt);
    let mut acc = PointsAccount::default();
    let mut ledger = Vec::new();
    book(&mut acc, &mut ledger, |a| {
        a.earn(&p, earning("l1", 100, 0, Some("o1")), SH)
            .expect("earn")
    });
    let b = acc.balance(&p, DAY);
    assert_eq!((b.total, b.available, b.pending), (100, 0, 100));
    assert_eq!(
        acc.spend(1, DAY, "x").map_err(|e| e.code()),
        Err("insufficient_points")
    );
    let b = acc.balance(&p, 7 * DAY);
    assert_eq!((b.available, b.pending), (100, 0));
    assert!(acc.expire(30 * DAY - 1).is_empty());
    let exp = acc.expire(30 * DAY);
    assert_eq!(exp.len(), 1);
    assert_eq!((exp[0].kind, exp[0].points), (EntryKind::Expire, -100));
    book(&mut acc, &mut ledger, |_| exp);
    assert_eq!(
        derive_balance(&ledger, &p, 30 * DAY).expect("derive").total,
        0
    );
}

#[test]
fn spending_takes_soonest_expiring_lots_first() {
    let p = PointsPolicy {
        pending_days: 0,
        ..policy(ShortfallPolicy::RecordDebt)
    };
    let mut acc = PointsAccount::default();
    let mut ledger = Vec::new();
    book(&mut acc, &mut ledger, |a| {
        a.earn(&p, earning("late", 50, 10 * DAY, None), SH)
            .expect("e")
    });
    book(&mut acc, &mut ledger, |a| {
        a.earn(&p, earning("early", 30, 0, None), SH).expect("e")
    });
    let spent = acc.spend(40, 11 * DAY, "order-9").expect("spend");
    let by_lot: Vec<_> = spent
        .iter()
        .map(|e| (e.lot_id.as_deref().unwrap_or(""), e.points))
        .collect();
    assert_eq!(by_lot, [("early", -30), ("late", -10)]);
    book(&mut acc, &mut ledger, |_| spent);
    assert_eq!(remaining_by_lot(&ledger).get("late"), Some(&40));
    assert_eq!(
        acc.spend(0, 11 * DAY, "x").map_err(|e| e.code()),
        Err("invalid_amount")
    );
}

#[test]
fn end_of_next_year_expiry_is_in_the_members_zone() {
    let p = PointsPolicy {
        expiry: Expiry::EndOfNextYear,
        ..PointsPolicy::default()
    };
    // 2025-12-31 20:00 UTC is already 2026-01-01 in Shanghai: expires at the start of 2028.
    let at = chrono::Utc
        .with_ymd_and_hms(2025, 12, 31, 20, 0, 0)
        .single()
        .expect("t")
        .timestamp_millis();
    let want = SH
        .with_ymd_and_hms(2028, 1, 1, 0, 0, 0)
        .single()
        .expect("t")
        .timestamp_millis();
    assert_eq!(p.expires_at(at, SH), Some(want));
    let utc_want = chrono::Utc
        .with_ymd_and_hms(2027, 1, 1, 0, 0, 0)
        .single()
        .expect("t")
        .timestamp_millis();
    assert_eq!(p.expires_at(at, chrono_tz::UTC), Some(utc_want));
}

#[test]
fn refund_takes_own_lot_then_others_then_debt() {
    for shortfall in [
        ShortfallPolicy::RecordDebt,
        ShortfallPolicy::NegativeBalance,
    ] {
        let p = PointsPolicy {
            pending_days: 0,
            ..policy(shortfall)
        };
        let mut acc = PointsAccount::default();
        let mut ledger = Vec::new();
        book(&mut acc, &mut ledger, |a| {
            a.earn(&p, earning("a", 100, 0, Some("o1")), SH).expect("e")
        });
        book(&mut acc, &mut ledger, |a| {
            a.earn(&p, earning("b", 20, 0, Some("o2")), SH).expect("e")
        });
        book(&mut acc, &mut ledger, |a| {
            a.spend(110, 1, "mall").expect("spend")
        });
        let rev = acc.reverse_order(&p, "o1", 100, 2, "refund-1");
        book(&mut acc, &mut ledger, |_| rev);
        assert_eq!(acc.debt, 90);
        let total = derive_balance(&ledger, &p, 2).expect("derive").total;
        match shortfall {
            ShortfallPolicy::RecordDebt => assert_eq!(total, 0),
            ShortfallPolicy::NegativeBalance => assert_eq!(total, -90),
        }
        // New points pay the debt first.
        book(&mut acc, &mut ledger, |a| {
            a.earn(&p, earning("c", 100, 3, None), SH).expect("e")
        });
        assert_eq!(acc.debt, 0);
        assert_eq!(derive_balance(&ledger, &p, 3).expect("derive").total, 10);
        assert_eq!(acc.balance(&p, 3).available, 10);
    }
}

#[test]
fn partial_refunds_never_reverse_more_than_earned() {
    let mut o = OrderEarning {
        paid_minor: 999,
        points_earned: 9,
        growth_earned: 9,
        ..OrderEarning::default()
    };
    let mut total = 0;
    for part in [333, 333, 333] {
        let r = refund_reversal(&o, part).expect("refund");
        o.refunded_minor += part;
        o.points_reversed += r.points;
        o.growth_reversed += r.growth;
        total += r.points;
    }
    assert_eq!(total, 9);
    assert_eq!(
        refund_reversal(&o, 1).map_err(|e| e.code()),
        Err("refund_exceeds_order")
    );
}

#[test]
fn awards_become_lots_that_point_back_to_their_event() {
    let program = crate::Program::default();
    let award = crate::rules::Award {
        rule_id: "spend".into(),
        event_id: "evt-9".into(),
        program_version: program.version,
        growth: 10,
        points: 15,
        capped: false,
        trial: None,
    };
    let input = Earning::from_award(&award, "lot-9", 0, Some("o9".into())).expect("points");
    let acc = PointsAccount::default();
    let e = acc.earn(&program.points, input, SH).expect("earn");
    assert_eq!((e[0].points, e[0].reference.as_str()), (15, "evt-9"));
    let none = crate::rules::Award { points: 0, ..award };
    assert_eq!(Earning::from_award(&none, "x", 0, None), None);
}

#[test]
fn adjustments_need_a_reason() {
    let p = policy(ShortfallPolicy::RecordDebt);
    let acc = PointsAccount::default();
    assert_eq!(
        acc.adjust(&p, earning("x", 10, 0, None), "  ", SH)
            .map_err(|e| e.code()),
        Err("reason_required")
    );
    let e = acc
        .adjust(&p, earning("x", 10, 0, None), "客服补偿", SH)
        .expect("adjust");
    assert_eq!(e[0].new_lot.as_ref().map(|t| t.available_at), Some(0));
    assert_eq!(
        acc.adjust(&p, earning("y", -1, 0, None), "fix", SH)
            .map_err(|e| e.code()),
        Err("insufficient_points")
    );
}

#[test]
fn expiring_soon_for_the_member_center() {
    let p = PointsPolicy {
        pending_days: 0,
        ..policy(ShortfallPolicy::RecordDebt)
    };
    let mut acc = PointsAccount::default();
    let mut ledger = Vec::new();
    book(&mut acc, &mut ledger, |a| {
        a.earn(&p, earning("a", 5, 0, None), SH).expect("e")
    });
    book(&mut acc, &mut ledger, |a| {
        a.earn(&p, earning("b", 7, 20 * DAY, None), SH).expect("e")
    });
    let (lots, total) = expiring_within(&acc.lots, 25 * DAY, 7);
    assert_eq!((lots.len(), total), (1, 5));
    let (_, total) = expiring_within(&acc.lots, 25 * DAY, 30);
    assert_eq!(total, 12);
}

#[derive(Debug, Clone)]
enum Op {
    Earn { points: i64, order: u8 },
    Spend(i64),
    Expire,
    Refund { order: u8, minor: i64 },
    Adjust(i64),
    Wait(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1i64..500, 0u8..4).prop_map(|(points, order)| Op::Earn { points, order }),
        (1i64..600).prop_map(Op::Spend),
        Just(Op::Expire),
        (0u8..4, 1i64..6_000).prop_map(|(order, minor)| Op::Refund { order, minor }),
        (-300i64..300).prop_map(Op::Adjust),
        (0i64..20 * DAY).prop_map(Op::Wait),
    ]
}

fn check_invariants(
    p: &PointsPolicy,
    acc: &PointsAccount,
    ledger: &[PointsEntry],
    at: Millis,
) -> Result<(), TestCaseError> {
    let replayed = replay(ledger).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&replayed, acc);
    let derived = derive_balance(ledger, p, at).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let lots: i64 = acc.lots.iter().map(|l| l.remaining).sum();
    let charged = match p.shortfall {
        ShortfallPolicy::NegativeBalance => acc.debt,
        ShortfallPolicy::RecordDebt => 0,
    };
    prop_assert_eq!(derived.total, lots - charged);
    prop_assert_eq!(derived.total, acc.balance_total(p));
    prop_assert!(acc.debt >= 0);
    for l in &acc.lots {
        prop_assert!(0 <= l.remaining && l.remaining <= l.original);
    }
    // Debt only exists once every unexpired lot was drained, and new points settle it first.
    if acc.debt > 0 {
        prop_assert!(
            acc.lots
                .iter()
                .all(|l| l.remaining == 0 || l.is_expired(at))
        );
    }
    if p.shortfall == ShortfallPolicy::RecordDebt {
        prop_assert!(derived.total >= 0);
    }
    Ok(())
}

fn run(ops: Vec<Op>, shortfall: ShortfallPolicy) -> Result<(), TestCaseError> {
    let p = policy(shortfall);
    let mut acc = PointsAccount::default();
    let mut ledger: Vec<PointsEntry> = Vec::new();
    let mut orders = [OrderEarning::default(); 4];
    let mut at: Millis = 0;
    for (i, op) in ops.into_iter().enumerate() {
        at += 1;
        let lot = format!("lot-{i}");
        let before = acc.clone();
        let decided: Result<Vec<PointsEntry>, LoyaltyError> = match op {
            Op::Earn { points, order } => {
                let oid = format!("o{order}");
                let o = &mut orders[usize::from(order)];
                // Each earn is a payment of 100 minor units per point on that order.
                o.paid_minor += points * 100;
                o.points_earned += points;
                acc.earn(&p, earning(&lot, points, at, Some(&oid)), SH)
            }
            Op::Spend(n) => {
                let avail = acc.balance(&p, at).available;
                let r = acc.spend(n, at, "spend");
                if n > avail {
                    let refused = matches!(r, Err(LoyaltyError::InsufficientPoints { .. }));
                    prop_assert!(refused, "overspend accepted");
                }
                r
            }
            Op::Expire => Ok(acc.expire(at)),
            Op::Refund { order, minor } => {
                let o = &mut orders[usize::from(order)];
                match refund_reversal(o, minor) {
                    Ok(r) => {
                        o.refunded_minor += minor;
                        o.points_reversed += r.points;
                        prop_assert!(o.points_reversed <= o.points_earned);
                        Ok(acc.reverse_order(&p, &format!("o{order}"), r.points, at, "refund"))
                    }
                    Err(e) => Err(e),
                }
            }
            Op::Adjust(n) => acc.adjust(&p, earning(&lot, n, at, None), "ops", SH),
            Op::Wait(ms) => {
                at += ms;
                Ok(Vec::new())
            }
        };
        match decided {
            Ok(entries) => book(&mut acc, &mut ledger, |_| entries),
            // A refused operation changes nothing.
            Err(_) => prop_assert_eq!(&acc, &before),
        }
        check_invariants(&p, &acc, &ledger, at)?;
    }
    Ok(())
}

proptest! {
    #[test]
    fn ledger_invariants_hold_with_debt(ops in prop::collection::vec(op(), 1..80)) {
        run(ops, ShortfallPolicy::RecordDebt)?;
    }

    #[test]
    fn ledger_invariants_hold_with_negative_balance(ops in prop::collection::vec(op(), 1..80)) {
        run(ops, ShortfallPolicy::NegativeBalance)?;
    }

    #[test]
    fn cumulative_partial_refunds_sum_to_at_most_earned(
        paid in 1i64..1_000_000,
        earned in 0i64..100_000,
        cuts in prop::collection::vec(1i64..1_000_000, 1..10),
    ) {
        let mut o = OrderEarning { paid_minor: paid, points_earned: earned, growth_earned: earned, ..OrderEarning::default() };
        for c in cuts {
            let c = c.min(o.paid_minor - o.refunded_minor);
            if c == 0 { break; }
            let r = refund_reversal(&o, c).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(r.points >= 0 && r.growth >= 0);
            o.refunded_minor += c;
            o.points_reversed += r.points;
            o.growth_reversed += r.growth;
            prop_assert!(o.points_reversed <= earned);
        }
        if o.refunded_minor == paid {
            prop_assert_eq!(o.points_reversed, earned);
        }
    }
}
