//! DDL statements bound to the store's specs: `CREATE TABLE` columns, types and constraints.

use crate::bind::values::object_name;
use crate::error::{Result, SqlError};
use crate::store::{ColumnSpec, TableSpec};
use crate::types::SqlType;
use datafusion::sql::sqlparser::ast::{self as ast};

/// One column definition, and whether it says PRIMARY KEY.
pub(crate) fn column_spec(c: &ast::ColumnDef) -> Result<(ColumnSpec, bool)> {
    let name = c.name.value.to_lowercase();
    let (ty, size) = column_type(&c.data_type.to_string())?;
    let mut spec = ColumnSpec {
        name,
        ty,
        size,
        not_null: false,
        auto_increment: false,
    };
    let mut pk = false;
    for o in &c.options {
        match o.option.to_string().to_uppercase().as_str() {
            "NOT NULL" => spec.not_null = true,
            "NULL" => {}
            "AUTO_INCREMENT" => spec.auto_increment = true,
            "PRIMARY KEY" => pk = true,
            other => return Err(SqlError::NotSupported(format!("column option {other}"))),
        }
    }
    Ok((spec, pk))
}

/// `CREATE TABLE` in immudb's form, from the parsed statement.
pub(crate) fn table_spec(ct: &ast::CreateTable) -> Result<TableSpec> {
    let mut columns = Vec::with_capacity(ct.columns.len());
    let mut pk: Vec<String> = Vec::new();
    let mut checks = Vec::new();
    for c in &ct.columns {
        let (spec, is_pk) = column_spec(c)?;
        if is_pk {
            if !pk.is_empty() {
                return Err(SqlError::MultiplePrimaryKeys(object_name(&ct.name)));
            }
            pk.push(spec.name.clone());
        }
        columns.push(spec);
    }
    for con in &ct.constraints {
        if let ast::TableConstraint::Check(c) = con {
            checks.push((
                c.name.as_ref().map(|n| n.value.clone()),
                crate::store::checks::expression_text(&c.expr),
            ));
            continue;
        }
        let text = con.to_string();
        let Some(rest) = text.strip_prefix("PRIMARY KEY") else {
            return Err(SqlError::NotSupported(format!("table constraint {text}")));
        };
        if !pk.is_empty() {
            return Err(SqlError::MultiplePrimaryKeys(object_name(&ct.name)));
        }
        pk = rest
            .trim()
            .trim_start_matches('(')
            .trim_end_matches(')')
            .split(',')
            .map(|s| s.trim().trim_matches('"').to_lowercase())
            .collect();
    }
    Ok(TableSpec {
        name: object_name(&ct.name),
        columns,
        primary_key: pk,
        checks,
        if_not_exists: ct.if_not_exists,
    })
}

/// `INTEGER`, `VARCHAR(8)`, ... → type and declared size.
pub(crate) fn column_type(text: &str) -> Result<(SqlType, Option<u32>)> {
    let up = text.to_uppercase();
    let (base, size) = match up.split_once('(') {
        Some((b, rest)) => {
            let n = rest
                .trim_end_matches(')')
                .trim()
                .parse::<u32>()
                .map_err(|_| SqlError::Parsing(format!("bad size in {text}")))?;
            (b.trim().to_string(), Some(n))
        }
        None => (up.trim().to_string(), None),
    };
    let ty = match base.as_str() {
        "INTEGER" => SqlType::Integer,
        "BOOLEAN" => SqlType::Boolean,
        "VARCHAR" => SqlType::Varchar,
        "BLOB" => SqlType::Blob,
        "FLOAT" => SqlType::Float,
        "TIMESTAMP" => SqlType::Timestamp,
        "UUID" => SqlType::Uuid,
        "JSON" => SqlType::Json,
        other => {
            return Err(SqlError::NotSupported(format!(
                "type {other}: use INTEGER, BOOLEAN, VARCHAR, BLOB, FLOAT, TIMESTAMP, UUID or JSON"
            )))
        }
    };
    Ok((ty, size))
}
