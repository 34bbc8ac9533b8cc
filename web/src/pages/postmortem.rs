//! An incident's postmortem: the sections of the template, each edited in Markdown beside a live
//! preview (rendered and checked by the server), the blameless check's flags, review by named
//! people, publishing, revisions and exports. A stale save is refused; the newer text is shown
//! next to yours to merge.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use portolan_api::{
    Me, PersonRef, Postmortem, PostmortemRevision, PostmortemSave, PostmortemState, Preview,
    PreviewRequest, REVIEW_QUESTIONS, ReviewDecision, ReviewRequest, SECTIONS,
};

use super::incidents::SeverityBadge;
use crate::api::{Change, ClientError, use_api};
use crate::components::{EmptyState, ErrorState, Loading, MeResource, acting, csrf};
use crate::format;
use crate::live::{NewsWaiting, Unsaved, use_live_resource};
use crate::pages::actions::ActionItemsCard;

fn me_now(me: Option<MeResource>) -> Option<Me> {
    me.and_then(|m| m.get()).and_then(Result::ok)
}

pub fn state_label(s: PostmortemState) -> &'static str {
    match s {
        PostmortemState::Draft => "Draft",
        PostmortemState::InReview => "In review",
        PostmortemState::Published => "Published",
    }
}

#[component]
pub fn PostmortemPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let api = use_api();
    let load = {
        let api = api.clone();
        move |id: String| {
            let id = crate::api::encode(&id);
            let pm = api.get::<Postmortem>(format!("/api/v1/incidents/{id}/postmortem"));
            let revisions = api.get::<Vec<PostmortemRevision>>(format!(
                "/api/v1/incidents/{id}/postmortem/revisions"
            ));
            async move {
                let pm = pm.await?;
                let revisions = revisions.await.unwrap_or_default();
                Ok::<_, ClientError>((pm, revisions))
            }
        }
    };
    let data = Resource::new(move || id.get(), load.clone());
    let refetch = move || data.refetch();
    // While a section is being edited, news waits: a stale save is refused and shows the newer
    // text to merge, as ever. (The action items card follows the incident itself.)
    let waiting = use_live_resource(
        data,
        move || vec![format!("postmortem:{}", id.get())],
        move || load(id.get_untracked()),
    );
    let me = use_context::<MeResource>();
    let error = RwSignal::new(None::<ClientError>);
    let start = StoredValue::new(move || {
        let sent = api.send::<Postmortem>(Change::post(
            format!("/api/v1/incidents/{}/postmortem", id.get_untracked()),
            &serde_json::json!({}),
            csrf(me),
        ));
        leptos::task::spawn_local(async move {
            match sent.await {
                Ok(_) => data.refetch(),
                Err(e) => error.set(Some(e)),
            }
        });
    });
    view! {
        <NewsWaiting waiting refetch/>
        <Transition fallback=|| view! { <Loading lines=10/> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok((pm, revisions)) => view! { <PostmortemView pm revisions reload=move || data.refetch()/> }.into_any(),
                    Err(e) if e.is_not_found() && e.message.contains("no postmortem yet") => view! {
                        <Title text="Postmortem"/>
                        <header class="page-header"><div>
                            <p class="eyebrow"><a href=format!("/incidents/{}", id.get_untracked())>{format!("INC-{}", id.get_untracked())}</a></p>
                            <h1>"No postmortem yet"</h1>
                        </div></header>
                        <section class="card">
                            <EmptyState title="Write down what happened while it is fresh.".to_string()>
                                <p>"A blameless postmortem looks at how the system and the process let this happen, not at who made a mistake."</p>
                                {move || me_now(me).filter(|m| m.can("incidents:write")).map(|_| view! {
                                    <button type="button" class="button start-postmortem" on:click=move |_| start.with_value(|s| s())>"Start the postmortem"</button>
                                })}
                                {move || error.get().map(|e| view! { <p class="form-error" role="alert">{e.message}</p> })}
                            </EmptyState>
                        </section>
                    }.into_any(),
                    Err(e) => view! { <ErrorState what="this postmortem" error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn PostmortemView(
    pm: Postmortem,
    revisions: Vec<PostmortemRevision>,
    reload: impl Fn() + Send + Sync + Copy + 'static,
) -> impl IntoView {
    let me = use_context::<MeResource>();
    let id = pm.incident_id;
    let error = RwSignal::new(None::<ClientError>);
    let act = acting(error, reload);
    let state = pm.state;
    let version = pm.version;
    let reviewers = pm.reviewers.clone();
    let my_review = move || {
        me_now(me).is_some_and(|m| {
            let key = format!("{}:{}", m.tenant_id, m.object_id);
            reviewers.iter().any(|r| r.person.id == key)
        })
    };
    let writer = move || me_now(me).is_some_and(|m| m.can("incidents:write"));
    let all_approved =
        !pm.reviewers.is_empty() && pm.reviewers.iter().all(|r| r.approved_at.is_some());
    let flags = pm.flags.clone();
    let header = view! {
        <Title text=format!("Postmortem {}", pm.incident_reference)/>
        <header class="page-header">
            <div>
                <p class="eyebrow">
                    "Postmortem · "<a href=format!("/incidents/{id}")>{pm.incident_reference.clone()}</a>
                    {(pm.revision > 0).then(|| format!(" · revision {}", pm.revision))}
                </p>
                <h1>{pm.incident_title.clone()}</h1>
                <p class="row">
                    <SeverityBadge severity=pm.severity/>
                    <span class=format!("pm-state pm-state-{}", state.as_str()) data-state=state.as_str()>{state_label(state)}</span>
                    <span class="muted">{format!("by {}", pm.author)}</span>
                    {pm.due_at.filter(|_| state != PostmortemState::Published).map(|d| view! {
                        <span class=if pm.overdue { "due overdue" } else { "due" }>
                            {if pm.overdue { format!("Overdue: due {}", format::datetime(d)) } else { format!("Publish by {}", format::datetime(d)) }}
                        </span>
                    })}
                </p>
            </div>
            <div class="page-actions">
                <a class="button button-secondary" href=format!("/api/v1/incidents/{id}/postmortem/export?format=md") download rel="external">"Markdown"</a>
                <a class="button button-secondary" href=format!("/api/v1/incidents/{id}/postmortem/export?format=html") target="_blank" rel="external">"Print"</a>
            </div>
        </header>
    }
    .into_any();
    let notes = view! {
        {move || error.get().map(|e| view! { <p class="form-error callout" role="alert">{e.message}</p> })}
        {(!pm.review_note.is_empty() && state == PostmortemState::Draft).then(|| view! {
            <div class="callout callout-info review-note"><strong>"A reviewer asked for changes: "</strong>{pm.review_note.clone()}</div>
        })}
        {(!flags.is_empty()).then(|| view! {
            <section class="callout callout-warning language-flags" aria-label="Blameless language check">
                <strong>{format!("The blameless check noticed {} sentence{} that may put blame on people.", flags.len(), if flags.len() == 1 { "" } else { "s" })}</strong>
                " It informs, it never blocks; reviewers see these too."
                <ul>
                    {flags.iter().map(|f| view! {
                        <li>
                            <span class="flag-section">{section_title(&f.section)}": "</span>
                            <q>{f.sentence.clone()}</q>
                            <span class="muted">{format!(" — {} ", f.why)}</span>
                            <span class="flag-suggestion">{f.suggestion.clone()}</span>
                        </li>
                    }).collect_view()}
                </ul>
            </section>
        })}
    }
    .into_any();
    let sections = view! {
        <section class="card pm-sections">
            {SECTIONS.iter().map(|(key, title, prompt)| {
                let md = pm.sections.get(*key).cloned().unwrap_or_default();
                let html = pm.rendered.get(*key).cloned().unwrap_or_default();
                view! { <SectionEditor key=*key title=*title prompt=*prompt md html id version state writer reload/> }
            }).collect_view()}
        </section>
    }
    .into_any();
    let review = view! {
        <section class="card review-card">
            <header class="card-header"><h2>"Review"</h2></header>
            {if pm.reviewers.is_empty() {
                view! { <p class="muted">"No reviewers named yet."</p> }.into_any()
            } else {
                view! {
                    <ul class="reviewers">
                        {pm.reviewers.iter().map(|r| view! {
                            <li data-approved=r.approved_at.is_some().to_string()>
                                {r.person.name.clone()}
                                {match r.approved_at {
                                    Some(at) => view! { <span class="status status-succeeded">{format!("approved {}", format::datetime(at))}</span> }.into_any(),
                                    None => view! { <span class="status status-queued">"waiting"</span> }.into_any(),
                                }}
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
            {move || (writer() && state == PostmortemState::Draft).then(|| view! { <RequestReview id act/> })}
            {move || (my_review() && state == PostmortemState::InReview).then(|| view! { <Decide id act/> })}
            {move || (writer() && state == PostmortemState::InReview && all_approved).then(|| view! {
                <button type="button" class="button publish" on:click=move |_| {
                    act.with_value(|act| act(Change::post(format!("/api/v1/incidents/{id}/postmortem/publish"), &serde_json::json!({}), csrf(me))));
                }>"Publish"</button>
            })}
        </section>
    }
    .into_any();
    let history = (!revisions.is_empty()).then(|| view! {
        <section class="card">
            <header class="card-header"><h2>"Revisions"</h2></header>
            <ol class="revisions">
                {revisions.into_iter().map(|r| view! {
                    <li>{format!("Revision {} — {} ({}, {})", r.revision, r.reason, r.published_by, format::datetime(r.published_at))}</li>
                }).collect_view()}
            </ol>
        </section>
    });
    view! {
        {header}
        {notes}
        <div class="pm-layout">{sections}<div class="stack">{review}{history}</div></div>
        <ActionItemsCard incident_id=id/>
    }
    .into_any()
}

fn section_title(key: &str) -> &'static str {
    SECTIONS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, t, _)| *t)
        .unwrap_or("Preview")
}

/// One section: shown rendered; edited in Markdown with a live preview.
#[component]
#[allow(clippy::too_many_arguments)]
fn SectionEditor(
    key: &'static str,
    title: &'static str,
    prompt: &'static str,
    md: String,
    html: String,
    id: i64,
    version: i32,
    state: PostmortemState,
    writer: impl Fn() -> bool + Send + Sync + Copy + 'static,
    reload: impl Fn() + Send + Sync + Copy + 'static,
) -> impl IntoView {
    let me = use_context::<MeResource>();
    let api = use_api();
    let editing = RwSignal::new(false);
    let text = RwSignal::new(md.clone());
    let preview = RwSignal::new(html.clone());
    let preview_flags = RwSignal::new(Vec::<portolan_api::LanguageFlag>::new());
    let reason = RwSignal::new(String::new());
    let conflict = RwSignal::new(None::<String>);
    let typed = RwSignal::new(0u64);
    Unsaved::hold_while(move || editing.get());
    // The live preview: the server renders (sanitised) and checks what was typed, shortly after
    // typing stops.
    let refresh = StoredValue::new({
        let api = api.clone();
        move || {
            let mine = typed.get_untracked();
            let body = PreviewRequest {
                markdown: text.get_untracked(),
            };
            let sent = api.send::<Preview>(Change::post(
                "/api/v1/postmortems/preview".into(),
                &body,
                csrf(me),
            ));
            leptos::task::spawn_local(async move {
                if let Ok(p) = sent.await
                    && typed.get_untracked() == mine
                {
                    preview.set(p.html);
                    preview_flags.set(p.flags);
                }
            });
        }
    });
    let on_input = move |ev| {
        text.set(event_target_value(&ev));
        typed.update(|t| *t += 1);
        let mine = typed.get_untracked();
        set_timeout(
            move || {
                if typed.get_untracked() == mine {
                    refresh.with_value(|r| r());
                }
            },
            std::time::Duration::from_millis(350),
        );
    };
    let save = {
        let api = api.clone();
        move |_| {
            let body = PostmortemSave {
                sections: [(key.to_string(), text.get_untracked())].into(),
                base_version: version,
                revision_reason: Some(reason.get_untracked()).filter(|r| !r.trim().is_empty()),
            };
            let sent = api.send::<Postmortem>(Change {
                method: "PUT",
                path: format!("/api/v1/incidents/{id}/postmortem"),
                body: serde_json::to_string(&body).ok(),
                csrf_token: csrf(me),
            });
            let current = api.get::<Postmortem>(format!("/api/v1/incidents/{id}/postmortem"));
            leptos::task::spawn_local(async move {
                match sent.await {
                    Ok(_) => {
                        editing.set(false);
                        reload();
                    }
                    Err(e) if e.status == 409 => {
                        // Someone saved first: show their text beside yours, keep yours.
                        let theirs = current
                            .await
                            .ok()
                            .and_then(|p| p.sections.get(key).cloned())
                            .unwrap_or_default();
                        conflict.set(Some(theirs));
                    }
                    Err(e) => conflict.set(Some(format!("(not saved: {})", e.message))),
                }
            });
        }
    };
    let empty = md.trim().is_empty();
    view! {
        <article class="pm-section" data-section=key>
            <header class="pm-section-header">
                <h2>{title}</h2>
                {move || (writer() && !editing.get()).then(|| view! {
                    <button type="button" class="button button-secondary button-small edit" on:click=move |_| editing.set(true)>"Edit"</button>
                })}
            </header>
            <Show when=move || editing.get() fallback=move || {
                let html = html.clone();
                if empty {
                    view! { <p class="muted prompt">{prompt}</p> }.into_any()
                } else {
                    view! { <div class="markdown" inner_html=html></div> }.into_any()
                }
            }>
                <p class="muted prompt">{prompt}</p>
                {move || conflict.get().map(|theirs| view! {
                    <div class="callout callout-warning conflict" role="alert">
                        <strong>"Someone saved this postmortem after you started. Nothing of yours was lost or saved."</strong>
                        " Their text of this section is below; merge it into yours, then save again."
                        <pre class="theirs">{theirs}</pre>
                    </div>
                })}
                <div class="editor">
                    <label class="field field-wide">
                        <span class="field-label">"Markdown"</span>
                        <textarea name=key rows="10" prop:value=text on:input=on_input></textarea>
                    </label>
                    <div class="preview">
                        <span class="field-label">"Preview"</span>
                        <div class="markdown" inner_html=move || preview.get()></div>
                        {move || (!preview_flags.get().is_empty()).then(|| view! {
                            <ul class="preview-flags">
                                {preview_flags.get().into_iter().map(|f| view! { <li><q>{f.matched}</q>" — "{f.suggestion}</li> }).collect_view()}
                            </ul>
                        })}
                    </div>
                </div>
                {(state == PostmortemState::Published).then(|| view! {
                    <label class="field field-wide">
                        <span class="field-label">"Why this revision (it is published)"</span>
                        <input type="text" name="revision_reason" prop:value=reason on:input=move |ev| reason.set(event_target_value(&ev))/>
                    </label>
                })}
                <div class="row">
                    <button type="button" class="button save" on:click=save.clone()>"Save"</button>
                    <button type="button" class="button button-secondary" on:click=move |_| { editing.set(false); conflict.set(None); }>"Cancel"</button>
                </div>
            </Show>
        </article>
    }
    .into_any()
}

/// Naming reviewers for a draft.
#[component]
fn RequestReview(
    id: i64,
    act: StoredValue<impl Fn(Change) + Send + Sync + 'static>,
) -> impl IntoView {
    let me = use_context::<MeResource>();
    let api = use_api();
    let people = Resource::new(
        || (),
        move |_| api.get::<Vec<PersonRef>>("/api/v1/people".into()),
    );
    let chosen = RwSignal::new(Vec::<String>::new());
    Unsaved::hold_while(move || !chosen.read().is_empty());
    view! {
        <form class="stack request-review" on:submit=move |ev| {
            ev.prevent_default();
            let body = ReviewRequest { reviewers: chosen.get_untracked() };
            act.with_value(|act| act(Change::post(format!("/api/v1/incidents/{id}/postmortem/review-request"), &body, csrf(me))));
        }>
            <fieldset class="scope-choices">
                <legend class="field-label">"Ask for review"</legend>
                <Suspense fallback=|| view! { <Loading lines=2/> }>
                    {move || Suspend::new(async move {
                        let mine = me_now(me).map(|m| format!("{}:{}", m.tenant_id, m.object_id)).unwrap_or_default();
                        people.await.unwrap_or_default().into_iter().filter(|p| p.id != mine).map(|p| {
                            let key = p.id.clone();
                            view! {
                                <label class="choice">
                                    <input type="checkbox" name="reviewers" value=p.id.clone() on:change=move |ev| {
                                        let on = event_target_checked(&ev);
                                        let key = key.clone();
                                        chosen.update(|c| { c.retain(|x| x != &key); if on { c.push(key); } });
                                    }/>
                                    <span>{p.name.clone()}</span>
                                </label>
                            }
                        }).collect_view()
                    })}
                </Suspense>
            </fieldset>
            <div class="row"><button type="submit" class="button">"Send for review"</button></div>
        </form>
    }
}

/// A named reviewer's decision: the checklist, then approve or ask for changes.
#[component]
fn Decide(id: i64, act: StoredValue<impl Fn(Change) + Send + Sync + 'static>) -> impl IntoView {
    let me = use_context::<MeResource>();
    let checks = RwSignal::new(vec![false; REVIEW_QUESTIONS.len()]);
    let comment = RwSignal::new(String::new());
    Unsaved::hold_while(move || {
        !comment.read().trim().is_empty() || checks.read().iter().any(|c| *c)
    });
    let send = move |decision: &'static str| {
        let body = ReviewDecision {
            decision: decision.into(),
            checklist: checks.get_untracked(),
            comment: Some(comment.get_untracked()).filter(|c| !c.trim().is_empty()),
        };
        act.with_value(|act| {
            act(Change::post(
                format!("/api/v1/incidents/{id}/postmortem/review"),
                &body,
                csrf(me),
            ))
        });
    };
    view! {
        <div class="stack decide">
            <fieldset class="scope-choices review-checklist">
                <legend class="field-label">"Before approving, confirm each"</legend>
                {REVIEW_QUESTIONS.iter().enumerate().map(|(i, q)| view! {
                    <label class="choice">
                        <input type="checkbox" name="checklist" on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            checks.update(|c| c[i] = on);
                        }/>
                        <span>{*q}</span>
                    </label>
                }).collect_view()}
            </fieldset>
            <label class="field field-wide">
                <span class="field-label">"Comment (needed to ask for changes)"</span>
                <textarea name="comment" rows="2" prop:value=comment on:input=move |ev| comment.set(event_target_value(&ev))></textarea>
            </label>
            <div class="row">
                <button type="button" class="button approve" disabled=move || !checks.get().iter().all(|c| *c) on:click=move |_| send("approve")>"Approve"</button>
                <button type="button" class="button button-secondary request-changes" on:click=move |_| send("request_changes")>"Ask for changes"</button>
            </div>
        </div>
    }
}
