//! Loading CSV and Parquet files into a [`Dataset`] with polars.
//!
//! CSV files are read by polars with every column as text; autotab then applies the missing
//! markers itself and turns a column into numbers when every non-missing cell parses as one.
//! Doing the typing here (rather than in polars' inference) gives one rule for all files:
//! a column with `?` or `NA` markers among numbers is still numeric.
//!
//! Cells are trimmed of leading and trailing whitespace (`"WD "` becomes `"WD"`); spaces inside
//! a value are kept as written. Missing markers are compared with the trimmed cell.
//!
//! Before polars parses a CSV file, autotab checks its shape itself so that errors name the row:
//! a NUL byte (binary data, or UTF-16 text) and a row with more fields than the header are
//! errors; rows with fewer fields are read with the missing fields as missing values and counted
//! in the [`LoadReport`].

use std::io::Cursor;
use std::path::Path;

use polars::prelude as pl;
use polars::prelude::{DataType, SerReader};

use super::{Column, ColumnValues, Dataset};
use crate::error::{AutotabError, Result};

/// How to read a table file.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadOptions {
    /// Cell values read as missing (compared after trimming spaces).
    pub missing_markers: Vec<String>,
    /// Field delimiter; sniffed from the first lines when `None`.
    pub delimiter: Option<u8>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            missing_markers: ["", "NA", "N/A", "null", "?", "NaN"]
                .map(String::from)
                .to_vec(),
            delimiter: None,
        }
    }
}

/// What loading a file noticed without refusing it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Number of data rows with fewer fields than the header (read with the rest missing).
    pub short_rows: usize,
    /// The first few of those rows (1-based data row numbers, the header not counted).
    pub first_short_rows: Vec<usize>,
}

/// How many short rows a [`LoadReport`] lists by number.
const SHORT_ROWS_LISTED: usize = 5;

impl LoadReport {
    /// One line per finding about `path`, for the run's output (none when all was regular).
    pub fn messages(&self, path: &Path) -> Vec<String> {
        if self.short_rows == 0 {
            return Vec::new();
        }
        let listed: Vec<String> = self.first_short_rows.iter().map(usize::to_string).collect();
        let more = if self.short_rows > listed.len() {
            ", ..."
        } else {
            ""
        };
        vec![format!(
            "{}: {} row{} had fewer fields than the header (row{} {}{more}); their missing \
             fields were read as missing values",
            path.display(),
            self.short_rows,
            if self.short_rows == 1 { "" } else { "s" },
            if listed.len() == 1 { "" } else { "s" },
            listed.join(", "),
        )]
    }
}

/// Reads a CSV (`.csv`, `.tsv`, `.txt`, any other extension) or Parquet (`.parquet`, `.pq`) file.
///
/// Integer and float columns become [`ColumnValues::Numeric`], everything else
/// [`ColumnValues::Text`] (Parquet booleans as `true`/`false`, dates in ISO form).
/// A file that is missing, unreadable, empty or has no data rows is an error naming the path.
/// [`load_table_with_report`] also says what was read leniently.
pub fn load_table(path: &Path, options: &LoadOptions) -> Result<Dataset> {
    load_table_with_report(path, options).map(|(data, _)| data)
}

/// Like [`load_table`], and reports what was read leniently (rows with too few fields).
pub fn load_table_with_report(path: &Path, options: &LoadOptions) -> Result<(Dataset, LoadReport)> {
    if super::is_mltable(path) {
        let data = check_not_empty(path, super::load_mltable(path, options)?)?;
        return Ok((data, LoadReport::default()));
    }
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .unwrap_or_default();
    let (data, report) = if extension == "parquet" || extension == "pq" {
        (load_parquet(path, options)?, LoadReport::default())
    } else {
        load_csv(path, options)?
    };
    Ok((check_not_empty(path, data)?, report))
}

/// Refuses a table without columns or rows, naming `path`.
fn check_not_empty(path: &Path, data: Dataset) -> Result<Dataset> {
    if data.columns().is_empty() {
        return Err(AutotabError::data(format!(
            "{}: the file has no columns",
            path.display()
        )));
    }
    if data.n_rows() == 0 {
        return Err(AutotabError::data(format!(
            "{}: the file has a header but no data rows",
            path.display()
        )));
    }
    Ok(data)
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

fn load_csv(path: &Path, options: &LoadOptions) -> Result<(Dataset, LoadReport)> {
    let bytes = std::fs::read(path).map_err(|e| AutotabError::io(path, e))?;
    read_csv_bytes(path, bytes, options)
}

/// Parses CSV text read from `path` (named in errors; an MLTable's files are joined first),
/// and reports the rows read leniently.
pub(crate) fn read_csv_bytes(
    path: &Path,
    mut bytes: Vec<u8>,
    options: &LoadOptions,
) -> Result<(Dataset, LoadReport)> {
    if bytes.starts_with(UTF8_BOM) {
        bytes.drain(..UTF8_BOM.len());
    }
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(AutotabError::data(format!(
            "{}: the file is empty (no header, no rows)",
            path.display()
        )));
    }
    if std::str::from_utf8(&bytes).is_err() {
        return Err(AutotabError::data(format!(
            "{}: the file is not valid UTF-8 text (is it a CSV file?)",
            path.display()
        )));
    }
    if let Some(at) = bytes.iter().position(|&b| b == 0) {
        let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        return Err(AutotabError::data(format!(
            "{}: line {line} contains a NUL byte: the file is not CSV text (binary data, or \
             text in UTF-16: save it as UTF-8)",
            path.display()
        )));
    }
    let delimiter = options.delimiter.unwrap_or_else(|| sniff_delimiter(&bytes));
    let report = check_field_counts(path, &bytes, delimiter)?;
    let frame = pl::CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .map_parse_options(|p| {
            p.with_separator(delimiter)
                .with_quote_char(Some(b'"'))
                .with_missing_is_null(false)
        })
        .into_reader_with_file_handle(Cursor::new(bytes))
        .finish()
        .map_err(|e| {
            AutotabError::data(format!(
                "{}: cannot read as CSV (delimiter '{}'): {e}; check the delimiter, the quoting \
                 and that no row has more fields than the header",
                path.display(),
                char::from(delimiter).escape_default()
            ))
        })?;
    Ok((frame_to_dataset(path, &frame, options)?, report))
}

/// Counts the fields of every record (quotes respected, as polars reads them): a row with more
/// fields than the header is an error naming it; rows with fewer are counted.
fn check_field_counts(path: &Path, bytes: &[u8], delimiter: u8) -> Result<LoadReport> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .quote(b'"')
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut record = csv::ByteRecord::new();
    let mut header_fields = None;
    let mut report = LoadReport::default();
    let mut row = 0usize;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            // Left to polars, whose error names the problem.
            Err(_) => break,
        }
        let Some(expected) = header_fields else {
            header_fields = Some(record.len());
            continue;
        };
        row += 1;
        let fields = record.len();
        if fields > expected {
            let line = record.position().map(|p| p.line()).unwrap_or(0);
            return Err(AutotabError::data(format!(
                "{}: row {row} (line {line}) has {fields} fields, the header has {expected}: \
                 check that row's delimiters and quotes (the delimiter is '{}')",
                path.display(),
                char::from(delimiter).escape_default()
            )));
        }
        if fields < expected {
            report.short_rows += 1;
            if report.first_short_rows.len() < SHORT_ROWS_LISTED {
                report.first_short_rows.push(row);
            }
        }
    }
    Ok(report)
}

pub(crate) fn load_parquet(path: &Path, options: &LoadOptions) -> Result<Dataset> {
    let file = std::fs::File::open(path).map_err(|e| AutotabError::io(path, e))?;
    let frame = pl::ParquetReader::new(file).finish().map_err(|e| {
        AutotabError::data(format!("{}: cannot read as Parquet: {e}", path.display()))
    })?;
    frame_to_dataset(path, &frame, options)
}

/// Picks the delimiter among `,` `;` tab `|` that splits the first lines into the same,
/// largest number of fields (quotes respected). Falls back to `,`.
fn sniff_delimiter(bytes: &[u8]) -> u8 {
    const CANDIDATES: [u8; 4] = [b',', b';', b'\t', b'|'];
    let lines = first_records(bytes, 20);
    let mut best = (b',', 0usize, false);
    for &candidate in &CANDIDATES {
        let counts: Vec<usize> = lines
            .iter()
            .map(|line| count_outside_quotes(line, candidate))
            .collect();
        let Some(&first) = counts.first() else {
            continue;
        };
        if first == 0 {
            continue;
        }
        let consistent = counts.iter().all(|&c| c == first);
        // A consistent split beats an inconsistent one; then more fields win.
        let better = match (consistent, best.2) {
            (true, false) => true,
            (false, true) => false,
            _ => first > best.1,
        };
        if better {
            best = (candidate, first, consistent);
        }
    }
    best.0
}

/// The first `n` records of `bytes` (a newline inside quotes does not end a record).
fn first_records(bytes: &[u8], n: usize) -> Vec<&[u8]> {
    let mut records = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'"' => in_quotes = !in_quotes,
            b'\n' if !in_quotes => {
                let line = &bytes[start..i];
                if !line.iter().all(|c| c.is_ascii_whitespace()) {
                    records.push(line);
                }
                start = i + 1;
                if records.len() == n {
                    return records;
                }
            }
            _ => {}
        }
    }
    if start < bytes.len() && !bytes[start..].iter().all(|c| c.is_ascii_whitespace()) {
        records.push(&bytes[start..]);
    }
    records
}

fn count_outside_quotes(line: &[u8], delimiter: u8) -> usize {
    let mut in_quotes = false;
    let mut count = 0;
    for &b in line {
        if b == b'"' {
            in_quotes = !in_quotes;
        } else if b == delimiter && !in_quotes {
            count += 1;
        }
    }
    count
}

fn frame_to_dataset(path: &Path, frame: &pl::DataFrame, options: &LoadOptions) -> Result<Dataset> {
    let names: Vec<&str> = frame.columns().iter().map(|c| c.name().as_str()).collect();
    // polars renames a repeated header `x` to `x_duplicated_0`; autotab refuses it instead.
    for name in &names {
        if let Some((original, _)) = name.rsplit_once("_duplicated_") {
            if names.contains(&original) {
                return Err(AutotabError::data(format!(
                    "{}: column '{original}' appears more than once in the header",
                    path.display()
                )));
            }
        }
    }
    let mut columns = Vec::with_capacity(frame.width());
    for column in frame.columns() {
        let name = column.name().trim().to_string();
        let values = convert_column(column, options)
            .map_err(|e| AutotabError::data(format!("{}: column '{name}': {e}", path.display())))?;
        columns.push(Column { name, values });
    }
    Dataset::new(columns).map_err(|e| AutotabError::data(format!("{}: {e}", path.display())))
}

fn convert_column(
    column: &pl::Column,
    options: &LoadOptions,
) -> std::result::Result<ColumnValues, pl::PolarsError> {
    let dtype = column.dtype().clone();
    if dtype.is_primitive_numeric() {
        let floats = column.cast(&DataType::Float64)?;
        let values = floats
            .f64()?
            .iter()
            .map(|v| v.unwrap_or(f64::NAN))
            .collect();
        return Ok(ColumnValues::Numeric(values));
    }
    if dtype == DataType::Boolean {
        let values = column
            .bool()?
            .iter()
            .map(|v| v.map(|b| b.to_string()))
            .collect();
        return Ok(ColumnValues::Text(values));
    }
    let strings = if dtype == DataType::String {
        column.clone()
    } else {
        column.cast(&DataType::String)?
    };
    let cells: Vec<Option<String>> = strings
        .str()?
        .iter()
        .map(|v| clean_cell(v, &options.missing_markers))
        .collect();
    Ok(text_or_numeric(cells))
}

/// Trims a cell and maps missing markers to `None`.
fn clean_cell(cell: Option<&str>, markers: &[String]) -> Option<String> {
    let trimmed = cell?.trim();
    if markers.iter().any(|m| m.trim() == trimmed) {
        None
    } else {
        Some(trimmed.to_string())
    }
}

/// Numeric when every present cell parses as a finite number and at least one is present.
fn text_or_numeric(cells: Vec<Option<String>>) -> ColumnValues {
    let mut numbers = Vec::with_capacity(cells.len());
    let mut any_present = false;
    for cell in &cells {
        match cell {
            None => numbers.push(f64::NAN),
            Some(s) => match parse_number(s) {
                Some(x) => {
                    any_present = true;
                    numbers.push(x);
                }
                None => return ColumnValues::Text(cells),
            },
        }
    }
    if any_present {
        ColumnValues::Numeric(numbers)
    } else {
        ColumnValues::Text(cells)
    }
}

/// Parses a finite decimal number as written in a CSV (`12`, `-0.5`, `1e3`); rejects `inf`, `nan`.
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim();
    if !s.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<f64>().ok().filter(|x| x.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn dataset_path(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("datasets")
            .join(name)
    }

    fn write_temp(suffix: &str, bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut file = tempfile::Builder::new()
            .suffix(suffix)
            .tempfile()
            .expect("temp file");
        file.write_all(bytes).expect("write temp file");
        file.flush().expect("flush temp file");
        file
    }

    fn numeric(data: &Dataset, name: &str) -> Vec<f64> {
        match &data.column(name).expect("column").values {
            ColumnValues::Numeric(v) => v.clone(),
            other => panic!("{name} is not numeric: {other:?}"),
        }
    }

    fn text(data: &Dataset, name: &str) -> Vec<Option<String>> {
        match &data.column(name).expect("column").values {
            ColumnValues::Text(v) => v.clone(),
            other => panic!("{name} is not text: {other:?}"),
        }
    }

    #[test]
    fn heart_failure_is_all_numeric() {
        let data =
            load_table(&dataset_path("heart_failure.csv"), &LoadOptions::default()).expect("load");
        assert_eq!(data.n_rows(), 299);
        assert_eq!(data.columns().len(), 13);
        for c in data.columns() {
            assert!(
                matches!(c.values, ColumnValues::Numeric(_)),
                "{} should be numeric",
                c.name
            );
        }
        assert_eq!(numeric(&data, "platelets")[1], 263358.03);
        assert_eq!(numeric(&data, "DEATH_EVENT").iter().sum::<f64>(), 96.0);
    }

    #[test]
    fn adult_question_marks_are_missing() {
        let data = load_table(&dataset_path("adult.csv"), &LoadOptions::default()).expect("load");
        assert_eq!(data.n_rows(), 48842);
        let workclass = text(&data, "workclass");
        assert_eq!(workclass.iter().filter(|v| v.is_none()).count(), 2799);
        assert_eq!(
            text(&data, "native-country")
                .iter()
                .filter(|v| v.is_none())
                .count(),
            857
        );
        assert!(matches!(
            data.column("age").expect("age").values,
            ColumnValues::Numeric(_)
        ));
    }

    #[test]
    fn penguins_empty_cells_are_missing() {
        let data =
            load_table(&dataset_path("penguins.csv"), &LoadOptions::default()).expect("load");
        assert_eq!(data.n_rows(), 344);
        assert_eq!(data.names()[0], "species");
        assert_eq!(
            text(&data, "sex").iter().filter(|v| v.is_none()).count(),
            11
        );
        let bill = numeric(&data, "bill_length_mm");
        assert_eq!(bill.iter().filter(|v| v.is_nan()).count(), 2);
    }

    #[test]
    fn ames_na_is_missing_but_none_is_a_value() {
        let data =
            load_table(&dataset_path("ames_housing.csv"), &LoadOptions::default()).expect("load");
        assert_eq!(data.n_rows(), 2930);
        assert_eq!(data.columns().len(), 82);
        let lot = numeric(&data, "Lot.Frontage");
        assert!(lot.iter().any(|v| v.is_nan()));
        let vnr = text(&data, "Mas.Vnr.Type");
        assert!(vnr.iter().any(|v| v.as_deref() == Some("None")));
        assert!(text(&data, "Alley").iter().any(|v| v.is_none()));
    }

    #[test]
    fn wine_loads_with_integer_target() {
        let data = load_table(&dataset_path("wine.csv"), &LoadOptions::default()).expect("load");
        assert_eq!(data.n_rows(), 178);
        assert_eq!(data.columns().len(), 14);
        let target = numeric(&data, "target");
        assert!(target.iter().all(|t| [0.0, 1.0, 2.0].contains(t)));
    }

    #[test]
    fn bom_semicolons_and_quotes() {
        let file = write_temp(
            ".csv",
            "\u{FEFF}id;name;score;flag\n1;\"Smith; John\";3,5;yes\n2;\"say \"\"hi\"\"\";?;no\n3;WD ;NA;yes\n"
                .as_bytes(),
        );
        let data = load_table(file.path(), &LoadOptions::default()).expect("load");
        assert_eq!(data.names(), vec!["id", "name", "score", "flag"]);
        let spaced = write_temp(".csv", b" a , b\r\n1,2\r\n");
        let data2 = load_table(spaced.path(), &LoadOptions::default()).expect("load");
        assert_eq!(data2.names(), vec!["a", "b"]);
        assert_eq!(numeric(&data, "id"), vec![1.0, 2.0, 3.0]);
        assert_eq!(
            text(&data, "name"),
            vec![
                Some("Smith; John".to_string()),
                Some("say \"hi\"".to_string()),
                Some("WD".to_string())
            ]
        );
        // "3,5" is not a number in this file: the column stays text.
        assert_eq!(
            text(&data, "score"),
            vec![Some("3,5".to_string()), None, None]
        );
        assert_eq!(text(&data, "flag")[1].as_deref(), Some("no"));
    }

    #[test]
    fn tabs_and_pipes_are_sniffed() {
        let tabs = write_temp(".tsv", b"a\tb\n1\tx\n2\ty\n");
        let data = load_table(tabs.path(), &LoadOptions::default()).expect("load tabs");
        assert_eq!(data.names(), vec!["a", "b"]);
        let pipes = write_temp(".txt", b"a|b|c\n1|x, y|3\n2|z|4\n");
        let data = load_table(pipes.path(), &LoadOptions::default()).expect("load pipes");
        assert_eq!(data.names(), vec!["a", "b", "c"]);
        assert_eq!(text(&data, "b")[0].as_deref(), Some("x, y"));
    }

    #[test]
    fn given_delimiter_is_used() {
        let file = write_temp(".csv", b"a;b\n1;2\n");
        let options = LoadOptions {
            delimiter: Some(b','),
            ..LoadOptions::default()
        };
        let data = load_table(file.path(), &options).expect("load");
        assert_eq!(data.names(), vec!["a;b"]);
    }

    #[test]
    fn custom_missing_markers() {
        let file = write_temp(".csv", b"a,b\n1,-\n-,x\n");
        let options = LoadOptions {
            missing_markers: vec!["-".to_string()],
            delimiter: None,
        };
        let data = load_table(file.path(), &options).expect("load");
        assert!(numeric(&data, "a")[1].is_nan());
        assert_eq!(text(&data, "b"), vec![None, Some("x".to_string())]);
    }

    #[test]
    fn errors_name_the_path() {
        let missing = Path::new("/nonexistent/dir/data.csv");
        let err = load_table(missing, &LoadOptions::default()).expect_err("missing file");
        assert!(err.to_string().contains("/nonexistent/dir/data.csv"));

        let empty = write_temp(".csv", b"");
        let err = load_table(empty.path(), &LoadOptions::default()).expect_err("empty");
        assert!(err.to_string().contains("empty"), "{err}");

        let header_only = write_temp(".csv", b"a,b,c\n");
        let err = load_table(header_only.path(), &LoadOptions::default()).expect_err("no rows");
        assert!(err.to_string().contains("no data rows"), "{err}");
        assert!(err
            .to_string()
            .contains(&header_only.path().display().to_string()));

        let twice = write_temp(".csv", b"a,b,a\n1,2,3\n");
        let err = load_table(twice.path(), &LoadOptions::default()).expect_err("duplicate");
        assert!(
            err.to_string().contains("'a' appears more than once"),
            "{err}"
        );

        let ragged = write_temp(".csv", b"a,b\n1,2\n3,4\n1,2,3\n");
        let err = load_table(ragged.path(), &LoadOptions::default()).expect_err("ragged");
        assert!(
            err.to_string()
                .contains("row 3 (line 4) has 3 fields, the header has 2"),
            "{err}"
        );
        assert!(!err.to_string().contains("truncate_ragged_lines"), "{err}");

        let nul = write_temp(".csv", b"a,b\n1,x\n2,y\x00z\n");
        let err = load_table(nul.path(), &LoadOptions::default()).expect_err("NUL");
        assert!(
            err.to_string().contains("line 3 contains a NUL byte"),
            "{err}"
        );

        let binary = write_temp(".csv", &[0xff, 0xfe, 0x00, 0x41, 0x0a, 0x80]);
        let err = load_table(binary.path(), &LoadOptions::default()).expect_err("binary");
        assert!(err.to_string().contains("UTF-8"), "{err}");

        let bad_parquet = write_temp(".parquet", b"not parquet at all");
        let err = load_table(bad_parquet.path(), &LoadOptions::default()).expect_err("parquet");
        assert!(err.to_string().contains("Parquet"), "{err}");
    }

    #[test]
    fn short_rows_are_read_as_missing_and_counted() {
        let file = write_temp(".csv", b"a,b,c\n1,2,3\n4,5\n6\n7,8,9\n\"x,y\",1\n");
        let (data, report) =
            load_table_with_report(file.path(), &LoadOptions::default()).expect("load");
        assert_eq!(data.n_rows(), 5);
        assert_eq!(report.short_rows, 3);
        assert_eq!(report.first_short_rows, vec![2, 3, 5]);
        assert!(numeric(&data, "c")[1].is_nan());
        let messages = report.messages(file.path());
        assert_eq!(messages.len(), 1);
        assert!(
            messages[0].contains("3 rows had fewer fields than the header (rows 2, 3, 5)"),
            "{}",
            messages[0]
        );
        let regular =
            load_table_with_report(&dataset_path("heart_failure.csv"), &LoadOptions::default())
                .expect("load")
                .1;
        assert_eq!(regular, LoadReport::default());
        assert!(regular.messages(Path::new("x.csv")).is_empty());
    }

    #[test]
    fn parquet_round_trip() {
        let mut frame = pl::DataFrame::new_infer_height(vec![
            pl::Column::new("x".into(), &[1i64, 2, 3]),
            pl::Column::new("y".into(), &[0.5f64, 1.5, 2.5]),
            pl::Column::new("b".into(), &[true, false, true]),
            pl::Column::new("s".into(), &[Some("a"), None, Some("?")]),
            pl::Column::new("n".into(), &["1", "2", "NA"]),
            pl::Column::new("d".into(), &[0i32, 18_000, 19_000])
                .cast(&DataType::Date)
                .expect("date"),
            pl::Column::new("t".into(), &[0i64, 3_600_500, 86_400_000])
                .cast(&DataType::Datetime(pl::TimeUnit::Milliseconds, None))
                .expect("datetime"),
        ])
        .expect("frame");
        let file = tempfile::Builder::new()
            .suffix(".parquet")
            .tempfile()
            .expect("temp");
        pl::ParquetWriter::new(file.reopen().expect("reopen"))
            .finish(&mut frame)
            .expect("write parquet");
        let data = load_table(file.path(), &LoadOptions::default()).expect("load parquet");
        assert_eq!(numeric(&data, "x"), vec![1.0, 2.0, 3.0]);
        assert_eq!(numeric(&data, "y"), vec![0.5, 1.5, 2.5]);
        assert_eq!(text(&data, "b")[1].as_deref(), Some("false"));
        assert_eq!(text(&data, "s"), vec![Some("a".to_string()), None, None]);
        assert_eq!(numeric(&data, "n")[..2], [1.0, 2.0]);
        assert_eq!(text(&data, "d")[0].as_deref(), Some("1970-01-01"));
        let times = text(&data, "t");
        let second = times[1].as_deref().expect("time");
        assert!(second.starts_with("1970-01-01 01:00:00.5"), "{second}");
        assert!(times
            .iter()
            .all(|t| crate::data::parse_datetime(t.as_deref().unwrap_or("")).is_some()));
    }

    #[test]
    fn sniffer_prefers_consistent_split() {
        assert_eq!(sniff_delimiter(b"a;b;c\n1,5;2;3\n4;5;6\n"), b';');
        assert_eq!(sniff_delimiter(b"a,b\n\"x;y\",2\n"), b',');
        assert_eq!(sniff_delimiter(b"single\n1\n"), b',');
    }

    #[test]
    fn numbers_parse_strictly() {
        assert_eq!(parse_number(" 1e3 "), Some(1000.0));
        assert_eq!(parse_number("inf"), None);
        assert_eq!(parse_number("NaN"), None);
        assert_eq!(parse_number("1,5"), None);
    }
}
