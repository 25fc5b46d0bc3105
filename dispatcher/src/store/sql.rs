//! The writer's connection and one way to run a statement on it, on either backend.
//!
//! The single writer talks to SQLite natively (rusqlite, on its own thread):
//! through sqlx's SQLite driver every statement is a round trip to a worker
//! thread, two thread wake-ups that cost more than the statement itself, and a
//! report needs several statements. PostgreSQL stays on sqlx. The statements in
//! [`crate::store::write`] are written once, with `$N` placeholders both
//! backends understand, and run through the helpers here.

use std::borrow::Cow;
use std::fmt;

use sqlx::any::AnyRow;
use sqlx::error::{DatabaseError, ErrorKind};
use sqlx::{AnyConnection, Column, Executor, Row as _, TypeInfo as _};

use super::write::DbResult;

/// The connection a command runs its statements on (inside the batch's transaction).
#[derive(Debug)]
pub enum WriteConn<'a> {
    /// The writer's native SQLite connection.
    Sqlite(&'a mut rusqlite::Connection),
    /// A sqlx connection: the PostgreSQL writer, or a reader of either backend.
    Sqlx(&'a mut AnyConnection),
}

impl WriteConn<'_> {
    /// Rows inserted, updated or deleted on this connection so far, where the
    /// backend tells (the native SQLite connection); `None` otherwise.
    pub fn total_changes(&self) -> Option<u64> {
        match self {
            WriteConn::Sqlite(c) => Some(c.total_changes()),
            WriteConn::Sqlx(_) => None,
        }
    }

    /// The same connection, borrowed for a shorter time (to hand to one command).
    pub fn reborrow(&mut self) -> WriteConn<'_> {
        match self {
            WriteConn::Sqlite(c) => WriteConn::Sqlite(c),
            WriteConn::Sqlx(c) => WriteConn::Sqlx(c),
        }
    }
}

/// A parameter or a column value.
///
/// A parameter's NULL keeps its type ([`Value::NullText`], ...): PostgreSQL
/// checks it against the column's.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A NULL column (in rows read back).
    Null,
    NullInt,
    NullReal,
    NullText,
    Bool(bool),
    Int(i64),
    Real(f64),
    Text(String),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Real(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}
impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Self {
        v.map_or(Value::NullInt, Value::Int)
    }
}
impl From<Option<f64>> for Value {
    fn from(v: Option<f64>) -> Self {
        v.map_or(Value::NullReal, Value::Real)
    }
}
impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        v.map_or(Value::NullText, Value::Text)
    }
}

/// One result row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(Vec<Value>);

impl Row {
    fn at(&self, i: usize) -> DbResult<&Value> {
        self.0.get(i).ok_or_else(|| sqlx::Error::ColumnIndexOutOfBounds {
            index: i,
            len: self.0.len(),
        })
    }

    pub fn text(&self, i: usize) -> DbResult<String> {
        match self.at(i)? {
            Value::Text(s) => Ok(s.clone()),
            other => Err(mismatch(i, "text", other)),
        }
    }

    pub fn int(&self, i: usize) -> DbResult<i64> {
        self.opt_int(i)?.ok_or_else(|| mismatch(i, "integer", &Value::Null))
    }

    pub fn opt_int(&self, i: usize) -> DbResult<Option<i64>> {
        match self.at(i)? {
            Value::Int(v) => Ok(Some(*v)),
            Value::Null | Value::NullInt => Ok(None),
            other => Err(mismatch(i, "integer", other)),
        }
    }

    /// A `BOOLEAN` column: PostgreSQL's own type, an integer on SQLite.
    pub fn bool(&self, i: usize) -> DbResult<bool> {
        match self.at(i)? {
            Value::Bool(b) => Ok(*b),
            Value::Int(v) => Ok(*v != 0),
            other => Err(mismatch(i, "boolean", other)),
        }
    }
}

fn mismatch(i: usize, wanted: &str, got: &Value) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: i.to_string(),
        source: format!("expected {wanted}, found {got:?}").into(),
    }
}

/// Runs one statement; returns the number of rows it changed.
pub async fn execute(conn: &mut WriteConn<'_>, sql: &str, params: &[Value]) -> DbResult<u64> {
    match conn {
        WriteConn::Sqlite(c) => {
            let mut stmt = c.prepare_cached(&sqlite_sql(sql)).map_err(sqlite_error)?;
            bind(&mut stmt, params)?;
            let changed = stmt.raw_execute().map_err(sqlite_error)?;
            Ok(changed as u64)
        }
        WriteConn::Sqlx(c) => {
            let done = pg_query(sql, params).execute(&mut **c).await?;
            Ok(done.rows_affected())
        }
    }
}

/// Runs statements without parameters (`SAVEPOINT`, `RELEASE`, ...), possibly several separated by `;`.
pub async fn execute_batch(conn: &mut WriteConn<'_>, sql: &str) -> DbResult<()> {
    match conn {
        // Kept prepared like every other statement: the writer runs
        // `SAVEPOINT`/`RELEASE` for every command.
        WriteConn::Sqlite(c) => {
            for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                let mut stmt = c.prepare_cached(statement).map_err(sqlite_error)?;
                stmt.raw_execute().map_err(sqlite_error)?;
            }
            Ok(())
        }
        WriteConn::Sqlx(c) => {
            (&mut **c).execute(sql).await?;
            Ok(())
        }
    }
}

/// Runs a query; every row it returns.
pub async fn fetch_all(conn: &mut WriteConn<'_>, sql: &str, params: &[Value]) -> DbResult<Vec<Row>> {
    match conn {
        WriteConn::Sqlite(c) => {
            let mut stmt = c.prepare_cached(&sqlite_sql(sql)).map_err(sqlite_error)?;
            bind(&mut stmt, params)?;
            let width = stmt.column_count();
            let mut rows = stmt.raw_query();
            let mut out = Vec::new();
            while let Some(row) = rows.next().map_err(sqlite_error)? {
                let mut values = Vec::with_capacity(width);
                for i in 0..width {
                    values.push(sqlite_value(row.get_ref(i).map_err(sqlite_error)?)?);
                }
                out.push(Row(values));
            }
            Ok(out)
        }
        WriteConn::Sqlx(c) => {
            let rows = pg_query(sql, params).fetch_all(&mut **c).await?;
            rows.iter().map(pg_row).collect()
        }
    }
}

/// Runs a query; its first row, if any.
pub async fn fetch_optional(conn: &mut WriteConn<'_>, sql: &str, params: &[Value]) -> DbResult<Option<Row>> {
    match conn {
        WriteConn::Sqlite(_) => Ok(fetch_all(conn, sql, params).await?.into_iter().next()),
        WriteConn::Sqlx(c) => pg_query(sql, params)
            .fetch_optional(&mut **c)
            .await?
            .as_ref()
            .map(pg_row)
            .transpose(),
    }
}

/// Runs a query that returns exactly one row.
pub async fn fetch_one(conn: &mut WriteConn<'_>, sql: &str, params: &[Value]) -> DbResult<Row> {
    fetch_optional(conn, sql, params).await?.ok_or(sqlx::Error::RowNotFound)
}

/// The statement as the native SQLite connection runs it: `$N` placeholders
/// become `?N`. SQLite numbers `$N` by order of appearance, so binding them
/// meant looking each name up (a linear scan per parameter: quadratic for the
/// 512-parameter event inserts); `?N` is parameter N itself.
fn sqlite_sql(sql: &str) -> Cow<'_, str> {
    if !sql.contains('$') {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Binds `params[N - 1]` to each `?N` of a statement prepared from [`sqlite_sql`].
fn bind(stmt: &mut rusqlite::CachedStatement<'_>, params: &[Value]) -> DbResult<()> {
    let wanted = stmt.parameter_count();
    if wanted > params.len() {
        return Err(sqlx::Error::Protocol(format!(
            "statement wants ${wanted}, {} parameters given",
            params.len()
        )));
    }
    for (index, value) in (1..=wanted).zip(params) {
        let bound = match value {
            Value::Null | Value::NullInt | Value::NullReal | Value::NullText => {
                stmt.raw_bind_parameter(index, rusqlite::types::Null)
            }
            Value::Bool(b) => stmt.raw_bind_parameter(index, i64::from(*b)),
            Value::Int(v) => stmt.raw_bind_parameter(index, v),
            Value::Real(v) => stmt.raw_bind_parameter(index, v),
            Value::Text(s) => stmt.raw_bind_parameter(index, s.as_str()),
        };
        bound.map_err(sqlite_error)?;
    }
    Ok(())
}

fn sqlite_value(v: rusqlite::types::ValueRef<'_>) -> DbResult<Value> {
    use rusqlite::types::ValueRef;
    Ok(match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(
            std::str::from_utf8(t)
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))?
                .to_owned(),
        ),
        ValueRef::Blob(_) => return Err(sqlx::Error::Decode("unexpected blob column".into())),
    })
}

fn pg_query<'q>(sql: &'q str, params: &'q [Value]) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    let mut q = sqlx::query(sql);
    for p in params {
        q = match p {
            Value::Null | Value::NullInt => q.bind(None::<i64>),
            Value::NullReal => q.bind(None::<f64>),
            Value::NullText => q.bind(None::<String>),
            Value::Bool(b) => q.bind(*b),
            Value::Int(v) => q.bind(*v),
            Value::Real(v) => q.bind(*v),
            Value::Text(s) => q.bind(s.as_str()),
        };
    }
    q
}

fn pg_row(row: &AnyRow) -> DbResult<Row> {
    use sqlx::any::AnyTypeInfoKind as Kind;
    let mut values = Vec::with_capacity(row.columns().len());
    for (i, column) in row.columns().iter().enumerate() {
        let value = match column.type_info().kind() {
            Kind::Null => Value::Null,
            Kind::Bool => row.try_get::<Option<bool>, _>(i)?.map_or(Value::Null, Value::Bool),
            Kind::SmallInt => row
                .try_get::<Option<i16>, _>(i)?
                .map_or(Value::Null, |v| Value::Int(v.into())),
            Kind::Integer => row
                .try_get::<Option<i32>, _>(i)?
                .map_or(Value::Null, |v| Value::Int(v.into())),
            Kind::BigInt => row.try_get::<Option<i64>, _>(i)?.map_or(Value::Null, Value::Int),
            Kind::Real => row
                .try_get::<Option<f32>, _>(i)?
                .map_or(Value::Null, |v| Value::Real(v.into())),
            Kind::Double => row.try_get::<Option<f64>, _>(i)?.map_or(Value::Null, Value::Real),
            Kind::Text => row.try_get::<Option<String>, _>(i)?.map_or(Value::Null, Value::Text),
            Kind::Blob => {
                return Err(sqlx::Error::Decode(
                    format!("unexpected {} column", column.type_info().name()).into(),
                ))
            }
        };
        values.push(value);
    }
    Ok(Row(values))
}

/// A SQLite error in the shape the rest of the code (and [`crate::error`]) knows: a sqlx database error.
pub fn sqlite_error(e: rusqlite::Error) -> sqlx::Error {
    match e {
        rusqlite::Error::SqliteFailure(failure, message) => {
            use rusqlite::ffi;
            let kind = match failure.extended_code {
                ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => ErrorKind::UniqueViolation,
                ffi::SQLITE_CONSTRAINT_FOREIGNKEY => ErrorKind::ForeignKeyViolation,
                ffi::SQLITE_CONSTRAINT_NOTNULL => ErrorKind::NotNullViolation,
                ffi::SQLITE_CONSTRAINT_CHECK => ErrorKind::CheckViolation,
                _ => ErrorKind::Other,
            };
            sqlx::Error::Database(Box::new(SqliteFailure {
                message: message.unwrap_or_else(|| failure.to_string()),
                code: failure.extended_code.to_string(),
                kind,
            }))
        }
        other => sqlx::Error::Protocol(format!("sqlite: {other}")),
    }
}

#[derive(Debug)]
struct SqliteFailure {
    message: String,
    code: String,
    kind: ErrorKind,
}

impl fmt::Display for SqliteFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (sqlite code {})", self.message, self.code)
    }
}

impl std::error::Error for SqliteFailure {}

impl DatabaseError for SqliteFailure {
    fn message(&self) -> &str {
        &self.message
    }
    fn code(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(&self.code))
    }
    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }
    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }
    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }
    fn kind(&self) -> ErrorKind {
        match self.kind {
            ErrorKind::UniqueViolation => ErrorKind::UniqueViolation,
            ErrorKind::ForeignKeyViolation => ErrorKind::ForeignKeyViolation,
            ErrorKind::NotNullViolation => ErrorKind::NotNullViolation,
            ErrorKind::CheckViolation => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory() -> rusqlite::Connection {
        let c = rusqlite::Connection::open_in_memory().expect("sqlite");
        c.execute_batch("CREATE TABLE t (id TEXT PRIMARY KEY, n BIGINT, x DOUBLE PRECISION, flag BOOLEAN)")
            .expect("table");
        c
    }

    #[tokio::test]
    async fn placeholders_bind_by_number_not_by_position() {
        let mut c = memory();
        let mut conn = WriteConn::Sqlite(&mut c);
        let params = [
            Value::from(7_i64),
            Value::from("a"),
            Value::from(Some(1.5)),
            Value::from(true),
        ];
        execute(
            &mut conn,
            "INSERT INTO t (n, id, x, flag) VALUES ($1, $2, $3, $4)",
            &params,
        )
        .await
        .expect("insert");
        let changed = execute(
            &mut conn,
            "UPDATE t SET n = $2 WHERE id = $1",
            &["a".into(), 9_i64.into()],
        )
        .await
        .expect("update");
        assert_eq!(changed, 1);
        let row = fetch_one(&mut conn, "SELECT id, n, flag FROM t WHERE id = $1", &["a".into()])
            .await
            .expect("row");
        assert_eq!(row.text(0).expect("id"), "a");
        assert_eq!(row.int(1).expect("n"), 9);
        assert_eq!(row.int(2).expect("flag"), 1);
        assert!(row.text(1).is_err(), "a number is not text");
    }

    #[tokio::test]
    async fn constraint_failures_keep_their_kind() {
        let mut c = memory();
        let mut conn = WriteConn::Sqlite(&mut c);
        let insert = "INSERT INTO t (id) VALUES ($1)";
        execute(&mut conn, insert, &["a".into()]).await.expect("first");
        let err = execute(&mut conn, insert, &["a".into()]).await.expect_err("duplicate");
        match err {
            sqlx::Error::Database(db) => assert!(db.is_unique_violation(), "{db}"),
            other => panic!("not a database error: {other}"),
        }
        let missing = execute(&mut conn, insert, &[]).await.expect_err("too few parameters");
        assert!(missing.to_string().contains("$1"), "{missing}");
    }
}
