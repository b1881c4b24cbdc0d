//! Plan cost, paid option steps, infrastructure cost, billing cycles.
//!
//! This room knows prices and periods only: no files, no HTTP.

use std::fmt;
use std::str::FromStr;

/// A billing period: calendar months plus days. `"1 mons 0 days"` (one calendar month) is not
/// `"30 days"`; the two never compare equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BillingCycle {
    pub months: u32,
    pub days: u32,
}

impl BillingCycle {
    /// The default cycle of a plan: one calendar month.
    pub const MONTHLY: BillingCycle = BillingCycle { months: 1, days: 0 };
}

impl Default for BillingCycle {
    fn default() -> Self {
        BillingCycle::MONTHLY
    }
}

/// Why a billing cycle did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BillingCycleError {
    #[error("a billing cycle is `<N> mons <M> days`, `<N> mons` or `<M> days`, not `{0}`")]
    Format(String),
    #[error("a billing cycle must not be zero")]
    Zero,
    #[error("the number `{0}` is too large")]
    TooLarge(String),
}

impl FromStr for BillingCycle {
    type Err = BillingCycleError;

    /// Parses `"<N> mons <M> days"`, `"<N> mons"` or `"<M> days"` (whitespace-separated,
    /// case-sensitive as VK writes it).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let words: Vec<&str> = s.split_whitespace().collect();
        let num = |w: &str| -> Result<u32, BillingCycleError> {
            if w.is_empty() || !w.bytes().all(|b| b.is_ascii_digit()) {
                return Err(BillingCycleError::Format(s.to_owned()));
            }
            w.parse::<u32>()
                .map_err(|_| BillingCycleError::TooLarge(w.to_owned()))
        };
        let cycle = match words.as_slice() {
            [n, "mons", m, "days"] => BillingCycle {
                months: num(n)?,
                days: num(m)?,
            },
            [n, "mons"] => BillingCycle {
                months: num(n)?,
                days: 0,
            },
            [m, "days"] => BillingCycle {
                months: 0,
                days: num(m)?,
            },
            _ => return Err(BillingCycleError::Format(s.to_owned())),
        };
        if cycle.months == 0 && cycle.days == 0 {
            return Err(BillingCycleError::Zero);
        }
        Ok(cycle)
    }
}

impl fmt::Display for BillingCycle {
    /// The canonical form, always with both parts: `1 mons 0 days`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} mons {} days", self.months, self.days)
    }
}

/// The price of a paid option: `base` units are included in the plan price, every further step
/// of `unit_size` units costs `cost`.
#[derive(Debug, Clone, PartialEq)]
pub struct OptionBilling {
    pub base: i64,
    pub cost: f64,
    pub unit_size: Option<i64>,
    pub measurement: Option<String>,
}

impl OptionBilling {
    /// The value a user-step option stands for after `steps` steps: `base + steps × size`.
    /// `None` on overflow or when the option has no unit.
    pub fn value_of_steps(&self, steps: i64) -> Option<i64> {
        let size = self.unit_size?;
        self.base.checked_add(steps.checked_mul(size)?)
    }

    /// The cost of `steps` paid steps.
    pub fn cost_of_steps(&self, steps: u32) -> f64 {
        self.cost * f64::from(steps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_forms() {
        assert_eq!(
            "1 mons 0 days".parse::<BillingCycle>(),
            Ok(BillingCycle { months: 1, days: 0 })
        );
        assert_eq!(
            "1 mons".parse::<BillingCycle>(),
            Ok(BillingCycle { months: 1, days: 0 })
        );
        assert_eq!(
            "30 days".parse::<BillingCycle>(),
            Ok(BillingCycle {
                months: 0,
                days: 30
            })
        );
        assert_ne!(
            "30 days".parse::<BillingCycle>(),
            "1 mons".parse::<BillingCycle>()
        );
        assert_eq!(BillingCycle::MONTHLY.to_string(), "1 mons 0 days");
    }

    #[test]
    fn rejects_bad_cycles() {
        for bad in [
            "1 month",
            "",
            "mons",
            "0 mons 0 days",
            "-1 days",
            "99999999999 days",
            "1 mons 2",
        ] {
            assert!(bad.parse::<BillingCycle>().is_err(), "{bad}");
        }
    }

    #[test]
    fn user_steps() {
        let b = OptionBilling {
            base: 25,
            cost: 150.0,
            unit_size: Some(100),
            measurement: None,
        };
        assert_eq!(b.value_of_steps(2), Some(225));
        assert_eq!(b.value_of_steps(i64::MAX), None);
        assert!((b.cost_of_steps(2) - 300.0).abs() < f64::EPSILON);
    }
}
