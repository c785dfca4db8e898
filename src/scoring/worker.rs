//! The JSON-lines scoring worker behind `score.py`: one request per input line, one answer per
//! output line, never stopping on a bad request.

use std::io::{BufRead, Write};

use serde_json::{json, Value};

use super::request::{parse_request, ScoreRequest};
use super::scorer::Scorer;
use crate::error::{AutotabError, Result};

/// Reads requests (`{"data":[...], "method": "predict"|"predict_proba"}`, one per line) from
/// `input` until end of input and writes one answer line per request to `output`:
/// `{"result":[...]}` or `{"error":"..."}`. Blank lines are skipped. Only a failure to read or
/// write the streams ends it early. The model is any [`Scorer`] (tabular or forecasting).
pub fn run_worker(scorer: &dyn Scorer, input: impl BufRead, output: impl Write) -> Result<()> {
    serve_lines(input, output, |request| scorer.score(request))
}

fn serve_lines(
    mut input: impl BufRead,
    mut output: impl Write,
    score: impl Fn(&ScoreRequest) -> Result<Value>,
) -> Result<()> {
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = input
            .read_until(b'\n', &mut line)
            .map_err(|e| AutotabError::io("<stdin>", e))?;
        if read == 0 {
            return Ok(());
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let answer = match parse_request(&line).and_then(|request| score(&request)) {
            Ok(answer) => answer,
            Err(e) => json!({ "error": e.to_string() }),
        };
        let mut text = answer.to_string();
        text.push('\n');
        output
            .write_all(text.as_bytes())
            .and_then(|()| output.flush())
            .map_err(|e| AutotabError::io("<stdout>", e))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake(request: &ScoreRequest) -> Result<Value> {
        if request.data.len() > 2 {
            return Err(AutotabError::data("record 2: missing field 'age'"));
        }
        Ok(json!({ "result": vec![1; request.data.len()] }))
    }

    #[test]
    fn answers_every_request_line_and_survives_bad_ones() {
        let input = concat!(
            "{\"data\":[{\"a\":1}]}\n",
            "not json\n",
            "\n",
            "{\"data\":[]}\n",
            "{\"data\":[{},{},{}]}\n",
            "{\"data\":[{},{}],\"method\":\"predict_proba\"}"
        );
        let mut out = Vec::new();
        serve_lines(input.as_bytes(), &mut out, fake).unwrap();
        let lines: Vec<Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[0], json!({"result": [1]}));
        assert!(lines[1]["error"]
            .as_str()
            .unwrap()
            .contains("not valid JSON"));
        assert!(lines[2]["error"].as_str().unwrap().contains("empty list"));
        assert_eq!(lines[3], json!({"error": "record 2: missing field 'age'"}));
        assert_eq!(lines[4], json!({"result": [1, 1]}));
    }

    #[test]
    fn invalid_utf8_is_an_answer_not_a_stop() {
        let mut input = b"\xff\xfe\n".to_vec();
        input.extend_from_slice(b"{\"data\":[{}]}\n");
        let mut out = Vec::new();
        serve_lines(&input[..], &mut out, fake).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.lines().next().unwrap().contains("error"));
    }
}
