//! Quartiers storage: one query layer over SQLite (embedded, the default) and PostgreSQL.
//!
//! Queries are written once, in the SQL both engines understand, and run through sqlx's
//! `Any` driver; `$1` placeholders work on both. The only engine-specific text is the
//! primary-key clause substituted into the migrations (see [`migrate`]) and the SQLite
//! pragmas set at connection time.

pub mod amendments;
pub mod contracts;
pub mod funding;
pub mod geography;
mod migrate;
pub mod outbox;
pub mod users;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor};
use std::time::Duration;
use time::OffsetDateTime;

pub use migrate::MIGRATIONS;
pub use sqlx::Row;

/// The database engine behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist.
    #[error("introuvable")]
    NotFound,
    /// A uniqueness rule or a concurrent edit refused the write (French message).
    #[error("{0}")]
    Conflict(String),
    /// The data broke a domain rule.
    #[error("{0}")]
    Invalid(#[from] quartiers_domain::ValidationErrors),
    /// The database failed.
    #[error("erreur de base de données : {0}")]
    Database(#[from] sqlx::Error),
}

impl StoreError {
    /// Whether the error is a unique-constraint violation.
    pub fn is_unique_violation(e: &sqlx::Error) -> bool {
        e.as_database_error()
            .is_some_and(|d| d.is_unique_violation())
    }
}

/// Result of storage operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// A connection pool to the platform's database.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: never print it.
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish()
    }
}

/// Turns what a user typed (`quartiers.db`, `sqlite:x.db`, `postgres://…`) into a driver URL.
pub fn normalize_url(url: &str) -> (String, Backend) {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        (url.to_string(), Backend::Postgres)
    } else {
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        let sep = if path.contains('?') { '&' } else { '?' };
        let with_mode = if path.contains("mode=") {
            path.to_string()
        } else {
            format!("{path}{sep}mode=rwc")
        };
        (format!("sqlite://{with_mode}"), Backend::Sqlite)
    }
}

impl Store {
    /// Connects to the database at `url` (a SQLite path or a `postgres://` URL),
    /// creating the SQLite file when missing, with WAL and foreign keys on.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        sqlx::any::install_default_drivers();
        let (url, backend) = normalize_url(url);
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute("PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL;").await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        Ok(Self { pool, backend })
    }

    /// Connects and applies pending migrations.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let store = Self::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// The engine.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for the few callers that run their own statements (tests, benchmarks).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Applies the pending migrations, each in its own transaction.
    pub async fn migrate(&self) -> StoreResult<Vec<String>> {
        migrate::run(self).await
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The current UTC time as fixed-width text (`2026-11-22T19:31:00Z`), sortable as text.
pub fn now_text() -> String {
    timestamp_text(OffsetDateTime::now_utc())
}

/// Formats a timestamp as fixed-width UTC text.
pub fn timestamp_text(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Today's date (UTC).
pub fn today() -> time::Date {
    OffsetDateTime::now_utc().date()
}

pub(crate) fn get_str(row: &AnyRow, col: &str) -> StoreResult<String> {
    Ok(row.try_get::<String, _>(col)?)
}

pub(crate) fn get_opt_str(row: &AnyRow, col: &str) -> StoreResult<Option<String>> {
    Ok(row.try_get::<Option<String>, _>(col)?)
}

pub(crate) fn get_i64(row: &AnyRow, col: &str) -> StoreResult<i64> {
    Ok(row.try_get::<i64, _>(col)?)
}
