//! `quartiers`: the web platform, the API and the command line for the same operations.

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use quartiers_domain::{ContractDocument, Role};
use quartiers_store::contracts::Author;
use quartiers_store::Store;
use quartiers_web::auth::{self, Password};
use quartiers_web::changes;
use std::io::{IsTerminal, Read};
use std::path::PathBuf;

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
        /// Institution or organisation of the member (financeur, porteur).
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
    auth::check_new_password(&p).map_err(anyhow::Error::msg)?;
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
            let config = quartiers_web::Config {
                institution_name: args.institution,
                state_service: args.state_service,
                secure_cookies: args.secure_cookies,
            };
            let app = quartiers_web::app(store, config);
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
            let is_admin = role == "admin";
            let role = if is_admin {
                None
            } else {
                Some(Role::parse(&role).map_err(anyhow::Error::msg)?)
            };
            let contract_id = match (&role, &contract) {
                (Some(_), None) => bail!(
                    "Le rôle {} s'exerce sur un contrat : précisez --contract.",
                    role.map(|r| r.code()).unwrap_or_default()
                ),
                (_, Some(slug)) => Some(
                    store
                        .contract(slug)
                        .await
                        .with_context(|| format!("contrat « {slug} » introuvable"))?
                        .id,
                ),
                (None, None) => None,
            };
            let password = read_password()?;
            let hash = auth::hash_password(&password)?;
            let id = store.create_user(&email, None, &hash, is_admin).await?;
            if let (Some(role), Some(cid)) = (role, contract_id) {
                store
                    .grant_role(id, cid, role, institution.as_deref())
                    .await?;
            }
            println!("Compte créé : {email}");
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
