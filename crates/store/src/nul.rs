//! NUL characters. PostgreSQL `text` and `jsonb` cannot hold U+0000, so one
//! rule holds on both stores: what programs print (event text and data,
//! artifact content, a run's error) is stored with each NUL shown as
//! [`NUL_SHOWN_AS`]; what clients send is refused at the API instead.

use serde_json::Value;
use std::borrow::Cow;

/// What a NUL in program output is stored as: U+2400 SYMBOL FOR NULL, a
/// visible character that a program printing a literal `\0` cannot be
/// mistaken for.
pub const NUL_SHOWN_AS: char = '\u{2400}';

/// `s` with every NUL replaced by [`NUL_SHOWN_AS`]; borrowed when it has none.
pub fn escape_nul(s: &str) -> Cow<'_, str> {
    if s.contains('\0') {
        Cow::Owned(s.replace('\0', "\u{2400}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// [`escape_nul`] for JSON: every string and object key at any depth.
pub fn escape_nul_json(v: &Value) -> Cow<'_, Value> {
    if has_nul(v) {
        Cow::Owned(escaped(v))
    } else {
        Cow::Borrowed(v)
    }
}

fn has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

fn escaped(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(escape_nul(s).into_owned()),
        Value::Array(items) => Value::Array(items.iter().map(escaped).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (escape_nul(k).into_owned(), escaped(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nul_is_shown_and_text_without_it_is_not_copied() {
        assert_eq!(escape_nul("before\0after\0"), "before␀after␀");
        assert!(matches!(escape_nul("plain"), Cow::Borrowed(_)));
        let data = json!({"a\0": ["x\0y", 1, null, {"k": "\0"}], "b": true});
        assert_eq!(
            escape_nul_json(&data).into_owned(),
            json!({"a␀": ["x␀y", 1, null, {"k": "␀"}], "b": true})
        );
        let clean = json!({"a": ["b"]});
        assert!(matches!(escape_nul_json(&clean), Cow::Borrowed(_)));
    }
}
