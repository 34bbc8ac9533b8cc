//! Pure rules of the pipeline.

use portolan_api::DeployedVersion;
use time::OffsetDateTime;

/// The current deployment of one service in one environment, as read from the database.
#[derive(Debug, Clone, PartialEq)]
pub struct Current {
    pub deployment_id: i64,
    pub version: String,
    pub commit_sha: Option<String>,
    pub deployed_at: OffsetDateTime,
}

/// Turns one service's current deployments, in pipeline order, into the cells shown to people:
/// age at `as_of`, and whether each differs from the stage before it. The first stage never
/// "differs": nothing comes before it.
pub fn pipeline_cells(
    current: Vec<Option<Current>>,
    as_of: OffsetDateTime,
) -> Vec<Option<DeployedVersion>> {
    let mut previous: Option<String> = None;
    let mut out = Vec::with_capacity(current.len());
    for (i, cell) in current.into_iter().enumerate() {
        let this_version = cell.as_ref().map(|c| c.version.clone());
        out.push(cell.map(|c| DeployedVersion {
            deployment_id: c.deployment_id,
            differs_from_previous: i > 0 && previous.as_deref() != Some(c.version.as_str()),
            age_seconds: (as_of - c.deployed_at).whole_seconds().max(0),
            version: c.version,
            commit_sha: c.commit_sha,
            deployed_at: c.deployed_at,
        }));
        previous = this_version;
    }
    out
}

/// Where an environment lands when inserted at `wanted` (1-based) into a pipeline of `count`:
/// absent means last. Refuses places past the end.
pub fn insert_position(wanted: Option<i32>, count: i32) -> Result<i32, String> {
    match wanted {
        None => Ok(count + 1),
        Some(p) if (1..=count + 1).contains(&p) => Ok(p),
        Some(_) => Err(format!("must be between 1 and {}", count + 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn cur(v: &str, at: OffsetDateTime) -> Option<Current> {
        Some(Current {
            deployment_id: 1,
            version: v.into(),
            commit_sha: None,
            deployed_at: at,
        })
    }

    #[test]
    fn versions_that_differ_from_the_previous_stage_are_marked() {
        let at = datetime!(2026-11-01 10:00 UTC);
        let now = datetime!(2026-11-01 12:00 UTC);
        let cells = pipeline_cells(
            vec![cur("1.3.0", at), cur("1.3.0", at), cur("1.2.0", at), None],
            now,
        );
        let differs: Vec<Option<bool>> = cells
            .iter()
            .map(|c| c.as_ref().map(|c| c.differs_from_previous))
            .collect();
        assert_eq!(differs, vec![Some(false), Some(false), Some(true), None]);
        assert_eq!(cells[0].as_ref().map(|c| c.age_seconds), Some(7200));
    }

    #[test]
    fn a_stage_after_an_empty_one_differs() {
        let at = datetime!(2026-11-01 10:00 UTC);
        let cells = pipeline_cells(vec![None, cur("2.0.0", at)], at);
        assert_eq!(
            cells[1].as_ref().map(|c| c.differs_from_previous),
            Some(true)
        );
    }

    #[test]
    fn insert_positions() {
        assert_eq!(insert_position(None, 4), Ok(5));
        assert_eq!(insert_position(Some(1), 4), Ok(1));
        assert_eq!(insert_position(Some(5), 4), Ok(5));
        assert!(insert_position(Some(6), 4).is_err());
        assert!(insert_position(Some(0), 4).is_err());
    }
}
