//! The in-memory model of one Kafka JSON message spec and its parser.
//!
//! Kafka's spec files are JSON with `//` line comments. The format is
//! described in apache/kafka `clients/src/main/resources/common/message/README.md`.

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

/// A version range, inclusive on both ends. `lo > hi` is the empty range ("none").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Versions {
    pub lo: i16,
    pub hi: i16,
}

impl Versions {
    pub const NONE: Versions = Versions { lo: 1, hi: 0 };

    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        if s == "none" || s.is_empty() {
            return Ok(Self::NONE);
        }
        if let Some(lo) = s.strip_suffix('+') {
            return Ok(Versions {
                lo: lo.trim().parse()?,
                hi: i16::MAX,
            });
        }
        if let Some((lo, hi)) = s.split_once('-') {
            return Ok(Versions {
                lo: lo.trim().parse()?,
                hi: hi.trim().parse()?,
            });
        }
        let v: i16 = s.parse()?;
        Ok(Versions { lo: v, hi: v })
    }

    pub fn is_empty(self) -> bool {
        self.lo > self.hi
    }

    pub fn contains(self, v: i16) -> bool {
        v >= self.lo && v <= self.hi
    }

    pub fn intersect(self, other: Versions) -> Versions {
        Versions {
            lo: self.lo.max(other.lo),
            hi: self.hi.min(other.hi),
        }
    }

    /// A Rust boolean expression testing `version` against this range, knowing
    /// that `version` is already inside `within`.
    pub fn cond(self, within: Versions) -> String {
        let r = self.intersect(within);
        if r.is_empty() {
            return "false".into();
        }
        let lo = r.lo > within.lo;
        let hi = r.hi < within.hi;
        match (lo, hi) {
            (false, false) => "true".into(),
            (true, false) => format!("version >= {}", r.lo),
            (false, true) => format!("version <= {}", r.hi),
            (true, true) if r.lo == r.hi => format!("version == {}", r.lo),
            (true, true) => format!("({}..={}).contains(&version)", r.lo, r.hi),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    Bool,
    Int8,
    Int16,
    Int32,
    Int64,
    Uint16,
    Uint32,
    Float64,
    String,
    Bytes,
    Records,
    Uuid,
    Struct(String),
    Array(Box<Type>),
}

impl Type {
    pub fn parse(s: &str) -> Result<Type> {
        if let Some(inner) = s.strip_prefix("[]") {
            return Ok(Type::Array(Box::new(Type::parse(inner)?)));
        }
        Ok(match s {
            "bool" => Type::Bool,
            "int8" => Type::Int8,
            "int16" => Type::Int16,
            "int32" => Type::Int32,
            "int64" => Type::Int64,
            "uint16" => Type::Uint16,
            "uint32" => Type::Uint32,
            "float64" => Type::Float64,
            "string" => Type::String,
            "bytes" => Type::Bytes,
            "records" => Type::Records,
            "uuid" => Type::Uuid,
            other if other.starts_with(|c: char| c.is_ascii_uppercase()) => {
                Type::Struct(other.to_string())
            }
            other => bail!("unknown type {other:?}"),
        })
    }

    pub fn is_struct(&self) -> bool {
        matches!(self, Type::Struct(_))
    }
}

#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub ty: Type,
    pub versions: Versions,
    pub nullable: Versions,
    pub tagged: Versions,
    pub tag: Option<u32>,
    pub default: Option<String>,
    /// Field-level override of the message's flexible versions (only
    /// `RequestHeader.ClientId` uses it, with "none").
    pub flexible: Option<Versions>,
    pub about: String,
}

#[derive(Debug, Clone)]
pub struct StructDef {
    pub name: String,
    pub about: String,
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
    pub name: String,
    pub kind: Kind,
    pub api_key: Option<i16>,
    pub valid: Versions,
    pub flexible: Versions,
    /// The top-level struct first, then every nested and common struct.
    pub structs: Vec<StructDef>,
}

/// Removes `//` comments that are outside JSON strings.
pub fn strip_comments(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut chars = src.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if c == '\\' {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if c == '/' && chars.peek() == Some(&'/') {
            for n in chars.by_ref() {
                if n == '\n' {
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

fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub fn parse_spec(src: &str) -> Result<Spec> {
    let json: Value = serde_json::from_str(&strip_comments(src))?;
    let name = get_str(&json, "name")
        .ok_or_else(|| anyhow!("missing name"))?
        .to_string();
    let kind = match get_str(&json, "type") {
        Some("request") => Kind::Request,
        Some("response") => Kind::Response,
        Some("header") => Kind::Header,
        Some("data") => Kind::Data,
        other => bail!("{name}: unknown spec type {other:?}"),
    };
    let api_key = match json.get("apiKey") {
        Some(v) => Some(
            scalar_string(v)
                .ok_or_else(|| anyhow!("bad apiKey"))?
                .parse()?,
        ),
        None => None,
    };
    let valid = Versions::parse(get_str(&json, "validVersions").unwrap_or("none"))?;
    let flexible = Versions::parse(get_str(&json, "flexibleVersions").unwrap_or("none"))?;

    let mut structs = Vec::new();
    let top_fields = json
        .get("fields")
        .and_then(Value::as_array)
        .ok_or_else(|| anyhow!("{name}: missing fields"))?;
    let fields = parse_fields(top_fields, &mut structs).with_context(|| name.clone())?;
    structs.insert(
        0,
        StructDef {
            name: name.clone(),
            about: String::new(),
            fields,
        },
    );
    if let Some(common) = json.get("commonStructs").and_then(Value::as_array) {
        for c in common {
            let cname = get_str(c, "name")
                .ok_or_else(|| anyhow!("common struct without name"))?
                .to_string();
            let cfields = c
                .get("fields")
                .and_then(Value::as_array)
                .ok_or_else(|| anyhow!("{cname}: missing fields"))?;
            let fields = parse_fields(cfields, &mut structs).with_context(|| cname.clone())?;
            structs.push(StructDef {
                name: cname,
                about: String::new(),
                fields,
            });
        }
    }
    // Struct names must be unique within a file; identical redefinitions are merged.
    let mut seen: Vec<StructDef> = Vec::new();
    for s in structs {
        if let Some(prev) = seen.iter().find(|p| p.name == s.name) {
            let same = prev.fields.len() == s.fields.len()
                && prev
                    .fields
                    .iter()
                    .zip(&s.fields)
                    .all(|(a, b)| a.name == b.name && a.ty == b.ty);
            if !same {
                bail!("{name}: struct {} defined twice differently", s.name);
            }
            continue;
        }
        seen.push(s);
    }
    let spec = Spec {
        name,
        kind,
        api_key,
        valid,
        flexible,
        structs: seen,
    };
    for s in &spec.structs {
        for f in &s.fields {
            let mut t = &f.ty;
            while let Type::Array(inner) = t {
                t = inner;
            }
            if let Type::Struct(n) = t
                && spec.find_struct(n).is_none()
            {
                bail!("{}: unknown struct {n}", spec.name);
            }
        }
    }
    Ok(spec)
}

fn parse_fields(arr: &[Value], structs: &mut Vec<StructDef>) -> Result<Vec<Field>> {
    let mut out = Vec::new();
    for f in arr {
        let name = get_str(f, "name")
            .ok_or_else(|| anyhow!("field without name"))?
            .to_string();
        let ty_str = get_str(f, "type").ok_or_else(|| anyhow!("{name}: no type"))?;
        let ty = Type::parse(ty_str).with_context(|| name.clone())?;
        let versions =
            Versions::parse(get_str(f, "versions").ok_or_else(|| anyhow!("{name}: no versions"))?)?;
        let nullable = Versions::parse(get_str(f, "nullableVersions").unwrap_or("none"))?;
        let tagged = Versions::parse(get_str(f, "taggedVersions").unwrap_or("none"))?;
        let tag = match f.get("tag") {
            Some(v) => Some(
                scalar_string(v)
                    .ok_or_else(|| anyhow!("{name}: bad tag"))?
                    .parse()?,
            ),
            None => None,
        };
        if tagged.is_empty() != tag.is_none() {
            bail!("{name}: tag and taggedVersions must come together");
        }
        let default = f.get("default").and_then(scalar_string);
        let flexible = match get_str(f, "flexibleVersions") {
            Some(s) => Some(Versions::parse(s)?),
            None => None,
        };
        let about = get_str(f, "about").unwrap_or("").to_string();
        if let Some(sub) = f.get("fields").and_then(Value::as_array) {
            let mut t = &ty;
            while let Type::Array(inner) = t {
                t = inner;
            }
            let Type::Struct(sname) = t else {
                bail!("{name}: inline fields on a non-struct type");
            };
            let fields = parse_fields(sub, structs)?;
            structs.push(StructDef {
                name: sname.clone(),
                about: about.clone(),
                fields,
            });
        }
        out.push(Field {
            name,
            ty,
            versions,
            nullable,
            tagged,
            tag,
            default,
            flexible,
            about,
        });
    }
    Ok(out)
}

impl Spec {
    pub fn find_struct(&self, name: &str) -> Option<&StructDef> {
        self.structs.iter().find(|s| s.name == name)
    }
}
