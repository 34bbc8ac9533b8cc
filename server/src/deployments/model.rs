//! The deployment state machine and the validation of recorded deployments. No I/O.

use portolan_api::{DeploymentKind, DeploymentStatus, NewDeployment};
use time::{Duration, OffsetDateTime};

use crate::error::{AppResult, Problems};
use crate::validate;

/// Clocks of senders drift; allow this much "future".
pub const CLOCK_SKEW: Duration = Duration::minutes(5);
pub const MAX_CHANGES: usize = 1_000;

/// What a status move does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Already in that status: nothing to do (a retried request).
    Unchanged,
    Move,
}

/// Decides whether a deployment may move from `from` to `to`.
pub fn transition(from: DeploymentStatus, to: DeploymentStatus) -> Result<Transition, String> {
    use DeploymentStatus::*;
    if from == to {
        return Ok(Transition::Unchanged);
    }
    match (from, to) {
        (Queued, InProgress | Failed)
        | (InProgress, Succeeded | Failed)
        | (Succeeded, RolledBack) => Ok(Transition::Move),
        _ => Err(format!(
            "a deployment cannot move from {} to {}{}",
            from.as_str(),
            to.as_str(),
            match from {
                Failed | RolledBack => format!(": {} is final", from.as_str()),
                Succeeded => ": a succeeded deployment can only be rolled back".into(),
                Queued => ": it must start (in_progress) first".into(),
                InProgress => String::new(),
            }
        )),
    }
}

/// The start and finish times after a move to `to` at `at`, checked against each other.
pub fn times_after_move(
    to: DeploymentStatus,
    started_at: Option<OffsetDateTime>,
    finished_at: Option<OffsetDateTime>,
    at: OffsetDateTime,
) -> Result<(Option<OffsetDateTime>, Option<OffsetDateTime>), String> {
    use DeploymentStatus::*;
    let (started, finished) = match to {
        Queued => (started_at, finished_at),
        InProgress => (Some(started_at.unwrap_or(at)), None),
        Succeeded | Failed => (started_at, Some(at)),
        RolledBack => (started_at, finished_at),
    };
    if let (Some(s), Some(f)) = (started, finished)
        && f < s
    {
        return Err(format!(
            "'at' ({at}) is before the deployment started ({s})"
        ));
    }
    Ok((started, finished))
}

/// A recorded deployment after validation, references still as slugs.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidDeployment {
    pub service: String,
    pub environment: String,
    pub version: String,
    pub commit_sha: Option<String>,
    pub status: DeploymentStatus,
    pub kind: DeploymentKind,
    pub started_at: Option<OffsetDateTime>,
    pub finished_at: Option<OffsetDateTime>,
    pub deployed_by: Option<String>,
    pub pipeline_url: Option<String>,
    pub source: String,
    pub external_id: Option<String>,
    pub changes: Vec<ValidChange>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ValidChange {
    pub sha: String,
    pub author: String,
    pub message: String,
    pub committed_at: OffsetDateTime,
}

pub fn validate_new_deployment(
    input: &NewDeployment,
    now: OffsetDateTime,
) -> AppResult<ValidDeployment> {
    use DeploymentStatus::*;
    let mut p = Problems::default();
    let service = p.check("service", validate::slug(&input.service));
    let environment = p.check("environment", validate::slug(&input.environment));
    let version = p.check("version", validate::token(&input.version, 128));
    let commit_sha = match &input.commit_sha {
        Some(s) => p.check("commit_sha", validate::commit_sha(s)),
        None => None,
    };
    let status = input.status.unwrap_or(Succeeded);
    let deployed_by = match &input.deployed_by {
        Some(s) => p.check("deployed_by", validate::token(s, 200)),
        None => None,
    };
    let pipeline_url = match &input.pipeline_url {
        Some(u) => p.check("pipeline_url", validate::http_url(u)),
        None => None,
    };
    let source = p.check(
        "source",
        validate::token(input.source.as_deref().unwrap_or("api"), 100),
    );
    let external_id = match &input.external_id {
        Some(s) => p.check("external_id", validate::token(s, 200)),
        None => None,
    };

    let latest = now + CLOCK_SKEW;
    for (field, at) in [
        ("started_at", input.started_at),
        ("finished_at", input.finished_at),
    ] {
        if at.is_some_and(|t| t > latest) {
            p.add(field, "is in the future");
        }
    }
    let (started_at, finished_at) = match status {
        Queued => {
            if input.finished_at.is_some() {
                p.add("finished_at", "a queued deployment has not finished");
            }
            (input.started_at, None)
        }
        InProgress => {
            if input.finished_at.is_some() {
                p.add("finished_at", "an in_progress deployment has not finished");
            }
            (Some(input.started_at.unwrap_or(now)), None)
        }
        Succeeded | Failed | RolledBack => {
            (input.started_at, Some(input.finished_at.unwrap_or(now)))
        }
    };
    if let (Some(s), Some(f)) = (started_at, finished_at)
        && f < s
    {
        p.add("finished_at", "must not be before started_at");
    }

    if input.changes.len() > MAX_CHANGES {
        p.add(
            "changes",
            format!("at most {MAX_CHANGES} commits per deployment"),
        );
    }
    let mut changes = Vec::with_capacity(input.changes.len());
    let mut seen = std::collections::HashSet::new();
    for (i, c) in input.changes.iter().enumerate().take(MAX_CHANGES) {
        let sha = p.check(&format!("changes[{i}].sha"), validate::commit_sha(&c.sha));
        let author = p.check(
            &format!("changes[{i}].author"),
            validate::token(&c.author, 200),
        );
        let message = p.check(
            &format!("changes[{i}].message"),
            validate::description(&c.message),
        );
        if c.committed_at > latest {
            p.add(format!("changes[{i}].committed_at"), "is in the future");
        }
        if let Some(sha) = &sha
            && !seen.insert(sha.clone())
        {
            p.add(format!("changes[{i}].sha"), "appears more than once");
        }
        if let (Some(sha), Some(author), Some(message)) = (sha, author, message) {
            changes.push(ValidChange {
                sha,
                author,
                message,
                committed_at: c.committed_at,
            });
        }
    }
    p.finish()?;
    Ok(ValidDeployment {
        service: service.unwrap_or_default(),
        environment: environment.unwrap_or_default(),
        version: version.unwrap_or_default(),
        commit_sha,
        status,
        kind: input.kind.unwrap_or(DeploymentKind::Normal),
        started_at,
        finished_at,
        deployed_by,
        pipeline_url,
        source: source.unwrap_or_default(),
        external_id,
        changes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use DeploymentStatus::*;
    use time::macros::datetime;

    #[test]
    fn every_legal_edge_moves() {
        for (from, to) in [
            (Queued, InProgress),
            (Queued, Failed),
            (InProgress, Succeeded),
            (InProgress, Failed),
            (Succeeded, RolledBack),
        ] {
            assert_eq!(
                transition(from, to),
                Ok(Transition::Move),
                "{from:?} -> {to:?}"
            );
        }
    }

    #[test]
    fn resending_the_same_status_changes_nothing() {
        for s in DeploymentStatus::ALL {
            assert_eq!(transition(s, s), Ok(Transition::Unchanged));
        }
    }

    #[test]
    fn every_other_edge_is_refused() {
        let legal = [
            (Queued, InProgress),
            (Queued, Failed),
            (InProgress, Succeeded),
            (InProgress, Failed),
            (Succeeded, RolledBack),
        ];
        for from in DeploymentStatus::ALL {
            for to in DeploymentStatus::ALL {
                if from == to || legal.contains(&(from, to)) {
                    continue;
                }
                let err = transition(from, to).expect_err("illegal edge");
                assert!(
                    err.contains(from.as_str()) && err.contains(to.as_str()),
                    "{err}"
                );
            }
        }
        assert!(
            transition(Failed, Succeeded)
                .expect_err("illegal")
                .contains("final")
        );
        assert!(
            transition(Queued, Succeeded)
                .expect_err("illegal")
                .contains("must start")
        );
    }

    #[test]
    fn moves_stamp_times_and_refuse_finishing_before_start() {
        let s = datetime!(2026-11-01 10:00 UTC);
        let f = datetime!(2026-11-01 10:05 UTC);
        assert_eq!(
            times_after_move(InProgress, None, None, s),
            Ok((Some(s), None))
        );
        assert_eq!(
            times_after_move(Succeeded, Some(s), None, f),
            Ok((Some(s), Some(f)))
        );
        assert!(times_after_move(Failed, Some(f), None, s).is_err());
        assert_eq!(
            times_after_move(RolledBack, Some(s), Some(f), f),
            Ok((Some(s), Some(f)))
        );
    }

    fn input() -> NewDeployment {
        NewDeployment {
            service: "checkout-api".into(),
            environment: "prod".into(),
            version: "1.4.2".into(),
            commit_sha: Some("a1b2c3d4".into()),
            status: None,
            kind: None,
            started_at: None,
            finished_at: None,
            deployed_by: None,
            pipeline_url: None,
            source: None,
            external_id: None,
            changes: vec![],
        }
    }

    #[test]
    fn defaults_to_a_finished_normal_deployment_from_the_api() {
        let now = datetime!(2026-11-01 12:00 UTC);
        let d = validate_new_deployment(&input(), now).expect("valid");
        assert_eq!(
            (d.status, d.kind, d.finished_at, d.source.as_str()),
            (Succeeded, DeploymentKind::Normal, Some(now), "api")
        );
    }

    #[test]
    fn names_each_bad_field() {
        let now = datetime!(2026-11-01 12:00 UTC);
        let mut i = input();
        i.service = "Not A Slug".into();
        i.commit_sha = Some("zzz".into());
        i.pipeline_url = Some("javascript:alert(1)".into());
        i.started_at = Some(datetime!(2026-11-01 11:00 UTC));
        i.finished_at = Some(datetime!(2026-11-01 10:00 UTC));
        i.changes = vec![
            portolan_api::NewChange {
                sha: "abcdef12".into(),
                author: "a".into(),
                message: String::new(),
                committed_at: now,
            },
            portolan_api::NewChange {
                sha: "ABCDEF12".into(),
                author: " ".into(),
                message: String::new(),
                committed_at: now + Duration::hours(1),
            },
        ];
        let Err(crate::error::AppError::Validation(fields)) = validate_new_deployment(&i, now)
        else {
            panic!("expected validation errors");
        };
        let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "service",
                "commit_sha",
                "pipeline_url",
                "finished_at",
                "changes[1].author",
                "changes[1].committed_at",
                "changes[1].sha"
            ]
        );
    }

    #[test]
    fn unfinished_deployments_have_no_finish_time() {
        let now = datetime!(2026-11-01 12:00 UTC);
        let mut i = input();
        i.status = Some(Queued);
        i.finished_at = Some(now);
        assert!(validate_new_deployment(&i, now).is_err());
        i.status = Some(InProgress);
        i.finished_at = None;
        let d = validate_new_deployment(&i, now).expect("valid");
        assert_eq!((d.started_at, d.finished_at), (Some(now), None));
    }
}
