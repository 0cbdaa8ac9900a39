//! Header names recognised by column detection: longitude, latitude, x/y and the
//! parts of an address.

use super::AddressPart;

pub(super) fn classify_lon(k: &str) -> bool {
    matches!(
        k,
        "lon"
            | "lng"
            | "long"
            | "longitude"
            | "x_wgs84"
            | "xwgs84"
            | "x_wgs_84"
            | "wgs84_x"
            | "lon_wgs84"
            | "lng_wgs84"
            | "long_wgs84"
            | "wgs84_lon"
            | "wgs84_lng"
            | "coord_lon"
            | "gps_lon"
            | "lon_gps"
            | "geo_lon"
            | "x_gps"
            | "x_4326"
            | "x_epsg4326"
    ) || k.contains("longitude")
}

pub(super) fn classify_lat(k: &str) -> bool {
    matches!(
        k,
        "lat"
            | "latitude"
            | "y_wgs84"
            | "ywgs84"
            | "y_wgs_84"
            | "wgs84_y"
            | "lat_wgs84"
            | "wgs84_lat"
            | "coord_lat"
            | "gps_lat"
            | "lat_gps"
            | "geo_lat"
            | "y_gps"
            | "y_4326"
            | "y_epsg4326"
    ) || k.contains("latitude")
}

/// `Some(true)` for an explicitly Lambert-93 x, `Some(false)` for a plain `x`.
pub(super) fn classify_xy(k: &str, axis: char) -> Option<bool> {
    let plain = [
        format!("{axis}"),
        format!("coord_{axis}"),
        format!("coordonnee_{axis}"),
        format!("coordonnees_{axis}"),
        format!("{axis}_coord"),
    ];
    if plain.iter().any(|p| p == k) {
        return Some(false);
    }
    let lambert = ["l93", "lambert", "lamb93", "2154", "rgf93", "93"];
    let starts = k.starts_with(&format!("{axis}_")) || k.starts_with(&format!("{axis}l93"));
    let ends = k.ends_with(&format!("_{axis}"));
    if (starts || ends) && lambert.iter().any(|l| k.contains(l)) {
        return Some(true);
    }
    None
}

pub(super) fn classify_address(k: &str) -> Option<AddressPart> {
    use AddressPart::*;
    let part = match k {
        "numero"
        | "num"
        | "no"
        | "n"
        | "numero_voie"
        | "num_voie"
        | "numero_de_voie"
        | "n_voie"
        | "housenumber"
        | "house_number"
        | "number"
        | "numero_rue"
        | "num_rue"
        | "nvoie"
        | "numero_dans_la_voie" => Numero,
        "rep"
        | "indice_repetition"
        | "indice_de_repetition"
        | "suffixe"
        | "suffixe_numero"
        | "btq"
        | "indice"
        | "complement_numero"
        | "bis_ter" => Rep,
        "type_voie" | "type_de_voie" | "typevoie" | "nature_voie" => TypeVoie,
        "voie" | "nom_voie" | "nom_de_voie" | "rue" | "libelle_voie" | "lib_voie" | "street"
        | "nom_rue" | "libelle_de_voie" | "voie_nom" | "adresse_voie" | "nom_de_la_voie" => Voie,
        "code_postal" | "cp" | "codepostal" | "postcode" | "code_post" | "zip" | "zipcode"
        | "postal_code" | "cpostal" | "code_postale" => CodePostal,
        "commune"
        | "ville"
        | "nom_commune"
        | "localite"
        | "city"
        | "libelle_commune"
        | "lib_commune"
        | "municipalite"
        | "nom_de_la_commune"
        | "nom_ville"
        | "libelle_acheminement"
        | "commune_nom" => Commune,
        _ => {
            let is_full = (k.starts_with("adresse")
                || k.starts_with("address")
                || k == "adr"
                || k == "addr"
                || k == "libelle_adresse"
                || k == "lib_adresse"
                || k == "full_address")
                && ![
                    "mail",
                    "courriel",
                    "ip",
                    "web",
                    "url",
                    "complement",
                    "2",
                    "3",
                    "cp",
                    "postal",
                ]
                .iter()
                .any(|x| k.contains(x));
            if is_full {
                Full
            } else {
                return None;
            }
        }
    };
    Some(part)
}
