//! Azure ML MLTable folders: a folder holding an `MLTable` YAML file that lists data files
//! and how to read them, read here as one table.
//!
//! ```yaml
//! paths:
//!   - file: ./train.csv          # or folder: ./parts, or pattern: ./parts/*.csv
//! transformations:
//!   - read_delimited:            # or read_parquet
//!       delimiter: ','
//!       header: all_files_same_headers   # from_first_file, no_header
//!       encoding: utf8           # ascii, latin1 (iso88591), utf8bom
//!       empty_as_string: false   # accepted: empty cells are always read as missing
//!   - skip: 100                  # then take, keep_columns, drop_columns, in order
//!   - take: 1000
//! ```
//! Paths are relative to the MLTable file; remote paths are refused. Every file is read with
//! autotab's own loader (same missing markers and typing as a plain CSV); delimited files are
//! joined into one text before typing, so a column is numeric only if it is in every file.
//! `no_header` names the columns `Column1`, `Column2`, ... as Azure does.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use yaml_serde::Value;

use super::load::{load_parquet, read_csv_bytes};
use super::{concat_rows, Column, Dataset, LoadOptions};
use crate::error::{AutotabError, Result};

/// The name of the definition file inside an MLTable folder.
pub const MLTABLE_FILE: &str = "MLTable";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MlTable {
    #[serde(rename = "$schema")]
    _schema: Option<String>,
    #[serde(rename = "type")]
    _table_type: Option<String>,
    paths: Vec<PathItem>,
    #[serde(default)]
    transformations: Vec<Step>,
    #[serde(rename = "metadata")]
    _metadata: Option<Value>,
    #[serde(rename = "traits")]
    _traits: Option<Value>,
}

/// One `paths` entry: `{file: ...}`, `{folder: ...}` or `{pattern: ...}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PathItem {
    file: Option<String>,
    folder: Option<String>,
    pattern: Option<String>,
}

enum PathEntry {
    File(String),
    Folder(String),
    Pattern(String),
}

impl PathItem {
    fn entry(&self, file: &Path, i: usize) -> Result<PathEntry> {
        match (&self.file, &self.folder, &self.pattern) {
            (Some(f), None, None) => Ok(PathEntry::File(f.clone())),
            (None, Some(f), None) => Ok(PathEntry::Folder(f.clone())),
            (None, None, Some(p)) => Ok(PathEntry::Pattern(p.clone())),
            _ => Err(AutotabError::data(format!(
                "{}: paths[{i}] must have exactly one of file, folder, pattern",
                file.display()
            ))),
        }
    }
}

/// One `transformations` entry: a mapping with one key naming the step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    #[serde(default, deserialize_with = "present")]
    read_delimited: Option<Option<ReadDelimited>>,
    #[serde(default, deserialize_with = "present")]
    read_parquet: Option<Option<ReadParquet>>,
    read_json_lines: Option<Value>,
    take: Option<usize>,
    skip: Option<usize>,
    keep_columns: Option<Columns>,
    drop_columns: Option<Columns>,
    take_random_sample: Option<Value>,
    convert_column_types: Option<Value>,
    filter: Option<Value>,
    extract_columns_from_partition_format: Option<Value>,
}

/// Tells a key given with an empty value (`- read_parquet:`) from an absent key.
fn present<'de, D, T>(d: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

impl Step {
    /// The step, or an error when the entry names none or several.
    fn transformation(self, file: &Path, i: usize) -> Result<Transformation> {
        let mut found = Vec::new();
        if let Some(d) = self.read_delimited {
            found.push(Transformation::ReadDelimited(d));
        }
        if let Some(p) = self.read_parquet {
            found.push(Transformation::ReadParquet(p));
        }
        if self.read_json_lines.is_some() {
            found.push(Transformation::Unsupported("read_json_lines"));
        }
        if let Some(k) = self.take {
            found.push(Transformation::Take(k));
        }
        if let Some(k) = self.skip {
            found.push(Transformation::Skip(k));
        }
        if let Some(c) = self.keep_columns {
            found.push(Transformation::KeepColumns(c));
        }
        if let Some(c) = self.drop_columns {
            found.push(Transformation::DropColumns(c));
        }
        for (value, name) in [
            (&self.take_random_sample, "take_random_sample"),
            (&self.convert_column_types, "convert_column_types"),
            (&self.filter, "filter"),
            (
                &self.extract_columns_from_partition_format,
                "extract_columns_from_partition_format",
            ),
        ] {
            if value.is_some() {
                found.push(Transformation::Unsupported(name));
            }
        }
        if found.len() != 1 {
            return Err(AutotabError::data(format!(
                "{}: transformations[{i}] must name exactly one step",
                file.display()
            )));
        }
        Ok(found.remove(0))
    }
}

#[derive(Debug)]
enum Transformation {
    ReadDelimited(Option<ReadDelimited>),
    ReadParquet(Option<ReadParquet>),
    Take(usize),
    Skip(usize),
    KeepColumns(Columns),
    DropColumns(Columns),
    /// A step of the MLTable spec that autotab does not run, by name.
    Unsupported(&'static str),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadDelimited {
    delimiter: Option<String>,
    header: Option<Header>,
    encoding: Option<Encoding>,
    empty_as_string: Option<bool>,
    include_path_column: Option<bool>,
    infer_column_types: Option<bool>,
    support_multi_line: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadParquet {
    include_path_column: Option<bool>,
}

// The variants spell Azure's values (`all_files_same_headers`, ..., `no_header`).
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Header {
    #[default]
    AllFilesSameHeaders,
    AllFilesDifferentHeaders,
    FromFirstFile,
    NoHeader,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Encoding {
    #[default]
    Utf8,
    Ascii,
    Utf8bom,
    Latin1,
    Iso88591,
    Utf16,
    Windows1252,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Columns {
    One(String),
    Many(Vec<String>),
}

impl Columns {
    fn names(&self) -> Vec<&str> {
        match self {
            Columns::One(c) => vec![c.as_str()],
            Columns::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// Whether `path` names an MLTable: a folder, or a file called `MLTable`.
pub fn is_mltable(path: &Path) -> bool {
    path.is_dir() || path.file_name().is_some_and(|n| n == MLTABLE_FILE)
}

/// The MLTable definition file of `path` and its parsed content.
fn read_definition(path: &Path) -> Result<(PathBuf, MlTable)> {
    let file = if path.is_dir() {
        path.join(MLTABLE_FILE)
    } else {
        path.to_path_buf()
    };
    if !file.is_file() {
        return Err(AutotabError::data(format!(
            "{}: a folder given as a table must hold an MLTable file (a YAML file named 'MLTable' listing the data files)",
            path.display()
        )));
    }
    let text = std::fs::read_to_string(&file).map_err(|e| AutotabError::io(&file, e))?;
    let table: MlTable = crate::yaml::from_str_strict(&text)
        .map_err(|e| AutotabError::data(format!("{}: {e}", file.display())))?;
    Ok((file, table))
}

/// The files that make up the MLTable at `path`: its definition file, then the data files
/// in reading order (what a fingerprint of the data must cover).
pub fn mltable_files(path: &Path) -> Result<Vec<PathBuf>> {
    let (file, table) = read_definition(path)?;
    let base = file.parent().unwrap_or(Path::new("."));
    let mut files = expand_paths(&file, base, &table.paths)?;
    files.insert(0, file);
    Ok(files)
}

/// Reads the MLTable folder (or `MLTable` file) at `path` as one table. `options` gives the
/// missing markers; the MLTable's own delimiter wins over `options.delimiter`.
pub fn load_mltable(path: &Path, options: &LoadOptions) -> Result<Dataset> {
    let (file, table) = read_definition(path)?;
    let base = file.parent().unwrap_or(Path::new("."));
    let files = expand_paths(&file, base, &table.paths)?;
    let steps = table
        .transformations
        .into_iter()
        .enumerate()
        .map(|(i, step)| step.transformation(&file, i))
        .collect::<Result<Vec<_>>>()?;
    let mut steps = steps.iter();
    let data = match steps.next() {
        Some(Transformation::ReadParquet(p)) => {
            refuse_path_column(&file, p.as_ref().and_then(|p| p.include_path_column))?;
            let parts = files
                .iter()
                .map(|f| load_parquet(f, options))
                .collect::<Result<Vec<_>>>()?;
            concat_rows(&parts, |i| files[i].display().to_string())?
        }
        Some(Transformation::ReadDelimited(d)) => read_delimited(
            &file,
            &files,
            d.as_ref().unwrap_or(&ReadDelimited::default()),
            options,
        )?,
        Some(other) => return Err(not_first(&file, other)),
        None => read_delimited(&file, &files, &ReadDelimited::default(), options)?,
    };
    steps.try_fold(data, |data, step| transform(&file, data, step))
}

fn not_first(file: &Path, step: &Transformation) -> AutotabError {
    AutotabError::data(format!(
        "{}: transformations must start with read_delimited or read_parquet, not {}",
        file.display(),
        step_name(step)
    ))
}

fn step_name(step: &Transformation) -> &'static str {
    match step {
        Transformation::ReadDelimited(_) => "read_delimited",
        Transformation::ReadParquet(_) => "read_parquet",
        Transformation::Take(_) => "take",
        Transformation::Skip(_) => "skip",
        Transformation::KeepColumns(_) => "keep_columns",
        Transformation::DropColumns(_) => "drop_columns",
        Transformation::Unsupported(name) => name,
    }
}

fn refuse_path_column(file: &Path, include: Option<bool>) -> Result<()> {
    if include == Some(true) {
        return Err(AutotabError::data(format!(
            "{}: include_path_column: true is not supported (it would add a column of file paths as a feature)",
            file.display()
        )));
    }
    Ok(())
}

/// The data files the `paths` entries name, sorted within each entry, without repeats.
fn expand_paths(file: &Path, base: &Path, items: &[PathItem]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, item) in items.iter().enumerate() {
        let entry = &item.entry(file, i)?;
        let (kind, raw) = match entry {
            PathEntry::File(p) => ("file", p),
            PathEntry::Folder(p) => ("folder", p),
            PathEntry::Pattern(p) => ("pattern", p),
        };
        let lower = raw.to_ascii_lowercase();
        if lower.contains("://") || lower.starts_with("azureml:") {
            return Err(AutotabError::data(format!(
                "{}: paths.{kind} '{raw}': remote paths are not supported; download the data and point at the local file",
                file.display()
            )));
        }
        let joined = base.join(raw);
        let found: Vec<PathBuf> = match entry {
            PathEntry::File(_) => {
                if !joined.is_file() {
                    return Err(AutotabError::data(format!(
                        "{}: paths.file '{raw}' does not exist ({})",
                        file.display(),
                        joined.display()
                    )));
                }
                vec![joined]
            }
            PathEntry::Folder(_) => {
                let listing =
                    std::fs::read_dir(&joined).map_err(|e| AutotabError::io(&joined, e))?;
                let mut inside: Vec<PathBuf> = listing
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.is_file() && !is_hidden_or_definition(p))
                    .collect();
                inside.sort();
                inside
            }
            PathEntry::Pattern(_) => {
                let pattern = joined.to_string_lossy().to_string();
                let paths = glob::glob(&pattern).map_err(|e| {
                    AutotabError::data(format!(
                        "{}: paths.pattern '{raw}' is not a valid glob: {e}",
                        file.display()
                    ))
                })?;
                let mut matched: Vec<PathBuf> = paths
                    .filter_map(|p| p.ok())
                    .filter(|p| p.is_file() && !is_hidden_or_definition(p))
                    .collect();
                matched.sort();
                matched
            }
        };
        if found.is_empty() {
            return Err(AutotabError::data(format!(
                "{}: paths.{kind} '{raw}' matches no data file",
                file.display()
            )));
        }
        for f in found {
            if seen.insert(f.clone()) {
                files.push(f);
            }
        }
    }
    if files.is_empty() {
        return Err(AutotabError::data(format!(
            "{}: paths lists no data file",
            file.display()
        )));
    }
    Ok(files)
}

fn is_hidden_or_definition(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.') || n == MLTABLE_FILE)
}

fn read_delimited(
    file: &Path,
    files: &[PathBuf],
    d: &ReadDelimited,
    options: &LoadOptions,
) -> Result<Dataset> {
    refuse_path_column(file, d.include_path_column)?;
    let _ = (
        d.empty_as_string,
        d.infer_column_types,
        d.support_multi_line,
    );
    let delimiter = match d.delimiter.as_deref() {
        None => options.delimiter,
        Some("\\t") | Some("tab") | Some("\t") => Some(b'\t'),
        Some(s) if s.len() == 1 => Some(s.as_bytes()[0]),
        Some(s) => {
            return Err(AutotabError::data(format!(
                "{}: read_delimited.delimiter '{s}' must be one character",
                file.display()
            )))
        }
    };
    let header = d.header.unwrap_or_default();
    if header == Header::AllFilesDifferentHeaders {
        return Err(AutotabError::data(format!(
            "{}: read_delimited.header all_files_different_headers is not supported; give files with the same header",
            file.display()
        )));
    }
    let encoding = d.encoding.unwrap_or_default();
    let mut joined: Vec<u8> = Vec::new();
    let mut first_header: Option<Vec<u8>> = None;
    for (i, path) in files.iter().enumerate() {
        let raw = std::fs::read(path).map_err(|e| AutotabError::io(path, e))?;
        let mut text = decode(path, raw, encoding)
            .map_err(|e| AutotabError::data(format!("{}: {e}", file.display())))?;
        if !text.ends_with(b"\n") && !text.is_empty() {
            text.push(b'\n');
        }
        let body = match header {
            Header::AllFilesSameHeaders => {
                let (head, rest) = split_first_line(&text);
                match &first_header {
                    None => {
                        first_header = Some(head.to_vec());
                        text.clone()
                    }
                    Some(h) if trim_line(h) == trim_line(head) => rest.to_vec(),
                    Some(_) => {
                        return Err(AutotabError::data(format!(
                        "{}: {} has a different header from {} (header: all_files_same_headers)",
                        file.display(),
                        path.display(),
                        files[0].display()
                    )))
                    }
                }
            }
            Header::FromFirstFile | Header::NoHeader | Header::AllFilesDifferentHeaders => text,
        };
        if i == 0 && header == Header::NoHeader {
            let n = field_count(&body, delimiter.unwrap_or(b','));
            let names: Vec<String> = (1..=n).map(|k| format!("Column{k}")).collect();
            joined.extend(
                names
                    .join(&char::from(delimiter.unwrap_or(b',')).to_string())
                    .bytes(),
            );
            joined.push(b'\n');
        }
        joined.extend_from_slice(&body);
    }
    let options = LoadOptions {
        delimiter,
        ..options.clone()
    };
    read_csv_bytes(file, joined, &options).map(|(data, _)| data)
}

/// The file's text as UTF-8 bytes (without a byte-order mark).
fn decode(path: &Path, raw: Vec<u8>, encoding: Encoding) -> Result<Vec<u8>> {
    let raw = match raw.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => rest.to_vec(),
        None => raw,
    };
    match encoding {
        Encoding::Utf8 | Encoding::Ascii | Encoding::Utf8bom => Ok(raw),
        Encoding::Latin1 | Encoding::Iso88591 => Ok(raw
            .iter()
            .map(|&b| char::from(b))
            .collect::<String>()
            .into_bytes()),
        Encoding::Utf16 | Encoding::Windows1252 => Err(AutotabError::data(format!(
            "{}: encoding {encoding:?} is not supported; convert the file to UTF-8",
            path.display()
        ))),
    }
}

fn split_first_line(text: &[u8]) -> (&[u8], &[u8]) {
    match text.iter().position(|&b| b == b'\n') {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, &[]),
    }
}

fn trim_line(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Fields of the first record.
fn field_count(text: &[u8], delimiter: u8) -> usize {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(delimiter)
        .from_reader(text)
        .records()
        .next()
        .and_then(|r| r.ok())
        .map(|r| r.len())
        .unwrap_or(1)
}

fn transform(file: &Path, data: Dataset, step: &Transformation) -> Result<Dataset> {
    let n = data.n_rows();
    match step {
        Transformation::Take(k) => Ok(data.select_rows(&(0..(*k).min(n)).collect::<Vec<_>>())),
        Transformation::Skip(k) => Ok(data.select_rows(&((*k).min(n)..n).collect::<Vec<_>>())),
        Transformation::KeepColumns(c) | Transformation::DropColumns(c) => {
            let names = c.names();
            for name in &names {
                data.require(name).map_err(|e| {
                    AutotabError::data(format!("{}: {}: {e}", file.display(), step_name(step)))
                })?;
            }
            let keep = matches!(step, Transformation::KeepColumns(_));
            let columns: Vec<Column> = data
                .columns()
                .iter()
                .filter(|col| names.contains(&col.name.as_str()) == keep)
                .cloned()
                .collect();
            Dataset::new(columns)
        }
        Transformation::ReadDelimited(_) | Transformation::ReadParquet(_) => {
            Err(AutotabError::data(format!(
                "{}: only one read_delimited or read_parquet transformation may be given, first",
                file.display()
            )))
        }
        other => Err(AutotabError::data(format!(
            "{}: transformation {} is not supported (supported: read_delimited, read_parquet, take, skip, keep_columns, drop_columns)",
            file.display(),
            step_name(other)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::ColumnValues;
    use polars::prelude as pl;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).expect("write");
    }

    fn numbers(data: &Dataset, name: &str) -> Vec<f64> {
        match &data.require(name).expect("column").values {
            ColumnValues::Numeric(v) => v.clone(),
            other => panic!("{name} is not numeric: {other:?}"),
        }
    }

    #[test]
    fn file_entry_with_delimiter_and_take_skip() {
        let dir = tempfile::tempdir().expect("dir");
        write(dir.path(), "data.csv", "a;b\n1;x\n2;y\n3;z\n4;w\n");
        write(
            dir.path(),
            MLTABLE_FILE,
            "paths:\n  - file: ./data.csv\ntransformations:\n  - read_delimited:\n      delimiter: ';'\n      encoding: ascii\n      empty_as_string: false\n  - skip: 1\n  - take: 2\n",
        );
        let data = load_mltable(dir.path(), &LoadOptions::default()).expect("load");
        assert_eq!(data.names(), ["a", "b"]);
        assert_eq!(numbers(&data, "a"), [2.0, 3.0]);
        // The MLTable file itself works too, and load_table dispatches to it.
        let same = crate::data::load_table(&dir.path().join(MLTABLE_FILE), &LoadOptions::default())
            .expect("load");
        assert_eq!(same, data);
    }

    #[test]
    fn pattern_joins_files_and_checks_headers() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::create_dir(dir.path().join("parts")).expect("mkdir");
        write(&dir.path().join("parts"), "p1.csv", "a,b\n1,2\n");
        write(&dir.path().join("parts"), "p2.csv", "a,b\n3,4\n5,6");
        write(&dir.path().join("parts"), "notes.txt", "not data");
        write(
            dir.path(),
            MLTABLE_FILE,
            "paths:\n  - pattern: ./parts/*.csv\ntransformations:\n  - read_delimited:\n      header: all_files_same_headers\n  - drop_columns: b\n",
        );
        let data = load_mltable(dir.path(), &LoadOptions::default()).expect("load");
        assert_eq!(data.names(), ["a"]);
        assert_eq!(numbers(&data, "a"), [1.0, 3.0, 5.0]);

        write(&dir.path().join("parts"), "p3.csv", "a,c\n7,8\n");
        let err = load_mltable(dir.path(), &LoadOptions::default()).expect_err("headers");
        assert!(err.to_string().contains("different header"), "{err}");
    }

    #[test]
    fn no_header_names_columns_like_azure() {
        let dir = tempfile::tempdir().expect("dir");
        write(dir.path(), "a.csv", "1,red\n2,blue\n");
        write(dir.path(), "b.csv", "3,green\n");
        write(
            dir.path(),
            MLTABLE_FILE,
            "paths:\n  - file: a.csv\n  - file: b.csv\ntransformations:\n  - read_delimited:\n      header: no_header\n",
        );
        let data = load_mltable(dir.path(), &LoadOptions::default()).expect("load");
        assert_eq!(data.names(), ["Column1", "Column2"]);
        assert_eq!(numbers(&data, "Column1"), [1.0, 2.0, 3.0]);
    }

    #[test]
    fn read_parquet_from_a_folder() {
        let dir = tempfile::tempdir().expect("dir");
        let parts = dir.path().join("parts");
        std::fs::create_dir(&parts).expect("mkdir");
        for (name, xs) in [("one.parquet", [1.0, 2.0]), ("two.parquet", [3.0, 4.0])] {
            let mut frame = pl::DataFrame::new_infer_height(vec![
                pl::Column::new("x".into(), &xs),
                pl::Column::new("y".into(), &["a", "b"]),
            ])
            .expect("frame");
            let file = std::fs::File::create(parts.join(name)).expect("create");
            pl::ParquetWriter::new(file)
                .finish(&mut frame)
                .expect("write parquet");
        }
        write(
            dir.path(),
            MLTABLE_FILE,
            "type: mltable\npaths:\n  - folder: ./parts\ntransformations:\n  - read_parquet:\n      include_path_column: false\n  - keep_columns: [x]\n",
        );
        let data = load_mltable(dir.path(), &LoadOptions::default()).expect("load");
        assert_eq!(data.names(), ["x"]);
        assert_eq!(numbers(&data, "x"), [1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn bad_definitions_are_clear_errors() {
        let dir = tempfile::tempdir().expect("dir");
        let err = load_mltable(dir.path(), &LoadOptions::default()).expect_err("no file");
        assert!(
            err.to_string().contains("must hold an MLTable file"),
            "{err}"
        );
        write(dir.path(), "d.csv", "a\n1\n");
        let cases = [
            ("paths:\n  - file: ./missing.csv\n", "does not exist"),
            ("paths:\n  - pattern: ./*.tsv\n", "matches no data file"),
            ("paths:\n  - file: https://x/y.csv\n", "remote paths are not supported"),
            ("paths:\n  - file: d.csv\ntransformations:\n  - read_delimited:\n      delimeter: ','\n", "did you mean delimiter?"),
            ("paths:\n  - file: d.csv\ntransformations:\n  - read_delimited:\n      header: sometimes\n", "unknown value 'sometimes'"),
            ("paths:\n  - file: d.csv\ntransformations:\n  - filter: 'col(\"a\") > 1'\n", "must start with read_delimited"),
            ("paths:\n  - file: d.csv\ntransformations:\n  - read_delimited: {encoding: utf16}\n", "convert the file to UTF-8"),
            ("paths:\n  - file: d.csv\ntransformations:\n  - read_delimited: {}\n  - keep_columns: [zz]\n", "'zz' not found"),
        ];
        for (text, expected) in cases {
            write(dir.path(), MLTABLE_FILE, text);
            let err = load_mltable(dir.path(), &LoadOptions::default())
                .expect_err(text)
                .to_string();
            assert!(err.contains(expected), "{text}: {err}");
            assert!(err.contains("MLTable"), "{err}");
        }
    }
}
