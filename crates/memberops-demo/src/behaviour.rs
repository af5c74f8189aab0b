//! How members behave: each one is acquired through a channel, has a spend persona (a
//! Pareto "whale" factor), an engagement level and a churn date; until that date they
//! browse, check in, buy (more around 11.11, 6.18, Chinese New Year and December), refund,
//! review and share. Lifecycle stages are not assigned — they fall out of this timeline.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde_json::{Map, Value, json};

use crate::calendar::{self, MAX_WEIGHT};
use crate::profile::{self, CATEGORIES};
use crate::sample::{self, DemoRng};

/// An acquisition channel and what members from it tend to do.
pub struct Channel {
    pub name: &'static str,
    /// Share of sign-ups.
    weight: f64,
    /// Probability that a member leaves within days of signing up.
    bounce: f64,
    /// Mean active life of those who stay, in days.
    lifetime_days: f64,
    /// Factor on purchase frequency.
    buy: f64,
}

pub const CHANNELS: &[Channel] = &[
    // Paid short-video ads: cheap volume, low intent.
    Channel {
        name: "douyin",
        weight: 30.0,
        bounce: 0.24,
        lifetime_days: 800.0,
        buy: 0.75,
    },
    Channel {
        name: "wechat",
        weight: 22.0,
        bounce: 0.10,
        lifetime_days: 1550.0,
        buy: 1.0,
    },
    Channel {
        name: "app_store",
        weight: 14.0,
        bounce: 0.14,
        lifetime_days: 1250.0,
        buy: 1.0,
    },
    Channel {
        name: "xiaohongshu",
        weight: 12.0,
        bounce: 0.20,
        lifetime_days: 1000.0,
        buy: 0.9,
    },
    // Signed up at the till: they already buy.
    Channel {
        name: "store",
        weight: 12.0,
        bounce: 0.06,
        lifetime_days: 2150.0,
        buy: 1.3,
    },
    // Invited by a friend: few, loyal.
    Channel {
        name: "referral",
        weight: 5.0,
        bounce: 0.03,
        lifetime_days: 2800.0,
        buy: 1.2,
    },
    Channel {
        name: "offline_event",
        weight: 5.0,
        bounce: 0.14,
        lifetime_days: 1400.0,
        buy: 1.0,
    },
];

/// The hidden traits of a member that drive the simulation.
pub struct Persona {
    pub channel: &'static Channel,
    /// Pareto spend factor: 1 for most, tens for the whales.
    pub whale: f64,
    /// Log-normal around 1: how often they open the app.
    pub engagement: f64,
    /// Leaves within days of signing up.
    pub bouncer: bool,
    /// Will buy at all.
    pub buyer: bool,
    /// Likes the daily check-in.
    pub checks_in: bool,
}

pub fn persona(rng: &mut DemoRng) -> Persona {
    let channel = sample::weighted(rng, CHANNELS, |c| c.weight);
    let whale = sample::pareto(rng, 1.0, 1.5).min(60.0);
    let engagement = sample::lognormal(rng, 1.0, 0.6);
    let bouncer = sample::chance(rng, channel.bounce);
    let buyer = if channel.name == "store" {
        sample::chance(rng, 0.95) // signed up at the till, while paying
    } else if bouncer {
        sample::chance(rng, 0.3) // the new-member gift pack converts some
    } else {
        sample::chance(rng, 0.75)
    };
    let checks_in = !bouncer
        && sample::chance(
            rng,
            if channel.name == "app_store" {
                0.4
            } else {
                0.22
            },
        );
    Persona {
        channel,
        whale,
        engagement,
        bouncer,
        buyer,
        checks_in,
    }
}

/// Sign-ups over the three years before `today`, growing over time, busier on sales days.
pub fn registration_day(rng: &mut DemoRng, today: NaiveDate) -> NaiveDate {
    const SPAN: f64 = 1095.0;
    const GROWTH: f64 = 1.9; // e^1.9 ≈ 6.7× more sign-ups per day now than three years ago
    let max = 1.0 + (MAX_WEIGHT - 1.0) * 0.4;
    let mut day = today;
    for _ in 0..64 {
        let u = sample::uniform(rng, 0.0, 1.0);
        let t = (1.0 + u * (GROWTH.exp() - 1.0)).ln() / GROWTH; // 0 = three years ago
        let back = ((1.0 - t) * SPAN).floor() as i64;
        day = today - Duration::days(back);
        if sample::chance(rng, calendar::signup_weight(day) / max) {
            break;
        }
    }
    day
}

/// The registration instant on `day`, never after `bound`.
pub fn registration_time(
    rng: &mut DemoRng,
    tz: Tz,
    day: NaiveDate,
    bound: DateTime<Utc>,
) -> DateTime<Utc> {
    for _ in 0..8 {
        let t = calendar::moment_on(rng, tz, day);
        if t <= bound {
            return t;
        }
    }
    bound - Duration::minutes(sample::int(rng, 30, 600))
}

/// An event before ids are given: `at` decides the order.
pub struct Raw {
    pub at: DateTime<Utc>,
    pub kind: &'static str,
    pub properties: Map<String, Value>,
}

/// One member's life between sign-up and churn (or today).
pub struct Sim<'a> {
    rng: &'a mut DemoRng,
    persona: &'a Persona,
    tz: Tz,
    reg: DateTime<Utc>,
    /// Last moment of activity: the churn date or the end of today.
    end: DateTime<Utc>,
    /// End of today: nothing may happen after it.
    bound: DateTime<Utc>,
    /// `{seed}-{index}`: makes order ids unique across members and data sets.
    key: String,
    preferred_category: &'static str,
    orders: u32,
    events: Vec<Raw>,
}

pub struct SimInput<'a> {
    pub persona: &'a Persona,
    pub tz: Tz,
    pub registered_at: DateTime<Utc>,
    pub bound: DateTime<Utc>,
    pub key: String,
    pub preferred_category: &'static str,
}

/// Everything a member does after registering, in no particular order.
pub fn simulate(rng: &mut DemoRng, input: SimInput<'_>) -> Vec<Raw> {
    let persona = input.persona;
    let life_days = if persona.bouncer {
        sample::exponential(rng, 5.0).min(30.0)
    } else {
        20.0 + sample::exponential(
            rng,
            persona.channel.lifetime_days * persona.engagement.sqrt(),
        )
    };
    let churn = input.registered_at + Duration::seconds((life_days * 86_400.0) as i64);
    let mut sim = Sim {
        rng,
        persona,
        tz: input.tz,
        reg: input.registered_at,
        end: churn.min(input.bound),
        bound: input.bound,
        key: input.key,
        preferred_category: input.preferred_category,
        orders: 0,
        events: Vec::new(),
    };
    sim.first_session();
    sim.purchases();
    if !persona.bouncer {
        sim.browsing();
        if persona.checks_in {
            sim.checkins();
        }
        sim.referrals();
    }
    sim.events
}

fn minutes(m: f64) -> Duration {
    Duration::seconds((m * 60.0) as i64)
}

impl Sim<'_> {
    fn push(&mut self, at: DateTime<Utc>, kind: &'static str, properties: Map<String, Value>) {
        if at > self.reg && at <= self.bound {
            self.events.push(Raw {
                at,
                kind,
                properties,
            });
        }
    }

    fn active(&self, at: DateTime<Utc>) -> bool {
        at > self.reg && at <= self.end
    }

    /// A moment on the member's local day `d`, after registration.
    fn moment_on(&mut self, d: NaiveDate) -> DateTime<Utc> {
        let t = calendar::moment_on(self.rng, self.tz, d);
        if t <= self.reg {
            self.reg + minutes(sample::uniform(self.rng, 10.0, 240.0))
        } else {
            t
        }
    }

    /// Days of a Poisson process of `rate` per day between registration and the end of
    /// activity, thinned by the shopping calendar when `seasonal`.
    fn poisson_days(&mut self, start: DateTime<Utc>, rate: f64, seasonal: bool) -> Vec<NaiveDate> {
        let mut days = Vec::new();
        if rate <= 0.0 {
            return days;
        }
        let ceiling = if seasonal { MAX_WEIGHT } else { 1.0 };
        let mut t = start;
        loop {
            let gap = sample::exponential(self.rng, 1.0 / (rate * ceiling));
            t += Duration::seconds((gap * 86_400.0) as i64);
            if t > self.end {
                break;
            }
            let d = calendar::local_day(self.tz, t);
            if !seasonal || sample::chance(self.rng, calendar::shopping_weight(d) / ceiling) {
                days.push(d);
            }
        }
        days
    }

    fn sku(&mut self, category: &str) -> String {
        let c = CATEGORIES.iter().position(|c| *c == category).unwrap_or(8) + 1;
        format!("SKU-{c}{:04}", sample::int(self.rng, 1, 480))
    }

    fn view(&mut self, at: DateTime<Utc>, category: &str) {
        let sku = self.sku(category);
        self.push(
            at,
            "product.viewed",
            props(json!({"sku": sku, "category": category})),
        );
    }

    /// Most new members look around right after signing up, and many finish the profile
    /// for the points it pays.
    fn first_session(&mut self) {
        if sample::chance(self.rng, 0.8) {
            let mut at = self.reg + minutes(sample::uniform(self.rng, 1.0, 20.0));
            for _ in 0..sample::int(self.rng, 1, 3) {
                let c = self.category(at);
                self.view(at, c);
                at += minutes(sample::uniform(self.rng, 0.5, 6.0));
            }
        }
        let p = if self.persona.bouncer { 0.35 } else { 0.7 };
        if sample::chance(self.rng, p) {
            let at = self.reg + minutes(sample::exponential(self.rng, 1.5 * 24.0 * 60.0) + 3.0);
            if self.active(at) {
                self.push(
                    at,
                    "profile.completed",
                    props(json!({"completeness": 100, "reward_points": 100})),
                );
            }
        }
    }

    fn category(&mut self, at: DateTime<Utc>) -> &'static str {
        let day = calendar::local_day(self.tz, at);
        let to_cny = calendar::days_to_spring_festival(day);
        if (-25..=-5).contains(&to_cny) && sample::chance(self.rng, 0.35) {
            return "年货礼盒";
        }
        if sample::chance(self.rng, 0.55) {
            return self.preferred_category;
        }
        let any: &&'static str = sample::one_of(self.rng, CATEGORIES);
        any
    }

    fn purchases(&mut self) {
        let p = self.persona;
        if !p.buyer {
            return;
        }
        if p.channel.name == "store" {
            // Joined at the till: the first order is the one being paid for.
            let at = self.reg + minutes(sample::uniform(self.rng, 1.0, 12.0));
            if self.active(at) {
                self.order(at, Some("store"));
            }
            if p.bouncer {
                return;
            }
        } else if p.bouncer {
            let window = (self.end - self.reg).num_minutes().max(30) as f64;
            let at = self.reg + minutes(sample::uniform(self.rng, 15.0, window));
            if self.active(at) {
                self.order(at, None);
            }
            return;
        }
        // Whales buy sooner and more often; everyone buys more around the big sales.
        let delay_days = sample::exponential(self.rng, 25.0 / p.whale.powf(0.3));
        let first_day = calendar::local_day(self.tz, self.reg + minutes(delay_days * 1440.0));
        let first = self.moment_on(first_day);
        if !self.active(first) {
            return;
        }
        self.order(first, None);
        let rate = p.channel.buy * p.whale.sqrt() * sample::lognormal(self.rng, 1.0, 0.5) / 240.0;
        for day in self.poisson_days(first, rate, true) {
            let at = self.moment_on(day);
            if self.active(at) {
                self.order(at, None);
            }
        }
    }

    /// A paid order at `at`, with the views and cart add that led to it and what may
    /// follow: a refund, a review, a share. `channel` None: the member's usual mix.
    fn order(&mut self, at: DateTime<Utc>, channel: Option<&'static str>) {
        self.orders += 1;
        let order_id = format!("demo-o-{}-{:03}", self.key, self.orders);
        let category = self.category(at);
        let basket = self.persona.whale.powf(0.4) * profile::category_price_factor(category);
        let yuan = sample::lognormal(self.rng, 100.0 * basket, 0.6).clamp(9.9, 50_000.0);
        // Shelf prices end in .00 or .90; coupons and bundles give odd fen.
        let fen = match sample::int(self.rng, 0, 9) {
            0..=4 => (yuan.round() as i64) * 100 - 10,
            5..=7 => (yuan.round() as i64) * 100,
            _ => (yuan * 100.0).round() as i64,
        }
        .max(990);
        let items = sample::int(self.rng, 1, (1 + fen / 25_000).min(6));
        let channel = match channel {
            Some(c) => c,
            None => self.order_channel(),
        };

        // Looked at it, put it in the cart, paid.
        let cart_gap = sample::uniform(self.rng, 1.0, 15.0);
        if channel != "store" {
            let mut view_at = at - minutes(cart_gap);
            for _ in 0..sample::int(self.rng, 1, 2) {
                view_at -= minutes(sample::uniform(self.rng, 2.0, 40.0));
                self.view(view_at, category);
            }
        }
        if channel != "store" && sample::chance(self.rng, 0.75) {
            let sku = self.sku(category);
            self.push(
                at - minutes(cart_gap),
                "cart.added",
                props(json!({"sku": sku, "category": category, "quantity": items})),
            );
        }
        let mut paid = props(json!({
            "order_id": order_id,
            "amount": money(fen),
            "channel": channel,
            "category": category,
            "items": items,
        }));
        if sample::chance(self.rng, 0.25) {
            let discount = (fen / 100 * sample::int(self.rng, 5, 20) / 100).max(1) * 100;
            paid.insert("discount".into(), json!(money(discount)));
        }
        self.push(at, "order.paid", paid);

        // About one order in twenty comes back, clothes more often; some only in part.
        let refund_p = if category == "服饰鞋包" {
            0.09
        } else {
            0.04
        };
        if sample::chance(self.rng, refund_p) {
            let when = at + minutes(sample::uniform(self.rng, 1.0, 14.0) * 1440.0);
            let (amount, reason) = if sample::chance(self.rng, 0.35) && fen > 100 {
                let part = (fen as f64 * sample::uniform(self.rng, 0.2, 0.8)).round() as i64;
                (part.clamp(1, fen - 1), "部分商品退货")
            } else {
                let r = *sample::one_of(
                    self.rng,
                    &["不想要了", "尺码不合适", "质量问题", "发货太慢"],
                );
                (fen, r)
            };
            self.push(
                when,
                "order.refunded",
                props(json!({"order_id": order_id, "amount": money(amount), "reason": reason})),
            );
        }
        if sample::chance(self.rng, 0.18) {
            let day =
                calendar::local_day(self.tz, at) + Duration::days(sample::int(self.rng, 2, 12));
            let when = calendar::moment_on(self.rng, self.tz, day).max(at + Duration::hours(1));
            if self.active(when) {
                let rating = *sample::weighted(
                    self.rng,
                    &[(5, 62.0), (4, 22.0), (3, 8.0), (2, 3.0), (1, 5.0)],
                    |r| r.1,
                );
                let photos = sample::chance(self.rng, 0.3);
                self.push(
                    when,
                    "review.posted",
                    props(json!({"order_id": order_id, "rating": rating.0, "has_photo": photos})),
                );
            }
        }
        if sample::chance(self.rng, 0.07) {
            let when = at + minutes(sample::uniform(self.rng, 2.0, 180.0));
            self.share(when, "order");
        }
    }

    fn order_channel(&mut self) -> &'static str {
        if matches!(self.persona.channel.name, "store" | "offline_event")
            && sample::chance(self.rng, 0.55)
        {
            return "store";
        }
        sample::weighted(
            self.rng,
            &[
                ("app", 40.0),
                ("mini_program", 35.0),
                ("web", 10.0),
                ("store", 8.0),
            ],
            |c| c.1,
        )
        .0
    }

    fn share(&mut self, at: DateTime<Utc>, content: &str) {
        if !self.active(at) {
            return;
        }
        let platform = *sample::one_of(
            self.rng,
            &["wechat_moments", "wechat_friend", "weibo", "xiaohongshu"],
        );
        self.push(
            at,
            "content.shared",
            props(json!({"content_type": content, "platform": platform})),
        );
    }

    /// Sessions that end without an order: views, abandoned carts, the odd share.
    fn browsing(&mut self) {
        let rate = (1.0 + self.persona.engagement) / 130.0;
        for day in self.poisson_days(self.reg, rate, true) {
            let mut at = self.moment_on(day);
            let category = self.category(at);
            for _ in 0..sample::int(self.rng, 1, 2) {
                if self.active(at) {
                    self.view(at, category);
                }
                at += minutes(sample::uniform(self.rng, 0.5, 8.0));
            }
            if sample::chance(self.rng, 0.15) && self.active(at) {
                let sku = self.sku(category);
                self.push(
                    at,
                    "cart.added",
                    props(json!({"sku": sku, "category": category, "quantity": 1})),
                );
            }
            if sample::chance(self.rng, 0.04) {
                self.share(at + minutes(1.0), "product");
            }
        }
    }

    /// Daily check-in streaks at the member's habitual hour.
    fn checkins(&mut self) {
        let habit = calendar::time_of_day(self.rng);
        let episodes = self.poisson_days(self.reg, self.persona.engagement / 150.0, false);
        let mut last: Option<NaiveDate> = None;
        for start in episodes {
            if last.is_some_and(|l| start <= l) {
                continue;
            }
            let len = sample::int(self.rng, 3, 12);
            for k in 0..len {
                let day = start + Duration::days(k);
                let jitter = minutes(sample::uniform(self.rng, -40.0, 40.0));
                let at = calendar::local_to_utc(self.tz, day.and_time(habit)) + jitter;
                if !self.active(at) || (k > 2 && sample::chance(self.rng, 0.05)) {
                    break;
                }
                self.push(at, "checkin", props(json!({"streak": k + 1})));
                last = Some(day);
            }
        }
    }

    fn referrals(&mut self) {
        let p = if self.persona.channel.name == "referral" {
            0.2
        } else {
            0.06
        };
        if !sample::chance(self.rng, p) {
            return;
        }
        let span = (self.end - self.reg).num_minutes().max(60) as f64;
        for n in 0..sample::int(self.rng, 1, 3) {
            let at = self.reg + minutes(sample::uniform(self.rng, 60.0, span));
            let invitee = format!("demo-inv-{}-{}", self.key, n + 1);
            self.push(
                at,
                "referral.accepted",
                props(json!({"invitee": invitee, "reward_points": 200})),
            );
        }
    }
}

fn props(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Fen as a yuan string with two decimals.
pub fn money(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}
