//! Date and time functions. Timestamps are RFC 3339 strings, as in Terraform.

use chrono::{DateTime, Datelike, FixedOffset, Timelike};

use super::{str_arg, FResult, FuncError};
use crate::eval::EvalContext;
use crate::types::Type;
use crate::value::Value;

fn parse_ts(s: &str, arg: usize) -> Result<DateTime<FixedOffset>, FuncError> {
    DateTime::parse_from_rfc3339(s).map_err(|_| {
        FuncError::arg(
            arg,
            format!("{s:?} is not a valid RFC 3339 timestamp (such as \"2024-01-02T15:04:05Z\")"),
        )
    })
}

/// RFC 3339 without fractional seconds, `Z` for UTC (Go's `time.RFC3339`).
fn format_rfc3339(t: &DateTime<FixedOffset>) -> String {
    let base = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    format!("{base}{}", offset_string(t, true, true))
}

fn offset_string(t: &DateTime<FixedOffset>, colon: bool, z_for_utc: bool) -> String {
    let secs = t.offset().local_minus_utc();
    if secs == 0 && z_for_utc {
        return "Z".into();
    }
    let sign = if secs < 0 { '-' } else { '+' };
    let abs = secs.unsigned_abs();
    let (h, m) = (abs / 3600, (abs % 3600) / 60);
    if colon {
        format!("{sign}{h:02}:{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}")
    }
}

pub(crate) fn timestamp(ctx: &EvalContext, _: Vec<Value>) -> FResult {
    if ctx.impure_unknown() {
        return Ok(Value::Unknown(Type::String));
    }
    let now = ctx.now().fixed_offset();
    Ok(Value::String(format_rfc3339(&now)))
}

/// The time of the plan: always known (the context's clock), unlike `timestamp()`.
pub(crate) fn plantimestamp(ctx: &EvalContext, _: Vec<Value>) -> FResult {
    Ok(Value::String(format_rfc3339(&ctx.now().fixed_offset())))
}

/// Parses a Go duration such as `1h30m`, `-10m`, `1.5h`, `300ms` (the shared parser).
fn parse_duration(s: &str) -> Option<f64> {
    crate::duration::parse_go_duration(s)
        .ok()
        .map(crate::duration::GoDuration::as_secs_f64)
}

pub(crate) fn timeadd(_: &EvalContext, a: Vec<Value>) -> FResult {
    let t = parse_ts(str_arg(&a, 0)?, 0)?;
    let d = str_arg(&a, 1)?;
    let secs = parse_duration(d).ok_or_else(|| {
        FuncError::arg(
            1,
            format!("{d:?} is not a valid duration (such as \"1h30m\")"),
        )
    })?;
    if !secs.is_finite() || secs.abs() > 3.0e11 {
        return Err(FuncError::arg(1, "duration is out of range"));
    }
    #[allow(clippy::cast_possible_truncation)]
    let nanos = (secs * 1e9).round() as i64;
    let result = t
        .checked_add_signed(chrono::TimeDelta::nanoseconds(nanos))
        .ok_or_else(|| FuncError::arg(1, "the result is out of range"))?;
    Ok(Value::String(format_rfc3339(&result)))
}

pub(crate) fn timecmp(_: &EvalContext, a: Vec<Value>) -> FResult {
    let x = parse_ts(str_arg(&a, 0)?, 0)?;
    let y = parse_ts(str_arg(&a, 1)?, 1)?;
    Ok(Value::Number(match x.cmp(&y) {
        std::cmp::Ordering::Less => -1.0,
        std::cmp::Ordering::Equal => 0.0,
        std::cmp::Ordering::Greater => 1.0,
    }))
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

fn abbrev(s: &str) -> String {
    s.chars().take(3).collect()
}

pub(crate) fn formatdate(_: &EvalContext, a: Vec<Value>) -> FResult {
    let spec = str_arg(&a, 0)?;
    let t = parse_ts(str_arg(&a, 1)?, 1)?;
    let chars: Vec<char> = spec.chars().collect();
    let mut out = String::new();
    let mut i = 0usize;
    while let Some(&c) = chars.get(i) {
        if c == '\'' {
            // Quoted literal; `''` is a single quote.
            if chars.get(i + 1) == Some(&'\'') {
                out.push('\'');
                i += 2;
                continue;
            }
            let mut j = i + 1;
            loop {
                match chars.get(j) {
                    None => return Err(FuncError::arg(0, "unterminated quoted literal")),
                    Some('\'') if chars.get(j + 1) == Some(&'\'') => {
                        out.push('\'');
                        j += 2;
                    }
                    Some('\'') => break,
                    Some(&x) => {
                        out.push(x);
                        j += 1;
                    }
                }
            }
            i = j + 1;
            continue;
        }
        if !c.is_ascii_alphabetic() {
            out.push(c);
            i += 1;
            continue;
        }
        let mut n = 1usize;
        while chars.get(i + n) == Some(&c) {
            n += 1;
        }
        i += n;
        let month0 = usize::try_from(t.month0()).unwrap_or(0);
        let weekday = usize::try_from(t.weekday().num_days_from_monday()).unwrap_or(0);
        let hour12 = match t.hour() % 12 {
            0 => 12,
            h => h,
        };
        let piece = match (c, n) {
            ('Y', 4) => format!("{:04}", t.year()),
            ('Y', 2) => format!("{:02}", t.year().rem_euclid(100)),
            ('M', 4) => MONTHS.get(month0).copied().unwrap_or("").to_string(),
            ('M', 3) => abbrev(MONTHS.get(month0).copied().unwrap_or("")),
            ('M', 2) => format!("{:02}", t.month()),
            ('M', 1) => t.month().to_string(),
            ('D', 2) => format!("{:02}", t.day()),
            ('D', 1) => t.day().to_string(),
            ('E', 4) => DAYS.get(weekday).copied().unwrap_or("").to_string(),
            ('E', 3) => abbrev(DAYS.get(weekday).copied().unwrap_or("")),
            ('h', 2) => format!("{:02}", t.hour()),
            ('h', 1) => t.hour().to_string(),
            ('H', 2) => format!("{hour12:02}"),
            ('H', 1) => hour12.to_string(),
            ('A', 2) => (if t.hour() < 12 { "AM" } else { "PM" }).to_string(),
            ('a', 2) => (if t.hour() < 12 { "am" } else { "pm" }).to_string(),
            ('m', 2) => format!("{:02}", t.minute()),
            ('m', 1) => t.minute().to_string(),
            ('s', 2) => format!("{:02}", t.second()),
            ('s', 1) => t.second().to_string(),
            ('Z', 5) => offset_string(&t, true, false),
            ('Z', 4) => offset_string(&t, false, false),
            ('Z', 3) => {
                if t.offset().local_minus_utc() == 0 {
                    "UTC".into()
                } else {
                    offset_string(&t, false, false)
                }
            }
            ('Z', 1) => offset_string(&t, true, true),
            _ => {
                let token: String = std::iter::repeat_n(c, n).collect();
                return Err(FuncError::arg(
                    0,
                    format!("invalid date format token `{token}`; quote literal letters with `'`"),
                ));
            }
        };
        out.push_str(&piece);
    }
    Ok(Value::String(out))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h30m"), Some(5400.0));
        assert_eq!(parse_duration("-10m"), Some(-600.0));
        assert_eq!(parse_duration("1.5h"), Some(5400.0));
        assert_eq!(parse_duration("300ms"), Some(0.3));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("h"), None);
    }
}
