//! Strict YAML documents (job files, MLTable files): parsed into types that refuse unknown
//! keys, with errors that name the key path (`limits.timout_minutes`) and suggest the closest
//! known key or value.

use serde::de::DeserializeOwned;

use crate::error::{AutotabError, Result};

/// Parses `text` into `T`; errors read `key.path: what is wrong (line L, column C)`.
pub fn from_str_strict<T: DeserializeOwned>(text: &str) -> Result<T> {
    let deserializer = yaml_serde::Deserializer::from_str(text);
    serde_path_to_error::deserialize(deserializer).map_err(describe_error)
}

/// Turns a parse error into `key.path: what is wrong` with a suggestion for a misspelt key.
fn describe_error(err: serde_path_to_error::Error<yaml_serde::Error>) -> AutotabError {
    let mut path = err.path().to_string();
    let inner = err.inner();
    let location = inner
        .location()
        .map(|l| format!(" (line {}, column {})", l.line(), l.column()))
        .unwrap_or_default();
    let mut message = inner.to_string();
    if let Some(i) = message.find(" at line ") {
        message.truncate(i);
    }
    // The YAML parser may already prefix the path; keep one.
    if let Some((prefix, rest)) = message.split_once(": ") {
        let within = path == prefix
            || path.starts_with(&format!("{prefix}."))
            || path.starts_with(&format!("{prefix}["))
            || path.ends_with(prefix);
        if !prefix.contains(' ') && (within || path == ".") {
            if path == "." {
                path = prefix.to_string();
            }
            message = rest.to_string();
        }
    }
    if let Some((key, expected)) = unknown_name(&message, "unknown field") {
        // The path may end with the unknown key itself.
        let parent = match path.strip_suffix(&key) {
            Some(p) => p.trim_end_matches('.').to_string(),
            None if path == "." => String::new(),
            None => path.clone(),
        };
        let full = if parent.is_empty() {
            key.clone()
        } else {
            format!("{parent}.{key}")
        };
        return AutotabError::config(format!(
            "{full}: unknown key{}{location}",
            suggestion(&key, &expected, "key")
        ));
    }
    if let Some((value, expected)) = unknown_name(&message, "unknown variant") {
        let expected = without_aliases(expected);
        let hint = suggestion(&value, &expected, "value");
        let hint = match hint.strip_prefix("; did you mean") {
            Some(rest) => format!(". Did you mean{rest}"),
            None => String::new(),
        };
        return AutotabError::config(format!(
            "{path}: unknown value '{value}'; expected one of {}{hint}{location}",
            expected.join(", ")
        ));
    }
    let message = match message.find("expected struct ") {
        Some(i) => format!("{}expected a mapping of keys", &message[..i]),
        None => message,
    };
    let path = if path == "." {
        "job file".to_string()
    } else {
        path
    };
    AutotabError::config(format!("{path}: {message}{location}"))
}

/// Keeps one spelling of each name (`Auto`/`auto`, `OneHotEncoder`/`one_hot_encoder`),
/// preferring the all-lowercase one.
fn without_aliases(names: Vec<String>) -> Vec<String> {
    let key = |n: &str| n.to_ascii_lowercase().replace('_', "");
    let mut kept: Vec<String> = Vec::new();
    for name in names {
        match kept.iter_mut().find(|k| key(k) == key(&name)) {
            Some(k) if name == name.to_ascii_lowercase() && !name.contains('_') => *k = name,
            Some(_) => {}
            None => kept.push(name),
        }
    }
    kept
}

/// Splits serde's "unknown field `x`, expected one of `a`, `b`" into `x` and `[a, b]`.
fn unknown_name(message: &str, what: &str) -> Option<(String, Vec<String>)> {
    let rest = message.strip_prefix(what)?.trim_start();
    let mut quoted = rest.split('`').skip(1).step_by(2).map(String::from);
    let name = quoted.next()?;
    Some((name, quoted.collect()))
}

/// `; did you mean x?` when a known name is close to `given`.
fn suggestion(given: &str, known: &[String], what: &str) -> String {
    let lower = given.to_ascii_lowercase();
    let best = known
        .iter()
        .map(|k| (strsim::jaro_winkler(&lower, &k.to_ascii_lowercase()), k))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match best {
        Some((score, k)) if score >= 0.8 => format!("; did you mean {k}?"),
        _ if known.is_empty() => String::new(),
        _ => format!("; known {what}s: {}", known.join(", ")),
    }
}
