//! The in-memory segment index of a server: one [`SegmentIndex`] per workspace, loaded from
//! the database on first use (or at start), and brought up to date before each query from
//! watermarks: members with events after the last seen event `seq`, members whose profile
//! changed since the last seen `updated_at`, and a full rebuild when a bulk job (recompute,
//! tag operations) bumped the workspace's segment version. The database stays the truth;
//! the index is a cache of it that catches up after commits, whoever made them.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::NaiveDate;
use chrono_tz::Tz;
use memberops_core::member::Gender;
use memberops_core::time::Millis;
use memberops_segments::eval::{EvalContext, EventCounts};
use memberops_segments::lifecycle::Stage;
use memberops_segments::rfm::RfmClass;
use memberops_segments::tree::{Measure, Node};
use memberops_segments::value_class::ValueClass;
use memberops_segments::{MemberRow, SegmentIndex};
use memberops_store::{IndexSource, Store, Watermark};
use tokio::sync::RwLock;

use super::seg_err;
use crate::error::Result;
use crate::workspace::Workspace;

/// Members loaded per query while (re)building.
const PAGE: i64 = 50_000;
/// More touched members than this and a rebuild is cheaper than catching up.
const CATCH_UP_MAX: i64 = 100_000;

struct Loaded {
    index: SegmentIndex,
    mark: Watermark,
    /// The tier members without a loyalty account read as (the program's first tier):
    /// a program that changes it means a reload.
    base_tier: Option<String>,
}

/// The tier of a member without a loyalty account: the first tier of the program in force,
/// as the member centre shows it.
pub async fn base_tier(store: &dyn Store, ws: &Workspace) -> Result<Option<String>> {
    let program = crate::loyalty::current_program(store, ws).await?;
    Ok(program.tiers.first().map(|t| t.code.clone()))
}

/// The indexes of one server, shared by its requests.
#[derive(Default, Clone)]
pub struct IndexCache {
    inner: Arc<RwLock<HashMap<String, Arc<RwLock<Loaded>>>>>,
    /// Held while a full load runs, so that requests arriving meanwhile (e.g. during the
    /// load `serve` starts at startup) wait for it instead of starting another.
    loading: Arc<tokio::sync::Mutex<()>>,
}

/// Converts a stored member into the row segments are evaluated over.
pub fn member_row(
    s: &IndexSource,
    default_tz: Tz,
    base_tier: Option<&str>,
    money_exponent: u8,
) -> MemberRow {
    let tz = s.time_zone.parse::<Tz>().unwrap_or(default_tz);
    let mut row = MemberRow::new(s.id.clone(), tz);
    row.gender = s.gender.as_deref().and_then(|g| Gender::parse(g).ok());
    row.birthday = s
        .birthday
        .as_deref()
        .and_then(|b| NaiveDate::parse_from_str(b, "%Y-%m-%d").ok());
    row.region = s.region.clone();
    row.channel = s.channel.clone();
    row.registered_at = s.registered_at;
    row.orders = u32::try_from(s.orders).unwrap_or(u32::MAX);
    row.spend = s.spend;
    row.last_order_at = s.last_order_at;
    row.first_order_at = s.first_order_at;
    row.income_band = s.income_band.clone();
    row.store = s.store.clone();
    row.staff = s.staff.clone();
    row.tier = s.tier.clone().or_else(|| base_tier.map(str::to_owned));
    row.points_balance = s.points_balance;
    row.stored_value = s.stored_value;
    row.consent = serde_json::from_str(&s.consent).unwrap_or_default();
    if let Some(p) = &s.predicted {
        row.p_alive = Some(p.p_alive);
        row.expected_orders_90d = Some(p.expected_orders_90d);
        // The SQL engine's division (segments/sql.rs `predicted`).
        row.clv_12m = Some(p.clv_12m_minor as f64 / 10_i64.pow(u32::from(money_exponent)) as f64);
    }
    let mut tags: Vec<String> = serde_json::from_str(&s.tags).unwrap_or_default();
    tags.extend(s.extra_tags.iter().cloned());
    tags.sort_unstable();
    tags.dedup();
    row.tags = tags;
    row.attributes = serde_json::from_str::<BTreeMap<String, serde_json::Value>>(&s.attributes)
        .unwrap_or_default();
    if let Some(g) = &s.intel {
        row.stage = Stage::parse(&g.stage);
        let score = |v: Option<i64>| v.and_then(|x| u8::try_from(x).ok());
        row.r = score(g.r);
        row.f = score(g.f);
        row.m = score(g.m);
        row.rfm_class = g.rfm_class.as_deref().and_then(RfmClass::parse);
        row.value_class = g.value_class.as_deref().and_then(ValueClass::parse);
    }
    row
}

/// Event counts and measures of one query, prefetched per `(event, days)` pair and per
/// measure of the tree.
pub struct Prefetched {
    events: HashMap<(String, u32), HashMap<String, u64>>,
    measures: HashMap<Measure, HashMap<String, i64>>,
}

impl EventCounts for Prefetched {
    fn event_count(&self, member_id: &str, event: &str, within_last_days: u32) -> u64 {
        self.events
            .get(&(event.to_owned(), within_last_days))
            .and_then(|m| m.get(member_id))
            .copied()
            .unwrap_or(0)
    }

    fn measure(&self, member_id: &str, m: &Measure) -> i64 {
        self.measures
            .get(m)
            .and_then(|v| v.get(member_id))
            .copied()
            .unwrap_or(0)
    }
}

const DAY_MS: i64 = 86_400_000;

/// Per-member values of a measure at `as_of` (members left out have 0).
async fn measure_values(
    store: &dyn Store,
    ws: &Workspace,
    m: &Measure,
    as_of: Millis,
) -> Result<HashMap<String, i64>> {
    let rows = match m {
        Measure::PointsExpiring { within_next_days } => {
            let until = as_of.saturating_add(i64::from(*within_next_days) * DAY_MS);
            store.points_expiring(&ws.id, as_of, until).await?
        }
        Measure::Purchased {
            key,
            values,
            within_last_days,
        } => {
            let since = within_last_days.map(|n| as_of - i64::from(n) * DAY_MS);
            store
                .purchase_counts(&ws.id, key.name(), values, since, as_of)
                .await?
        }
    };
    Ok(rows.into_iter().collect())
}

fn event_pairs(node: &Node, out: &mut Vec<(String, u32)>) {
    match node {
        Node::All(xs) | Node::Any(xs) => xs.iter().for_each(|x| event_pairs(x, out)),
        Node::Not(x) => event_pairs(x, out),
        Node::Cond(_) | Node::Measure(_) => {}
        Node::Event(e) => out.push((e.event.clone(), e.within_last_days)),
    }
}

/// Counts of the tree's event conditions as of `as_of`, over `since < occurred_at <= as_of`.
pub async fn prefetch_events(
    store: &dyn Store,
    ws: &Workspace,
    node: &Node,
    as_of: Millis,
) -> Result<Prefetched> {
    let mut pairs = Vec::new();
    event_pairs(node, &mut pairs);
    pairs.sort_unstable();
    pairs.dedup();
    let mut out = HashMap::new();
    for (event, days) in pairs {
        let since = as_of - i64::from(days) * 86_400_000;
        let counts = store
            .event_counts(&ws.id, &event, since, as_of)
            .await?
            .into_iter()
            .map(|(id, n)| (id, u64::try_from(n).unwrap_or(0)))
            .collect();
        out.insert((event, days), counts);
    }
    let mut measures = HashMap::new();
    for m in node.measures() {
        let v = measure_values(store, ws, &m, as_of).await?;
        measures.insert(m, v);
    }
    Ok(Prefetched {
        events: out,
        measures,
    })
}

async fn load_all(store: &dyn Store, ws: &Workspace) -> Result<Loaded> {
    let mark = store.watermark(&ws.id).await?;
    let base = base_tier(store, ws).await?;
    let mut index = SegmentIndex::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .index_sources(&ws.id, after.as_deref(), None, PAGE)
            .await?;
        for s in &page {
            index
                .upsert(&member_row(
                    s,
                    ws.time_zone,
                    base.as_deref(),
                    ws.currency.exponent(),
                ))
                .map_err(seg_err)?;
        }
        match page.last() {
            Some(last) if page.len() as i64 == PAGE => after = Some(last.id.clone()),
            _ => break,
        }
    }
    Ok(Loaded {
        index,
        mark,
        base_tier: base,
    })
}

impl IndexCache {
    pub fn new() -> IndexCache {
        IndexCache::default()
    }

    async fn slot(&self, ws: &Workspace) -> Option<Arc<RwLock<Loaded>>> {
        self.inner.read().await.get(&ws.id).cloned()
    }

    /// Loads the workspace's index from the database, replacing any held.
    pub async fn rebuild(&self, store: &dyn Store, ws: &Workspace) -> Result<usize> {
        let _loading = self.loading.lock().await;
        self.load_locked(store, ws).await
    }

    async fn load_locked(&self, store: &dyn Store, ws: &Workspace) -> Result<usize> {
        let loaded = load_all(store, ws).await?;
        let n = loaded.index.len();
        self.inner
            .write()
            .await
            .insert(ws.id.clone(), Arc::new(RwLock::new(loaded)));
        Ok(n)
    }

    /// Brings the index up to date with what was committed since it last looked.
    pub async fn refresh(&self, store: &dyn Store, ws: &Workspace) -> Result<()> {
        let Some(slot) = self.slot(ws).await else {
            // Wait for a load in progress (started at startup or by another request).
            let _loading = self.loading.lock().await;
            if self.slot(ws).await.is_none() {
                self.load_locked(store, ws).await?;
            }
            return Ok(());
        };
        let now = store.watermark(&ws.id).await?;
        let (mark, base) = {
            let l = slot.read().await;
            (l.mark.clone(), l.base_tier.clone())
        };
        if base != base_tier(store, ws).await? {
            self.rebuild(store, ws).await?;
            return Ok(());
        }
        if now == mark {
            return Ok(());
        }
        if now.version != mark.version {
            self.rebuild(store, ws).await?;
            return Ok(());
        }
        let touched = store.touched_since(&ws.id, &mark, CATCH_UP_MAX).await?;
        if touched.len() as i64 >= CATCH_UP_MAX {
            self.rebuild(store, ws).await?;
            return Ok(());
        }
        self.reload_members(store, ws, &touched).await?;
        slot.write().await.mark = now;
        Ok(())
    }

    /// Re-reads these members into the index (after a change this server made).
    pub async fn reload_members(
        &self,
        store: &dyn Store,
        ws: &Workspace,
        ids: &[String],
    ) -> Result<()> {
        let Some(slot) = self.slot(ws).await else {
            return Ok(());
        };
        let base = slot.read().await.base_tier.clone();
        let mut rows = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(1000) {
            for s in store
                .index_sources(&ws.id, None, Some(chunk), chunk.len() as i64)
                .await?
            {
                rows.push(member_row(
                    &s,
                    ws.time_zone,
                    base.as_deref(),
                    ws.currency.exponent(),
                ));
            }
        }
        let mut loaded = slot.write().await;
        for r in &rows {
            loaded.index.upsert(r).map_err(seg_err)?;
        }
        Ok(())
    }

    /// Runs `f` on the up-to-date index with the tree's event counts prefetched.
    pub async fn with_index<T>(
        &self,
        store: &dyn Store,
        ws: &Workspace,
        node: &Node,
        as_of: Millis,
        f: impl FnOnce(&SegmentIndex, &EvalContext<'_>) -> T,
    ) -> Result<T> {
        self.refresh(store, ws).await?;
        let events = prefetch_events(store, ws, node, as_of).await?;
        let Some(slot) = self.slot(ws).await else {
            return Err(crate::AppError::NotFound {
                what: "segment index",
            });
        };
        let loaded = slot.read().await;
        let ctx = EvalContext::new(as_of, &events);
        Ok(f(&loaded.index, &ctx))
    }

    /// Starts loading the workspace's index in the background (what `serve` does at
    /// startup); queries arriving before it is ready wait for it.
    pub fn warm(&self, store: Arc<dyn Store>, ws: Workspace) {
        let cache = self.clone();
        tokio::spawn(async move {
            let t = std::time::Instant::now();
            match cache.refresh(store.as_ref(), &ws).await {
                Ok(()) => tracing::info!(
                    workspace = %ws.id,
                    ms = t.elapsed().as_millis() as u64,
                    "segment index loaded"
                ),
                Err(e) => {
                    tracing::warn!(workspace = %ws.id, error = %e, "segment index load failed")
                }
            }
        });
    }

    /// `(members, bytes)` of the workspace's index, if loaded.
    pub async fn stats(&self, ws: &Workspace) -> Option<(usize, usize)> {
        let slot = self.slot(ws).await?;
        let loaded = slot.read().await;
        Some((loaded.index.len(), loaded.index.memory_bytes()))
    }
}
