//! DDL on tables and columns: CREATE TABLE, ADD / RENAME / DROP COLUMN, RENAME / DROP TABLE,
//! DROP CONSTRAINT, written as catalog entries of a transaction.

use super::catalog::{Column, Table};
use super::checks;
use super::encoding::{self, FLAG_AUTO_INCREMENT, FLAG_NOT_NULL, PRIMARY_INDEX_ID};
use super::handle::SqlStore;
use super::index::check_index_columns;
use super::write_set::WriteSet;
use crate::error::{Result, SqlError};
use crate::types::SqlType;
use stele_ledger::proof::{KvMetadata, TxHeader};
use stele_ledger::NewEntry;

pub(crate) const RESERVED: [&str; 3] = ["_rev", "_tx_metadata", "_diff_action"];

/// A column of a `CREATE TABLE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnSpec {
    /// The column's name.
    pub name: String,
    /// The column's SQL type.
    pub ty: SqlType,
    /// The declared size (`VARCHAR[n]`); `None` when absent.
    pub size: Option<u32>,
    /// Declared NOT NULL.
    pub not_null: bool,
    /// Declared AUTO_INCREMENT (allowed on a single-column INTEGER primary key only).
    pub auto_increment: bool,
}

/// A `CREATE TABLE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    /// The table's name.
    pub name: String,
    /// The columns, in declaration order (their ids follow it, from 1).
    pub columns: Vec<ColumnSpec>,
    /// The primary key's column names, in key order; must not be empty.
    pub primary_key: Vec<String>,
    /// CHECK constraints: optional name and the expression's text (see `check::expression_text`).
    pub checks: Vec<(Option<String>, String)>,
    /// `IF NOT EXISTS`: an existing table of that name is not an error, and nothing is written.
    pub if_not_exists: bool,
}

impl SqlStore {
    /// `CREATE TABLE` in its own tx. `Ok(None)` when `IF NOT EXISTS` finds the table.
    pub fn create_table(&self, spec: &TableSpec) -> Result<Option<TxHeader>> {
        let mut ws = self.begin();
        self.create_table_in(&mut ws, spec)?;
        self.commit(ws)
    }

    /// `CREATE TABLE` inside a transaction; `false` when `IF NOT EXISTS` finds the table.
    pub fn create_table_in(&self, ws: &mut WriteSet, spec: &TableSpec) -> Result<bool> {
        let cat = self.catalog_in(ws)?;
        if cat.tables.contains_key(&spec.name) {
            return if spec.if_not_exists {
                Ok(false)
            } else {
                Err(SqlError::TableAlreadyExists(spec.name.clone()))
            };
        }
        let mut seen = std::collections::HashSet::new();
        for c in &spec.columns {
            if RESERVED.contains(&c.name.as_str()) {
                return Err(SqlError::ReservedWord(c.name.clone()));
            }
            if !seen.insert(c.name.as_str()) {
                return Err(SqlError::DuplicatedColumn(c.name.clone()));
            }
            if c.size.is_some() && !matches!(c.ty, SqlType::Varchar | SqlType::Blob | SqlType::Json)
            {
                return Err(SqlError::LimitedMaxLen);
            }
        }
        if spec.primary_key.is_empty() {
            return Err(SqlError::NoPrimaryKey);
        }
        let pk: Vec<&ColumnSpec> = spec
            .primary_key
            .iter()
            .map(|n| {
                spec.columns
                    .iter()
                    .find(|c| &c.name == n)
                    .ok_or_else(|| SqlError::ColumnDoesNotExist(n.clone()))
            })
            .collect::<Result<_>>()?;
        let pk_cols: Vec<(SqlType, u32, &str)> = pk
            .iter()
            .map(|c| {
                (
                    c.ty,
                    c.ty.stored_max_len(c.size.unwrap_or(0)),
                    c.name.as_str(),
                )
            })
            .collect();
        check_index_columns(&pk_cols)?;
        for c in &spec.columns {
            if c.auto_increment
                && !(pk.len() == 1 && pk[0].name == c.name && c.ty == SqlType::Integer)
            {
                return Err(SqlError::LimitedAutoIncrement);
            }
        }

        let table = cat.max_table_id + 1;
        let mut entries = Vec::with_capacity(spec.columns.len() + 2);
        let mut pk_ids = Vec::new();
        for (i, c) in spec.columns.iter().enumerate() {
            let id = i as u32 + 1;
            if spec.primary_key.contains(&c.name) {
                pk_ids.push((
                    spec.primary_key.iter().position(|n| n == &c.name).unwrap(),
                    id,
                ));
            }
            let flags = if c.not_null { FLAG_NOT_NULL } else { 0 }
                | if c.auto_increment {
                    FLAG_AUTO_INCREMENT
                } else {
                    0
                };
            entries.push(NewEntry::new(
                encoding::column_key(table, id, c.ty),
                encoding::column_value(flags, c.ty.stored_max_len(c.size.unwrap_or(0)), &c.name),
            ));
        }
        pk_ids.sort();
        let pk_ids: Vec<u32> = pk_ids.into_iter().map(|(_, id)| id).collect();
        entries.insert(
            0,
            NewEntry::new(
                encoding::index_key(table, PRIMARY_INDEX_ID),
                encoding::index_value(true, &pk_ids),
            ),
        );
        let table_key = encoding::table_key(table);
        entries.push(NewEntry::new(
            table_key.clone(),
            spec.name.as_bytes().to_vec(),
        ));
        let mut names = std::collections::HashSet::new();
        for (i, (name, expr)) in spec.checks.iter().enumerate() {
            let id = i as u32 + 1;
            let name = name
                .clone()
                .unwrap_or_else(|| format!("{}_check{id}", spec.name));
            if name.is_empty() || name.len() > encoding::MAX_CONSTRAINT_NAME_LEN {
                return Err(SqlError::ConstraintNameTooLong);
            }
            if !names.insert(name.clone()) {
                return Err(SqlError::ConstraintAlreadyExists(name));
            }
            entries.push(NewEntry::new(
                encoding::check_key(table, id),
                encoding::check_value(&name, expr),
            ));
        }
        ws.fresh.insert(table_key);
        for e in entries {
            ws.put(e);
        }
        if !spec.checks.is_empty() {
            // On error the request's transaction is discarded, these entries with it.
            self.checks
                .validate(self.catalog_in(ws)?.table(&spec.name)?)?;
        }
        Ok(true)
    }

    /// `ALTER TABLE t DROP CONSTRAINT name`.
    pub fn drop_constraint_in(&self, ws: &mut WriteSet, table: &str, name: &str) -> Result<()> {
        let cat = self.catalog_in(ws)?;
        let t = cat.table(table)?;
        let c = t
            .checks
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| SqlError::ConstraintNotFound(name.to_string()))?;
        ws.drop_catalog_entry(
            encoding::check_key(t.id, c.id),
            encoding::check_value(&c.name, &c.expr),
        );
        Ok(())
    }

    /// `ALTER TABLE t ADD COLUMN c ...`: the new column must be nullable; existing rows read NULL.
    pub fn add_column_in(&self, ws: &mut WriteSet, table: &str, c: &ColumnSpec) -> Result<()> {
        let cat = self.catalog_in(ws)?;
        let t = cat.table(table)?;
        if RESERVED.contains(&c.name.as_str()) {
            return Err(SqlError::ReservedWord(c.name.clone()));
        }
        if t.columns.iter().any(|x| x.name == c.name) {
            return Err(SqlError::ColumnAlreadyExists(c.name.clone()));
        }
        if c.size.is_some() && !matches!(c.ty, SqlType::Varchar | SqlType::Blob | SqlType::Json) {
            return Err(SqlError::LimitedMaxLen);
        }
        if c.auto_increment {
            return Err(SqlError::LimitedAutoIncrement);
        }
        if c.not_null {
            return Err(SqlError::NewColumnMustBeNullable(c.name.clone()));
        }
        let key = encoding::column_key(t.id, t.max_column_id + 1, c.ty);
        ws.fresh.insert(key.clone());
        ws.put(NewEntry::new(
            key,
            encoding::column_value(0, c.ty.stored_max_len(c.size.unwrap_or(0)), &c.name),
        ));
        Ok(())
    }

    pub(crate) fn column_entry(t: &Table, c: &Column, name: &str, deleted: bool) -> NewEntry {
        let flags = if c.not_null { FLAG_NOT_NULL } else { 0 }
            | if c.auto_increment {
                FLAG_AUTO_INCREMENT
            } else {
                0
            };
        NewEntry {
            key: encoding::column_key(t.id, c.id, c.ty),
            metadata: KvMetadata {
                deleted,
                ..Default::default()
            },
            value: encoding::column_value(flags, c.max_len, name),
        }
    }

    /// `ALTER TABLE t RENAME COLUMN a TO b`.
    pub fn rename_column_in(
        &self,
        ws: &mut WriteSet,
        table: &str,
        old: &str,
        new: &str,
    ) -> Result<()> {
        let cat = self.catalog_in(ws)?;
        let t = cat.table(table)?;
        let c = t.column(old)?;
        if old == new {
            return Err(SqlError::SameOldAndNewNames(old.to_string()));
        }
        if RESERVED.contains(&new) {
            return Err(SqlError::ReservedWord(new.to_string()));
        }
        if t.columns.iter().any(|x| x.name == new) {
            return Err(SqlError::ColumnAlreadyExists(new.to_string()));
        }
        let e = Self::column_entry(t, c, new, false);
        ws.guard(e.key.clone());
        ws.put(e);
        // Checks follow the column: their stored text names it by its new name.
        for ck in &t.checks {
            if checks::names_column(&ck.expr, old)? {
                let key = encoding::check_key(t.id, ck.id);
                let expr = checks::rename_column(&ck.expr, old, new)?;
                ws.guard(key.clone());
                ws.put(NewEntry::new(key, encoding::check_value(&ck.name, &expr)));
            }
        }
        Ok(())
    }

    /// `ALTER TABLE t DROP COLUMN c`: refused while an index or a CHECK uses the column.
    pub fn drop_column_in(&self, ws: &mut WriteSet, table: &str, column: &str) -> Result<()> {
        let cat = self.catalog_in(ws)?;
        let t = cat.table(table)?;
        let c = t.column(column)?;
        if t.indexes.iter().any(|i| i.columns.contains(&c.id)) {
            return Err(SqlError::CannotDropIndexedColumn(column.to_string()));
        }
        for ck in &t.checks {
            if checks::names_column(&ck.expr, column)? {
                return Err(SqlError::CannotDropCheckedColumn {
                    column: column.to_string(),
                    constraint: ck.name.clone(),
                });
            }
        }
        let e = Self::column_entry(t, c, &c.name, true);
        ws.guard(e.key.clone());
        ws.put(e);
        Ok(())
    }

    /// `ALTER TABLE t RENAME TO t2`.
    pub fn rename_table_in(&self, ws: &mut WriteSet, old: &str, new: &str) -> Result<()> {
        let cat = self.catalog_in(ws)?;
        let t = cat.table(old)?;
        if old == new {
            return Err(SqlError::SameOldAndNewNames(old.to_string()));
        }
        if cat.tables.contains_key(new) {
            return Err(SqlError::TableAlreadyExists(new.to_string()));
        }
        let key = encoding::table_key(t.id);
        ws.guard(key.clone());
        ws.put(NewEntry::new(key, new.as_bytes().to_vec()));
        Ok(())
    }

    /// `DROP TABLE t`: its catalog entries become deletes; its rows stay in the log. `false`
    /// when `IF EXISTS` finds no table.
    pub fn drop_table_in(&self, ws: &mut WriteSet, table: &str, if_exists: bool) -> Result<bool> {
        let cat = self.catalog_in(ws)?;
        let t = match cat.table(table) {
            Ok(t) => t,
            Err(_) if if_exists => return Ok(false),
            Err(e) => return Err(e),
        };
        let deleted = KvMetadata {
            deleted: true,
            ..Default::default()
        };
        let mut entries = vec![NewEntry {
            key: encoding::table_key(t.id),
            metadata: deleted,
            value: t.name.as_bytes().to_vec(),
        }];
        entries.extend(
            t.columns
                .iter()
                .map(|c| Self::column_entry(t, c, &c.name, true)),
        );
        entries.extend(t.indexes.iter().map(|i| NewEntry {
            key: encoding::index_key(t.id, i.id),
            metadata: deleted,
            value: encoding::index_value(i.unique, &i.columns),
        }));
        // Unlike classic immudb (spec §2.4 item 2), a table with checks can be dropped.
        entries.extend(t.checks.iter().map(|c| NewEntry {
            key: encoding::check_key(t.id, c.id),
            metadata: deleted,
            value: encoding::check_value(&c.name, &c.expr),
        }));
        for e in entries {
            ws.guard(e.key.clone());
            ws.put(e);
        }
        Ok(true)
    }
}
