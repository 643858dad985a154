//! Numbers for people: YAML and tables print floating-point readings to four significant digits
//! (`0.012345678` → `0.01235`); `-o json` keeps full precision for programs.

use serde_json::Value;

/// Significant digits a person reads.
const SIGNIFICANT: usize = 4;

/// `v` with every floating-point number rounded to [`SIGNIFICANT`] digits. Integers are kept.
pub(crate) fn rounded(v: Value) -> Value {
    match v {
        Value::Number(n) if n.is_f64() => {
            let x = n.as_f64().unwrap_or_default();
            serde_json::Number::from_f64(round(x)).map_or(Value::Number(n), Value::Number)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(rounded).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, rounded(v))).collect()),
        other => other,
    }
}

fn round(x: f64) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    // Scientific notation rounds to the significant digits; parsing it back gives the nearest
    // double, which prints in its shortest form.
    format!("{x:.prec$e}", prec = SIGNIFICANT - 1)
        .parse()
        .unwrap_or(x)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn floats_keep_four_significant_digits_and_integers_stay() {
        let v = rounded(
            json!({"error_rate": 0.012345678, "rps": 12.3456789, "p99_ms": 123.456789,
            "requests": 1234567, "tiny": 1.0e-300, "nested": [0.333333333]}),
        );
        assert_eq!(
            v,
            json!({"error_rate": 0.01235, "rps": 12.35, "p99_ms": 123.5, "requests": 1234567,
                "tiny": 1.0e-300, "nested": [0.3333]})
        );
    }
}
