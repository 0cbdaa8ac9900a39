//! Priority geography commands: `qpv import`, `perimeter import`, `ban import`, `locate`
//! and `bench locate`.

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use quartiers_geo::{Crs, PerimeterKind, ReadOptions};
use quartiers_io::output::{process_path, ProcessOptions};
use quartiers_io::table::ColumnSpec;
use quartiers_store::Store;
use quartiers_web::geo::import::{
    code_prefix, ensure_national, import_ban_paths, import_national, mend_complement_areas,
    store_read_output, ImportOutcome,
};
use quartiers_web::geo::{self, Snapshot};
use std::path::PathBuf;

/// `quartiers qpv …`
#[derive(Subcommand)]
pub enum QpvCommand {
    /// Import QPV contours (GeoJSON, gzipped GeoJSON, shapefile with its .prj, GeoPackage;
    /// WGS84, Lambert-93 or the overseas UTM systems).
    Import {
        /// The file (omit it with --national).
        file: Option<PathBuf>,
        /// Generation to record (2024, 2015…); deduced from the codes when absent.
        #[arg(long)]
        generation: Option<String>,
        /// Load the national 2024 contours shipped with Quartiers.
        #[arg(long)]
        national: bool,
        /// GeoPackage layer.
        #[arg(long)]
        layer: Option<String>,
        /// Coordinate system when the file does not declare one (e.g. 2154).
        #[arg(long)]
        crs: Option<String>,
    },
}

/// `quartiers perimeter …`
#[derive(Subcommand)]
pub enum PerimeterCommand {
    /// Import a perimeter file (attention perimeters, renewal sites, quartiers de veille…).
    Import {
        /// The file.
        file: PathBuf,
        /// qpv, attention (attention_perimeter), renouvellement (renewal_site), veille (watch_neighbourhood) or autre (other).
        #[arg(long)]
        kind: String,
        /// Name (of the single perimeter, or prefix of unnamed ones).
        #[arg(long)]
        name: String,
        /// Contract slug to attach the perimeters to.
        #[arg(long)]
        contract: Option<String>,
        /// Criteria, in French free text.
        #[arg(long)]
        criteria: Option<String>,
        /// Generation.
        #[arg(long)]
        generation: Option<String>,
        /// GeoPackage layer.
        #[arg(long)]
        layer: Option<String>,
        /// Coordinate system when the file does not declare one (e.g. 2154).
        #[arg(long)]
        crs: Option<String>,
    },
}

/// `quartiers ban …`
#[derive(Subcommand)]
pub enum BanCommand {
    /// Import Base Adresse Nationale CSV extracts (official format, gzipped or not).
    Import {
        /// The files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// `quartiers locate …`
#[derive(Args)]
pub struct LocateArgs {
    /// CSV or XLSX file to locate row by row.
    pub input: Option<PathBuf>,
    /// Output file (default: INPUT with `_qpv` before the extension).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// One point: LON,LAT (WGS84), or X,Y with --crs 2154.
    #[arg(long, allow_hyphen_values = true)]
    pub point: Option<String>,
    /// Coordinate system of --point (4326 or 2154).
    #[arg(long)]
    pub crs: Option<String>,
    /// One address to locate; with INPUT, the address column(s) of the file, comma-separated.
    #[arg(long)]
    pub address: Option<String>,
    /// Longitude column of INPUT.
    #[arg(long)]
    pub lon: Option<String>,
    /// Latitude column of INPUT.
    #[arg(long)]
    pub lat: Option<String>,
    /// Lambert-93 X column of INPUT.
    #[arg(long)]
    pub x: Option<String>,
    /// Lambert-93 Y column of INPUT.
    #[arg(long)]
    pub y: Option<String>,
    /// Address column(s) of INPUT, comma-separated.
    #[arg(long = "address-columns")]
    pub address_columns: Option<String>,
    /// Sheet of an XLSX INPUT to read (default: the first one).
    #[arg(long)]
    pub sheet: Option<String>,
    /// Distance to a boundary under which the answer is « à vérifier », in metres.
    #[arg(long, default_value_t = geo::DEFAULT_TOLERANCE_M)]
    pub tolerance: f64,
    /// Print the answer of --point/--address as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `quartiers bench …`
#[derive(Subcommand)]
pub enum BenchCommand {
    /// Throughput of the point locator on the national QPV 2024 contours.
    Locate {
        /// Points per set.
        #[arg(long, default_value_t = 10_000_000)]
        points: usize,
    },
}

fn parse_kind(s: &str) -> anyhow::Result<PerimeterKind> {
    let k = match s.trim().to_lowercase().as_str() {
        "qpv" => PerimeterKind::Qpv,
        "attention" | "attention_perimeter" | "perimetre_attention" => PerimeterKind::AttentionPerimeter,
        "renouvellement" | "renewal_site" | "npru" | "npnru" => PerimeterKind::RenewalSite,
        "veille" | "watch_neighbourhood" | "quartier_veille" => PerimeterKind::WatchNeighbourhood,
        "autre" | "other" => PerimeterKind::Other,
        other => bail!("Type de périmètre inconnu « {other} » : qpv, attention, renouvellement, veille ou autre."),
    };
    Ok(k)
}

fn parse_crs(s: &Option<String>) -> anyhow::Result<Option<Crs>> {
    s.as_deref()
        .map(|c| Crs::from_identifier(c).map_err(anyhow::Error::from))
        .transpose()
}

fn print_outcome(o: &ImportOutcome) {
    for l in o.lines_fr() {
        println!("{l}");
    }
}

async fn read_file(file: PathBuf, opts: ReadOptions) -> anyhow::Result<quartiers_geo::ReadOutput> {
    let name = file.display().to_string();
    tokio::task::spawn_blocking(move || quartiers_geo::read_path(&file, &opts))
        .await?
        .with_context(|| format!("import de {name} impossible"))
}

fn source_name(file: &std::path::Path) -> String {
    file.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Readies the registry before `serve` and `locate` use it, saying on stderr what it did:
/// mends the areas an earlier import measured as the Earth minus the perimeter, and loads
/// the national QPV 2024 contours shipped with Quartiers when the registry holds no QPV of
/// that generation (a fresh platform, or only the 2015 layer imported), so that a fresh
/// install answers for every QPV of France instead of « hors QPV » everywhere.
pub async fn prepare_registry(store: &Store) -> anyhow::Result<()> {
    let mended = mend_complement_areas(store).await?;
    if mended > 0 {
        eprintln!("Surfaces recalculées : {mended} périmètre(s) importé(s) avec une surface fausse (anneaux orientés dans le sens horaire).");
    }
    if let Some(o) = ensure_national(store).await? {
        eprintln!(
            "Aucun QPV 2024 dans le registre : contours nationaux des QPV 2024 livrés avec Quartiers chargés ({} QPV).",
            o.counts.inserted
        );
    }
    Ok(())
}

/// Runs `quartiers qpv …`.
pub async fn qpv(store: &Store, cmd: QpvCommand) -> anyhow::Result<()> {
    let QpvCommand::Import {
        file,
        generation,
        national,
        layer,
        crs,
    } = cmd;
    let outcome = match (file, national) {
        (None, true) => import_national(store).await?,
        (Some(file), false) => {
            let opts = ReadOptions {
                kind: PerimeterKind::Qpv,
                generation,
                layer,
                crs: parse_crs(&crs)?,
                official_qpv_codes: true,
                ..ReadOptions::default()
            };
            let out = read_file(file.clone(), opts).await?;
            store_read_output(store, out, &source_name(&file), None, None).await?
        }
        (Some(_), true) => bail!("Donnez un fichier ou --national, pas les deux."),
        (None, false) => bail!(
            "Donnez le fichier à importer, ou --national pour les contours livrés avec Quartiers."
        ),
    };
    print_outcome(&outcome);
    Ok(())
}

/// Runs `quartiers perimeter …`.
pub async fn perimeter(store: &Store, cmd: PerimeterCommand) -> anyhow::Result<()> {
    let PerimeterCommand::Import {
        file,
        kind,
        name,
        contract,
        criteria,
        generation,
        layer,
        crs,
    } = cmd;
    let kind = parse_kind(&kind)?;
    if let Some(slug) = &contract {
        match store.contract(slug).await {
            Ok(_) => {}
            Err(quartiers_store::StoreError::NotFound) => {
                bail!("Contrat « {slug} » introuvable : donnez l'identifiant d'un contrat de la plateforme.")
            }
            Err(e) => return Err(e.into()),
        }
    }
    let opts = ReadOptions {
        kind,
        generation,
        layer,
        crs: parse_crs(&crs)?,
        code_prefix: Some(code_prefix(&name, kind)),
        ..ReadOptions::default()
    };
    let mut out = read_file(file.clone(), opts).await?;
    let single = out.perimeters.len() == 1;
    for (i, p) in out.perimeters.iter_mut().enumerate() {
        if single {
            p.name = name.clone();
        } else if p.name == p.code {
            p.name = format!("{name} {}", i + 1);
        }
    }
    let outcome = store_read_output(
        store,
        out,
        &source_name(&file),
        criteria.as_deref(),
        contract.as_deref(),
    )
    .await?;
    print_outcome(&outcome);
    Ok(())
}

/// Runs `quartiers ban …`.
pub async fn ban(store: &Store, cmd: BanCommand) -> anyhow::Result<()> {
    let BanCommand::Import { files } = cmd;
    let r = import_ban_paths(store, &files).await?;
    println!("{} adresse(s) importée(s).", r.stored);
    if !r.errors.is_empty() {
        println!("{} ligne(s) ignorée(s) :", r.errors.len());
        for e in r.errors.iter().take(1000) {
            println!("  {e}");
        }
    }
    Ok(())
}

fn print_answer(a: &geo::LocateAnswer, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(a).unwrap_or_default());
        return;
    }
    println!("statut : {}", a.status_label);
    if let Some(g) = &a.geocoding {
        println!(
            "adresse : {} (score {:.2}, précision {})",
            g.label, g.score, g.precision
        );
    }
    if let (Some(lon), Some(lat)) = (a.lon, a.lat) {
        println!("point : {lon:.6} {lat:.6}");
    }
    for q in &a.qpv {
        println!("qpv : {} {}", q.code, q.name);
        if let Some(c) = &q.contract {
            println!("contrat : {} ({})", c.name, c.slug);
        }
    }
    for p in &a.perimeters {
        println!("périmètre : {} {} ({})", p.code, p.name, p.kind_label);
    }
    if let Some(n) = &a.nearest_qpv {
        println!(
            "qpv le plus proche : {} {} à {:.0} m",
            n.code, n.name, n.distance_m
        );
    }
    if let Some(m) = &a.message {
        println!("message : {m}");
    }
}

/// Refuses option sets that would silently ignore part of what was asked.
fn check_locate_args(args: &LocateArgs) -> anyhow::Result<()> {
    if !args.tolerance.is_finite() || args.tolerance < 0.0 {
        bail!("--tolerance attend une distance en mètres, positive ou nulle.");
    }
    if args.point.is_some() && (args.input.is_some() || args.address.is_some()) {
        bail!(
            "--point localise un seul point : ne le combinez ni avec un fichier ni avec --address."
        );
    }
    let file_options = args.lon.is_some()
        || args.lat.is_some()
        || args.x.is_some()
        || args.y.is_some()
        || args.address_columns.is_some()
        || args.sheet.is_some()
        || args.output.is_some();
    if args.input.is_none() && file_options {
        bail!("--lon, --lat, --x, --y, --address-columns, --sheet et -o s'appliquent à un fichier : donnez le fichier à localiser.");
    }
    let lon_lat = args.lon.is_some() || args.lat.is_some();
    let xy = args.x.is_some() || args.y.is_some();
    let address =
        args.address_columns.is_some() || (args.input.is_some() && args.address.is_some());
    if [lon_lat, xy, address].iter().filter(|b| **b).count() > 1 {
        bail!("Choisissez une seule façon de localiser les lignes : --lon/--lat (WGS84), --x/--y (Lambert-93) ou les colonnes d'adresse.");
    }
    Ok(())
}

/// Runs `quartiers locate …`.
pub async fn locate(store: &Store, args: LocateArgs) -> anyhow::Result<()> {
    check_locate_args(&args)?;
    prepare_registry(store).await?;
    let snap = Snapshot::load(store, args.tolerance).await?;
    if let Some(point) = &args.point {
        let parts: Vec<&str> = point
            .split([',', ' ', ';'])
            .filter(|s| !s.is_empty())
            .collect();
        let [a, b] = parts.as_slice() else {
            bail!("--point attend deux nombres séparés par une virgule : LON,LAT (ou X,Y avec --crs 2154).");
        };
        let (a, b): (f64, f64) = (
            a.parse()
                .with_context(|| format!("« {a} » n'est pas un nombre"))?,
            b.parse()
                .with_context(|| format!("« {b} » n'est pas un nombre"))?,
        );
        let crs = parse_crs(&args.crs)?.unwrap_or(Crs::Wgs84);
        let (lon, lat) = match crs {
            Crs::Wgs84 => {
                geo::check_wgs84(a, b).map_err(anyhow::Error::msg)?;
                (a, b)
            }
            Crs::Lambert93 => geo::lambert93_to_wgs84(a, b).map_err(anyhow::Error::msg)?,
            other => other.to_wgs84()?.transform(a, b)?,
        };
        print_answer(&snap.answer(lon, lat, None), args.json);
        return Ok(());
    }
    if let (Some(address), None) = (&args.address, &args.input) {
        print_answer(&snap.answer_address(address), args.json);
        return Ok(());
    }
    let Some(input) = args.input.clone() else {
        bail!("Donnez un fichier à localiser, --point LON,LAT ou --address \"ADRESSE\".");
    };
    if input.is_dir() {
        bail!(
            "{} est un dossier : donnez un fichier CSV ou XLSX.",
            input.display()
        );
    }
    if !input.exists() {
        bail!("Fichier introuvable : {}.", input.display());
    }
    let columns = if let (Some(lon), Some(lat)) = (&args.lon, &args.lat) {
        ColumnSpec::LonLat {
            lon: lon.clone(),
            lat: lat.clone(),
        }
    } else if let (Some(x), Some(y)) = (&args.x, &args.y) {
        ColumnSpec::Lambert93 {
            x: x.clone(),
            y: y.clone(),
        }
    } else if let Some(a) = args.address_columns.as_ref().or(args.address.as_ref()) {
        ColumnSpec::Address(a.split(',').map(|s| s.trim().to_string()).collect())
    } else if args.lon.is_some() || args.lat.is_some() || args.x.is_some() || args.y.is_some() {
        bail!("Nommez les deux colonnes : --lon et --lat, ou --x et --y.");
    } else {
        ColumnSpec::Auto
    };
    let output = args.output.clone().unwrap_or_else(|| {
        let stem = input
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let ext = input
            .extension()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "csv".into());
        input.with_file_name(format!("{stem}_qpv.{ext}"))
    });
    let size = std::fs::metadata(&input)
        .with_context(|| format!("lecture de {} impossible", input.display()))?
        .len();
    let start = std::time::Instant::now();
    let out_path = output.clone();
    let sheet = args.sheet.clone();
    let summary = tokio::task::spawn_blocking(move || {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {pos} lignes ({per_sec}) {elapsed}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        }
        let _ = size;
        let opts = ProcessOptions {
            columns,
            sheet,
            progress_every: 100_000,
            ..ProcessOptions::default()
        };
        let r = process_path(&input, &out_path, &opts, snap.rows(), |n| {
            bar.set_position(n)
        });
        bar.finish_and_clear();
        r
    })
    .await?
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    print!("{}", summary.to_french_text());
    println!(
        "Résultat écrit dans {} ({:.1} s).",
        output.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Runs `quartiers bench …`.
pub async fn bench(cmd: BenchCommand) -> anyhow::Result<()> {
    let BenchCommand::Locate { points } = cmd;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("qpv2024_france_wgs84.geojson.gz");
    std::fs::write(&file, quartiers_web::geo::import::NATIONAL_QPV_2024)?;
    let f = file.clone();
    let report = tokio::task::spawn_blocking(move || {
        let mut out = std::io::stdout();
        quartiers_geo::bench::run_locate_bench(&f, points, &mut out)
    })
    .await??;
    // End to end: `quartiers locate` on a CSV of lon/lat.
    let csv = dir.path().join("points.csv");
    {
        use std::io::Write;
        let mut w = std::io::BufWriter::new(std::fs::File::create(&csv)?);
        writeln!(w, "id,lon,lat")?;
        for (i, (x, y)) in quartiers_geo::bench::urban_points(
            &quartiers_geo::read_path(&file, &ReadOptions::default())?.perimeters,
            points,
            quartiers_geo::bench::URBAN_RADIUS_M,
            quartiers_geo::bench::SEED ^ 2,
        )
        .into_iter()
        .enumerate()
        {
            writeln!(w, "{i},{x:.6},{y:.6}")?;
        }
    }
    let out = dir.path().join("points_qpv.csv");
    let perimeters = quartiers_geo::read_path(&file, &ReadOptions::default())?.perimeters;
    let t = std::time::Instant::now();
    let (csv2, out2) = (csv.clone(), out.clone());
    let rows = tokio::task::spawn_blocking(move || -> anyhow::Result<u64> {
        let index = quartiers_geo::PerimeterIndex::build(perimeters);
        let snap = Snapshot::of_index(index, "2024");
        let s = process_path(
            &csv2,
            &out2,
            &ProcessOptions::default(),
            snap.rows(),
            |_| {},
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(s.rows)
    })
    .await??;
    let secs = t.elapsed().as_secs_f64();
    println!("locate_csv_rows: {rows} count");
    println!("locate_csv_end_to_end: {secs:.3} s");
    println!(
        "locate_csv_rows_per_second: {:.0} rows/s",
        rows as f64 / secs.max(1e-9)
    );
    // Reference: shapely 2 STRtree, when python3 and shapely are available.
    let script = [
        std::path::PathBuf::from("crates/geo/bench/shapely_reference.py"),
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../geo/bench/shapely_reference.py"),
    ]
    .into_iter()
    .find(|p| p.exists())
    .unwrap_or_default();
    let has_shapely = std::process::Command::new("python3")
        .args(["-c", "import shapely, numpy"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !has_shapely || !script.exists() {
        println!("shapely_reference: unavailable (python3 with shapely 2 and numpy not found; pip install shapely numpy)");
        return Ok(());
    }
    let pts = dir.path().join("points");
    quartiers_geo::bench::export_points(&file, points, &pts)?;
    let o = std::process::Command::new("python3")
        .arg(&script)
        .arg(&file)
        .arg(&pts)
        .output()?;
    let text = String::from_utf8_lossy(&o.stdout);
    let mut reference = None;
    for line in text.lines() {
        println!("{line}");
        if let Some(v) = line.strip_prefix("shapely_points_per_second: ") {
            reference = v
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<f64>().ok());
        }
    }
    if let Some(r) = reference.filter(|r| *r > 0.0) {
        println!(
            "ratio_urban_single_thread_vs_shapely: {:.1} x",
            report.urban_single / r
        );
    }
    Ok(())
}
