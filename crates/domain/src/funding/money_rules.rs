//! The money rules of the cycle: envelopes at the programming committee, payment schedules
//! of agreements, and what is left to pay.

use crate::money::Cents;

/// The outcome of checking a decision against a financer's envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeCheck {
    /// Within the envelope.
    Within {
        /// What remains after this decision.
        remaining: i64,
    },
    /// The decision would exceed the envelope by this many cents.
    Exceeds {
        /// Overrun.
        by: i64,
    },
}

/// Checks granting `amount` when `committed` of `envelope` is already granted (cents).
pub fn check_envelope(envelope: i64, committed: i64, amount: i64) -> EnvelopeCheck {
    let after = committed + amount;
    if after > envelope {
        EnvelopeCheck::Exceeds {
            by: after - envelope,
        }
    } else {
        EnvelopeCheck::Within {
            remaining: envelope - after,
        }
    }
}

/// The French warning for an overrun.
pub fn overrun_message(funder_name: &str, component: &str, by: i64) -> String {
    format!(
        "Cette décision dépasse l'enveloppe de {funder_name} ({component}) de {} : elle n'est enregistrée que si un pilote la confirme avec un motif.",
        Cents::new(by).map(|c| c.to_string()).unwrap_or_default()
    )
}

/// The default schedule of an agreement year: an advance of `advance_percent` and the
/// balance after the report. Returns (advance, balance) in cents; the two add up exactly.
pub fn schedule(amount: i64, advance_percent: u8) -> (i64, i64) {
    let pct = i64::from(advance_percent.min(100));
    let advance = amount * pct / 100;
    (advance, amount - advance)
}

/// Checks a payment against what is left to pay on the agreement (cents).
pub fn check_payment(amount: i64, left_to_pay: i64) -> Result<(), String> {
    if amount <= 0 {
        return Err("Le montant d'un paiement est positif.".into());
    }
    if amount > left_to_pay {
        return Err(format!(
            "Ce paiement dépasse le reste à payer de la convention ({}).",
            Cents::new(left_to_pay.max(0))
                .map(|c| c.to_string())
                .unwrap_or_default()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_within_and_over() {
        assert_eq!(
            check_envelope(1000, 600, 400),
            EnvelopeCheck::Within { remaining: 0 }
        );
        assert_eq!(
            check_envelope(1000, 600, 500),
            EnvelopeCheck::Exceeds { by: 100 }
        );
        assert!(overrun_message("État", "Contrat de ville", 100_00).contains("100\u{a0}€"));
    }

    #[test]
    fn schedule_adds_up_exactly() {
        assert_eq!(schedule(1001, 50), (500, 501));
        assert_eq!(schedule(2_000_000, 80), (1_600_000, 400_000));
        assert_eq!(schedule(5, 200), (5, 0));
    }

    #[test]
    fn payments_are_positive_and_within_what_is_left() {
        assert!(check_payment(0, 10).is_err());
        assert!(check_payment(11, 10).unwrap_err().contains("reste à payer"));
        assert!(check_payment(10, 10).is_ok());
    }
}
