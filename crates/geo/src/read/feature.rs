//! Shared feature processing: the per-file context ([`Ctx`]) through which every reader
//! turns each feature (properties and polygons in source coordinates) into a [`Perimeter`]
//! or a rejection, and fills the [`ImportReport`].

use super::repair::process_geometry;
use super::{ImportReport, ReadError, ReadOptions, ReadOutput, Rejection, Repair};
use crate::crs::{Crs, ToWgs84};
use crate::perimeter::{qpv_generation_from_code, Perimeter, PerimeterKind};
use serde_json::{Map, Value};

/// Polygons as rings of `(x, y)` in source coordinates (exterior first).
pub(super) type RawPolygons = Vec<Vec<Vec<(f64, f64)>>>;

/// What a reader carries through one file: the options, the source system and its
/// transformation to WGS84, the output being built, and the first feature number of each
/// code seen (to report duplicates).
pub(super) struct Ctx<'a> {
    pub(super) opts: &'a ReadOptions,
    crs: Crs,
    to_wgs84: ToWgs84,
    pub(super) out: ReadOutput,
    seen_codes: std::collections::HashMap<String, usize>,
}

impl<'a> Ctx<'a> {
    pub(super) fn new(opts: &'a ReadOptions, crs: Crs) -> Result<Self, ReadError> {
        let out = ReadOutput {
            report: ImportReport {
                source_crs: Some(crs),
                ..Default::default()
            },
            ..Default::default()
        };
        Ok(Ctx {
            opts,
            crs,
            to_wgs84: crs.to_wgs84()?,
            out,
            seen_codes: Default::default(),
        })
    }

    /// With [`ReadOptions::official_qpv_codes`], the French reason why `code` cannot be a
    /// QPV of this import: not an official code, or of another generation.
    fn check_official_code(&self, code: &str) -> Result<(), String> {
        if !(self.opts.official_qpv_codes && self.opts.kind == PerimeterKind::Qpv) {
            return Ok(());
        }
        let Some(of_code) = qpv_generation_from_code(code) else {
            return Err(format!(
                "« {code} » n'est pas un code de QPV (QN + 6 caractères pour la génération \
                 2024, QP + 6 pour 2015) : si ce n'est pas un quartier prioritaire, importez-le \
                 comme autre périmètre (quartiers perimeter import)"
            ));
        };
        match self.opts.generation.as_deref() {
            Some(g) if g != of_code => Err(format!(
                "le code « {code} » est de la génération {of_code}, pas {g} : vérifiez la \
                 génération indiquée"
            )),
            _ => Ok(()),
        }
    }

    pub(super) fn reject(&mut self, feature: usize, message: String) {
        self.out.report.features_read += 1;
        self.out
            .report
            .rejected
            .push(Rejection { feature, message });
    }

    /// Process one feature: properties and geometry (or a geometry error message).
    pub(super) fn feature(
        &mut self,
        feature: usize,
        props: Map<String, Value>,
        geom: Result<RawPolygons, String>,
    ) {
        let code = match (self.code(&props), &self.opts.code_prefix) {
            (Ok(c), _) => c,
            (Err(_), Some(prefix)) if self.opts.kind != PerimeterKind::Qpv => {
                format!("{prefix}-{feature}")
            }
            (Err(m), _) => return self.reject(feature, m),
        };
        if let Err(m) = self.check_official_code(&code) {
            return self.reject(feature, m);
        }
        let geom = match geom {
            Ok(g) => g,
            Err(m) => return self.reject(feature, format!("{code} : {m}")),
        };
        let mut actions = Vec::new();
        let geometry = match process_geometry(
            geom,
            self.crs,
            &self.to_wgs84,
            self.opts.fix_swapped_axes,
            &mut actions,
        ) {
            Ok(g) => g,
            Err(m) => return self.reject(feature, format!("{code} : {m}")),
        };
        let name = self.name(&props).unwrap_or_else(|| code.clone());
        let insee_communes = self.communes(&props);
        let generation = self.opts.generation.clone().or_else(|| {
            (self.opts.kind == PerimeterKind::Qpv)
                .then(|| qpv_generation_from_code(&code).map(str::to_string))
                .flatten()
        });
        if let Some(first) = self.seen_codes.get(&code) {
            self.out.report.warnings.push(format!(
                "code « {code} » en double : entités n°{first} et n°{feature} (les deux sont conservées)"
            ));
        } else {
            self.seen_codes.insert(code.clone(), feature);
        }
        if !actions.is_empty() {
            self.out.report.repaired.push(Repair {
                feature,
                code: code.clone(),
                action: actions.join(" ; "),
            });
        }
        self.out.report.features_read += 1;
        self.out.report.accepted += 1;
        self.out.perimeters.push(Perimeter {
            code,
            name,
            kind: self.opts.kind,
            insee_communes,
            generation,
            geometry,
            properties: props,
        });
    }
}
