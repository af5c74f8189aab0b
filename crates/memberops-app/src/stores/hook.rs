//! Registration events carry a member's home store and owning staff member
//! (`store_code`, `staff_code` properties: a POS, the import, `POST /v1/members`); the
//! batch records them in its own transaction. Orders carry their store as an order fact
//! (`segments::purchases`).

use std::collections::HashMap;

use memberops_core::event::Effect;
use memberops_core::store::from_properties;
use memberops_store::{AssignmentRow, WriteTx};

use crate::error::Result;
use crate::hooks::AppliedEvent;

/// Records the assignments the batch's registrations name (a code left out keeps what
/// the member has; a staff member without a store brings their store, when known).
pub async fn on_events(tx: &mut dyn WriteTx, applied: &[AppliedEvent]) -> Result<()> {
    let mut wanted: Vec<(String, memberops_core::store::Assignment, i64)> = Vec::new();
    for a in applied {
        if !matches!(a.event.effect, Effect::Registered(_)) {
            continue;
        }
        let given = from_properties(&a.event.properties);
        if given.store_code.is_some() || given.staff_code.is_some() {
            wanted.push((a.member_id.clone(), given, a.occurred_at));
        }
    }
    if wanted.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = wanted.iter().map(|(m, _, _)| m.as_str()).collect();
    let mut rows: HashMap<String, AssignmentRow> = tx
        .assignments_in_tx(&ids)
        .await?
        .into_iter()
        .map(|r| (r.member_id.clone(), r))
        .collect();
    let mut staff_store: HashMap<String, Option<String>> = HashMap::new();
    let now = memberops_core::time::now_millis();
    for (member_id, given, _) in wanted {
        let row = rows
            .entry(member_id.clone())
            .or_insert_with(|| AssignmentRow {
                member_id,
                store_code: None,
                staff_code: None,
                updated_at: now,
            });
        if let Some(staff) = &given.staff_code {
            row.staff_code = Some(staff.clone());
            if given.store_code.is_none() {
                let home = match staff_store.get(staff) {
                    Some(h) => h.clone(),
                    None => {
                        let h = tx.staff_in_tx(staff).await?.and_then(|s| s.store_code);
                        staff_store.insert(staff.clone(), h.clone());
                        h
                    }
                };
                if home.is_some() {
                    row.store_code = home;
                }
            }
        }
        if let Some(store) = given.store_code {
            row.store_code = Some(store);
        }
        row.updated_at = now;
    }
    let rows: Vec<AssignmentRow> = rows.into_values().collect();
    tx.upsert_assignments(&rows).await?;
    Ok(())
}
