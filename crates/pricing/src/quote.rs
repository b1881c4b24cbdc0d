//! A quote: what a set of answers costs a month — the plan price, each paid option's steps and
//! the infrastructure — as the wizard's side panel shows it.

use crate::money::Money;
use crate::tariff::InfraCost;
use crate::{BillingCycle, OptionBilling};

/// A paid option's share of a quote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OptionCost {
    pub option: String,
    /// The answer the steps were counted from.
    pub value: i64,
    /// Units included in the plan price.
    pub base: i64,
    pub steps: u32,
    pub step_cost: Money,
    /// `steps × step_cost`, per billing cycle.
    pub cost: Money,
}

/// What one set of answers costs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Quote {
    /// The plan's price per billing cycle.
    pub plan: Money,
    pub billing_cycle: String,
    pub options: Vec<OptionCost>,
    /// The cloud resources per month; `None` when the plan declares no entities.
    pub infra: Option<InfraCost>,
    /// Plan and options per billing cycle.
    pub per_cycle: Money,
    /// Plan and options brought to one month (see [`Quote::new`]), plus the infrastructure.
    pub total_monthly: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuoteError {
    #[error("the price is too large to compute")]
    Overflow,
}

impl Quote {
    /// Prices a plan with its paid options' answers and its infrastructure.
    ///
    /// A cycle of whole months is brought to one month exactly (`price / months`, rounded to
    /// ten-thousandths); a cycle with days counts a month as 30 days.
    pub fn new<'a>(
        plan: Money,
        cycle: BillingCycle,
        options: impl IntoIterator<Item = (&'a str, &'a OptionBilling, i64)>,
        infra: Option<InfraCost>,
    ) -> Result<Quote, QuoteError> {
        let mut lines = Vec::new();
        let mut per_cycle = plan;
        for (name, billing, value) in options {
            let steps = billing.steps_for_value(value);
            let cost = billing.cost_of_steps(steps).ok_or(QuoteError::Overflow)?;
            per_cycle = per_cycle.checked_add(cost).ok_or(QuoteError::Overflow)?;
            lines.push(OptionCost {
                option: name.to_owned(),
                value,
                base: billing.base,
                steps,
                step_cost: billing.cost,
                cost,
            });
        }
        let (num, den) = if cycle.days == 0 {
            (1, i64::from(cycle.months))
        } else {
            (30, i64::from(cycle.months) * 30 + i64::from(cycle.days))
        };
        let monthly = per_cycle
            .checked_mul_ratio(num, den)
            .ok_or(QuoteError::Overflow)?;
        let total_monthly = match &infra {
            Some(i) => monthly.checked_add(i.monthly).ok_or(QuoteError::Overflow)?,
            None => monthly,
        };
        Ok(Quote {
            plan,
            billing_cycle: cycle.to_string(),
            options: lines,
            infra,
            per_cycle,
            total_monthly,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tariff::{Entity, Tariffs};

    fn disk_option() -> OptionBilling {
        OptionBilling {
            base: 10,
            cost: "49.90".parse().unwrap(),
            unit_size: Some(10),
            measurement: Some("GB".into()),
        }
    }

    #[test]
    fn two_more_steps_add_twice_the_step_cost() {
        let b = disk_option();
        let at = |v| {
            Quote::new(
                Money::units(990),
                BillingCycle::MONTHLY,
                [("disk", &b, v)],
                None,
            )
            .unwrap()
            .total_monthly
        };
        assert_eq!(at(10), Money::units(990));
        assert_eq!(at(30), "1089.80".parse().unwrap());
        assert_eq!(
            at(30).checked_add(Money::ZERO),
            at(10).checked_add("99.8".parse().unwrap())
        );
    }

    #[test]
    fn infra_and_cycles() {
        let infra = Tariffs::default()
            .infra_cost(&[Entity::FloatingIp {
                description: None,
                count: 1,
            }])
            .unwrap();
        let q = Quote::new(
            Money::units(3000),
            "3 mons".parse().unwrap(),
            [],
            Some(infra),
        )
        .unwrap();
        assert_eq!(q.per_cycle, Money::units(3000));
        assert_eq!(q.total_monthly, Money::units(1220));
        let q = Quote::new(Money::units(300), "30 days".parse().unwrap(), [], None).unwrap();
        assert_eq!(q.total_monthly, Money::units(300));
    }
}
