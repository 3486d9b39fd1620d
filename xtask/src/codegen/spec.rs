//! The model of Kafka's JSON message specs, and its parser.
//!
//! The spec files are JSON with `//` comments. This module strips the comments and reads the
//! parts the generator needs: message kind, api key, valid and flexible versions, fields
//! (type, versions, nullable/tagged versions, tag, default, ignorable) and common structs.

use serde_json::Value;

/// An inclusive version range; `None` for "none".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Versions {
    pub min: i16,
    pub max: i16,
}

pub const OPEN: i16 = i16::MAX;

impl Versions {
    pub fn parse(s: &str) -> Result<Option<Versions>, String> {
        let s = s.trim();
        if s == "none" {
            return Ok(None);
        }
        let num = |x: &str| {
            x.trim()
                .parse::<i16>()
                .map_err(|e| format!("bad version '{x}': {e}"))
        };
        if let Some(min) = s.strip_suffix('+') {
            return Ok(Some(Versions {
                min: num(min)?,
                max: OPEN,
            }));
        }
        if let Some((a, b)) = s.split_once('-') {
            return Ok(Some(Versions {
                min: num(a)?,
                max: num(b)?,
            }));
        }
        let v = num(s)?;
        Ok(Some(Versions { min: v, max: v }))
    }

    pub fn intersect(self, o: Versions) -> Option<Versions> {
        let min = self.min.max(o.min);
        let max = self.max.min(o.max);
        (min <= max).then_some(Versions { min, max })
    }
}

/// A field type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ty {
    Bool,
    Int8,
    Int16,
    UInt16,
    Int32,
    UInt32,
    Int64,
    Float64,
    String,
    Bytes,
    Records,
    Uuid,
    Struct(String),
    Array(Box<Ty>),
}

impl Ty {
    fn parse(s: &str) -> Result<Ty, String> {
        if let Some(inner) = s.strip_prefix("[]") {
            return Ok(Ty::Array(Box::new(Ty::parse(inner)?)));
        }
        Ok(match s {
            "bool" => Ty::Bool,
            "int8" => Ty::Int8,
            "int16" => Ty::Int16,
            "uint16" => Ty::UInt16,
            "int32" => Ty::Int32,
            "uint32" => Ty::UInt32,
            "int64" => Ty::Int64,
            "float64" => Ty::Float64,
            "string" => Ty::String,
            "bytes" => Ty::Bytes,
            "records" => Ty::Records,
            "uuid" => Ty::Uuid,
            s if s.chars().next().is_some_and(|c| c.is_ascii_uppercase()) => {
                Ty::Struct(s.to_string())
            }
            other => return Err(format!("unknown type '{other}'")),
        })
    }
}

#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub ty: Ty,
    pub versions: Option<Versions>,
    pub nullable: Option<Versions>,
    pub tagged: Option<Versions>,
    pub tag: Option<u32>,
    pub ignorable: bool,
    pub default: Option<String>,
    pub about: String,
    /// Field-level override of the message's flexible versions.
    pub flexible: Option<Option<Versions>>,
    /// Inline struct definition (for struct and struct-array types).
    pub fields: Option<Vec<Field>>,
}

#[derive(Debug, Clone)]
pub struct StructDef {
    pub name: String,
    pub versions: Option<Versions>,
    pub fields: Vec<Field>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Request,
    Response,
    Header,
    Data,
}

#[derive(Debug, Clone)]
pub struct Spec {
    pub file: String,
    pub name: String,
    pub kind: Kind,
    pub api_key: Option<i16>,
    pub valid: Versions,
    pub flexible: Option<Versions>,
    pub fields: Vec<Field>,
    pub common: Vec<StructDef>,
    pub latest_unstable: bool,
    pub listeners: Vec<String>,
}

/// Removes `//` comments that are outside JSON strings.
pub fn strip_comments(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut in_str = false;
    let mut escaped = false;
    let mut chars = src.chars().peekable();
    while let Some(c) = chars.next() {
        if in_str {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
            continue;
        }
        if c == '"' {
            in_str = true;
            out.push(c);
        } else if c == '/' && chars.peek() == Some(&'/') {
            for c in chars.by_ref() {
                if c == '\n' {
                    out.push('\n');
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn get_str<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn versions(v: &Value, key: &str) -> Result<Option<Versions>, String> {
    match get_str(v, key) {
        Some(s) => Versions::parse(s),
        None => Ok(None),
    }
}

fn parse_fields(v: &Value) -> Result<Vec<Field>, String> {
    let Some(arr) = v.get("fields").and_then(Value::as_array) else {
        return Ok(Vec::new());
    };
    arr.iter().map(parse_field).collect()
}

fn parse_field(v: &Value) -> Result<Field, String> {
    let name = get_str(v, "name").ok_or("field without name")?.to_string();
    let ty = Ty::parse(get_str(v, "type").ok_or("field without type")?)
        .map_err(|e| format!("{name}: {e}"))?;
    let default = match v.get("default") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        Some(other) => return Err(format!("{name}: unsupported default {other}")),
    };
    let flexible = match get_str(v, "flexibleVersions") {
        Some(s) => Some(Versions::parse(s)?),
        None => None,
    };
    let fields = if v.get("fields").is_some() {
        Some(parse_fields(v).map_err(|e| format!("{name}.{e}"))?)
    } else {
        None
    };
    Ok(Field {
        versions: versions(v, "versions")?,
        nullable: versions(v, "nullableVersions")?,
        tagged: versions(v, "taggedVersions")?,
        tag: v.get("tag").and_then(Value::as_u64).map(|t| t as u32),
        ignorable: v.get("ignorable").and_then(Value::as_bool).unwrap_or(false),
        about: get_str(v, "about").unwrap_or("").to_string(),
        name,
        ty,
        default,
        flexible,
        fields,
    })
}

pub fn parse_spec(file: &str, src: &str) -> Result<Spec, String> {
    let v: Value =
        serde_json::from_str(&strip_comments(src)).map_err(|e| format!("{file}: {e}"))?;
    let name = get_str(&v, "name").ok_or("spec without name")?.to_string();
    let kind = match get_str(&v, "type") {
        Some("request") => Kind::Request,
        Some("response") => Kind::Response,
        Some("header") => Kind::Header,
        Some("data") => Kind::Data,
        other => return Err(format!("{file}: unknown message type {other:?}")),
    };
    let valid = versions(&v, "validVersions")?.ok_or(format!("{file}: no validVersions"))?;
    let common = match v.get("commonStructs").and_then(Value::as_array) {
        None => Vec::new(),
        Some(arr) => arr
            .iter()
            .map(|s| {
                Ok(StructDef {
                    name: get_str(s, "name")
                        .ok_or("common struct without name")?
                        .to_string(),
                    versions: versions(s, "versions")?,
                    fields: parse_fields(s)?,
                })
            })
            .collect::<Result<_, String>>()?,
    };
    Ok(Spec {
        file: file.to_string(),
        name,
        kind,
        api_key: v.get("apiKey").and_then(Value::as_i64).map(|k| k as i16),
        valid,
        flexible: versions(&v, "flexibleVersions")?,
        fields: parse_fields(&v).map_err(|e| format!("{file}: {e}"))?,
        common,
        latest_unstable: v
            .get("latestVersionUnstable")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        listeners: v
            .get("listeners")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse() {
        assert_eq!(
            Versions::parse("3+").unwrap(),
            Some(Versions { min: 3, max: OPEN })
        );
        assert_eq!(
            Versions::parse("0-2").unwrap(),
            Some(Versions { min: 0, max: 2 })
        );
        assert_eq!(Versions::parse("none").unwrap(), None);
        assert_eq!(
            Versions::parse("4").unwrap(),
            Some(Versions { min: 4, max: 4 })
        );
    }

    #[test]
    fn comments_outside_strings_only() {
        let s = "{ // c\n \"a\": \"http://x\" // d\n}";
        let v: Value = serde_json::from_str(&strip_comments(s)).unwrap();
        assert_eq!(v["a"], "http://x");
    }
}
