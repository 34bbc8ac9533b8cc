//! The database: the pool, the migrations, and the managed local Postgres used when
//! `DATABASE_URL` is unset.
//!
//! The managed Postgres runs from the installed PostgreSQL binaries in a data directory that
//! persists between runs. It listens only on a Unix socket inside that directory (no port to
//! collide with), runs as the `postgres` user when Portolan is started as root (Postgres refuses
//! root), and is stopped when Portolan exits if Portolan started it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::config::{Config, redact_url};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// A connected database, and the local Postgres behind it when Portolan manages one.
pub struct Database {
    pub pool: PgPool,
    pub managed: Option<ManagedPostgres>,
}

impl Database {
    /// Connects to `DATABASE_URL`, or starts (and if needed creates) the managed local Postgres.
    pub async fn open(config: &Config) -> anyhow::Result<Self> {
        let (options, managed) = match &config.database_url {
            Some(url) => {
                let options: PgConnectOptions = url.parse().with_context(|| {
                    format!("DATABASE_URL ({}) could not be read", redact_url(url))
                })?;
                tracing::info!(database = %redact_url(url), "using the database of DATABASE_URL");
                (options, None)
            }
            None => {
                let managed = ManagedPostgres::start(&config.data_dir.join("postgres")).await?;
                (managed.connect_options("portolan"), Some(managed))
            }
        };
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .context(
                "could not connect to the database; is it running, and are the credentials right?",
            )?;
        Ok(Self { pool, managed })
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        MIGRATOR
            .run(&self.pool)
            .await
            .context("applying migrations failed")?;
        Ok(())
    }

    /// Closes the pool, then stops the managed Postgres if this process started it.
    pub async fn close(self) {
        self.pool.close().await;
        if let Some(managed) = self.managed {
            managed.stop();
        }
    }
}

pub fn running_as_root() -> bool {
    // The effective uid is the second field of the `Uid:` line.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|uid| uid == "0"))
        })
        .unwrap_or(false)
}

pub struct ManagedPostgres {
    data_dir: PathBuf,
    bin_dir: PathBuf,
    /// False when another process had already started it: leave it running then.
    started_here: bool,
}

impl ManagedPostgres {
    pub async fn start(data_dir: &Path) -> anyhow::Result<Self> {
        let bin_dir = find_postgres_binaries().ok_or_else(|| {
            anyhow::anyhow!(
                "DATABASE_URL is not set and no PostgreSQL server binaries (initdb, pg_ctl) were found.\n\
                 Choose one way out:\n  \
                 - install PostgreSQL (Debian/Ubuntu: apt-get install postgresql) and run Portolan again;\n  \
                 - set DATABASE_URL=postgres://user:password@host:5432/database to use an existing database;\n  \
                 - or run the whole stack with `docker compose up`."
            )
        })?;
        let data_dir = absolute(data_dir)?;
        std::fs::create_dir_all(&data_dir).with_context(|| {
            format!("could not create the data directory {}", data_dir.display())
        })?;
        let as_root = running_as_root();
        if as_root {
            run(Command::new("chown")
                .arg("-R")
                .arg("postgres:postgres")
                .arg(&data_dir))
            .context("could not hand the data directory to the postgres user")?;
            // Postgres needs to reach its directory through every parent.
            let mut parent = data_dir.parent();
            while let Some(p) = parent {
                if p == Path::new("/") {
                    break;
                }
                let _ = run(Command::new("chmod").arg("o+x").arg(p));
                parent = p.parent();
            }
        }
        let mut me = Self {
            data_dir,
            bin_dir,
            started_here: false,
        };
        if !me.data_dir.join("PG_VERSION").exists() {
            tracing::info!(dir = %me.data_dir.display(), "creating the managed Postgres cluster");
            me.pg(&["initdb"], |c| {
                c.args([
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--no-instructions",
                    "-D",
                ])
                .arg(&me.data_dir);
            })
            .context("initdb failed")?;
        }
        if !me.is_running() {
            let socket_dir = me.data_dir.display().to_string();
            let log = me.data_dir.join("server.log");
            me.pg(&["pg_ctl"], |c| {
                c.arg("-D")
                    .arg(&me.data_dir)
                    .arg("-l")
                    .arg(&log)
                    .args(["-w", "-t", "60", "-o"])
                    .arg(format!(
                        "-c listen_addresses='' -c unix_socket_directories='{socket_dir}'"
                    ));
                c.arg("start");
            })
            .with_context(|| {
                format!("the managed Postgres did not start; see {}", log.display())
            })?;
            me.started_here = true;
        }
        me.ensure_database("portolan").await?;
        tracing::info!(
            dir = %me.data_dir.display(),
            "managed Postgres is running; connect with: psql -h {} -U postgres portolan",
            me.data_dir.display()
        );
        Ok(me)
    }

    pub fn connect_options(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(&self.data_dir)
            .username("postgres")
            .database(database)
    }

    async fn ensure_database(&self, name: &str) -> anyhow::Result<()> {
        let mut conn: sqlx::PgConnection =
            sqlx::Connection::connect_with(&self.connect_options("postgres"))
                .await
                .context("could not connect to the managed Postgres")?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(name)
                .fetch_one(&mut conn)
                .await?;
        if !exists {
            sqlx::query(&format!("CREATE DATABASE \"{name}\""))
                .execute(&mut conn)
                .await?;
        }
        Ok(())
    }

    fn is_running(&self) -> bool {
        self.pg(&["pg_ctl"], |c| {
            c.arg("-D").arg(&self.data_dir).arg("status");
        })
        .is_ok()
    }

    /// Runs a PostgreSQL program, as the postgres user when we are root.
    fn pg(&self, program: &[&str], configure: impl FnOnce(&mut Command)) -> anyhow::Result<()> {
        let exe = self.bin_dir.join(program[0]);
        let mut cmd = if running_as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        configure(&mut cmd);
        run(&mut cmd)
    }

    /// Stops the cluster if this process started it (also done on drop, so an early error or a
    /// panic does not leave it running).
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for ManagedPostgres {
    fn drop(&mut self) {
        if !self.started_here {
            return;
        }
        self.started_here = false;
        tracing::info!(dir = %self.data_dir.display(), "stopping the managed Postgres");
        if let Err(e) = self.pg(&["pg_ctl"], |c| {
            c.arg("-D")
                .arg(&self.data_dir)
                .args(["-m", "fast", "-w", "stop"]);
        }) {
            tracing::warn!(error = %e, "stopping the managed Postgres failed");
        }
    }
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let out = cmd
        .output()
        .with_context(|| format!("could not run {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{:?} failed ({}): {}",
            cmd.get_program(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    if p.is_absolute() {
        Ok(p.to_path_buf())
    } else {
        Ok(std::env::current_dir()?.join(p))
    }
}

/// `initdb` and `pg_ctl` on PATH, or in the newest `/usr/lib/postgresql/<version>/bin`.
fn find_postgres_binaries() -> Option<PathBuf> {
    let has_both = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    let mut versioned: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            Some((v, e.path().join("bin")))
        })
        .filter(|(_, d)| has_both(d))
        .collect();
    versioned.sort();
    if let Some((_, d)) = versioned.pop() {
        return Some(d);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .find(|d| has_both(d))
}
