//! `random`: `random_password`, `random_string`, `random_id`, `random_uuid`, `random_integer`,
//! `random_shuffle`, `random_pet`. Every argument forces replacement; `keepers` exists only for
//! that. Results are drawn from a generator seeded by the create token (or by `seed` where the
//! resource has one), so a retried create reproduces them.

use base64::Engine as _;
use rand::seq::SliceRandom as _;
use rand::Rng as _;

use super::{bool_arg, configure_self, int_arg, rng_for, unknown_type};
use crate::provider::{
    ApplyError, AttrType, Attribute, BoxFuture, ConfiguredProvider, CreateRequest, DeleteRequest,
    Provider, ProviderError, ProviderSchema, Schema,
};
use crate::value::Value;

#[derive(Clone, Debug, Default)]
pub struct RandomProvider;

fn keepers() -> Attribute {
    Attribute::optional(AttrType::map(AttrType::String))
        .force_new()
        .describe("arbitrary values; any change replaces the resource")
}

fn string_schema(sensitive: bool) -> Schema {
    let result = Attribute::computed(AttrType::String);
    let mut s = Schema::new()
        .attr("id", Attribute::computed(AttrType::String))
        .attr("keepers", keepers())
        .attr("length", Attribute::required(AttrType::Number).force_new())
        .attr(
            "result",
            if sensitive {
                result.sensitive()
            } else {
                result
            },
        );
    for b in ["special", "upper", "lower", "numeric", "number"] {
        s = s.attr(b, Attribute::optional_computed(AttrType::Bool).force_new());
    }
    for m in ["min_upper", "min_lower", "min_numeric", "min_special"] {
        s = s.attr(
            m,
            Attribute::optional_computed(AttrType::Number).force_new(),
        );
    }
    s.attr(
        "override_special",
        Attribute::optional(AttrType::String).force_new(),
    )
}

impl Provider for RandomProvider {
    fn schema(&self) -> ProviderSchema {
        let mut s = ProviderSchema::default();
        s.resources
            .insert("random_password".into(), string_schema(true));
        s.resources
            .insert("random_string".into(), string_schema(false));
        let mut id = Schema::new()
            .attr("keepers", keepers())
            .attr(
                "byte_length",
                Attribute::required(AttrType::Number).force_new(),
            )
            .attr("prefix", Attribute::optional(AttrType::String).force_new());
        for c in ["id", "b64_url", "b64_std", "hex", "dec"] {
            id = id.attr(c, Attribute::computed(AttrType::String));
        }
        s.resources.insert("random_id".into(), id);
        s.resources.insert(
            "random_uuid".into(),
            Schema::new()
                .attr("keepers", keepers())
                .attr("id", Attribute::computed(AttrType::String))
                .attr("result", Attribute::computed(AttrType::String)),
        );
        s.resources.insert(
            "random_integer".into(),
            Schema::new()
                .attr("keepers", keepers())
                .attr("min", Attribute::required(AttrType::Number).force_new())
                .attr("max", Attribute::required(AttrType::Number).force_new())
                .attr("seed", Attribute::optional(AttrType::String).force_new())
                .attr("id", Attribute::computed(AttrType::String))
                .attr("result", Attribute::computed(AttrType::Number)),
        );
        s.resources.insert(
            "random_shuffle".into(),
            Schema::new()
                .attr("keepers", keepers())
                .attr(
                    "input",
                    Attribute::required(AttrType::list(AttrType::String)).force_new(),
                )
                .attr(
                    "result_count",
                    Attribute::optional(AttrType::Number).force_new(),
                )
                .attr("seed", Attribute::optional(AttrType::String).force_new())
                .attr("id", Attribute::computed(AttrType::String))
                .attr(
                    "result",
                    Attribute::computed(AttrType::list(AttrType::String)),
                ),
        );
        s.resources.insert(
            "random_pet".into(),
            Schema::new()
                .attr("keepers", keepers())
                .attr(
                    "length",
                    Attribute::optional(AttrType::Number)
                        .force_new()
                        .default(Value::int(2)),
                )
                .attr("prefix", Attribute::optional(AttrType::String).force_new())
                .attr(
                    "separator",
                    Attribute::optional(AttrType::String)
                        .force_new()
                        .default("-"),
                )
                .attr("id", Attribute::computed(AttrType::String)),
        );
        s
    }

    fn configure(
        &self,
        _config: Value,
    ) -> BoxFuture<'_, Result<std::sync::Arc<dyn ConfiguredProvider>, ProviderError>> {
        configure_self(self)
    }
}

impl ConfiguredProvider for RandomProvider {
    fn create(&self, req: CreateRequest) -> BoxFuture<'_, Result<Value, ApplyError>> {
        Box::pin(async move { create(&req).map_err(ApplyError::from) })
    }

    fn delete(&self, _req: DeleteRequest) -> BoxFuture<'_, Result<(), ApplyError>> {
        Box::pin(async { Ok(()) })
    }
}

const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const NUMERIC: &str = "0123456789";
const SPECIAL: &str = "!@#$%&*()-_=+[]{}<>:?";
/// Bounds a generated string, so a typo like `length = 1e9` is an error, not an OOM.
const MAX_LENGTH: i64 = 65_536;

fn create(req: &CreateRequest) -> Result<Value, ProviderError> {
    let c = &req.config;
    let mut out = req.planned.clone();
    match req.type_name.as_str() {
        "random_password" | "random_string" => {
            let length = int_arg(c, "length")?.unwrap_or(0);
            if !(1..=MAX_LENGTH).contains(&length) {
                return Err(ProviderError::new(format!(
                    "`length` must be between 1 and {MAX_LENGTH}, got {length}"
                )));
            }
            let special = bool_arg(c, "special", true);
            let upper = bool_arg(c, "upper", true);
            let lower = bool_arg(c, "lower", true);
            let numeric = bool_arg(c, "numeric", bool_arg(c, "number", true));
            let override_special = c.get("override_special").as_str().map(str::to_owned);
            let specials = override_special.as_deref().unwrap_or(SPECIAL);
            let mins = [
                (upper, int_arg(c, "min_upper")?.unwrap_or(0), UPPER),
                (lower, int_arg(c, "min_lower")?.unwrap_or(0), LOWER),
                (numeric, int_arg(c, "min_numeric")?.unwrap_or(0), NUMERIC),
                (special, int_arg(c, "min_special")?.unwrap_or(0), specials),
            ];
            let mut rng = rng_for(&req.token, "string");
            let mut chars: Vec<char> = Vec::new();
            let mut pool = String::new();
            for (enabled, min, set) in mins {
                if !enabled || set.is_empty() {
                    continue;
                }
                pool.push_str(set);
                let set: Vec<char> = set.chars().collect();
                for _ in 0..min.clamp(0, MAX_LENGTH) {
                    if let Some(ch) = set.choose(&mut rng) {
                        chars.push(*ch);
                    }
                }
            }
            let pool: Vec<char> = pool.chars().collect();
            if pool.is_empty() {
                return Err(ProviderError::new("every character class is disabled"));
            }
            while i64::try_from(chars.len()).unwrap_or(i64::MAX) < length {
                if let Some(ch) = pool.choose(&mut rng) {
                    chars.push(*ch);
                }
            }
            chars.shuffle(&mut rng);
            let result: String = chars.into_iter().collect();
            for (name, v) in [
                ("special", special),
                ("upper", upper),
                ("lower", lower),
                ("numeric", numeric),
            ] {
                out.set(name, Value::Bool(v));
            }
            for (name, (_, min, _)) in ["min_upper", "min_lower", "min_numeric", "min_special"]
                .iter()
                .zip(mins)
            {
                out.set(name, Value::int(min));
            }
            if !out.get("number").is_null()
                || req.type_name == "random_string"
                || req.type_name == "random_password"
            {
                out.set("number", Value::Bool(numeric));
            }
            let id = if req.type_name == "random_password" {
                "none".to_owned()
            } else {
                result.clone()
            };
            out.set("result", Value::String(result));
            out.set("id", Value::String(id));
        }
        "random_id" => {
            let n = int_arg(c, "byte_length")?.unwrap_or(0);
            if !(1..=4096).contains(&n) {
                return Err(ProviderError::new(format!(
                    "`byte_length` must be between 1 and 4096, got {n}"
                )));
            }
            let mut bytes = vec![0u8; usize::try_from(n).unwrap_or(1)];
            rng_for(&req.token, "id").fill(bytes.as_mut_slice());
            let prefix = c.get("prefix").as_str().unwrap_or("").to_owned();
            let b64_url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
            let b64_std = base64::engine::general_purpose::STANDARD.encode(&bytes);
            out.set("id", Value::String(b64_url.clone()));
            out.set("b64_url", Value::String(format!("{prefix}{b64_url}")));
            out.set("b64_std", Value::String(format!("{prefix}{b64_std}")));
            out.set(
                "hex",
                Value::String(format!("{prefix}{}", hex::encode(&bytes))),
            );
            out.set(
                "dec",
                Value::String(format!("{prefix}{}", bytes_to_decimal(&bytes))),
            );
        }
        "random_uuid" => {
            let mut bytes = [0u8; 16];
            rng_for(&req.token, "uuid").fill(&mut bytes);
            let u = uuid::Builder::from_random_bytes(bytes)
                .into_uuid()
                .to_string();
            out.set("id", Value::String(u.clone()));
            out.set("result", Value::String(u));
        }
        "random_integer" => {
            let min = int_arg(c, "min")?.unwrap_or(0);
            let max = int_arg(c, "max")?.unwrap_or(0);
            if min > max {
                return Err(ProviderError::new(format!(
                    "`min` ({min}) is greater than `max` ({max})"
                )));
            }
            let mut rng = match c.get("seed").as_str() {
                Some(seed) => rng_for(seed, "integer"),
                None => rng_for(&req.token, "integer"),
            };
            let r = rng.gen_range(min..=max);
            out.set("result", Value::int(r));
            out.set("id", Value::String(r.to_string()));
        }
        "random_shuffle" => {
            let mut input: Vec<Value> = c
                .get("input")
                .as_list()
                .map(<[Value]>::to_vec)
                .unwrap_or_default();
            let count = match int_arg(c, "result_count")? {
                Some(n) if n < 0 => {
                    return Err(ProviderError::new("`result_count` cannot be negative"))
                }
                Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
                None => input.len(),
            };
            let mut rng = match c.get("seed").as_str() {
                Some(seed) => rng_for(seed, "shuffle"),
                None => rng_for(&req.token, "shuffle"),
            };
            input.shuffle(&mut rng);
            // Terraform repeats the shuffled input when more results than inputs are asked.
            let result: Vec<Value> = if input.is_empty() {
                Vec::new()
            } else {
                input.iter().cycle().take(count).cloned().collect()
            };
            out.set("result", Value::List(result));
            out.set("id", Value::string("-"));
        }
        "random_pet" => {
            let length = int_arg(c, "length")?.unwrap_or(2);
            if !(1..=64).contains(&length) {
                return Err(ProviderError::new(format!(
                    "`length` must be between 1 and 64, got {length}"
                )));
            }
            let sep = c.get("separator").as_str().unwrap_or("-").to_owned();
            let mut rng = rng_for(&req.token, "pet");
            let mut words: Vec<&str> = Vec::new();
            if let Some(p) = c.get("prefix").as_str() {
                words.push(p);
            }
            // Adverbs, then one adjective, then the animal (as the Terraform provider does).
            for _ in 2..length {
                words.push(ADVERBS.choose(&mut rng).copied().unwrap_or("calmly"));
            }
            if length > 1 {
                words.push(ADJECTIVES.choose(&mut rng).copied().unwrap_or("calm"));
            }
            words.push(NAMES.choose(&mut rng).copied().unwrap_or("cat"));
            out.set("length", Value::int(length));
            out.set("separator", Value::String(sep.clone()));
            out.set("id", Value::String(words.join(&sep)));
        }
        other => return Err(unknown_type(other)),
    }
    Ok(out)
}

/// The decimal text of a big-endian unsigned integer.
fn bytes_to_decimal(bytes: &[u8]) -> String {
    let mut digits: Vec<u8> = vec![0]; // little-endian base-10 digits
    for &b in bytes {
        let mut carry = u32::from(b);
        for d in &mut digits {
            let v = u32::from(*d) * 256 + carry;
            *d = u8::try_from(v % 10).unwrap_or(0);
            carry = v / 10;
        }
        while carry > 0 {
            digits.push(u8::try_from(carry % 10).unwrap_or(0));
            carry /= 10;
        }
    }
    while digits.len() > 1 && digits.last() == Some(&0) {
        digits.pop();
    }
    digits.iter().rev().map(|d| char::from(b'0' + d)).collect()
}

const ADVERBS: &[&str] = &[
    "amazingly",
    "briefly",
    "calmly",
    "deeply",
    "eagerly",
    "freely",
    "gently",
    "happily",
    "ideally",
    "jointly",
    "kindly",
    "lively",
    "merely",
    "nicely",
    "openly",
    "partly",
    "quickly",
    "rarely",
    "safely",
    "truly",
    "usually",
    "vastly",
    "wholly",
    "yearly",
    "zealously",
];
const ADJECTIVES: &[&str] = &[
    "able", "bold", "brave", "calm", "clever", "cool", "eager", "fair", "fast", "fine", "glad",
    "grand", "happy", "keen", "kind", "lucky", "merry", "noble", "proud", "quiet", "rapid",
    "sharp", "smart", "sweet", "tidy", "vital", "warm", "wise", "witty", "young",
];
const NAMES: &[&str] = &[
    "badger", "bat", "bear", "beaver", "bison", "cat", "crane", "deer", "dog", "dolphin", "eagle",
    "falcon", "ferret", "fox", "gecko", "goat", "hare", "hawk", "heron", "ibex", "koala", "lark",
    "lemur", "lion", "lynx", "marmot", "mole", "moose", "otter", "owl", "panda", "puffin", "quail",
    "raven", "robin", "seal", "sloth", "swan", "tiger", "toad", "trout", "walrus", "whale", "wolf",
    "wombat", "yak", "zebra",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn req(type_name: &str, config: Value, token: &str) -> CreateRequest {
        CreateRequest {
            type_name: type_name.into(),
            planned: config.clone(),
            config,
            token: token.into(),
            timeout: None,
        }
    }

    #[test]
    fn same_token_same_result() {
        let cfg = Value::map([("length", Value::int(16)), ("special", Value::Bool(false))]);
        let a = create(&req("random_password", cfg.clone(), "t")).expect("create");
        let b = create(&req("random_password", cfg.clone(), "t")).expect("create");
        let c = create(&req("random_password", cfg, "u")).expect("create");
        assert_eq!(a.get("result"), b.get("result"));
        assert_ne!(a.get("result"), c.get("result"));
        let r = a.get("result").as_str().expect("string");
        assert_eq!(r.chars().count(), 16);
        assert!(r.chars().all(char::is_alphanumeric));
    }

    #[test]
    fn minimums_are_met() {
        let cfg = Value::map([
            ("length", Value::int(8)),
            ("min_upper", Value::int(3)),
            ("min_numeric", Value::int(3)),
        ]);
        let r = create(&req("random_string", cfg, "t")).expect("create");
        let s = r.get("result").as_str().expect("string").to_owned();
        assert!(s.chars().filter(char::is_ascii_uppercase).count() >= 3);
        assert!(s.chars().filter(char::is_ascii_digit).count() >= 3);
    }

    #[test]
    fn ids_and_integers() {
        let r = create(&req(
            "random_id",
            Value::map([("byte_length", Value::int(4))]),
            "t",
        ))
        .expect("id");
        let hex = r.get("hex").as_str().expect("hex");
        let dec: u64 = r.get("dec").as_str().expect("dec").parse().expect("number");
        assert_eq!(u64::from_str_radix(hex, 16).expect("hex"), dec);
        let cfg = Value::map([("min", Value::int(5)), ("max", Value::int(7))]);
        let i = create(&req("random_integer", cfg, "t"))
            .expect("int")
            .get("result")
            .as_i64()
            .expect("int");
        assert!((5..=7).contains(&i));
        let bad = Value::map([("min", Value::int(9)), ("max", Value::int(7))]);
        assert!(create(&req("random_integer", bad, "t")).is_err());
        assert_eq!(bytes_to_decimal(&[1, 0]), "256");
    }

    #[test]
    fn pets_have_the_requested_words() {
        let cfg = Value::map([("length", Value::int(3)), ("separator", Value::string("_"))]);
        let id = create(&req("random_pet", cfg, "t"))
            .expect("pet")
            .get("id")
            .as_str()
            .expect("s")
            .to_owned();
        assert_eq!(id.split('_').count(), 3);
    }
}
