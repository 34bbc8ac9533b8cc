//! The audit log, for administrators: every change, newest first, filtered by who, what, which
//! record and when, with what each change did, and downloads of the same selection.
//!
//! The filter form is a plain GET form (it works before hydration, and every filtered view has
//! its own URL to share).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use portolan_api::{ActorKind, AuditRecord, Page, TARGET_KINDS};
use serde_json::Value;

use super::{page_url, param};
use crate::api::{api_url, use_api};
use crate::components::{EmptyState, ErrorState, Loading, Pager};
use crate::format;

#[derive(Debug, Clone, Default, PartialEq)]
struct Filters {
    actor: Option<String>,
    action: Option<String>,
    target_kind: Option<String>,
    target_id: Option<String>,
    since: Option<String>,
    until: Option<String>,
    cursor: Option<String>,
}

impl Filters {
    /// The filters without the page position, as query pairs (shared by the page, the API call
    /// and the downloads).
    fn selection(&self) -> Vec<(&'static str, Option<String>)> {
        vec![
            ("actor", self.actor.clone()),
            ("action", self.action.clone()),
            ("target_kind", self.target_kind.clone()),
            ("target_id", self.target_id.clone()),
            ("since", self.since.clone()),
            ("until", self.until.clone()),
        ]
    }

    fn pairs(&self) -> Vec<(&'static str, Option<String>)> {
        let mut pairs = self.selection();
        pairs.push(("cursor", self.cursor.clone()));
        pairs
    }

    fn is_filtered(&self) -> bool {
        self.selection().iter().any(|(_, v)| v.is_some())
    }

    /// The page narrowed to one more filter, back on its first page.
    fn with(&self, set: impl FnOnce(&mut Filters)) -> String {
        let mut f = Filters {
            cursor: None,
            ..self.clone()
        };
        set(&mut f);
        page_url("/audit", &f.pairs())
    }
}

/// One field a change touched: its value before and after (`None`: absent).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// How a JSON value reads in a table cell: strings without quotes, the rest as compact JSON.
fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

/// The top-level fields a change created, altered or removed, by name; unchanged fields are
/// left out. A snapshot that is not an object reads as a single field `value`.
pub fn field_changes(before: Option<&Value>, after: Option<&Value>) -> Vec<FieldChange> {
    let as_object = |v: Option<&Value>| -> Vec<(String, Value)> {
        match v {
            None => Vec::new(),
            Some(Value::Object(map)) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            Some(other) => vec![("value".into(), other.clone())],
        }
    };
    let (before, after) = (as_object(before), as_object(after));
    let mut fields: Vec<String> = before.iter().map(|(k, _)| k.clone()).collect();
    for (k, _) in &after {
        if !fields.contains(k) {
            fields.push(k.clone());
        }
    }
    let find = |side: &[(String, Value)], k: &str| {
        side.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    fields
        .into_iter()
        .filter_map(|field| {
            let (b, a) = (find(&before, &field), find(&after, &field));
            (b != a).then(|| FieldChange {
                before: b.as_ref().map(cell),
                after: a.as_ref().map(cell),
                field,
            })
        })
        .collect()
}

/// What a person calls the record: its name (or title, or version) in the snapshot, if any.
pub fn record_label(r: &AuditRecord) -> Option<String> {
    let snapshot = r.after.as_ref().or(r.before.as_ref())?;
    ["name", "title", "version"]
        .iter()
        .find_map(|k| snapshot.get(*k).and_then(Value::as_str))
        .filter(|label| *label != r.target_id)
        .map(str::to_string)
}

/// "3 fields changed", "created", "removed".
fn change_summary(r: &AuditRecord, n: usize) -> String {
    let fields = if n == 1 {
        "1 field".to_string()
    } else {
        format!("{n} fields")
    };
    match (&r.before, &r.after) {
        (None, Some(_)) => format!("Created · {fields}"),
        (Some(_), None) => format!("Removed · {fields}"),
        (None, None) => "No snapshot".into(),
        _ => format!("{fields} changed"),
    }
}

fn actor_kind_label(kind: ActorKind) -> &'static str {
    match kind {
        ActorKind::User => "person",
        ActorKind::Token => "API token",
        ActorKind::System => "Portolan",
        ActorKind::Anonymous => "anonymous",
    }
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let filters = Memo::new(move |_| {
        let q = query.read();
        Filters {
            actor: param(&q, "actor"),
            action: param(&q, "action"),
            target_kind: param(&q, "target_kind"),
            target_id: param(&q, "target_id"),
            since: param(&q, "since"),
            until: param(&q, "until"),
            cursor: param(&q, "cursor"),
        }
    });
    let api = use_api();
    let records = Resource::new(
        move || filters.get(),
        move |f: Filters| {
            let mut pairs = f.pairs();
            pairs.push(("limit", Some("50".into())));
            api.get::<Page<AuditRecord>>(api_url("audit", &pairs))
        },
    );
    let download = move |format: &str| {
        let mut pairs = vec![("format", Some(format.to_string()))];
        pairs.extend(filters.get().selection());
        api_url("audit/export", &pairs)
    };
    let text_field = move |label: &'static str,
                           name: &'static str,
                           placeholder: &'static str,
                           value: Option<String>| {
        view! {
            <label class="field">
                <span class="field-label">{label}</span>
                <input type="text" name=name placeholder=placeholder value=value.unwrap_or_default()/>
            </label>
        }
    };
    let date_field = move |label: &'static str, name: &'static str, value: Option<String>| {
        view! {
            <label class="field">
                <span class="field-label">{label}</span>
                <input type="date" name=name value=value.unwrap_or_default()/>
            </label>
        }
    };

    view! {
        <Title text="Audit log"/>
        <header class="page-header">
            <div>
                <h1>"Audit log"</h1>
                <p class="subtitle">
                    "Every change made through Portolan, newest first. Records cannot be edited or deleted, and each is chained to the one before by its hash: "
                    <code>"portolan audit verify"</code>" proves nothing was altered."
                </p>
            </div>
            <div class="page-actions">
                <a class="button button-secondary" href=move || download("csv") download rel="external">"Download CSV"</a>
                <a class="button button-secondary" href=move || download("jsonl") download rel="external">"Download JSON Lines"</a>
            </div>
        </header>
        {move || {
            let f = filters.get();
            let kind = f.target_kind.clone();
            view! {
                <form class="filters audit-filters" role="search" method="get" action="/audit">
                    {text_field("Who", "actor", "an actor id", f.actor.clone())}
                    {text_field("Action", "action", "e.g. service.update", f.action.clone())}
                    <label class="field">
                        <span class="field-label">"Record kind"</span>
                        <select name="target_kind">
                            <option value="">"Any kind"</option>
                            {TARGET_KINDS.iter().map(|k| {
                                let selected = kind.as_deref() == Some(*k);
                                view! { <option value=*k selected=selected>{k.replace('_', " ")}</option> }
                            }).collect_view()}
                        </select>
                    </label>
                    {text_field("Record", "target_id", "slug or id", f.target_id.clone())}
                    {date_field("From", "since", f.since.clone())}
                    {date_field("Until", "until", f.until.clone())}
                    <button type="submit" class="button filters-submit">"Filter"</button>
                    {f.is_filtered().then(|| view! { <a class="button button-secondary" href="/audit">"Clear"</a> })}
                </form>
            }
        }}
        <section class="card">
            <Transition fallback=|| view! { <Loading lines=10/> }>
                {move || Suspend::new(async move {
                    let f = filters.get_untracked();
                    match records.await {
                        Err(e) => view! { <ErrorState what="the audit log" error=e/> }.into_any(),
                        Ok(page) if page.items.is_empty() => view! {
                            <EmptyState title=if f.is_filtered() { "No change matches these filters.".to_string() } else { "Nothing has been changed yet.".to_string() }>
                                <p>"Changes made in Portolan or through its API appear here as they happen."</p>
                            </EmptyState>
                        }.into_any(),
                        Ok(page) => {
                            let shown = page.items.len();
                            let first_url = f.cursor.is_some().then(|| f.with(|_| {}));
                            let next_url = page.next_cursor.clone().map(|c| {
                                page_url("/audit", &Filters { cursor: Some(c), ..f.clone() }.pairs())
                            });
                            view! {
                                <div class="table-wrap">
                                    <table class="data-table audit-table">
                                        <thead>
                                            <tr>
                                                <th scope="col">"When"</th>
                                                <th scope="col">"Who"</th>
                                                <th scope="col">"Action"</th>
                                                <th scope="col">"Record"</th>
                                                <th scope="col">"What changed"</th>
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {page.items.into_iter().map(|r| view! { <AuditRow record=r filters=f.clone()/> }).collect_view()}
                                        </tbody>
                                    </table>
                                </div>
                                <Pager first_url next_url shown noun="records"/>
                            }.into_any()
                        }
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn AuditRow(record: AuditRecord, filters: Filters) -> impl IntoView {
    let r = record;
    let changes = field_changes(r.before.as_ref(), r.after.as_ref());
    let summary = change_summary(&r, changes.len());
    let by_actor = filters.with(|f| f.actor = Some(r.actor_id.clone()));
    let by_action = filters.with(|f| f.action = Some(r.action.clone()));
    let by_record = filters.with(|f| {
        f.target_kind = Some(r.target_kind.clone());
        f.target_id = Some(r.target_id.clone());
    });
    let service_page = (r.target_kind == "service").then(|| format!("/services/{}", r.target_id));
    let label = record_label(&r);
    // A creation has nothing before it, a removal nothing after: no column of dashes.
    let (show_before, show_after) = (r.before.is_some(), r.after.is_some());
    let short_hash: String = r.hash.chars().take(12).collect();
    view! {
        <tr data-seq=r.seq>
            <td class="audit-when">
                <time datetime=format::machine(r.at)>{format::datetime(r.at)}</time>
                <span class="muted audit-seq">{format!("#{}", r.seq)}</span>
            </td>
            <td class="audit-who">
                <a href=by_actor title="Only changes by them">{r.actor_name.clone()}</a>
                <span class="muted">{format!("{} · ", actor_kind_label(r.actor_kind))}<code>{r.actor_id.clone()}</code></span>
            </td>
            <td><a href=by_action title="Only this action"><code>{r.action.clone()}</code></a></td>
            <td class="audit-record">
                <a href=by_record title="Only changes to this record">{format!("{} {}", r.target_kind.replace('_', " "), r.target_id)}</a>
                {label.map(|l| view! { <span class="audit-label">{l}</span> })}
                {service_page.map(|u| view! { <a class="audit-open" href=u>"Open service"</a> })}
            </td>
            <td class="audit-changes">
                <details>
                    <summary>{summary}</summary>
                    {(!changes.is_empty()).then(|| view! {
                        <table class="change-table">
                            <thead><tr>
                                <th scope="col">"Field"</th>
                                {show_before.then(|| view! { <th scope="col">"Before"</th> })}
                                {show_after.then(|| view! { <th scope="col">"After"</th> })}
                            </tr></thead>
                            <tbody>
                                {changes.into_iter().map(|c| {
                                    let side = |class: &'static str, v: Option<String>| match v {
                                        Some(v) => view! { <td class=class>{v}</td> }.into_any(),
                                        None => view! { <td class="change-absent" title="absent">"—"</td> }.into_any(),
                                    };
                                    view! {
                                        <tr>
                                            <th scope="row"><code>{c.field}</code></th>
                                            {show_before.then(|| side("change-before", c.before))}
                                            {show_after.then(|| side("change-after", c.after))}
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any())}
                    <p class="muted audit-proof">
                        {r.request_id.clone().map(|id| view! { "request " <code>{id}</code>" · " })}
                        "hash "<code title=r.hash.clone()>{short_hash}</code>
                    </p>
                </details>
            </td>
        </tr>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn change(field: &str, before: Option<&str>, after: Option<&str>) -> FieldChange {
        FieldChange {
            field: field.into(),
            before: before.map(Into::into),
            after: after.map(Into::into),
        }
    }

    #[test]
    fn only_the_fields_that_changed_are_listed() {
        let before = json!({"slug": "pay", "tier": 2, "tags": ["a"], "owner": "core"});
        let after =
            json!({"slug": "pay", "tier": 1, "tags": ["a", "b"], "owner": "core", "url": null});
        assert_eq!(
            field_changes(Some(&before), Some(&after)),
            vec![
                change("tags", Some(r#"["a"]"#), Some(r#"["a","b"]"#)),
                change("tier", Some("2"), Some("1")),
                change("url", None, Some("null")),
            ]
        );
    }

    #[test]
    fn creations_and_removals_list_every_field() {
        let v = json!({"name": "Payments", "tier": 1});
        assert_eq!(
            field_changes(None, Some(&v)),
            vec![
                change("name", None, Some("Payments")),
                change("tier", None, Some("1"))
            ]
        );
        assert_eq!(
            field_changes(Some(&v), None),
            vec![
                change("name", Some("Payments"), None),
                change("tier", Some("1"), None)
            ]
        );
        assert_eq!(field_changes(None, None), vec![]);
        // A snapshot that is not an object is one value.
        assert_eq!(
            field_changes(Some(&json!("a")), Some(&json!("b"))),
            vec![change("value", Some("a"), Some("b"))]
        );
    }

    #[test]
    fn records_are_called_by_their_names() {
        let record = |before: Option<Value>, after: Option<Value>| AuditRecord {
            seq: 1,
            at: time::OffsetDateTime::UNIX_EPOCH,
            actor_kind: ActorKind::User,
            actor_id: "t:o".into(),
            actor_name: "Ada".into(),
            action: "api_token.create".into(),
            target_kind: "api_token".into(),
            target_id: "7".into(),
            before,
            after,
            request_id: None,
            hash: String::new(),
        };
        let named = json!({"name": "payments CI"});
        assert_eq!(
            record_label(&record(None, Some(named.clone()))).as_deref(),
            Some("payments CI")
        );
        assert_eq!(
            record_label(&record(Some(named), None)).as_deref(),
            Some("payments CI"),
            "a removed record is called by its last name"
        );
        assert_eq!(
            record_label(&record(None, Some(json!({"version": "1.4.2"})))).as_deref(),
            Some("1.4.2")
        );
        assert_eq!(
            record_label(&record(None, Some(json!({"name": "7"})))),
            None,
            "no need to say the id twice"
        );
        assert_eq!(record_label(&record(None, None)), None);
    }

    #[test]
    fn a_narrower_view_starts_on_its_first_page() {
        let f = Filters {
            action: Some("service.update".into()),
            cursor: Some("99".into()),
            ..Filters::default()
        };
        assert_eq!(
            f.with(|f| f.actor = Some("t:o".into())),
            "/audit?actor=t%3Ao&action=service.update"
        );
        assert!(f.is_filtered());
        assert!(!Filters::default().is_filtered());
    }
}
