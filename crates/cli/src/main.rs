//! `quartiers`: the web platform, the API and the command line for the same operations.

// Amounts in cents are written euros_cents: `100_00` is 100 €.
#![allow(clippy::inconsistent_digit_grouping)]

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use quartiers_domain::ContractDocument;
use quartiers_store::contracts::Author;
use quartiers_store::Store;
use quartiers_web::auth::Password;
use quartiers_web::changes;
use std::io::{IsTerminal, Read};
use std::path::PathBuf;

mod funding_commands;
mod geo_commands;

/// Quartiers: pilot a contrat de ville (priority neighbourhoods, framework, amendments).
#[derive(Parser)]
#[command(name = "quartiers", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct Db {
    /// Database: a SQLite file path (default quartiers.db in the working directory) or a postgres:// URL.
    #[arg(
        long = "database",
        env = "DATABASE_URL",
        default_value = "quartiers.db",
        global = true
    )]
    url: String,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web platform (pages and API).
    Serve(ServeArgs),
    /// Apply pending database migrations.
    Migrate(#[command(flatten)] Db),
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Import and export contracts (format: docs/contract-format.md).
    Contract {
        #[command(subcommand)]
        command: ContractCommand,
    },
    /// Import QPV contours into the registry.
    Qpv {
        #[command(subcommand)]
        command: geo_commands::QpvCommand,
        #[command(flatten)]
        db: Db,
    },
    /// Import other perimeters (attention perimeters, renewal sites, quartiers de veille).
    Perimeter {
        #[command(subcommand)]
        command: geo_commands::PerimeterCommand,
        #[command(flatten)]
        db: Db,
    },
    /// Import Base Adresse Nationale extracts for the offline geocoder.
    Ban {
        #[command(subcommand)]
        command: geo_commands::BanCommand,
        #[command(flatten)]
        db: Db,
    },
    /// Is this point, address or file in a QPV?
    Locate {
        #[command(flatten)]
        args: geo_commands::LocateArgs,
        #[command(flatten)]
        db: Db,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        command: funding_commands::BenchCommand,
    },
    /// Queue the reminder mails of end-of-action reports due within 30 days or overdue, each
    /// once (`serve` does it every hour; this is for a deployment that prefers cron).
    Reminders(#[command(flatten)] Db),
    /// Generate test loads.
    Generate {
        #[command(subcommand)]
        command: funding_commands::GenerateCommand,
        #[command(flatten)]
        db: Db,
    },
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "QUARTIERS_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Load the demonstration contracts if the database holds none.
    #[arg(long)]
    demo: bool,
    /// Name of the institution operating the platform, shown in the header.
    #[arg(long, env = "QUARTIERS_INSTITUTION", default_value = "Quartiers")]
    institution: String,
    /// Show the "République française" block: only for State services.
    #[arg(long, env = "QUARTIERS_STATE_SERVICE")]
    state_service: bool,
    /// Mark cookies Secure (set it when served over HTTPS).
    #[arg(long, env = "QUARTIERS_SECURE_COOKIES")]
    secure_cookies: bool,
    /// Map tile URL template (e.g. https://tiles.example/{z}/{x}/{y}.png); none by default: maps are drawn on a blank background.
    #[arg(long, env = "QUARTIERS_TILE_URL")]
    tile_url: Option<String>,
    /// Distance to a perimeter boundary under which an answer is « à vérifier », in metres.
    #[arg(long, env = "QUARTIERS_BOUNDARY_TOLERANCE_M", default_value_t = quartiers_web::geo::DEFAULT_TOLERANCE_M)]
    boundary_tolerance: f64,
    /// Largest uploaded file (batch locate, perimeter import, API), in Mo; larger ones are refused with a message.
    #[arg(long, env = "QUARTIERS_MAX_UPLOAD_MB", default_value_t = quartiers_web::DEFAULT_MAX_UPLOAD_BYTES >> 20, value_parser = clap::value_parser!(u64).range(1..))]
    max_upload_mb: u64,
    /// Folder for the temporary files of uploads (default: the system's temporary folder).
    #[arg(long, env = "QUARTIERS_UPLOAD_DIR")]
    upload_dir: Option<PathBuf>,
    /// SMTP server sending the notifications: smtp://host:25, smtp://host:587?tls=required, smtps://user:password@host:465. None: they stay in the outbox (/admin/courriels).
    #[arg(long, env = "QUARTIERS_SMTP_URL", hide_env_values = true)]
    smtp_url: Option<String>,
    /// Sender of the notifications, "Name <address@domain>".
    #[arg(long, env = "QUARTIERS_MAIL_FROM", default_value = quartiers_web::mail::DEFAULT_FROM)]
    mail_from: String,
    #[command(flatten)]
    db: Db,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account and grant it a role. The password is prompted for, or read from standard input.
    Add {
        /// Email address.
        #[arg(long)]
        email: String,
        /// admin, pilote, financeur, porteur or lecteur.
        #[arg(long)]
        role: String,
        /// Contract slug (required for every role but admin).
        #[arg(long)]
        contract: Option<String>,
        /// Institution of the member: for a financer's instructor, the financer's code on the contract (etat, mel…).
        #[arg(long)]
        institution: Option<String>,
        #[command(flatten)]
        db: Db,
    },
}

#[derive(Subcommand)]
enum ContractCommand {
    /// Import a contract file (rejected whole, with the place of each fault, if malformed).
    Import {
        /// JSON file in the quartiers-contrat format.
        file: PathBuf,
        #[command(flatten)]
        db: Db,
    },
    /// Export a contract to standard output or a file.
    Export {
        /// Contract slug.
        contract: String,
        /// Output file (standard output when absent).
        #[arg(short, long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        db: Db,
    },
}

async fn open(db: &Db) -> anyhow::Result<Store> {
    Store::open(&db.url)
        .await
        .with_context(|| "ouverture de la base de données impossible")
}

fn read_password() -> anyhow::Result<Password> {
    let p = if std::io::stdin().is_terminal() {
        let p = rpassword::prompt_password("Mot de passe : ")?;
        let again = rpassword::prompt_password("Confirmez le mot de passe : ")?;
        if p != again {
            bail!("Les deux saisies diffèrent.");
        }
        p
    } else {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s.lines().next().unwrap_or("").to_string()
    };
    Ok(Password(p))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let store = open(&args.db).await?;
            if args.demo {
                let loaded = changes::load_demo(&store).await?;
                if !loaded.is_empty() {
                    tracing::info!(?loaded, "demonstration contracts loaded");
                }
            }
            geo_commands::prepare_registry(&store).await?;
            let config = quartiers_web::Config {
                institution_name: args.institution,
                state_service: args.state_service,
                secure_cookies: args.secure_cookies,
                tile_url: args.tile_url.filter(|u| !u.trim().is_empty()),
                boundary_tolerance_m: args.boundary_tolerance,
                max_upload_bytes: args.max_upload_mb.saturating_mul(1024 * 1024),
                upload_dir: args.upload_dir,
                mail: quartiers_web::mail::MailSettings {
                    smtp_url: args.smtp_url.filter(|u| !u.trim().is_empty()),
                    from: args.mail_from,
                },
            };
            config.mail.check().map_err(anyhow::Error::msg)?;
            let deliverer =
                quartiers_web::mail::spawn_deliverer(store.clone(), config.mail.clone());
            if deliverer.is_none() {
                eprintln!("Aucun serveur SMTP configuré (--smtp-url) : les courriels restent dans la boîte d'envoi, /admin/courriels.");
            }
            quartiers_web::reminders::spawn_reminders(store.clone());
            // The geography index is built before listening (its build time is logged).
            let app = quartiers_web::app_ready(store, config).await?;
            let listener = tokio::net::TcpListener::bind(&args.listen)
                .await
                .with_context(|| format!("impossible d'écouter sur {}", args.listen))?;
            eprintln!("Quartiers écoute sur http://{}", listener.local_addr()?);
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        }
        Command::Migrate(db) => {
            let store = Store::connect(&db.url).await?;
            let applied = store.migrate().await?;
            if applied.is_empty() {
                println!("La base est à jour.");
            }
            for m in applied {
                println!("Migration appliquée : {m}");
            }
        }
        Command::User {
            command:
                UserCommand::Add {
                    email,
                    role,
                    contract,
                    institution,
                    db,
                },
        } => {
            let store = open(&db).await?;
            let password = read_password()?;
            let input = quartiers_web::accounts::NewAccount {
                email: email.clone(),
                password: quartiers_web::accounts::PasswordField(password.0),
                role,
                contract,
                institution,
            };
            match quartiers_web::accounts::create_account(&store, &input).await {
                Ok(_) => println!("Compte créé : {email}"),
                Err(quartiers_web::error::Error::Validation(errors)) => {
                    let lines: Vec<String> = errors
                        .0
                        .iter()
                        .map(|f| format!("  --{} : {}", f.field, f.message))
                        .collect();
                    bail!("compte non créé :\n{}", lines.join("\n"));
                }
                Err(e) => bail!("compte non créé : {}", e.detail()),
            }
        }
        Command::Contract {
            command: ContractCommand::Import { file, db },
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("lecture de {} impossible", file.display()))?;
            let doc = ContractDocument::from_json(&text).map_err(|e| {
                let lines: Vec<String> =
                    e.0.iter()
                        .map(|f| format!("  {} : {}", f.field, f.message))
                        .collect();
                anyhow::anyhow!(
                    "{} refusé, rien n'a été importé :\n{}",
                    file.display(),
                    lines.join("\n")
                )
            })?;
            let store = open(&db).await?;
            changes::import_as(
                &store,
                &doc,
                Author {
                    user_id: None,
                    label: "ligne de commande".into(),
                },
            )
            .await?;
            println!("Contrat importé : {}", doc.contract.slug);
        }
        Command::Contract {
            command:
                ContractCommand::Export {
                    contract,
                    output,
                    db,
                },
        } => {
            let store = open(&db).await?;
            let stored = store
                .contract(&contract)
                .await
                .with_context(|| format!("contrat « {contract} » introuvable"))?;
            let json = stored.document.to_json();
            match output {
                Some(path) => std::fs::write(&path, json)
                    .with_context(|| format!("écriture de {} impossible", path.display()))?,
                None => print!("{json}"),
            }
        }
        Command::Qpv { command, db } => geo_commands::qpv(&open(&db).await?, command).await?,
        Command::Perimeter { command, db } => {
            geo_commands::perimeter(&open(&db).await?, command).await?
        }
        Command::Ban { command, db } => geo_commands::ban(&open(&db).await?, command).await?,
        Command::Locate { args, db } => geo_commands::locate(&open(&db).await?, args).await?,
        Command::Bench { command } => funding_commands::bench(command).await?,
        Command::Reminders(db) => {
            let sent = open(&db)
                .await?
                .send_report_reminders(quartiers_store::today())
                .await?;
            println!(
                "Rappels de bilan mis en file d'envoi : {} à rendre sous {} jours, {} en retard.",
                sent.echeance,
                quartiers_store::funding::reminders::DUE_SOON_DAYS,
                sent.retard
            );
        }
        Command::Generate { command, db } => {
            funding_commands::generate(&open(&db).await?, command).await?
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Erreur : {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
