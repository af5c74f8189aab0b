//! The twin migration trees cannot drift: both databases, migrated, have the same tables
//! and views, the same columns (by type family and nullability), the same primary keys,
//! unique constraints and indexes (by table and columns).

use std::collections::BTreeSet;

use sqlx::Row;

use crate::helpers::TestDb;

/// A type as a family both dialects share.
fn family(t: &str) -> &'static str {
    let t = t.to_ascii_lowercase();
    if t.contains("int") {
        "integer"
    } else if t.contains("char") || t.contains("text") || t.contains("json") {
        "text"
    } else if t.contains("real")
        || t.contains("double")
        || t.contains("float")
        || t.contains("numeric")
    {
        "float"
    } else if t.contains("bool") {
        "boolean"
    } else if t.contains("blob") || t.contains("bytea") {
        "bytes"
    } else {
        "other"
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Schema {
    /// `table` or `view: name`.
    relations: BTreeSet<String>,
    /// `table.column family null|not null` (tables only).
    columns: BTreeSet<String>,
    /// `table(col, col) kind` for primary keys (`pk`) and unique indexes or constraints
    /// (`unique`), and plain indexes (`index`), by their columns.
    keys: BTreeSet<String>,
}

async fn sqlite_schema(url: &str) -> Schema {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{url}"))
        .await
        .expect("sqlite");
    let mut s = Schema::default();
    let rels = sqlx::query(
        "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view') \
         AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%' ORDER BY name",
    )
    .fetch_all(&pool)
    .await
    .expect("relations");
    for r in rels {
        let (kind, name): (String, String) = (r.get(0), r.get(1));
        if kind == "view" {
            s.relations.insert(format!("view: {name}"));
            continue;
        }
        s.relations.insert(name.clone());
        let cols = sqlx::query(
            "SELECT name, type, \"notnull\", pk FROM pragma_table_info(?) ORDER BY cid",
        )
        .bind(&name)
        .fetch_all(&pool)
        .await
        .expect("columns");
        let mut pk: Vec<(i64, String)> = Vec::new();
        for c in cols {
            let (col, ty, notnull, pkpos): (String, String, i64, i64) =
                (c.get(0), c.get(1), c.get(2), c.get(3));
            // SQLite lets a primary key column be NULL unless it says NOT NULL; PostgreSQL
            // never does: compare them as NOT NULL.
            let null = if notnull == 1 || pkpos > 0 {
                "not null"
            } else {
                "null"
            };
            s.columns
                .insert(format!("{name}.{col} {} {null}", family(&ty)));
            if pkpos > 0 {
                pk.push((pkpos, col));
            }
        }
        pk.sort();
        if !pk.is_empty() {
            let cols: Vec<String> = pk.into_iter().map(|(_, c)| c).collect();
            s.keys.insert(format!("{name}({}) pk", cols.join(", ")));
        }
        let idx = sqlx::query("SELECT name, \"unique\", origin, partial FROM pragma_index_list(?)")
            .bind(&name)
            .fetch_all(&pool)
            .await
            .expect("indexes");
        for i in idx {
            let (iname, unique, origin, partial): (String, i64, String, i64) =
                (i.get(0), i.get(1), i.get(2), i.get(3));
            if origin == "pk" {
                continue;
            }
            let cols: Vec<String> =
                sqlx::query("SELECT name FROM pragma_index_info(?) ORDER BY seqno")
                    .bind(&iname)
                    .fetch_all(&pool)
                    .await
                    .expect("index columns")
                    .into_iter()
                    .map(|r| r.get::<String, _>(0))
                    .collect();
            let kind = if unique == 1 { "unique" } else { "index" };
            let partial = if partial == 1 { " partial" } else { "" };
            s.keys
                .insert(format!("{name}({}) {kind}{partial}", cols.join(", ")));
        }
    }
    pool.close().await;
    s
}

async fn postgres_schema(url: &str) -> Schema {
    let pool = sqlx::PgPool::connect(url).await.expect("postgres");
    let mut s = Schema::default();
    let rels = sqlx::query(
        "SELECT table_type, table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_name NOT LIKE '_sqlx%' ORDER BY table_name",
    )
    .fetch_all(&pool)
    .await
    .expect("relations");
    for r in rels {
        let (kind, name): (String, String) = (r.get(0), r.get(1));
        if kind == "VIEW" {
            s.relations.insert(format!("view: {name}"));
        } else {
            s.relations.insert(name);
        }
    }
    let cols = sqlx::query(
        "SELECT c.table_name::text, c.column_name::text, c.data_type::text, c.is_nullable::text \
         FROM information_schema.columns c JOIN information_schema.tables t \
         ON t.table_name = c.table_name AND t.table_schema = c.table_schema \
         WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' AND c.table_name NOT LIKE '_sqlx%'",
    )
    .fetch_all(&pool)
    .await
    .expect("columns");
    for c in cols {
        let (table, col, ty, nullable): (String, String, String, String) =
            (c.get(0), c.get(1), c.get(2), c.get(3));
        let null = if nullable == "YES" {
            "null"
        } else {
            "not null"
        };
        s.columns
            .insert(format!("{table}.{col} {} {null}", family(&ty)));
    }
    // Every index (constraints make theirs), with its columns in key order.
    let idx = sqlx::query(
        "SELECT t.relname::text, ix.indisprimary, ix.indisunique, ix.indpred IS NOT NULL, \
         array_agg(a.attname::text ORDER BY k.ord) \
         FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid JOIN pg_class i ON i.oid = ix.indexrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         CROSS JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord) \
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
         WHERE n.nspname = 'public' AND t.relname NOT LIKE '_sqlx%' \
         GROUP BY t.relname, i.relname, ix.indisprimary, ix.indisunique, ix.indpred",
    )
    .fetch_all(&pool)
    .await
    .expect("indexes");
    for i in idx {
        let (table, primary, unique, partial, cols): (String, bool, bool, bool, Vec<String>) =
            (i.get(0), i.get(1), i.get(2), i.get(3), i.get(4));
        let kind = if primary {
            "pk"
        } else if unique {
            "unique"
        } else {
            "index"
        };
        let partial = if partial { " partial" } else { "" };
        s.keys
            .insert(format!("{table}({}) {kind}{partial}", cols.join(", ")));
    }
    pool.close().await;
    s
}

fn diff(what: &str, sqlite: &BTreeSet<String>, pg: &BTreeSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    for x in sqlite.difference(pg) {
        out.push(format!("{what} only on SQLite: {x}"));
    }
    for x in pg.difference(sqlite) {
        out.push(format!("{what} only on PostgreSQL: {x}"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_migration_trees_give_the_same_schema() {
    let Some(pg) = TestDb::postgres().await else {
        return;
    };
    let lite = TestDb::sqlite();
    for db in [&lite, &pg] {
        memberops_store::connect(&db.url)
            .await
            .expect("connect")
            .migrate()
            .await
            .expect("migrate");
    }
    let (a, b) = (
        sqlite_schema(&lite.url).await,
        postgres_schema(&pg.url).await,
    );
    assert!(a.relations.len() > 20, "{:?}", a.relations);
    let mut drift = diff("relation", &a.relations, &b.relations);
    drift.extend(diff("column", &a.columns, &b.columns));
    drift.extend(diff("key", &a.keys, &b.keys));
    assert!(
        drift.is_empty(),
        "the migration trees drifted:\n{}",
        drift.join("\n")
    );
}
