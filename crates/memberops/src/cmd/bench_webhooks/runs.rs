//! The three measurements: ingest with and without a subscriber, delivery of a full outbox,
//! commit-to-delivery latency.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure};
use memberops_app::consumers::{self, Registry, Step};
use memberops_app::webhooks::AddressPolicy;
use memberops_app::webhooks::dispatch::{DispatchConfig, Dispatcher};
use memberops_core::event::EventIn;
use memberops_core::time::now_millis;
use memberops_store::Store;
use tokio_util::sync::CancellationToken;

use super::super::bench::order_event;

use super::*;

/// The request bodies of `events` benchmark events in batches of `batch`.
pub(super) fn bodies(
    events: usize,
    members: usize,
    batch: usize,
) -> anyhow::Result<Vec<(Vec<u8>, usize)>> {
    (0..events)
        .step_by(batch)
        .map(|start| {
            let rows: Vec<EventIn> = (start..(start + batch).min(events))
                .map(|i| order_event(i, members, events))
                .collect();
            let n = rows.len();
            Ok((
                serde_json::to_vec(&serde_json::json!({ "events": rows }))?,
                n,
            ))
        })
        .collect()
}

pub(super) struct IngestRun {
    pub(super) mode: WorkerMode,
    pub(super) with_endpoint: bool,
    pub(super) wall: Duration,
    pub(super) cpu: f64,
    /// CPU seconds of other processes meanwhile.
    pub(super) others: f64,
    /// Deliveries the sink had when the last batch returned.
    pub(super) delivered_during: usize,
    /// The webhooks consumer's backlog when the last batch returned.
    pub(super) consumer_behind: i64,
    /// From the last batch's return to the last delivery's arrival.
    pub(super) tail: Option<Duration>,
    pub(super) complete: bool,
    /// Consumer step times when the last batch returned ([`WorkerMode::Timed`]).
    pub(super) steps: Option<StepTimes>,
}

/// Phase 1, one run: the events through the API with the worker running (`mode`), with or
/// without one endpoint subscribed to `order.paid`.
pub(super) async fn ingest_run(
    a: &Args,
    backend: &Backend,
    mode: WorkerMode,
    with_endpoint: bool,
    run: usize,
) -> anyhow::Result<IngestRun> {
    let name = format!(
        "ingest_{}_{}_{run}",
        match mode {
            WorkerMode::Off => "off",
            WorkerMode::Serve => "serve",
            WorkerMode::Timed { dispatcher: false } => "consumers",
            WorkerMode::Timed { dispatcher: true } => "timed",
        },
        if with_endpoint { "endpoint" } else { "none" }
    );
    let db = FreshDb::create(backend, &name).await?;
    let sink = Sink::start().await?;
    let stack = Stack::start(&db.url, mode).await?;
    if with_endpoint {
        stack.api.endpoint(&sink.url).await?;
    }
    let bodies = bodies(a.events, a.members, a.batch)?;
    perf("enable").await;
    let meter = Meter::start();
    let t = Instant::now();
    for (body, n) in &bodies {
        stack.api.batch(body, *n).await?;
    }
    let wall = t.elapsed();
    perf("disable").await;
    let (cpu, others) = meter.read();
    let ended = Instant::now();
    let steps = stack.steps.as_ref().map(|t| lock(t).clone());
    let delivered_during = sink.distinct();
    let consumer_behind = consumers::lag(stack.store.as_ref(), &stack.ws, &Registry::standard())
        .await?
        .into_iter()
        .find(|c| c.name == "webhooks")
        .map_or(0, |c| c.events_behind);
    let dispatching = matches!(
        mode,
        WorkerMode::Serve | WorkerMode::Timed { dispatcher: true }
    );
    let (tail, complete) = if with_endpoint && dispatching {
        let complete = sink
            .wait_for(a.events, Duration::from_secs(a.timeout_secs))
            .await;
        let last = lock(&sink.log).last;
        (last.map(|l| l.saturating_duration_since(ended)), complete)
    } else {
        (None, sink.distinct() == 0)
    };
    stack.stop().await;
    let log = sink.finish();
    if !(with_endpoint && dispatching) && log.requests > 0 {
        bail!(
            "the sink received {} requests without an endpoint",
            log.requests
        );
    }
    db.remove().await;
    let r = IngestRun {
        mode,
        with_endpoint,
        wall,
        cpu,
        others,
        delivered_during,
        consumer_behind,
        tail,
        complete,
        steps,
    };
    println!(
        "  ingest {:<13} {:>8.0} events/s  {:>6.2} s wall  {:>7.0} events/CPU-s, others {:.2} CPU-s | {}; at the end: {} delivered, webhooks consumer {} events behind{}",
        if with_endpoint {
            "one endpoint:"
        } else {
            "no endpoint:"
        },
        a.events as f64 / wall.as_secs_f64(),
        wall.as_secs_f64(),
        a.events as f64 / cpu.max(1e-9),
        others,
        mode.label(),
        r.delivered_during,
        r.consumer_behind,
        match (r.tail, r.with_endpoint) {
            (Some(t), true) => format!(
                "; all {} delivered {:.2} s later{}",
                a.events,
                t.as_secs_f64(),
                if r.complete { "" } else { " (INCOMPLETE)" }
            ),
            _ => String::new(),
        }
    );
    for (name, t) in r.steps.iter().flatten() {
        println!(
            "      {name:<13} {:>4} pages, {:>6} events, {:>6.2} s in steps ({:.1} ms per page); {} idle steps, {:.2} s",
            t.pages,
            t.events,
            t.busy.as_secs_f64(),
            t.busy.as_secs_f64() * 1000.0 / t.pages.max(1) as f64,
            t.idle,
            t.idle_time.as_secs_f64()
        );
    }
    Ok(r)
}

pub(super) struct DeliveryRun {
    pub(super) deliveries: usize,
    /// From starting the dispatcher to the last delivery's arrival.
    pub(super) arrived: Duration,
    /// …to every outbox row settled `delivered`.
    pub(super) settled: Duration,
    pub(super) cpu: f64,
    pub(super) others: f64,
    pub(super) complete: bool,
    pub(super) duplicates: usize,
    pub(super) duplicate_ids: usize,
    pub(super) missing: usize,
    pub(super) unknown: usize,
    pub(super) missing_events: usize,
    pub(super) not_delivered: usize,
    pub(super) retried: usize,
    pub(super) malformed: usize,
}

/// Phase 2: the outbox filled first (ingest without the worker, then the consumers
/// drained), then the dispatcher started and timed until every delivery arrived.
pub(super) async fn delivery_run(a: &Args, backend: &Backend) -> anyhow::Result<DeliveryRun> {
    let db = FreshDb::create(backend, "delivery").await?;
    let sink = Sink::start().await?;
    let stack = Stack::start(&db.url, WorkerMode::Off).await?;
    let endpoint = stack.api.endpoint(&sink.url).await?;
    for (body, n) in &bodies(a.events, a.members, a.batch)? {
        stack.api.batch(body, *n).await?;
    }
    let store = stack.store.clone();
    // `consumers::drain`, each consumer timed alone (nothing else runs: the time of its
    // pages without waiting for anyone).
    let registry = Registry::standard();
    let t = Instant::now();
    let mut alone = Vec::new();
    for c in registry.consumers() {
        let tc = Instant::now();
        let mut pages = 0usize;
        while let Step::Handled(_) =
            consumers::step(store.as_ref(), &stack.ws, c.as_ref(), registry.page).await?
        {
            pages += 1;
        }
        alone.push(format!(
            "{} {pages} pages in {:.2} s ({:.1} ms per page)",
            c.name(),
            tc.elapsed().as_secs_f64(),
            tc.elapsed().as_secs_f64() * 1000.0 / pages.max(1) as f64
        ));
    }
    let fill = t.elapsed();
    // What building the bodies alone costs the webhooks consumer (it builds them inside its
    // write transaction): the same events as log rows, each payload built once.
    let rows: Vec<memberops_store::LogEvent> = (0..a.events)
        .map(|i| {
            let e = order_event(i, a.members, a.events);
            memberops_store::LogEvent {
                seq: i as i64 + 1,
                id: e.id,
                member_id: format!("mbr_{i:026}"),
                external_id: Some(e.member),
                kind: e.kind,
                occurred_at: 1_700_000_000_000,
                received_at: now_millis(),
                properties: serde_json::Value::Object(e.properties).to_string(),
            }
        })
        .collect();
    let tp = Instant::now();
    let bytes: usize = rows
        .iter()
        .map(|e| memberops_app::webhooks::outbox::payload(e).len())
        .sum();
    let payload_time = tp.elapsed();
    drop(rows);
    let depth = |store: Arc<dyn Store>, ws: String| async move {
        anyhow::Ok(
            store
                .outbox_depth(&ws)
                .await?
                .iter()
                .map(|(_, n)| *n)
                .sum::<i64>(),
        )
    };
    let queued = depth(store.clone(), stack.ws.id.clone()).await?;
    ensure!(
        queued == a.events as i64,
        "the outbox holds {queued} deliveries, not {}",
        a.events
    );
    println!(
        "  outbox filled: {queued} deliveries (consumers drained in {:.2} s: {}); building the payloads alone: {:.2} ms per 1000 events, {} bytes each on average",
        fill.as_secs_f64(),
        alone.join(", "),
        payload_time.as_secs_f64() * 1e6 / a.events as f64,
        bytes / a.events
    );

    let dispatcher = Arc::new(Dispatcher::new(
        store.clone(),
        DispatchConfig {
            policy: AddressPolicy {
                allow_private: true,
            },
            ..DispatchConfig::default()
        },
    )?);
    let cancel = CancellationToken::new();
    perf("enable").await;
    let meter = Meter::start();
    let t0 = Instant::now();
    let task = tokio::spawn(dispatcher.run(cancel.clone()));
    let timeout = Duration::from_secs(a.timeout_secs);
    let complete = sink.wait_for(a.events, timeout).await;
    let arrived = lock(&sink.log)
        .last
        .map_or(t0.elapsed(), |l| l.saturating_duration_since(t0));
    while depth(store.clone(), stack.ws.id.clone()).await? > 0 && t0.elapsed() < timeout {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let settled = t0.elapsed();
    let (cpu, others) = meter.read();
    perf("disable").await;
    cancel.cancel();
    let _ = task.await;

    // Every outbox row against what the sink saw.
    let mut rows = Vec::new();
    let mut before: Option<i64> = None;
    loop {
        let page = store
            .deliveries(&stack.ws.id, &endpoint, before, 10_000)
            .await?;
        let Some(last) = page.last() else { break };
        before = Some(last.event_seq);
        rows.extend(page);
    }
    stack.stop().await;
    let log = sink.finish();
    db.remove().await;
    let outbox: HashSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let r = DeliveryRun {
        deliveries: rows.len(),
        arrived,
        settled,
        cpu,
        others,
        complete,
        duplicates: log.ids.values().map(|n| n.saturating_sub(1) as usize).sum(),
        duplicate_ids: log.ids.values().filter(|n| **n > 1).count(),
        missing: rows.iter().filter(|r| !log.ids.contains_key(&r.id)).count(),
        unknown: log
            .ids
            .keys()
            .filter(|id| !outbox.contains(id.as_str()))
            .count(),
        missing_events: (0..a.events)
            .filter(|i| !log.events.contains_key(&format!("e{i}")))
            .count(),
        not_delivered: rows.iter().filter(|r| r.status != "delivered").count(),
        retried: rows.iter().filter(|r| r.attempts > 1).count(),
        malformed: log.malformed,
    };
    println!(
        "  delivery: {} deliveries arrived in {:.2} s = {:.0} deliveries/s ({:.0} per CPU-s, others {:.2} CPU-s); all settled in the outbox after {:.2} s{}",
        r.deliveries,
        r.arrived.as_secs_f64(),
        r.deliveries as f64 / r.arrived.as_secs_f64(),
        r.deliveries as f64 / r.cpu.max(1e-9),
        r.others,
        r.settled.as_secs_f64(),
        if r.complete { "" } else { " (INCOMPLETE)" }
    );
    println!(
        "  sink: {} requests; duplicate webhook-ids {} (extra receipts {}), outbox rows never received {}, ids not in the outbox {}, events without a delivery {}, malformed {}; outbox: {} not delivered, {} needed more than one attempt",
        log.requests,
        r.duplicate_ids,
        r.duplicates,
        r.missing,
        r.unknown,
        r.missing_events,
        r.malformed,
        r.not_delivered,
        r.retried
    );
    Ok(r)
}

pub(super) struct LatencyRun {
    pub(super) events: usize,
    /// Events per second offered and achieved (last batch returned).
    pub(super) achieved_rate: f64,
    /// Since the batch request returned: p50, p95, p99, max (ms).
    pub(super) from_return: [f64; 4],
    /// Since `data.received_at` (the server's clock when the batch arrived): same.
    pub(super) from_received: [f64; 4],
    /// Batch requests: p50, p99, max (ms).
    pub(super) request: [f64; 3],
    pub(super) missing: usize,
    pub(super) cpu: f64,
    pub(super) others: f64,
    /// Deliveries that arrived before their batch's answer reached the client.
    pub(super) before_return: usize,
}

pub(super) fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub(super) fn summary4(mut v: Vec<f64>) -> [f64; 4] {
    v.sort_by(f64::total_cmp);
    [
        percentile(&v, 0.50),
        percentile(&v, 0.95),
        percentile(&v, 0.99),
        percentile(&v, 1.0),
    ]
}

/// Phase 3: batches of `latency_batch` every `latency_batch / rate` seconds (each sent on
/// schedule whether or not the previous one has returned) for `latency_secs`, the worker
/// running; latency per event = the sink's receipt − the return of its batch request.
pub(super) async fn latency_run(a: &Args, backend: &Backend) -> anyhow::Result<LatencyRun> {
    let db = FreshDb::create(backend, "latency").await?;
    let sink = Sink::start().await?;
    let stack = Stack::start(&db.url, WorkerMode::Serve).await?;
    stack.api.endpoint(&sink.url).await?;
    let per = a.latency_batch;
    let total = ((a.rate as f64 * a.latency_secs) as usize).max(per);
    let batches = bodies(total, a.members, per)?;
    let interval = Duration::from_secs_f64(per as f64 / a.rate as f64);
    let meter = Meter::start();
    let start = tokio::time::Instant::now();
    let mut sends = Vec::with_capacity(batches.len());
    for (k, (body, n)) in batches.into_iter().enumerate() {
        tokio::time::sleep_until(start + interval.mul_f64(k as f64)).await;
        let api = stack.api.clone();
        sends.push(tokio::spawn(async move {
            let sent = Instant::now();
            api.batch(&body, n).await?;
            anyhow::Ok((sent, Instant::now()))
        }));
    }
    let mut returned = Vec::with_capacity(sends.len());
    for s in sends {
        returned.push(s.await??);
    }
    let last_return = returned.iter().map(|(_, r)| *r).max();
    let achieved_rate = total as f64
        / last_return.map_or(f64::NAN, |l| {
            l.saturating_duration_since(start.into_std()).as_secs_f64()
        });
    sink.wait_for(total, Duration::from_secs(a.timeout_secs.min(60)))
        .await;
    let (cpu, others) = meter.read();
    stack.stop().await;
    let log = sink.finish();
    db.remove().await;

    let mut from_return = Vec::with_capacity(total);
    let mut from_received = Vec::with_capacity(total);
    let mut missing = 0;
    let mut before_return = 0;
    for i in 0..total {
        let Some(arr) = log.events.get(&format!("e{i}")) else {
            missing += 1;
            continue;
        };
        let (_, back) = returned[i / per];
        if arr.at < back {
            before_return += 1;
        }
        from_return.push(arr.at.saturating_duration_since(back).as_secs_f64() * 1000.0);
        if let Some(r) = arr.received_at {
            from_received.push((arr.wall_ms - r) as f64);
        }
    }
    let mut req: Vec<f64> = returned
        .iter()
        .map(|(s, r)| r.saturating_duration_since(*s).as_secs_f64() * 1000.0)
        .collect();
    req.sort_by(f64::total_cmp);
    let r = LatencyRun {
        events: total,
        achieved_rate,
        from_return: summary4(from_return),
        from_received: summary4(from_received),
        request: [
            percentile(&req, 0.5),
            percentile(&req, 0.99),
            percentile(&req, 1.0),
        ],
        missing,
        cpu,
        others,
        before_return,
    };
    println!(
        "  latency: {} events at {:.0} events/s offered, {:.0} achieved (first send to last answer); batch requests p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {:.2} CPU-s, others {:.2} CPU-s",
        r.events,
        a.rate,
        r.achieved_rate,
        r.request[0],
        r.request[1],
        r.request[2],
        r.cpu,
        r.others
    );
    println!(
        "  commit (batch returned) → sink: p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {} arrived before their batch's answer (counted 0), {} missing",
        r.from_return[0],
        r.from_return[1],
        r.from_return[2],
        r.from_return[3],
        r.before_return,
        r.missing
    );
    println!(
        "  data.received_at → sink (conservative): p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        r.from_received[0], r.from_received[1], r.from_received[2], r.from_received[3]
    );
    Ok(r)
}
