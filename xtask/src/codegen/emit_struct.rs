//! Emits one Rust struct with its `Default`, `Decode`, `Encode` and `arbitrary` code.
//!
//! The wire rules are Kafka's (as its Java generator implements them): classic versions use
//! i16/i32 length prefixes with -1 for null, flexible versions use compact uvarint(len + 1)
//! prefixes and end every struct with tagged fields; a nullable struct has an i8 marker; a
//! field the version lacks must hold its default unless it is ignorable; tagged fields are
//! written only when they differ from their default, in tag order with unknown ones kept.

use std::fmt::Write;

use super::model::{StructModel, field_ident};
use super::spec::{Field, OPEN, Ty, Versions};

/// What the emitter knows about the message a struct belongs to.
pub struct Ctx<'a> {
    pub flexible: Option<Versions>,
    /// The top-level message struct gets the version-range check.
    pub top_level: bool,
    pub message_name: &'a str,
}

/// `version >= a && version <= b`, leaving out the parts `range` already guarantees;
/// `None` when it always holds, `Some("false")` when it never does.
pub fn cond(v: Option<Versions>, range: Versions) -> Option<String> {
    let Some(v) = v else {
        return Some("false".into());
    };
    let Some(x) = v.intersect(range) else {
        return Some("false".into());
    };
    let lo = (x.min > range.min).then(|| format!("version >= {}", x.min));
    let hi = (x.max < range.max && x.max != OPEN).then(|| format!("version <= {}", x.max));
    if x.min == x.max && x.min > range.min && x.max < range.max {
        return Some(format!("version == {}", x.min));
    }
    match (lo, hi) {
        (None, None) => None,
        (Some(a), None) | (None, Some(a)) => Some(a),
        (Some(a), Some(b)) => Some(format!("{a} && {b}")),
    }
}

fn cond_expr(v: Option<Versions>, range: Versions) -> String {
    cond(v, range).unwrap_or_else(|| "true".into())
}

fn is_nullable(f: &Field) -> bool {
    f.nullable.is_some()
}

fn elem_rust(ty: &Ty) -> String {
    match ty {
        Ty::Bool => "bool".into(),
        Ty::Int8 => "i8".into(),
        Ty::Int16 => "i16".into(),
        Ty::UInt16 => "u16".into(),
        Ty::Int32 => "i32".into(),
        Ty::UInt32 => "u32".into(),
        Ty::Int64 => "i64".into(),
        Ty::Float64 => "f64".into(),
        Ty::String => "crate::KStr".into(),
        Ty::Bytes | Ty::Records => "::bytes::Bytes".into(),
        Ty::Uuid => "crate::Uuid".into(),
        Ty::Struct(n) => n.clone(),
        Ty::Array(inner) => format!("Vec<{}>", elem_rust(inner)),
    }
}

fn rust_type(f: &Field) -> String {
    let t = elem_rust(&f.ty);
    if is_nullable(f) {
        format!("Option<{t}>")
    } else {
        t
    }
}

fn parse_int(s: &str) -> Option<i128> {
    let s = s.trim();
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        i128::from_str_radix(h, 16).ok()
    } else if let Some(h) = s.strip_prefix("-0x") {
        i128::from_str_radix(h, 16).ok().map(|v| -v)
    } else {
        s.parse().ok()
    }
}

/// The default of the non-null value.
fn base_default(f: &Field) -> Result<String, String> {
    let d = f.default.as_deref().filter(|d| *d != "null");
    Ok(match &f.ty {
        Ty::Bool => match d {
            None | Some("false") => "false".into(),
            Some("true") => "true".into(),
            Some(o) => return Err(format!("{}: bad bool default {o}", f.name)),
        },
        Ty::Int8 | Ty::Int16 | Ty::UInt16 | Ty::Int32 | Ty::UInt32 | Ty::Int64 => {
            let v = match d {
                None => 0,
                Some(s) => parse_int(s).ok_or(format!("{}: bad int default {s}", f.name))?,
            };
            let t = elem_rust(&f.ty);
            if v < 0 {
                format!("-{}{t}", -v)
            } else {
                format!("{v}{t}")
            }
        }
        Ty::Float64 => match d {
            None => "0.0f64".into(),
            Some(s) => {
                let v: f64 = s
                    .parse()
                    .map_err(|_| format!("{}: bad float default", f.name))?;
                format!("{v:?}f64")
            }
        },
        Ty::String => format!("crate::KStr::from_static({:?})", d.unwrap_or("")),
        Ty::Bytes | Ty::Records => "::bytes::Bytes::new()".into(),
        Ty::Uuid => "crate::Uuid::ZERO".into(),
        Ty::Struct(n) => format!("{n}::default()"),
        Ty::Array(_) => "Vec::new()".into(),
    })
}

fn default_expr(f: &Field) -> Result<String, String> {
    if is_nullable(f) && f.default.as_deref() == Some("null") {
        Ok("None".into())
    } else if is_nullable(f) {
        Ok(format!("Some({})", base_default(f)?))
    } else {
        base_default(f)
    }
}

/// An expression that is true when the field holds something other than its default.
fn non_default(f: &Field, access: &str) -> Result<String, String> {
    let d = default_expr(f)?;
    Ok(match (&f.ty, is_nullable(f), d.as_str()) {
        (_, true, "None") => format!("{access}.is_some()"),
        (Ty::Array(_), false, _) => format!("!{access}.is_empty()"),
        (Ty::Bytes | Ty::Records, false, _) => format!("!{access}.is_empty()"),
        (Ty::Float64, false, _) => format!("{access}.to_bits() != ({d}).to_bits()"),
        (Ty::Bool, false, "false") => access.to_string(),
        (Ty::Bool, false, "true") => format!("!{access}"),
        _ => format!("{access} != {d}"),
    })
}

/// The flexible-encoding expression for a field (its override, or the struct's `flex`).
fn field_flex(f: &Field, range: Versions) -> String {
    match &f.flexible {
        Some(None) => "false".into(),
        Some(Some(v)) => cond_expr(Some(*v), range),
        None => "flex".into(),
    }
}

/// Parser call for one element of type `ty`, as a closure-friendly expression over `(frame, i)`.
fn read_elem(ty: &Ty, flex: &str) -> String {
    match ty {
        Ty::Bool => "crate::codec::decode::read_bool(i)".into(),
        Ty::Int8 => "crate::codec::decode::read_i8(i)".into(),
        Ty::Int16 => "crate::codec::decode::read_i16(i)".into(),
        Ty::UInt16 => "crate::codec::decode::read_u16(i)".into(),
        Ty::Int32 => "crate::codec::decode::read_i32(i)".into(),
        Ty::UInt32 => "crate::codec::decode::read_u32(i)".into(),
        Ty::Int64 => "crate::codec::decode::read_i64(i)".into(),
        Ty::Float64 => "crate::codec::decode::read_f64(i)".into(),
        Ty::Uuid => "crate::codec::decode::read_uuid(i)".into(),
        Ty::String => format!("crate::codec::decode::read_string(frame, i, {flex})"),
        Ty::Bytes | Ty::Records => format!("crate::codec::decode::read_bytes(frame, i, {flex})"),
        Ty::Struct(n) => format!("<{n} as crate::codec::Decode>::decode(frame, i, version)"),
        Ty::Array(inner) => format!(
            "crate::codec::decode::read_array(frame, i, {flex}, |frame, i| {})",
            read_elem(inner, flex)
        ),
    }
}

/// Parser call for a whole field value (handles nullability).
fn read_field(f: &Field, flex: &str, range: Versions) -> String {
    if !is_nullable(f) {
        return read_elem(&f.ty, flex);
    }
    let nullable = cond_expr(f.nullable, range);
    match &f.ty {
        Ty::String => {
            format!("crate::codec::decode::read_opt_string(frame, i, {flex}, {nullable})")
        }
        Ty::Bytes | Ty::Records => {
            format!("crate::codec::decode::read_opt_bytes(frame, i, {flex}, {nullable})")
        }
        Ty::Struct(n) => format!(
            "crate::codec::decode::read_opt_struct(i, {nullable}, |i| <{n} as crate::codec::Decode>::decode(frame, i, version))"
        ),
        Ty::Array(inner) => format!(
            "crate::codec::decode::read_opt_array(frame, i, {flex}, {nullable}, |frame, i| {})",
            read_elem(inner, flex)
        ),
        other => format!(
            "/* nullable {other:?} unsupported */ {}",
            read_elem(other, flex)
        ),
    }
}

/// Size of one element `v` (an expression of type &T or T) of type `ty`.
fn size_elem(ty: &Ty, v: &str, flex: &str) -> String {
    match ty {
        Ty::Bool | Ty::Int8 => "1".into(),
        Ty::Int16 | Ty::UInt16 => "2".into(),
        Ty::Int32 | Ty::UInt32 => "4".into(),
        Ty::Int64 | Ty::Float64 => "8".into(),
        Ty::Uuid => "16".into(),
        Ty::String => format!("crate::codec::encode::string_size(Some({v}), {flex})"),
        Ty::Bytes | Ty::Records => format!("crate::codec::encode::bytes_size(Some({v}), {flex})"),
        Ty::Struct(_) => format!("crate::codec::Encode::encoded_size({v}, version)?"),
        Ty::Array(inner) => format!(
            "{{ let mut n = crate::codec::encode::len_prefix_size(Some({r}.len()), {flex}, false); for e in {r}.iter() {{ n += {}; }} n }}",
            size_elem(inner, "e", flex),
            r = recv(v)
        ),
    }
}

/// Statements that check lengths of `v` (type &T) before it is written.
fn check_elem(ty: &Ty, v: &str, flex: &str, sname: &str, fname: &str) -> String {
    match ty {
        Ty::String => format!(
            "crate::codec::encode::check_len({}.len(), {flex}, true, {sname:?}, {fname:?})?;",
            recv(v)
        ),
        Ty::Bytes | Ty::Records => format!(
            "crate::codec::encode::check_len({}.len(), {flex}, false, {sname:?}, {fname:?})?;",
            recv(v)
        ),
        Ty::Array(inner) => {
            let inner_check = check_elem(inner, "e", flex, sname, fname);
            if inner_check.is_empty() {
                format!(
                    "crate::codec::encode::check_len({}.len(), {flex}, false, {sname:?}, {fname:?})?;",
                    recv(v)
                )
            } else {
                format!(
                    "crate::codec::encode::check_len({r}.len(), {flex}, false, {sname:?}, {fname:?})?; for e in {r}.iter() {{ {inner_check} }}",
                    r = recv(v)
                )
            }
        }
        _ => String::new(),
    }
}

/// Statements writing element `v` (type &T) of type `ty`.
fn write_elem(ty: &Ty, v: &str, flex: &str) -> String {
    match ty {
        Ty::Bool => format!("crate::codec::encode::put_bool(buf, {});", deref(v)),
        Ty::Int8 => format!("::bytes::BufMut::put_i8(buf, {});", deref(v)),
        Ty::Int16 => format!("::bytes::BufMut::put_i16(buf, {});", deref(v)),
        Ty::UInt16 => format!("::bytes::BufMut::put_u16(buf, {});", deref(v)),
        Ty::Int32 => format!("::bytes::BufMut::put_i32(buf, {});", deref(v)),
        Ty::UInt32 => format!("::bytes::BufMut::put_u32(buf, {});", deref(v)),
        Ty::Int64 => format!("::bytes::BufMut::put_i64(buf, {});", deref(v)),
        Ty::Float64 => format!("::bytes::BufMut::put_f64(buf, {});", deref(v)),
        Ty::Uuid => format!("crate::codec::encode::put_uuid(buf, {v});"),
        Ty::String => format!("crate::codec::encode::put_string(buf, Some({v}), {flex});"),
        Ty::Bytes | Ty::Records => {
            format!("crate::codec::encode::put_bytes(buf, Some({v}), {flex});")
        }
        Ty::Struct(_) => format!("crate::codec::Encode::encode({v}, buf, version)?;"),
        Ty::Array(inner) => format!(
            "crate::codec::encode::put_len(buf, Some({r}.len()), {flex}, false); for e in {r}.iter() {{ {} }}",
            write_elem(inner, "e", flex),
            r = recv(v)
        ),
    }
}

/// Size, check and write code for a (possibly nullable) field value `access` (a place expr).
struct FieldCode {
    size: String,
    check: String,
    write: String,
}

fn field_code(f: &Field, access: &str, flex: &str) -> FieldCode {
    if !is_nullable(f) {
        let r = format!("&{access}");
        return FieldCode {
            size: size_elem(&f.ty, &r, flex),
            check: check_elem(&f.ty, &r, flex, "", ""),
            write: write_elem(&f.ty, &r, flex),
        };
    }
    match &f.ty {
        Ty::String => FieldCode {
            size: format!("crate::codec::encode::string_size({access}.as_ref(), {flex})"),
            check: format!(
                "if let Some(v) = &{access} {{ {} }}",
                check_elem(&f.ty, "v", flex, "", "")
            ),
            write: format!("crate::codec::encode::put_string(buf, {access}.as_ref(), {flex});"),
        },
        Ty::Bytes | Ty::Records => FieldCode {
            size: format!("crate::codec::encode::bytes_size({access}.as_ref(), {flex})"),
            check: format!(
                "if let Some(v) = &{access} {{ {} }}",
                check_elem(&f.ty, "v", flex, "", "")
            ),
            write: format!("crate::codec::encode::put_bytes(buf, {access}.as_ref(), {flex});"),
        },
        Ty::Struct(_) => FieldCode {
            size: format!(
                "match &{access} {{ None => 1, Some(v) => 1 + crate::codec::Encode::encoded_size(v, version)? }}"
            ),
            check: String::new(),
            write: format!(
                "match &{access} {{ None => ::bytes::BufMut::put_i8(buf, -1), Some(v) => {{ ::bytes::BufMut::put_i8(buf, 1); crate::codec::Encode::encode(v, buf, version)?; }} }}"
            ),
        },
        Ty::Array(inner) => FieldCode {
            size: format!(
                "match &{access} {{ None => crate::codec::encode::len_prefix_size(None, {flex}, false), Some(v) => {} }}",
                size_elem(&f.ty, "v", flex)
            ),
            check: format!(
                "if let Some(v) = &{access} {{ {} }}",
                check_elem(&f.ty, "v", flex, "", "")
            ),
            write: format!(
                "match &{access} {{ None => crate::codec::encode::put_len(buf, None, {flex}, false), Some(v) => {{ {} }} }}",
                write_elem(&Ty::Array(inner.clone()), "v", flex)
            ),
        },
        other => FieldCode {
            size: size_elem(other, &format!("&{access}"), flex),
            check: String::new(),
            write: write_elem(other, &format!("&{access}"), flex),
        },
    }
}

/// `v` (a reference expression) as a method receiver: `&self.x` -> `self.x`.
fn recv(v: &str) -> String {
    match v.strip_prefix('&') {
        Some(place) => place.to_string(),
        None => v.to_string(),
    }
}

/// The value behind reference expression `v`: `&self.x` -> `self.x`, `e` -> `*e`.
fn deref(v: &str) -> String {
    match v.strip_prefix('&') {
        Some(place) => place.to_string(),
        None => format!("*{v}"),
    }
}

fn arbitrary_elem(ty: &Ty) -> String {
    match ty {
        Ty::Bool => "g.bool()".into(),
        Ty::Int8 => "g.i8()".into(),
        Ty::Int16 => "g.i16()".into(),
        Ty::UInt16 => "g.u16()".into(),
        Ty::Int32 => "g.i32()".into(),
        Ty::UInt32 => "g.u32()".into(),
        Ty::Int64 => "g.i64()".into(),
        Ty::Float64 => "g.f64()".into(),
        Ty::Uuid => "g.uuid()".into(),
        Ty::String => "g.string()".into(),
        Ty::Bytes | Ty::Records => "g.bytes()".into(),
        Ty::Struct(n) => {
            format!("{{ g.enter(); let v = {n}::arbitrary(g, version); g.leave(); v }}")
        }
        Ty::Array(inner) => format!(
            "(0..g.arr_len()).map(|_| {}).collect()",
            arbitrary_elem(inner)
        ),
    }
}

fn doc(out: &mut String, indent: &str, text: &str) {
    let text = text.trim();
    if text.is_empty() {
        return;
    }
    for line in text.lines() {
        let line = line.trim().replace('[', "\\[").replace(']', "\\]");
        let _ = writeln!(out, "{indent}/// {line}");
    }
}

fn versions_text(v: Option<Versions>) -> String {
    match v {
        None => "none".into(),
        Some(v) if v.max == OPEN => format!("{}+", v.min),
        Some(v) if v.min == v.max => format!("{}", v.min),
        Some(v) => format!("{}-{}", v.min, v.max),
    }
}

pub fn emit(out: &mut String, s: &StructModel, ctx: &Ctx<'_>) -> Result<(), String> {
    let range = s.range;
    let flex_cond = match ctx.flexible.and_then(|f| f.intersect(range)) {
        None => "false".to_string(),
        Some(_) => cond_expr(ctx.flexible, range),
    };
    let has_tagged_section = flex_cond != "false";
    let name = &s.name;
    let sname = name.as_str();
    let regular: Vec<&Field> = s.fields.iter().filter(|f| f.tag.is_none()).collect();
    let mut tagged: Vec<&Field> = s.fields.iter().filter(|f| f.tag.is_some()).collect();
    tagged.sort_by_key(|f| f.tag);

    // ---- struct definition
    if s.about.is_empty() {
        let _ = writeln!(
            out,
            "/// `{name}` (versions {}).",
            versions_text(Some(range))
        );
    } else {
        doc(out, "", &s.about);
        let _ = writeln!(out, "///\n/// Versions {}.", versions_text(Some(range)));
    }
    let _ = writeln!(
        out,
        "#[derive(Debug, Clone, PartialEq)]\npub struct {name} {{"
    );
    for f in &s.fields {
        doc(out, "    ", &f.about);
        let mut notes = format!("Versions {}", versions_text(f.versions));
        if let Some(n) = f.nullable {
            let _ = write!(notes, "; nullable {}", versions_text(Some(n)));
        }
        if let Some(t) = f.tag {
            let _ = write!(notes, "; tagged (tag {t}) {}", versions_text(f.tagged));
        }
        if f.ignorable {
            notes.push_str("; ignorable");
        }
        let _ = writeln!(out, "    ///\n    /// {notes}.");
        let _ = writeln!(out, "    pub {}: {},", field_ident(&f.name), rust_type(f));
    }
    if has_tagged_section {
        let _ = writeln!(
            out,
            "    /// Tagged fields this codec does not know, written back unchanged.\n    pub unknown_tagged_fields: Vec<crate::RawTaggedField>,"
        );
    }
    let _ = writeln!(out, "}}\n");

    // ---- Default
    let _ = writeln!(
        out,
        "impl Default for {name} {{\n    fn default() -> Self {{\n        Self {{"
    );
    for f in &s.fields {
        let _ = writeln!(
            out,
            "            {}: {},",
            field_ident(&f.name),
            default_expr(f)?
        );
    }
    if has_tagged_section {
        let _ = writeln!(out, "            unknown_tagged_fields: Vec::new(),");
    }
    let _ = writeln!(out, "        }}\n    }}\n}}\n");

    let version_check = if ctx.top_level {
        format!(
            "if !({}..={}).contains(&version) {{ return Err(crate::codec::decode::unsupported_version(i, version, {sname:?})); }}\n",
            range.min, range.max
        )
    } else {
        String::new()
    };

    // ---- Decode
    let _ = writeln!(
        out,
        "impl crate::codec::Decode for {name} {{\n    #[allow(unused_variables, unused_mut)]\n    fn decode<'a>(frame: &::bytes::Bytes, i: &'a [u8], version: i16) -> crate::codec::PResult<'a, Self> {{"
    );
    out.push_str(&version_check);
    let _ = writeln!(
        out,
        "        let flex = {flex_cond};\n        let mut this = Self::default();\n        let mut i = i;"
    );
    for f in &regular {
        let id = field_ident(&f.name);
        let fflex = field_flex(f, range);
        let read = read_field(f, &fflex, range);
        let body = format!(
            "let (r, v) = {read}.map_err(|e| crate::codec::decode::ctx(e, {sname:?}, {:?}))?; this.{id} = v; i = r;",
            f.name
        );
        match cond(f.versions, range) {
            None => {
                let _ = writeln!(out, "        {{ {body} }}");
            }
            Some(c) if c == "false" => {}
            Some(c) => {
                let _ = writeln!(out, "        if {c} {{ {body} }}");
            }
        }
    }
    if has_tagged_section {
        let _ = writeln!(
            out,
            "        if flex {{\n            let (r, n) = crate::codec::decode::read_uvarint(i).map_err(|e| crate::codec::decode::ctx(e, {sname:?}, \"tagged fields\"))?;\n            i = r;\n            for _ in 0..n {{\n                let (r, (tag, data)) = crate::codec::decode::read_tagged_field(i).map_err(|e| crate::codec::decode::ctx(e, {sname:?}, \"tagged fields\"))?;\n                i = r;"
        );
        let push = "this.unknown_tagged_fields.push(crate::RawTaggedField { tag, data: crate::codec::decode::view(frame, data) })";
        if tagged.is_empty() {
            let _ = writeln!(out, "                {push};\n            }}\n        }}");
        } else {
            out.push_str("                match tag {\n");
        }
        for f in &tagged {
            let id = field_ident(&f.name);
            let guard = match cond(f.tagged, range) {
                None => String::new(),
                Some(c) => format!(" if {c}"),
            };
            let _ = writeln!(
                out,
                "                    {}{guard} => {{ let i = data; let (_, v) = {}.map_err(|e| crate::codec::decode::ctx(e, {sname:?}, {:?}))?; this.{id} = v; }}",
                f.tag.unwrap_or(0),
                read_field(f, "true", range),
                f.name
            );
        }
        if !tagged.is_empty() {
            let _ = writeln!(
                out,
                "                    _ => {push},\n                }}\n            }}\n        }}"
            );
        }
    }
    let _ = writeln!(out, "        Ok((i, this))\n    }}\n}}\n");

    // ---- Encode
    let mut size = String::new();
    let mut write = String::new();
    for f in &regular {
        let id = field_ident(&f.name);
        let access = format!("self.{id}");
        let fflex = field_flex(f, range);
        let code = field_code(f, &access, &fflex);
        let check = code
            .check
            .replace("\"\", \"\"", &format!("{sname:?}, {:?}", f.name));
        let null_check = match (is_nullable(f), cond(f.nullable, range)) {
            (true, Some(c)) if c != "false" => format!(
                "if !({c}) && {access}.is_none() {{ return Err(crate::EncodeError::NullNotAllowed {{ message: {sname:?}, field: {:?}, version }}); }}",
                f.name
            ),
            (true, Some(_)) => format!(
                "if {access}.is_none() {{ return Err(crate::EncodeError::NullNotAllowed {{ message: {sname:?}, field: {:?}, version }}); }}",
                f.name
            ),
            _ => String::new(),
        };
        let absent = if f.ignorable {
            String::new()
        } else {
            format!(
                " else if {} {{ return Err(crate::EncodeError::FieldNotInVersion {{ message: {sname:?}, field: {:?}, version }}); }}",
                non_default(f, &access)?,
                f.name
            )
        };
        match cond(f.versions, range) {
            None => {
                let _ = writeln!(
                    size,
                    "        {{ {null_check} {check} n += {}; }}",
                    code.size
                );
                let _ = writeln!(write, "        {{ {} }}", code.write);
            }
            Some(c) => {
                let c = if c == "false" { "false".to_string() } else { c };
                let _ = writeln!(
                    size,
                    "        if {c} {{ {null_check} {check} n += {}; }}{absent}",
                    code.size
                );
                if c != "false" {
                    let _ = writeln!(write, "        if {c} {{ {} }}", code.write);
                }
            }
        }
    }
    if has_tagged_section {
        let _ = writeln!(
            size,
            "        if flex {{\n            let mut count = self.unknown_tagged_fields.len();"
        );
        let _ = writeln!(
            write,
            "        if flex {{\n            let mut count = self.unknown_tagged_fields.len();"
        );
        for f in &tagged {
            let id = field_ident(&f.name);
            let access = format!("self.{id}");
            let nd = non_default(f, &access)?;
            let c = cond_expr(f.tagged, range);
            let _ = writeln!(write, "            if {c} && {nd} {{ count += 1; }}");
        }
        let _ = writeln!(
            write,
            "            crate::codec::encode::put_uvarint(buf, count as u32);\n            let mut u = 0usize;"
        );
        for f in &tagged {
            let id = field_ident(&f.name);
            let access = format!("self.{id}");
            let nd = non_default(f, &access)?;
            let c = cond_expr(f.tagged, range);
            let tag = f.tag.unwrap_or(0);
            let code = field_code(f, &access, "true");
            let check = code
                .check
                .replace("\"\", \"\"", &format!("{sname:?}, {:?}", f.name));
            let absent = if f.ignorable {
                String::new()
            } else {
                format!(
                    " else if {nd} {{ return Err(crate::EncodeError::FieldNotInVersion {{ message: {sname:?}, field: {:?}, version }}); }}",
                    f.name
                )
            };
            let _ = writeln!(
                size,
                "            if {c} {{ if {nd} {{ {check} let s = {}; count += 1; n += crate::codec::encode::uvarint_size({tag}) + crate::codec::encode::uvarint_size(s as u32) + s; }} }}{absent}",
                code.size
            );
            let _ = writeln!(
                write,
                "            u = crate::codec::tagged::put_unknown_below(buf, &self.unknown_tagged_fields, u, {tag});\n            if {c} && {nd} {{ let s = {}; crate::codec::encode::put_uvarint(buf, {tag}); crate::codec::encode::put_uvarint(buf, s as u32); {} }}",
                code.size, code.write
            );
        }
        let _ = writeln!(
            size,
            "            n += crate::codec::encode::uvarint_size(count as u32);\n            for t in &self.unknown_tagged_fields {{ n += t.wire_size(); }}\n        }}"
        );
        let _ = writeln!(
            write,
            "            crate::codec::tagged::put_unknown_below(buf, &self.unknown_tagged_fields, u, u64::MAX);\n            let _ = count;\n        }}"
        );
    }
    let enc_version_check = if ctx.top_level {
        format!(
            "        if !({}..={}).contains(&version) {{ return Err(crate::EncodeError::UnsupportedVersion {{ message: {sname:?}, version }}); }}\n",
            range.min, range.max
        )
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "impl crate::codec::Encode for {name} {{\n    #[allow(unused_variables, unused_mut, clippy::identity_op)]\n    fn encoded_size(&self, version: i16) -> Result<usize, crate::EncodeError> {{\n{enc_version_check}        let flex = {flex_cond};\n        let mut n = 0usize;\n{size}        Ok(n)\n    }}\n\n    #[allow(unused_variables, unused_mut, unused_assignments)]\n    fn encode(&self, buf: &mut ::bytes::BytesMut, version: i16) -> Result<(), crate::EncodeError> {{\n{enc_version_check}        let flex = {flex_cond};\n{write}        Ok(())\n    }}\n}}\n"
    );

    // ---- arbitrary
    let _ = writeln!(
        out,
        "#[cfg(any(test, feature = \"arbitrary\"))]\nimpl {name} {{\n    /// A random value that `version` can carry (fields the version lacks keep defaults).\n    #[allow(unused_variables, unused_mut)]\n    pub fn arbitrary(g: &mut crate::codec::arbitrary::Gen, version: i16) -> Self {{\n        let flex = {flex_cond};\n        let mut this = Self::default();"
    );
    for f in &s.fields {
        let id = field_ident(&f.name);
        let present = if f.tag.is_some() {
            // A tagged field only exists in flexible versions.
            format!("flex && ({})", cond_expr(f.tagged, range))
        } else {
            cond_expr(f.versions, range)
        };
        if present == "false" {
            continue;
        }
        let value = if is_nullable(f) {
            let nc = cond_expr(f.nullable, range);
            format!(
                "if ({nc}) && g.one_in(5) {{ None }} else {{ Some({}) }}",
                arbitrary_elem(&f.ty)
            )
        } else {
            arbitrary_elem(&f.ty)
        };
        let _ = writeln!(out, "        if {present} {{ this.{id} = {value}; }}");
    }
    if has_tagged_section {
        let _ = writeln!(
            out,
            "        if flex {{ this.unknown_tagged_fields = g.unknown_tagged(); }}"
        );
    }
    let _ = writeln!(out, "        this\n    }}\n}}\n");
    let _ = ctx.message_name;
    Ok(())
}
