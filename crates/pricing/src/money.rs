//! Exact money: a fixed-point amount in ten-thousandths of a currency unit, never `f64`.
//!
//! Prices in packages are written as YAML numbers (`150`, `99.90`, `0.0125`); they are read from
//! their text, so `0.1 + 0.2` is exactly `0.3`. Four decimal places hold hourly infrastructure
//! tariffs; amounts are shown rounded half away from zero to two.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign};
use std::str::FromStr;

/// Ten-thousandths per unit.
const SCALE: i64 = 10_000;
/// Decimal places kept.
const PLACES: usize = 4;

/// An exact amount of money in the marketplace's currency (see [`Currency`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i64);

/// Why an amount did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("`{0}` is not a decimal amount such as `150` or `99.90`")]
    Format(String),
    #[error("`{0}` has more than {PLACES} decimal places")]
    Precision(String),
    #[error("`{0}` is too large an amount")]
    TooLarge(String),
}

impl Money {
    pub const ZERO: Money = Money(0);

    /// Whole units (`Money::units(150)` is 150.00).
    pub const fn units(n: i64) -> Money {
        Money(n * SCALE)
    }

    /// From ten-thousandths of a unit.
    pub const fn from_ten_thousandths(n: i64) -> Money {
        Money(n)
    }

    pub const fn ten_thousandths(self) -> i64 {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// `self × n`, `None` on overflow.
    pub fn checked_mul(self, n: i64) -> Option<Money> {
        self.0.checked_mul(n).map(Money)
    }

    /// `self × num / den`, rounded half away from zero; `None` on overflow or a zero `den`.
    pub fn checked_mul_ratio(self, num: i64, den: i64) -> Option<Money> {
        if den == 0 {
            return None;
        }
        let p = i128::from(self.0) * i128::from(num);
        let d = i128::from(den);
        let q = p / d;
        let r = p % d;
        let q = if 2 * r.abs() >= d.abs() {
            q + if (p < 0) != (d < 0) { -1 } else { 1 }
        } else {
            q
        };
        i64::try_from(q).ok().map(Money)
    }

    pub fn checked_add(self, o: Money) -> Option<Money> {
        self.0.checked_add(o.0).map(Money)
    }

    /// Rounded to whole hundredths (kopecks, cents), half away from zero.
    pub fn round_to_cents(self) -> Money {
        self.checked_mul_ratio(1, 100)
            .and_then(|m| m.checked_mul(100))
            .unwrap_or(self)
    }

    /// The amount with exactly two decimals (`150.00`), as shown to people.
    pub fn display_cents(self) -> String {
        let r = self.round_to_cents().0;
        let sign = if r < 0 { "-" } else { "" };
        let a = r.unsigned_abs();
        let s = SCALE as u64;
        format!("{sign}{}.{:02}", a / s, (a % s) / 100)
    }

    /// The amount as a JSON number with the shortest exact decimal form (`150`, `99.9`).
    pub fn to_json_number(self) -> serde_json::Number {
        let text = self.to_string();
        text.parse::<serde_json::Number>()
            .unwrap_or_else(|_| serde_json::Number::from(self.0 / SCALE))
    }
}

impl FromStr for Money {
    type Err = MoneyError;

    /// Parses `150`, `-3`, `99.90`, `0.0125`, `1e2` (YAML allows exponents), `+5`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let bad = || MoneyError::Format(s.to_owned());
        let (mantissa, exp) = match t.find(['e', 'E']) {
            Some(i) => (&t[..i], t[i + 1..].parse::<i32>().map_err(|_| bad())?),
            None => (t, 0),
        };
        let (neg, digits) = match mantissa.as_bytes().first() {
            Some(b'-') => (true, &mantissa[1..]),
            Some(b'+') => (false, &mantissa[1..]),
            _ => (false, mantissa),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if (int.is_empty() && frac.is_empty())
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        // All digits as one integer with `scale` decimal places, then shift to PLACES.
        let all: String = format!("{int}{frac}");
        let all = all.trim_start_matches('0');
        let places = frac.len() as i64 - i64::from(exp);
        let shift = PLACES as i64 - places;
        let value: i128 = if all.is_empty() {
            0
        } else {
            if all.len() > 30 {
                return Err(MoneyError::TooLarge(s.to_owned()));
            }
            let n: i128 = all.parse().map_err(|_| bad())?;
            if shift >= 0 {
                let f = 10i128
                    .checked_pow(u32::try_from(shift).map_err(|_| bad())?)
                    .ok_or_else(|| MoneyError::TooLarge(s.to_owned()))?;
                n.checked_mul(f)
                    .ok_or_else(|| MoneyError::TooLarge(s.to_owned()))?
            } else {
                let f = 10i128
                    .checked_pow(u32::try_from(-shift).map_err(|_| bad())?)
                    .ok_or_else(|| MoneyError::Precision(s.to_owned()))?;
                if n % f != 0 {
                    return Err(MoneyError::Precision(s.to_owned()));
                }
                n / f
            }
        };
        let value = if neg { -value } else { value };
        i64::try_from(value)
            .map(Money)
            .map_err(|_| MoneyError::TooLarge(s.to_owned()))
    }
}

impl fmt::Display for Money {
    /// The shortest exact decimal form: `150`, `99.9`, `0.0125`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.unsigned_abs();
        let s = SCALE as u64;
        let (int, frac) = (a / s, a % s);
        if frac == 0 {
            return write!(f, "{sign}{int}");
        }
        let frac = format!("{frac:04}");
        write!(f, "{sign}{int}.{}", frac.trim_end_matches('0'))
    }
}

impl Add for Money {
    type Output = Money;
    /// Saturates instead of wrapping: amounts this large are refused earlier by `checked_*`.
    fn add(self, o: Money) -> Money {
        Money(self.0.saturating_add(o.0))
    }
}

impl AddAssign for Money {
    fn add_assign(&mut self, o: Money) {
        *self = *self + o;
    }
}

impl Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, Add::add)
    }
}

impl serde::Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json_number().serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Money {
    /// From a JSON/YAML number or a string, read through its decimal text.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Money, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Float(f64),
            Text(String),
        }
        let text = match Raw::deserialize(d)? {
            Raw::Int(i) => i.to_string(),
            // `{}` prints the shortest text that reads back as the same f64: what was written.
            Raw::Float(x) => format!("{x}"),
            Raw::Text(t) => t,
        };
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The marketplace's currency (one per installation; VK's marketplace prices in roubles).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Currency {
    /// ISO 4217 code: `RUB`.
    pub code: String,
    /// What follows an amount: `₽`.
    pub symbol: String,
}

impl Default for Currency {
    fn default() -> Self {
        Currency {
            code: "RUB".into(),
            symbol: "₽".into(),
        }
    }
}

impl Currency {
    /// `1 234.50 ₽`: the amount with two decimals, thousands separated by a thin space.
    pub fn format(&self, m: Money) -> String {
        let text = m.display_cents();
        let (sign, rest) = text
            .strip_prefix('-')
            .map_or(("", text.as_str()), |r| ("-", r));
        let (int, frac) = rest.split_once('.').unwrap_or((rest, "00"));
        let mut grouped = String::new();
        for (i, c) in int.chars().enumerate() {
            if i > 0 && (int.len() - i) % 3 == 0 {
                grouped.push('\u{202f}');
            }
            grouped.push(c);
        }
        format!("{sign}{grouped}.{frac}\u{a0}{}", self.symbol)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Money {
        s.parse().unwrap()
    }

    #[test]
    fn decimal_text_is_exact() {
        assert_eq!(m("0.1") + m("0.2"), m("0.3"));
        assert_eq!(m("150"), Money::units(150));
        assert_eq!(m("99.90").to_string(), "99.9");
        assert_eq!(m("0.0125").to_string(), "0.0125");
        assert_eq!(m("1e2"), Money::units(100));
        assert_eq!(m("1.5E-2").to_string(), "0.015");
        assert_eq!(m("-3").to_string(), "-3");
        assert_eq!(m(".5").to_string(), "0.5");
    }

    #[test]
    fn refuses_what_it_cannot_hold() {
        assert!(matches!(
            "0.00001".parse::<Money>(),
            Err(MoneyError::Precision(_))
        ));
        assert!(matches!(
            "1e30".parse::<Money>(),
            Err(MoneyError::TooLarge(_))
        ));
        for bad in ["", ".", "abc", "1.2.3", "1,5", "--1", "1e", "NaN", "inf"] {
            assert!(bad.parse::<Money>().is_err(), "{bad}");
        }
    }

    #[test]
    fn rounding_and_display() {
        assert_eq!(m("2.345").display_cents(), "2.35");
        assert_eq!(m("-2.345").display_cents(), "-2.35");
        assert_eq!(m("2.344").display_cents(), "2.34");
        assert_eq!(
            Currency::default().format(m("1234567.5")),
            "1\u{202f}234\u{202f}567.50\u{a0}₽"
        );
        // 10 ₽ a month for 7 of 30 days.
        assert_eq!(
            Money::units(10)
                .checked_mul_ratio(7, 30)
                .unwrap()
                .to_string(),
            "2.3333"
        );
    }

    #[test]
    fn serde_reads_numbers_by_their_text() {
        let v: Money = serde_json::from_str("99.9").unwrap();
        assert_eq!(v, m("99.9"));
        let v: Money = serde_json::from_str("\"12.50\"").unwrap();
        assert_eq!(v, m("12.5"));
        assert_eq!(serde_json::to_string(&m("12.50")).unwrap(), "12.5");
        assert_eq!(serde_json::to_string(&m("150")).unwrap(), "150");
    }
}
