//! Reads of saved segments (with their versions and sizes), tag rules and counts, stage
//! flow, and the per-member measures segment conditions read (points expiring, purchases),
//! stamped out by [`impl_segment_catalog`] for each native driver.

/// Implements [`SegmentCatalogStore`] for one sqlx driver.
macro_rules! impl_segment_catalog {
    ($Store:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use sqlx::Row;

            use crate::error::Result;
            use crate::segments::*;
            use memberops_core::time::Millis;

            #[async_trait]
            impl SegmentCatalogStore for $Store {
                #[tracing::instrument(level = "debug", skip_all)]
                async fn stage_flow(&self, workspace_id: &str, from_date: &str, to_date: &str) -> Result<Vec<(Option<String>, String, i64)>> {
                    let rows = sqlx::query(
                        "SELECT from_stage, to_stage, CAST(COUNT(*) AS BIGINT) FROM lifecycle_transitions \
                         WHERE workspace_id = $1 AND on_date >= $2 AND on_date <= $3 GROUP BY from_stage, to_stage \
                         ORDER BY from_stage, to_stage",
                    )
                    .bind(workspace_id)
                    .bind(from_date)
                    .bind(to_date)
                    .fetch_all(self.reader())
                    .await?;
                    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))).collect()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn segment(&self, workspace_id: &str, id: &str) -> Result<Option<SegmentRecord>> {
                    let row = sqlx::query(
                        "SELECT id, name, condition, created_at, updated_at, version FROM segments WHERE workspace_id = $1 AND id = $2",
                    )
                    .bind(workspace_id)
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?;
                    row.map(|r| {
                        Ok(SegmentRecord {
                            id: r.try_get(0)?,
                            name: r.try_get(1)?,
                            condition: r.try_get(2)?,
                            created_at: r.try_get(3)?,
                            updated_at: r.try_get(4)?,
                            version: r.try_get(5)?,
                        })
                    })
                    .transpose()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn list_segments(&self, workspace_id: &str) -> Result<Vec<SegmentRecord>> {
                    let rows = sqlx::query(
                        "SELECT id, name, condition, created_at, updated_at, version FROM segments WHERE workspace_id = $1 ORDER BY id",
                    )
                    .bind(workspace_id)
                    .fetch_all(self.reader())
                    .await?;
                    rows.iter()
                        .map(|r| {
                            Ok(SegmentRecord {
                                id: r.try_get(0)?,
                                name: r.try_get(1)?,
                                condition: r.try_get(2)?,
                                created_at: r.try_get(3)?,
                                updated_at: r.try_get(4)?,
                                version: r.try_get(5)?,
                            })
                        })
                        .collect()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn segment_sizes(&self, segment_id: &str) -> Result<Vec<(String, i64)>> {
                    let rows = sqlx::query("SELECT on_date, size FROM segment_sizes WHERE segment_id = $1 ORDER BY on_date")
                        .bind(segment_id)
                        .fetch_all(self.reader())
                        .await?;
                    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn segment_versions(&self, segment_id: &str) -> Result<Vec<SegmentVersion>> {
                    let rows = sqlx::query(
                        "SELECT version, name, condition, at FROM segment_versions WHERE segment_id = $1 ORDER BY version DESC",
                    )
                    .bind(segment_id)
                    .fetch_all(self.reader())
                    .await?;
                    rows.iter()
                        .map(|r| {
                            Ok(SegmentVersion {
                                version: r.try_get(0)?,
                                name: r.try_get(1)?,
                                condition: r.try_get(2)?,
                                at: r.try_get(3)?,
                            })
                        })
                        .collect()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn points_expiring(&self, workspace_id: &str, from: Millis, until: Millis) -> Result<Vec<(String, i64)>> {
                    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT p.member_id, CAST(SUM(p.remaining) AS BIGINT) FROM points_lots p WHERE p.workspace_id = $1 AND {} \
                         GROUP BY p.member_id",
                        expiring_pred(from, until)
                    )))
                    .bind(workspace_id)
                    .fetch_all(self.reader())
                    .await?;
                    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn purchase_counts(
                    &self,
                    workspace_id: &str,
                    kind: &str,
                    values: &[String],
                    since: Option<Millis>,
                    until: Millis,
                ) -> Result<Vec<(String, i64)>> {
                    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT i.member_id, CAST(COUNT(DISTINCT i.order_id) AS BIGINT) FROM {PURCHASED_FROM} \
                         WHERE i.workspace_id = $1 AND {} GROUP BY i.member_id",
                        purchased_pred(kind, values, since, until)
                    )))
                    .bind(workspace_id)
                    .fetch_all(self.reader())
                    .await?;
                    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn tag_rules(&self, workspace_id: &str) -> Result<Vec<TagRuleRecord>> {
                    let rows = sqlx::query(
                        "SELECT tag, condition, created_at, updated_at, refreshed_at FROM tag_rules WHERE workspace_id = $1 ORDER BY tag",
                    )
                    .bind(workspace_id)
                    .fetch_all(self.reader())
                    .await?;
                    rows.iter()
                        .map(|r| {
                            Ok(TagRuleRecord {
                                tag: r.try_get(0)?,
                                condition: r.try_get(1)?,
                                created_at: r.try_get(2)?,
                                updated_at: r.try_get(3)?,
                                refreshed_at: r.try_get(4)?,
                            })
                        })
                        .collect()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn tag_counts(&self, workspace_id: &str) -> Result<Vec<(String, String, i64)>> {
                    let rows = sqlx::query(
                        "SELECT tag, source, CAST(COUNT(*) AS BIGINT) FROM member_tags WHERE workspace_id = $1 GROUP BY tag, source ORDER BY tag, source",
                    )
                    .bind(workspace_id)
                    .fetch_all(self.reader())
                    .await?;
                    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))).collect()
                }
            }
        };
    };
}

pub(crate) use impl_segment_catalog;
