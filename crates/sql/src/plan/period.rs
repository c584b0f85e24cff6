//! Periods of time travel (SINCE / AFTER / UNTIL / BEFORE, TX n or a timestamp) resolved to
//! tx ranges (spec immudb-sql.md §1.7).

use crate::bind::select;
use crate::error::{Result, SqlError};
use crate::parse::Period;
use crate::plan::errors::df_err;
use crate::plan::query::Planner;
use crate::store::arrow::from_scalar;
use crate::store::{TxRange, WriteSet};
use crate::types::Value;
use datafusion::common::ScalarValue;
use datafusion::sql::sqlparser::ast::{self, Expr as SqlExpr, Statement};
use stele_ledger::proof::TxId;

impl Planner<'_> {
    /// SINCE/AFTER/UNTIL/BEFORE TX n → a tx range (spec immudb-sql.md §1.7); `now_micros`
    /// is the statement's `NOW()`.
    pub(crate) fn resolve_period(
        &self,
        p: &Period,
        snapshot: TxId,
        now_micros: i64,
    ) -> Result<TxRange> {
        let mut range = TxRange {
            from: 1,
            until: snapshot,
        };
        let ledger = self.store.ledger();
        for b in [&p.start, &p.end].into_iter().flatten() {
            let expr = match b.tx {
                true => b.expr.clone(),
                false => SqlExpr::Cast {
                    kind: ast::CastKind::Cast,
                    expr: Box::new(b.expr.clone()),
                    data_type: ast::DataType::Timestamp(None, ast::TimezoneInfo::None),
                    array: false,
                    format: None,
                },
            };
            // `TX 42` needs no query; anything else is evaluated by DataFusion.
            let literal = match (&b.expr, b.tx) {
                (SqlExpr::Value(v), true) => match &v.value {
                    ast::Value::Number(n, _) => n.parse::<i64>().ok(),
                    _ => None,
                },
                _ => None,
            };
            let value = match literal {
                Some(n) => Value::Integer(n),
                None => {
                    let stmt = select::value(expr);
                    // Evaluated in the statement's time: NOW() is the transaction's.
                    let mut ws = WriteSet::default();
                    ws.now_micros = now_micros;
                    self.eval_scalar(stmt, &ws)?
                }
            };
            let start = matches!(b.keyword.as_str(), "SINCE" | "AFTER");
            if !b.tx {
                // A timestamp bound: the first tx at/after it, or the last tx at/before it;
                // the exclusive forms move the instant by one second.
                let Value::Timestamp(us) = value else {
                    return Err(SqlError::IllegalArguments(
                        "a period bound must be TX n or a timestamp".into(),
                    ));
                };
                let secs = us.div_euclid(1_000_000);
                let found = match b.keyword.as_str() {
                    "SINCE" => ledger.first_tx_since(secs)?,
                    "AFTER" => ledger.first_tx_since(secs + 1)?,
                    "UNTIL" => ledger.last_tx_until(secs)?,
                    _ => ledger.last_tx_until(secs - 1)?,
                };
                match (found, start) {
                    (Some(id), true) => range.from = range.from.max(id),
                    (Some(id), false) => range.until = range.until.min(id),
                    // No such tx: the range is empty, which is not an error.
                    (None, _) => range = TxRange { from: 1, until: 0 },
                }
                continue;
            }
            let Value::Integer(n) = value else {
                return Err(SqlError::IllegalArguments(
                    "a tx id must be an integer".into(),
                ));
            };
            if n <= 0 {
                return Err(SqlError::IllegalArguments(format!(
                    "invalid tx range, tx ID must be a positive integer, {n} given"
                )));
            }
            let n = n as u64;
            match b.keyword.as_str() {
                "SINCE" => range.from = n,
                "AFTER" => range.from = n + 1,
                "UNTIL" => range.until = range.until.min(n),
                _ => {
                    if n == 1 {
                        return Err(SqlError::IllegalArguments(
                            "invalid tx range, tx ID must be greater than 1, 1 given".into(),
                        ));
                    }
                    range.until = range.until.min(n - 1)
                }
            }
        }
        Ok(range)
    }
}

impl Planner<'_> {
    /// The first value of the first row a constant query (`SELECT expr`) answers, NULL if none.
    pub(crate) fn eval_scalar(&self, stmt: Statement, ws: &WriteSet) -> Result<Value> {
        let (ctx, plan, _) = self.plan(stmt, &[], ws)?;
        let batches = self
            .runtime
            .block_on(async { ctx.execute_logical_plan(plan).await?.collect().await })
            .map_err(df_err)?;
        match batches.iter().find(|b| b.num_rows() > 0) {
            Some(b) => from_scalar(ScalarValue::try_from_array(b.column(0), 0).map_err(df_err)?),
            None => Ok(Value::Null),
        }
    }
}
