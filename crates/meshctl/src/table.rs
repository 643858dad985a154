//! Tables for people: box drawing at a terminal, plain space-aligned columns otherwise (a pipe,
//! a file, `grep`), and any serializable read flattened into rows.

use comfy_table::{
    Table,
    presets::{NOTHING, UTF8_FULL_CONDENSED},
};
use serde_json::Value;

/// An empty table with `header`, styled for where stdout goes.
pub(crate) fn with_header<T: ToString>(header: impl IntoIterator<Item = T>) -> Table {
    use std::io::IsTerminal as _;
    let mut t = Table::new();
    t.load_style(if std::io::stdout().is_terminal() {
        UTF8_FULL_CONDENSED
    } else {
        NOTHING
    });
    t.set_header(header.into_iter().map(|h| h.to_string()).collect::<Vec<_>>());
    t
}

/// A read as a table: a list of records is one row per record, with a column per field (nested
/// fields as `a.b`); anything else is one `field`/`value` row per leaf.
///
/// ```text
/// [{"id": "a", "spans": 3}, {"id": "b", "spans": 1}]   id  spans
///                                                       a   3
///                                                       b   1
/// ```
pub(crate) fn of_value(v: &Value) -> Table {
    match v {
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => {
            let rows: Vec<Vec<(String, String)>> = items.iter().map(leaves).collect();
            let mut columns: Vec<String> = Vec::new();
            for (k, _) in rows.iter().flatten() {
                if !columns.contains(k) {
                    columns.push(k.clone());
                }
            }
            let mut t = with_header(&columns);
            for row in rows {
                t.add_row(columns.iter().map(|c| {
                    row.iter()
                        .find(|(k, _)| k == c)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                }));
            }
            t
        }
        _ => {
            let mut t = with_header(["field", "value"]);
            for (k, v) in leaves(v) {
                t.add_row([k, v]);
            }
            t
        }
    }
}

/// Every leaf of `v` with its dotted path (`requests.rate`, `spans[0].name`). A list of scalars
/// is one comma-separated cell.
fn leaves(v: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    walk(String::new(), v, &mut out);
    out
}

fn walk(path: String, v: &Value, out: &mut Vec<(String, String)>) {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                walk(join(k), v, out);
            }
        }
        Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
            let cells: Vec<String> = items.iter().map(scalar).collect();
            out.push((path, cells.join(", ")));
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(format!("{path}[{i}]"), item, out);
            }
        }
        other => out.push((path, scalar(other))),
    }
}

/// A cell's text: control characters (a terminal escape, a newline that would split the row)
/// written escaped, as YAML does.
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => cell(s),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

pub(crate) fn cell(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn lines(t: &Table) -> Vec<String> {
        t.to_string()
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    }

    #[test]
    fn records_become_rows_with_a_column_per_field() {
        let t =
            of_value(&json!([{"id": "a", "spans": 3, "root": {"service": "web"}}, {"id": "b", "spans": 1}]));
        // Fields in key order; a missing field is an empty cell.
        assert_eq!(lines(&t), ["id root.service spans", "a web 3", "b 1"]);
    }

    #[test]
    fn a_record_becomes_field_value_rows() {
        let t =
            of_value(&json!({"service": "default/api", "latency": {"p99": 12.5}, "versions": ["v1", "v2"]}));
        assert_eq!(
            lines(&t),
            [
                "field value",
                "latency.p99 12.5",
                "service default/api",
                "versions v1, v2"
            ]
        );
    }

    #[test]
    fn control_characters_are_escaped_not_sent_to_the_terminal() {
        let t = of_value(&json!([{"name": "\u{1b}[31mred\nrow\tx"}]));
        let text = t.to_string();
        assert!(!text.contains('\u{1b}') && !text.contains('\t'), "{text:?}");
        assert_eq!(text.lines().count(), 2, "one header, one row: {text:?}");
        assert!(text.contains("\\u{1b}[31mred\\nrow\\tx"), "{text:?}");
    }

    #[test]
    fn no_box_drawing_when_stdout_is_not_a_terminal() {
        // Tests run with stdout captured: not a terminal.
        let t = of_value(&json!({"a": 1}));
        assert!(t.to_string().is_ascii(), "{t}");
    }
}
