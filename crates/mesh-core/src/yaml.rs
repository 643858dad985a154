//! A fast block-style YAML emitter for [`serde_json::Value`].
//!
//! Rendering is a hot path: a policy set of thousands of Kubernetes objects is rendered for
//! `kubectl apply -f`. This emitter walks the JSON value directly instead of going through a
//! generic `serde` serializer, several times faster than `serde_saphyr::to_string`, with the same
//! layout:
//!
//! - block mappings with keys in the value's order; a sequence under a key has its dashes at the
//!   key's column (`hosts:\n- a\n`); a mapping or sequence inside a sequence item starts after its
//!   dash (`- name: x\n  port: 80\n`); empty collections are `{}` and `[]`;
//! - `null`, `true`, `false`, integers, and floats written so that they read back exactly and
//!   always as floats (`10.0`, `0.25`);
//! - a string plain only when it is clearly nothing else, to YAML 1.1 readers (`kubectl`) as to
//!   YAML 1.2 ones: it starts with a letter or `/` (or is a digit-led word such as `10s` that no
//!   number syntax matches), has only printable ASCII, no `: `, ` #` or trailing `:`, and is no
//!   keyword (`true`, `no`, `null`, `on`, …). Everything else is double-quoted with YAML escapes:
//!   `"8080"`, `"true"`, `"10.0.0.1"`, `"*.example.com"`, `""`, `"a\nb"`.
//!
//! The rules are deliberately conservative: a string that could be plain may be quoted, never the
//! reverse. The tests read every output back with `serde_saphyr` and compare realistic objects
//! with `serde_saphyr::to_string` byte for byte.
//!
//! ```
//! let pod = serde_json::json!({
//!     "kind": "Pod",
//!     "metadata": { "name": "web", "labels": { "app.kubernetes.io/name": "web" } },
//!     "spec": { "containers": [{ "name": "web", "ports": [{ "containerPort": 8080 }] }] },
//! });
//! assert_eq!(
//!     mesh_core::yaml::to_string(&pod),
//!     "kind: Pod\n\
//!      metadata:\n  labels:\n    app.kubernetes.io/name: web\n  name: web\n\
//!      spec:\n  containers:\n  - name: web\n    ports:\n    - containerPort: 8080\n"
//! );
//! ```

use std::fmt::Write as _;

use serde_json::{Map, Number, Value};

/// Spaces per indentation level.
const INDENT: usize = 2;
/// Longest implicit key YAML allows, in characters; longer keys use the explicit `? key` form.
const MAX_IMPLICIT_KEY: usize = 1024;

/// Appends `value` as one YAML document: no leading `---`, ends with a newline.
///
/// ```
/// let mut out = String::from("---\n");
/// mesh_core::yaml::write_value(
///     &mut out,
///     &serde_json::json!({ "spec": { "hosts": ["reviews"], "port": "8080", "empty": {} } }),
/// );
/// assert_eq!(out, "---\nspec:\n  empty: {}\n  hosts:\n  - reviews\n  port: \"8080\"\n");
/// ```
pub fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Object(map) if !map.is_empty() => write_map(out, map, 0, false),
        Value::Array(items) if !items.is_empty() => write_seq(out, items, 0, false),
        leaf => write_leaf(out, leaf),
    }
}

/// Renders `value` as one YAML document ending with a newline; see [`write_value`].
///
/// ```
/// use serde_json::json;
/// use mesh_core::yaml::to_string;
/// assert_eq!(to_string(&json!(["a", "true", 1.5, 2.0, null])), "- a\n- \"true\"\n- 1.5\n- 2.0\n- null\n");
/// assert_eq!(to_string(&json!({ "script": "echo a\necho b" })), "script: \"echo a\\necho b\"\n");
/// assert_eq!(to_string(&json!({})), "{}\n");
/// ```
#[must_use]
pub fn to_string(value: &Value) -> String {
    let mut out = String::with_capacity(512);
    write_value(&mut out, value);
    out
}

/// Writes a non-empty mapping whose keys sit at column `col`. With `first_inline` the first key
/// continues the current line (after `- ` or `? key`), the others are indented.
fn write_map(out: &mut String, map: &Map<String, Value>, col: usize, first_inline: bool) {
    let mut first = first_inline;
    for (key, value) in map {
        if first {
            first = false;
        } else {
            push_indent(out, col);
        }
        let explicit = write_key(out, key, col);
        match value {
            // After an explicit key's `:` line the mapping continues inline, as after a dash.
            Value::Object(inner) if !inner.is_empty() && explicit => {
                out.push(' ');
                write_map(out, inner, col + INDENT, true);
            }
            Value::Object(inner) if !inner.is_empty() => {
                out.push('\n');
                write_map(out, inner, col + INDENT, false);
            }
            // Compact: the dashes of a sequence value sit at the column of its key.
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                write_seq(out, items, col, false);
            }
            leaf => {
                out.push(' ');
                write_leaf(out, leaf);
            }
        }
    }
}

/// Writes a non-empty sequence whose dashes sit at column `col`. With `first_inline` the first
/// dash continues the current line (after an outer dash).
fn write_seq(out: &mut String, items: &[Value], col: usize, first_inline: bool) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 || !first_inline {
            push_indent(out, col);
        }
        out.push_str("- ");
        match item {
            Value::Object(map) if !map.is_empty() => write_map(out, map, col + INDENT, true),
            Value::Array(inner) if !inner.is_empty() => write_seq(out, inner, col + INDENT, true),
            leaf => write_leaf(out, leaf),
        }
    }
}

/// Writes a mapping key and its `:`. A key longer than YAML's implicit-key limit is written as
/// `? key`, with the `:` on the next line at column `col`. Returns whether it was.
fn write_key(out: &mut String, key: &str, col: usize) -> bool {
    let start = out.len();
    if is_plain(key, true) {
        out.push_str(key);
    } else {
        write_double_quoted(out, key);
    }
    let written = &out[start..];
    if written.len() <= MAX_IMPLICIT_KEY || written.chars().count() <= MAX_IMPLICIT_KEY {
        out.push(':');
        return false;
    }
    out.insert_str(start, "? ");
    out.push('\n');
    push_indent(out, col);
    out.push(':');
    true
}

/// Writes a scalar or an empty collection, and the newline that ends it.
fn write_leaf(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) if is_plain(s, false) => out.push_str(s),
        Value::String(s) => write_double_quoted(out, s),
        // Only empty collections get here.
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
    }
    out.push('\n');
}

fn push_indent(out: &mut String, n: usize) {
    const SPACES: &str = "                                                                ";
    let mut left = n;
    while left > SPACES.len() {
        out.push_str(SPACES);
        left -= SPACES.len();
    }
    out.push_str(&SPACES[..left]);
}

/// Integers as they are; a float with the shortest digits that read back as it (Rust's `Display`
/// for `f64`), plus `.0` when those digits alone would read as an integer.
fn write_number(out: &mut String, n: &Number) {
    if let Some(u) = n.as_u64() {
        write_digits(out, u);
    } else if let Some(i) = n.as_i64() {
        out.push('-');
        write_digits(out, i.unsigned_abs());
    } else if let Some(f) = n.as_f64() {
        let start = out.len();
        let _ = write!(out, "{f}");
        if !out[start..].contains('.') {
            out.push_str(".0");
        }
    }
}

/// The decimal digits of `n`.
fn write_digits(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8; // a single digit
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend(digits[at..].iter().map(|&d| char::from(d)));
}

/// Whether `s` can be written plain, as a value or (`key`) as a mapping key.
fn is_plain(s: &str, key: bool) -> bool {
    let bytes = s.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return false; // the empty string is `""`
    };
    if last == b' ' || last == b':' {
        return false;
    }
    // One pass: printable ASCII only, no `: ` (a key: no `:` at all), no ` #`, and in a key no
    // flow indicator (legal there, but easy to misread).
    let mut previous = b'\0';
    for (i, &b) in bytes.iter().enumerate() {
        let bad = match b {
            b':' => key || bytes.get(i + 1) == Some(&b' '),
            b'#' => previous == b' ',
            b',' | b'[' | b']' | b'{' | b'}' => key,
            b' '..=b'~' => false,
            _ => true,
        };
        if bad {
            return false;
        }
        previous = b;
    }
    match first {
        b'a'..=b'z' | b'A'..=b'Z' => !is_keyword(s),
        b'/' => true,
        b'0'..=b'9' => is_unit_word(bytes),
        // Indicators (`-?:,[]{}#&*!|>'"%@` and the backtick), signs, `.`, `~`, `=`, `<` and the
        // rest: quoted, which is always correct.
        _ => false,
    }
}

/// Words that YAML 1.1 or 1.2 reads as a null, a bool or a special float.
fn is_keyword(s: &str) -> bool {
    const KEYWORDS: [&str; 13] = [
        "null",
        "true",
        "false",
        "yes",
        "no",
        "y",
        "n",
        "on",
        "off",
        "nan",
        "inf",
        "infinity",
        "undefined",
    ];
    s.len() <= 9 && KEYWORDS.iter().any(|k| s.eq_ignore_ascii_case(k))
}

/// A digit-led word that no number, timestamp or base-60 syntax matches: letters, digits and
/// dots only, with at least one letter that no number spelling uses (so `10s`, `1.5ms`, `3h`
/// qualify; `8080`, `1e3`, `0x1F`, `0o17`, `10.0.0.1` do not).
fn is_unit_word(bytes: &[u8]) -> bool {
    bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'.')
        && bytes
            .iter()
            .any(|b| b.is_ascii_alphabetic() && !matches!(b.to_ascii_lowercase(), b'a'..=b'f' | b'o' | b'x'))
}

/// `"…"` with YAML escapes for `"`, `\`, control characters and the characters YAML treats as
/// line breaks or byte-order marks; other characters as they are.
fn write_double_quoted(out: &mut String, s: &str) {
    out.push('"');
    let mut pending = 0; // start of the run of characters written as they are
    for (i, ch) in s.char_indices() {
        let named = match ch {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\t' => "\\t",
            '\r' => "\\r",
            '\0' => "\\0",
            c if c.is_control()
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{FEFF}' | '\u{FFFE}' | '\u{FFFF}') =>
            {
                ""
            }
            _ => continue,
        };
        out.push_str(&s[pending..i]);
        pending = i + ch.len_utf8();
        if named.is_empty() {
            let _ = write!(out, "\\u{:04X}", u32::from(ch));
        } else {
            out.push_str(named);
        }
    }
    out.push_str(&s[pending..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;

    /// `v` rendered, after checking that it reads back as `v`.
    #[track_caller]
    fn rendered(v: &Value) -> String {
        let yaml = to_string(v);
        let back: Value = serde_saphyr::from_str(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        assert_eq!(&back, v, "YAML:\n{yaml}");
        yaml
    }

    /// How `s` is written as a value.
    fn value_of(s: &str) -> String {
        rendered(&json!({ "k": s }))
            .strip_prefix("k: ")
            .and_then(|r| r.strip_suffix('\n'))
            .unwrap()
            .to_owned()
    }

    #[test]
    fn kubernetes_strings_are_plain() {
        for s in [
            "reviews",
            "reviews.prod.svc.cluster.local",
            "networking.istio.io/v1",
            "app.kubernetes.io/managed-by",
            "10s",
            "1.5s",
            "250ms",
            "/api/*",
            "/",
            "cluster.local/ns/prod/sa/reviews",
            "spiffe://cluster.local/ns/x/sa/y",
            "ISTIO_MUTUAL",
            "connect-failure,gateway-error,5xx",
            "Hello world",
            "a:b",
            "a#b",
        ] {
            assert_eq!(value_of(s), s, "{s:?}");
        }
    }

    #[test]
    fn strings_a_reader_could_take_for_something_else_are_quoted() {
        for s in [
            "8080",
            "0",
            "1.5",
            "1e3",
            "0x1F",
            "0o17",
            "0b101",
            "10.0.0.1",
            "1_000",
            "12:30",
            "2001-12-14",
            "true",
            "False",
            "YES",
            "no",
            "y",
            "N",
            "on",
            "OFF",
            "null",
            "NULL",
            "nan",
            ".inf",
            "-.inf",
            "~",
            "",
            " a",
            "a ",
            "a: b",
            "a #b",
            "a:",
            "-",
            "-a",
            "- a",
            "?",
            "*.example.com",
            "&a",
            "!tag",
            "|",
            ">",
            "'q'",
            "\"q\"",
            "%x",
            "@x",
            "`x`",
            "#x",
            "[a]",
            "{a}",
            ",a",
            "=",
            "<<",
            "über",
            "日本",
            "a\nb",
            "tab\there",
            "bell\u{7}",
            "\u{2028}",
            "\u{FEFF}x",
        ] {
            let v = value_of(s);
            assert!(v.starts_with('"') && v.ends_with('"'), "{s:?} written as {v}");
        }
        assert_eq!(value_of("a\"b\\c\nd\u{1}"), r#""a\"b\\c\nd\u0001""#);
    }

    #[test]
    fn keys_with_colons_or_flow_indicators_are_quoted() {
        let v = json!({ "a:b": 1, "x,y": 2, "8080": 3, "plain-key.io/name": 4, "": 5 });
        assert_eq!(
            rendered(&v),
            "\"\": 5\n\"8080\": 3\n\"a:b\": 1\nplain-key.io/name: 4\n\"x,y\": 2\n"
        );
    }

    #[test]
    fn layout_nests_maps_and_sequences() {
        let v = json!({
            "a": [{ "b": 1, "c": [1, [2, 3], {}] }, [], [[]]],
            "d": { "e": { "f": null } },
            "g": [],
        });
        assert_eq!(
            rendered(&v),
            "a:\n- b: 1\n  c:\n  - 1\n  - - 2\n    - 3\n  - {}\n- []\n- - []\nd:\n  e:\n    f: null\ng: []\n"
        );
        assert_eq!(rendered(&json!("x")), "x\n");
        assert_eq!(rendered(&json!([[1]])), "- - 1\n");
    }

    #[test]
    fn numbers_read_back_as_the_same_number_and_type() {
        for n in [
            json!(0),
            json!(-7),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(10.0),
            json!(-0.5),
            json!(0.1),
            json!(1e-7),
            json!(1e300),
            json!(f64::MAX),
            json!(f64::MIN_POSITIVE),
        ] {
            let yaml = rendered(&json!([n]));
            assert!(n.is_f64() == yaml.contains('.'), "{n} as {yaml}");
        }
    }

    #[test]
    fn keys_past_the_implicit_limit_are_explicit() {
        let long = "k".repeat(MAX_IMPLICIT_KEY + 1);
        let yaml = rendered(&json!({ &long: { "a": 1, "b": 2 } }));
        assert_eq!(yaml, format!("? {long}\n: a: 1\n  b: 2\n"));
        rendered(&json!({ &long: 1 }));
    }

    fn any_string() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[ -~]{0,12}",
            prop::sample::select(vec![
                "true",
                "no",
                "~",
                "null",
                "1e3",
                "0x1F",
                "10.0.0.1",
                "12:30:00",
                "2001-12-14",
                "-",
                "- a",
                "a: b",
                "#",
                " #",
                "'",
                "\"",
                "\\",
                "\n",
                "\r\n",
                "\u{85}",
                "\u{2028}",
                ".inf",
                "<<",
                "=",
                "",
            ])
            .prop_map(str::to_owned),
        ]
    }

    fn any_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            any_string().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(any_string(), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Values shaped like Kubernetes objects: the strings real objects carry.
    fn kubernetes_value() -> impl Strategy<Value = Value> {
        let word = prop_oneof![
            "[a-z][a-z0-9-]{0,8}[a-z0-9](\\.[a-z][a-z0-9-]{0,8}){0,3}",
            "[a-z]{1,6}\\.[a-z]{2,5}/[a-z][a-z-]{0,8}",
            "/[a-z0-9/*-]{0,12}",
            "[1-9][0-9]{0,3}(ms|s|m|h)",
            "[0-9]{1,5}",
            "[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}",
            "[A-Z][A-Z_]{0,10}",
            prop::sample::select(vec![
                "true", "false", "yes", "no", "on", "null", "v1", "GET", "/api/*"
            ])
            .prop_map(str::to_owned),
        ];
        let leaf = prop_oneof![
            word.clone().prop_map(Value::String),
            (0u32..100_000).prop_map(Value::from),
            (0u32..10_000).prop_map(|c| Value::from(f64::from(c) / 100.0)),
            any::<bool>().prop_map(Value::Bool),
        ];
        leaf.prop_recursive(4, 40, 5, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(word.clone(), inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn every_value_reads_back_unchanged(v in any_value()) {
            let yaml = to_string(&v);
            let back: Value = serde_saphyr::from_str(&yaml).map_err(|e| TestCaseError::fail(format!("{e}\n{yaml}")))?;
            prop_assert_eq!(back, v, "YAML:\n{}", yaml);
        }

        #[test]
        fn kubernetes_objects_render_as_serde_saphyr_renders_them(v in kubernetes_value()) {
            prop_assert_eq!(to_string(&v), serde_saphyr::to_string(&v).unwrap());
        }
    }
}
