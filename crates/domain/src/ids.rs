//! Validated identifiers of the field: INSEE commune codes, SIREN/SIRET, QPV codes.
//! Each has a `parse` that is the only way to build one.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Luhn checksum over ASCII digits (the SIREN/SIRET check digit).
fn luhn_valid(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let dd = d * 2;
                if dd > 9 {
                    dd - 9
                } else {
                    dd
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::parse(&s).map_err(serde::de::Error::custom)
            }
        }
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                String::schema()
            }
        }
        impl utoipa::ToSchema for $name {}
    };
}

/// An INSEE commune code: 5 characters, digits, or `2A`/`2B` followed by 3 digits for Corsica.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InseeCode(String);

impl InseeCode {
    /// Parses an INSEE commune code.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim().to_ascii_uppercase();
        let b = s.as_bytes();
        let ok = b.len() == 5
            && b[2..].iter().all(u8::is_ascii_digit)
            && (b[..2].iter().all(u8::is_ascii_digit) || &s[..2] == "2A" || &s[..2] == "2B");
        if ok && &s[..2] != "00" {
            Ok(Self(s))
        } else {
            Err(format!("« {s} » n'est pas un code INSEE de commune (5 caractères, par exemple 59350 ou 2A004)."))
        }
    }
}
string_newtype!(InseeCode);

/// A SIREN: 9 digits with a Luhn check digit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Siren(String);

impl Siren {
    /// Parses a SIREN, accepting spaces between digit groups.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        if s.len() != 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("« {s} » n'est pas un SIREN : il faut 9 chiffres."));
        }
        if !luhn_valid(&s) {
            return Err(format!(
                "Le SIREN « {s} » est invalide : sa clé de contrôle ne correspond pas."
            ));
        }
        Ok(Self(s))
    }
}
string_newtype!(Siren);

/// A SIRET: 14 digits with a Luhn check digit (La Poste's establishments excepted, as the norm says).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Siret(String);

impl Siret {
    /// Parses a SIRET, accepting spaces between digit groups.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        if s.len() != 14 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("« {s} » n'est pas un SIRET : il faut 14 chiffres."));
        }
        // La Poste (SIREN 356000000) numbers its establishments with a digit-sum rule instead.
        let la_poste = s.starts_with("356000000")
            && s.bytes().map(|b| u32::from(b - b'0')).sum::<u32>() % 5 == 0;
        if !la_poste && !luhn_valid(&s) {
            return Err(format!(
                "Le SIRET « {s} » est invalide : sa clé de contrôle ne correspond pas."
            ));
        }
        Ok(Self(s))
    }
    /// The SIREN of the establishment's company.
    pub fn siren(&self) -> &str {
        &self.0[..9]
    }
}
string_newtype!(Siret);

/// An RNA number (répertoire national des associations): `W` + 9 digits (e.g. `W595012345`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rna(String);

impl Rna {
    /// Parses an RNA number, accepting a lower-case `w` and spaces.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s: String = s
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_uppercase();
        let valid =
            s.len() == 10 && s.starts_with('W') && s[1..].bytes().all(|b| b.is_ascii_digit());
        if !valid {
            return Err(format!(
                "« {s} » n'est pas un numéro RNA : il faut la lettre W suivie de 9 chiffres."
            ));
        }
        Ok(Self(s))
    }
}
string_newtype!(Rna);

/// A QPV code: 2024 generation `QN` + 5 digits/letters + letter (e.g. `QN05971M`),
/// or 2015 generation `QP` + 6 digits (e.g. `QP059074`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QpvCode(String);

impl QpvCode {
    /// Parses a QPV code of either generation.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim().to_ascii_uppercase();
        let b = s.as_bytes();
        let gen2024 = b.len() == 8
            && s.starts_with("QN")
            && b[2..7].iter().all(u8::is_ascii_alphanumeric)
            && b[7].is_ascii_uppercase();
        let gen2015 =
            b.len() == 8 && s.starts_with("QP") && b[2..].iter().all(u8::is_ascii_alphanumeric);
        if gen2024 || gen2015 {
            Ok(Self(s))
        } else {
            Err(format!(
                "« {s} » n'est pas un code QPV (QN + 6 caractères pour 2024, QP + 6 pour 2015)."
            ))
        }
    }
    /// The generation of the code: "2024" or "2015".
    pub fn generation(&self) -> &'static str {
        if self.0.starts_with("QN") {
            "2024"
        } else {
            "2015"
        }
    }
}
string_newtype!(QpvCode);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insee_codes() {
        assert_eq!(InseeCode::parse("59350").unwrap().as_str(), "59350");
        assert_eq!(InseeCode::parse(" 2a004 ").unwrap().as_str(), "2A004");
        for bad in ["5935", "593500", "5935A", "2C004", "00123", ""] {
            assert!(InseeCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn siren_check_digit() {
        // MEL, CA Lens-Liévin and Valenciennes Métropole (COG 2025).
        for ok in ["200093201", "246200364", "245901160", "200 093 201"] {
            assert!(Siren::parse(ok).is_ok(), "{ok}");
        }
        assert!(Siren::parse("200093202")
            .unwrap_err()
            .contains("clé de contrôle"));
        assert!(Siren::parse("12345").unwrap_err().contains("9 chiffres"));
    }

    #[test]
    fn rna_is_w_and_nine_digits() {
        assert_eq!(Rna::parse("w595 012345").unwrap().as_str(), "W595012345");
        assert!(Rna::parse("W59501234").is_err());
        assert!(Rna::parse("X595012345").is_err());
        assert!(Rna::parse("W59501234A").is_err());
    }

    #[test]
    fn siret_check_digit() {
        let s = Siret::parse("732 829 320 00074").unwrap();
        assert_eq!(s.siren(), "732829320");
        assert!(Siret::parse("73282932000075").is_err());
        assert!(Siret::parse("35600000000048").is_ok(), "La Poste rule");
        assert!(Siret::parse("1234").is_err());
    }

    #[test]
    fn qpv_codes() {
        assert_eq!(QpvCode::parse("qn05971m").unwrap().generation(), "2024");
        assert_eq!(QpvCode::parse("QP059074").unwrap().generation(), "2015");
        assert!(QpvCode::parse("QX059074").is_err());
        assert!(QpvCode::parse("QN0597").is_err());
    }

    #[test]
    fn serde_rejects_invalid() {
        assert!(serde_json::from_str::<Siren>("\"200093202\"").is_err());
        assert_eq!(
            serde_json::from_str::<InseeCode>("\"59350\"")
                .unwrap()
                .as_str(),
            "59350"
        );
    }
}
