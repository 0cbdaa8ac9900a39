#!/usr/bin/env python3
"""Reference throughput of shapely 2 (STRtree) on the benchmark point sets of quartiers-geo.

Usage:
    cargo run --release -p quartiers-geo --example locate_bench -- QPV_FILE N POINTS_DIR
    python3 crates/geo/bench/shapely_reference.py QPV_FILE POINTS_DIR

QPV_FILE is a GeoJSON FeatureCollection (optionally gzipped) in WGS84; POINTS_DIR holds
uniform.bin and urban.bin (little-endian float64 pairs lon, lat) written by the Rust side.
Requires `pip install shapely numpy`. Prints `name: value unit` lines, the last one being
`shapely_points_per_second: X points/s` (urban set, the comparable workload).

Only containment is measured (STRtree.query with predicate="intersects", i.e. the
boundary counts as inside, like the Rust index); shapely computes neither the distance
to the nearest QPV nor the 15 m boundary flag, which the Rust figures include.
"""
import gzip
import json
import sys
import time
from pathlib import Path

import numpy as np
import shapely


def load_geometries(path: Path):
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    doc = json.loads(raw)
    geoms = [shapely.geometry.shape(f["geometry"]) for f in doc["features"] if f.get("geometry")]
    return np.array(geoms, dtype=object)


def load_points(path: Path):
    xy = np.fromfile(path, dtype="<f8").reshape(-1, 2)
    return shapely.points(xy[:, 0], xy[:, 1])


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    qpv_file, points_dir = Path(sys.argv[1]), Path(sys.argv[2])
    geoms = load_geometries(qpv_file)
    t = time.perf_counter()
    tree = shapely.STRtree(geoms)
    shapely.prepare(geoms)
    print(f"shapely_build_time: {time.perf_counter() - t:.3f} s")
    rate = 0.0
    for name in ("uniform", "urban"):
        pts = load_points(points_dir / f"{name}.bin")
        t = time.perf_counter()
        hits = tree.query(pts, predicate="intersects")
        dt = time.perf_counter() - t
        rate = len(pts) / dt
        inside = len(np.unique(hits[0]))
        print(f"shapely_{name}_points_per_second: {rate:.0f} points/s")
        print(f"shapely_{name}_inside_share: {100.0 * inside / max(len(pts), 1):.1f} %")
    print(f"shapely_points_per_second: {rate:.0f} points/s")


if __name__ == "__main__":
    main()
