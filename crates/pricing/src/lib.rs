//! Plan cost, paid option steps, infrastructure cost, billing cycles.
//!
//! This room knows prices and periods only: no files, no HTTP.

use std::fmt;
use std::str::FromStr;

mod money;
mod quote;
mod tariff;

pub use money::{Currency, Money, MoneyError};
pub use quote::{OptionCost, Quote, QuoteError};
pub use tariff::{Disk, Entity, InfraCost, Line, Part, PartKind, PriceError, Tariffs};

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

impl BillingCycle {
    /// The cycle in words for people: `monthly`, `every 3 months`, `every 30 days`
    /// (`lang` `"ru"` gives Russian; anything else English).
    pub fn in_words(&self, lang: &str) -> String {
        let ru = lang.starts_with("ru");
        match (self.months, self.days, ru) {
            (1, 0, false) => "monthly".into(),
            (1, 0, true) => "ежемесячно".into(),
            (12, 0, false) => "yearly".into(),
            (12, 0, true) => "ежегодно".into(),
            (m, 0, false) => format!("every {m} months"),
            (m, 0, true) => format!("раз в {m} мес."),
            (0, 1, false) => "daily".into(),
            (0, 1, true) => "ежедневно".into(),
            (0, d, false) => format!("every {d} days"),
            (0, d, true) => format!("раз в {d} дн."),
            (m, d, false) => format!("every {m} months and {d} days"),
            (m, d, true) => format!("раз в {m} мес. и {d} дн."),
        }
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
    /// The price of one step, exact.
    pub cost: Money,
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

    /// The cost of `steps` paid steps; `None` on overflow.
    pub fn cost_of_steps(&self, steps: u32) -> Option<Money> {
        self.cost.checked_mul(i64::from(steps))
    }

    /// How many paid steps `value` is above `base` (a partial step counts as a whole one);
    /// 0 at or below `base`.
    pub fn steps_for_value(&self, value: i64) -> u32 {
        let size = self.unit_size.filter(|s| *s > 0).unwrap_or(1);
        let above = value.saturating_sub(self.base).clamp(0, i64::MAX - size);
        u32::try_from((above + size - 1) / size).unwrap_or(u32::MAX)
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
            cost: Money::units(150),
            unit_size: Some(100),
            measurement: None,
        };
        assert_eq!(b.value_of_steps(2), Some(225));
        assert_eq!(b.value_of_steps(i64::MAX), None);
        assert_eq!(b.cost_of_steps(2), Some(Money::units(300)));
        assert_eq!(b.steps_for_value(225), 2);
        assert_eq!(b.steps_for_value(226), 3);
        assert_eq!(b.steps_for_value(10), 0);
    }

    #[test]
    fn cycles_in_words() {
        assert_eq!(BillingCycle::MONTHLY.in_words("en"), "monthly");
        assert_eq!(BillingCycle::MONTHLY.in_words("ru-RU"), "ежемесячно");
        assert_eq!(
            "30 days".parse::<BillingCycle>().unwrap().in_words("en"),
            "every 30 days"
        );
        assert_eq!(
            "3 mons".parse::<BillingCycle>().unwrap().in_words("en"),
            "every 3 months"
        );
    }
}
