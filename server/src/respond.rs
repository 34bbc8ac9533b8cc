//! Response shapes shared by handlers.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// 201 Created with a `Location` header and the new resource as the body.
pub struct Created<T> {
    location: String,
    body: T,
}

pub fn created<T>(location: String, body: T) -> Created<T> {
    Created { location, body }
}

impl<T: Serialize> IntoResponse for Created<T> {
    fn into_response(self) -> Response {
        (
            StatusCode::CREATED,
            [(header::LOCATION, self.location)],
            Json(self.body),
        )
            .into_response()
    }
}
