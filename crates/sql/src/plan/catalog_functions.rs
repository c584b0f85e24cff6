//! immudb's catalog functions as DataFusion table functions: `TABLES()`, `COLUMNS('t')`,
//! `INDEXES('t')`.

use crate::error::SqlError;
use crate::plan::errors::external;
use crate::store::catalog::Catalog;
use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;
use datafusion::datasource::TableProvider;
use datafusion::logical_expr::Expr;
use std::sync::Arc;

/// immudb's catalog functions as DataFusion table functions: `TABLES()`, `COLUMNS('t')`,
/// `INDEXES('t')`, answered from the catalog the statement reads.
#[derive(Debug)]
pub(crate) struct CatalogFunction {
    pub(crate) kind: &'static str,
    pub(crate) catalog: Arc<Catalog>,
}

impl datafusion::catalog::TableFunctionImpl for CatalogFunction {
    fn call_with_args(
        &self,
        args: datafusion::catalog::TableFunctionArgs,
    ) -> datafusion::common::Result<Arc<dyn TableProvider>> {
        use datafusion::arrow::array::{BooleanArray, Int64Array, StringArray};
        let table = match args.exprs() {
            [] if self.kind == "tables" => None,
            [Expr::Literal(ScalarValue::Utf8(Some(t)) | ScalarValue::Utf8View(Some(t)), _)]
                if self.kind != "tables" =>
            {
                Some(self.catalog.table(&t.to_lowercase()).map_err(external)?)
            }
            _ => {
                let want = if self.kind == "tables" {
                    "no arguments"
                } else {
                    "a table name"
                };
                return Err(external(SqlError::IllegalArguments(format!(
                    "{}() takes {want}",
                    self.kind.to_uppercase()
                ))));
            }
        };
        let s = |v: Vec<String>| Arc::new(StringArray::from(v)) as ArrayRef;
        let b = |v: Vec<bool>| Arc::new(BooleanArray::from(v)) as ArrayRef;
        let (fields, arrays): (Vec<(&str, DataType)>, Vec<ArrayRef>) = match (self.kind, table) {
            ("tables", _) => (
                vec![("name", DataType::Utf8)],
                vec![s(self.catalog.tables.keys().cloned().collect())],
            ),
            ("columns", Some(t)) => {
                let indexed = |id: u32| t.indexes.iter().any(|i| i.columns.contains(&id));
                let primary = |id: u32| t.primary_key().columns.contains(&id);
                let unique = |id: u32| t.indexes.iter().any(|i| i.unique && i.columns == [id]);
                let c = &t.columns;
                (
                    vec![
                        ("table", DataType::Utf8),
                        ("name", DataType::Utf8),
                        ("type", DataType::Utf8),
                        ("max_length", DataType::Int64),
                        ("nullable", DataType::Boolean),
                        ("auto_increment", DataType::Boolean),
                        ("indexed", DataType::Boolean),
                        ("primary", DataType::Boolean),
                        ("unique", DataType::Boolean),
                    ],
                    vec![
                        s(c.iter().map(|_| t.name.clone()).collect()),
                        s(c.iter().map(|x| x.name.clone()).collect()),
                        s(c.iter().map(|x| x.ty.name().to_string()).collect()),
                        Arc::new(Int64Array::from(
                            c.iter().map(|x| x.max_len as i64).collect::<Vec<_>>(),
                        )),
                        b(c.iter().map(|x| !x.not_null).collect()),
                        b(c.iter().map(|x| x.auto_increment).collect()),
                        b(c.iter().map(|x| indexed(x.id)).collect()),
                        b(c.iter().map(|x| primary(x.id)).collect()),
                        b(c.iter().map(|x| unique(x.id)).collect()),
                    ],
                )
            }
            (_, Some(t)) => {
                let name = |i: &crate::store::catalog::Index| {
                    let cols: Vec<String> = i
                        .columns
                        .iter()
                        .filter_map(|c| t.column_by_id(*c))
                        .map(|c| c.name.clone())
                        .collect();
                    format!("{}({})", t.name, cols.join(","))
                };
                (
                    vec![
                        ("table", DataType::Utf8),
                        ("name", DataType::Utf8),
                        ("unique", DataType::Boolean),
                        ("primary", DataType::Boolean),
                    ],
                    vec![
                        s(t.indexes.iter().map(|_| t.name.clone()).collect()),
                        s(t.indexes.iter().map(name).collect()),
                        b(t.indexes.iter().map(|i| i.unique).collect()),
                        b(t.indexes
                            .iter()
                            .map(|i| i.id == crate::store::encoding::PRIMARY_INDEX_ID)
                            .collect()),
                    ],
                )
            }
            _ => unreachable!("checked above"),
        };
        let schema = Arc::new(Schema::new(
            fields
                .into_iter()
                .map(|(n, t)| Field::new(n, t, false))
                .collect::<Vec<_>>(),
        ));
        let batch = RecordBatch::try_new(schema.clone(), arrays)?;
        Ok(Arc::new(datafusion::datasource::MemTable::try_new(
            schema,
            vec![vec![batch]],
        )?))
    }
}
