//! `quartiers bench funding`: median and 95th percentile of the pilot's dashboard, a
//! financer's worklist and the XLSX export of one contract's year.

use super::FundingBenchArgs;
use anyhow::{bail, Context};
use quartiers_domain::funding::Status;
use quartiers_store::funding::dashboards::{DashboardFilter, Dimension};
use quartiers_store::Store;
use std::time::{Duration, Instant};

// ---- The benchmark ----

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1000.0
}

async fn measure<F, Fut>(iterations: u32, mut op: F) -> anyhow::Result<Vec<Duration>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    op().await?; // warm-up
    let mut times = Vec::with_capacity(iterations as usize);
    for _ in 0..iterations {
        let t0 = Instant::now();
        op().await?;
        times.push(t0.elapsed());
    }
    times.sort();
    Ok(times)
}

fn report(name: &str, times: &[Duration]) {
    println!("{name}_median: {:.2} ms", percentile(times, 0.5));
    println!("{name}_p95: {:.2} ms", percentile(times, 0.95));
}

/// The dimensions the benchmark's dashboard groups by.
pub const BENCH_DIMENSIONS: [Dimension; 4] = [
    Dimension::Annee,
    Dimension::Financeur,
    Dimension::Cadre,
    Dimension::Qpv,
];

/// Measures the funding operations on the database and prints `name: value unit` lines.
pub async fn bench_funding(args: FundingBenchArgs) -> anyhow::Result<()> {
    let store = Store::open(&args.db.url)
        .await
        .context("ouverture de la base de données impossible")?;
    for table in [
        "contracts",
        "organisations",
        "calls",
        "applications",
        "funding_lines",
        "application_events",
        "agreements",
        "payments",
    ] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(store.pool())
            .await?;
        println!("rows_{table}: {n} rows");
    }
    let (contract_id, slug) = match &args.contract {
        Some(s) => (
            store
                .contract(s)
                .await
                .with_context(|| format!("contrat « {s} » introuvable"))?
                .id,
            s.clone(),
        ),
        None => {
            let row: Option<(i64, String)> = sqlx::query_as(
                "SELECT c.id, c.slug FROM contracts c JOIN applications a ON a.contract_id = c.id GROUP BY c.id, c.slug ORDER BY COUNT(*) DESC, c.id LIMIT 1",
            )
            .fetch_optional(store.pool())
            .await?;
            match row {
                Some(r) => r,
                None => bail!("aucun dossier dans la base : remplissez-la d'abord avec `quartiers generate national-load`."),
            }
        }
    };
    let year: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(MAX(year), 0) AS BIGINT) FROM applications WHERE contract_id = $1",
    )
    .bind(contract_id)
    .fetch_one(store.pool())
    .await?;
    let funder = "etat".to_string();
    let n_apps: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM applications WHERE contract_id = $1")
            .bind(contract_id)
            .fetch_one(store.pool())
            .await?;
    println!("bench_contract_applications: {n_apps} rows");
    eprintln!("Contrat mesuré : {slug} (année de l'export : {year}, financeur : {funder}), {} itérations.", args.iterations);
    let all = DashboardFilter::default();
    let dashboard = measure(args.iterations, || async {
        for d in BENCH_DIMENSIONS {
            store.totals(contract_id, d, &all).await?;
        }
        store.grand_total(contract_id, &all).await?;
        Ok(())
    })
    .await?;
    report("dashboard", &dashboard);
    let page = measure(args.iterations, || async {
        store
            .totals(contract_id, Dimension::Financeur, &all)
            .await?;
        store.grand_total(contract_id, &all).await?;
        store.funders(contract_id).await?;
        for c in store.calls(contract_id).await? {
            store.envelope_use(c.id).await?;
        }
        store.overdue_reports(Some(contract_id)).await?;
        Ok(())
    })
    .await?;
    report("dashboard_page", &page);
    let statuses = [
        Status::Depose,
        Status::EnInstruction,
        Status::ComplementDemande,
        Status::AvisRendus,
    ];
    let worklist_rows = store.worklist(contract_id, &funder, &statuses).await?.len();
    let worklist = measure(args.iterations, || async {
        store.worklist(contract_id, &funder, &statuses).await?;
        Ok(())
    })
    .await?;
    report("worklist", &worklist);
    println!("worklist_rows: {worklist_rows} rows");
    let year_filter = DashboardFilter {
        year: Some(year),
        funder: None,
    };
    let size = quartiers_web::funding::export::funding_xlsx(&store, contract_id, &year_filter)
        .await
        .map_err(|e| anyhow::anyhow!(e.detail()))?
        .len();
    let xlsx = measure(args.iterations, || async {
        quartiers_web::funding::export::funding_xlsx(&store, contract_id, &year_filter)
            .await
            .map_err(|e| anyhow::anyhow!(e.detail()))?;
        Ok(())
    })
    .await?;
    report("xlsx_export", &xlsx);
    println!("xlsx_export_size: {size} bytes");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let d: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&d, 0.5), 50.0);
        assert_eq!(percentile(&d, 0.95), 95.0);
    }
}
