//! Tests of the readers through their public functions.

use super::*;

fn fc(features: &str) -> Vec<u8> {
    format!(r#"{{"type":"FeatureCollection","features":[{features}]}}"#).into_bytes()
}

const SQUARE: &str = r#"{"type":"Polygon","coordinates":[[[3.0,50.0],[3.01,50.0],[3.01,50.01],[3.0,50.01],[3.0,50.0]]]}"#;

#[test]
fn geojson_2024_fields_and_bad_features() {
    let feats = [
        format!(r#"{{"type":"Feature","properties":{{"code_qp":"QN05971M","lib_qp":"Secteur Ouest","insee_com":"59350, 59360"}},"geometry":{SQUARE}}}"#),
        r#"{"type":"Feature","properties":{"code_qp":"QN00000A"},"geometry":null}"#.to_string(),
        r#"{"type":"Feature","properties":{"code_qp":"QN00000B"},"geometry":{"type":"Point","coordinates":[3,50]}}"#.to_string(),
        r#"{"type":"Feature","properties":{"code_qp":"QN00000C"},"geometry":{"type":"Polygon","coordinates":[[[3.0,250.0],[3.01,250.0],[3.01,250.01],[3.0,250.0]]]}}"#.to_string(),
        r#"{"type":"Feature","properties":{"code_qp":"QN00000D"},"geometry":{"type":"Polygon","coordinates":[[[50.0,3.0],[50.0,3.01],[50.01,3.01],[50.0,3.0]]]}}"#.to_string(),
        // unclosed ring with a duplicate vertex, plus a degenerate second polygon
        r#"{"type":"Feature","properties":{"code_qp":"QN00000E","lib_qp":"Réparé"},"geometry":{"type":"MultiPolygon","coordinates":[[[[3.0,50.0],[3.01,50.0],[3.01,50.0],[3.01,50.01],[3.0,50.01]]],[[[3.1,50.1],[3.1,50.1],[3.2,50.2]]]]}}"#.to_string(),
        format!(r#"{{"type":"Feature","properties":{{"nom":"sans code"}},"geometry":{SQUARE}}}"#),
        r#"{"type":"Feature","properties":{"code_qp":"QN00000F"},"geometry":{"type":"Polygon","coordinates":[[[3.0,"x"]]]}}"#.to_string(),
    ];
    let out = read_geojson_bytes(&fc(&feats.join(",")), &ReadOptions::default()).unwrap();
    let r = &out.report;
    assert_eq!(r.features_read, 8);
    assert_eq!(r.accepted, 2, "{r:#?}");
    assert_eq!(out.perimeters[0].code, "QN05971M");
    assert_eq!(out.perimeters[0].insee_communes, vec!["59350", "59360"]);
    assert_eq!(out.perimeters[0].generation.as_deref(), Some("2024"));
    let rej: Vec<usize> = r.rejected.iter().map(|x| x.feature).collect();
    assert_eq!(rej, vec![2, 3, 4, 5, 7, 8]);
    assert!(r.rejected[0].message.contains("géométrie absente"));
    assert!(r.rejected[1].message.contains("Point"));
    assert!(
        r.rejected[2].message.contains("hors limites"),
        "{}",
        r.rejected[2].message
    );
    assert!(
        r.rejected[3].message.contains("semblent inversées"),
        "{}",
        r.rejected[3].message
    );
    assert!(r.rejected[4].message.contains("code absent"));
    assert_eq!(r.repaired.len(), 1);
    assert_eq!(r.repaired[0].feature, 6);
    let a = &r.repaired[0].action;
    assert!(
        a.contains("double") && a.contains("refermé") && a.contains("moins de 4 points"),
        "{a}"
    );
    let p = &out.perimeters[1];
    assert_eq!(p.geometry.0.len(), 1);
    assert_eq!(p.geometry.0[0].exterior().0.len(), 5);

    // Same file with the fix option: the swapped feature is repaired.
    let opts = ReadOptions {
        fix_swapped_axes: true,
        ..Default::default()
    };
    let out = read_geojson_bytes(&fc(&feats.join(",")), &opts).unwrap();
    assert_eq!(out.report.accepted, 3);
    let fixed = out
        .perimeters
        .iter()
        .find(|p| p.code == "QN00000D")
        .unwrap();
    assert_eq!(fixed.geometry.0[0].exterior().0[0].x, 3.0);
}

#[test]
fn geojson_2015_fields_gzip_and_crs() {
    let f = format!(
        r#"{{"type":"Feature","properties":{{"CODE_QP":"QP059074","NOM_QP":"Secteur Sud","COMMUNE_QP":"Lille, Loos"}},"geometry":{SQUARE}}}"#
    );
    let bytes = fc(&f);
    let mut gz = Vec::new();
    {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(&mut gz, flate2::Compression::fast());
        e.write_all(&bytes).unwrap();
        e.finish().unwrap();
    }
    let out = read_geojson_bytes(&gz, &ReadOptions::default()).unwrap();
    let p = &out.perimeters[0];
    assert_eq!(
        (p.code.as_str(), p.name.as_str()),
        ("QP059074", "Secteur Sud")
    );
    assert!(p.insee_communes.is_empty());
    assert_eq!(p.generation.as_deref(), Some("2015"));
    assert_eq!(p.properties["COMMUNE_QP"], "Lille, Loos");

    // Lambert-93 with a crs member.
    let l93 = r#"{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::2154"}},"features":[{"type":"Feature","properties":{"id":7,"nom":"Zone"},"geometry":{"type":"Polygon","coordinates":[[[704061.1459,7059136.5895],[704161,7059136],[704161,7059236],[704061.1459,7059136.5895]]]}}]}"#;
    let opts = ReadOptions {
        kind: PerimeterKind::Other,
        ..Default::default()
    };
    let out = read_geojson_bytes(l93.as_bytes(), &opts).unwrap();
    assert_eq!(out.report.source_crs, Some(Crs::Lambert93));
    let c = out.perimeters[0].geometry.0[0].exterior().0[0];
    assert!(
        (c.x - 3.0573).abs() < 1e-7 && (c.y - 50.6292).abs() < 1e-7,
        "{c:?}"
    );
    assert_eq!(out.perimeters[0].code, "7");
    assert_eq!(out.perimeters[0].generation, None);

    // Swapped Lambert-93 is detected.
    let swapped = l93
        .replace("704061.1459,7059136.5895", "7059136.5895,704061.1459")
        .replace("704161,7059136", "7059136,704161")
        .replace("704161,7059236", "7059236,704161");
    let out = read_geojson_bytes(swapped.as_bytes(), &opts).unwrap();
    assert!(
        out.report.rejected[0]
            .message
            .contains("X et Y semblent inversées"),
        "{:?}",
        out.report
    );

    // Unknown crs is a file-level error.
    let bad = l93.replace("EPSG::2154", "EPSG::27572");
    assert!(matches!(
        read_geojson_bytes(bad.as_bytes(), &opts),
        Err(ReadError::Crs(_))
    ));
    // Not JSON.
    assert!(matches!(
        read_geojson_bytes(b"nope", &opts),
        Err(ReadError::GeoJson(_))
    ));
}

#[test]
fn custom_fields() {
    let f = format!(
        r#"{{"type":"Feature","properties":{{"num":"S1","titre":"Site NPNRU"}},"geometry":{SQUARE}}}"#
    );
    let opts = ReadOptions {
        kind: PerimeterKind::RenewalSite,
        code_field: Some("num".into()),
        name_field: Some("titre".into()),
        generation: Some("NPNRU".into()),
        ..Default::default()
    };
    let out = read_geojson_bytes(&fc(&f), &opts).unwrap();
    let p = &out.perimeters[0];
    assert_eq!(
        (p.code.as_str(), p.name.as_str(), p.kind),
        ("S1", "Site NPNRU", PerimeterKind::RenewalSite)
    );
    assert_eq!(p.generation.as_deref(), Some("NPNRU"));
    let back = to_geojson(&out.perimeters);
    let again = read_geojson_bytes(back.to_string().as_bytes(), &opts).unwrap();
    assert_eq!(again.perimeters[0].geometry, p.geometry);
}
