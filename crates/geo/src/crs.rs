//! Coordinate reference systems used by French "politique de la ville" data, and their
//! transformation to WGS84 longitude/latitude.
//!
//! Supported systems (every geometry handled by Quartiers ends up in WGS84 lon/lat):
//!
//! | [`Crs`] variant | EPSG | Territory |
//! |---|---|---|
//! | [`Crs::Wgs84`] | 4326 / CRS84 (also 4171 RGF93 geographic, 4258 ETRS89) | everywhere |
//! | [`Crs::Lambert93`] | 2154 | metropolitan France |
//! | [`Crs::Rgaf09Utm20N`] | 5490 | Guadeloupe, Martinique |
//! | [`Crs::Rgfg95Utm22N`] | 2972 | Guyane |
//! | [`Crs::Rgr92Utm40S`] | 2975 | La Réunion |
//! | [`Crs::Rgm04Utm38S`] | 4471 | Mayotte |
//!
//! All the French geodetic frames above (RGF93, RGAF09, RGFG95, RGR92, RGM04) are ITRS
//! realisations on the GRS80 ellipsoid; PROJ itself uses a null datum shift to WGS84 for
//! them, and so do we (`+towgs84=0,0,0`): the difference is a few centimetres.
//!
//! The projection maths is done by [`proj4rs`] (pure Rust port of proj4); this module only
//! knows the proj strings and how to recognise a system from an EPSG code, a GeoJSON `crs`
//! member or a shapefile `.prj` (WKT 1, OGC or ESRI flavour, and WKT 2 names).

use proj4rs::proj::Proj;
use std::fmt;

/// A coordinate reference system known to Quartiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Crs {
    /// WGS84 longitude/latitude in degrees (EPSG:4326 with lon/lat axis order, i.e. CRS84).
    Wgs84,
    /// RGF93 v1 / Lambert-93 (EPSG:2154), metropolitan France.
    Lambert93,
    /// RGAF09 / UTM zone 20N (EPSG:5490), Guadeloupe and Martinique.
    Rgaf09Utm20N,
    /// RGFG95 / UTM zone 22N (EPSG:2972), Guyane.
    Rgfg95Utm22N,
    /// RGR92 / UTM zone 40S (EPSG:2975), La Réunion.
    Rgr92Utm40S,
    /// RGM04 / UTM zone 38S (EPSG:4471), Mayotte.
    Rgm04Utm38S,
}

/// Error raised when a coordinate reference system cannot be recognised or used.
/// Messages are in French: they are shown to the people importing files.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CrsError {
    /// The EPSG code is not one of the supported systems.
    #[error("système de coordonnées EPSG:{0} non pris en charge (acceptés : {list})", list = Crs::supported_list())]
    UnsupportedEpsg(u32),
    /// The textual identifier or WKT could not be matched to a supported system.
    #[error("système de coordonnées non reconnu : « {0} » (acceptés : {list})", list = Crs::supported_list())]
    Unrecognised(String),
    /// The proj engine refused a definition or a point.
    #[error("erreur de projection : {0}")]
    Projection(String),
}

impl Crs {
    /// Every supported system, in a stable order.
    pub const ALL: [Crs; 6] = [
        Crs::Wgs84,
        Crs::Lambert93,
        Crs::Rgaf09Utm20N,
        Crs::Rgfg95Utm22N,
        Crs::Rgr92Utm40S,
        Crs::Rgm04Utm38S,
    ];

    /// The main EPSG code of the system.
    pub fn epsg(self) -> u32 {
        match self {
            Crs::Wgs84 => 4326,
            Crs::Lambert93 => 2154,
            Crs::Rgaf09Utm20N => 5490,
            Crs::Rgfg95Utm22N => 2972,
            Crs::Rgr92Utm40S => 2975,
            Crs::Rgm04Utm38S => 4471,
        }
    }

    /// Human-readable name (the EPSG name).
    pub fn name(self) -> &'static str {
        match self {
            Crs::Wgs84 => "WGS 84 (longitude/latitude)",
            Crs::Lambert93 => "RGF93 v1 / Lambert-93",
            Crs::Rgaf09Utm20N => "RGAF09 / UTM zone 20N",
            Crs::Rgfg95Utm22N => "RGFG95 / UTM zone 22N",
            Crs::Rgr92Utm40S => "RGR92 / UTM zone 40S",
            Crs::Rgm04Utm38S => "RGM04 / UTM zone 38S",
        }
    }

    /// The proj4 definition string of the system.
    pub fn proj_string(self) -> &'static str {
        match self {
            Crs::Wgs84 => "+proj=longlat +datum=WGS84 +no_defs",
            Crs::Lambert93 => {
                "+proj=lcc +lat_0=46.5 +lon_0=3 +lat_1=49 +lat_2=44 +x_0=700000 +y_0=6600000 \
                 +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs"
            }
            Crs::Rgaf09Utm20N => {
                "+proj=utm +zone=20 +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs"
            }
            Crs::Rgfg95Utm22N => {
                "+proj=utm +zone=22 +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs"
            }
            Crs::Rgr92Utm40S => {
                "+proj=utm +zone=40 +south +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs"
            }
            Crs::Rgm04Utm38S => {
                "+proj=utm +zone=38 +south +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs"
            }
        }
    }

    /// True for geographic (degree) systems.
    pub fn is_geographic(self) -> bool {
        matches!(self, Crs::Wgs84)
    }

    /// Rough bounds `(xmin, ymin, xmax, ymax)` of the territory the system is meant for,
    /// in the system's own units, with a generous margin. Used to detect swapped axes
    /// and obviously wrong systems.
    pub fn area_of_use(self) -> (f64, f64, f64, f64) {
        match self {
            Crs::Wgs84 => (-180.0, -90.0, 180.0, 90.0),
            Crs::Lambert93 => (-400_000.0, 5_900_000.0, 1_400_000.0, 7_300_000.0),
            Crs::Rgaf09Utm20N => (400_000.0, 1_400_000.0, 900_000.0, 2_100_000.0),
            Crs::Rgfg95Utm22N => (0.0, 0.0, 700_000.0, 700_000.0),
            Crs::Rgr92Utm40S => (200_000.0, 7_550_000.0, 500_000.0, 7_800_000.0),
            Crs::Rgm04Utm38S => (450_000.0, 8_500_000.0, 600_000.0, 8_650_000.0),
        }
    }

    fn supported_list() -> String {
        Crs::ALL
            .iter()
            .map(|c| format!("EPSG:{} ({})", c.epsg(), c.name()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Recognise a system from an EPSG code. Geographic codes whose frame coincides with
    /// WGS84 at the metre level (4326, 4171 RGF93, 4258 ETRS89, 4979, 4326's CRS84 alias)
    /// map to [`Crs::Wgs84`].
    pub fn from_epsg(code: u32) -> Result<Crs, CrsError> {
        Ok(match code {
            4326 | 4979 | 4171 | 4258 => Crs::Wgs84,
            2154 => Crs::Lambert93,
            5490 | 4559 | 2989 => Crs::Rgaf09Utm20N, // 4559: RRAF91 / UTM 20N, same projection
            2972 => Crs::Rgfg95Utm22N,
            2975 => Crs::Rgr92Utm40S,
            4471 => Crs::Rgm04Utm38S,
            other => return Err(CrsError::UnsupportedEpsg(other)),
        })
    }

    /// Recognise a system from a textual identifier as found in GeoJSON `crs` members or
    /// user input: `EPSG:2154`, `urn:ogc:def:crs:EPSG::2154`, `urn:ogc:def:crs:OGC:1.3:CRS84`,
    /// `http://www.opengis.net/def/crs/EPSG/0/2154`, `IGNF:LAMB93`, a bare `2154`…
    pub fn from_identifier(id: &str) -> Result<Crs, CrsError> {
        let t = id.trim();
        let upper = t.to_ascii_uppercase();
        if upper.ends_with("CRS84")
            || upper == "WGS84"
            || upper == "WGS 84"
            || upper.ends_with("CRS:84")
        {
            return Ok(Crs::Wgs84);
        }
        if upper.contains("LAMB93") || upper.contains("LAMBERT-93") || upper.contains("LAMBERT 93")
        {
            return Ok(Crs::Lambert93);
        }
        if upper.contains("EPSG") || upper.chars().all(|c| c.is_ascii_digit()) {
            // The code is the last run of digits.
            let digits: String = upper
                .rsplit(|c: char| !c.is_ascii_digit())
                .find(|s| !s.is_empty())
                .unwrap_or("")
                .to_string();
            if let Ok(code) = digits.parse::<u32>() {
                return Crs::from_epsg(code);
            }
        }
        Err(CrsError::Unrecognised(t.to_string()))
    }

    /// Recognise the system of a GeoJSON object from its (legacy, GeoJSON 2008) `crs`
    /// member. `None` or a missing member means WGS84, as RFC 7946 mandates.
    pub fn from_geojson_crs(crs: Option<&serde_json::Value>) -> Result<Crs, CrsError> {
        let Some(crs) = crs else {
            return Ok(Crs::Wgs84);
        };
        if crs.is_null() {
            return Ok(Crs::Wgs84);
        }
        let props = crs.get("properties");
        if let Some(name) = props.and_then(|p| p.get("name")).and_then(|n| n.as_str()) {
            return Crs::from_identifier(name);
        }
        if let Some(code) = props.and_then(|p| p.get("code")) {
            if let Some(c) = code.as_u64() {
                return Crs::from_epsg(c as u32);
            }
            if let Some(s) = code.as_str() {
                return Crs::from_identifier(s);
            }
        }
        Err(CrsError::Unrecognised(crs.to_string()))
    }

    /// Recognise the system described by a WKT string (shapefile `.prj`, GeoPackage
    /// `gpkg_spatial_ref_sys.definition`). Accepts OGC and ESRI WKT 1 and WKT 2.
    ///
    /// Matching order: top-level `AUTHORITY["EPSG",…]` / `ID["EPSG",…]`; then the system
    /// name (e.g. `RGF_1993_Lambert_93`, `RGR92 / UTM zone 40S`); then the projection
    /// parameters (Lambert conformal conic 49°/44°/3°/700 km, or transverse Mercator with
    /// the UTM central meridian and false northing of each overseas zone).
    pub fn from_wkt(wkt: &str) -> Result<Crs, CrsError> {
        let node = wkt::parse(wkt).ok_or_else(|| CrsError::Unrecognised(short(wkt)))?;
        let kw = node.keyword.to_ascii_uppercase();
        // 1. Explicit authority at the top level.
        for child in node.children() {
            let ck = child.keyword.to_ascii_uppercase();
            if ck == "AUTHORITY" || ck == "ID" {
                let auth = child.string_arg(0).unwrap_or_default().to_ascii_uppercase();
                if auth == "EPSG" {
                    if let Some(code) = child.number_arg(1) {
                        if let Ok(c) = Crs::from_epsg(code as u32) {
                            return Ok(c);
                        }
                    }
                }
            }
        }
        let name = node.string_arg(0).unwrap_or_default();
        let norm: String = name
            .to_ascii_lowercase()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        let geographic = matches!(
            kw.as_str(),
            "GEOGCS" | "GEOGCRS" | "GEODCRS" | "GEOGRAPHICCRS"
        );
        if geographic {
            // Any geographic system on a WGS84-compatible French/European frame.
            let all = wkt.to_ascii_lowercase();
            let ok = [
                "wgs", "rgf", "etrs", "rgaf", "rgfg", "rgr", "rgm", "grs_1980", "grs 1980", "itrf",
            ]
            .iter()
            .any(|k| all.contains(k));
            return if ok {
                Ok(Crs::Wgs84)
            } else {
                Err(CrsError::Unrecognised(short(wkt)))
            };
        }
        // 2. Name.
        if norm.contains("lambert93") || norm.contains("lamb93") {
            return Ok(Crs::Lambert93);
        }
        if norm.contains("utm") {
            let zone =
                |z: &str| norm.contains(&format!("zone{z}")) || norm.contains(&format!("utm{z}"));
            if (norm.contains("rgaf09") || norm.contains("rrafa") || norm.contains("rraf"))
                && zone("20n")
            {
                return Ok(Crs::Rgaf09Utm20N);
            }
            if (norm.contains("rgfg95") || norm.contains("rgfg1995")) && zone("22n") {
                return Ok(Crs::Rgfg95Utm22N);
            }
            if (norm.contains("rgr92") || norm.contains("rgr1992")) && zone("40s") {
                return Ok(Crs::Rgr92Utm40S);
            }
            if (norm.contains("rgm04") || norm.contains("rgm2004")) && zone("38s") {
                return Ok(Crs::Rgm04Utm38S);
            }
        }
        // 3. Parameters.
        let projection = node
            .find("PROJECTION")
            .or_else(|| node.find("METHOD"))
            .and_then(|p| p.string_arg(0))
            .unwrap_or_default()
            .to_ascii_lowercase();
        let param = |names: &[&str]| -> Option<f64> {
            node.find_all("PARAMETER").into_iter().find_map(|p| {
                let n = p
                    .string_arg(0)?
                    .to_ascii_lowercase()
                    .replace([' ', '-'], "_");
                if names.iter().any(|w| n == *w) {
                    p.number_arg(1)
                } else {
                    None
                }
            })
        };
        let near = |a: Option<f64>, b: f64| {
            a.map(|a| (a - b).abs() < 1e-6 * b.abs().max(1.0))
                .unwrap_or(false)
        };
        let fe = param(&["false_easting"]);
        let fnorth = param(&["false_northing"]);
        let cm = param(&[
            "central_meridian",
            "longitude_of_natural_origin",
            "longitude_of_origin",
        ]);
        if projection.contains("lambert") {
            let sp1 = param(&["standard_parallel_1", "latitude_of_1st_standard_parallel"]);
            let sp2 = param(&["standard_parallel_2", "latitude_of_2nd_standard_parallel"]);
            let sp_ok =
                (near(sp1, 49.0) && near(sp2, 44.0)) || (near(sp1, 44.0) && near(sp2, 49.0));
            if sp_ok && near(cm, 3.0) && near(fe, 700_000.0) && near(fnorth, 6_600_000.0) {
                return Ok(Crs::Lambert93);
            }
        }
        if projection.contains("transverse_mercator") || projection.contains("transverse mercator")
        {
            let k = param(&["scale_factor", "scale_factor_at_natural_origin"]);
            if near(k, 0.9996) && near(fe, 500_000.0) {
                let north = near(fnorth, 0.0);
                let south = near(fnorth, 10_000_000.0);
                if north && near(cm, -63.0) {
                    return Ok(Crs::Rgaf09Utm20N);
                }
                if north && near(cm, -51.0) {
                    return Ok(Crs::Rgfg95Utm22N);
                }
                if south && near(cm, 57.0) {
                    return Ok(Crs::Rgr92Utm40S);
                }
                if south && near(cm, 45.0) {
                    return Ok(Crs::Rgm04Utm38S);
                }
            }
        }
        Err(CrsError::Unrecognised(short(wkt)))
    }

    /// Build a transformer from this system to WGS84 lon/lat degrees.
    pub fn to_wgs84(self) -> Result<ToWgs84, CrsError> {
        if self == Crs::Wgs84 {
            return Ok(ToWgs84 {
                crs: self,
                projs: None,
            });
        }
        let src = Proj::from_proj_string(self.proj_string())
            .map_err(|e| CrsError::Projection(e.to_string()))?;
        let dst = Proj::from_proj_string(Crs::Wgs84.proj_string())
            .map_err(|e| CrsError::Projection(e.to_string()))?;
        Ok(ToWgs84 {
            crs: self,
            projs: Some((src, dst)),
        })
    }
}

impl fmt::Display for Crs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EPSG:{} ({})", self.epsg(), self.name())
    }
}

fn short(s: &str) -> String {
    let s = s.trim();
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(80).collect::<String>())
    } else {
        s.to_string()
    }
}

/// A ready-to-use transformation from a [`Crs`] to WGS84 lon/lat degrees.
pub struct ToWgs84 {
    crs: Crs,
    projs: Option<(Proj, Proj)>,
}

impl fmt::Debug for ToWgs84 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToWgs84").field("crs", &self.crs).finish()
    }
}

impl ToWgs84 {
    /// The source system.
    pub fn source(&self) -> Crs {
        self.crs
    }

    /// Transform one point `(x, y)` in source units into `(lon, lat)` degrees.
    pub fn transform(&self, x: f64, y: f64) -> Result<(f64, f64), CrsError> {
        match &self.projs {
            None => Ok((x, y)),
            Some((src, dst)) => {
                let mut p = (x, y, 0.0);
                proj4rs::transform::transform(src, dst, &mut p)
                    .map_err(|e| CrsError::Projection(e.to_string()))?;
                let (lon, lat) = (p.0.to_degrees(), p.1.to_degrees());
                if !lon.is_finite() || !lat.is_finite() {
                    return Err(CrsError::Projection(format!(
                        "point ({x}, {y}) hors du domaine de la projection"
                    )));
                }
                Ok((lon, lat))
            }
        }
    }

    /// Transform a slice of points in place.
    pub fn transform_in_place(&self, pts: &mut [(f64, f64)]) -> Result<(), CrsError> {
        if self.projs.is_none() {
            return Ok(());
        }
        for p in pts.iter_mut() {
            *p = self.transform(p.0, p.1)?;
        }
        Ok(())
    }
}

/// Minimal WKT (1 and 2) tree parser: `KEYWORD[arg, arg, KEYWORD[...], ...]`.
mod wkt {
    #[derive(Debug, Clone)]
    pub enum Arg {
        Str(String),
        Num(f64),
        Node(Node),
        Word(String),
    }

    #[derive(Debug, Clone)]
    pub struct Node {
        pub keyword: String,
        pub args: Vec<Arg>,
    }

    impl Node {
        pub fn children(&self) -> impl Iterator<Item = &Node> {
            self.args
                .iter()
                .filter_map(|a| if let Arg::Node(n) = a { Some(n) } else { None })
        }
        pub fn string_arg(&self, i: usize) -> Option<String> {
            match self.args.get(i)? {
                Arg::Str(s) | Arg::Word(s) => Some(s.clone()),
                Arg::Num(n) => Some(n.to_string()),
                Arg::Node(_) => None,
            }
        }
        pub fn number_arg(&self, i: usize) -> Option<f64> {
            match self.args.get(i)? {
                Arg::Num(n) => Some(*n),
                Arg::Str(s) | Arg::Word(s) => s.trim().parse().ok(),
                Arg::Node(_) => None,
            }
        }
        /// Depth-first search for the first descendant with this keyword.
        pub fn find(&self, kw: &str) -> Option<&Node> {
            for c in self.children() {
                if c.keyword.eq_ignore_ascii_case(kw) {
                    return Some(c);
                }
                if let Some(f) = c.find(kw) {
                    return Some(f);
                }
            }
            None
        }
        pub fn find_all(&self, kw: &str) -> Vec<&Node> {
            let mut out = Vec::new();
            fn rec<'a>(n: &'a Node, kw: &str, out: &mut Vec<&'a Node>) {
                for c in n.children() {
                    if c.keyword.eq_ignore_ascii_case(kw) {
                        out.push(c);
                    }
                    rec(c, kw, out);
                }
            }
            rec(self, kw, &mut out);
            out
        }
    }

    pub fn parse(s: &str) -> Option<Node> {
        let chars: Vec<char> = s.chars().collect();
        let mut pos = 0;
        let n = node(&chars, &mut pos)?;
        Some(n)
    }

    fn skip_ws(c: &[char], pos: &mut usize) {
        while *pos < c.len() && c[*pos].is_whitespace() {
            *pos += 1;
        }
    }

    fn word(c: &[char], pos: &mut usize) -> String {
        let start = *pos;
        while *pos < c.len()
            && !matches!(c[*pos], '[' | ']' | '(' | ')' | ',' | '"')
            && !c[*pos].is_whitespace()
        {
            *pos += 1;
        }
        c[start..*pos].iter().collect()
    }

    fn node(c: &[char], pos: &mut usize) -> Option<Node> {
        skip_ws(c, pos);
        let keyword = word(c, pos);
        if keyword.is_empty() {
            return None;
        }
        skip_ws(c, pos);
        if *pos >= c.len() || !matches!(c[*pos], '[' | '(') {
            return None;
        }
        *pos += 1;
        let mut args = Vec::new();
        loop {
            skip_ws(c, pos);
            if *pos >= c.len() {
                return None;
            }
            match c[*pos] {
                ']' | ')' => {
                    *pos += 1;
                    break;
                }
                ',' => {
                    *pos += 1;
                }
                '"' => {
                    *pos += 1;
                    let mut s = String::new();
                    while *pos < c.len() {
                        if c[*pos] == '"' {
                            if *pos + 1 < c.len() && c[*pos + 1] == '"' {
                                s.push('"');
                                *pos += 2;
                                continue;
                            }
                            break;
                        }
                        s.push(c[*pos]);
                        *pos += 1;
                    }
                    *pos += 1;
                    args.push(Arg::Str(s));
                }
                _ => {
                    let save = *pos;
                    let w = word(c, pos);
                    skip_ws(c, pos);
                    if *pos < c.len() && matches!(c[*pos], '[' | '(') && !w.is_empty() {
                        *pos = save;
                        args.push(Arg::Node(node(c, pos)?));
                    } else if let Ok(n) = w.parse::<f64>() {
                        args.push(Arg::Num(n));
                    } else if w.is_empty() {
                        return None;
                    } else {
                        args.push(Arg::Word(w));
                    }
                }
            }
        }
        Some(Node { keyword, args })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(crs: Crs, x: f64, y: f64, lon: f64, lat: f64) {
        let t = crs.to_wgs84().unwrap();
        let (glon, glat) = t.transform(x, y).unwrap();
        // 1e-7 degree is about 1 cm.
        assert!(
            (glon - lon).abs() < 1e-7 && (glat - lat).abs() < 1e-7,
            "{crs}: got {glon},{glat} want {lon},{lat}"
        );
    }

    // Reference values computed with pyproj 3 (PROJ 9), always_xy=True.
    #[test]
    fn lambert93_lille_and_corners() {
        check(Crs::Lambert93, 704061.1459, 7059136.5895, 3.0573, 50.6292); // Lille
        check(Crs::Lambert93, 688095.9752, 7037143.6643, 2.8327, 50.4317); // Lens
        check(Crs::Lambert93, 146632.9785, 6836262.3267, -4.4861, 48.3904); // Brest
        check(Crs::Lambert93, 1043410.1597, 6299400.0430, 7.2620, 43.7102); // Nice
    }

    #[test]
    fn overseas_utm() {
        check(
            Crs::Rgaf09Utm20N,
            656770.8974,
            1796166.1758,
            -61.5331,
            16.2411,
        ); // Pointe-à-Pitre
        check(
            Crs::Rgaf09Utm20N,
            709096.3158,
            1616759.7331,
            -61.0588,
            14.6161,
        ); // Fort-de-France
        check(
            Crs::Rgfg95Utm22N,
            352980.2046,
            545868.9224,
            -52.3260,
            4.9372,
        ); // Cayenne
        check(
            Crs::Rgr92Utm40S,
            338765.9930,
            7690477.3441,
            55.4500,
            -20.8789,
        ); // Saint-Denis
        check(
            Crs::Rgm04Utm38S,
            524735.3747,
            8587115.8115,
            45.2279,
            -12.7806,
        ); // Mamoudzou
    }

    #[test]
    fn wgs84_is_identity() {
        check(Crs::Wgs84, 3.0573, 50.6292, 3.0573, 50.6292);
    }

    #[test]
    fn identifiers() {
        assert_eq!(Crs::from_identifier("EPSG:2154").unwrap(), Crs::Lambert93);
        assert_eq!(
            Crs::from_identifier("urn:ogc:def:crs:EPSG::2154").unwrap(),
            Crs::Lambert93
        );
        assert_eq!(
            Crs::from_identifier("urn:ogc:def:crs:OGC:1.3:CRS84").unwrap(),
            Crs::Wgs84
        );
        assert_eq!(
            Crs::from_identifier("http://www.opengis.net/def/crs/EPSG/0/2975").unwrap(),
            Crs::Rgr92Utm40S
        );
        assert_eq!(Crs::from_identifier("IGNF:LAMB93").unwrap(), Crs::Lambert93);
        assert_eq!(Crs::from_identifier("4471").unwrap(), Crs::Rgm04Utm38S);
        assert_eq!(Crs::from_epsg(4171).unwrap(), Crs::Wgs84);
        let e = Crs::from_epsg(27572).unwrap_err();
        assert!(
            e.to_string().contains("EPSG:27572 non pris en charge"),
            "{e}"
        );
        assert!(Crs::from_identifier("n'importe quoi").is_err());
        let gj: serde_json::Value =
            serde_json::json!({"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::5490"}});
        assert_eq!(Crs::from_geojson_crs(Some(&gj)).unwrap(), Crs::Rgaf09Utm20N);
        assert_eq!(Crs::from_geojson_crs(None).unwrap(), Crs::Wgs84);
    }

    #[test]
    fn wkt_esri_and_ogc() {
        let esri = r#"PROJCS["RGF_1993_Lambert_93",GEOGCS["GCS_RGF_1993",DATUM["D_RGF_1993",SPHEROID["GRS_1980",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Lambert_Conformal_Conic"],PARAMETER["False_Easting",700000.0],PARAMETER["False_Northing",6600000.0],PARAMETER["Central_Meridian",3.0],PARAMETER["Standard_Parallel_1",49.0],PARAMETER["Standard_Parallel_2",44.0],PARAMETER["Latitude_Of_Origin",46.5],UNIT["Meter",1.0]]"#;
        assert_eq!(Crs::from_wkt(esri).unwrap(), Crs::Lambert93);
        // Same parameters, unusual name: matched on parameters.
        let renamed = esri.replace("RGF_1993_Lambert_93", "Mon_Lambert");
        assert_eq!(Crs::from_wkt(&renamed).unwrap(), Crs::Lambert93);
        let utm = r#"PROJCS["RGR_1992_UTM_40S",GEOGCS["GCS_RGR_1992",DATUM["D_RGR_1992",SPHEROID["GRS_1980",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",10000000.0],PARAMETER["Central_Meridian",57.0],PARAMETER["Scale_Factor",0.9996],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]"#;
        assert_eq!(Crs::from_wkt(utm).unwrap(), Crs::Rgr92Utm40S);
        let by_params = utm.replace("RGR_1992_UTM_40S", "x").replace("57.0", "45.0");
        assert_eq!(Crs::from_wkt(&by_params).unwrap(), Crs::Rgm04Utm38S);
        let names = [
            ("RGAF09_UTM_Zone_20N", Crs::Rgaf09Utm20N),
            ("RGFG_1995_UTM_22N", Crs::Rgfg95Utm22N),
            ("RGM_2004_UTM_Zone_38S", Crs::Rgm04Utm38S),
        ];
        for (n, c) in names {
            let w = format!(
                r#"PROJCS["{n}",GEOGCS["x",DATUM["y",SPHEROID["GRS_1980",6378137.0,298.257222101]]],PROJECTION["Transverse_Mercator"]]"#
            );
            assert_eq!(Crs::from_wkt(&w).unwrap(), c, "{n}");
        }
        let ogc = r#"PROJCS["RGF93 v1 / Lambert-93",GEOGCS["RGF93 v1",DATUM["Reseau_Geodesique_Francais_1993_v1",SPHEROID["GRS 1980",6378137,298.257222101,AUTHORITY["EPSG","7019"]],AUTHORITY["EPSG","6171"]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],PROJECTION["Lambert_Conformal_Conic_2SP"],PARAMETER["latitude_of_origin",46.5],PARAMETER["central_meridian",3],PARAMETER["standard_parallel_1",49],PARAMETER["standard_parallel_2",44],PARAMETER["false_easting",700000],PARAMETER["false_northing",6600000],UNIT["metre",1],AUTHORITY["EPSG","2154"]]"#;
        assert_eq!(Crs::from_wkt(ogc).unwrap(), Crs::Lambert93);
        let geog = r#"GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#;
        assert_eq!(Crs::from_wkt(geog).unwrap(), Crs::Wgs84);
        let wkt2 = r#"PROJCRS["RGF93 v1 / Lambert-93",BASEGEOGCRS["RGF93 v1",DATUM["x",ELLIPSOID["GRS 1980",6378137,298.257222101]]],CONVERSION["Lambert-93",METHOD["Lambert Conic Conformal (2SP)"]],ID["EPSG",2154]]"#;
        assert_eq!(Crs::from_wkt(wkt2).unwrap(), Crs::Lambert93);
        let ntf = r#"PROJCS["NTF_Paris_Lambert_zone_II",GEOGCS["GCS_NTF_Paris",DATUM["D_NTF",SPHEROID["Clarke_1880_IGN",6378249.2,293.4660212936269]]],PROJECTION["Lambert_Conformal_Conic"],PARAMETER["False_Easting",600000.0],PARAMETER["Central_Meridian",2.337229166666667],UNIT["Meter",1.0]]"#;
        let e = Crs::from_wkt(ntf).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("système de coordonnées non reconnu"),
            "{e}"
        );
        assert!(Crs::from_wkt("pas du wkt").is_err());
    }
}
