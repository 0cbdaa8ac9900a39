-- Priority geography: the perimeter registry (QPV of every generation, attention
-- perimeters, renewal sites, quartiers de veille…), the 2015 ↔ 2024 correspondence,
-- the Base Adresse Nationale extract used by the offline geocoder, and a registry
-- version that app servers poll to rebuild their in-memory index.

CREATE TABLE geo_generations (
    generation TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    source TEXT NOT NULL,
    imported_at TEXT NOT NULL
);

CREATE TABLE geo_perimeters (
    id {{pk}},
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    generation TEXT NOT NULL,
    communes TEXT NOT NULL,
    epci_siren TEXT,
    epci_name TEXT,
    criteria TEXT,
    contract_slug TEXT,
    area_m2 BIGINT NOT NULL,
    min_lon DOUBLE PRECISION NOT NULL,
    min_lat DOUBLE PRECISION NOT NULL,
    max_lon DOUBLE PRECISION NOT NULL,
    max_lat DOUBLE PRECISION NOT NULL,
    geometry TEXT NOT NULL,
    properties TEXT NOT NULL,
    source TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    UNIQUE (kind, generation, code)
);
CREATE INDEX geo_perimeters_code ON geo_perimeters (code);
CREATE INDEX geo_perimeters_contract ON geo_perimeters (contract_slug);

CREATE TABLE geo_correspondence (
    code_2015 TEXT NOT NULL,
    code_2024 TEXT NOT NULL,
    share_of_2015 DOUBLE PRECISION NOT NULL,
    share_of_2024 DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (code_2015, code_2024)
);

CREATE TABLE geo_registry (
    id BIGINT PRIMARY KEY,
    version BIGINT NOT NULL,
    updated_at TEXT NOT NULL
);
INSERT INTO geo_registry (id, version, updated_at) VALUES (1, 0, '1970-01-01T00:00:00Z');

CREATE TABLE ban_addresses (
    id {{pk}},
    ban_id TEXT NOT NULL,
    numero BIGINT NOT NULL,
    rep TEXT NOT NULL,
    nom_voie TEXT NOT NULL,
    code_postal TEXT NOT NULL,
    code_insee TEXT NOT NULL,
    nom_commune TEXT NOT NULL,
    lon DOUBLE PRECISION NOT NULL,
    lat DOUBLE PRECISION NOT NULL,
    alias TEXT NOT NULL,
    nom_ld TEXT NOT NULL,
    libelle_acheminement TEXT NOT NULL,
    nom_afnor TEXT NOT NULL
);
CREATE UNIQUE INDEX ban_addresses_ban_id ON ban_addresses (ban_id);
