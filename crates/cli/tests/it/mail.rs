//! Notifications: the outbox delivered to a real SMTP server (a minimal one, run by the test
//! on a random local port), failures kept pending with their error, and the outbox page,
//! for platform administrators only.

use crate::both_engines;
use crate::helpers::{session_csrf, TestApp};
use base64::Engine as _;
use quartiers_domain::Role;
use quartiers_store::outbox::{Mail, OutboxMail};
use quartiers_web::mail::{spawn_deliverer, MailSettings, Mailer};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// One message received by the sink.
#[derive(Debug, Clone, Default)]
struct Received {
    mail_from: String,
    rcpt_to: Vec<String>,
    data: String,
}

type Inbox = Arc<Mutex<Vec<Received>>>;

/// A minimal SMTP server on a random local port: greets, answers EHLO/HELO, MAIL, RCPT,
/// DATA (with dot-unstuffing), RSET, NOOP and QUIT, and keeps what it received.
async fn smtp_sink() -> (u16, Inbox) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let inbox: Inbox = Arc::default();
    let kept = inbox.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let kept = kept.clone();
            tokio::spawn(async move {
                let _ = smtp_session(socket, kept).await;
            });
        }
    });
    (port, inbox)
}

async fn smtp_session(socket: tokio::net::TcpStream, inbox: Inbox) -> std::io::Result<()> {
    let (r, mut w) = socket.into_split();
    let mut r = BufReader::new(r);
    w.write_all(b"220 puits.test ESMTP\r\n").await?;
    let mut current = Received::default();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if r.read_until(b'\n', &mut buf).await? == 0 {
            return Ok(());
        }
        let line = String::from_utf8_lossy(&buf).trim_end().to_string();
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-puits.test\r\n250 8BITMIME\r\n"
        } else if upper.starts_with("HELO") {
            b"250 puits.test\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            current = Received {
                mail_from: line[10..].trim().to_string(),
                ..Received::default()
            };
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            current.rcpt_to.push(line[8..].trim().to_string());
            b"250 OK\r\n"
        } else if upper == "DATA" {
            w.write_all(b"354 fin par <CRLF>.<CRLF>\r\n").await?;
            let mut data = String::new();
            loop {
                buf.clear();
                if r.read_until(b'\n', &mut buf).await? == 0 {
                    return Ok(());
                }
                let l = String::from_utf8_lossy(&buf).to_string();
                if l == ".\r\n" || l == ".\n" {
                    break;
                }
                data.push_str(l.strip_prefix('.').unwrap_or(&l));
            }
            current.data = data;
            inbox.lock().unwrap().push(std::mem::take(&mut current));
            b"250 OK message accepte\r\n"
        } else if upper == "QUIT" {
            w.write_all(b"221 au revoir\r\n").await?;
            return Ok(());
        } else {
            b"250 OK\r\n"
        };
        w.write_all(reply).await?;
    }
}

/// A port on which nothing listens.
async fn closed_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

fn qp_decode(s: &str) -> Vec<u8> {
    let s = s.replace("=\r\n", "");
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' && i + 3 <= b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
            if let Ok(v) = u8::from_str_radix(hex, 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Decodes RFC 2047 encoded words (`=?utf-8?b?…?=`, `=?utf-8?q?…?=`) of a header value.
fn decode_header(value: &str) -> String {
    let mut out = String::new();
    let mut last_encoded = false;
    for (i, token) in value.split_whitespace().enumerate() {
        let parts: Vec<&str> = token.split('?').collect();
        if token.starts_with("=?") && token.ends_with("?=") && parts.len() == 5 {
            let bytes = match parts[2].to_ascii_lowercase().as_str() {
                "b" => base64::engine::general_purpose::STANDARD
                    .decode(parts[3])
                    .unwrap(),
                _ => qp_decode(&parts[3].replace('_', " ")),
            };
            if i > 0 && !last_encoded {
                out.push(' ');
            }
            out.push_str(&String::from_utf8(bytes).unwrap());
            last_encoded = true;
        } else {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(token);
            last_encoded = false;
        }
    }
    out
}

/// The decoded subject and body of a received message.
fn subject_and_body(data: &str) -> (String, String) {
    let (head, body) = data.split_once("\r\n\r\n").expect("headers, then body");
    let head = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                l.split_once(':')
                    .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_default()
    };
    let subject = decode_header(&header("Subject"));
    let body = match header("Content-Transfer-Encoding")
        .to_ascii_lowercase()
        .as_str()
    {
        "quoted-printable" => String::from_utf8(qp_decode(body)).unwrap(),
        "base64" => String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(body.split_whitespace().collect::<String>())
                .unwrap(),
        )
        .unwrap(),
        _ => body.to_string(),
    };
    (subject, body.replace("\r\n", "\n").trim_end().to_string())
}

/// Waits until `done` holds for the outbox, or fails after 30 s.
async fn wait_outbox(
    app: &TestApp,
    what: &str,
    done: impl Fn(&[OutboxMail]) -> bool,
) -> Vec<OutboxMail> {
    for _ in 0..300 {
        let mails = app.store.outbox(100).await.unwrap();
        if done(&mails) {
            return mails;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: {:?}", app.store.outbox(100).await.unwrap());
}

fn receipt() -> Mail {
    Mail {
        to: "porteur@asso-exemple.fr".into(),
        subject: "Dossier n° 42 : accusé de réception".into(),
        body: "Bonjour,\n\nVotre demande « Ateliers numériques à l'Épeule » a bien été déposée.\nUne ligne qui commence par un point :\n.\n\nL'équipe du contrat de ville".into(),
    }
}

async fn delivered_to_smtp(app: TestApp) {
    let (port, inbox) = smtp_sink().await;
    let bad = Mail {
        to: "pas une adresse".into(),
        subject: "Destinataire invalide".into(),
        body: "Ne part jamais.".into(),
    };
    app.store.enqueue_mails(&[receipt(), bad]).await.unwrap();
    let settings = MailSettings {
        smtp_url: Some(format!("smtp://127.0.0.1:{port}")),
        from: "Contrat de ville <contrat-de-ville@mel.fr>".into(),
    };
    let deliverer =
        spawn_deliverer(app.store.clone(), settings).expect("an SMTP URL starts delivery");
    let mails = wait_outbox(
        &app,
        "the receipt is sent and the bad one has failed",
        |m| {
            m.len() == 2
                && m.iter()
                    .all(|m| m.sent_at.is_some() || m.last_error.is_some())
        },
    )
    .await;
    deliverer.abort();
    // Newest first: the bad one, then the receipt.
    let (bad, sent) = (&mails[0], &mails[1]);
    assert!(
        sent.sent_at.is_some() && sent.last_error.is_none(),
        "{sent:?}"
    );
    assert_eq!(sent.mail, receipt());
    assert!(
        bad.sent_at.is_none(),
        "a failed mail stays pending: {bad:?}"
    );
    let err = bad.last_error.as_deref().unwrap();
    assert!(err.contains("pas une adresse"), "{err}");
    assert_eq!(app.store.pending_mails(10).await.unwrap().len(), 1);

    let got = inbox.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        got[0].mail_from.split_whitespace().next(),
        Some("<contrat-de-ville@mel.fr>")
    );
    assert_eq!(got[0].rcpt_to, vec!["<porteur@asso-exemple.fr>"]);
    let (subject, body) = subject_and_body(&got[0].data);
    assert_eq!(subject, receipt().subject, "{}", got[0].data);
    assert_eq!(body, receipt().body, "{}", got[0].data);
    assert!(
        got[0].data.contains("To: porteur@asso-exemple.fr"),
        "{}",
        got[0].data
    );

    // The administrator sees both on the outbox page.
    app.user("admin@quartiers.fr", None, true).await;
    let page = app
        .signed_in("admin@quartiers.fr")
        .await
        .get("/admin/courriels")
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains("envoyé") && page.text.contains("erreur"),
        "{}",
        page.text
    );
    assert!(page.text.contains("Destinataire invalide"));
}
both_engines!(the_outbox_is_delivered_by_smtp, delivered_to_smtp);

async fn unreachable_server(app: TestApp) {
    let port = closed_port().await;
    app.store.enqueue_mails(&[receipt()]).await.unwrap();
    let settings = MailSettings {
        smtp_url: Some(format!("smtp://127.0.0.1:{port}")),
        from: "contrat-de-ville@mel.fr".into(),
    };
    let deliverer = spawn_deliverer(app.store.clone(), settings).unwrap();
    let mails = wait_outbox(&app, "the failure is recorded", |m| {
        m.first().is_some_and(|m| m.last_error.is_some())
    })
    .await;
    deliverer.abort();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].sent_at.is_none(), "{:?}", mails[0]);
    assert_eq!(mails[0].mail, receipt(), "nothing of the mail is lost");
    let err = mails[0].last_error.clone().unwrap();
    assert!(err.starts_with("envoi refusé ou impossible"), "{err}");
    assert_eq!(app.store.pending_mails(10).await.unwrap().len(), 1);

    // The page shows the error.
    app.user("admin@quartiers.fr", None, true).await;
    let page = app
        .signed_in("admin@quartiers.fr")
        .await
        .get("/admin/courriels")
        .await;
    assert!(
        page.text.contains("erreur") && page.text.contains("envoi refusé ou impossible"),
        "{}",
        page.text
    );

    assert!(
        page.text.contains("1 essai en échec ; prochain essai le"),
        "{}",
        page.text
    );

    // Once a server answers, the mail still waits for its next try (stored with it, so it
    // holds for every server)...
    let (port, inbox) = smtp_sink().await;
    let mailer = Mailer::new(
        &format!("smtp://127.0.0.1:{port}"),
        "contrat-de-ville@mel.fr",
    )
    .unwrap();
    let round = mailer
        .deliver_pending(&app.store, "serveur-b")
        .await
        .unwrap();
    assert_eq!((round.sent, round.failed), (0, 0), "not due yet");
    assert!(inbox.lock().unwrap().is_empty());

    // ... unless an administrator brings it forward: other users and forged forms are refused.
    app.user("porteur@asso-exemple.fr", None, false).await;
    let other = app.signed_in("porteur@asso-exemple.fr").await;
    let token = session_csrf(&other).await;
    let r = other
        .post_form("/admin/courriels/reessayer", &[("csrf", token.as_str())])
        .await;
    assert_eq!(r.status, 403);
    let admin = app.signed_in("admin@quartiers.fr").await;
    let r = admin
        .post_form("/admin/courriels/reessayer", &[("csrf", "forgé")])
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        mailer
            .deliver_pending(&app.store, "serveur-b")
            .await
            .unwrap(),
        Default::default()
    );
    let r = admin
        .submit("/admin/courriels", Some("/admin/courriels/reessayer"), &[])
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.location.as_deref(), Some("/admin/courriels"));

    // The same mail leaves: it was kept pending.
    let round = mailer
        .deliver_pending(&app.store, "serveur-b")
        .await
        .unwrap();
    assert_eq!((round.sent, round.failed), (1, 0));
    assert_eq!(inbox.lock().unwrap().len(), 1);
    let m = &app.store.outbox(10).await.unwrap()[0];
    assert!(m.sent_at.is_some() && m.last_error.is_none(), "{m:?}");
}
both_engines!(
    an_unreachable_server_keeps_mails_pending,
    unreachable_server
);

async fn two_servers(app: TestApp) {
    // Two app servers share the database, each with its deliverer: every mail leaves once.
    let (port, inbox) = smtp_sink().await;
    let mails: Vec<Mail> = (1..=40)
        .map(|i| Mail {
            to: format!("porteur{i}@asso-exemple.fr"),
            subject: format!("Dossier n° {i} : accusé de réception"),
            body: "Votre demande a bien été déposée.".into(),
        })
        .collect();
    app.store.enqueue_mails(&mails).await.unwrap();
    let url = format!("smtp://127.0.0.1:{port}");
    let a = Mailer::new(&url, "contrat-de-ville@mel.fr").unwrap();
    let b = Mailer::new(&url, "contrat-de-ville@mel.fr").unwrap();
    let (ra, rb) = tokio::join!(
        a.deliver_pending(&app.store, "serveur-a"),
        b.deliver_pending(&app.store, "serveur-b")
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.sent + rb.sent, 40, "{ra:?} {rb:?}");
    assert_eq!(ra.failed + rb.failed, 0);
    // A round claims at most its batch; a second round finds nothing left.
    let again = a.deliver_pending(&app.store, "serveur-a").await.unwrap();
    assert_eq!(again.sent + again.failed, 0);
    let got = inbox.lock().unwrap().clone();
    let mut to: Vec<String> = got.iter().flat_map(|r| r.rcpt_to.clone()).collect();
    to.sort();
    to.dedup();
    assert_eq!(got.len(), 40, "each mail sent once");
    assert_eq!(to.len(), 40);
    assert!(app.store.pending_mails(100).await.unwrap().is_empty());
}
both_engines!(two_servers_send_each_mail_once, two_servers);

async fn outbox_page(app: TestApp) {
    let app = app.with_demo().await;
    // Without an SMTP server nothing is sent: mails stay in the outbox.
    assert!(spawn_deliverer(app.store.clone(), MailSettings::default()).is_none());
    app.user("admin@quartiers.fr", None, true).await;
    app.user("pilote@mel.fr", Some((Role::Pilote, "mel-2024")), false)
        .await;
    app.user("lecteur@mel.fr", Some((Role::Lecteur, "mel-2024")), false)
        .await;
    app.store
        .enqueue_mails(&[
            Mail {
                to: "instructeur@lille.fr".into(),
                subject: "Complément demandé <script>alert(1)</script>".into(),
                body: "Merci de joindre le budget signé.".into(),
            },
            receipt(),
        ])
        .await
        .unwrap();

    // Anonymous: the same refusal as the accounts page.
    assert_eq!(app.client().get("/admin/courriels").await.status, 401);
    for who in ["pilote@mel.fr", "lecteur@mel.fr"] {
        let c = app.signed_in(who).await;
        let page = c.get("/admin/courriels").await;
        assert_eq!(page.status, 403, "{who}");
        assert!(!page.text.contains("porteur@asso-exemple.fr"), "{who}");
        assert!(
            !c.get("/").await.text.contains("/admin/courriels"),
            "{who}: no link"
        );
    }

    let admin = app.signed_in("admin@quartiers.fr").await;
    assert!(admin
        .get("/")
        .await
        .text
        .contains("href=\"/admin/courriels\""));
    let page = admin.get("/admin/courriels").await;
    assert_eq!(page.status, 200);
    let html = &page.text;
    assert!(html.contains("Aucun serveur SMTP"), "{html}");
    assert!(html.contains("2 courriels, dont 2 en attente."), "{html}");
    // Newest first, escaped, with recipient, status and the body in a <details>.
    let receipt_at = html.find("porteur@asso-exemple.fr").unwrap();
    let request_at = html.find("instructeur@lille.fr").unwrap();
    assert!(receipt_at < request_at, "newest first");
    assert!(html.contains("Complément demandé &lt;script&gt;"), "{html}");
    assert!(!html.contains("<script>alert(1)"));
    assert!(html.contains("en attente"));
    assert!(html.contains("Dossier n° 42 : accusé de réception"));
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse("#courriels tbody tr details pre").unwrap();
    let bodies: Vec<String> = doc.select(&sel).map(|e| e.text().collect()).collect();
    assert_eq!(
        bodies,
        vec![
            receipt().body,
            "Merci de joindre le budget signé.".to_string()
        ]
    );
}
both_engines!(the_outbox_page_is_for_administrators, outbox_page);
