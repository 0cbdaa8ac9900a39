//! Batched writing for `generate national-load`: rows kept per table and written as
//! multi-row INSERT statements in one transaction, on SQLite and PostgreSQL.

use anyhow::Context;
use quartiers_store::{Backend, Store};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A value to insert.
#[derive(Debug, Clone)]
pub(super) enum V {
    I(i64),
    T(String),
    NullI,
    NullT,
}

pub(super) fn t(s: impl Into<String>) -> V {
    V::T(s.into())
}

pub(super) fn opt_i(v: Option<i64>) -> V {
    v.map(V::I).unwrap_or(V::NullI)
}

pub(super) fn opt_t(v: Option<String>) -> V {
    v.map(V::T).unwrap_or(V::NullT)
}

/// The tables written, in foreign-key order, with their columns.
const TABLES: &[(&str, &[&str])] = &[
    (
        "organisations",
        &[
            "id",
            "name",
            "siret",
            "rna",
            "address",
            "legal_representative",
            "email",
            "created_at",
        ],
    ),
    (
        "funders",
        &["contract_id", "code", "name", "email", "siret"],
    ),
    (
        "calls",
        &[
            "id",
            "contract_id",
            "year",
            "title",
            "opens_on",
            "closes_on",
            "settings",
            "published_at",
            "version",
            "created_at",
        ],
    ),
    (
        "envelopes",
        &["call_id", "funder_code", "component", "amount"],
    ),
    (
        "committees",
        &["id", "call_id", "held_on", "title", "members", "created_at"],
    ),
    (
        "applications",
        &[
            "id",
            "call_id",
            "contract_id",
            "year",
            "organisation_id",
            "reference",
            "title",
            "component",
            "status",
            "body",
            "version",
            "submitted_at",
            "created_at",
            "updated_at",
        ],
    ),
    ("application_nodes", &["application_id", "node_key"]),
    (
        "application_places",
        &["application_id", "qpv_code", "insee"],
    ),
    (
        "funding_lines",
        &[
            "id",
            "application_id",
            "contract_id",
            "year",
            "component",
            "funder_code",
            "status",
            "requested",
            "proposed",
            "opinion",
            "decision",
            "decided",
            "committee_id",
            "agreed",
            "paid",
        ],
    ),
    (
        "application_events",
        &[
            "application_id",
            "event",
            "from_status",
            "to_status",
            "actor_label",
            "comment",
            "at",
        ],
    ),
    (
        "agreements",
        &[
            "id",
            "line_id",
            "application_id",
            "contract_id",
            "funder_code",
            "reference",
            "kind",
            "amount",
            "years",
            "advance_percent",
            "report_due_on",
            "obligations",
            "amendments",
            "created_at",
        ],
    ),
    (
        "payments",
        &["agreement_id", "kind", "amount", "paid_on", "recorded_at"],
    ),
];

/// Rows waiting to be written, per table (flattened values).
pub(super) struct Pending {
    rows: Vec<Vec<V>>,
}

impl Pending {
    pub(super) fn new() -> Self {
        Pending {
            rows: TABLES.iter().map(|_| Vec::new()).collect(),
        }
    }
    pub(super) fn push(&mut self, table: &str, values: Vec<V>) {
        let i = TABLES
            .iter()
            .position(|(n, _)| *n == table)
            .expect("known table");
        debug_assert_eq!(values.len(), TABLES[i].1.len(), "{table}");
        self.rows[i].extend(values);
    }
    pub(super) fn count(&self) -> u64 {
        self.rows
            .iter()
            .zip(TABLES)
            .map(|(r, (_, c))| (r.len() / c.len()) as u64)
            .sum()
    }
}

/// Most rows in one INSERT statement.
const ROWS_PER_STATEMENT: usize = 500;

/// Writes the pending rows in one transaction, as multi-row INSERT statements.
pub(super) async fn flush(
    store: &Store,
    pending: &mut Pending,
    counts: &mut BTreeMap<&'static str, u64>,
) -> anyhow::Result<u64> {
    let max_params = match store.backend() {
        Backend::Sqlite => 30_000,
        Backend::Postgres => 60_000,
    };
    let sqlite = store.backend() == Backend::Sqlite;
    let mut tx = store.pool().begin().await?;
    let mut written = 0u64;
    for (values, (table, cols)) in pending.rows.iter_mut().zip(TABLES) {
        if values.is_empty() {
            continue;
        }
        let per_row = cols.len();
        let rows_per_statement = (max_params / per_row).clamp(1, ROWS_PER_STATEMENT);
        for chunk in values.chunks(rows_per_statement * per_row) {
            let n = chunk.len() / per_row;
            let mut sql = String::with_capacity(64 + n * per_row * 6);
            let _ = write!(sql, "INSERT INTO {table} ({}) VALUES ", cols.join(", "));
            let mut p = 1;
            for r in 0..n {
                sql.push_str(if r == 0 { "(" } else { ",(" });
                for c in 0..per_row {
                    if c > 0 {
                        sql.push(',');
                    }
                    // SQLite resolves numbered parameters by name, one scan each: positional
                    // `?` keeps large statements linear there.
                    if sqlite {
                        sql.push('?');
                    } else {
                        let _ = write!(sql, "${p}");
                    }
                    p += 1;
                }
                sql.push(')');
            }
            let mut q = sqlx::query(&sql);
            for v in chunk {
                q = match v {
                    V::I(i) => q.bind(*i),
                    V::T(s) => q.bind(s.as_str()),
                    V::NullI => q.bind(None::<i64>),
                    V::NullT => q.bind(None::<String>),
                };
            }
            q.execute(&mut *tx)
                .await
                .with_context(|| format!("écriture dans {table}"))?;
            written += n as u64;
            *counts.entry(table).or_default() += n as u64;
        }
        values.clear();
    }
    tx.commit().await?;
    Ok(written)
}
