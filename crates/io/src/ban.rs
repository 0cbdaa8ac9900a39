//! Base Adresse Nationale (BAN): reader for the official departmental CSV
//! files (`adresses-XX.csv` or `adresses-XX.csv.gz`, `;`-separated, UTF-8,
//! 23 columns `id;id_fantoir;numero;rep;nom_voie;code_postal;code_insee;
//! nom_commune;code_insee_ancienne_commune;nom_ancienne_commune;x;y;lon;lat;
//! type_position;alias;nom_ld;libelle_acheminement;nom_afnor;source_position;
//! source_nom_voie;certification_commune;cad_parcelles`), an in-memory
//! [`AddressIndex`] and a free-text geocoder.
//!
//! ```
//! use quartiers_io::ban::{AddressIndex, BanReader, Precision};
//!
//! let csv = "id;id_fantoir;numero;rep;nom_voie;code_postal;code_insee;nom_commune;code_insee_ancienne_commune;nom_ancienne_commune;x;y;lon;lat;type_position;alias;nom_ld;libelle_acheminement;nom_afnor;source_position;source_nom_voie;certification_commune;cad_parcelles\n\
//! 59350_1000_00004_bis;59350_1000;4;bis;Rue des Tisserands;59000;59350;Lille;;;701761.34;7059094.53;3.024851;50.628833;entrée;;;LILLE;RUE DES TISSERANDS;commune;commune;1;\n";
//! let records = BanReader::new(csv.as_bytes()).unwrap().collect::<Result<Vec<_>, _>>().unwrap();
//! let index = AddressIndex::from_records(&records);
//! let geocoding = index.geocode("4b r. des Tisserands, 59000 LILLE");
//! let hit = geocoding.found().unwrap();
//! assert_eq!(hit.label, "4 bis Rue des Tisserands 59000 Lille");
//! assert_eq!(hit.precision, Precision::Numero);
//! assert!(hit.score > 0.9);
//! // A street of the base that only shares the word `rue`: not located.
//! let miss = index.geocode("4 rue de la Paix 59000 Lille");
//! assert!(miss.result().is_none());
//! assert!(miss.message().unwrap().starts_with("adresse introuvable"));
//! ```

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use crate::text::{fold, parse_decimal};

/// The official column layout, in order.
pub const BAN_COLUMNS: [&str; 23] = [
    "id",
    "id_fantoir",
    "numero",
    "rep",
    "nom_voie",
    "code_postal",
    "code_insee",
    "nom_commune",
    "code_insee_ancienne_commune",
    "nom_ancienne_commune",
    "x",
    "y",
    "lon",
    "lat",
    "type_position",
    "alias",
    "nom_ld",
    "libelle_acheminement",
    "nom_afnor",
    "source_position",
    "source_nom_voie",
    "certification_commune",
    "cad_parcelles",
];

/// One row of a BAN CSV file, all columns kept (plain data, to be persisted
/// as is by the caller).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct BanRecord {
    /// Interoperability key (`59350_1000_00004_bis`).
    pub id: String,
    /// FANTOIR street identifier, may be empty.
    pub id_fantoir: String,
    /// House number (0 when absent).
    pub numero: u32,
    /// Repetition index (`bis`, `ter`, `a`...), may be empty.
    pub rep: String,
    /// Street name.
    pub nom_voie: String,
    /// Postcode.
    pub code_postal: String,
    /// INSEE code of the current commune.
    pub code_insee: String,
    /// Current commune name.
    pub nom_commune: String,
    /// INSEE code of the former (merged) commune, may be empty.
    pub code_insee_ancienne_commune: String,
    /// Name of the former commune, may be empty.
    pub nom_ancienne_commune: String,
    /// Easting in the legal projection (Lambert-93 in mainland France).
    pub x: Option<f64>,
    /// Northing in the legal projection.
    pub y: Option<f64>,
    /// WGS84 longitude.
    pub lon: f64,
    /// WGS84 latitude.
    pub lat: f64,
    /// Position type (`entrée`, `bâtiment`, `segment`...).
    pub type_position: String,
    /// Alias, may be empty.
    pub alias: String,
    /// Locality name (lieu-dit), may be empty.
    pub nom_ld: String,
    /// Postal routing label.
    pub libelle_acheminement: String,
    /// AFNOR street name (upper case, 32 characters).
    pub nom_afnor: String,
    /// Source of the position.
    pub source_position: String,
    /// Source of the street name.
    pub source_nom_voie: String,
    /// `true` when certified by the commune.
    pub certification_commune: bool,
    /// Cadastral parcels, `|`-separated.
    pub cad_parcelles: String,
}

/// Errors while reading BAN files.
#[derive(Debug, thiserror::Error)]
pub enum BanError {
    /// Read failure.
    #[error("lecture du fichier BAN impossible : {0}")]
    Io(#[from] io::Error),
    /// CSV syntax failure.
    #[error("fichier BAN mal formé : {0}")]
    Csv(#[from] csv::Error),
    /// A mandatory column is missing.
    #[error("fichier BAN : colonne « {0} » absente de l'en-tête")]
    MissingColumn(String),
    /// One row is unusable (the reader goes on with the next one).
    #[error("fichier BAN, ligne {line} : {message}")]
    BadRow {
        /// Line number.
        line: u64,
        /// French explanation.
        message: String,
    },
}

/// Streaming reader of a BAN CSV file, yielding one [`BanRecord`] per row.
/// Columns are found by name, so extra or reordered columns are tolerated.
pub struct BanReader<R> {
    csv: csv::Reader<R>,
    idx: [Option<usize>; 23],
    record: csv::StringRecord,
}

impl BanReader<Box<dyn Read + Send>> {
    /// Opens a file, transparently decompressing gzip (detected from the
    /// magic bytes, not the extension).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, BanError> {
        let mut f = BufReader::with_capacity(1 << 17, File::open(path)?);
        let gz = {
            use std::io::BufRead;
            f.fill_buf()?.starts_with(&[0x1F, 0x8B])
        };
        let inner: Box<dyn Read + Send> = if gz {
            Box::new(flate2::bufread::MultiGzDecoder::new(f))
        } else {
            Box::new(f)
        };
        BanReader::new(inner)
    }
}

impl<R: Read> BanReader<R> {
    /// Reads the header from `reader`.
    pub fn new(reader: R) -> Result<Self, BanError> {
        let mut csv = csv::ReaderBuilder::new()
            .delimiter(b';')
            .flexible(true)
            .has_headers(true)
            .from_reader(reader);
        let headers = csv.headers()?.clone();
        let mut idx = [None; 23];
        for (k, name) in BAN_COLUMNS.iter().enumerate() {
            idx[k] = headers
                .iter()
                .position(|h| h.trim_start_matches('\u{feff}').trim() == *name);
        }
        for required in [0usize, 2, 4, 5, 6, 7, 12, 13] {
            if idx[required].is_none() {
                return Err(BanError::MissingColumn(BAN_COLUMNS[required].to_string()));
            }
        }
        Ok(BanReader {
            csv,
            idx,
            record: csv::StringRecord::new(),
        })
    }

    fn get(&self, k: usize) -> &str {
        self.idx[k].and_then(|i| self.record.get(i)).unwrap_or("")
    }
}

impl<R: Read> Iterator for BanReader<R> {
    type Item = Result<BanRecord, BanError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.csv.read_record(&mut self.record) {
            Ok(false) => return None,
            Ok(true) => {}
            Err(e) => return Some(Err(e.into())),
        }
        let line = self.record.position().map_or(0, |p| p.line());
        let (Some(lon), Some(lat)) = (parse_decimal(self.get(12)), parse_decimal(self.get(13)))
        else {
            return Some(Err(BanError::BadRow {
                line,
                message: "longitude ou latitude illisible".into(),
            }));
        };
        let numero = self.get(2).trim().parse::<u32>().unwrap_or(0);
        let s = |k: usize| self.get(k).to_string();
        Some(Ok(BanRecord {
            id: s(0),
            id_fantoir: s(1),
            numero,
            rep: s(3),
            nom_voie: s(4),
            code_postal: s(5),
            code_insee: s(6),
            nom_commune: s(7),
            code_insee_ancienne_commune: s(8),
            nom_ancienne_commune: s(9),
            x: parse_decimal(self.get(10)),
            y: parse_decimal(self.get(11)),
            lon,
            lat,
            type_position: s(14),
            alias: s(15),
            nom_ld: s(16),
            libelle_acheminement: s(17),
            nom_afnor: s(18),
            source_position: s(19),
            source_nom_voie: s(20),
            certification_commune: matches!(self.get(21).trim(), "1" | "true" | "oui"),
            cad_parcelles: s(22),
        }))
    }
}

// ---------------------------------------------------------------------------
// Normalisation
// ---------------------------------------------------------------------------

/// Expands one folded token if it is a common French street abbreviation.
fn expand(token: &str) -> &str {
    match token {
        "r" => "rue",
        "av" | "ave" | "aven" | "avn" => "avenue",
        "bd" | "bld" | "blvd" | "bvd" | "boul" | "bl" => "boulevard",
        "pl" | "pce" => "place",
        "st" => "saint",
        "ste" => "sainte",
        "sts" => "saints",
        "chem" | "ch" | "che" | "chm" => "chemin",
        "imp" => "impasse",
        "all" | "al" => "allee",
        "rte" => "route",
        "fg" | "fbg" | "faub" => "faubourg",
        "sq" => "square",
        "qu" | "qua" => "quai",
        "crs" => "cours",
        "pass" | "psg" => "passage",
        "res" | "resid" => "residence",
        "lot" | "lotiss" => "lotissement",
        "gal" | "gen" | "gl" | "gnl" => "general",
        "mal" | "marech" => "marechal",
        "pdt" | "presid" => "president",
        "dr" | "doct" => "docteur",
        "prof" => "professeur",
        "cdt" | "cmdt" => "commandant",
        "lt" | "lieut" => "lieutenant",
        "cpt" | "capit" => "capitaine",
        "gd" => "grand",
        "gde" => "grande",
        "mgr" => "monseigneur",
        "rpt" | "rdpt" => "rond point",
        "sen" | "sent" => "sentier",
        "vla" => "villa",
        "esp" => "esplanade",
        "prom" => "promenade",
        "ham" => "hameau",
        "chs" | "chaus" => "chaussee",
        "carref" | "crf" => "carrefour",
        "ctre" => "centre",
        "dom" => "domaine",
        "mte" => "montee",
        "prv" => "parvis",
        "rle" => "ruelle",
        "trav" => "traverse",
        "vx" => "vieux",
        "nd" => "notre dame",
        "cite" | "cit" => "cite",
        _ => token,
    }
}

fn is_stopword(t: &str) -> bool {
    matches!(
        t,
        "de" | "du"
            | "des"
            | "d"
            | "la"
            | "le"
            | "les"
            | "l"
            | "et"
            | "a"
            | "au"
            | "aux"
            | "en"
            | "sur"
            | "cedex"
    )
}

/// Street type words: matched with a lower weight than the name itself.
fn is_type_word(t: &str) -> bool {
    matches!(
        t,
        "rue"
            | "avenue"
            | "boulevard"
            | "place"
            | "chemin"
            | "impasse"
            | "allee"
            | "route"
            | "faubourg"
            | "square"
            | "quai"
            | "cours"
            | "passage"
            | "residence"
            | "lotissement"
            | "sentier"
            | "villa"
            | "esplanade"
            | "promenade"
            | "hameau"
            | "chaussee"
            | "carrefour"
            | "parvis"
            | "ruelle"
            | "traverse"
            | "cite"
            | "voie"
            | "sente"
            | "mail"
            | "rond"
            | "point"
            | "clos"
            | "cour"
            | "domaine"
            | "montee"
            | "quartier"
            | "lieu"
            | "dit"
            | "pont"
            | "porte"
            | "parc"
    )
}

/// Normalises a street or address text into matching tokens: case and
/// accents folded, punctuation removed, abbreviations expanded (`bd` →
/// `boulevard`, `st` → `saint`...), articles and prepositions dropped.
///
/// ```
/// use quartiers_io::ban::normalize_tokens;
/// assert_eq!(normalize_tokens("Bd de l'Abbé-Lemire"), vec!["boulevard", "abbe", "lemire"]);
/// ```
pub fn normalize_tokens(s: &str) -> Vec<String> {
    let folded = fold(s);
    let mut out = Vec::new();
    for t in folded.split(' ').filter(|t| !t.is_empty()) {
        for e in expand(t).split(' ') {
            if !is_stopword(e) {
                out.push(e.to_string());
            }
        }
    }
    out
}

/// [`normalize_tokens`] joined with single spaces.
pub fn normalize_address(s: &str) -> String {
    normalize_tokens(s).join(" ")
}

/// Canonical repetition index: `b` → `bis`, `t` → `ter`, `q` → `quater`,
/// other values folded to lowercase.
pub fn canonical_rep(rep: &str) -> String {
    let r = fold(rep).replace(' ', "");
    match r.as_str() {
        "b" | "bi" | "bis" => "bis".into(),
        "t" | "ter" => "ter".into(),
        "q" | "qua" | "quater" => "quater".into(),
        "quinquies" | "quin" => "quinquies".into(),
        _ => r,
    }
}

fn is_rep_word(t: &str) -> bool {
    matches!(
        t,
        "bis" | "ter" | "quater" | "quinquies" | "b" | "t" | "q" | "a" | "c" | "d" | "e" | "f"
    )
}

/// A free-text query split into its parts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParsedQuery {
    /// House number, when the text starts with one.
    pub numero: Option<u32>,
    /// Canonical repetition index ([`canonical_rep`]), when present.
    pub rep: Option<String>,
    /// Five-digit postcode found anywhere in the text.
    pub code_postal: Option<String>,
    /// Remaining normalised tokens (street and commune words).
    pub tokens: Vec<String>,
    /// The text says `CEDEX`: its postcode is a CEDEX code, absent from the BAN,
    /// and is not checked against the candidates.
    pub cedex: bool,
}

/// Splits an address text into house number, repetition index, postcode and
/// normalised words.
///
/// ```
/// use quartiers_io::ban::parse_query;
/// let q = parse_query("12bis, av. Jean-Jaurès 62300 LENS");
/// assert_eq!(q.numero, Some(12));
/// assert_eq!(q.rep.as_deref(), Some("bis"));
/// assert_eq!(q.code_postal.as_deref(), Some("62300"));
/// assert_eq!(q.tokens, vec!["avenue", "jean", "jaures", "lens"]);
/// ```
pub fn parse_query(text: &str) -> ParsedQuery {
    let folded = fold(text);
    let mut raw: Vec<&str> = folded.split(' ').filter(|t| !t.is_empty()).collect();
    let mut q = ParsedQuery {
        cedex: raw.contains(&"cedex"),
        ..ParsedQuery::default()
    };
    // Postcode: last 5-digit token.
    if let Some(i) = raw
        .iter()
        .rposition(|t| t.len() == 5 && t.bytes().all(|b| b.is_ascii_digit()))
    {
        q.code_postal = Some(raw.remove(i).to_string());
    }
    // Optional "n", "no", "numero" before the number.
    if raw.len() > 1
        && matches!(raw[0], "n" | "no" | "num" | "numero")
        && raw[1].starts_with(|c: char| c.is_ascii_digit())
    {
        raw.remove(0);
    }
    if let Some(first) = raw.first().copied() {
        let digits = first.bytes().take_while(|b| b.is_ascii_digit()).count();
        if digits > 0 && digits <= 5 {
            let (num, suffix) = first.split_at(digits);
            let suffix_ok = suffix.is_empty() || is_rep_word(suffix);
            if suffix_ok {
                if let Ok(n) = num.parse::<u32>() {
                    q.numero = Some(n);
                    raw.remove(0);
                    if !suffix.is_empty() {
                        q.rep = Some(canonical_rep(suffix));
                    } else if raw.len() > 1 && is_rep_word(raw[0]) {
                        q.rep = Some(canonical_rep(raw[0]));
                        raw.remove(0);
                    }
                }
            }
        }
    }
    for t in raw {
        for e in expand(t).split(' ') {
            if !is_stopword(e) {
                q.tokens.push(e.to_string());
            }
        }
    }
    q
}

// ---------------------------------------------------------------------------
// Index
// ---------------------------------------------------------------------------

/// Granularity of a geocoding result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// The exact house number was found.
    Numero,
    /// Street-level position (number missing or unknown): a street can be
    /// partly inside a QPV, so the caller should flag it `à vérifier`.
    Voie,
}

impl Precision {
    /// `numero` or `voie`.
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Numero => "numero",
            Precision::Voie => "voie",
        }
    }
}

/// A match of [`AddressIndex::geocode`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GeocodeResult {
    /// WGS84 longitude.
    pub lon: f64,
    /// WGS84 latitude.
    pub lat: f64,
    /// Confidence in [0, 1].
    pub score: f64,
    /// Matched address, BAN style (`4 bis Rue des Tisserands 59000 Lille`).
    pub label: String,
    /// `numero` or `voie`.
    pub precision: Precision,
    /// BAN id of the address used for the position.
    pub ban_id: String,
    /// INSEE code of the commune.
    pub code_insee: String,
    /// Postcode.
    pub code_postal: String,
    /// Commune name.
    pub commune: String,
}

/// Minimum score of an accepted match. The score adds 0.6 × street-name
/// agreement, 0.15 × share of the query's words explained and 0.25 × commune
/// agreement, minus up to 0.1 for a house number not found: a query whose
/// commune and postcode agree but whose street name does not reaches 0.55, so
/// the bar is above that, at the upper end of what users of the national
/// geocoding service treat as unreliable (0.5–0.6).
pub const MIN_SCORE: f64 = 0.6;

/// Minimum street-name agreement of an accepted match (weighted share of the
/// street's words found in the query, type words such as `rue` counting half):
/// `rue X` never matches `Rue des Tisserands` on the word `rue` alone, while
/// `bd Leclerc` still matches `Boulevard du Général Leclerc` (0.6).
pub const MIN_STREET_MATCH: f64 = 0.5;

/// Accepted matches scoring below this are to be checked by a person (the
/// callers answer `à vérifier`).
pub const CHECK_SCORE: f64 = 0.7;

/// Two accepted matches whose scores differ by at most this much are equally
/// good: the address is ambiguous.
pub const AMBIGUITY_MARGIN: f64 = 0.01;

/// Why the best candidate of a query was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// No street shares a word with the query.
    NoCandidate,
    /// The query's postcode is in no address of the loaded base.
    UnknownPostcode(String),
    /// The query's postcode is not the candidate's.
    PostcodeMismatch(String),
    /// The query names another commune than the candidate's.
    CommuneMismatch(String),
    /// The street name does not match well enough ([`MIN_STREET_MATCH`]), or the
    /// query has a name word where the street has another one.
    StreetMismatch,
    /// The score is under [`MIN_SCORE`].
    LowScore,
}

impl Rejection {
    /// French explanation (lower case, no final full stop).
    pub fn reason(&self) -> String {
        match self {
            Rejection::NoCandidate => "aucune voie ne correspond".into(),
            Rejection::UnknownPostcode(pc) => {
                format!("le code postal {pc} n'y figure pas")
            }
            Rejection::PostcodeMismatch(pc) => {
                format!("le code postal {pc} ne correspond pas à la voie trouvée")
            }
            Rejection::CommuneMismatch(c) => {
                format!("la commune {c} ne correspond pas à la voie trouvée")
            }
            Rejection::StreetMismatch => "aucune voie de ce nom".into(),
            Rejection::LowScore => format!(
                "correspondance trop faible (score inférieur à {})",
                MIN_SCORE.to_string().replace('.', ",")
            ),
        }
    }
}

/// Outcome of [`AddressIndex::geocode`].
#[derive(Debug, Clone, PartialEq)]
pub enum Geocoding {
    /// One reliable match.
    Found(GeocodeResult),
    /// Equally good matches ([`AMBIGUITY_MARGIN`]) on other streets, usually the
    /// same street name in other communes when the query names none: `best` is
    /// the one kept for the position (largest street), to be checked.
    Ambiguous {
        /// The match used for the position.
        best: GeocodeResult,
        /// The other, equally good matches, best first.
        others: Vec<GeocodeResult>,
    },
    /// Nothing good enough: the address is not located.
    NotFound {
        /// Why the best candidate was refused.
        reason: Rejection,
        /// The best candidate, when some street shared a word with the query.
        best: Option<GeocodeResult>,
    },
}

impl Geocoding {
    /// The position to use: the match when found, the kept match when ambiguous.
    pub fn result(&self) -> Option<&GeocodeResult> {
        match self {
            Geocoding::Found(r) | Geocoding::Ambiguous { best: r, .. } => Some(r),
            Geocoding::NotFound { .. } => None,
        }
    }

    /// The best candidate, accepted or not.
    pub fn candidate(&self) -> Option<&GeocodeResult> {
        match self {
            Geocoding::Found(r) | Geocoding::Ambiguous { best: r, .. } => Some(r),
            Geocoding::NotFound { best, .. } => best.as_ref(),
        }
    }

    /// The match when found with certainty (neither ambiguous nor refused).
    pub fn found(&self) -> Option<&GeocodeResult> {
        match self {
            Geocoding::Found(r) => Some(r),
            _ => None,
        }
    }

    /// French message for an ambiguous or refused address (`None` when found):
    /// « adresse introuvable dans la Base Adresse Nationale chargée : … (meilleur
    /// candidat : …, score 0,30) », « adresse ambiguë : la même adresse existe
    /// aussi à Liévin (62800) ; précisez la commune ».
    pub fn message(&self) -> Option<String> {
        match self {
            Geocoding::Found(_) => None,
            Geocoding::NotFound { reason, best } => {
                let mut m =
                    String::from("adresse introuvable dans la Base Adresse Nationale chargée");
                if *reason != Rejection::NoCandidate {
                    m.push_str(" : ");
                    m.push_str(&reason.reason());
                }
                // The candidate of an unknown postcode is unrelated: not shown.
                let unrelated = matches!(reason, Rejection::UnknownPostcode(_));
                if let (Some(b), false) = (best, unrelated) {
                    m.push_str(&format!(
                        " (meilleur candidat : {}, score {})",
                        b.label,
                        format!("{:.2}", b.score).replace('.', ",")
                    ));
                }
                Some(m)
            }
            Geocoding::Ambiguous { best, others } => {
                const SHOWN: usize = 5;
                let other_communes = others.iter().all(|o| o.code_insee != best.code_insee);
                let mut names: Vec<String> = Vec::new();
                for o in others {
                    let n = if other_communes {
                        format!("{} ({})", o.commune, o.code_postal)
                    } else {
                        o.label.clone()
                    };
                    if !names.contains(&n) {
                        names.push(n);
                    }
                }
                let more = names.len().saturating_sub(SHOWN);
                names.truncate(SHOWN);
                let mut list = names.join(", ");
                if more > 0 {
                    list.push_str(&format!(" et {more} autre(s)"));
                }
                Some(if other_communes {
                    format!(
                        "adresse ambiguë : la même adresse existe aussi à {list} ; précisez la commune"
                    )
                } else {
                    format!(
                        "adresse ambiguë : d'autres adresses correspondent aussi bien ({list}) ; précisez la voie"
                    )
                })
            }
        }
    }
}

#[derive(Debug, Clone)]
struct Commune {
    insee: String,
    name: String,
    /// Token sequences naming the commune (current and former names).
    names: Vec<Vec<String>>,
    postcodes: Vec<u32>,
}

#[derive(Debug, Clone)]
struct Street {
    commune: u32,
    name: String,
    tokens: Vec<String>,
    postcodes: Vec<u32>,
    /// Range in `addrs`.
    first: u32,
    len: u32,
    /// Index in `addrs` of the street-level position.
    median: u32,
}

/// How one candidate street agrees with a query (see `AddressIndex::score_street`).
#[derive(Debug, Clone, Copy)]
struct StreetEval {
    /// Street and commune score in [0, 1], before the house number.
    score: f64,
    /// Weighted share of the street's words found in the query.
    street_match: f64,
    /// A name word of the street is missing while the query has a name word
    /// explained neither by the street nor by a commune.
    contradiction: bool,
    /// Whether the query's postcode is the street's, when it gives a known one.
    pc_ok: Option<bool>,
    /// The street's commune is named in the query.
    name_ok: bool,
    /// Another commune named in the query, on words the street does not use.
    other_commune: Option<u32>,
}

#[derive(Debug, Clone)]
struct Addr {
    street: u32,
    numero: u32,
    rep: u16,
    postcode: u32,
    lon: f64,
    lat: f64,
    id: Box<str>,
}

/// In-memory address index over BAN records, with a free-text geocoder.
///
/// Memory: about 60 bytes per address plus strings per street; the two
/// departments 59 and 62 (about 1.3 million addresses) fit in a few hundred MB.
#[derive(Debug, Clone, Default)]
pub struct AddressIndex {
    communes: Vec<Commune>,
    streets: Vec<Street>,
    addrs: Vec<Addr>,
    reps: Vec<String>,
    postcodes: Vec<String>,
    /// Street token → street ids.
    by_token: HashMap<String, Vec<u32>>,
    /// First token of a commune name → commune ids.
    commune_by_first_token: HashMap<String, Vec<u32>>,
    /// Postcode index → commune ids.
    communes_by_postcode: HashMap<u32, Vec<u32>>,
    /// Rows skipped while loading files (unreadable coordinates...).
    pub skipped: u64,
}

/// Incremental builder of an [`AddressIndex`].
#[derive(Debug, Default)]
pub struct AddressIndexBuilder {
    index: AddressIndex,
    commune_ids: HashMap<String, u32>,
    street_ids: HashMap<(u32, String), u32>,
    rep_ids: HashMap<String, u16>,
    postcode_ids: HashMap<String, u32>,
}

fn intern<K: std::hash::Hash + Eq + Clone, V: Copy>(
    map: &mut HashMap<K, V>,
    key: &K,
    mk: impl FnOnce() -> V,
) -> V {
    if let Some(v) = map.get(key) {
        return *v;
    }
    let v = mk();
    map.insert(key.clone(), v);
    v
}

impl AddressIndexBuilder {
    /// Empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one record.
    pub fn add(&mut self, r: &BanRecord) {
        let ix = &mut self.index;
        let pc = intern(&mut self.postcode_ids, &r.code_postal, || {
            ix.postcodes.push(r.code_postal.clone());
            (ix.postcodes.len() - 1) as u32
        });
        let commune = intern(&mut self.commune_ids, &r.code_insee, || {
            ix.communes.push(Commune {
                insee: r.code_insee.clone(),
                name: r.nom_commune.clone(),
                names: vec![normalize_tokens(&r.nom_commune)],
                postcodes: Vec::new(),
            });
            (ix.communes.len() - 1) as u32
        });
        {
            let c = &mut ix.communes[commune as usize];
            if !c.postcodes.contains(&pc) {
                c.postcodes.push(pc);
            }
            for extra in [&r.nom_ancienne_commune, &r.libelle_acheminement] {
                if !extra.is_empty() {
                    let toks = normalize_tokens(extra);
                    if !toks.is_empty() && !c.names.contains(&toks) {
                        c.names.push(toks);
                    }
                }
            }
        }
        let key = (commune, fold(&r.nom_voie));
        let street = intern(&mut self.street_ids, &key, || {
            ix.streets.push(Street {
                commune,
                name: r.nom_voie.clone(),
                tokens: normalize_tokens(&r.nom_voie),
                postcodes: Vec::new(),
                first: 0,
                len: 0,
                median: 0,
            });
            (ix.streets.len() - 1) as u32
        });
        if !ix.streets[street as usize].postcodes.contains(&pc) {
            ix.streets[street as usize].postcodes.push(pc);
        }
        let rep_key = canonical_rep(&r.rep);
        let rep = intern(&mut self.rep_ids, &rep_key, || {
            ix.reps.push(rep_key.clone());
            (ix.reps.len() - 1) as u16
        });
        ix.addrs.push(Addr {
            street,
            numero: r.numero,
            rep,
            postcode: pc,
            lon: r.lon,
            lat: r.lat,
            id: r.id.as_str().into(),
        });
    }

    /// Finalises the index (sorting and inverted indexes).
    pub fn build(self) -> AddressIndex {
        let mut ix = self.index;
        let reps = ix.reps.clone();
        ix.addrs.sort_by(|a, b| {
            (a.street, a.numero, &reps[a.rep as usize]).cmp(&(
                b.street,
                b.numero,
                &reps[b.rep as usize],
            ))
        });
        let mut i = 0;
        while i < ix.addrs.len() {
            let s = ix.addrs[i].street;
            let mut j = i;
            while j < ix.addrs.len() && ix.addrs[j].street == s {
                j += 1;
            }
            let st = &mut ix.streets[s as usize];
            st.first = i as u32;
            st.len = (j - i) as u32;
            // Street-level position: the address with the lower-median number,
            // a real point on the street (a centroid may fall off an L-shaped street).
            st.median = (i + (j - i - 1) / 2) as u32;
            i = j;
        }
        for (sid, st) in ix.streets.iter().enumerate() {
            let mut seen = HashSet::new();
            for t in &st.tokens {
                if seen.insert(t.as_str()) {
                    ix.by_token.entry(t.clone()).or_default().push(sid as u32);
                }
            }
        }
        for (cid, c) in ix.communes.iter().enumerate() {
            for name in &c.names {
                if let Some(first) = name.first() {
                    let v = ix.commune_by_first_token.entry(first.clone()).or_default();
                    if !v.contains(&(cid as u32)) {
                        v.push(cid as u32);
                    }
                }
            }
            for &pc in &c.postcodes {
                ix.communes_by_postcode
                    .entry(pc)
                    .or_default()
                    .push(cid as u32);
            }
        }
        ix
    }
}

/// Levenshtein distance bounded by `max` (returns `max + 1` when larger).
/// Hand-written (a dozen lines) rather than pulling a crate for one function.
fn edit_distance(a: &str, b: &str, max: usize) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > max {
        return max + 1;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        let mut row_min = cur[0];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            row_min = row_min.min(cur[j]);
        }
        if row_min > max {
            return max + 1;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Two tokens match exactly, or with one typo for long words.
fn token_match(q: &str, s: &str) -> Option<f64> {
    if q == s {
        return Some(1.0);
    }
    let n = q.chars().count().min(s.chars().count());
    if n >= 5 && q.as_bytes()[0] == s.as_bytes()[0] {
        let max = if n >= 9 { 2 } else { 1 };
        if edit_distance(q, s, max) <= max {
            return Some(0.8);
        }
    }
    None
}

impl AddressIndex {
    /// Builds an index from records.
    pub fn from_records<'a>(records: impl IntoIterator<Item = &'a BanRecord>) -> Self {
        let mut b = AddressIndexBuilder::new();
        for r in records {
            b.add(r);
        }
        b.build()
    }

    /// Loads BAN files (plain or gzipped); unusable rows are skipped and
    /// counted in [`AddressIndex::skipped`].
    pub fn load_paths<P: AsRef<Path>>(paths: &[P]) -> Result<Self, BanError> {
        let mut b = AddressIndexBuilder::new();
        let mut skipped = 0;
        for p in paths {
            for r in BanReader::open(p)? {
                match r {
                    Ok(r) => b.add(&r),
                    Err(BanError::BadRow { .. }) => skipped += 1,
                    Err(e) => return Err(e),
                }
            }
        }
        let mut ix = b.build();
        ix.skipped = skipped;
        Ok(ix)
    }

    /// Number of addresses.
    pub fn len(&self) -> usize {
        self.addrs.len()
    }

    /// `true` when the index has no address.
    pub fn is_empty(&self) -> bool {
        self.addrs.is_empty()
    }

    /// Number of streets.
    pub fn street_count(&self) -> usize {
        self.streets.len()
    }

    /// Communes named in the token list: (commune id, token positions).
    fn communes_named(&self, tokens: &[String]) -> Vec<(u32, Vec<usize>)> {
        let mut found: Vec<(u32, Vec<usize>)> = Vec::new();
        for i in 0..tokens.len() {
            let Some(cands) = self.commune_by_first_token.get(&tokens[i]) else {
                continue;
            };
            for &c in cands {
                for name in &self.communes[c as usize].names {
                    if tokens.len() - i >= name.len() && tokens[i..i + name.len()] == name[..] {
                        let pos: Vec<usize> = (i..i + name.len()).collect();
                        match found.iter_mut().find(|(fc, _)| *fc == c) {
                            Some((_, p)) if p.len() < pos.len() => *p = pos,
                            Some(_) => {}
                            None => found.push((c, pos)),
                        }
                    }
                }
            }
        }
        found
    }

    fn candidates(&self, q: &ParsedQuery, communes: &HashSet<u32>) -> HashSet<u32> {
        let mut out = HashSet::new();
        let mut lists: Vec<&Vec<u32>> = q
            .tokens
            .iter()
            .filter_map(|t| self.by_token.get(t))
            .collect();
        if lists.is_empty() {
            // Typo tolerance: look for vocabulary words one edit away.
            for t in q.tokens.iter().filter(|t| t.chars().count() >= 5) {
                for (w, l) in &self.by_token {
                    if token_match(t, w).is_some() {
                        lists.push(l);
                    }
                }
            }
        }
        lists.sort_by_key(|l| l.len());
        for (k, l) in lists.iter().enumerate() {
            if !communes.is_empty() {
                out.extend(
                    l.iter()
                        .filter(|s| communes.contains(&self.streets[**s as usize].commune)),
                );
            }
            // Rare words: keep streets of any commune (wrong or missing commune).
            if k < 2 && l.len() <= 2_000 || communes.is_empty() && k == 0 {
                out.extend(l.iter().copied());
            }
        }
        out
    }

    /// Geocodes a free-text address: the best match when it is reliable, the
    /// equally good matches when it is ambiguous, or why it was refused.
    ///
    /// A candidate is refused when the query's postcode is unknown or not the
    /// candidate's (except for a `CEDEX` code), when the query names another
    /// commune, when the street name does not match ([`MIN_STREET_MATCH`], or a
    /// name word of the street missing while the query has another one), or when
    /// the score is under [`MIN_SCORE`]. The best accepted candidate is kept; other
    /// accepted candidates within [`AMBIGUITY_MARGIN`] of it make it ambiguous.
    pub fn geocode(&self, text: &str) -> Geocoding {
        self.geocode_parsed(&parse_query(text))
    }

    /// Same as [`AddressIndex::geocode`] on an already parsed query.
    pub fn geocode_parsed(&self, q: &ParsedQuery) -> Geocoding {
        let none = Geocoding::NotFound {
            reason: Rejection::NoCandidate,
            best: None,
        };
        if q.tokens.is_empty() {
            return none;
        }
        let named = self.communes_named(&q.tokens);
        let postcode = q.code_postal.as_ref().filter(|_| !q.cedex);
        let pc_id = postcode
            .and_then(|p| self.postcodes.iter().position(|x| x == p))
            .map(|i| i as u32);
        let mut communes: HashSet<u32> = named.iter().map(|(c, _)| *c).collect();
        if let Some(pc) = pc_id {
            if let Some(cs) = self.communes_by_postcode.get(&pc) {
                communes.extend(cs.iter().copied());
            }
        }
        let mut ordered: Vec<u32> = self.candidates(q, &communes).into_iter().collect();
        ordered.sort_unstable();
        // (final score, street id, refusal), accepted or not.
        let mut scored: Vec<(f64, u32, Option<Rejection>)> = Vec::with_capacity(ordered.len());
        for sid in ordered {
            let e = self.score_street(q, sid, &named, pc_id);
            let score = e.score - self.number_on(q, sid).1;
            let refusal = if let (Some(pc), None) = (postcode, pc_id) {
                Some(Rejection::UnknownPostcode(pc.clone()))
            } else if e.pc_ok == Some(false) {
                Some(Rejection::PostcodeMismatch(
                    postcode.cloned().unwrap_or_default(),
                ))
            } else if let (Some(c), false) = (e.other_commune, e.name_ok) {
                Some(Rejection::CommuneMismatch(
                    self.communes[c as usize].name.clone(),
                ))
            } else if e.street_match < MIN_STREET_MATCH || e.contradiction {
                Some(Rejection::StreetMismatch)
            } else if score < MIN_SCORE {
                Some(Rejection::LowScore)
            } else {
                None
            };
            scored.push((score, sid, refusal));
        }
        let better = |a: &(f64, u32, Option<Rejection>), b: &(f64, u32, Option<Rejection>)| {
            a.0 > b.0 + 1e-9
                || ((a.0 - b.0).abs() <= 1e-9
                    && self.streets[a.1 as usize].len > self.streets[b.1 as usize].len)
        };
        let pick = |accepted: bool| {
            let mut best: Option<&(f64, u32, Option<Rejection>)> = None;
            for c in scored.iter().filter(|c| c.2.is_none() || !accepted) {
                match best {
                    Some(b) if !better(c, b) => {}
                    _ => best = Some(c),
                }
            }
            best
        };
        if let Some(&(score, sid, _)) = pick(true) {
            let best = self.result_for(q, sid, score);
            let mut others: Vec<(f64, u32)> = scored
                .iter()
                .filter(|c| c.2.is_none() && c.1 != sid && c.0 >= score - AMBIGUITY_MARGIN)
                .map(|c| (c.0, c.1))
                .collect();
            if others.is_empty() {
                return Geocoding::Found(best);
            }
            others.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            let others = others
                .into_iter()
                .map(|(s, o)| self.result_for(q, o, s))
                .collect();
            return Geocoding::Ambiguous { best, others };
        }
        match pick(false) {
            Some((score, sid, Some(reason))) => Geocoding::NotFound {
                reason: reason.clone(),
                best: Some(self.result_for(q, *sid, *score)),
            },
            _ => none,
        }
    }

    /// How a street agrees with the query, before the house number.
    fn score_street(
        &self,
        q: &ParsedQuery,
        sid: u32,
        named: &[(u32, Vec<usize>)],
        pc_id: Option<u32>,
    ) -> StreetEval {
        let st = &self.streets[sid as usize];
        let mut used = vec![false; q.tokens.len()];
        let (mut got, mut total) = (0.0, 0.0);
        let mut missing_name_word = false;
        for t in &st.tokens {
            let w = if is_type_word(t) { 0.5 } else { 1.0 };
            total += w;
            let mut best: Option<(usize, f64)> = None;
            for (i, qt) in q.tokens.iter().enumerate() {
                if used[i] {
                    continue;
                }
                if let Some(m) = token_match(qt, t) {
                    if !matches!(best, Some((_, b)) if m <= b) {
                        best = Some((i, m));
                    }
                    if m == 1.0 {
                        break;
                    }
                }
            }
            if let Some((i, m)) = best {
                used[i] = true;
                got += w * m;
            } else if !is_type_word(t) {
                missing_name_word = true;
            }
        }
        let street_score = if total > 0.0 { got / total } else { 0.0 };

        // Commune: named in the query (tokens not used by the street), and/or postcode.
        let this_named = named
            .iter()
            .find(|(c, pos)| *c == st.commune && pos.iter().all(|&p| !used[p]));
        if let Some((_, pos)) = this_named {
            for &p in pos {
                used[p] = true;
            }
        }
        let other_commune = named
            .iter()
            .find(|(c, pos)| *c != st.commune && pos.iter().all(|&p| !used[p]))
            .map(|(c, _)| *c);
        let other_named = other_commune.is_some();
        // A name word of the query explained neither by the street nor by a commune,
        // while a name word of the street is missing: another street.
        let contradiction = missing_name_word
            && q.tokens
                .iter()
                .enumerate()
                .any(|(i, t)| !used[i] && !is_type_word(t));
        let coverage = used.iter().filter(|u| **u).count() as f64 / q.tokens.len() as f64;
        let commune = &self.communes[st.commune as usize];
        let pc_ok = pc_id.map(|pc| st.postcodes.contains(&pc) || commune.postcodes.contains(&pc));
        let name_ok = this_named.is_some();
        let commune_score = match (pc_ok, name_ok, other_named) {
            (Some(true), true, _) => 1.0,
            (Some(true), false, false) => 0.9,
            (Some(true), false, true) => 0.5,
            (Some(false), true, _) => 0.7,
            (None, true, _) => 0.95,
            (None, false, false) => 0.6,
            (Some(false), false, _) | (None, false, true) => 0.0,
        };
        StreetEval {
            score: 0.6 * street_score + 0.15 * coverage + 0.25 * commune_score,
            street_match: street_score,
            contradiction,
            pc_ok,
            name_ok,
            other_commune,
        }
    }

    /// The address of the query's house number on a street, and the score
    /// penalty: none with the same repetition index, 0.03 with another one, 0.1
    /// when the number is absent (the street position is then used).
    fn number_on(&self, q: &ParsedQuery, sid: u32) -> (Option<&Addr>, f64) {
        let Some(n) = q.numero else {
            return (None, 0.0);
        };
        let st = &self.streets[sid as usize];
        let addrs = &self.addrs[st.first as usize..(st.first + st.len) as usize];
        // Addresses of a street are sorted by number.
        let from = addrs.partition_point(|a| a.numero < n);
        let to = addrs.partition_point(|a| a.numero <= n);
        let same_num = &addrs[from..to];
        let want = q.rep.as_deref().unwrap_or_default();
        if let Some(a) = same_num.iter().find(|a| self.reps[a.rep as usize] == want) {
            (Some(a), 0.0)
        } else if let Some(a) = same_num
            .iter()
            .find(|a| self.reps[a.rep as usize].is_empty())
            .or(same_num.first())
        {
            // Number found with another repetition index.
            (Some(a), 0.03)
        } else {
            (None, 0.1)
        }
    }

    fn result_for(&self, q: &ParsedQuery, sid: u32, score: f64) -> GeocodeResult {
        let st = &self.streets[sid as usize];
        let commune = &self.communes[st.commune as usize];
        let (a, precision) = match self.number_on(q, sid).0 {
            Some(a) => (a, Precision::Numero),
            None => (&self.addrs[st.median as usize], Precision::Voie),
        };
        let postcode = &self.postcodes[a.postcode as usize];
        let label = match precision {
            Precision::Numero => {
                let rep = &self.reps[a.rep as usize];
                if rep.is_empty() {
                    format!("{} {} {} {}", a.numero, st.name, postcode, commune.name)
                } else {
                    format!(
                        "{} {} {} {} {}",
                        a.numero, rep, st.name, postcode, commune.name
                    )
                }
            }
            Precision::Voie => format!("{} {} {}", st.name, postcode, commune.name),
        };
        GeocodeResult {
            lon: a.lon,
            lat: a.lat,
            score: score.clamp(0.0, 1.0),
            label,
            precision,
            ban_id: a.id.to_string(),
            code_insee: commune.insee.clone(),
            code_postal: postcode.clone(),
            commune: commune.name.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = include_str!("../tests/fixtures/ban_fixture.csv");

    fn index() -> AddressIndex {
        let recs: Vec<BanRecord> = BanReader::new(FIXTURE.as_bytes())
            .unwrap()
            .map(Result::unwrap)
            .collect();
        AddressIndex::from_records(&recs)
    }

    /// The match of a query that must be found with certainty.
    fn found(ix: &AddressIndex, q: &str) -> GeocodeResult {
        match ix.geocode(q) {
            Geocoding::Found(r) => r,
            other => panic!("{q}: {other:?}"),
        }
    }

    #[test]
    fn reads_official_layout() {
        let recs: Vec<BanRecord> = BanReader::new(FIXTURE.as_bytes())
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(recs.len() >= 40);
        let r = &recs[0];
        assert_eq!(r.id, "59350_1000_00001");
        assert_eq!(r.numero, 1);
        assert_eq!(r.nom_voie, "Rue des Tisserands");
        assert_eq!(r.code_postal, "59000");
        assert_eq!(r.nom_commune, "Lille");
        assert!(r.x.is_some() && r.certification_commune);
        assert_eq!(r.type_position, "entrée");
        let bis = recs.iter().find(|r| r.rep == "bis").unwrap();
        assert_eq!(bis.id, "59350_1000_00004_bis");
    }

    #[test]
    fn reads_gzip_and_several_files() {
        use std::io::Write;
        let dir = std::env::temp_dir().join(format!("quartiers-io-ban-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let gz = dir.join("adresses-59.csv.gz");
        let mut enc =
            flate2::write::GzEncoder::new(File::create(&gz).unwrap(), flate2::Compression::fast());
        enc.write_all(FIXTURE.as_bytes()).unwrap();
        enc.finish().unwrap();
        let plain = dir.join("adresses-62.csv");
        let header = FIXTURE.lines().next().unwrap();
        std::fs::write(
            &plain,
            format!("{header}\n62041_0001_00001;;1;;Rue de Test;62000;62041;Arras;;;;;2.7775;50.2910;entrée;;;ARRAS;RUE DE TEST;commune;commune;0;\n62041_0001_00002;;2;;Rue de Test;62000;62041;Arras;;;;;abc;50.29;entrée;;;ARRAS;RUE DE TEST;commune;commune;0;\n"),
        )
        .unwrap();
        let ix = AddressIndex::load_paths(&[&gz, &plain]).unwrap();
        assert_eq!(ix.len(), FIXTURE.lines().count() - 1 + 1);
        assert_eq!(ix.skipped, 1);
        assert_eq!(found(&ix, "1 rue de test arras").code_insee, "62041");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_column_is_reported() {
        let e = BanReader::new("id;numero;nom_voie\n".as_bytes())
            .err()
            .unwrap();
        assert_eq!(
            e.to_string(),
            "fichier BAN : colonne « code_postal » absente de l'en-tête"
        );
    }

    #[test]
    fn normalisation() {
        assert_eq!(
            normalize_address("BD du Gal Leclerc"),
            "boulevard general leclerc"
        );
        assert_eq!(normalize_address("r. St-Jacques"), "rue saint jacques");
        assert_eq!(normalize_address("Pl. d'Armes"), "place armes");
        assert_eq!(normalize_address("Chem. des Prés"), "chemin pres");
        assert_eq!(normalize_address("Imp. Ste-Anne"), "impasse sainte anne");
        assert_eq!(normalize_address("Fg de Cambrai"), "faubourg cambrai");
        assert_eq!(
            normalize_address("Sq. Qu. Rte All. Av."),
            "square quai route allee avenue"
        );
        assert_eq!(canonical_rep("B"), "bis");
        assert_eq!(canonical_rep("Ter"), "ter");
        assert_eq!(canonical_rep("t"), "ter");
        assert_eq!(canonical_rep("A"), "a");
    }

    #[test]
    fn query_parsing() {
        let q = parse_query("4 ter rue X");
        assert_eq!((q.numero, q.rep.as_deref()), (Some(4), Some("ter")));
        let q = parse_query("4T rue X");
        assert_eq!((q.numero, q.rep.as_deref()), (Some(4), Some("ter")));
        let q = parse_query("N° 12 rue X 59000 Lille");
        assert_eq!(
            (q.numero, q.code_postal.as_deref()),
            (Some(12), Some("59000"))
        );
        let q = parse_query("rue du 8 mai 1945 lens");
        assert_eq!(q.numero, None);
        assert_eq!(q.tokens, vec!["rue", "8", "mai", "1945", "lens"]);
        let q = parse_query("12 a rue x");
        assert_eq!(q.rep.as_deref(), Some("a"));
    }

    #[test]
    fn abbreviations_and_accents() {
        let ix = index();
        let r = found(&ix, "102 BD DE LA LIBERTE LILLE");
        assert_eq!(r.label, "102 Boulevard de la Liberté 59000 Lille");
        assert_eq!(r.precision, Precision::Numero);
        assert!(r.score > 0.95, "{r:?}");
        let r = found(&ix, "11 r. de l'abbe lemire, lievin");
        assert_eq!(r.label, "11 Rue de l'Abbé Lemire 62800 Liévin");
        let r = found(&ix, "52 bd du gal leclerc roubaix");
        assert_eq!(r.label, "52 Boulevard du Général Leclerc 59100 Roubaix");
    }

    #[test]
    fn bis_ter() {
        let ix = index();
        for q in [
            "4 bis rue des tisserands lille",
            "4bis rue des tisserands lille",
            "4 B rue des tisserands lille",
        ] {
            let r = found(&ix, q);
            assert_eq!(r.label, "4 bis Rue des Tisserands 59000 Lille", "{q}");
            assert_eq!(r.ban_id, "59350_1000_00004_bis");
        }
        let plain = found(&ix, "4 rue des tisserands lille");
        assert_eq!(plain.label, "4 Rue des Tisserands 59000 Lille");
        // Unknown repetition index: the plain number, slightly lower score.
        let ter = found(&ix, "4 ter rue des tisserands lille");
        assert_eq!(ter.label, "4 Rue des Tisserands 59000 Lille");
        assert!(ter.score < plain.score);
    }

    #[test]
    fn missing_or_unknown_number_gives_street_position() {
        let ix = index();
        let r = found(&ix, "rue des tisserands lille");
        assert_eq!(r.precision, Precision::Voie);
        assert_eq!(r.label, "Rue des Tisserands 59000 Lille");
        // Lower median of 1, 2, 3, 4, 4 bis, 6 is 3.
        assert_eq!(r.ban_id, "59350_1000_00003");
        let r2 = found(&ix, "999 rue des tisserands lille");
        assert_eq!(r2.precision, Precision::Voie);
        assert_eq!((r2.lon, r2.lat), (r.lon, r.lat));
        assert!(r2.score < r.score);
    }

    #[test]
    fn commune_disambiguates_homonymous_streets() {
        let ix = index();
        let lens = found(&ix, "5 rue jean jaures lens");
        let lievin = found(&ix, "5 rue jean jaures 62800");
        assert_eq!(lens.commune, "Lens");
        assert_eq!(lievin.commune, "Liévin");
        assert_ne!((lens.lon, lens.lat), (lievin.lon, lievin.lat));
    }

    #[test]
    fn wrong_commune_lowers_score() {
        let ix = index();
        let good = found(&ix, "7 allee des tilleuls 59200 tourcoing");
        let wrong = ix.geocode("7 allee des tilleuls 59300 valenciennes");
        // A postcode of another commune: refused, the candidate kept for the message.
        assert_eq!(
            wrong,
            Geocoding::NotFound {
                reason: Rejection::PostcodeMismatch("59300".into()),
                best: wrong.candidate().cloned(),
            }
        );
        let wrong = wrong.candidate().unwrap();
        assert_eq!(wrong.label, good.label);
        assert!(good.score > 0.95, "{good:?}");
        assert!(wrong.score < good.score - 0.2, "{wrong:?}");
        let no_commune = found(&ix, "7 allee des tilleuls");
        assert!(no_commune.score < good.score && no_commune.score > wrong.score);
    }

    #[test]
    fn typo_tolerance_and_no_match() {
        let ix = index();
        let r = found(&ix, "9 avenue de dutemle valenciennes");
        assert_eq!(r.label, "Avenue de Dutemple 59300 Valenciennes");
        assert_eq!(r.precision, Precision::Voie);
        for q in ["zzzz qqqq", "", "12"] {
            assert_eq!(
                ix.geocode(q),
                Geocoding::NotFound {
                    reason: Rejection::NoCandidate,
                    best: None
                },
                "{q}"
            );
        }
        assert_eq!(
            ix.geocode("zzzz qqqq").message().unwrap(),
            "adresse introuvable dans la Base Adresse Nationale chargée"
        );
    }

    /// The refusal of a query that must not be located, with its best candidate.
    fn refused(ix: &AddressIndex, q: &str) -> (Rejection, Option<GeocodeResult>, String) {
        let g = ix.geocode(q);
        let message = g.message().unwrap_or_default();
        match g {
            Geocoding::NotFound { reason, best } => (reason, best, message),
            other => panic!("{q}: {other:?}"),
        }
    }

    #[test]
    fn addresses_not_in_the_base_are_not_located() {
        let ix = index();
        // Found before by the words `rue` and the commune alone, in a QPV of Lille.
        let (reason, best, m) = refused(&ix, "10 rue de la Paix 75002 Paris");
        assert_eq!(reason, Rejection::UnknownPostcode("75002".into()));
        assert!(best.is_some());
        assert!(
            m.starts_with(
                "adresse introuvable dans la Base Adresse Nationale chargée : le code postal 75002 n'y figure pas"
            ),
            "{m}"
        );
        let (reason, _, m) = refused(&ix, "12 rue Victor Hugo Lille");
        assert_eq!(reason, Rejection::StreetMismatch, "{m}");
        let (reason, best, m) = refused(&ix, "rue Inconnue 59000 Lille");
        assert_eq!(reason, Rejection::StreetMismatch);
        assert_eq!(best.unwrap().label, "Rue des Tisserands 59000 Lille");
        assert_eq!(
            m,
            "adresse introuvable dans la Base Adresse Nationale chargée : aucune voie de ce nom (meilleur candidat : Rue des Tisserands 59000 Lille, score 0,55)"
        );
        // Another street sharing a first name: a name word differs.
        let (reason, _, _) = refused(&ix, "5 rue Jean Moulin 62300 Lens");
        assert_eq!(reason, Rejection::StreetMismatch);
        // A commune or postcode contradicting the only street of that name.
        let (reason, best, m) = refused(&ix, "7 allée des Tilleuls Valenciennes");
        assert_eq!(reason, Rejection::CommuneMismatch("Valenciennes".into()));
        assert_eq!(best.unwrap().label, "7 Allée des Tilleuls 59200 Tourcoing");
        assert!(
            m.contains("la commune Valenciennes ne correspond pas"),
            "{m}"
        );
        let (reason, _, _) = refused(&ix, "7 allée des Tilleuls 59200 Roubaix");
        assert_eq!(reason, Rejection::CommuneMismatch("Roubaix".into()));
        let (reason, _, _) = refused(&ix, "5 rue Jean Jaurès 59000");
        assert_eq!(reason, Rejection::PostcodeMismatch("59000".into()));
        // A CEDEX postcode is not in the BAN and is not checked.
        let r = found(&ix, "1 rue des Tisserands 59046 Lille Cedex");
        assert_eq!(r.label, "1 Rue des Tisserands 59000 Lille");
        // A partial but consistent street name is still found; without a commune
        // its score is under the bar of certainty.
        let r = found(&ix, "52 bd Leclerc Roubaix");
        assert_eq!(r.label, "52 Boulevard du Général Leclerc 59100 Roubaix");
        assert!(r.score >= CHECK_SCORE, "{r:?}");
        let r = found(&ix, "52 bd Leclerc");
        assert!((MIN_SCORE..CHECK_SCORE).contains(&r.score), "{r:?}");
        let r = found(&ix, "rue Jaurès Liévin");
        assert_eq!(r.label, "Rue Jean Jaurès 62800 Liévin");
    }

    #[test]
    fn homonymous_addresses_without_commune_are_ambiguous() {
        let ix = index();
        let g = ix.geocode("1 rue Jean Jaurès");
        let Geocoding::Ambiguous { best, others } = &g else {
            panic!("{g:?}");
        };
        assert_eq!(best.label, "1 Rue Jean Jaurès 62300 Lens");
        assert_eq!(others.len(), 1);
        assert_eq!(others[0].label, "1 Rue Jean Jaurès 62800 Liévin");
        assert_eq!(g.result(), Some(best));
        assert_eq!(g.found(), None);
        assert_eq!(
            g.message().unwrap(),
            "adresse ambiguë : la même adresse existe aussi à Liévin (62800) ; précisez la commune"
        );
        assert!(matches!(
            ix.geocode("rue Jean Jaurès"),
            Geocoding::Ambiguous { .. }
        ));
        // A commune or a postcode settles it.
        assert_eq!(found(&ix, "1 rue Jean Jaurès Lens").commune, "Lens");
        assert_eq!(found(&ix, "1 rue Jean Jaurès Liévin").commune, "Liévin");
        assert_eq!(found(&ix, "1 rue Jean Jaurès 62800").commune, "Liévin");
        // A street found in one commune only is not ambiguous.
        assert_eq!(found(&ix, "9 rue de l'Abbé Lemire").commune, "Liévin");
    }

    #[test]
    fn equally_good_streets_of_one_commune_are_ambiguous() {
        let extra = "62498_1020_00002;62498_1020;2;;Rue Jean Moulin;62300;62498;Lens;;;;;2.8300;50.4300;entrée;;;LENS;RUE JEAN MOULIN;commune;commune;1;\n";
        let csv = format!("{FIXTURE}{extra}");
        let recs: Vec<BanRecord> = BanReader::new(csv.as_bytes())
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let ix = AddressIndex::from_records(&recs);
        let g = ix.geocode("rue Jean Lens");
        let Geocoding::Ambiguous { best, others } = &g else {
            panic!("{g:?}");
        };
        assert_eq!(best.label, "Rue Jean Jaurès 62300 Lens");
        assert_eq!(others[0].label, "Rue Jean Moulin 62300 Lens");
        assert_eq!(
            g.message().unwrap(),
            "adresse ambiguë : d'autres adresses correspondent aussi bien (Rue Jean Moulin 62300 Lens) ; précisez la voie"
        );
        assert_eq!(
            found(&ix, "2 rue Jean Moulin Lens").label,
            "2 Rue Jean Moulin 62300 Lens"
        );
    }

    #[test]
    fn edit_distance_bounds() {
        assert_eq!(edit_distance("dutemple", "dutemle", 1), 1);
        assert_eq!(edit_distance("abc", "xyz", 1), 2);
        assert_eq!(edit_distance("", "", 1), 0);
    }
}
