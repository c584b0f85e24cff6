//! The catalog: tables, columns and indexes as of a snapshot tx, read from `CTL.` entries.
//!
//! Ids are never reused: a dropped table, column or index keeps its id (its catalog key reads as
//! deleted), so the next id is one past the highest ever written, deleted ones included.

use std::collections::BTreeMap;
use std::sync::Arc;

use stele_ledger::proof::TxId;
use stele_ledger::{Ledger, ScanQuery};

use crate::error::{Result, SqlError};
use crate::store::encoding::{
    self, CatalogEntry, FLAG_AUTO_INCREMENT, FLAG_NOT_NULL, PRIMARY_INDEX_ID,
};
use crate::types::{SqlType, Value};

/// A live column of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The column's id in its table: from 1, in creation order; never reused.
    pub id: u32,
    /// The column's current name.
    pub name: String,
    /// The column's SQL type.
    pub ty: SqlType,
    /// The stored `maxLen`: the declared size of VARCHAR/BLOB/JSON (0: unlimited), else the width.
    pub max_len: u32,
    /// Declared NOT NULL (flag bit 0 of its catalog entry).
    pub not_null: bool,
    /// Declared AUTO_INCREMENT (flag bit 1); only a single-column INTEGER primary key can be.
    pub auto_increment: bool,
}

/// A live index of a table: the primary key or a secondary index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    /// The index's id in its table: 0 is the primary key, others from 1 in creation order;
    /// never reused.
    pub id: u32,
    /// Whether no two live rows may share the index's values (true of the primary key).
    pub unique: bool,
    /// Column ids, in index order.
    pub columns: Vec<u32>,
}

/// A CHECK constraint: a boolean expression every written row must satisfy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The check's id in its table: from 1, in CREATE TABLE order; never reused.
    pub id: u32,
    /// Its name: the one given, else `<table>_check<id>`.
    pub name: String,
    /// The expression as SQL text, as stored.
    pub expr: String,
}

/// A live table, as the catalog describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// The table's id: from 1, in creation order; never reused.
    pub id: u32,
    /// The table's current name.
    pub name: String,
    /// Live columns in id order.
    pub columns: Vec<Column>,
    /// Live indexes in id order; the first is the primary key.
    pub indexes: Vec<Index>,
    /// Live CHECK constraints in id order.
    pub checks: Vec<Check>,
    /// Highest column id ever used, dropped ones included.
    pub max_column_id: u32,
    /// Highest index id ever used, dropped ones included.
    pub max_index_id: u32,
    /// Highest check id ever used, dropped ones included.
    pub max_check_id: u32,
}

impl Table {
    /// The live column named `name`; `ColumnDoesNotExist` when there is none.
    pub fn column(&self, name: &str) -> Result<&Column> {
        self.columns
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| SqlError::ColumnDoesNotExist(name.to_string()))
    }

    /// The live column with id `id`; `None` when there is none (or it was dropped).
    pub fn column_by_id(&self, id: u32) -> Option<&Column> {
        self.columns.iter().find(|c| c.id == id)
    }

    /// The primary index (index 0).
    pub fn primary_key(&self) -> &Index {
        &self.indexes[0]
    }

    /// The primary-key columns, in key order.
    pub fn pk_columns(&self) -> Vec<&Column> {
        self.primary_key()
            .columns
            .iter()
            .filter_map(|id| self.column_by_id(*id))
            .collect()
    }
}

/// Every live table of a database as of a snapshot, with the id counters DDL needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    /// Live tables by name; shared, so that handing out the cached catalog copies no table.
    pub tables: Arc<BTreeMap<String, Table>>,
    /// Highest table id ever used, dropped ones included.
    pub max_table_id: u32,
    /// The snapshot this catalog was read at.
    pub snapshot: TxId,
    /// The last committed tx that wrote a catalog entry, at or before `snapshot`.
    pub last_change: TxId,
}

/// A transaction's own catalog write, not yet committed: `(stored key, stored value, deleted)`,
/// `deleted` when the write drops the entry.
pub type PendingCatalogWrite = (Vec<u8>, Vec<u8>, bool);

/// The columns of a table's description (immudb's `DescribeTable`), with their types.
pub const DESCRIBE_COLUMNS: [(&str, SqlType); 6] = [
    ("COLUMN", SqlType::Varchar),
    ("TYPE", SqlType::Varchar),
    ("NULLABLE", SqlType::Boolean),
    ("INDEX", SqlType::Varchar),
    ("AUTO_INCREMENT", SqlType::Boolean),
    ("UNIQUE", SqlType::Boolean),
];

impl Catalog {
    /// A row per column of `table`, as [`DESCRIBE_COLUMNS`] names them: its type with its
    /// length limit, whether it may be NULL, whether it is in the primary key (`PRIMARY KEY`)
    /// or another index (`YES`), AUTO_INCREMENT, and whether it alone is a unique index.
    pub fn describe(&self, table: &str) -> Result<Vec<Vec<Value>>> {
        let t = self.table(&table.to_lowercase())?;
        let pk = &t.primary_key().columns;
        Ok(t.columns
            .iter()
            .map(|c| {
                let ty = match c.ty {
                    SqlType::Varchar | SqlType::Blob if c.max_len > 0 => {
                        format!("{}({})", c.ty.name(), c.max_len)
                    }
                    other => other.name().to_string(),
                };
                let index = if pk.contains(&c.id) {
                    "PRIMARY KEY"
                } else if t.indexes.iter().any(|i| i.columns.contains(&c.id)) {
                    "YES"
                } else {
                    "NO"
                };
                let unique = t.indexes.iter().any(|i| i.unique && i.columns == [c.id]);
                vec![
                    Value::Varchar(c.name.clone()),
                    Value::Varchar(ty),
                    Value::Boolean(!c.not_null),
                    Value::Varchar(index.into()),
                    Value::Boolean(c.auto_increment),
                    Value::Boolean(unique),
                ]
            })
            .collect())
    }

    /// The live table named `name`; `TableDoesNotExist` when there is none.
    pub fn table(&self, name: &str) -> Result<&Table> {
        self.tables
            .get(name)
            .ok_or_else(|| SqlError::TableDoesNotExist(name.to_string()))
    }

    /// Reads the catalog as of `snapshot` (the latest committed tx when `None`).
    /// `pending` are a transaction's own catalog writes, applied on top.
    pub fn load(
        ledger: &Ledger,
        snapshot: Option<TxId>,
        pending: Option<&[PendingCatalogWrite]>,
    ) -> Result<Catalog> {
        let snapshot = snapshot.unwrap_or_else(|| ledger.state().tx_id);
        let stored = ledger.scan(&ScanQuery {
            prefix: encoding::CATALOG_PREFIX.to_vec(),
            snapshot: Some(snapshot),
            include_deleted: true,
            ..Default::default()
        })?;
        let last_change = stored.iter().map(|e| e.tx).max().unwrap_or(0);
        let mut merged: BTreeMap<Vec<u8>, (Vec<u8>, bool)> = stored
            .into_iter()
            .map(|e| (e.key, (e.value, e.metadata.deleted)))
            .collect();
        for (k, v, deleted) in pending.unwrap_or_default() {
            merged.insert(k.clone(), (v.clone(), *deleted));
        }
        let mut cat = Catalog {
            snapshot,
            last_change,
            ..Default::default()
        };
        let mut by_id: BTreeMap<u32, Table> = BTreeMap::new();
        let mut columns: Vec<(u32, Column, bool)> = Vec::new();
        let mut indexes: Vec<(u32, Index, bool)> = Vec::new();
        let mut max_cols: BTreeMap<u32, u32> = BTreeMap::new();
        let mut max_idx: BTreeMap<u32, u32> = BTreeMap::new();
        let mut checks: Vec<(u32, Check, bool)> = Vec::new();
        let mut max_check: BTreeMap<u32, u32> = BTreeMap::new();
        for (key, (value, deleted)) in merged {
            let live = !deleted;
            match encoding::decode_catalog(&key, &value)? {
                Some(CatalogEntry::Table { table, name }) => {
                    cat.max_table_id = cat.max_table_id.max(table);
                    if live {
                        by_id.insert(
                            table,
                            Table {
                                id: table,
                                name,
                                columns: vec![],
                                indexes: vec![],
                                checks: vec![],
                                max_column_id: 0,
                                max_index_id: 0,
                                max_check_id: 0,
                            },
                        );
                    }
                }
                Some(CatalogEntry::Column {
                    table,
                    column,
                    ty,
                    flags,
                    max_len,
                    name,
                }) => {
                    let m = max_cols.entry(table).or_default();
                    *m = (*m).max(column);
                    let col = Column {
                        id: column,
                        name,
                        ty,
                        max_len,
                        not_null: flags & FLAG_NOT_NULL != 0,
                        auto_increment: flags & FLAG_AUTO_INCREMENT != 0,
                    };
                    columns.push((table, col, live));
                }
                Some(CatalogEntry::Index {
                    table,
                    index,
                    unique,
                    columns: cols,
                }) => {
                    let m = max_idx.entry(table).or_default();
                    *m = (*m).max(index);
                    indexes.push((
                        table,
                        Index {
                            id: index,
                            unique,
                            columns: cols,
                        },
                        live,
                    ));
                }
                Some(CatalogEntry::Check {
                    table,
                    check,
                    name,
                    expr,
                }) => {
                    let m = max_check.entry(table).or_default();
                    *m = (*m).max(check);
                    checks.push((
                        table,
                        Check {
                            id: check,
                            name,
                            expr,
                        },
                        live,
                    ));
                }
                None => {}
            }
        }
        for (table, check, live) in checks {
            if let (true, Some(t)) = (live, by_id.get_mut(&table)) {
                t.checks.push(check);
            }
        }
        for (table, col, live) in columns {
            if let (true, Some(t)) = (live, by_id.get_mut(&table)) {
                t.columns.push(col);
            }
        }
        for (table, idx, live) in indexes {
            if let (true, Some(t)) = (live, by_id.get_mut(&table)) {
                t.indexes.push(idx);
            }
        }
        for (id, mut t) in by_id {
            t.columns.sort_by_key(|c| c.id);
            t.indexes.sort_by_key(|i| i.id);
            if t.indexes.first().map(|i| i.id) != Some(PRIMARY_INDEX_ID) {
                return Err(SqlError::Corrupted(format!(
                    "table {} has no primary index",
                    t.name
                )));
            }
            t.max_column_id = max_cols.get(&id).copied().unwrap_or(0);
            t.max_index_id = max_idx.get(&id).copied().unwrap_or(0);
            t.max_check_id = max_check.get(&id).copied().unwrap_or(0);
            t.checks.sort_by_key(|c| c.id);
            Arc::make_mut(&mut cat.tables).insert(t.name.clone(), t);
        }
        Ok(cat)
    }
}
