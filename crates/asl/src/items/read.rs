//! An `ItemReader`'s items from what the object store returned: an object's text read as
//! `ReaderConfig.InputType` says (JSON array, JSON Lines, CSV), or a page of a bucket's listing
//! (`s3:listObjectsV2`). Malformed content is a [`ReadError`] whose text is the cause of the
//! Map's `States.ItemReaderFailed`, naming the line and what was expected there.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::MAX_ITEMS;
use crate::{Failure, names};

/// How an object's text holds its items (`ReaderConfig.InputType`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Format {
    /// A JSON array: its elements.
    Json,
    /// JSON Lines: one value per non-blank line.
    Jsonl,
    /// CSV: one object per row, keyed by the headers, every value a string (as AWS gives them).
    Csv {
        headers: CsvHeaders,
        delimiter: Delimiter,
    },
    /// An S3 inventory manifest.
    Manifest,
}

/// Where a CSV object's column names come from (`CSVHeaderLocation`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CsvHeaders {
    /// `FIRST_ROW`: the object's first row.
    FirstRow,
    /// `GIVEN`: `CSVHeaders`.
    Given(Vec<String>),
}

/// `CSVDelimiter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Delimiter {
    #[default]
    Comma,
    Pipe,
    Semicolon,
    Space,
    Tab,
}

impl Delimiter {
    /// From its `CSVDelimiter` name.
    pub fn named(name: &str) -> Option<Self> {
        Some(match name {
            "COMMA" => Self::Comma,
            "PIPE" => Self::Pipe,
            "SEMICOLON" => Self::Semicolon,
            "SPACE" => Self::Space,
            "TAB" => Self::Tab,
            _ => return None,
        })
    }

    fn byte(self) -> u8 {
        match self {
            Self::Comma => b',',
            Self::Pipe => b'|',
            Self::Semicolon => b';',
            Self::Space => b' ',
            Self::Tab => b'\t',
        }
    }
}

/// AWS reads CSV header rows of up to 10 KiB.
pub const MAX_CSV_HEADER_BYTES: usize = 10 * 1024;

/// Why an object's content yields no items.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// AWS's cause for a JSON object that is not an array.
    #[error("Attempting to map over non-iterable node.")]
    NotAnArray,
    #[error("The object is not valid JSON: {0}")]
    Json(String),
    #[error("Line {line} of the JSONL object is not valid JSON: {detail}")]
    JsonLine { line: usize, detail: String },
    /// AWS's cause.
    #[error("CSV headers cannot contain duplicates.")]
    DuplicateHeaders,
    #[error(
        "The CSV header row is {0} bytes long; Step Functions reads CSV headers of up to 10240 bytes"
    )]
    HeaderTooLong(usize),
    #[error("CSV line {line}: {what}")]
    Csv { line: usize, what: &'static str },
    /// AWS's cause for a negative `MaxItemsPath` value.
    #[error("field MaxItems must be positive")]
    NegativeMaxItems,
    #[error("The listObjectsV2 response is malformed: {0}")]
    Listing(String),
    #[error("InputType MANIFEST (S3 inventory) is not supported by Sluice yet")]
    ManifestUnsupported,
}

impl ReadError {
    /// The cause of the Map's failure for content read from `at` (`s3://bucket/key`): AWS's
    /// own words where it has them (recorded), else these, naming the object.
    pub fn cause_at(&self, at: &str) -> String {
        match self {
            Self::NotAnArray | Self::DuplicateHeaders | Self::NegativeMaxItems => self.to_string(),
            other => format!("{at}: {other}"),
        }
    }
}

impl From<ReadError> for Failure {
    fn from(e: ReadError) -> Self {
        Failure::new(names::ITEM_READER_FAILED, e.to_string())
    }
}

/// How many items to read for a `MaxItems` (or `MaxItemsPath`) value: 0 or none is every item
/// (up to [`MAX_ITEMS`]), more than [`MAX_ITEMS`] is [`MAX_ITEMS`].
pub fn limit(max_items: Option<i64>) -> Result<usize, ReadError> {
    match max_items {
        Some(n) if n < 0 => Err(ReadError::NegativeMaxItems),
        None | Some(0) => Ok(MAX_ITEMS as usize),
        Some(n) => Ok(n.min(MAX_ITEMS as i64) as usize),
    }
}

/// The items of an object's `text`, at most `limit` of them (what lies past the limit is not
/// read, so it cannot fail the read).
pub fn parse(text: &str, format: &Format, limit: usize) -> Result<Vec<Value>, ReadError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match format {
        Format::Json => match crate::json::parse(text) {
            Ok(Value::Array(mut items)) => {
                items.truncate(limit);
                Ok(items)
            }
            Ok(_) => Err(ReadError::NotAnArray),
            Err(e) => Err(ReadError::Json(e.to_string())),
        },
        Format::Jsonl => jsonl(text, limit),
        Format::Csv { headers, delimiter } => csv(text, headers, *delimiter, limit),
        Format::Manifest => Err(ReadError::ManifestUnsupported),
    }
}

fn jsonl(text: &str, limit: usize) -> Result<Vec<Value>, ReadError> {
    let mut items = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        if items.len() >= limit {
            break;
        }
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        let item = crate::json::parse(line).map_err(|e| ReadError::JsonLine {
            line: i + 1,
            detail: e.to_string(),
        })?;
        items.push(item);
    }
    Ok(items)
}

fn csv(
    text: &str,
    headers: &CsvHeaders,
    delimiter: Delimiter,
    limit: usize,
) -> Result<Vec<Value>, ReadError> {
    let mut rows = CsvRows {
        text,
        pos: 0,
        line: 1,
        delimiter: delimiter.byte(),
    };
    let headers = match headers {
        CsvHeaders::Given(given) => given.clone(),
        CsvHeaders::FirstRow => {
            let start = rows.pos;
            match rows.next() {
                None => return Ok(Vec::new()),
                Some(row) => {
                    let row = row?;
                    let len = rows.pos - start;
                    if len > MAX_CSV_HEADER_BYTES {
                        return Err(ReadError::HeaderTooLong(len));
                    }
                    row.fields
                }
            }
        }
    };
    let mut seen = std::collections::HashSet::with_capacity(headers.len());
    if !headers.iter().all(|h| seen.insert(h.as_str())) {
        return Err(ReadError::DuplicateHeaders);
    }
    let mut items = Vec::new();
    while items.len() < limit {
        let Some(row) = rows.next() else {
            break;
        };
        let mut fields = row?.fields.into_iter();
        // Recorded on AWS: extra fields are dropped, missing ones are empty strings.
        let item: Map<String, Value> = headers
            .iter()
            .map(|h| (h.clone(), Value::String(fields.next().unwrap_or_default())))
            .collect();
        items.push(Value::Object(item));
    }
    Ok(items)
}

/// One CSV row.
#[derive(Debug)]
struct Row {
    fields: Vec<String>,
}

/// RFC 4180 rows: fields separated by the delimiter, rows by `\n` or `\r\n`; a field in double
/// quotes may hold delimiters, line breaks and `""` (one quote). Blank lines hold no row.
struct CsvRows<'a> {
    text: &'a str,
    pos: usize,
    /// The line `pos` is on, 1-based.
    line: usize,
    delimiter: u8,
}

impl CsvRows<'_> {
    fn byte(&self, at: usize) -> Option<u8> {
        self.text.as_bytes().get(at).copied()
    }

    /// The length of the line break at `at`, if one is there.
    fn line_break(&self, at: usize) -> Option<usize> {
        match self.byte(at)? {
            b'\n' => Some(1),
            b'\r' if self.byte(at + 1) == Some(b'\n') => Some(2),
            b'\r' => Some(1),
            _ => None,
        }
    }

    fn error(&self, line: usize, what: &'static str) -> Option<Result<Row, ReadError>> {
        Some(Err(ReadError::Csv { line, what }))
    }

    fn next(&mut self) -> Option<Result<Row, ReadError>> {
        // Blank lines hold no row.
        while let Some(n) = self.line_break(self.pos) {
            self.pos += n;
            self.line += 1;
        }
        if self.pos >= self.text.len() {
            return None;
        }
        let mut fields = Vec::new();
        loop {
            if self.byte(self.pos) == Some(b'"') {
                let opened = self.line;
                self.pos += 1;
                let mut value = String::new();
                loop {
                    let rest = &self.text[self.pos..];
                    let Some(quote) = rest.find('"') else {
                        return self.error(opened, "a quoted field is not closed");
                    };
                    let chunk = &rest[..quote];
                    self.line += chunk.matches('\n').count();
                    value.push_str(chunk);
                    self.pos += quote + 1;
                    if self.byte(self.pos) == Some(b'"') {
                        value.push('"');
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
                fields.push(value);
                let at = self.pos;
                if at < self.text.len()
                    && self.byte(at) != Some(self.delimiter)
                    && self.line_break(at).is_none()
                {
                    return self.error(
                        self.line,
                        "expected a delimiter or the end of the line after a closing quote",
                    );
                }
            } else {
                let rest = &self.text.as_bytes()[self.pos..];
                let end = rest
                    .iter()
                    .position(|&b| b == self.delimiter || b == b'\n' || b == b'\r')
                    .unwrap_or(rest.len());
                // The delimiter and line breaks are ASCII: `end` is a character boundary.
                fields.push(self.text[self.pos..self.pos + end].to_owned());
                self.pos += end;
            }
            if self.byte(self.pos) == Some(self.delimiter) {
                self.pos += 1;
                continue;
            }
            if let Some(n) = self.line_break(self.pos) {
                self.pos += n;
                self.line += 1;
            }
            return Some(Ok(Row { fields }));
        }
    }
}

/// One page of a bucket's listing, as items.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    /// One item per object: `{Etag, Key, LastModified, Size, StorageClass}` as AWS gives them
    /// (`LastModified` in epoch seconds).
    pub items: Vec<Value>,
    /// The `ContinuationToken` of the next page, if the listing goes on.
    pub next: Option<String>,
}

/// The items of one `listObjectsV2` response (the SDK's shape: `Contents`, `IsTruncated`,
/// `NextContinuationToken`; `LastModified` an ISO-8601 timestamp or epoch seconds).
pub fn listed(page: &Value) -> Result<Listed, ReadError> {
    let bad = |what: String| ReadError::Listing(what);
    let contents = match page.get("Contents") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(c)) => c.as_slice(),
        Some(_) => return Err(bad("Contents is not an array".into())),
    };
    let mut items = Vec::with_capacity(contents.len());
    for (i, object) in contents.iter().enumerate() {
        let key = object
            .get("Key")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("Contents[{i}] has no Key")))?;
        let last_modified = match object.get("LastModified") {
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => crate::timestamp::parse(s).map(|t| t.timestamp()),
            _ => None,
        }
        .ok_or_else(|| bad(format!("Contents[{i}] ({key}) has no valid LastModified")))?;
        let mut item = Map::new();
        item.insert(
            "Etag".into(),
            object.get("ETag").cloned().unwrap_or(Value::Null),
        );
        item.insert("Key".into(), Value::String(key.to_owned()));
        item.insert("LastModified".into(), Value::from(last_modified));
        item.insert(
            "Size".into(),
            object
                .get("Size")
                .cloned()
                .unwrap_or_else(|| Value::from(0)),
        );
        item.insert(
            "StorageClass".into(),
            object
                .get("StorageClass")
                .cloned()
                .unwrap_or_else(|| Value::from("STANDARD")),
        );
        items.push(Value::Object(item));
    }
    let truncated = page
        .get("IsTruncated")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let next = match (truncated, page.get("NextContinuationToken")) {
        (false, _) => None,
        (true, Some(Value::String(token))) if !token.is_empty() => Some(token.clone()),
        (true, _) => {
            return Err(bad(
                "IsTruncated is true but there is no NextContinuationToken".into(),
            ));
        }
    };
    Ok(Listed { items, next })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn csv_first_row(text: &str) -> Result<Vec<Value>, ReadError> {
        let format = Format::Csv {
            headers: CsvHeaders::FirstRow,
            delimiter: Delimiter::Comma,
        };
        parse(text, &format, usize::MAX)
    }

    #[test]
    fn csv_rows_become_objects_of_strings_as_recorded_on_aws() {
        // The file of AWS's recorded `map_item_reader_base_csv_headers_first_line`.
        let text = "Col1,Col2,Col3\nValue1,Value2,Value3\nValue4,Value5,Value6\n,,,\n\
                    true,1,'HelloWorld'\nNull,None,\n   \n";
        let items = csv_first_row(text).unwrap();
        assert_eq!(
            Value::Array(items),
            json!([
                {"Col1": "Value1", "Col2": "Value2", "Col3": "Value3"},
                {"Col1": "Value4", "Col2": "Value5", "Col3": "Value6"},
                {"Col1": "", "Col2": "", "Col3": ""},
                {"Col1": "true", "Col2": "1", "Col3": "'HelloWorld'"},
                {"Col1": "Null", "Col2": "None", "Col3": ""},
                {"Col1": "   ", "Col2": "", "Col3": ""},
            ])
        );
    }

    #[test]
    fn given_headers_take_the_first_fields_and_must_be_distinct() {
        let format = |h: &[&str]| Format::Csv {
            headers: CsvHeaders::Given(h.iter().map(|s| s.to_string()).collect()),
            delimiter: Delimiter::Comma,
        };
        let text = "Value1,Value2,Value3\nValue4,Value5,Value6\n";
        assert_eq!(
            parse(text, &format(&["H1"]), usize::MAX).unwrap(),
            vec![json!({"H1": "Value1"}), json!({"H1": "Value4"})]
        );
        assert_eq!(
            parse(text, &format(&["H1", "H1", "H3"]), usize::MAX),
            Err(ReadError::DuplicateHeaders)
        );
        assert_eq!(
            ReadError::DuplicateHeaders.to_string(),
            "CSV headers cannot contain duplicates."
        );
    }

    #[test]
    fn quoted_fields_hold_delimiters_line_breaks_and_quotes() {
        let text = "a,b\r\n\"x, y\",\"say \"\"hi\"\"\nthere\"\r\n\"\",z";
        assert_eq!(
            csv_first_row(text).unwrap(),
            vec![
                json!({"a": "x, y", "b": "say \"hi\"\nthere"}),
                json!({"a": "", "b": "z"}),
            ]
        );
    }

    #[test]
    fn other_delimiters_split_fields() {
        for (delimiter, text) in [
            (Delimiter::Pipe, "a|b\n1|2"),
            (Delimiter::Semicolon, "a;b\n1;2"),
            (Delimiter::Space, "a b\n1 2"),
            (Delimiter::Tab, "a\tb\n1\t2"),
        ] {
            let format = Format::Csv {
                headers: CsvHeaders::FirstRow,
                delimiter,
            };
            assert_eq!(
                parse(text, &format, usize::MAX).unwrap(),
                vec![json!({"a": "1", "b": "2"})],
                "{delimiter:?}"
            );
        }
    }

    #[test]
    fn malformed_csv_names_the_line_and_what_was_expected() {
        assert_eq!(
            csv_first_row("a,b\n1,2\n\"open,3\n4,5\n"),
            Err(ReadError::Csv {
                line: 3,
                what: "a quoted field is not closed"
            })
        );
        let err = csv_first_row("a,b\n\n\"x\"y,2\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "CSV line 3: expected a delimiter or the end of the line after a closing quote"
        );
        let long = format!("{}\n1\n", "h".repeat(MAX_CSV_HEADER_BYTES + 1));
        assert!(matches!(
            csv_first_row(&long),
            Err(ReadError::HeaderTooLong(_))
        ));
    }

    #[test]
    fn max_items_stops_reading_and_zero_reads_everything() {
        let text = "Col1,Col2\nValue1,Value2\nValue3,Value4\nValue5,Value6\n\"broken\n";
        let format = Format::Csv {
            headers: CsvHeaders::FirstRow,
            delimiter: Delimiter::Comma,
        };
        assert_eq!(
            parse(text, &format, limit(Some(2)).unwrap()).unwrap().len(),
            2
        );
        assert!(parse(text, &format, limit(Some(0)).unwrap()).is_err());
        assert_eq!(limit(None), Ok(MAX_ITEMS as usize));
        assert_eq!(limit(Some(100_000_001)), Ok(MAX_ITEMS as usize));
        assert_eq!(
            limit(Some(-1)).map_err(|e| e.to_string()),
            Err("field MaxItems must be positive".into())
        );
    }

    #[test]
    fn json_must_be_an_array_and_jsonl_names_its_bad_line() {
        assert_eq!(
            parse(r#"[1, {"a": 2}]"#, &Format::Json, usize::MAX).unwrap(),
            vec![json!(1), json!({"a": 2})]
        );
        assert_eq!(
            parse(r#"{"Hello": "world"}"#, &Format::Json, usize::MAX).map_err(|e| e.to_string()),
            Err("Attempting to map over non-iterable node.".into())
        );
        assert!(matches!(
            parse("[1,", &Format::Json, usize::MAX),
            Err(ReadError::Json(_))
        ));
        assert_eq!(
            parse("{\"a\":1}\r\n\n  \n[2]\n", &Format::Jsonl, usize::MAX).unwrap(),
            vec![json!({"a": 1}), json!([2])]
        );
        assert!(matches!(
            parse("1\n2\n{oops\n", &Format::Jsonl, usize::MAX),
            Err(ReadError::JsonLine { line: 3, .. })
        ));
    }

    #[test]
    fn a_listing_page_becomes_aws_items_and_names_the_next_page() {
        let page = json!({
            "Contents": [{"Key": "a.txt", "Size": 12, "ETag": "\"e1\"",
                          "LastModified": "2026-12-07T23:05:00.000Z", "StorageClass": "STANDARD"}],
            "IsTruncated": true, "NextContinuationToken": "t2", "KeyCount": 1,
        });
        let listed = listed(&page).unwrap();
        assert_eq!(
            listed.items,
            vec![
                json!({"Etag": "\"e1\"", "Key": "a.txt", "LastModified": 1_796_684_700,
                        "Size": 12, "StorageClass": "STANDARD"})
            ]
        );
        assert_eq!(listed.next.as_deref(), Some("t2"));
        let last = super::listed(&json!({"IsTruncated": false, "KeyCount": 0})).unwrap();
        assert_eq!((last.items.len(), last.next), (0, None));
        assert!(super::listed(&json!({"IsTruncated": true})).is_err());
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        fn quote(field: &str) -> String {
            format!("\"{}\"", field.replace('"', "\"\""))
        }

        proptest! {
            /// Any text: a result or an error, never a panic.
            #[test]
            fn any_text_reads_or_fails_cleanly(text in "\\PC*", delimiter in 0usize..5) {
                let delimiter = [Delimiter::Comma, Delimiter::Pipe, Delimiter::Semicolon,
                                 Delimiter::Space, Delimiter::Tab][delimiter];
                for format in [Format::Json, Format::Jsonl, Format::Csv {
                    headers: CsvHeaders::FirstRow, delimiter }] {
                    let _ = parse(&text, &format, 1000);
                }
            }

            /// Rows written with every field quoted read back as written.
            #[test]
            fn quoted_rows_round_trip(
                rows in proptest::collection::vec(
                    proptest::collection::vec("[a-z,\"\\n ]{0,6}", 2), 0..8)
            ) {
                let mut text = String::from("h1,h2\n");
                for row in &rows {
                    let line: Vec<String> = row.iter().map(|f| quote(f)).collect();
                    text.push_str(&line.join(","));
                    text.push_str("\r\n");
                }
                let items = csv_first_row(&text).unwrap();
                prop_assert_eq!(items.len(), rows.len());
                for (item, row) in items.iter().zip(&rows) {
                    prop_assert_eq!(item["h1"].as_str(), Some(row[0].as_str()));
                    prop_assert_eq!(item["h2"].as_str(), Some(row[1].as_str()));
                }
            }
        }
    }
}
