//! `portolan`: serve the portal, apply migrations, load the demo organisation; and, from a
//! pipeline, ask for a promotion and wait for its gate.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use portolan_server::cli::gate::GateCommand;
use portolan_server::config::Config;
use portolan_server::db::Database;
use portolan_server::{AppState, build_app, seed};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "portolan",
    version,
    about = "Portolan, the internal developer portal"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web UI and the REST API (applies pending migrations first).
    Serve {
        /// Address to listen on [env: PORTOLAN_ADDR] [default: 127.0.0.1:8080]
        #[arg(long)]
        addr: Option<String>,
        /// Load the demo organisation when the database is empty.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Work with the audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// API tokens for pipelines.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Promotion gates, from a pipeline: ask for a promotion and wait for its decision, over
    /// HTTP with an API token (PORTOLAN_URL, PORTOLAN_TOKEN).
    Gate {
        #[command(subcommand)]
        command: GateCommand,
    },
    /// Load data into an empty database.
    Seed {
        /// The demo organisation: teams, 60 services, 4 environments, 180 days of deployments.
        #[arg(long, required = true)]
        demo: bool,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token on behalf of someone who has signed in before, with scopes their roles
    /// allow; prints the token (only this once) on stdout.
    Create {
        /// Whose token it is: `<tenant id>:<object id>` (the development people are
        /// `development:<login>`, e.g. development:developer).
        #[arg(long)]
        user: String,
        /// What it is for, e.g. "payments-service CI".
        #[arg(long)]
        name: String,
        /// read, catalog:write, deployments:write or promotions:write; repeat for more.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// Days until it expires, 1–366.
        #[arg(long, default_value_t = 90)]
        expires_in_days: u32,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the hash chain and name every record that was edited or removed (exit 1 if any).
    Verify,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Gate { command } = cli.command {
        // A client of a running Portolan: its output is for the pipeline's log, not tracing.
        return match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => {
                let code = runtime.block_on(portolan_server::cli::gate::run(
                    command,
                    &mut std::io::stdout(),
                    &mut std::io::stderr(),
                ));
                ExitCode::from(code)
            }
            Err(e) => {
                eprintln!("portolan gate: could not start the async runtime: {e}");
                ExitCode::from(portolan_server::cli::gate::exit::ERROR)
            }
        };
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("PORTOLAN_LOG")
                .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn")),
        )
        .with_target(false)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The chain explains what failed and why, without secrets (URLs are redacted).
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { addr, demo } => serve(addr.as_deref(), demo).await,
        Command::Migrate => {
            let config = Config::from_env(None)?;
            let db = Database::open(&config).await?;
            let result = db.migrate().await;
            db.close().await;
            result?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            let config = Config::from_env(None)?;
            let db = Database::open(&config).await?;
            let result = async {
                db.migrate().await?;
                portolan_server::audit::verify(&db.pool).await
            }
            .await;
            db.close().await;
            let v = result?;
            if v.findings.is_empty() {
                tracing::info!(
                    records = v.rows,
                    head = v.head.as_deref().unwrap_or("(empty)"),
                    "the audit log is intact; keep the head hash elsewhere to detect a removed tail later"
                );
                Ok(())
            } else {
                for f in &v.findings {
                    tracing::error!("{f}");
                }
                anyhow::bail!(
                    "the audit log was tampered with: {} finding(s) in {} records",
                    v.findings.len(),
                    v.rows
                )
            }
        }
        Command::Token {
            command:
                TokenCommand::Create {
                    user,
                    name,
                    scopes,
                    expires_in_days,
                },
        } => {
            let config = Config::from_env(None)?;
            let db = Database::open(&config).await?;
            let result = async {
                db.migrate().await?;
                let new = portolan_api::NewApiToken {
                    name,
                    scopes,
                    expires_in_days: Some(expires_in_days),
                };
                portolan_server::auth::tokens::create_for(&db.pool, &config, &user, &new).await
            }
            .await;
            db.close().await;
            let made = result?;
            tracing::info!(
                id = made.info.id,
                prefix = %made.info.prefix,
                expires_at = %made.info.expires_at,
                "API token created; it is printed on stdout and cannot be shown again"
            );
            // The one output a script captures: `TOKEN=$(portolan token create …)`.
            #[allow(clippy::print_stdout)]
            {
                println!("{}", made.token);
            }
            Ok(())
        }
        Command::Gate { .. } => unreachable!("handled before the runtime starts"),
        Command::Seed { demo: _ } => {
            let config = Config::from_env(None)?;
            let db = Database::open(&config).await?;
            let result = async {
                db.migrate().await?;
                let report = seed::seed_demo(&db.pool).await?;
                tracing::info!(
                    teams = report.teams,
                    services = report.services,
                    dependencies = report.dependencies,
                    environments = report.environments,
                    deployments = report.deployments,
                    commits = report.changes,
                    incidents = report.incidents,
                    postmortems = report.postmortems,
                    action_items = report.action_items,
                    "demo organisation loaded"
                );
                anyhow::Ok(())
            }
            .await;
            db.close().await;
            result
        }
    }
}

async fn serve(addr: Option<&str>, demo: bool) -> anyhow::Result<()> {
    let config = Config::from_env(addr)?;
    config.check_sign_in_possible()?;
    let db = Database::open(&config).await?;
    let result = async {
        db.migrate().await?;
        if config.dev_sign_in {
            portolan_server::auth::session::add_development_people(&db.pool).await?;
            tracing::warn!(
                "the development sign-in is on (PORTOLAN_DEV_SIGN_IN): anyone who can reach this Portolan can act as anyone"
            );
        }
        if demo && seed::is_empty(&db.pool).await? {
            tracing::info!("the database is empty: loading the demo organisation");
            seed::seed_demo(&db.pool).await?;
        }
        if !config.site_root.join("pkg/portolan.wasm").is_file() {
            tracing::warn!(
                site_root = %config.site_root.display(),
                "the browser bundle is missing: pages render but stay static until `bash web/build.sh` builds it \
                 (or PORTOLAN_SITE_ROOT points at it)"
            );
        }
        let listener = tokio::net::TcpListener::bind(config.addr).await.with_context(|| {
            format!("could not listen on {}; choose another address with PORTOLAN_ADDR or --addr", config.addr)
        })?;
        let state = AppState::new(db.pool.clone(), config.clone())?;
        state.live.listen(&db.pool).await.context(
            "could not listen for changes in the database (LISTEN portolan_events) for live updates",
        )?;
        let live = state.live.clone();
        portolan_server::notifications::spawn(db.pool.clone(), state.config.clone(), live.closing())
            .context("could not start the delivery of notifications")?;
        for (channel, url) in portolan_server::notifications::channels(&state.config) {
            tracing::info!(channel = channel.as_str(), webhook = %url.redacted(), "promotion requests are announced to this incoming webhook");
        }
        if let Some(oidc) = &state.oidc {
            tracing::info!(issuer = %oidc.config.issuer, redirect_uri = %oidc.redirect_uri(), "sign-in is on");
            if let Some(graph) = &oidc.config.graph {
                tracing::info!(graph = graph.base(), "groups beyond what an ID token lists are looked up in Microsoft Graph at sign-in");
            }
        }
        tracing::info!("Portolan is ready at http://{}", config.addr);
        axum::serve(listener, build_app(state))
            .with_graceful_shutdown(async move {
                shutdown_signal().await;
                // Open event streams end, or the shutdown would wait for them for ever.
                live.close();
            })
            .await?;
        tracing::info!("shutting down");
        anyhow::Ok(())
    }
    .await;
    db.close().await;
    result
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
