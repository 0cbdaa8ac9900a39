//! The funding cycle at national scale: `quartiers generate national-load` fills an empty
//! database with contracts, financers, calls, applications with their financer lines, audit
//! trail, agreements and payments, in large batched transactions written straight in SQL;
//! `quartiers bench funding` measures the pilot's dashboard, a financer's worklist and the
//! XLSX export on such a database.

mod batch;
mod bench;
mod national_load;

pub use bench::bench_funding;
pub use national_load::national_load;

use clap::{Args, Subcommand};
use quartiers_store::Store;

/// `quartiers generate …`
#[derive(Subcommand)]
pub enum GenerateCommand {
    /// Fill an EMPTY database with a national-scale funding load: contracts, financers, one
    /// call per contract and year, applications with 3 financer lines, their audit trail,
    /// agreements and payments, in realistic statuses.
    NationalLoad(NationalLoadArgs),
}

/// Size of the generated load.
#[derive(Args, Clone, Debug)]
pub struct NationalLoadArgs {
    /// Number of contracts.
    #[arg(long, default_value_t = 450, value_parser = clap::value_parser!(u32).range(1..=5000))]
    pub contracts: u32,
    /// Number of programme years, ending this year.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=30))]
    pub years: u32,
    /// Applications per year, over all contracts.
    #[arg(long, default_value_t = 30_000, value_parser = clap::value_parser!(u32).range(1..=2_000_000))]
    pub applications_per_year: u32,
    /// Seed of the pseudo-random generator (the same seed gives the same load).
    #[arg(long, default_value_t = 2024)]
    pub seed: u64,
}

/// `quartiers bench …`
#[derive(Subcommand)]
pub enum BenchCommand {
    #[command(flatten)]
    Geo(crate::geo_commands::BenchCommand),
    /// Median and 95th percentile of the pilot's dashboard, a financer's worklist and the XLSX
    /// export of one contract's year, on a database filled by `generate national-load`.
    Funding(FundingBenchArgs),
}

/// Options of `bench funding`.
#[derive(Args, Clone)]
pub struct FundingBenchArgs {
    /// Measured runs of each operation (after one warm-up run).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub iterations: u32,
    /// Contract measured (default: the one with the most applications).
    #[arg(long)]
    pub contract: Option<String>,
    #[command(flatten)]
    pub db: crate::Db,
}

/// Runs a `bench` subcommand.
pub async fn bench(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Geo(c) => crate::geo_commands::bench(c).await,
        BenchCommand::Funding(args) => bench_funding(args).await,
    }
}

/// Runs a `generate` subcommand.
pub async fn generate(store: &Store, cmd: GenerateCommand) -> anyhow::Result<()> {
    match cmd {
        GenerateCommand::NationalLoad(args) => national_load(store, &args).await,
    }
}
