//! Hash and UUID functions.

use base64::Engine as _;
use sha2::Digest as _;

use super::{str_arg, FResult, FuncError};
use crate::eval::EvalContext;
use crate::types::Type;
use crate::value::Value;

fn hex_string(bytes: &[u8]) -> Value {
    Value::String(hex::encode(bytes))
}

fn b64(bytes: &[u8]) -> Value {
    Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
}

pub(crate) fn md5(_: &EvalContext, a: Vec<Value>) -> FResult {
    Ok(hex_string(&md5::Md5::digest(str_arg(&a, 0)?.as_bytes())))
}

pub(crate) fn sha1(_: &EvalContext, a: Vec<Value>) -> FResult {
    Ok(hex_string(&sha1::Sha1::digest(str_arg(&a, 0)?.as_bytes())))
}

pub(crate) fn sha256(_: &EvalContext, a: Vec<Value>) -> FResult {
    Ok(hex_string(&sha2::Sha256::digest(
        str_arg(&a, 0)?.as_bytes(),
    )))
}

pub(crate) fn sha512(_: &EvalContext, a: Vec<Value>) -> FResult {
    Ok(hex_string(&sha2::Sha512::digest(
        str_arg(&a, 0)?.as_bytes(),
    )))
}

pub(crate) fn base64sha256(_: &EvalContext, a: Vec<Value>) -> FResult {
    Ok(b64(&sha2::Sha256::digest(str_arg(&a, 0)?.as_bytes())))
}

pub(crate) fn base64sha512(_: &EvalContext, a: Vec<Value>) -> FResult {
    Ok(b64(&sha2::Sha512::digest(str_arg(&a, 0)?.as_bytes())))
}

/// Digests of file contents, shared with the filesystem functions.
pub(crate) fn digest_hex(kind: &str, bytes: &[u8]) -> Value {
    match kind {
        "md5" => hex_string(&md5::Md5::digest(bytes)),
        "sha1" => hex_string(&sha1::Sha1::digest(bytes)),
        "sha512" => hex_string(&sha2::Sha512::digest(bytes)),
        _ => hex_string(&sha2::Sha256::digest(bytes)),
    }
}

pub(crate) fn digest_b64(kind: &str, bytes: &[u8]) -> Value {
    match kind {
        "sha512" => b64(&sha2::Sha512::digest(bytes)),
        _ => b64(&sha2::Sha256::digest(bytes)),
    }
}

pub(crate) fn uuid(ctx: &EvalContext, _: Vec<Value>) -> FResult {
    if ctx.impure_unknown() {
        return Ok(Value::Unknown(Type::String));
    }
    Ok(Value::String(uuid::Uuid::new_v4().to_string()))
}

pub(crate) fn uuidv5(_: &EvalContext, a: Vec<Value>) -> FResult {
    let ns = match str_arg(&a, 0)? {
        "dns" => uuid::Uuid::NAMESPACE_DNS,
        "url" => uuid::Uuid::NAMESPACE_URL,
        "oid" => uuid::Uuid::NAMESPACE_OID,
        "x500" => uuid::Uuid::NAMESPACE_X500,
        other => uuid::Uuid::parse_str(other)
            .map_err(|_| FuncError::arg(0, "must be `dns`, `url`, `oid`, `x500` or a UUID"))?,
    };
    Ok(Value::String(
        uuid::Uuid::new_v5(&ns, str_arg(&a, 1)?.as_bytes()).to_string(),
    ))
}
