//! A reader for Java `.properties` text, so that the file a Java client or the Kafka CLI
//! tools use (`--command-config client.properties`) configures this client unchanged.
//!
//! It follows `java.util.Properties.load`: `#` and `!` comments, `=`, `:` or whitespace
//! between key and value, backslash line continuations, and the `\t \n \r \f \uXXXX` escapes.
//! Each entry keeps the line it started on, for error messages.

/// One `key = value` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// The 1-based line the entry starts on.
    pub line: usize,
    /// The key, unescaped.
    pub key: String,
    /// The value, unescaped.
    pub value: String,
}

/// Splits properties text into entries, in file order (a later duplicate key wins when the
/// caller applies them in order, as in Java).
pub fn parse(text: &str) -> Vec<Property> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((idx, raw)) = lines.next() {
        let first = raw.trim_start_matches([' ', '\t', '\x0c']);
        if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
            continue;
        }
        // Join continuation lines: an odd number of trailing backslashes continues the entry;
        // the next line's leading whitespace is dropped.
        let mut logical = String::from(first);
        while ends_with_odd_backslashes(&logical) {
            logical.pop();
            match lines.next() {
                Some((_, next)) => logical.push_str(next.trim_start_matches([' ', '\t', '\x0c'])),
                None => break,
            }
        }
        let (key, value) = split_key_value(&logical);
        out.push(Property {
            line: idx + 1,
            key: unescape(key),
            value: unescape(value),
        });
    }
    out
}

fn ends_with_odd_backslashes(s: &str) -> bool {
    s.bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1
}

/// Splits at the first unescaped `=`, `:` or whitespace; returns the raw (escaped) halves.
fn split_key_value(line: &str) -> (&str, &str) {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'=' | b':' | b' ' | b'\t' | b'\x0c' => break,
            _ => i += 1,
        }
    }
    let i = i.min(bytes.len());
    let key = &line[..i];
    let mut rest = line[i..].trim_start_matches([' ', '\t', '\x0c']);
    if let Some(r) = rest.strip_prefix(['=', ':']) {
        rest = r.trim_start_matches([' ', '\t', '\x0c']);
    }
    (key, rest)
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    // Java throws on a malformed \u escape; keeping the text is kinder and the
                    // property's own parser will still refuse a bad value.
                    None => {
                        out.push_str("\\u");
                        out.push_str(&hex);
                    }
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(text: &str) -> Vec<(String, String)> {
        parse(text).into_iter().map(|p| (p.key, p.value)).collect()
    }

    #[test]
    fn separators_comments_and_blank_lines() {
        let text = "# comment\n! also\n\n a=1\nb : 2\nc 3\nd=\ne\n";
        assert_eq!(
            kv(text),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "2".into()),
                ("c".into(), "3".into()),
                ("d".into(), "".into()),
                ("e".into(), "".into()),
            ]
        );
    }

    #[test]
    fn continuations_and_escapes() {
        let text = "bootstrap.servers=a:1,\\\n    b:2\nkey\\=x=v\\u0041\\tz\nodd=ends\\\\\nnext=1";
        let props = parse(text);
        assert_eq!(props[0].value, "a:1,b:2");
        assert_eq!(props[0].line, 1);
        assert_eq!(props[1].key, "key=x");
        assert_eq!(props[1].value, "vA\tz");
        assert_eq!(props[2].value, "ends\\");
        assert_eq!(props[3].line, 5);
    }

    #[test]
    fn jaas_values_keep_their_quotes() {
        let text = r#"sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";"#;
        assert!(parse(text)[0].value.contains(r#"username="u""#));
    }
}
