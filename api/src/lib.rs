//! Wire types of the Portolan REST API (`/api/v1`).
//!
//! This crate is the one contract: the server serialises these types, the Leptos UI (in the browser
//! and during server-side rendering) and pipelines deserialise them. It knows nothing of HTTP
//! frameworks or SQL, and compiles to wasm32. Input types refuse unknown fields so that a typo in a
//! pipeline's payload is an error instead of a silently ignored setting.

pub mod actions;
pub mod audit;
pub mod auth;
pub mod catalog;
pub mod deployments;
pub mod environments;
pub mod error;
pub mod incidents;
pub mod live;
pub mod notifications;
pub mod postmortems;
pub mod promotions;
pub mod webhooks;

pub use actions::*;
pub use audit::*;
pub use auth::*;
pub use catalog::*;
pub use deployments::*;
pub use environments::*;
pub use error::*;
pub use incidents::*;
pub use live::*;
pub use notifications::*;
pub use postmortems::*;
pub use promotions::*;
pub use webhooks::*;

use serde::{Deserialize, Serialize};

/// One page of a list, in a stable order. Pass `next_cursor` back as `cursor` for the next page;
/// it is absent on the last page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Default and largest page sizes for every list endpoint.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 200;

/// Serde helper for PATCH bodies: tells "field absent" (`None`) from "field set to null"
/// (`Some(None)`), so that a nullable field can be cleared.
pub mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T, S>(value: &Option<Option<T>>, serializer: S) -> Result<S::Ok, S::Error>
    where
        T: Serialize,
        S: Serializer,
    {
        match value {
            Some(inner) => inner.serialize(serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
    where
        T: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Option::<T>::deserialize(deserializer).map(Some)
    }
}
