//! Go durations (`time.ParseDuration`): the one parser of the project, used by `timeadd`, the
//! engine's `timeouts` blocks and `time_sleep`, and the package validator's agent step options.
//!
//! `[-+]?` then one or more `<decimal><unit>` with units `ns`, `us` (`µs`, `μs`), `ms`, `s`,
//! `m`, `h`; a decimal may have a fraction (`2.5s`, `.5s`, `1.s`); `0` alone needs no unit.
//! The result is exact in nanoseconds and must fit Go's `int64` (about 292 years).

/// A parsed duration in nanoseconds (negative when written with `-`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct GoDuration {
    pub nanos: i128,
}

impl GoDuration {
    /// Seconds as a float.
    #[allow(clippy::cast_precision_loss)]
    pub fn as_secs_f64(self) -> f64 {
        self.nanos as f64 / 1e9
    }

    /// The duration as a `std::time::Duration`, `None` when negative.
    pub fn to_std(self) -> Option<std::time::Duration> {
        let n = u128::try_from(self.nanos).ok()?;
        let secs = u64::try_from(n / 1_000_000_000).ok()?;
        let sub = u32::try_from(n % 1_000_000_000).ok()?;
        Some(std::time::Duration::new(secs, sub))
    }
}

/// Why a text is not a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration")]
    Empty,
    #[error("missing number before `{0}`")]
    MissingNumber(String),
    #[error("missing unit after `{0}` (use ns, us, ms, s, m or h)")]
    MissingUnit(String),
    #[error("unknown unit `{0}` (use ns, us, ms, s, m or h)")]
    UnknownUnit(String),
    #[error("duration out of range")]
    Overflow,
}

const MAX_NANOS: i128 = i64::MAX as i128;

/// Parses a Go duration.
///
/// # Errors
/// When the text is not a duration or does not fit Go's range.
pub fn parse_go_duration(text: &str) -> Result<GoDuration, DurationError> {
    let (neg, mut rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest == "0" {
        return Ok(GoDuration { nanos: 0 });
    }
    if rest.is_empty() {
        return Err(DurationError::Empty);
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int_part, after) = rest.split_at(int_len);
        let (frac_part, after) = match after.strip_prefix('.') {
            Some(a) => {
                let n = a.bytes().take_while(u8::is_ascii_digit).count();
                a.split_at(n)
            }
            None => ("", after),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(DurationError::MissingNumber(rest.to_owned()));
        }
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(DurationError::MissingUnit(rest.to_owned())),
            other => return Err(DurationError::UnknownUnit(other.to_owned())),
        };
        // Digits beyond what can matter are ignored (as Go does), so no input overflows here.
        let mut whole: i128 = 0;
        for d in int_part.bytes() {
            whole = whole
                .checked_mul(10)
                .and_then(|w| w.checked_add(i128::from(d - b'0')))
                .filter(|w| *w <= MAX_NANOS)
                .ok_or(DurationError::Overflow)?;
        }
        let mut nanos = whole.checked_mul(scale).ok_or(DurationError::Overflow)?;
        let mut div: i128 = 1;
        let mut frac: i128 = 0;
        for d in frac_part.bytes().take(18) {
            frac = frac * 10 + i128::from(d - b'0');
            div *= 10;
        }
        nanos = nanos
            .checked_add(frac * scale / div)
            .ok_or(DurationError::Overflow)?;
        total = total.checked_add(nanos).ok_or(DurationError::Overflow)?;
        if total > MAX_NANOS {
            return Err(DurationError::Overflow);
        }
        rest = next;
    }
    Ok(GoDuration {
        nanos: if neg { -total } else { total },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: &str) -> Option<f64> {
        parse_go_duration(s).ok().map(GoDuration::as_secs_f64)
    }

    #[test]
    fn parses_like_go() {
        assert_eq!(secs("2.5s"), Some(2.5));
        assert_eq!(secs("1h30m"), Some(5400.0));
        assert_eq!(secs("-10m"), Some(-600.0));
        assert_eq!(secs("+5s"), Some(5.0));
        assert_eq!(secs("1.5h"), Some(5400.0));
        assert_eq!(secs("300ms"), Some(0.3));
        assert_eq!(secs(".5s"), Some(0.5));
        assert_eq!(secs("1.s"), Some(1.0));
        assert_eq!(secs("1µs"), Some(1e-6));
        assert_eq!(secs("0"), Some(0.0));
        assert_eq!(parse_go_duration("1h").unwrap().nanos, 3_600_000_000_000);
        for bad in ["", "10", "m", "5x", ".s", "1..5s", "s5", "-", "1h 30m"] {
            assert!(parse_go_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_go_duration("2562048h"),
            Err(DurationError::Overflow),
            "beyond int64 nanoseconds"
        );
        assert!(parse_go_duration(&"9".repeat(100)).is_err());
    }
}
