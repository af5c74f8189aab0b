//! A journey's input checked and parsed into what the runner executes. Every problem is a
//! field error naming the step and field (`["body", "steps", "<id>", "<field>"]`).

use std::collections::HashMap;

use chrono::NaiveTime;
use memberops_campaigns::journey::{self, Entry, Experiment, Node, PropCond, PropOp, Wait};
use memberops_campaigns::rules::Window;
use memberops_campaigns::spec::{self as cspec, Goal, Message};
use memberops_campaigns::template::{self, Vars};
use memberops_campaigns::{Channel, spec::Variant};
use memberops_core::Invalid;
use memberops_core::error::{Collector, FieldError};
use memberops_segments::tree::Node as Tree;

use super::dto::{JourneyIn, StepIn, TriggerIn};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateAttr {
    Birthday,
    RegisteredAt,
    FirstOrderAt,
}

#[derive(Debug, Clone)]
pub enum Trigger {
    Event {
        event_type: String,
        conditions: Vec<PropCond>,
    },
    Date {
        attribute: DateAttr,
        offset_days: i64,
    },
    PointsExpiring {
        within_days: i64,
    },
    Schedule {
        day_of_month: u32,
    },
    /// Entering (or leaving) the trigger's saved segment, seen by the daily job.
    Segment {
        exit: bool,
    },
}

impl Trigger {
    pub fn kind(&self) -> &'static str {
        match self {
            Trigger::Event { .. } => "event",
            Trigger::Date { .. } => "date",
            Trigger::PointsExpiring { .. } => "points_expiring",
            Trigger::Schedule { .. } => "schedule",
            Trigger::Segment { exit: false } => "segment_entry",
            Trigger::Segment { exit: true } => "segment_exit",
        }
    }
}

#[derive(Debug, Clone)]
pub enum WaitFor {
    Time(Wait),
    /// An event of this type, at most `timeout_ms`.
    Event {
        event_type: String,
        timeout_ms: i64,
        timeout_next: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub enum Action {
    Send(Box<Message>),
    Coupon {
        template_id: Option<String>,
        pack_id: Option<String>,
    },
    Points(i64),
    Tag {
        add: Option<String>,
        remove: Option<String>,
    },
    Task {
        title: String,
        note: String,
        assignee: Option<String>,
        pool: Option<String>,
        window: Window,
        days: i64,
    },
    Wait(WaitFor),
    Branch {
        condition: Box<Tree>,
        yes: Option<String>,
        no: Option<String>,
    },
    Split(Vec<(u32, String)>),
    Exit,
}

#[derive(Debug, Clone)]
pub struct Step {
    pub action: Action,
    pub next: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Parsed {
    pub trigger: Trigger,
    /// Local time members of date triggers enter at.
    pub at: NaiveTime,
    pub segment_id: Option<String>,
    pub entry: Entry,
    pub goal: Option<Goal>,
    pub start: String,
    pub steps: HashMap<String, Step>,
    pub experiment: Option<Experiment>,
}

impl Parsed {
    /// Coupon templates and packs the steps name (checked to exist by the caller), with
    /// the step ids.
    pub fn coupon_refs(&self) -> Vec<(&str, Option<&str>, Option<&str>)> {
        self.steps
            .iter()
            .filter_map(|(id, s)| match &s.action {
                Action::Coupon {
                    template_id,
                    pack_id,
                } => Some((id.as_str(), template_id.as_deref(), pack_id.as_deref())),
                _ => None,
            })
            .collect()
    }
}

fn at(step: &str, field: &str, code: &str, msg: impl Into<String>) -> FieldError {
    FieldError::new(&["body", "steps", step, field], code, msg)
}

fn trig(field: &str, code: &str, msg: impl Into<String>) -> FieldError {
    FieldError::new(&["body", "trigger", field], code, msg)
}

fn time_of_day(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M").ok()
}

fn trigger(t: &TriggerIn, c: &mut Collector) -> Trigger {
    let need = |v: Option<i64>, field: &str, lo: i64, hi: i64, c: &mut Collector| match v {
        Some(n) if (lo..=hi).contains(&n) => n,
        Some(_) => {
            c.push(trig(field, "out_of_range", format!("{field} is {lo}–{hi}")));
            lo
        }
        None => {
            c.push(trig(
                field,
                "required",
                format!("this trigger needs `{field}`"),
            ));
            lo
        }
    };
    match t.kind.as_str() {
        "event" => {
            let event_type = t.event_type.clone().unwrap_or_default();
            if event_type.trim().is_empty() {
                c.push(trig(
                    "event_type",
                    "required",
                    "the event type that triggers",
                ));
            }
            let mut conditions = Vec::new();
            for (i, p) in t.conditions.iter().enumerate() {
                let i = i.to_string();
                match PropOp::parse(&p.op) {
                    Some(op) => conditions.push(PropCond {
                        property: p.property.clone(),
                        op,
                        value: p.value.clone(),
                    }),
                    None => c.push(FieldError::new(
                        &["body", "trigger", "conditions", &i, "op"],
                        "invalid_op",
                        format!("op is one of {}", PropOp::NAMES),
                    )),
                }
            }
            Trigger::Event {
                event_type: event_type.trim().to_owned(),
                conditions,
            }
        }
        "date" => {
            let attribute = match t.attribute.as_deref() {
                Some("birthday") => DateAttr::Birthday,
                Some("registered_at") => DateAttr::RegisteredAt,
                Some("first_order_at") => DateAttr::FirstOrderAt,
                _ => {
                    c.push(trig(
                        "attribute",
                        "invalid_attribute",
                        "birthday, registered_at or first_order_at",
                    ));
                    DateAttr::Birthday
                }
            };
            let offset_days = t.offset_days.unwrap_or(0);
            if !(0..=3660).contains(&offset_days) {
                c.push(trig("offset_days", "out_of_range", "offset_days is 0–3660"));
            }
            Trigger::Date {
                attribute,
                offset_days,
            }
        }
        "points_expiring" => Trigger::PointsExpiring {
            within_days: need(t.within_days, "within_days", 1, 365, c),
        },
        "schedule" => Trigger::Schedule {
            day_of_month: u32::try_from(need(t.day_of_month, "day_of_month", 1, 28, c))
                .unwrap_or(1),
        },
        k @ ("segment_entry" | "segment_exit") => {
            if t.segment_id.is_none() {
                c.push(trig(
                    "segment_id",
                    "required",
                    "the segment members enter or leave",
                ));
            }
            Trigger::Segment {
                exit: k == "segment_exit",
            }
        }
        _ => {
            c.push(trig(
                "kind",
                "invalid_trigger",
                "kind is event, date, points_expiring, schedule, segment_entry or segment_exit",
            ));
            Trigger::Schedule { day_of_month: 1 }
        }
    }
}

fn duration_ms(s: &StepIn) -> Option<i64> {
    if s.days.is_none() && s.hours.is_none() && s.minutes.is_none() {
        return None;
    }
    let d = s.days.unwrap_or(0).clamp(0, 3660);
    let h = s.hours.unwrap_or(0).clamp(0, 24 * 3660);
    let m = s.minutes.unwrap_or(0).clamp(0, 60 * 24 * 3660);
    Some(((d * 24 + h) * 60 + m) * 60_000)
}

/// Checks that a message's templates render for a sample member: a misspelt variable is
/// refused here rather than when the first member reaches the step.
fn message(id: &str, s: &StepIn, c: &mut Collector) -> Message {
    let fallback = Message {
        channel: Channel::Inapp,
        default: Variant {
            subject: String::new(),
            body: String::new(),
        },
        locales: Default::default(),
        transactional: false,
    };
    let Some(m) = &s.message else {
        c.push(at(id, "message", "required", "a send step needs a message"));
        return fallback;
    };
    let path = ["body", "steps", id, "message"];
    let ch = cspec::channel(&m.channel, &["body", "steps", id, "message", "channel"], c);
    if ch == Some(Channel::Call) {
        c.push(FieldError::new(
            &["body", "steps", id, "message", "channel"],
            "invalid_channel",
            "calls are staff tasks: use a call_task step",
        ));
    }
    let default = cspec::variant(ch, m.subject.as_deref(), &m.body, &path, c);
    let mut locales = std::collections::BTreeMap::new();
    for (l, v) in &m.locales {
        let p = ["body", "steps", id, "message", "locales", l.as_str()];
        cspec::locale(l, &p, c);
        locales.insert(
            l.clone(),
            cspec::variant(ch, v.subject.as_deref(), &v.body, &p, c),
        );
    }
    let sample = Vars::default();
    let mut renders = |v: &Variant, p: &[&str]| {
        for (leaf, src) in [("subject", &v.subject), ("body", &v.body)] {
            if template::check(src).is_ok()
                && let Err(e) = template::render(src, &sample)
            {
                let mut loc = p.to_vec();
                loc.push(leaf);
                c.push(FieldError::new(&loc, "template_error", e.msg));
            }
        }
    };
    renders(&default, &path);
    for (l, v) in &locales {
        renders(v, &["body", "steps", id, "message", "locales", l.as_str()]);
    }
    Message {
        channel: ch.unwrap_or(Channel::Inapp),
        default,
        locales,
        transactional: m.transactional,
    }
}

fn action(s: &StepIn, c: &mut Collector) -> Action {
    let id = s.id.as_str();
    match s.kind.as_str() {
        "send" => Action::Send(Box::new(message(id, s, c))),
        "coupon" => {
            if s.template_id.is_some() == s.pack_id.is_some() {
                c.push(at(
                    id,
                    "template_id",
                    "one_required",
                    "give exactly one of template_id and pack_id",
                ));
            }
            Action::Coupon {
                template_id: s.template_id.clone(),
                pack_id: s.pack_id.clone(),
            }
        }
        "points" => {
            let p = s.points.unwrap_or(0);
            if !(1..=10_000_000).contains(&p) {
                c.push(at(id, "points", "out_of_range", "points is 1–10,000,000"));
            }
            Action::Points(p)
        }
        "tag" => {
            if s.add_tag.is_none() && s.remove_tag.is_none() {
                c.push(at(id, "add_tag", "required", "give add_tag or remove_tag"));
            }
            Action::Tag {
                add: s.add_tag.clone(),
                remove: s.remove_tag.clone(),
            }
        }
        "call_task" => {
            let title = s.title.clone().unwrap_or_default();
            if title.trim().is_empty() || title.chars().count() > 200 {
                c.push(at(
                    id,
                    "title",
                    "invalid_title",
                    "a title of 1–200 characters",
                ));
            }
            if s.assignee.is_none() && s.pool.is_none() {
                c.push(at(id, "pool", "required", "give an assignee or a pool"));
            }
            let w = s.window.as_deref().unwrap_or("11:00-17:00");
            let window = Window::parse(w)
                .filter(|w| w.start < w.end)
                .unwrap_or_else(|| {
                    c.push(at(
                        id,
                        "window",
                        "invalid_window",
                        "HH:MM-HH:MM within one day",
                    ));
                    Window {
                        start: NaiveTime::MIN,
                        end: NaiveTime::MIN,
                    }
                });
            Action::Task {
                title: title.trim().to_owned(),
                note: s.note.clone().unwrap_or_default(),
                assignee: s.assignee.clone(),
                pool: s.pool.clone(),
                window,
                days: s.days.unwrap_or(0).clamp(0, 365),
            }
        }
        "wait" => {
            let dur = duration_ms(s);
            match (&s.event_type, &s.until_time, dur) {
                (Some(ev), None, Some(ms)) if ms > 0 => Action::Wait(WaitFor::Event {
                    event_type: ev.trim().to_owned(),
                    timeout_ms: ms,
                    timeout_next: s.timeout_next.clone(),
                }),
                (Some(_), _, _) => {
                    c.push(at(
                        id,
                        "days",
                        "required",
                        "a wait for an event needs its timeout (days, hours or minutes)",
                    ));
                    Action::Exit
                }
                (None, Some(t), None) => match time_of_day(t) {
                    Some(at) => Action::Wait(WaitFor::Time(Wait::UntilTime { at })),
                    None => {
                        c.push(at(id, "until_time", "invalid_time", "HH:MM"));
                        Action::Exit
                    }
                },
                (None, None, Some(ms)) if ms > 0 => Action::Wait(WaitFor::Time(Wait::For { ms })),
                _ => {
                    c.push(at(
                        id,
                        "days",
                        "required",
                        "a wait needs a duration (days, hours, minutes), until_time, or event_type",
                    ));
                    Action::Exit
                }
            }
        }
        "branch" => {
            let condition = match &s.condition {
                Some(v) => {
                    let prefix = format!("steps.{id}.condition");
                    match Tree::from_json_at(v, &prefix) {
                        Ok(n) => n,
                        Err(e) => {
                            c.push(at(id, "condition", "invalid_condition", e.to_string()));
                            Tree::All(Vec::new())
                        }
                    }
                }
                None => {
                    c.push(at(
                        id,
                        "condition",
                        "required",
                        "a branch needs a condition",
                    ));
                    Tree::All(Vec::new())
                }
            };
            Action::Branch {
                condition: Box::new(condition),
                yes: s.yes.clone(),
                no: s.no.clone(),
            }
        }
        "split" => {
            let branches = s.branches.clone().unwrap_or_default();
            let total: i64 = branches.iter().map(|b| b.percent).sum();
            if branches.len() < 2 || total != 100 || branches.iter().any(|b| b.percent < 0) {
                c.push(at(
                    id,
                    "branches",
                    "invalid_split",
                    "two or more branches whose percents add up to 100",
                ));
            }
            Action::Split(
                branches
                    .into_iter()
                    .map(|b| (u32::try_from(b.percent).unwrap_or(0), b.next))
                    .collect(),
            )
        }
        "exit" => Action::Exit,
        _ => {
            c.push(at(
                id,
                "type",
                "invalid_step",
                "type is send, coupon, points, tag, call_task, wait, branch, split or exit",
            ));
            Action::Exit
        }
    }
}

/// The edges of a step for the graph check.
fn edges<'a>(s: &'a StepIn, a: &'a Action) -> Vec<(&'a str, &'a str)> {
    let mut e: Vec<(&str, &str)> = Vec::new();
    if let Some(n) = &s.next {
        e.push(("next", n));
    }
    match a {
        Action::Wait(WaitFor::Event {
            timeout_next: Some(t),
            ..
        }) => e.push(("timeout_next", t)),
        Action::Branch { yes, no, .. } => {
            e.extend(yes.as_deref().map(|y| ("yes", y)));
            e.extend(no.as_deref().map(|n| ("no", n)));
        }
        Action::Split(bs) => e.extend(bs.iter().map(|(_, n)| ("branches", n.as_str()))),
        _ => {}
    }
    e
}

pub fn parse(j: &JourneyIn) -> Result<Parsed, Invalid> {
    let mut c = Collector::default();
    if j.name.trim().is_empty() || j.name.chars().count() > 200 {
        c.push(FieldError::new(
            &["body", "name"],
            "invalid_name",
            "a name of 1–200 characters",
        ));
    }
    let trigger = trigger(&j.trigger, &mut c);
    let at_time = match &j.trigger.at {
        Some(t) => time_of_day(t).unwrap_or_else(|| {
            c.push(trig("at", "invalid_time", "HH:MM"));
            NaiveTime::MIN
        }),
        None => NaiveTime::from_hms_opt(10, 0, 0).unwrap_or(NaiveTime::MIN),
    };
    let entry = match &j.entry {
        None => Entry::Once,
        Some(e) => match (e.mode.as_str(), e.days) {
            ("once", _) => Entry::Once,
            ("every_time", _) => Entry::EveryTime,
            ("once_per", Some(d)) if (1..=3660).contains(&d) => Entry::OncePer {
                days: u32::try_from(d).unwrap_or(1),
            },
            ("once_per", _) => {
                c.push(FieldError::new(
                    &["body", "entry", "days"],
                    "out_of_range",
                    "once_per needs days 1–3660",
                ));
                Entry::Once
            }
            _ => {
                c.push(FieldError::new(
                    &["body", "entry", "mode"],
                    "invalid_entry",
                    "mode is once, once_per or every_time",
                ));
                Entry::Once
            }
        },
    };
    let goal = j
        .goal
        .as_ref()
        .map(|g| cspec::goal(&g.event_type, g.within_days, &["body", "goal"], &mut c));
    if j.steps.is_empty() || j.steps.len() > 200 {
        c.push(FieldError::new(
            &["body", "steps"],
            "out_of_range",
            "1–200 steps",
        ));
    }
    let mut steps = HashMap::new();
    let actions: Vec<Action> = j.steps.iter().map(|s| action(s, &mut c)).collect();
    for (s, a) in j.steps.iter().zip(&actions) {
        if s.id.trim().is_empty() || s.id.len() > 64 {
            c.push(FieldError::new(
                &["body", "steps", &s.id, "id"],
                "invalid_id",
                "a step id of 1–64 characters",
            ));
        }
        if matches!(a, Action::Exit) && s.next.is_some() && s.kind == "exit" {
            c.push(at(
                &s.id,
                "next",
                "invalid_next",
                "an exit step has no next",
            ));
        }
        steps.insert(
            s.id.clone(),
            Step {
                action: a.clone(),
                next: s.next.clone(),
            },
        );
    }
    let experiment = j.experiment.as_ref().map(|e| {
        let total: i64 = e.variants.iter().map(|v| v.percent).sum::<i64>() + e.holdout_percent;
        if e.variants.is_empty()
            || total != 100
            || !(0..=90).contains(&e.holdout_percent)
            || e.variants.iter().any(|v| v.percent < 1)
        {
            c.push(FieldError::new(
                &["body", "experiment", "variants"],
                "invalid_split",
                "variants (1% or more each) and holdout_percent (0–90) add up to 100",
            ));
        }
        Experiment {
            variants: e
                .variants
                .iter()
                .map(|v| {
                    (
                        v.name.clone(),
                        u32::try_from(v.percent).unwrap_or(0),
                        v.start.clone(),
                    )
                })
                .collect(),
            holdout_percent: u32::try_from(e.holdout_percent).unwrap_or(0),
        }
    });
    // The graph: from the start, and from each variant's start.
    let mut nodes: Vec<Node<'_>> = j
        .steps
        .iter()
        .zip(&actions)
        .map(|(s, a)| Node {
            id: &s.id,
            waits: matches!(a, Action::Wait(_)),
            edges: edges(s, a),
        })
        .collect();
    const ROOT: &str = "\u{0}start";
    if let Some(e) = &j.experiment {
        let mut root = Node {
            id: ROOT,
            waits: false,
            edges: vec![("start", j.start.as_str())],
        };
        root.edges
            .extend(e.variants.iter().map(|v| ("experiment", v.start.as_str())));
        nodes.push(root);
        for mut err in journey::check_graph(ROOT, &nodes) {
            // The experiment's starts are fields of the body, not of a step.
            if err.loc.get(2).map(String::as_str) == Some(ROOT) {
                err.loc = vec!["body".into(), err.loc.get(3).cloned().unwrap_or_default()];
            }
            c.push(err);
        }
    } else {
        for err in journey::check_graph(&j.start, &nodes) {
            c.push(err);
        }
    }
    c.finish()?;
    Ok(Parsed {
        trigger,
        at: at_time,
        segment_id: j.trigger.segment_id.clone(),
        entry,
        goal,
        start: j.start.clone(),
        steps,
        experiment,
    })
}
