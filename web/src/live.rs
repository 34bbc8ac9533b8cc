//! Live updates in the browser: pages follow topics (`incident:12`, `incidents`, …) and read
//! their data again when a change to them is committed, by anyone, on any Portolan server.
//!
//! One `EventSource` per page on `GET /api/v1/events` carries every topic the page's components
//! follow ([`use_live`]), so a page holds one connection whatever it shows. A page reading again
//! would throw away what someone is typing: components with unsaved input say so ([`Unsaved`]),
//! and the page then offers the news ([`NewsWaiting`]) instead of showing it at once, and shows
//! it by itself once nothing is unsaved ([`use_live_resource`]). Under `ssr` all of this does
//! nothing.

use leptos::prelude::*;
use portolan_api::LiveEvent;

/// The connection of this page to the event stream, for the indicator in the top bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Connection {
    /// The page follows nothing.
    #[default]
    Off,
    Live,
    /// The stream broke; the browser is connecting again.
    Reconnecting,
}

/// Provided by the app: the state of the page's event stream.
#[derive(Clone, Copy)]
pub struct LiveStatus(pub RwSignal<Connection>);

/// Follows `topics` (read again when the signals they read change) and calls `on_event` for each
/// change to one of them, and for every `resync` (events may have been missed). Stops following
/// when the component goes away.
pub fn use_live(
    topics: impl Fn() -> Vec<String> + 'static,
    on_event: impl Fn(LiveEvent) + 'static,
) {
    #[cfg(feature = "hydrate")]
    hub::follow(topics, on_event);
    #[cfg(not(feature = "hydrate"))]
    let _ = (topics, on_event);
}

/// What the components of a page hold that a reload would throw away: an open editor, a note
/// being typed. Provided by pages that follow changes; components count themselves in.
#[derive(Clone, Copy)]
pub struct Unsaved(RwSignal<u32>);

impl Unsaved {
    fn provide() -> Self {
        let u = Unsaved(RwSignal::new(0));
        provide_context(u);
        u
    }

    fn any(self) -> bool {
        self.0.get() > 0
    }

    /// Counts this component in while `busy()` (e.g. "the note is not empty").
    pub fn hold_while(busy: impl Fn() -> bool + 'static) {
        let Some(u) = use_context::<Unsaved>() else {
            return;
        };
        let counted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        Effect::new({
            let counted = counted.clone();
            move |_| {
                let now = busy();
                if counted.swap(now, std::sync::atomic::Ordering::Relaxed) != now {
                    u.0.try_update(|n| *n = if now { *n + 1 } else { n.saturating_sub(1) });
                }
            }
        });
        on_cleanup(move || {
            if counted.load(std::sync::atomic::Ordering::Relaxed) {
                u.0.try_update(|n| *n = n.saturating_sub(1));
            }
        });
    }

    /// Counts this component in for as long as it is shown (an editor).
    pub fn hold() {
        Self::hold_while(|| true);
    }
}

/// For a component showing `resource`: on each change to `topics`, reads it again in the
/// background with `fetch` (what the resource's own fetcher does) and shows it only when it
/// differs from what is shown and nothing on the page is unsaved (see [`Unsaved`]); otherwise the
/// news waits (see [`NewsWaiting`]) until nothing is. So a person's own change, already shown,
/// does not render the page again, and nobody's typing is thrown away. Provides the page's
/// [`Unsaved`] unless a component above did. Returns whether news is waiting.
pub fn use_live_resource<T, Fut>(
    resource: Resource<T>,
    topics: impl Fn() -> Vec<String> + 'static,
    fetch: impl Fn() -> Fut + Clone + 'static,
) -> RwSignal<bool>
where
    T: PartialEq + Send + Sync + 'static,
    Resource<T>: Copy,
    Fut: std::future::Future<Output = T> + 'static,
{
    let unsaved = use_context::<Unsaved>().unwrap_or_else(Unsaved::provide);
    let waiting = RwSignal::new(false);
    let update = move || {
        if unsaved.0.try_get_untracked().unwrap_or(0) > 0 {
            waiting.try_set(true);
            return;
        }
        let fresh = fetch();
        leptos::task::spawn_local(async move {
            let fresh = fresh.await;
            // Someone may have started typing meanwhile; or the page may be gone.
            if unsaved.0.try_get_untracked().unwrap_or(0) > 0 {
                waiting.try_set(true);
                return;
            }
            let same = resource
                .try_with_untracked(|shown| shown.as_ref() == Some(&fresh))
                .unwrap_or(true);
            if !same {
                resource.try_set(Some(fresh));
            }
        });
    };
    use_live(topics, {
        let update = update.clone();
        move |_| update()
    });
    Effect::new(move |_| {
        if waiting.get() && !unsaved.any() {
            waiting.set(false);
            update();
        }
    });
    waiting
}

/// Says that someone else changed what the page shows while this person has unsaved input, and
/// offers to show it (their input would go).
#[component]
pub fn NewsWaiting(
    waiting: RwSignal<bool>,
    refetch: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <p class="callout callout-info news-waiting" role="status" hidden=move || !waiting.get()>
            "Someone else changed this page. It updates when you finish what you are editing, or "
            <button type="button" class="button-link" on:click=move |_| { waiting.set(false); refetch(); }>
                "show the changes now"
            </button>
            " (what you have not saved is lost)."
        </p>
    }
}

/// "Live" in the top bar while the page follows changes; "Reconnecting" while its stream is
/// broken. Nothing on pages that follow nothing.
#[component]
pub fn LiveIndicator() -> impl IntoView {
    let status = use_context::<LiveStatus>().map(|s| s.0);
    let now = move || status.map(|s| s.get()).unwrap_or_default();
    view! {
        <span class="live-indicator"
            data-live=move || match now() { Connection::Off => "off", Connection::Live => "live", Connection::Reconnecting => "reconnecting" }
            hidden=move || now() == Connection::Off
            title=move || match now() {
                Connection::Reconnecting => "The connection for live updates broke; reconnecting. What you see may be out of date.",
                _ => "Changes others make appear here as they happen.",
            }>
            <span class="live-dot" aria-hidden="true"></span>
            {move || if now() == Connection::Reconnecting { "Reconnecting…" } else { "Live" }}
        </span>
    }
}

#[cfg(feature = "hydrate")]
mod hub {
    //! The page's one `EventSource`, carrying the topics of every follower.

    use std::cell::RefCell;
    use std::rc::Rc;

    use leptos::prelude::*;
    use portolan_api::{LiveEvent, MAX_TOPICS, RESYNC, is_topic};
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    use web_sys::{EventSource, MessageEvent};

    use super::{Connection, LiveStatus};

    /// How long to wait before connecting again when the server refused or ended the stream for
    /// good (the browser retries by itself otherwise).
    const RETRY_MS: u64 = 10_000;

    type Callback = Rc<dyn Fn(LiveEvent)>;

    struct Follower {
        id: u64,
        topics: Vec<String>,
        on_event: Callback,
    }

    struct Open {
        source: EventSource,
        topics: Vec<String>,
        _handlers: Vec<Closure<dyn FnMut(web_sys::Event)>>,
    }

    #[derive(Default)]
    struct Hub {
        followers: Vec<Follower>,
        open: Option<Open>,
        next_id: u64,
        /// The stream broke since it last opened: on opening again, everyone reads again.
        broken: bool,
        sync_queued: bool,
        status: Option<RwSignal<Connection>>,
    }

    thread_local! {
        static HUB: RefCell<Hub> = RefCell::new(Hub::default());
    }

    fn set_status(c: Connection) {
        if let Some(s) = HUB.with_borrow(|h| h.status) {
            s.try_set(c);
        }
    }

    pub fn follow(
        topics: impl Fn() -> Vec<String> + 'static,
        on_event: impl Fn(LiveEvent) + 'static,
    ) {
        let status = use_context::<LiveStatus>().map(|s| s.0);
        let id = HUB.with_borrow_mut(|h| {
            h.status = h.status.or(status);
            h.next_id += 1;
            h.next_id
        });
        let on_event: Callback = Rc::new(on_event);
        Effect::new(move |_| {
            // A malformed one (from an odd URL) would make the server refuse the whole stream.
            let topics: Vec<String> = topics().into_iter().filter(|t| is_topic(t)).collect();
            let on_event = on_event.clone();
            HUB.with_borrow_mut(|h| {
                h.followers.retain(|f| f.id != id);
                h.followers.push(Follower {
                    id,
                    topics,
                    on_event,
                });
            });
            queue_sync();
        });
        on_cleanup(move || {
            HUB.with_borrow_mut(|h| h.followers.retain(|f| f.id != id));
            queue_sync();
        });
    }

    /// Reconnects once the followers of this moment have all said what they follow (a page's
    /// components register one after another while it renders).
    fn queue_sync() {
        let queued = HUB.with_borrow_mut(|h| std::mem::replace(&mut h.sync_queued, true));
        if !queued {
            // A timer, not an animation frame: those wait while the tab is in the background.
            set_timeout(
                || {
                    HUB.with_borrow_mut(|h| h.sync_queued = false);
                    sync();
                },
                std::time::Duration::ZERO,
            );
        }
    }

    /// Opens the stream of the topics followed now, unless it is open already.
    fn sync() {
        let mut wanted: Vec<String> = HUB.with_borrow(|h| {
            h.followers
                .iter()
                .flat_map(|f| f.topics.iter().cloned())
                .collect()
        });
        wanted.sort();
        wanted.dedup();
        if wanted.len() > MAX_TOPICS {
            leptos::logging::warn!(
                "live: following only the first {MAX_TOPICS} topics of {}",
                wanted.len()
            );
            wanted.truncate(MAX_TOPICS);
        }
        let same = HUB.with_borrow(|h| h.open.as_ref().map(|o| &o.topics) == Some(&wanted));
        if same {
            return;
        }
        close();
        if wanted.is_empty() {
            set_status(Connection::Off);
            return;
        }
        let query: Vec<String> = wanted
            .iter()
            .map(|t| format!("topic={}", crate::api::encode(t)))
            .collect();
        let source = match EventSource::new(&format!("/api/v1/events?{}", query.join("&"))) {
            Ok(s) => s,
            Err(e) => {
                leptos::logging::warn!("live: could not follow changes: {e:?}");
                return;
            }
        };
        let on_open = Closure::<dyn FnMut(web_sys::Event)>::new(|_| {
            let was_broken = HUB.with_borrow_mut(|h| std::mem::take(&mut h.broken));
            set_status(Connection::Live);
            if was_broken {
                dispatch(&LiveEvent::resync());
            }
        });
        let on_message = Closure::<dyn FnMut(web_sys::Event)>::new(|e: web_sys::Event| {
            let Some(data) = e
                .dyn_ref::<MessageEvent>()
                .and_then(|m| m.data().as_string())
            else {
                return;
            };
            match serde_json::from_str::<LiveEvent>(&data) {
                Ok(event) => dispatch(&event),
                Err(err) => leptos::logging::warn!("live: not an event ({err}): {data}"),
            }
        });
        let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(|_| {
            let gone = HUB.with_borrow_mut(|h| {
                h.broken = true;
                // CLOSED: the browser gives up (the server refused: signed out, restarting).
                h.open
                    .as_ref()
                    .is_some_and(|o| o.source.ready_state() == EventSource::CLOSED)
            });
            set_status(Connection::Reconnecting);
            if gone {
                // Not here: closing drops this very handler.
                set_timeout(
                    || {
                        close();
                        sync();
                    },
                    std::time::Duration::from_millis(RETRY_MS),
                );
            }
        });
        source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        source.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        let _ =
            source.add_event_listener_with_callback(RESYNC, on_message.as_ref().unchecked_ref());
        HUB.with_borrow_mut(|h| {
            h.open = Some(Open {
                source,
                topics: wanted,
                _handlers: vec![on_open, on_message, on_error],
            });
        });
    }

    fn close() {
        if let Some(open) = HUB.with_borrow_mut(|h| h.open.take()) {
            open.source.set_onopen(None);
            open.source.set_onmessage(None);
            open.source.set_onerror(None);
            open.source.close();
        }
    }

    /// Calls the followers of the event's topic (everyone, for a resync), outside the hub's
    /// borrow: a follower may go away or follow something else meanwhile.
    fn dispatch(event: &LiveEvent) {
        let callbacks: Vec<Callback> = HUB.with_borrow(|h| {
            h.followers
                .iter()
                .filter(|f| event.is_resync() || f.topics.contains(&event.topic))
                .map(|f| f.on_event.clone())
                .collect()
        });
        for c in callbacks {
            c(event.clone());
        }
    }
}
