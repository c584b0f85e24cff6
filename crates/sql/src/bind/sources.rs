//! A statement's table references bound to what each reads: the current state, a period's tx
//! range, or every version (`HISTORY OF`). The parser cut periods out of the text with the
//! location of the reference they follow; the reference's name keeps its location, so each
//! is bound to its own period here, never through its name. A reference with a period or
//! history becomes a source of its own, a [`BoundSource`] the bound statement carries: the
//! reference is renamed to the source's handle (`__source_N`, never parsed back), under which
//! the planner registers its provider, and keeps the user's name as its alias, so that columns
//! are qualified and named as written.

use datafusion::sql::sqlparser::ast::{
    Ident, ObjectName, Statement, TableAlias, TableFactor, VisitMut, VisitorMut,
};

use crate::bind::values::object_name;
use crate::parse::Period;

/// The period (or `HISTORY OF`) cut out after the table reference named `name`, if any.
fn period_of<'p>(name: &ObjectName, periods: &'p [Period]) -> Option<&'p Period> {
    let at = name.0.last()?.as_ident()?.span.start;
    periods.iter().find(|p| p.at == at)
}

/// A table reference that reads other than the current state.
#[derive(Debug)]
pub(crate) struct BoundSource {
    /// The name its provider is registered under.
    pub(crate) handle: String,
    /// The table (or table function) it names, lower-cased.
    pub(crate) table: String,
    /// Its period, or `history`.
    pub(crate) period: Period,
    /// A table function call (`EVENTS(...)`), not a table.
    pub(crate) function: bool,
}

/// The source a (bound) table reference's name stands for, when it is one.
pub(crate) fn source_named<'s>(
    sources: &'s [BoundSource],
    name: &ObjectName,
) -> Option<&'s BoundSource> {
    let [part] = name.0.as_slice() else {
        return None;
    };
    let handle = part.as_ident()?;
    sources.iter().find(|s| s.handle == handle.value)
}

/// The table a reference's name reads: its source's, when the reference was bound to one (its
/// name is then the source's handle), else the name's own.
pub(crate) fn table_named(sources: &[BoundSource], name: &ObjectName) -> String {
    match source_named(sources, name) {
        Some(source) => source.table.clone(),
        None => object_name(name),
    }
}

/// Binds every table reference of `stmt` that has a period or history to a source of its own
/// (renamed to the source's handle, aliased by its own name); returns those sources.
pub(crate) fn bind_sources(stmt: &mut Statement, periods: &[Period]) -> Vec<BoundSource> {
    struct Binder<'p> {
        periods: &'p [Period],
        bound: Vec<BoundSource>,
    }
    impl VisitorMut for Binder<'_> {
        type Break = ();
        fn pre_visit_table_factor(&mut self, f: &mut TableFactor) -> std::ops::ControlFlow<()> {
            if let TableFactor::Table {
                name, alias, args, ..
            } = f
            {
                if let Some(p) = period_of(name, self.periods) {
                    let table = object_name(name);
                    let handle = format!("__source_{}", self.bound.len());
                    let own = table.rsplit('.').next().unwrap_or(&table).to_string();
                    alias.get_or_insert_with(|| TableAlias {
                        explicit: false,
                        name: Ident::new(own),
                        columns: Vec::new(),
                        at: None,
                    });
                    *name = ObjectName::from(vec![Ident::new(&handle)]);
                    self.bound.push(BoundSource {
                        handle,
                        table,
                        period: p.clone(),
                        function: args.is_some(),
                    });
                }
            }
            std::ops::ControlFlow::Continue(())
        }
    }
    let mut binder = Binder {
        periods,
        bound: Vec::new(),
    };
    let _ = stmt.visit(&mut binder);
    binder.bound
}
