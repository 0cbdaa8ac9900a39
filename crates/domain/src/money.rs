//! Money as integer cents: never floats.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A non-negative amount of euros, in cents.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    Default,
    utoipa::ToSchema,
)]
#[serde(try_from = "i64", into = "i64")]
pub struct Cents(i64);

/// The largest amount accepted anywhere (10 billion euros): above is a typing error.
pub const MAX_CENTS: i64 = 1_000_000_000_000;

impl Cents {
    /// Builds an amount from cents, refusing negative or absurd values.
    pub fn new(cents: i64) -> Result<Self, String> {
        if cents < 0 {
            Err("Le montant ne peut pas être négatif.".into())
        } else if cents > MAX_CENTS {
            Err("Le montant dépasse 10 milliards d'euros : vérifiez la saisie.".into())
        } else {
            Ok(Self(cents))
        }
    }
    /// The amount in cents.
    pub fn get(self) -> i64 {
        self.0
    }
    /// Parses a French-typed amount in euros: `20 000 000`, `20000000,50`, `1.7`, `12 €`.
    pub fn parse_euros(s: &str) -> Result<Self, String> {
        let cleaned: String = s
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '\u{a0}' && *c != '\u{202f}' && *c != '€')
            .collect();
        if cleaned.is_empty() {
            return Err("Indiquez un montant en euros.".into());
        }
        let normalized = cleaned.replace(',', ".");
        let (int_part, frac_part) = match normalized.split_once('.') {
            Some((i, f)) => (i, f),
            None => (normalized.as_str(), ""),
        };
        let bad = || {
            format!(
                "« {} » n'est pas un montant en euros (exemple : 20 000 000 ou 1500,50).",
                s.trim()
            )
        };
        if int_part.starts_with('-') {
            return Err("Le montant ne peut pas être négatif.".into());
        }
        if int_part.is_empty()
            || !int_part.bytes().all(|b| b.is_ascii_digit())
            || frac_part.len() > 2
            || !frac_part.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let euros: i64 = int_part.parse().map_err(|_| bad())?;
        let mut frac: i64 = if frac_part.is_empty() {
            0
        } else {
            frac_part.parse().map_err(|_| bad())?
        };
        if frac_part.len() == 1 {
            frac *= 10;
        }
        let cents = euros
            .checked_mul(100)
            .and_then(|c| c.checked_add(frac))
            .ok_or_else(bad)?;
        Self::new(cents)
    }
}

impl TryFrom<i64> for Cents {
    type Error = String;
    fn try_from(v: i64) -> Result<Self, String> {
        Self::new(v)
    }
}

impl From<Cents> for i64 {
    fn from(c: Cents) -> i64 {
        c.0
    }
}

/// Formats like the French administration: `20 000 000 €`, `1 500,50 €`.
impl fmt::Display for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let euros = self.0 / 100;
        let cents = self.0 % 100;
        let digits = euros.to_string();
        let mut grouped = String::new();
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                grouped.push('\u{202f}');
            }
            grouped.push(ch);
        }
        if cents == 0 {
            write!(f, "{grouped}\u{a0}€")
        } else {
            write!(f, "{grouped},{cents:02}\u{a0}€")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_french_amounts() {
        assert_eq!(
            Cents::parse_euros("20 000 000").unwrap().get(),
            2_000_000_000
        );
        assert_eq!(Cents::parse_euros("1500,5").unwrap().get(), 150_050);
        assert_eq!(Cents::parse_euros("1.75 €").unwrap().get(), 175);
        assert!(Cents::parse_euros("-3").unwrap_err().contains("négatif"));
        assert!(Cents::parse_euros("abc").is_err());
        assert!(Cents::parse_euros("1,234").is_err());
        assert!(Cents::parse_euros("").is_err());
        assert!(Cents::parse_euros("99999999999999")
            .unwrap_err()
            .contains("10 milliards"));
    }

    #[test]
    fn displays_french_format() {
        assert_eq!(
            Cents::new(2_000_000_000).unwrap().to_string(),
            "20\u{202f}000\u{202f}000\u{a0}€"
        );
        assert_eq!(
            Cents::new(150_050).unwrap().to_string(),
            "1\u{202f}500,50\u{a0}€"
        );
    }

    #[test]
    fn serde_refuses_negative() {
        assert!(serde_json::from_str::<Cents>("-1").is_err());
        assert_eq!(
            serde_json::from_str::<Cents>("170000000").unwrap().get(),
            170_000_000
        );
    }
}
