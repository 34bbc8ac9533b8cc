//! Reading the audit log.

use axum::Json;
use axum::extract::State;
use portolan_api::{AuditRecord, ErrorBody, Page, TARGET_KINDS};
use serde::Deserialize;
use time::OffsetDateTime;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::repo;
use crate::AppState;
use crate::error::{AppResult, Problems};
use crate::extract::ApiQuery;
use crate::pagination::{decode_id_cursor, finish_page, page_size};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_audit_records))
        .routes(routes!(export_audit_records))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditListQuery {
    /// Only changes by this actor id (`<tenant>:<object>` for a person, `token:<id>`).
    actor: Option<String>,
    /// Only this action, e.g. `service.update`.
    action: Option<String>,
    /// Only changes to this kind of record: `team`, `system`, `service`, `dependency`,
    /// `environment`, `deployment`, `api_token`, `database`.
    target_kind: Option<String>,
    /// Only changes to this record (its slug or id).
    target_id: Option<String>,
    /// Only changes at or after this time: RFC 3339 (`2026-11-01T09:00:00Z`) or a date
    /// (`2026-11-01`, from the start of that day, UTC).
    since: Option<String>,
    /// Only changes before this time: RFC 3339, or a date (`2026-11-30`, up to the end of that
    /// day, UTC).
    until: Option<String>,
    cursor: Option<String>,
    /// Page size, 1–200 (default 50).
    limit: Option<u32>,
}

/// The filters of a list or an export, checked: every bad one is named.
fn filter_of(
    actor: Option<String>,
    action: Option<String>,
    target_kind: Option<String>,
    target_id: Option<String>,
    (since, until): (Option<String>, Option<String>),
) -> AppResult<repo::AuditFilter> {
    let given = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let mut problems = Problems::default();
    let target_kind = given(target_kind);
    if let Some(kind) = &target_kind
        && !TARGET_KINDS.contains(&kind.as_str())
    {
        problems.add(
            "target_kind",
            format!(
                "'{kind}' is not a kind of record; use one of {}",
                TARGET_KINDS.join(", ")
            ),
        );
    }
    let since = given(since).and_then(|t| problems.check("since", parse_instant(&t, Bound::Start)));
    let until = given(until).and_then(|t| problems.check("until", parse_instant(&t, Bound::End)));
    if let (Some(s), Some(u)) = (since, until)
        && s >= u
    {
        problems.add("until", "must be later than since");
    }
    problems.finish()?;
    Ok(repo::AuditFilter {
        actor_id: given(actor),
        action: given(action),
        target_kind,
        target_id: given(target_id),
        since,
        until,
    })
}

/// Which end of a date a bare date stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bound {
    /// The start of the day.
    Start,
    /// The end of the day (the start of the next, exclusive).
    End,
}

/// An instant from RFC 3339, or from a date (UTC) read as the start or the end of that day.
fn parse_instant(text: &str, bound: Bound) -> Result<OffsetDateTime, String> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(at);
    }
    let date_format = time::macros::format_description!("[year]-[month]-[day]");
    match time::Date::parse(text, &date_format) {
        Ok(date) => {
            let day = match bound {
                Bound::Start => Some(date),
                Bound::End => date.next_day(),
            };
            day.map(|d| d.midnight().assume_utc())
                .ok_or_else(|| format!("'{text}' is out of range"))
        }
        Err(_) => Err(format!(
            "'{text}' is not a time; use RFC 3339 (2026-11-01T09:00:00Z) or a date (2026-11-01)"
        )),
    }
}

/// The audit log, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditListQuery),
    responses((status = 200, body = Page<AuditRecord>), (status = 422, body = ErrorBody)))]
async fn list_audit_records(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<AuditListQuery>,
) -> AppResult<Json<Page<AuditRecord>>> {
    let limit = page_size(q.limit)?;
    let before = decode_id_cursor(q.cursor.as_deref())?;
    let filter = filter_of(
        q.actor,
        q.action,
        q.target_kind,
        q.target_id,
        (q.since, q.until),
    )?;
    let mut conn = state.pool.acquire().await?;
    let rows = repo::list(&mut conn, &filter, repo::Walk::Back(before), limit + 1).await?;
    Ok(Json(finish_page(rows, limit, |r| r.seq.to_string())))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditExportQuery {
    /// `csv` (default) or `jsonl` (one JSON record per line).
    format: Option<String>,
    /// Only changes by this actor id.
    actor: Option<String>,
    /// Only this action, e.g. `service.update`.
    action: Option<String>,
    /// Only changes to this kind of record.
    target_kind: Option<String>,
    /// Only changes to this record (its slug or id).
    target_id: Option<String>,
    /// Only changes at or after this time (RFC 3339 or a date).
    since: Option<String>,
    /// Only changes before this time (RFC 3339, or a date: up to the end of that day).
    until: Option<String>,
}

/// How many records an export reads from the database at a time.
const EXPORT_CHUNK: i64 = 1000;

/// One CSV field: always quoted, quotes doubled, and a leading `=`, `+`, `-` or `@` defused so
/// that a spreadsheet never runs it as a formula.
fn csv_field(text: &str) -> String {
    let defused = match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_string(),
    };
    format!("\"{}\"", defused.replace('"', "\"\""))
}

pub const CSV_HEADER: &str = "seq,at,actor_kind,actor_id,actor_name,action,target_kind,target_id,request_id,before,after,hash\n";

fn csv_line(r: &AuditRecord) -> String {
    let json =
        |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string()).unwrap_or_default();
    let at =
        r.at.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
    let kind = serde_json::to_value(r.actor_kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let fields = [
        r.seq.to_string(),
        at,
        kind,
        r.actor_id.clone(),
        r.actor_name.clone(),
        r.action.clone(),
        r.target_kind.clone(),
        r.target_id.clone(),
        r.request_id.clone().unwrap_or_default(),
        json(&r.before),
        json(&r.after),
        r.hash.clone(),
    ];
    let mut line = fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",");
    line.push('\n');
    line
}

/// The audit log as a download, oldest first, with the same filters as the list: CSV for
/// spreadsheets or JSON Lines for tools. Streamed, so exporting millions of records holds only a
/// chunk in memory.
#[utoipa::path(get, path = "/api/v1/audit/export", tag = "audit", params(AuditExportQuery),
    responses((status = 200, description = "text/csv or application/x-ndjson", content_type = "text/csv"),
        (status = 400, body = ErrorBody)))]
async fn export_audit_records(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<AuditExportQuery>,
) -> AppResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let csv = match q.format.as_deref() {
        None | Some("csv") => true,
        Some("jsonl") => false,
        Some(other) => {
            return Err(crate::error::AppError::field(
                "format",
                format!("'{other}' is not csv or jsonl"),
            ));
        }
    };
    let filter = filter_of(
        q.actor,
        q.action,
        q.target_kind,
        q.target_id,
        (q.since, q.until),
    )?;
    let pool = state.pool.clone();
    // State: the last seq sent, or None when done. The header goes first for CSV.
    let header =
        futures_util::stream::iter(csv.then(|| {
            Ok::<_, std::io::Error>(axum::body::Bytes::from_static(CSV_HEADER.as_bytes()))
        }));
    let rows = futures_util::stream::unfold(Some(0i64), move |after| {
        let pool = pool.clone();
        let filter = filter.clone();
        async move {
            let after = after?;
            let chunk = match pool.acquire().await {
                Ok(mut conn) => {
                    repo::list(&mut conn, &filter, repo::Walk::Forward(after), EXPORT_CHUNK).await
                }
                Err(e) => Err(e.into()),
            };
            match chunk {
                Ok(records) if records.is_empty() => None,
                Ok(records) => {
                    let next = (records.len() as i64 == EXPORT_CHUNK)
                        .then(|| records.last().map(|r| r.seq))
                        .flatten();
                    let mut out = String::new();
                    for r in &records {
                        if csv {
                            out.push_str(&csv_line(r));
                        } else {
                            out.push_str(&serde_json::to_string(r).unwrap_or_default());
                            out.push('\n');
                        }
                    }
                    Some((Ok(axum::body::Bytes::from(out)), next))
                }
                Err(e) => {
                    // The download ends broken rather than silently short.
                    tracing::error!(error = ?e, "the audit export failed part-way");
                    Some((
                        Err(std::io::Error::other("the audit export failed part-way")),
                        None,
                    ))
                }
            }
        }
    });
    let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
    let (content_type, ext) = if csv {
        ("text/csv; charset=utf-8", "csv")
    } else {
        ("application/x-ndjson", "jsonl")
    };
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, content_type.to_string()),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"portolan-audit-{stamp}.{ext}\""),
            ),
        ],
        // Fused: the server may ask a finished body once more, which an unfold must not see.
        axum::body::Body::from_stream(futures_util::StreamExt::fuse(
            futures_util::StreamExt::chain(header, rows),
        )),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn times_are_rfc3339_or_whole_days() {
        assert_eq!(
            parse_instant("2026-11-01T09:30:00+01:00", Bound::Start),
            Ok(datetime!(2026-11-01 08:30 UTC))
        );
        assert_eq!(
            parse_instant("2026-11-01", Bound::Start),
            Ok(datetime!(2026-11-01 00:00 UTC))
        );
        // "until 30 November" includes the whole of that day.
        assert_eq!(
            parse_instant("2026-11-30", Bound::End),
            Ok(datetime!(2026-12-01 00:00 UTC))
        );
        let err = parse_instant("yesterday", Bound::Start).expect_err("not a time");
        assert!(err.contains("'yesterday' is not a time"), "{err}");
        assert!(parse_instant("2026-02-30", Bound::Start).is_err());
    }

    fn field_names(e: crate::error::AppError) -> Vec<String> {
        match e {
            crate::error::AppError::Validation(fields) => {
                fields.into_iter().map(|f| f.field).collect()
            }
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn filters_are_trimmed_and_every_bad_one_is_named() {
        let f = filter_of(
            Some(" t:o ".into()),
            Some(String::new()),
            Some("service".into()),
            None,
            (Some("2026-11-01".into()), None),
        )
        .expect("good filters");
        assert_eq!(f.actor_id.as_deref(), Some("t:o"));
        assert_eq!(f.action, None, "an empty value is no filter");
        assert_eq!(f.since, Some(datetime!(2026-11-01 00:00 UTC)));

        let e = filter_of(
            None,
            None,
            Some("spaceship".into()),
            None,
            (Some("soon".into()), Some("2026-13-01".into())),
        )
        .expect_err("bad filters");
        assert_eq!(field_names(e), ["target_kind", "since", "until"]);

        let e = filter_of(
            None,
            None,
            None,
            None,
            (
                Some("2026-11-02".into()),
                Some("2026-11-01T00:00:00Z".into()),
            ),
        )
        .expect_err("an empty window");
        assert_eq!(field_names(e), ["until"]);
    }

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("plain"), "\"plain\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "\"'=HYPERLINK(1)\"");
        assert_eq!(csv_field("-1+1"), "\"'-1+1\"");
        assert_eq!(csv_field("a,b\nc"), "\"a,b\nc\"");
    }
}
