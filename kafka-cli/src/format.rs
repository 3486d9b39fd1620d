//! `consume --format`: kcat-style templates for printing records.
//!
//! `%t` topic, `%p` partition, `%o` offset, `%k` key, `%s` value, `%h` headers
//! (`k=v,k=v`), `%T` timestamp (epoch ms), `%K` / `%S` key / value length (-1 for null),
//! `%%` a percent sign; `\n`, `\t` and `\\` escapes. Each record is printed as the template
//! followed by a newline, unless the template already ends with one. Keys, values and headers
//! are printed as UTF-8, invalid bytes replaced, so binary data cannot corrupt a terminal line
//! structure beyond its own record; null keys and values print as nothing.

use std::fmt::Write as _;

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Topic,
    Partition,
    Offset,
    Key,
    Value,
    Headers,
    Timestamp,
    KeyLen,
    ValueLen,
}

/// A parsed `--format` template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

/// What a template can print of a record.
#[derive(Debug, Clone, Copy)]
pub struct RecordView<'a> {
    /// The topic.
    pub topic: &'a str,
    /// The partition.
    pub partition: i32,
    /// The offset.
    pub offset: i64,
    /// The key (`None`: null).
    pub key: Option<&'a [u8]>,
    /// The value (`None`: null).
    pub value: Option<&'a [u8]>,
    /// The headers in order (`None` value: null).
    pub headers: &'a [(&'a str, Option<&'a [u8]>)],
    /// The timestamp, epoch ms.
    pub timestamp: i64,
}

impl Template {
    /// Parses a template; an unknown `%` directive is an error naming it.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            match c {
                '%' => {
                    let piece = match chars.next() {
                        Some('%') => {
                            text.push('%');
                            continue;
                        }
                        Some('t') => Piece::Topic,
                        Some('p') => Piece::Partition,
                        Some('o') => Piece::Offset,
                        Some('k') => Piece::Key,
                        Some('s') => Piece::Value,
                        Some('h') => Piece::Headers,
                        Some('T') => Piece::Timestamp,
                        Some('K') => Piece::KeyLen,
                        Some('S') => Piece::ValueLen,
                        Some(other) => {
                            return Err(format!(
                                "unknown directive %{other} (use %t %p %o %k %s %h %T %K %S %%)"
                            ));
                        }
                        None => return Err("the format ends with a lone %".into()),
                    };
                    if !text.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    pieces.push(piece);
                }
                '\\' => match chars.next() {
                    Some('n') => text.push('\n'),
                    Some('t') => text.push('\t'),
                    Some('\\') => text.push('\\'),
                    Some(other) => {
                        text.push('\\');
                        text.push(other);
                    }
                    None => text.push('\\'),
                },
                c => text.push(c),
            }
        }
        if !text.ends_with('\n') {
            text.push('\n');
        }
        pieces.push(Piece::Text(text));
        Ok(Self { pieces })
    }

    /// Appends `record` as formatted to `out`.
    pub fn render(&self, record: &RecordView<'_>, out: &mut String) {
        let bytes = |b: Option<&[u8]>, out: &mut String| {
            if let Some(b) = b {
                out.push_str(&String::from_utf8_lossy(b));
            }
        };
        let len = |b: Option<&[u8]>| b.map_or(-1, |b| b.len() as i64);
        for piece in &self.pieces {
            // Writing to a String cannot fail.
            let _ = match piece {
                Piece::Text(t) => {
                    out.push_str(t);
                    Ok(())
                }
                Piece::Topic => {
                    out.push_str(record.topic);
                    Ok(())
                }
                Piece::Partition => write!(out, "{}", record.partition),
                Piece::Offset => write!(out, "{}", record.offset),
                Piece::Key => {
                    bytes(record.key, out);
                    Ok(())
                }
                Piece::Value => {
                    bytes(record.value, out);
                    Ok(())
                }
                Piece::Headers => {
                    for (i, (k, v)) in record.headers.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        out.push_str(k);
                        out.push('=');
                        bytes(*v, out);
                    }
                    Ok(())
                }
                Piece::Timestamp => write!(out, "{}", record.timestamp),
                Piece::KeyLen => write!(out, "{}", len(record.key)),
                Piece::ValueLen => write!(out, "{}", len(record.value)),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view<'a>(headers: &'a [(&'a str, Option<&'a [u8]>)]) -> RecordView<'a> {
        RecordView {
            topic: "events",
            partition: 2,
            offset: 41,
            key: Some(b"k1"),
            value: Some(b"hello"),
            headers,
            timestamp: 1_700_000_000_000,
        }
    }

    #[test]
    fn renders_every_directive() {
        let t = Template::parse(r"%t %p %o %k %s [%h] %T %K %S 100%%").unwrap();
        let h: [(&str, Option<&[u8]>); 2] = [("a", Some(b"1")), ("b", None)];
        let mut out = String::new();
        t.render(&view(&h), &mut out);
        assert_eq!(
            out,
            "events 2 41 k1 hello [a=1,b=] 1700000000000 2 5 100%\n"
        );
    }

    #[test]
    fn escapes_nulls_and_trailing_newline() {
        let t = Template::parse(r"%k\t%s\n").unwrap();
        let mut r = view(&[]);
        r.key = None;
        let mut out = String::new();
        t.render(&r, &mut out);
        assert_eq!(out, "\thello\n");
        assert!(Template::parse("%x").unwrap_err().contains("%x"));
        assert!(Template::parse("50%").is_err());
    }
}
