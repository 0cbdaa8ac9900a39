//! The command line on the same database: migrate, import, export (round trip), user add.

use crate::helpers::{postgres_base_url, Engine, TestApp};
use std::process::{Command, Stdio};

fn quartiers(db: &str, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_quartiers"));
    cmd.args(args)
        .env("DATABASE_URL", db)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run quartiers");
    if let Some(input) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn round_trip(engine: Engine) {
    let Some(app) = TestApp::spawn(engine).await else {
        eprintln!("PostgreSQL non configuré : scénario CLI joué sur SQLite seulement");
        return;
    };
    let db = app.database_url.clone();
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in quartiers_web::changes::DEMO_CONTRACTS {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let (ok, out, err) = quartiers(&db, &["contract", "import", path.to_str().unwrap()], None);
        assert!(ok, "{err}");
        assert!(out.contains("Contrat importé"));
        // Export gives back exactly the file that was imported.
        let slug = serde_json::from_str::<serde_json::Value>(text).unwrap()["contract"]["slug"]
            .as_str()
            .unwrap()
            .to_string();
        let (ok, exported, err) = quartiers(&db, &["contract", "export", &slug], None);
        assert!(ok, "{err}");
        assert_eq!(exported, text, "{name} round-trips exactly");
    }
    // Export, import under another slug into the same platform, export again: identical but for the slug.
    let (_, exported, _) = quartiers(&db, &["contract", "export", "mel-2024"], None);
    let copy = exported.replace("\"slug\": \"mel-2024\"", "\"slug\": \"mel-copie\"");
    let copy_path = dir.path().join("copie.json");
    std::fs::write(&copy_path, &copy).unwrap();
    assert!(
        quartiers(
            &db,
            &["contract", "import", copy_path.to_str().unwrap()],
            None
        )
        .0
    );
    let out_path = dir.path().join("sortie.json");
    assert!(
        quartiers(
            &db,
            &[
                "contract",
                "export",
                "mel-copie",
                "-o",
                out_path.to_str().unwrap()
            ],
            None
        )
        .0
    );
    assert_eq!(std::fs::read_to_string(&out_path).unwrap(), copy);

    // A malformed file is refused whole with the place of the fault; a duplicate slug too.
    let bad = dir.path().join("mauvais.json");
    std::fs::write(
        &bad,
        copy.replace("\"slug\": \"mel-copie\"", "\"slug\": \"mel-trois\"")
            .replace("\"start_year\": 2024", "\"start_year\": 2040"),
    )
    .unwrap();
    let (ok, _, err) = quartiers(&db, &["contract", "import", bad.to_str().unwrap()], None);
    assert!(!ok);
    assert!(
        err.contains("contract.period") && err.contains("rien n'a été importé"),
        "{err}"
    );
    let (ok, _, err) = quartiers(
        &db,
        &["contract", "import", copy_path.to_str().unwrap()],
        None,
    );
    assert!(!ok && err.contains("déjà l'identifiant"), "{err}");
    assert_eq!(app.store.list_contracts().await.unwrap().len(), 4);

    // Accounts.
    let (ok, _, err) = quartiers(
        &db,
        &[
            "user",
            "add",
            "--email",
            "admin@quartiers.fr",
            "--role",
            "admin",
        ],
        Some("une phrase de passe longue\n"),
    );
    assert!(ok, "{err}");
    let (ok, _, err) = quartiers(
        &db,
        &[
            "user",
            "add",
            "--email",
            "pilote@mel.fr",
            "--role",
            "pilote",
            "--contract",
            "mel-2024",
        ],
        Some("une phrase de passe longue\n"),
    );
    assert!(ok, "{err}");
    let (ok, _, err) = quartiers(
        &db,
        &["user", "add", "--email", "x@mel.fr", "--role", "pilote"],
        Some("une phrase de passe longue\n"),
    );
    assert!(!ok && err.contains("--contract"), "{err}");
    let (ok, _, err) = quartiers(
        &db,
        &[
            "user",
            "add",
            "--email",
            "y@mel.fr",
            "--role",
            "chef",
            "--contract",
            "mel-2024",
        ],
        Some("une phrase de passe longue\n"),
    );
    assert!(!ok && err.contains("Rôle inconnu"), "{err}");
    let (ok, _, err) = quartiers(
        &db,
        &[
            "user",
            "add",
            "--email",
            "z@mel.fr",
            "--role",
            "lecteur",
            "--contract",
            "mel-2024",
        ],
        Some("court\n"),
    );
    assert!(!ok && err.contains("12 caractères"), "{err}");
    let (ok, _, err) = quartiers(
        &db,
        &[
            "user",
            "add",
            "--email",
            "pilote@mel.fr",
            "--role",
            "lecteur",
            "--contract",
            "mel-2024",
        ],
        Some("une phrase de passe longue\n"),
    );
    assert!(!ok && err.contains("existe déjà"), "{err}");
    let user = app
        .store
        .user_by_email("pilote@mel.fr")
        .await
        .unwrap()
        .unwrap();
    assert!(!user.is_admin);
    assert_eq!(
        app.store.roles_of(user.id).await.unwrap()[0].role,
        quartiers_domain::Role::Pilote
    );
    let (ok, out, _) = quartiers(&db, &["migrate"], None);
    assert!(ok && out.contains("à jour"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_round_trip_sqlite() {
    round_trip(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_round_trip_postgres() {
    if postgres_base_url().is_some() {
        round_trip(Engine::Postgres).await;
    }
}
