//! OpenAPI documents: placeholder routing until schemas are generated.
use axum::response::Response;

use crate::error::ApiError;

pub fn serve(_rest: &[&str]) -> Result<Response, ApiError> {
    Err(ApiError::NoSuchPath)
}
