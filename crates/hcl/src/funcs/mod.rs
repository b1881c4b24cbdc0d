//! Terraform's built-in functions.
//!
//! Each function is declared once in a table with its parameters; one driver checks arity,
//! removes sensitive marks (and puts them back on the result), returns an unknown result for
//! unknown arguments, rejects nulls, converts arguments to the parameter types and names the
//! argument and its position in every error.

use std::ops::Range;

use crate::convert::convert;
use crate::eval::{EvalContext, EvalError};
use crate::types::Type;
use crate::value::Value;

mod collection;
mod conversion;
mod datetime;
mod encoding;
mod filesystem;
mod hash;
mod network;
mod numeric;
mod string;

/// A parameter type, constructible in constants.
#[derive(Debug, Clone, Copy)]
pub(crate) enum P {
    Any,
    String,
    Number,
    List(&'static P),
    Set(&'static P),
    Map(&'static P),
}

impl P {
    fn to_type(self) -> Type {
        match self {
            P::Any => Type::Dynamic,
            P::String => Type::String,
            P::Number => Type::Number,
            P::List(e) => Type::list(e.to_type()),
            P::Set(e) => Type::set(e.to_type()),
            P::Map(e) => Type::map(e.to_type()),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Param {
    pub name: &'static str,
    pub ty: P,
}

const fn p(name: &'static str, ty: P) -> Param {
    Param { name, ty }
}

/// The function handles unknown arguments itself.
const ALLOW_UNKNOWN: u8 = 1;
/// The function accepts null arguments.
const ALLOW_NULL: u8 = 2;
/// Only a top-level unknown argument makes the result unknown (the function moves elements
/// around without looking inside them).
const SHALLOW: u8 = 4;
/// The function sees marks (sensitive/nonsensitive/issensitive).
const KEEP_MARKS: u8 = 8;

/// An error raised by a function implementation; `arg` is the 0-based argument it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FuncError {
    pub arg: Option<usize>,
    pub message: String,
}

impl FuncError {
    pub(crate) fn arg(arg: usize, message: impl Into<String>) -> Self {
        FuncError {
            arg: Some(arg),
            message: message.into(),
        }
    }

    pub(crate) fn call(message: impl Into<String>) -> Self {
        FuncError {
            arg: None,
            message: message.into(),
        }
    }
}

pub(crate) type FResult = Result<Value, FuncError>;
type Imp = fn(&EvalContext, Vec<Value>) -> FResult;

pub(crate) struct FuncDef {
    pub name: &'static str,
    pub params: &'static [Param],
    pub variadic: Option<Param>,
    pub ret: fn() -> Type,
    pub flags: u8,
    pub imp: Imp,
}

fn t_string() -> Type {
    Type::String
}
fn t_number() -> Type {
    Type::Number
}
fn t_bool() -> Type {
    Type::Bool
}
fn t_any() -> Type {
    Type::Dynamic
}
fn t_list_string() -> Type {
    Type::list(Type::String)
}

macro_rules! f {
    ($name:literal, [$($param:expr),*], $var:expr, $ret:expr, $flags:expr, $imp:expr) => {
        FuncDef {
            name: $name,
            params: &[$($param),*],
            variadic: $var,
            ret: $ret,
            flags: $flags,
            imp: $imp,
        }
    };
}

const S: P = P::String;
const N: P = P::Number;
const A: P = P::Any;
const LS: P = P::List(&P::String);
const LA: P = P::List(&P::Any);
const SA: P = P::Set(&P::Any);

/// Every built-in function, sorted by name.
static TABLE: &[FuncDef] = &[
    f!("abs", [p("num", N)], None, t_number, 0, numeric::abs),
    f!(
        "abspath",
        [p("path", S)],
        None,
        t_string,
        0,
        filesystem::abspath
    ),
    f!(
        "alltrue",
        [p("list", LA)],
        None,
        t_bool,
        0,
        collection::alltrue
    ),
    f!(
        "anytrue",
        [p("list", LA)],
        None,
        t_bool,
        0,
        collection::anytrue
    ),
    f!(
        "base64decode",
        [p("str", S)],
        None,
        t_string,
        0,
        encoding::base64decode
    ),
    f!(
        "base64encode",
        [p("str", S)],
        None,
        t_string,
        0,
        encoding::base64encode
    ),
    f!(
        "base64gzip",
        [p("str", S)],
        None,
        t_string,
        0,
        encoding::base64gzip
    ),
    f!(
        "base64sha256",
        [p("str", S)],
        None,
        t_string,
        0,
        hash::base64sha256
    ),
    f!(
        "base64sha512",
        [p("str", S)],
        None,
        t_string,
        0,
        hash::base64sha512
    ),
    f!(
        "basename",
        [p("path", S)],
        None,
        t_string,
        0,
        filesystem::basename
    ),
    f!("ceil", [p("num", N)], None, t_number, 0, numeric::ceil),
    f!("chomp", [p("str", S)], None, t_string, 0, string::chomp),
    f!(
        "chunklist",
        [p("list", LA), p("size", N)],
        None,
        t_any,
        SHALLOW,
        collection::chunklist
    ),
    f!(
        "cidrhost",
        [p("prefix", S), p("hostnum", N)],
        None,
        t_string,
        0,
        network::cidrhost
    ),
    f!(
        "cidrnetmask",
        [p("prefix", S)],
        None,
        t_string,
        0,
        network::cidrnetmask
    ),
    f!(
        "cidrsubnet",
        [p("prefix", S), p("newbits", N), p("netnum", N)],
        None,
        t_string,
        0,
        network::cidrsubnet
    ),
    f!(
        "cidrsubnets",
        [p("prefix", S)],
        Some(p("newbits", N)),
        t_list_string,
        0,
        network::cidrsubnets
    ),
    f!(
        "coalesce",
        [],
        Some(p("vals", A)),
        t_any,
        ALLOW_NULL | SHALLOW | ALLOW_UNKNOWN,
        collection::coalesce
    ),
    f!(
        "coalescelist",
        [],
        Some(p("vals", A)),
        t_any,
        SHALLOW,
        collection::coalescelist
    ),
    f!(
        "compact",
        [p("list", LA)],
        None,
        t_list_string,
        0,
        collection::compact
    ),
    f!(
        "concat",
        [],
        Some(p("seqs", A)),
        t_any,
        SHALLOW,
        collection::concat
    ),
    f!(
        "contains",
        [p("list", A), p("value", A)],
        None,
        t_bool,
        0,
        collection::contains
    ),
    f!(
        "csvdecode",
        [p("str", S)],
        None,
        t_any,
        0,
        encoding::csvdecode
    ),
    f!(
        "dirname",
        [p("path", S)],
        None,
        t_string,
        0,
        filesystem::dirname
    ),
    f!(
        "distinct",
        [p("list", LA)],
        None,
        t_any,
        0,
        collection::distinct
    ),
    f!(
        "element",
        [p("list", A), p("index", N)],
        None,
        t_any,
        SHALLOW,
        collection::element
    ),
    f!(
        "endswith",
        [p("str", S), p("suffix", S)],
        None,
        t_bool,
        0,
        string::endswith
    ),
    f!("file", [p("path", S)], None, t_string, 0, filesystem::file),
    f!(
        "filebase64",
        [p("path", S)],
        None,
        t_string,
        0,
        filesystem::filebase64
    ),
    f!(
        "filebase64sha256",
        [p("path", S)],
        None,
        t_string,
        0,
        filesystem::filebase64sha256
    ),
    f!(
        "filebase64sha512",
        [p("path", S)],
        None,
        t_string,
        0,
        filesystem::filebase64sha512
    ),
    f!(
        "fileexists",
        [p("path", S)],
        None,
        t_bool,
        0,
        filesystem::fileexists
    ),
    f!(
        "filemd5",
        [p("path", S)],
        None,
        t_string,
        0,
        filesystem::filemd5
    ),
    f!(
        "fileset",
        [p("path", S), p("pattern", S)],
        None,
        t_any,
        0,
        filesystem::fileset
    ),
    f!(
        "filesha1",
        [p("path", S)],
        None,
        t_string,
        0,
        filesystem::filesha1
    ),
    f!(
        "filesha256",
        [p("path", S)],
        None,
        t_string,
        0,
        filesystem::filesha256
    ),
    f!(
        "filesha512",
        [p("path", S)],
        None,
        t_string,
        0,
        filesystem::filesha512
    ),
    f!(
        "flatten",
        [p("list", A)],
        None,
        t_any,
        SHALLOW,
        collection::flatten
    ),
    f!("floor", [p("num", N)], None, t_number, 0, numeric::floor),
    f!(
        "format",
        [p("format", S)],
        Some(p("args", A)),
        t_string,
        0,
        string::format
    ),
    f!(
        "formatdate",
        [p("spec", S), p("timestamp", S)],
        None,
        t_string,
        0,
        datetime::formatdate
    ),
    f!(
        "formatlist",
        [p("format", S)],
        Some(p("args", A)),
        t_list_string,
        0,
        string::formatlist
    ),
    f!(
        "indent",
        [p("spaces", N), p("str", S)],
        None,
        t_string,
        0,
        string::indent
    ),
    f!(
        "index",
        [p("list", A), p("value", A)],
        None,
        t_number,
        0,
        collection::index
    ),
    f!(
        "issensitive",
        [p("value", A)],
        None,
        t_bool,
        KEEP_MARKS | ALLOW_UNKNOWN | ALLOW_NULL,
        conversion::issensitive
    ),
    f!(
        "join",
        [p("separator", S)],
        Some(p("lists", LS)),
        t_string,
        0,
        string::join
    ),
    f!(
        "jsondecode",
        [p("str", S)],
        None,
        t_any,
        0,
        encoding::jsondecode
    ),
    f!(
        "jsonencode",
        [p("value", A)],
        None,
        t_string,
        ALLOW_NULL,
        encoding::jsonencode
    ),
    f!("keys", [p("map", A)], None, t_any, 0, collection::keys),
    f!(
        "length",
        [p("value", A)],
        None,
        t_number,
        SHALLOW,
        collection::length
    ),
    f!(
        "list",
        [],
        Some(p("vals", A)),
        t_any,
        0,
        collection::removed_list
    ),
    f!(
        "log",
        [p("num", N), p("base", N)],
        None,
        t_number,
        0,
        numeric::log
    ),
    f!(
        "lookup",
        [p("map", A), p("key", S)],
        Some(p("default", A)),
        t_any,
        SHALLOW,
        collection::lookup
    ),
    f!("lower", [p("str", S)], None, t_string, 0, string::lower),
    f!(
        "map",
        [],
        Some(p("vals", A)),
        t_any,
        0,
        collection::removed_map
    ),
    f!(
        "matchkeys",
        [p("values", LA), p("keys", LA), p("searchset", LA)],
        None,
        t_any,
        0,
        collection::matchkeys
    ),
    f!("max", [], Some(p("numbers", N)), t_number, 0, numeric::max),
    f!("md5", [p("str", S)], None, t_string, 0, hash::md5),
    f!(
        "merge",
        [],
        Some(p("maps", A)),
        t_any,
        SHALLOW | ALLOW_NULL,
        collection::merge
    ),
    f!("min", [], Some(p("numbers", N)), t_number, 0, numeric::min),
    f!(
        "nonsensitive",
        [p("value", A)],
        None,
        t_any,
        KEEP_MARKS | ALLOW_UNKNOWN | ALLOW_NULL,
        conversion::nonsensitive
    ),
    f!("one", [p("list", A)], None, t_any, SHALLOW, collection::one),
    f!(
        "parseint",
        [p("number", S), p("base", N)],
        None,
        t_number,
        0,
        numeric::parseint
    ),
    f!(
        "pathexpand",
        [p("path", S)],
        None,
        t_string,
        0,
        filesystem::pathexpand
    ),
    f!(
        "plantimestamp",
        [],
        None,
        t_string,
        0,
        datetime::plantimestamp
    ),
    f!(
        "pow",
        [p("num", N), p("power", N)],
        None,
        t_number,
        0,
        numeric::pow
    ),
    f!(
        "range",
        [],
        Some(p("params", N)),
        t_any,
        0,
        collection::range
    ),
    f!(
        "regex",
        [p("pattern", S), p("string", S)],
        None,
        t_any,
        0,
        string::regex
    ),
    f!(
        "regexall",
        [p("pattern", S), p("string", S)],
        None,
        t_any,
        0,
        string::regexall
    ),
    f!(
        "replace",
        [p("str", S), p("substr", S), p("replace", S)],
        None,
        t_string,
        0,
        string::replace
    ),
    f!(
        "reverse",
        [p("list", A)],
        None,
        t_any,
        SHALLOW,
        collection::reverse
    ),
    f!(
        "sensitive",
        [p("value", A)],
        None,
        t_any,
        KEEP_MARKS | ALLOW_UNKNOWN | ALLOW_NULL,
        conversion::sensitive
    ),
    f!(
        "setintersection",
        [p("first_set", SA)],
        Some(p("other_sets", SA)),
        t_any,
        0,
        collection::setintersection
    ),
    f!(
        "setproduct",
        [],
        Some(p("sets", A)),
        t_any,
        0,
        collection::setproduct
    ),
    f!(
        "setsubtract",
        [p("a", SA), p("b", SA)],
        None,
        t_any,
        0,
        collection::setsubtract
    ),
    f!(
        "setunion",
        [p("first_set", SA)],
        Some(p("other_sets", SA)),
        t_any,
        0,
        collection::setunion
    ),
    f!("sha1", [p("str", S)], None, t_string, 0, hash::sha1),
    f!("sha256", [p("str", S)], None, t_string, 0, hash::sha256),
    f!("sha512", [p("str", S)], None, t_string, 0, hash::sha512),
    f!("signum", [p("num", N)], None, t_number, 0, numeric::signum),
    f!(
        "slice",
        [p("list", A), p("start_index", N), p("end_index", N)],
        None,
        t_any,
        SHALLOW,
        collection::slice
    ),
    f!(
        "sort",
        [p("list", LS)],
        None,
        t_list_string,
        0,
        collection::sort
    ),
    f!(
        "split",
        [p("separator", S), p("str", S)],
        None,
        t_list_string,
        0,
        string::split
    ),
    f!(
        "startswith",
        [p("str", S), p("prefix", S)],
        None,
        t_bool,
        0,
        string::startswith
    ),
    f!(
        "strcontains",
        [p("str", S), p("substr", S)],
        None,
        t_bool,
        0,
        string::strcontains
    ),
    f!("strrev", [p("str", S)], None, t_string, 0, string::strrev),
    f!(
        "substr",
        [p("str", S), p("offset", N), p("length", N)],
        None,
        t_string,
        0,
        string::substr
    ),
    f!("sum", [p("list", A)], None, t_number, 0, numeric::sum),
    f!(
        "templatefile",
        [p("path", S), p("vars", A)],
        None,
        t_string,
        0,
        filesystem::templatefile
    ),
    f!(
        "textdecodebase64",
        [p("source", S), p("encoding", S)],
        None,
        t_string,
        0,
        encoding::textdecodebase64
    ),
    f!(
        "textencodebase64",
        [p("string", S), p("encoding", S)],
        None,
        t_string,
        0,
        encoding::textencodebase64
    ),
    f!(
        "timeadd",
        [p("timestamp", S), p("duration", S)],
        None,
        t_string,
        0,
        datetime::timeadd
    ),
    f!(
        "timecmp",
        [p("timestamp_a", S), p("timestamp_b", S)],
        None,
        t_number,
        0,
        datetime::timecmp
    ),
    f!("timestamp", [], None, t_string, 0, datetime::timestamp),
    f!("title", [p("str", S)], None, t_string, 0, string::title),
    f!(
        "tobool",
        [p("v", A)],
        None,
        t_bool,
        ALLOW_NULL,
        conversion::tobool
    ),
    f!(
        "tolist",
        [p("v", A)],
        None,
        t_any,
        ALLOW_NULL | SHALLOW,
        conversion::tolist
    ),
    f!(
        "tomap",
        [p("v", A)],
        None,
        t_any,
        ALLOW_NULL | SHALLOW,
        conversion::tomap
    ),
    f!(
        "tonumber",
        [p("v", A)],
        None,
        t_number,
        ALLOW_NULL,
        conversion::tonumber
    ),
    f!(
        "toset",
        [p("v", A)],
        None,
        t_any,
        ALLOW_NULL,
        conversion::toset
    ),
    f!(
        "tostring",
        [p("v", A)],
        None,
        t_string,
        ALLOW_NULL,
        conversion::tostring
    ),
    f!(
        "transpose",
        [p("map", P::Map(&LS))],
        None,
        t_any,
        0,
        collection::transpose
    ),
    f!(
        "trim",
        [p("str", S), p("cutset", S)],
        None,
        t_string,
        0,
        string::trim
    ),
    f!(
        "trimprefix",
        [p("str", S), p("prefix", S)],
        None,
        t_string,
        0,
        string::trimprefix
    ),
    f!(
        "trimspace",
        [p("str", S)],
        None,
        t_string,
        0,
        string::trimspace
    ),
    f!(
        "trimsuffix",
        [p("str", S), p("suffix", S)],
        None,
        t_string,
        0,
        string::trimsuffix
    ),
    f!(
        "type",
        [p("value", A)],
        None,
        t_string,
        ALLOW_NULL | ALLOW_UNKNOWN,
        conversion::type_of
    ),
    f!("upper", [p("str", S)], None, t_string, 0, string::upper),
    f!(
        "urlencode",
        [p("str", S)],
        None,
        t_string,
        0,
        encoding::urlencode
    ),
    f!("uuid", [], None, t_string, 0, hash::uuid),
    f!(
        "uuidv5",
        [p("namespace", S), p("name", S)],
        None,
        t_string,
        0,
        hash::uuidv5
    ),
    f!(
        "values",
        [p("mapping", A)],
        None,
        t_any,
        SHALLOW,
        collection::values
    ),
    f!(
        "yamldecode",
        [p("src", S)],
        None,
        t_any,
        0,
        encoding::yamldecode
    ),
    f!(
        "yamlencode",
        [p("value", A)],
        None,
        t_string,
        ALLOW_NULL,
        encoding::yamlencode
    ),
    f!(
        "zipmap",
        [p("keys", LS), p("values", A)],
        None,
        t_any,
        SHALLOW,
        collection::zipmap
    ),
];

/// Names of every built-in function, including `try` and `can` (which the evaluator runs
/// lazily), sorted.
pub fn function_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = TABLE.iter().map(|f| f.name).collect();
    names.extend(["can", "try"]);
    names.sort_unstable();
    names
}

/// True for the names of built-in functions, `try` and `can` included.
pub fn is_builtin(name: &str) -> bool {
    name == "try" || name == "can" || lookup(name).is_some()
}

fn lookup(name: &str) -> Option<&'static FuncDef> {
    TABLE
        .binary_search_by(|f| f.name.cmp(name))
        .ok()
        .and_then(|i| TABLE.get(i))
}

fn param_at(def: &FuncDef, i: usize) -> Option<Param> {
    def.params.get(i).copied().or(def.variadic)
}

fn describe_arg(def: &FuncDef, i: usize) -> String {
    match param_at(def, i) {
        Some(p) => format!("argument {} (`{}`)", i + 1, p.name),
        None => format!("argument {}", i + 1),
    }
}

fn signature(def: &FuncDef) -> String {
    let mut names: Vec<String> = def.params.iter().map(|p| p.name.to_string()).collect();
    if let Some(v) = def.variadic {
        names.push(format!("{}...", v.name));
    }
    format!("{}({})", def.name, names.join(", "))
}

/// Calls function `name` with evaluated arguments.
pub(crate) fn call(
    name: &str,
    args: Vec<Value>,
    arg_spans: &[Option<Range<usize>>],
    span: Option<Range<usize>>,
    ctx: &EvalContext,
) -> Result<Value, EvalError> {
    let Some(def) = lookup(name) else {
        let close = TABLE
            .iter()
            .map(|f| f.name)
            .find(|n| strsim_close(n, name))
            .map(|n| format!("did you mean `{n}`?"));
        let err = EvalError::new(span, format!("there is no function named `{name}`"));
        return Err(match close {
            Some(h) => err.with_help(h),
            None => err,
        });
    };
    let arg_span = |i: usize| arg_spans.get(i).cloned().flatten().or_else(|| span.clone());
    // Set once the arguments are unmarked: errors must not then show their values.
    let hide = std::cell::Cell::new(false);
    let fail = |e: FuncError| {
        let where_ = match e.arg {
            Some(i) => format!("`{name}`: {}: ", describe_arg(def, i)),
            None => format!("`{name}`: "),
        };
        let message = if hide.get() {
            "invalid value (details are not shown because an argument is sensitive)".to_string()
        } else {
            e.message
        };
        EvalError::new(
            e.arg.map_or_else(|| span.clone(), &arg_span),
            format!("{where_}{message}"),
        )
    };
    let min = def.params.len();
    if args.len() < min || (def.variadic.is_none() && args.len() > min) {
        let expected = if def.variadic.is_some() {
            format!("at least {min}")
        } else {
            min.to_string()
        };
        return Err(EvalError::new(
            span.clone(),
            format!(
                "`{name}` takes {expected} argument{}, got {}",
                if min == 1 && def.variadic.is_none() {
                    ""
                } else {
                    "s"
                },
                args.len()
            ),
        )
        .with_help(format!("the signature is `{}`", signature(def))));
    }

    // Marks: taken off the arguments, put back on the result.
    let mut sensitive = false;
    let args: Vec<Value> = if def.flags & KEEP_MARKS != 0 {
        args
    } else {
        args.into_iter()
            .map(|a| {
                let (a, s) = a.unmark_deep();
                sensitive |= s;
                a
            })
            .collect()
    };

    hide.set(sensitive);

    if def.flags & ALLOW_UNKNOWN == 0 {
        let shallow = def.flags & SHALLOW != 0;
        let unknown = args.iter().any(|a| {
            if shallow {
                !a.is_known()
            } else {
                !a.is_wholly_known()
            }
        });
        if unknown {
            return Ok(Value::Unknown((def.ret)()).with_sensitive(sensitive));
        }
    }

    let mut converted = Vec::with_capacity(args.len());
    for (i, a) in args.into_iter().enumerate() {
        let Some(param) = param_at(def, i) else {
            break;
        };
        if a.is_null() {
            if def.flags & ALLOW_NULL == 0 {
                return Err(fail(FuncError::arg(i, "must not be null")));
            }
            converted.push(a);
            continue;
        }
        let v = match param.ty {
            P::Any => a,
            ty => convert(&a, &ty.to_type()).map_err(|e| fail(FuncError::arg(i, e.to_string())))?,
        };
        converted.push(v);
    }
    let result = (def.imp)(ctx, converted).map_err(fail)?;
    Ok(result.with_sensitive(sensitive))
}

fn strsim_close(a: &str, b: &str) -> bool {
    if a.len().abs_diff(b.len()) > 2 {
        return false;
    }
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // Levenshtein distance ≤ 2 over short names.
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev.get(j).copied().unwrap_or(0) + usize::from(ca != cb);
            let del = prev.get(j + 1).copied().unwrap_or(0) + 1;
            let ins = cur.get(j).copied().unwrap_or(0) + 1;
            cur.push(sub.min(del).min(ins));
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(usize::MAX) <= 2
}

// Helpers shared by the function modules.

/// The string in argument `i` (already converted to string by the driver).
pub(crate) fn str_arg(args: &[Value], i: usize) -> Result<&str, FuncError> {
    args.get(i)
        .and_then(Value::as_str)
        .ok_or_else(|| FuncError::arg(i, "a string is required"))
}

pub(crate) fn num_arg(args: &[Value], i: usize) -> Result<f64, FuncError> {
    args.get(i)
        .and_then(Value::as_number)
        .ok_or_else(|| FuncError::arg(i, "a number is required"))
}

/// A whole number argument within `i64`.
pub(crate) fn int_arg(args: &[Value], i: usize) -> Result<i64, FuncError> {
    let n = num_arg(args, i)?;
    if n.fract() != 0.0 || !(-9.0e15..=9.0e15).contains(&n) {
        return Err(FuncError::arg(
            i,
            format!(
                "a whole number is required, got {}",
                crate::value::format_number(n)
            ),
        ));
    }
    #[allow(clippy::cast_possible_truncation)]
    Ok(n as i64)
}

pub(crate) fn elements_arg(args: &[Value], i: usize) -> Result<&[Value], FuncError> {
    args.get(i)
        .and_then(Value::as_elements)
        .ok_or_else(|| FuncError::arg(i, "a list, set or tuple is required"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_function_returns_unknown_for_unknown_arguments() {
        let ctx = EvalContext::new();
        for def in TABLE {
            if def.params.is_empty() && def.variadic.is_none() {
                continue; // timestamp(), uuid(), plantimestamp(): no arguments
            }
            if def.flags & KEEP_MARKS != 0 || def.name == "type" {
                continue; // inspect their argument's marks or type, not its value
            }
            if def.name == "list" || def.name == "map" {
                continue; // removed functions always fail
            }
            let n = def.params.len().max(1);
            let args = vec![Value::unknown(); n];
            let spans = vec![None; n];
            let r = call(def.name, args, &spans, None, &ctx);
            assert!(
                matches!(&r, Ok(v) if !v.is_known()),
                "{}(unknown…) gave {r:?}",
                def.name
            );
        }
    }

    #[test]
    fn every_function_marks_results_of_sensitive_arguments() {
        let ctx = EvalContext::new();
        // One valid call per function; the first argument is then marked sensitive.
        let calls: &[(&str, &[Value])] = &[
            ("abs", &[Value::Number(-1.0)]),
            ("base64encode", &[Value::String(String::new())]),
            ("ceil", &[Value::Number(1.5)]),
            ("chomp", &[Value::String(String::new())]),
            ("concat", &[Value::Tuple(vec![])]),
            ("format", &[Value::String(String::new())]),
            (
                "join",
                &[Value::String(String::new()), Value::Tuple(vec![])],
            ),
            ("jsonencode", &[Value::Number(1.0)]),
            ("keys", &[Value::Object(Default::default())]),
            ("length", &[Value::Tuple(vec![])]),
            ("lower", &[Value::String(String::new())]),
            ("md5", &[Value::String(String::new())]),
            ("merge", &[Value::Object(Default::default())]),
            ("sha256", &[Value::String(String::new())]),
            (
                "split",
                &[Value::String(",".into()), Value::String(String::new())],
            ),
            ("tostring", &[Value::Number(1.0)]),
            ("upper", &[Value::String(String::new())]),
            ("yamlencode", &[Value::Number(1.0)]),
        ];
        for (name, args) in calls {
            let mut args = args.to_vec();
            if let Some(first) = args.first_mut() {
                *first = first.clone().mark_sensitive();
            }
            let spans = vec![None; args.len()];
            let r = call(name, args, &spans, None, &ctx);
            assert!(
                matches!(&r, Ok(v) if v.is_sensitive()),
                "{name}(sensitive…) gave {r:?}"
            );
        }
    }

    #[test]
    fn table_is_sorted_for_binary_search() {
        for w in TABLE.windows(2) {
            if let [a, b] = w {
                assert!(a.name < b.name, "{} must come before {}", a.name, b.name);
            }
        }
    }
}
