//! The one text form of a JSON value: what a JSON column stores and what a query returns for it
//! or for a field of it (`doc->'key'`). It is classic immudb's rendering, Go's `encoding/json`
//! over a value decoded into Go's generic types:
//!
//! - object keys sorted by their bytes, no spaces;
//! - every number is a 64-bit float: `30`, `1.0` and `1e1` render `30`, `1` and `10`, an integer
//!   past 2^53 loses its low digits, and magnitudes below 1e-6 or from 1e21 up take an exponent
//!   (`1e-7`, `1e+21`);
//! - strings escape `"`, `\`, control characters (`\n`, `\r`, `\t`, `\b`, `\f`, else `\u00XX`),
//!   the HTML characters `<`, `>` and `&` (`\u003c`, `\u003e`, `\u0026`) and U+2028/U+2029.
//!
//! So `doc->'name'` of `{"name": "ann"}` is the JSON text `"ann"`, quotes included.

use std::fmt::Write as _;

use serde_json::Value as Json;

/// `value` as JSON text in classic's form (see the module note).
pub fn json_text(value: &Json) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Json) {
    match value {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        // A JSON number always fits an f64 (serde refuses those that overflow it).
        Json::Number(n) => write_number(out, n.as_f64().unwrap_or(f64::NAN)),
        Json::String(s) => write_string(out, s),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Json::Object(fields) => {
            let mut keys: Vec<&String> = fields.keys().collect();
            keys.sort_unstable();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_value(out, &fields[key.as_str()]);
            }
            out.push('}');
        }
    }
}

/// Go's float form: the shortest digits that read back as `f`, fixed-point unless the magnitude
/// is below 1e-6 or at least 1e21, then `d.ddde±XX` (a negative exponent without a leading 0).
fn write_number(out: &mut String, f: f64) {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let text = format!("{f:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let exponent: i32 = exponent.parse().unwrap_or(0);
        if exponent < 0 {
            let _ = write!(out, "{mantissa}e-{}", -exponent);
        } else {
            let _ = write!(out, "{mantissa}e+{exponent:02}");
        }
    } else {
        let _ = write!(out, "{f}");
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::json_text;

    /// Each input's classic rendering (what Go's encoding/json writes for it).
    #[test]
    fn renders_as_classic_does() {
        let cases = [
            (
                r#"{"b": 1, "a": [true, null]}"#,
                r#"{"a":[true,null],"b":1}"#,
            ),
            (r#""ann""#, r#""ann""#),
            ("30", "30"),
            ("1.0", "1"),
            ("1e1", "10"),
            ("2.5", "2.5"),
            ("-0.0", "-0"),
            ("0.000001", "0.000001"),
            ("0.0000001", "1e-7"),
            ("1.5e-10", "1.5e-10"),
            ("1e20", "100000000000000000000"),
            ("1e21", "1e+21"),
            ("-1.25e300", "-1.25e+300"),
            ("12345678901234567890", "12345678901234567000"),
            (r#""<a&b>""#, r#""\u003ca\u0026b\u003e""#),
            (
                "\"\\u2028 \\u0001 \\n \\b é\"",
                "\"\\u2028 \\u0001 \\n \\b é\"",
            ),
            (r#"{"k": "\"q\" \\"}"#, r#"{"k":"\"q\" \\"}"#),
        ];
        for (input, expected) in cases {
            let value: serde_json::Value = serde_json::from_str(input).unwrap();
            assert_eq!(json_text(&value), expected, "rendering {input}");
        }
    }
}
