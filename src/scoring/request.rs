//! Scoring requests and answers: the `{"data":[{...}]}` body, its coercion into a [`Dataset`]
//! by the training schema, and the `{"result":[...]}` answer.
//!
//! Shared by the HTTP server, the JSON-lines worker behind `score.py`, and anything else that
//! scores JSON records. Values may come as JSON numbers, booleans or strings (`"60"`,
//! `"false"`, `"1.40"`); `null` and `""` are missing. Every column becomes a text column: the
//! featurizer parses it by the column's kind exactly as it does for training files.

use serde_json::{Map, Value};

use super::bundle::Predictor;
use crate::data::{format_number, Column, ColumnKind, ColumnValues, Dataset, Schema};
use crate::error::{AutotabError, Result};
use crate::pipeline::Predictions;

/// What the caller wants back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Predicted labels (or values); `return_proba` adds class probabilities.
    Predict,
    /// Class probabilities as the result, one `{class: p}` object per record.
    PredictProba,
}

impl Method {
    fn parse(name: &str) -> Result<Method> {
        match name {
            "predict" => Ok(Method::Predict),
            "predict_proba" => Ok(Method::PredictProba),
            other => Err(AutotabError::data(format!(
                "field 'method' is '{other}': expected \"predict\" or \"predict_proba\""
            ))),
        }
    }
}

/// A parsed request body.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreRequest {
    /// The records, each a JSON object of field values (not yet checked against the schema).
    pub data: Vec<Value>,
    /// Whether class probabilities are wanted beside the labels.
    pub return_proba: bool,
    /// `predict` (default) or `predict_proba`.
    pub method: Method,
    /// Forecasting models: prediction-interval levels in (0, 1) (`"quantiles": [0.1, 0.9]`);
    /// empty when not asked.
    pub quantiles: Vec<f64>,
    /// Whether each row's largest TreeSHAP contributions are wanted (`"explain": true`).
    pub explain: bool,
}

impl ScoreRequest {
    /// Whether the answer carries probabilities (asked for with either field).
    pub fn wants_proba(&self) -> bool {
        self.return_proba || self.method == Method::PredictProba
    }
}

/// Parses `{"data":[...], "return_proba": bool, "method": "predict"|"predict_proba",
/// "quantiles": [levels]}` (`quantiles` for forecasting models). Errors say what is wrong: not
/// JSON, not an object, no `data`, `data` not a list or empty, a level outside (0, 1).
pub fn parse_request(body: &[u8]) -> Result<ScoreRequest> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| AutotabError::data(format!("the request body is not valid JSON: {e}")))?;
    let Value::Object(mut object) = value else {
        return Err(AutotabError::data(format!(
            "the request body is {}: expected an object like {{\"data\":[{{...}}]}}",
            describe(&value)
        )));
    };
    let data = match object.remove("data") {
        None => {
            return Err(AutotabError::data(
                "the request has no field 'data': expected {\"data\":[{...}, ...]}",
            ))
        }
        Some(Value::Array(records)) => records,
        Some(other) => {
            return Err(AutotabError::data(format!(
                "field 'data' is {}: expected a list of records",
                describe(&other)
            )))
        }
    };
    if data.is_empty() {
        return Err(AutotabError::data(
            "field 'data' is an empty list: send at least one record",
        ));
    }
    let return_proba = match object.get("return_proba") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(AutotabError::data(format!(
                "field 'return_proba' is {}: expected true or false",
                describe(other)
            )))
        }
    };
    let explain = match object.get("explain") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(AutotabError::data(format!(
                "field 'explain' is {}: expected true or false",
                describe(other)
            )))
        }
    };
    let method = match object.get("method") {
        None | Some(Value::Null) => Method::Predict,
        Some(Value::String(name)) => Method::parse(name)?,
        Some(other) => {
            return Err(AutotabError::data(format!(
                "field 'method' is {}: expected \"predict\" or \"predict_proba\"",
                describe(other)
            )))
        }
    };
    let quantiles = match object.get("quantiles") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(levels)) => levels
            .iter()
            .map(|level| match level.as_f64() {
                Some(q) if q > 0.0 && q < 1.0 => Ok(q),
                _ => Err(AutotabError::data(format!(
                    "field 'quantiles' holds {}: expected numbers between 0 and 1 (exclusive), such as [0.1, 0.9]",
                    describe(level)
                ))),
            })
            .collect::<Result<Vec<f64>>>()?,
        Some(other) => {
            return Err(AutotabError::data(format!(
                "field 'quantiles' is {}: expected a list of levels such as [0.1, 0.9]",
                describe(other)
            )))
        }
    };
    Ok(ScoreRequest {
        data,
        return_proba,
        method,
        quantiles,
        explain,
    })
}

/// Turns JSON records into a [`Dataset`] of text columns, one per name in `input_columns`,
/// checked against the kinds in `schema`.
///
/// A missing field, a record that is not an object, or a value that cannot be read as the
/// column's kind is an error naming the record index and the field. Extra fields are ignored;
/// categories not seen in training pass through (the featurizer treats them as at training
/// time).
pub fn records_to_dataset(
    records: &[Value],
    schema: &Schema,
    input_columns: &[String],
) -> Result<Dataset> {
    let kinds: Vec<ColumnKind> = input_columns
        .iter()
        .map(|name| {
            schema
                .column(name)
                .map(|c| c.kind)
                .unwrap_or(ColumnKind::Categorical)
        })
        .collect();
    let mut columns: Vec<Vec<Option<String>>> = input_columns
        .iter()
        .map(|_| Vec::with_capacity(records.len()))
        .collect();
    for (index, record) in records.iter().enumerate() {
        let Value::Object(fields) = record else {
            return Err(AutotabError::data(format!(
                "record {index}: is {}, expected an object of field values",
                describe(record)
            )));
        };
        for ((name, kind), column) in input_columns.iter().zip(&kinds).zip(&mut columns) {
            column.push(field_value(index, fields, name, *kind)?);
        }
    }
    Dataset::new(
        input_columns
            .iter()
            .zip(columns)
            .map(|(name, values)| Column {
                name: name.clone(),
                values: ColumnValues::Text(values),
            })
            .collect(),
    )
}

/// One field of one record as text, `None` when missing.
fn field_value(
    index: usize,
    fields: &Map<String, Value>,
    name: &str,
    kind: ColumnKind,
) -> Result<Option<String>> {
    let value = fields
        .get(name)
        .ok_or_else(|| AutotabError::data(format!("record {index}: missing field '{name}'")))?;
    let wrong = |expected: &str| {
        AutotabError::data(format!(
            "record {index}: field '{name}' is {}, expected {expected}",
            describe(value)
        ))
    };
    match kind {
        ColumnKind::Numeric => match value {
            Value::Null => Ok(None),
            Value::Number(n) => match n.as_f64() {
                Some(x) if x.is_finite() => Ok(Some(format_number(x))),
                _ => Err(wrong("a finite number")),
            },
            Value::String(s) if is_missing_text(s) => Ok(None),
            Value::String(s) => match s.trim().parse::<f64>() {
                Ok(x) if x.is_finite() => Ok(Some(format_number(x))),
                _ => Err(wrong("a number (like 60 or \"1.40\")")),
            },
            _ => Err(wrong("a number (like 60 or \"1.40\")")),
        },
        ColumnKind::Boolean => {
            let expected = "a boolean (true/false, 1/0, yes/no)";
            match value {
                Value::Null => Ok(None),
                Value::Bool(b) => Ok(Some(b.to_string())),
                Value::Number(n) => match n.as_f64() {
                    Some(0.0) => Ok(Some("false".into())),
                    Some(1.0) => Ok(Some("true".into())),
                    _ => Err(wrong(expected)),
                },
                Value::String(s) if s.trim().is_empty() => Ok(None),
                Value::String(s) => parse_bool(s)
                    .map(|b| Some(b.to_string()))
                    .ok_or_else(|| wrong(expected)),
                _ => Err(wrong(expected)),
            }
        }
        ColumnKind::Categorical
        | ColumnKind::Datetime
        | ColumnKind::Text
        | ColumnKind::IdLike
        | ColumnKind::Constant => match value {
            Value::Null => Ok(None),
            Value::String(s) if s.is_empty() => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            Value::Bool(b) => Ok(Some(b.to_string())),
            Value::Number(n) => Ok(Some(match n.as_f64() {
                Some(x) if x.is_finite() => format_number(x),
                _ => n.to_string(),
            })),
            _ => Err(wrong("a string, number or boolean")),
        },
    }
}

/// Empty text and the usual spellings of "no value" in numeric columns.
fn is_missing_text(text: &str) -> bool {
    matches!(
        text.trim().to_ascii_lowercase().as_str(),
        "" | "na" | "n/a" | "nan" | "null" | "none" | "?"
    )
}

/// The boolean spellings schema inference accepts, case-insensitively.
fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "1" | "1.0" => Some(true),
        "false" | "f" | "no" | "n" | "0" | "0.0" => Some(false),
        _ => None,
    }
}

/// "an object", "a list", "the string \"abc\"", ... for error messages.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => {
            let shown: String = s.chars().take(40).collect();
            let more = if s.chars().count() > 40 { "…" } else { "" };
            format!("the string \"{shown}{more}\"")
        }
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// The answer body: `{"result":[...]}` with one prediction per record (numbers when the label
/// is numeric, else strings) and, when `with_proba`, `"probabilities":[{class: p}, ...]`.
pub fn response_json(preds: &Predictions, with_proba: bool) -> Value {
    let result: Vec<Value> = if !preds.values.is_empty() {
        preds.values.iter().map(|v| number(*v)).collect()
    } else {
        preds
            .labels
            .iter()
            .map(|l| label_value(l, preds.numeric_labels))
            .collect()
    };
    let mut body = Map::new();
    body.insert("result".into(), Value::Array(result));
    if with_proba {
        body.insert("probabilities".into(), Value::Array(probabilities(preds)));
    }
    Value::Object(body)
}

/// The answer of `method = "predict_proba"`: `{"result":[{class: p}, ...]}`; an error for a
/// model without classes.
pub fn proba_response_json(preds: &Predictions) -> Result<Value> {
    if preds.proba.is_none() {
        return Err(AutotabError::data(
            "method 'predict_proba' needs a classification model; this model predicts numbers",
        ));
    }
    Ok(serde_json::json!({ "result": probabilities(preds) }))
}

/// The answer for `request` given its predictions: `predict` or `predict_proba` form.
pub fn answer(request: &ScoreRequest, preds: &Predictions) -> Result<Value> {
    match request.method {
        Method::Predict => Ok(response_json(preds, request.return_proba)),
        Method::PredictProba => proba_response_json(preds),
    }
}

/// Coerces the records of `request` by the model's schema, scores them and shapes the answer.
pub fn score_request(predictor: &Predictor, request: &ScoreRequest) -> Result<Value> {
    if !request.quantiles.is_empty() {
        return Err(AutotabError::data(
            "field 'quantiles' applies to forecasting models only; this model is not one",
        ));
    }
    let pipeline = predictor.pipeline();
    let data = records_to_dataset(
        &request.data,
        &pipeline.schema,
        &predictor.info().input_columns,
    )?;
    let predictions = predictor.predict(&data)?;
    let mut body = answer(request, &predictions)?;
    if request.explain {
        let explanations = explanations_json(&crate::explain::tree_contributions(pipeline, &data)?);
        if let Value::Object(map) = &mut body {
            map.insert("explanations".into(), explanations);
        }
    }
    Ok(body)
}

/// Contributions shown per row in an `"explain": true` answer.
const TOP_CONTRIBUTIONS: usize = 5;

/// One object per row: the explained output, the score's scale, the base value, the raw score
/// and the largest contributions by size (`[{"column", "contribution"}]`).
fn explanations_json(c: &crate::explain::Contributions) -> Value {
    let rows = (0..c.values.nrows())
        .map(|i| {
            let top: Vec<Value> = c
                .top(i, TOP_CONTRIBUTIONS)
                .into_iter()
                .map(|(column, v)| serde_json::json!({"column": column, "contribution": number(v)}))
                .collect();
            serde_json::json!({
                "output": c.outputs[i],
                "scale": c.scale.name(),
                "base_value": number(c.base[i]),
                "raw_score": number(c.raw_scores[i]),
                "top": top,
            })
        })
        .collect();
    Value::Array(rows)
}

fn probabilities(preds: &Predictions) -> Vec<Value> {
    let Some(proba) = &preds.proba else {
        return Vec::new();
    };
    proba
        .rows()
        .into_iter()
        .map(|row| {
            let map: Map<String, Value> = preds
                .classes
                .iter()
                .zip(row.iter())
                .map(|(class, p)| (class.clone(), number(*p)))
                .collect();
            Value::Object(map)
        })
        .collect()
}

fn label_value(label: &str, numeric: bool) -> Value {
    if numeric {
        if let Ok(i) = label.parse::<i64>() {
            return Value::from(i);
        }
        if let Ok(x) = label.parse::<f64>() {
            return number(x);
        }
    }
    Value::String(label.to_string())
}

/// A JSON number; integers without `.0`; non-finite values (which JSON cannot hold) as null.
pub(crate) fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9e15 {
        Value::from(x as i64)
    } else {
        serde_json::Number::from_f64(x)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::ColumnSchema;
    use ndarray::array;
    use proptest::prelude::*;
    use serde_json::json;

    fn schema() -> Schema {
        let col = |name: &str, kind| ColumnSchema {
            name: name.into(),
            kind,
            missing: 0,
            distinct: 2,
            reason: String::new(),
        };
        Schema {
            label: "DEATH_EVENT".into(),
            columns: vec![
                col("age", ColumnKind::Numeric),
                col("anaemia", ColumnKind::Boolean),
                col("city", ColumnKind::Categorical),
                col("id", ColumnKind::IdLike),
            ],
        }
    }

    fn inputs() -> Vec<String> {
        vec!["age".into(), "anaemia".into(), "city".into()]
    }

    fn texts(data: &Dataset, name: &str) -> Vec<Option<String>> {
        let column = data.column(name).unwrap();
        (0..data.n_rows())
            .map(|i| column.values.text_at(i))
            .collect()
    }

    #[test]
    fn converts_strings_numbers_and_booleans() {
        let records = vec![
            json!({"age": "60", "anaemia": "false", "city": "Oslo", "extra": [1]}),
            json!({"age": 1.40, "anaemia": true, "city": 7}),
            json!({"age": null, "anaemia": "1", "city": ""}),
            json!({"age": " 2.5 ", "anaemia": 0, "city": "Lima"}),
        ];
        let data = records_to_dataset(&records, &schema(), &inputs()).unwrap();
        assert_eq!(data.names(), vec!["age", "anaemia", "city"]);
        assert_eq!(
            texts(&data, "age"),
            vec![
                Some("60".into()),
                Some("1.4".into()),
                None,
                Some("2.5".into())
            ]
        );
        assert_eq!(
            texts(&data, "anaemia"),
            vec![
                Some("false".into()),
                Some("true".into()),
                Some("true".into()),
                Some("false".into())
            ]
        );
        assert_eq!(
            texts(&data, "city"),
            vec![
                Some("Oslo".into()),
                Some("7".into()),
                None,
                Some("Lima".into())
            ]
        );
    }

    #[test]
    fn errors_name_the_record_and_field() {
        let missing = vec![
            json!({"age": 1, "anaemia": 0, "city": "a"}),
            json!({"age": 1}),
        ];
        let e = records_to_dataset(&missing, &schema(), &inputs()).unwrap_err();
        assert_eq!(e.to_string(), "record 1: missing field 'anaemia'");

        let bad_number = vec![json!({"age": "abc", "anaemia": 0, "city": "a"})];
        let e = records_to_dataset(&bad_number, &schema(), &inputs()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("record 0: field 'age' is the string \"abc\", expected a number"),
            "{e}"
        );

        let nested = vec![json!({"age": 1, "anaemia": 0, "city": {"x": 1}})];
        let e = records_to_dataset(&nested, &schema(), &inputs()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "record 0: field 'city' is an object, expected a string, number or boolean"
        );

        let bad_bool = vec![json!({"age": 1, "anaemia": "maybe", "city": "a"})];
        let e = records_to_dataset(&bad_bool, &schema(), &inputs()).unwrap_err();
        assert!(e.to_string().contains("field 'anaemia'"), "{e}");

        let not_object = vec![json!([1, 2])];
        let e = records_to_dataset(&not_object, &schema(), &inputs()).unwrap_err();
        assert!(e.to_string().starts_with("record 0: is a list"), "{e}");
    }

    #[test]
    fn request_parsing_reports_what_is_wrong() {
        let ok = parse_request(br#"{"data":[{"a":1}],"return_proba":true}"#).unwrap();
        assert!(ok.return_proba && ok.wants_proba());
        assert_eq!(ok.method, Method::Predict);
        let proba = parse_request(br#"{"data":[{"a":1}],"method":"predict_proba"}"#).unwrap();
        assert_eq!(proba.method, Method::PredictProba);
        let levels = parse_request(br#"{"data":[{"a":1}],"quantiles":[0.1,0.9]}"#).unwrap();
        assert_eq!(levels.quantiles, vec![0.1, 0.9]);
        let cases: [(&[u8], &str); 8] = [
            (b"{not json", "not valid JSON"),
            (b"[1]", "expected an object"),
            (br#"{"rows":[]}"#, "no field 'data'"),
            (br#"{"data":{"a":1}}"#, "field 'data' is an object"),
            (br#"{"data":[]}"#, "empty list"),
            (
                br#"{"data":[{}],"method":"fit"}"#,
                "field 'method' is 'fit'",
            ),
            (
                br#"{"data":[{}],"quantiles":[1.5]}"#,
                "field 'quantiles' holds",
            ),
            (br#"{"data":[{}],"quantiles":0.5}"#, "field 'quantiles' is"),
        ];
        for (body, expected) in cases {
            let e = parse_request(body).unwrap_err().to_string();
            assert!(e.contains(expected), "{e} should contain {expected}");
        }
    }

    #[test]
    fn answers_use_label_values_and_class_maps() {
        let preds = Predictions {
            labels: vec!["1".into(), "0".into()],
            values: Vec::new(),
            proba: Some(array![[0.25, 0.75], [0.5, 0.5]]),
            classes: vec!["0".into(), "1".into()],
            numeric_labels: true,
        };
        assert_eq!(response_json(&preds, false), json!({"result": [1, 0]}));
        assert_eq!(
            response_json(&preds, true),
            json!({"result": [1, 0], "probabilities": [{"0": 0.25, "1": 0.75}, {"0": 0.5, "1": 0.5}]})
        );
        assert_eq!(
            proba_response_json(&preds).unwrap(),
            json!({"result": [{"0": 0.25, "1": 0.75}, {"0": 0.5, "1": 0.5}]})
        );
        let text = Predictions {
            numeric_labels: false,
            ..preds
        };
        assert_eq!(response_json(&text, false), json!({"result": ["1", "0"]}));
        let regression = Predictions {
            labels: vec!["2.5".into()],
            values: vec![2.5],
            proba: None,
            classes: Vec::new(),
            numeric_labels: true,
        };
        assert_eq!(response_json(&regression, false), json!({"result": [2.5]}));
        assert!(proba_response_json(&regression).is_err());
    }

    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-1e9f64..1e9).prop_map(|x| json!(x)),
            any::<i32>().prop_map(|x| json!(x)),
            "[a-zA-Z0-9 .,-]{0,12}".prop_map(Value::String),
        ]
    }

    proptest! {
        #[test]
        fn numbers_round_trip_as_text(x in -1e12f64..1e12, as_string in any::<bool>()) {
            let value = if as_string { Value::String(x.to_string()) } else { json!(x) };
            let records = vec![json!({"age": value, "anaemia": true, "city": "a"})];
            let data = records_to_dataset(&records, &schema(), &inputs()).unwrap();
            let text = data.column("age").unwrap().values.text_at(0).unwrap();
            let back: f64 = text.parse().unwrap();
            prop_assert!((back - x).abs() <= 1e-9 * x.abs().max(1.0));
        }

        #[test]
        fn coercion_never_panics_and_errors_name_the_record(
            rows in proptest::collection::vec(
                proptest::collection::btree_map("age|anaemia|city|other", scalar(), 0..4),
                1..6,
            )
        ) {
            let records: Vec<Value> = rows
                .iter()
                .map(|r| Value::Object(r.iter().map(|(k, v)| (k.clone(), v.clone())).collect()))
                .collect();
            match records_to_dataset(&records, &schema(), &inputs()) {
                Ok(data) => {
                    prop_assert_eq!(data.n_rows(), records.len());
                    prop_assert_eq!(data.names(), vec!["age", "anaemia", "city"]);
                }
                Err(e) => {
                    let text = e.to_string();
                    prop_assert!(text.starts_with("record "), "{}", text);
                    prop_assert!(text.contains("field '"), "{}", text);
                }
            }
        }

        #[test]
        fn parse_request_never_panics(body in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse_request(&body);
        }
    }
}
