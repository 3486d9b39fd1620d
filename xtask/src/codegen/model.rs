//! From a parsed spec to the list of Rust structs to emit.
//!
//! Each message becomes a top-level struct; each inline struct definition (a field with its
//! own `fields`) and each common struct becomes a nested struct in the same module. A struct's
//! version range is the part of the message's valid versions in which it can appear, which
//! lets the emitter drop version checks that always hold.

use super::spec::{Field, Spec, Ty, Versions};

#[derive(Debug, Clone)]
pub struct StructModel {
    pub name: String,
    pub range: Versions,
    pub fields: Vec<Field>,
    pub about: String,
}

fn struct_name(ty: &Ty) -> Option<&str> {
    match ty {
        Ty::Struct(n) => Some(n),
        Ty::Array(inner) => struct_name(inner),
        _ => None,
    }
}

fn hull(a: Versions, b: Versions) -> Versions {
    Versions {
        min: a.min.min(b.min),
        max: a.max.max(b.max),
    }
}

fn same_shape(a: &[Field], b: &[Field]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.name == y.name
                && x.ty == y.ty
                && x.versions == y.versions
                && x.nullable == y.nullable
                && x.tagged == y.tagged
                && x.tag == y.tag
        })
}

/// All structs of a spec, the message itself first.
pub fn structs(spec: &Spec) -> Result<Vec<StructModel>, String> {
    let mut out = vec![StructModel {
        name: spec.name.clone(),
        range: spec.valid,
        fields: spec.fields.clone(),
        about: String::new(),
    }];
    let mut queue: Vec<(Vec<Field>, Versions)> = vec![(spec.fields.clone(), spec.valid)];
    let mut common_used: Vec<String> = Vec::new();
    while let Some((fields, range)) = queue.pop() {
        for f in &fields {
            let Some(name) = struct_name(&f.ty) else {
                continue;
            };
            let Some(frange) = f.versions.and_then(|v| v.intersect(range)).or(
                // A struct used only outside the valid versions still gets a type.
                f.versions,
            ) else {
                continue;
            };
            if let Some(inner) = &f.fields {
                if let Some(existing) = out.iter_mut().find(|s| s.name == name) {
                    if !same_shape(&existing.fields, inner) {
                        return Err(format!(
                            "{}: struct {name} defined twice with different fields",
                            spec.file
                        ));
                    }
                    existing.range = hull(existing.range, frange);
                    continue;
                }
                out.push(StructModel {
                    name: name.to_string(),
                    range: frange,
                    fields: inner.clone(),
                    about: f.about.clone(),
                });
                queue.push((inner.clone(), frange));
            } else if !common_used.iter().any(|c| c == name) {
                let common = spec
                    .common
                    .iter()
                    .find(|c| c.name == name)
                    .ok_or_else(|| format!("{}: unknown struct type {name}", spec.file))?;
                common_used.push(name.to_string());
                // Common structs can be used from several fields: give them the message's
                // whole range so every use is covered.
                let crange = common
                    .versions
                    .unwrap_or(spec.valid)
                    .intersect(spec.valid)
                    .unwrap_or(spec.valid);
                out.push(StructModel {
                    name: name.to_string(),
                    range: crange,
                    fields: common.fields.clone(),
                    about: String::new(),
                });
                queue.push((common.fields.clone(), crange));
            }
        }
    }
    Ok(out)
}

/// `ThrottleTimeMs` -> `throttle_time_ms`.
pub fn snake(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev = if i > 0 { Some(chars[i - 1]) } else { None };
            let next = chars.get(i + 1).copied();
            let boundary = match prev {
                None => false,
                Some(p) if p.is_ascii_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_ascii_uppercase() => next.is_some_and(|n| n.is_ascii_lowercase()),
                _ => false,
            };
            if boundary {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A field name as a Rust identifier (raw where it is a keyword).
pub fn field_ident(name: &str) -> String {
    let s = snake(name);
    match s.as_str() {
        "type" | "match" | "ref" | "move" | "mod" | "fn" | "use" | "self" | "super" | "crate"
        | "where" | "loop" | "in" | "impl" | "trait" | "struct" | "enum" | "const" | "static"
        | "async" | "await" | "dyn" | "box" | "yield" | "gen" | "final" | "override" | "priv"
        | "macro" | "abstract" | "become" | "do" | "typeof" | "unsized" | "virtual" | "try" => {
            format!("r#{s}")
        }
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case() {
        assert_eq!(snake("ThrottleTimeMs"), "throttle_time_ms");
        assert_eq!(snake("KRaftVersion"), "k_raft_version");
        assert_eq!(snake("IsrNodes"), "isr_nodes");
        assert_eq!(snake("ProducerID"), "producer_id");
        assert_eq!(snake("FetchRequest"), "fetch_request");
        assert_eq!(field_ident("Type"), "r#type");
    }
}
