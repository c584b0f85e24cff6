//! Secondary indexes: CREATE / DROP INDEX, the back-fill of a new index over every committed
//! version, the entries a row write adds and retires, and index lookups.

use super::catalog::{Column, Index, Table};
use super::encoding::{self, PRIMARY_INDEX_ID};
use super::handle::SqlStore;
use super::ranges::KeyRange;
use super::write_set::{PendingWrite, WriteSet};
use crate::error::{Result, SqlError};
use crate::types::{SqlType, Value};
use std::collections::{BTreeMap, BTreeSet};
use stele_ledger::proof::{TxHeader, TxId};
use stele_ledger::{IndexEntry, NewEntry, Precondition, ScanQuery};

/// Classic immudb's limit on an indexed key, in bytes.
pub const MAX_KEY_LEN: u32 = 512;

/// Most columns in a primary key or index.
pub const MAX_INDEX_COLUMNS: usize = 8;

impl SqlStore {
    /// `CREATE [UNIQUE] INDEX ON table (columns)` in its own tx; `Ok(None)` when
    /// `IF NOT EXISTS` finds it.
    pub fn create_index(
        &self,
        table: &str,
        columns: &[String],
        unique: bool,
        if_not_exists: bool,
    ) -> Result<Option<TxHeader>> {
        let mut ws = self.begin();
        self.create_index_in(&mut ws, table, columns, unique, if_not_exists)?;
        self.commit(ws)
    }

    /// `CREATE [UNIQUE] INDEX` inside a transaction; `false` when `IF NOT EXISTS` finds it.
    pub fn create_index_in(
        &self,
        ws: &mut WriteSet,
        table: &str,
        columns: &[String],
        unique: bool,
        if_not_exists: bool,
    ) -> Result<bool> {
        let cat = self.catalog_in(ws)?;
        let t = cat.table(table)?;
        let cols: Vec<&Column> = columns.iter().map(|n| t.column(n)).collect::<Result<_>>()?;
        let ids: Vec<u32> = cols.iter().map(|c| c.id).collect();
        check_index_columns(
            &cols
                .iter()
                .map(|c| (c.ty, c.max_len, c.name.as_str()))
                .collect::<Vec<_>>(),
        )?;
        if t.indexes.iter().any(|i| i.columns == ids) {
            return if if_not_exists {
                Ok(false)
            } else {
                Err(SqlError::IndexAlreadyExists)
            };
        }
        if unique && !self.scan_in(t, 1, Some(ws))?.is_empty() {
            return Err(SqlError::LimitedIndexCreation);
        }
        let index = Index {
            id: t.max_index_id + 1,
            unique,
            columns: ids,
        };
        let key = encoding::index_key(t.id, index.id);
        ws.fresh.insert(key.clone());
        ws.put(NewEntry::new(
            key,
            encoding::index_value(unique, &index.columns),
        ));
        self.backfill_index(ws, t, &index)?;
        Ok(true)
    }

    /// Writes the entries of a new index for every committed version of the table's rows (at
    /// the versions' own txs) and for the transaction's pending rows.
    pub(crate) fn backfill_index(&self, ws: &mut WriteSet, t: &Table, index: &Index) -> Result<()> {
        let prefix = encoding::row_prefix(t.id);
        let mut backfill = Vec::new();
        let mut row: Vec<u8> = Vec::new();
        let mut live: Option<Vec<u8>> = None;
        let mut committed_live: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let pending: BTreeSet<Vec<u8>> =
            ws.pending_under(&prefix).map(|(k, _)| k.to_vec()).collect();
        self.ledger
            .for_each_version(&prefix, ws.snapshot, |key, tx, md, value| {
                if key != row.as_slice() {
                    if let Some(k) = live.take().filter(|_| pending.contains(&row)) {
                        committed_live.insert(row.clone(), k);
                    }
                    row = key.to_vec();
                }
                let entry = if md.deleted {
                    None
                } else {
                    let values = self.decode(t, value)?;
                    Some(index_entry_key(t, index, &values, &key[prefix.len()..])?)
                };
                if entry != live {
                    if let Some(old) = live.take() {
                        backfill.push(IndexEntry {
                            key: old,
                            deleted: true,
                            at: Some(tx),
                        });
                    }
                    if let Some(new) = &entry {
                        backfill.push(IndexEntry {
                            key: new.clone(),
                            deleted: false,
                            at: Some(tx),
                        });
                    }
                    live = entry;
                }
                Ok::<(), SqlError>(())
            })?;
        if let Some(k) = live.take().filter(|_| pending.contains(&row)) {
            committed_live.insert(row, k);
        }
        ws.backfill.extend(backfill);
        for key in pending {
            let new = match ws.pending(&key).and_then(PendingWrite::live) {
                None => None,
                Some(value) => {
                    let values = self.decode(t, value)?;
                    Some(index_entry_key(t, index, &values, &key[prefix.len()..])?)
                }
            };
            let old = committed_live.remove(&key);
            if old != new {
                if let Some(old) = old {
                    ws.put_index(old, true);
                }
                if let Some(new) = new {
                    ws.put_index(new, false);
                }
            }
        }
        // A row committed after the snapshot would be missing from the back-fill.
        ws.preconditions
            .push(Precondition::NoWriteUnderSince(prefix, ws.snapshot));
        Ok(())
    }

    /// Keeps the secondary indexes of one row in step with a write: `old` and `new` are the
    /// full rows before and after (`None`: absent). UNIQUE indexes are checked here against
    /// the snapshot and the transaction, and again at commit by a precondition.
    pub(crate) fn maintain_indexes(
        &self,
        ws: &mut WriteSet,
        t: &Table,
        pk_enc: &[u8],
        old: Option<&[Value]>,
        new: Option<&[Value]>,
    ) -> Result<()> {
        for index in t.indexes.iter().filter(|i| i.id != PRIMARY_INDEX_ID) {
            let old_key = old
                .map(|v| index_entry_key(t, index, v, pk_enc))
                .transpose()?;
            let new_key = new
                .map(|v| index_entry_key(t, index, v, pk_enc))
                .transpose()?;
            if old_key == new_key {
                continue;
            }
            if let Some(k) = old_key {
                ws.put_index(k, true);
            }
            let Some(k) = new_key else { continue };
            if index.unique {
                let prefix = k[..k.len() - pk_enc.len()].to_vec();
                if self.index_prefix_taken(ws, &prefix, &k)? {
                    return Err(SqlError::KeyAlreadyExists);
                }
                ws.preconditions
                    .push(Precondition::IndexPrefixFree(prefix, k.clone()));
            }
            ws.put_index(k, false);
        }
        Ok(())
    }

    /// Whether a live entry other than `except` starts with `prefix`, as the transaction sees it.
    pub(crate) fn index_prefix_taken(
        &self,
        ws: &WriteSet,
        prefix: &[u8],
        except: &[u8],
    ) -> Result<bool> {
        let pending = ws
            .index
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix));
        for (k, deleted) in pending {
            if !deleted && k.as_slice() != except {
                return Ok(true);
            }
        }
        let committed = self.ledger.index_scan(&ScanQuery {
            prefix: prefix.to_vec(),
            snapshot: Some(ws.snapshot),
            ..Default::default()
        })?;
        Ok(committed
            .iter()
            .any(|e| e.key.as_slice() != except && ws.index.get(&e.key) != Some(&true)))
    }

    /// Row keys reached through a secondary index: its live entries in `ranges` (index-key
    /// bounds) at the snapshot, with the transaction's own index writes applied, in index order.
    pub fn index_row_keys(
        &self,
        t: &Table,
        index: &Index,
        ranges: &[KeyRange],
        snapshot: TxId,
        ws: Option<&WriteSet>,
    ) -> Result<Vec<Vec<u8>>> {
        let prefix = encoding::index_entry_prefix(t.id, index.id);
        let mut found: BTreeSet<Vec<u8>> = BTreeSet::new();
        for r in ranges {
            let mut q = ScanQuery {
                prefix: prefix.clone(),
                snapshot: Some(snapshot),
                ..Default::default()
            };
            r.apply(&mut q);
            found.extend(self.ledger.index_scan(&q)?.into_iter().map(|e| e.key));
            if let Some(ws) = ws {
                for (k, deleted) in ws.index.range(prefix.clone()..) {
                    if !k.starts_with(&prefix) {
                        break;
                    }
                    if r.contains(k) {
                        if *deleted {
                            found.remove(k);
                        } else {
                            found.insert(k.clone());
                        }
                    }
                }
            }
        }
        let cols: Vec<&Column> = index
            .columns
            .iter()
            .map(|id| {
                t.column_by_id(*id)
                    .ok_or_else(|| SqlError::Corrupted("index on a dropped column".into()))
            })
            .collect::<Result<_>>()?;
        let rows = encoding::row_prefix(t.id);
        found
            .into_iter()
            .map(|k| {
                let mut at = prefix.len();
                for c in &cols {
                    at += encoding::key_value_width(&k[at..], c.ty, c.max_len)?;
                }
                let mut key = rows.clone();
                key.extend_from_slice(&k[at..]);
                Ok(key)
            })
            .collect()
    }

    /// `DROP INDEX ON t (cols)`: the primary index cannot be dropped.
    pub fn drop_index_in(&self, ws: &mut WriteSet, table: &str, columns: &[String]) -> Result<()> {
        let cat = self.catalog_in(ws)?;
        let t = cat.table(table)?;
        let name = format!("{table}({})", columns.join(","));
        let ids: Vec<u32> = columns
            .iter()
            .map(|n| t.column(n).map(|c| c.id))
            .collect::<Result<_>>()?;
        let idx = t
            .indexes
            .iter()
            .find(|i| i.columns == ids)
            .ok_or(SqlError::IndexNotFound(name))?;
        if idx.id == PRIMARY_INDEX_ID {
            return Err(SqlError::IllegalArguments(
                "primary key index can NOT be deleted".into(),
            ));
        }
        ws.drop_catalog_entry(
            encoding::index_key(t.id, idx.id),
            encoding::index_value(idx.unique, &idx.columns),
        );
        Ok(())
    }
}

/// The entry key of a row in a secondary index: `M.{table}{index}`, the key encoding of the
/// indexed columns, then the row's encoded primary key (`values` is the full row).
pub fn index_entry_key(
    t: &Table,
    index: &Index,
    values: &[Value],
    pk_enc: &[u8],
) -> Result<Vec<u8>> {
    let mut k = encoding::index_entry_prefix(t.id, index.id);
    for id in &index.columns {
        let pos = t
            .columns
            .iter()
            .position(|c| c.id == *id)
            .ok_or_else(|| SqlError::Corrupted("index on a dropped column".into()))?;
        let c = &t.columns[pos];
        k.extend_from_slice(&encoding::encode_key_value(&values[pos], c.ty, c.max_len)?);
    }
    k.extend_from_slice(pk_enc);
    Ok(k)
}

/// Primary keys and indexes: at most 8 columns, no JSON, sized VARCHAR/BLOB within the key limit.
pub(crate) fn check_index_columns(cols: &[(SqlType, u32, &str)]) -> Result<()> {
    if cols.len() > MAX_INDEX_COLUMNS {
        return Err(SqlError::MaxNumberOfColumnsInIndexExceeded);
    }
    for (ty, max_len, name) in cols {
        if *ty == SqlType::Json {
            return Err(SqlError::CannotIndexJson);
        }
        if matches!(ty, SqlType::Varchar | SqlType::Blob)
            && (*max_len == 0 || *max_len > MAX_KEY_LEN)
        {
            return Err(SqlError::LimitedKeyType(format!(
                "can not create index using column '{name}'. Max key length for variable columns is {MAX_KEY_LEN}"
            )));
        }
    }
    let total: u32 = cols.iter().map(|(_, l, _)| l + 5).sum();
    if total > MAX_KEY_LEN + 5 * cols.len() as u32 && cols.len() > 1 {
        let names: Vec<&str> = cols.iter().map(|(_, _, n)| *n).collect();
        return Err(SqlError::LimitedKeyType(format!(
            "can not create index using columns '[{}]'. Max key length is {MAX_KEY_LEN}",
            names.join(" ")
        )));
    }
    Ok(())
}
