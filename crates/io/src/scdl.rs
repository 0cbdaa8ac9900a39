//! The decided subsidies as open data, in the national local-data schema for subsidies:
//! SCDL « subventions » (Socle Commun des Données Locales, OpenDataFrance), **version
//! 2.1.1** as published on schema.data.gouv.fr (`scdl/subventions`), which implements the
//! décret n° 2017-779 du 5 mai 2017 and the arrêté du 17 novembre 2017 on the essential data
//! of subsidy agreements.
//!
//! The file has the schema's 16 columns, in the schema's order ([`SCDL_COLUMNS`]), one row
//! per beneficiary of a subsidy. CSV conventions: UTF-8 without byte order mark, comma
//! separator, CRLF line ends, fields quoted with `"` only when they need it, missing
//! optional values written as empty fields; amounts and percentages with a decimal point
//! (`47800.20`, `0.45`), dates `AAAA-MM-JJ`, periods `AAAA-MM-JJ/AAAA-MM-JJ`, booleans
//! `oui` / `non`.

use std::io::Write;

/// Column names of SCDL « subventions » 2.1.1, in the schema's order.
pub const SCDL_COLUMNS: [&str; 16] = [
    "nomAttribuant",
    "idAttribuant",
    "dateConvention",
    "referenceDecision",
    "nomBeneficiaire",
    "idBeneficiaire",
    "rnaBeneficiaire",
    "objet",
    "montant",
    "nature",
    "conditionsVersement",
    "datesPeriodeVersement",
    "idRAE",
    "notificationUE",
    "pourcentageSubvention",
    "dispositifAide",
];

/// Most characters of `objet` (and of a free `conditionsVersement`) the schema accepts.
pub const MAX_TEXT_CHARS: usize = 256;

/// `nature`: in cash, in kind, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScdlNature {
    /// `aide en numéraire`.
    #[default]
    Numeraire,
    /// `aide en nature`.
    Nature,
    /// `aide en numéraire;aide en nature`.
    NumeraireEtNature,
}

impl ScdlNature {
    /// The value written in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            ScdlNature::Numeraire => "aide en numéraire",
            ScdlNature::Nature => "aide en nature",
            ScdlNature::NumeraireEtNature => "aide en numéraire;aide en nature",
        }
    }
}

/// `conditionsVersement`: paid at once, in instalments, or otherwise (free description).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ScdlPaymentTerms {
    /// `unique`.
    #[default]
    Unique,
    /// `échelonné` (advance and balance...).
    Echelonne,
    /// A free description of other terms (at most [`MAX_TEXT_CHARS`] characters).
    Autre(String),
}

impl ScdlPaymentTerms {
    /// The value written in the file.
    pub fn as_str(&self) -> &str {
        match self {
            ScdlPaymentTerms::Unique => "unique",
            ScdlPaymentTerms::Echelonne => "échelonné",
            ScdlPaymentTerms::Autre(s) if s.trim().is_empty() => "autre",
            ScdlPaymentTerms::Autre(s) => s,
        }
    }
}

/// One row of the file: one subsidy (or one beneficiary's part of a subsidy shared between
/// several), one field per field of the schema.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScdlSubsidy {
    /// `nomAttribuant`: official name of the body granting the subsidy (required).
    pub nom_attribuant: String,
    /// `idAttribuant`: its SIRET, 14 digits (required).
    pub id_attribuant: String,
    /// `dateConvention`: date of the agreement, `AAAA-MM-JJ` (required).
    pub date_convention: String,
    /// `referenceDecision`: internal reference of the decision (deliberation...).
    pub reference_decision: Option<String>,
    /// `nomBeneficiaire`: official name of the beneficiary (required).
    pub nom_beneficiaire: String,
    /// `idBeneficiaire`: SIRET of the beneficiary, 14 digits (this or `rnaBeneficiaire`).
    pub id_beneficiaire: Option<String>,
    /// `rnaBeneficiaire`: RNA number of an association, `W` + 9 digits.
    pub rna_beneficiaire: Option<String>,
    /// `objet`: what the subsidy is for (required; cut to [`MAX_TEXT_CHARS`] characters).
    pub objet: String,
    /// `montant`: total amount of the subsidy **in euro cents** (written in euros,
    /// `47800.20`), before any split between beneficiaries (required).
    pub montant: i64,
    /// `nature` (required).
    pub nature: ScdlNature,
    /// `conditionsVersement` (required).
    pub conditions_versement: ScdlPaymentTerms,
    /// `datesPeriodeVersement`: payment date `AAAA-MM-JJ` or period
    /// `AAAA-MM-JJ/AAAA-MM-JJ` (required; see [`ScdlSubsidy::payment_period`]).
    pub dates_periode_versement: String,
    /// `idRAE`: reference in the Répertoire des Aides aux Entreprises (at most 5 characters).
    pub id_rae: Option<String>,
    /// `notificationUE`: State aid notified to the European Commission (required).
    pub notification_ue: bool,
    /// `pourcentageSubvention`: this beneficiary's share of `montant`, between 0.01 and 1
    /// (1 for a single beneficiary) (required).
    pub pourcentage_subvention: f64,
    /// `dispositifAide`: identifier of the aid scheme (schema « dispositifs d'aide »).
    pub dispositif_aide: Option<String>,
}

/// An amount in cents written in euros with a decimal point: `4780020` → `47800.20`.
pub fn euros(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let a = cents.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

/// A share written with a decimal point, at least 2 and at most 4 decimals: `1.00`, `0.45`,
/// `0.3333`.
pub fn share(p: f64) -> String {
    let mut s = format!("{p:.4}");
    while s.ends_with('0') && s.len() - s.find('.').unwrap_or(0) > 3 {
        s.pop();
    }
    s
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(n - 1).collect();
        out.push('…');
        out
    }
}

fn is_iso_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
}

fn digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|c| c.is_ascii_digit())
}

impl ScdlSubsidy {
    /// `datesPeriodeVersement` for payments between two ISO dates (one date when both are
    /// the same).
    pub fn payment_period(first: &str, last: &str) -> String {
        if first == last {
            first.to_string()
        } else {
            format!("{first}/{last}")
        }
    }

    /// What makes this row invalid for the schema, in French (empty when valid).
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        fn opt(o: &Option<String>) -> Option<&str> {
            o.as_deref().map(str::trim).filter(|s| !s.is_empty())
        }
        if self.nom_attribuant.trim().is_empty() {
            p.push("nomAttribuant : le nom de l'attribuant est obligatoire".to_string());
        }
        if !digits(&self.id_attribuant, 14) {
            p.push(format!(
                "idAttribuant : « {} » n'est pas un SIRET (14 chiffres)",
                self.id_attribuant
            ));
        }
        if !is_iso_date(&self.date_convention) {
            p.push(format!(
                "dateConvention : « {} » n'est pas une date AAAA-MM-JJ",
                self.date_convention
            ));
        }
        if self.nom_beneficiaire.trim().is_empty() {
            p.push("nomBeneficiaire : le nom du bénéficiaire est obligatoire".to_string());
        }
        match (opt(&self.id_beneficiaire), opt(&self.rna_beneficiaire)) {
            (None, None) => p.push(
                "idBeneficiaire / rnaBeneficiaire : le SIRET ou le numéro RNA du bénéficiaire est obligatoire"
                    .to_string(),
            ),
            (id, rna) => {
                if let Some(id) = id.filter(|id| !digits(id, 14)) {
                    p.push(format!(
                        "idBeneficiaire : « {id} » n'est pas un SIRET (14 chiffres)"
                    ));
                }
                if let Some(rna) =
                    rna.filter(|r| !(r.starts_with('W') && digits(&r[1..], 9)))
                {
                    p.push(format!(
                        "rnaBeneficiaire : « {rna} » n'est pas un numéro RNA (W suivi de 9 chiffres)"
                    ));
                }
            }
        }
        if self.objet.trim().is_empty() {
            p.push("objet : l'objet de la subvention est obligatoire".to_string());
        }
        let dates = &self.dates_periode_versement;
        let period_ok = match dates.split_once('/') {
            Some((a, b)) => is_iso_date(a) && is_iso_date(b),
            None => is_iso_date(dates),
        };
        if !period_ok {
            p.push(format!(
                "datesPeriodeVersement : « {dates} » n'est ni une date AAAA-MM-JJ ni une période AAAA-MM-JJ/AAAA-MM-JJ"
            ));
        }
        if let Some(rae) = opt(&self.id_rae).filter(|r| r.chars().count() > 5) {
            p.push(format!("idRAE : « {rae} » dépasse 5 caractères"));
        }
        if !(0.01..=1.0).contains(&self.pourcentage_subvention) {
            p.push(format!(
                "pourcentageSubvention : {} n'est pas compris entre 0.01 et 1",
                self.pourcentage_subvention
            ));
        }
        p
    }

    fn record(&self) -> [String; 16] {
        let opt = |o: &Option<String>| o.as_deref().unwrap_or("").trim().to_string();
        [
            self.nom_attribuant.trim().to_string(),
            self.id_attribuant.trim().to_string(),
            self.date_convention.trim().to_string(),
            opt(&self.reference_decision),
            self.nom_beneficiaire.trim().to_string(),
            opt(&self.id_beneficiaire),
            opt(&self.rna_beneficiaire),
            cut(self.objet.trim(), MAX_TEXT_CHARS),
            euros(self.montant),
            self.nature.as_str().to_string(),
            cut(self.conditions_versement.as_str().trim(), MAX_TEXT_CHARS),
            self.dates_periode_versement.trim().to_string(),
            opt(&self.id_rae),
            if self.notification_ue { "oui" } else { "non" }.to_string(),
            share(self.pourcentage_subvention),
            opt(&self.dispositif_aide),
        ]
    }
}

/// Writes the rows as an SCDL « subventions » 2.1.1 CSV file (header line first; see the
/// module documentation for the conventions). Rows are written as given: check them with
/// [`ScdlSubsidy::problems`] first to publish only valid ones.
pub fn write_scdl_csv(rows: &[ScdlSubsidy], out: impl Write) -> std::io::Result<()> {
    let mut w = csv::WriterBuilder::new()
        .delimiter(b',')
        .terminator(csv::Terminator::CRLF)
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(out);
    w.write_record(SCDL_COLUMNS)?;
    for r in rows {
        w.write_record(r.record())?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mel_grant() -> ScdlSubsidy {
        ScdlSubsidy {
            nom_attribuant: "Métropole Européenne de Lille".into(),
            id_attribuant: "20004167200011".into(),
            date_convention: "2025-04-10".into(),
            reference_decision: Some("25-C-0142".into()),
            nom_beneficiaire: "Association Les Petits Débrouillards, Hauts-de-France".into(),
            id_beneficiaire: Some("38047555800058".into()),
            rna_beneficiaire: Some("W595012345".into()),
            objet: "Ateliers \"sciences\" au pied des immeubles".into(),
            montant: 1_250_050,
            nature: ScdlNature::Numeraire,
            conditions_versement: ScdlPaymentTerms::Echelonne,
            dates_periode_versement: ScdlSubsidy::payment_period("2025-05-02", "2026-03-31"),
            id_rae: None,
            notification_ue: false,
            pourcentage_subvention: 1.0,
            dispositif_aide: Some("contrat-de-ville-2025".into()),
        }
    }

    #[test]
    fn header_and_row_exactly() {
        let mut out = Vec::new();
        write_scdl_csv(&[mel_grant()], &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "nomAttribuant,idAttribuant,dateConvention,referenceDecision,nomBeneficiaire,idBeneficiaire,rnaBeneficiaire,objet,montant,nature,conditionsVersement,datesPeriodeVersement,idRAE,notificationUE,pourcentageSubvention,dispositifAide\r\n\
             Métropole Européenne de Lille,20004167200011,2025-04-10,25-C-0142,\"Association Les Petits Débrouillards, Hauts-de-France\",38047555800058,W595012345,\"Ateliers \"\"sciences\"\" au pied des immeubles\",12500.50,aide en numéraire,échelonné,2025-05-02/2026-03-31,,non,1.00,contrat-de-ville-2025\r\n"
        );
        assert!(
            mel_grant().problems().is_empty(),
            "{:?}",
            mel_grant().problems()
        );
    }

    #[test]
    fn empty_file_has_the_header_only() {
        let mut out = Vec::new();
        write_scdl_csv(&[], &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("{}\r\n", SCDL_COLUMNS.join(","))
        );
    }

    #[test]
    fn values_are_formatted_as_the_schema_says() {
        assert_eq!(euros(4_780_020), "47800.20");
        assert_eq!(euros(5), "0.05");
        assert_eq!(euros(-150), "-1.50");
        assert_eq!(share(1.0), "1.00");
        assert_eq!(share(0.45), "0.45");
        assert_eq!(share(1.0 / 3.0), "0.3333");
        assert_eq!(share(0.125), "0.125");
        assert_eq!(
            ScdlSubsidy::payment_period("2025-06-01", "2025-06-01"),
            "2025-06-01"
        );
        assert_eq!(
            ScdlNature::NumeraireEtNature.as_str(),
            "aide en numéraire;aide en nature"
        );
        assert_eq!(ScdlPaymentTerms::Autre(String::new()).as_str(), "autre");
        let mut g = mel_grant();
        g.objet = "x".repeat(300);
        g.notification_ue = true;
        let rec = g.record();
        assert_eq!(rec[7].chars().count(), MAX_TEXT_CHARS);
        assert_eq!(rec[13], "oui");
    }

    #[test]
    fn problems_are_named_in_french() {
        let g = ScdlSubsidy {
            id_attribuant: "2000416720001".into(),
            date_convention: "10/04/2025".into(),
            rna_beneficiaire: Some("595012345".into()),
            dates_periode_versement: "2025-05-02_2026-03-31".into(),
            id_rae: Some("123456".into()),
            pourcentage_subvention: 0.0,
            ..mel_grant()
        };
        let p = g.problems();
        assert_eq!(p.len(), 6, "{p:?}");
        assert!(p[0].starts_with("idAttribuant"));
        assert!(p.iter().any(|m| m.starts_with("rnaBeneficiaire")));
        let g = ScdlSubsidy {
            id_beneficiaire: None,
            rna_beneficiaire: None,
            ..mel_grant()
        };
        assert_eq!(
            g.problems(),
            vec!["idBeneficiaire / rnaBeneficiaire : le SIRET ou le numéro RNA du bénéficiaire est obligatoire"]
        );
    }
}
