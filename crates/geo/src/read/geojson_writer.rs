//! GeoJSON writer: perimeters back to a FeatureCollection in WGS84.

use crate::perimeter::Perimeter;
use serde_json::{Map, Value};

/// Write perimeters as a GeoJSON FeatureCollection (WGS84), with `code`, `name`, `kind`,
/// `insee_communes` and `generation` members in `properties`, followed by the source
/// properties that do not clash with them.
pub fn to_geojson(perimeters: &[Perimeter]) -> Value {
    let features: Vec<Value> = perimeters
        .iter()
        .map(|p| {
            let mut props = Map::new();
            props.insert("code".into(), Value::String(p.code.clone()));
            props.insert("name".into(), Value::String(p.name.clone()));
            props.insert("kind".into(), Value::String(p.kind.as_str().into()));
            props.insert(
                "insee_communes".into(),
                Value::from(p.insee_communes.clone()),
            );
            props.insert(
                "generation".into(),
                p.generation
                    .clone()
                    .map(Value::String)
                    .unwrap_or(Value::Null),
            );
            for (k, v) in &p.properties {
                props.entry(k.clone()).or_insert_with(|| v.clone());
            }
            let coords: Vec<Value> = p
                .geometry
                .0
                .iter()
                .map(|poly| {
                    std::iter::once(poly.exterior())
                        .chain(poly.interiors().iter())
                        .map(|r| {
                            Value::from(
                                r.0.iter()
                                    .map(|c| Value::from(vec![c.x, c.y]))
                                    .collect::<Vec<_>>(),
                            )
                        })
                        .collect::<Vec<_>>()
                        .into()
                })
                .collect();
            serde_json::json!({
                "type": "Feature",
                "properties": props,
                "geometry": {"type": "MultiPolygon", "coordinates": coords},
            })
        })
        .collect();
    serde_json::json!({"type": "FeatureCollection", "features": features})
}
