//! Queries a statement needs, built as syntax trees (never as SQL text to parse again): the
//! rows an UPDATE or DELETE touches, an INSERT's computed value, a period's instant, the
//! columns `SHOW TABLE` lists.

use datafusion::sql::sqlparser::ast::helpers::attached_token::AttachedToken;
use datafusion::sql::sqlparser::ast::{
    self as ast, Expr as SqlExpr, GroupByExpr, Ident, ObjectName, SelectItem, SetExpr, Statement,
    TableFactor, TableWithJoins,
};

/// `SELECT projection [FROM relation] [WHERE selection]`.
pub(crate) fn select(
    relation: Option<TableFactor>,
    projection: Vec<SelectItem>,
    selection: Option<SqlExpr>,
) -> Statement {
    let select = ast::Select {
        select_token: AttachedToken::empty(),
        optimizer_hints: Vec::new(),
        distinct: None,
        select_modifiers: None,
        top: None,
        top_before_distinct: false,
        projection,
        exclude: None,
        into: None,
        from: relation
            .map(|relation| TableWithJoins {
                relation,
                joins: Vec::new(),
            })
            .into_iter()
            .collect(),
        lateral_views: Vec::new(),
        prewhere: None,
        selection,
        connect_by: Vec::new(),
        group_by: GroupByExpr::Expressions(Vec::new(), Vec::new()),
        cluster_by: Vec::new(),
        distribute_by: Vec::new(),
        sort_by: Vec::new(),
        having: None,
        named_window: Vec::new(),
        qualify: None,
        window_before_qualify: false,
        value_table_mode: None,
        flavor: ast::SelectFlavor::Standard,
    };
    Statement::Query(Box::new(query(SetExpr::Select(Box::new(select)))))
}

/// A query of `body` and nothing else.
pub(crate) fn query(body: SetExpr) -> ast::Query {
    ast::Query {
        with: None,
        body: Box::new(body),
        order_by: None,
        limit_clause: None,
        fetch: None,
        locks: Vec::new(),
        for_clause: None,
        settings: None,
        format_clause: None,
        pipe_operators: Vec::new(),
    }
}

/// `SELECT expr`: one value computed without a table.
pub(crate) fn value(expr: SqlExpr) -> Statement {
    select(None, vec![SelectItem::UnnamedExpr(expr)], None)
}

/// A column by its (lower-case) name.
pub(crate) fn column(name: &str) -> SelectItem {
    SelectItem::UnnamedExpr(SqlExpr::Identifier(Ident::new(name)))
}

/// `SELECT * FROM function('arg')`: a catalog function's rows.
pub(crate) fn table_function(function: &str, arg: &str) -> Statement {
    let relation = TableFactor::Table {
        name: ObjectName::from(vec![Ident::new(function)]),
        alias: None,
        args: Some(ast::TableFunctionArgs {
            args: vec![ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(
                SqlExpr::value(ast::Value::SingleQuotedString(arg.to_string())),
            ))],
            settings: None,
        }),
        with_hints: Vec::new(),
        version: None,
        with_ordinality: false,
        partitions: Vec::new(),
        json_path: None,
        sample: None,
        index_hints: Vec::new(),
    };
    select(
        Some(relation),
        vec![SelectItem::Wildcard(
            ast::WildcardAdditionalOptions::default(),
        )],
        None,
    )
}
