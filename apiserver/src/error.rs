//! Errors as kube-apiserver returns them: a `Status` object with a reason, details and
//! causes, and the matching HTTP code. This is the one place an error becomes a response.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gwsim_engine::admission::{Cause, Rejection};
use serde_json::{Value, json};

use crate::resources::Resource;

/// Every error the API server answers with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{resource} {name:?} not found")]
    NotFound {
        resource: String,
        group: String,
        plural: String,
        name: String,
    },
    #[error("{resource} {name:?} already exists")]
    AlreadyExists {
        resource: String,
        group: String,
        plural: String,
        name: String,
    },
    /// An update or delete whose resourceVersion precondition does not hold.
    #[error(
        "Operation cannot be fulfilled on {resource} {name:?}: the object has been modified; please apply your changes to the latest version and try again"
    )]
    Conflict {
        resource: String,
        group: String,
        plural: String,
        name: String,
    },
    /// Server-side apply conflicts with other field managers.
    #[error("{}", .0.message)]
    ApplyConflict(Box<ApplyConflict>),
    /// Admission refused the object.
    #[error("{} {:?} is invalid: {}", .0.qualified_kind, .0.name, .0.summary)]
    Invalid(Box<Invalid>),
    #[error("{0}")]
    BadRequest(String),
    #[error("{message}")]
    Forbidden {
        message: String,
        group: String,
        plural: String,
        name: String,
    },
    #[error("the server could not find the requested resource")]
    NoSuchPath,
    #[error("the server does not allow this method on the requested resource")]
    MethodNotAllowed,
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("only the following media types are accepted: application/json")]
    NotAcceptable,
    #[error("Unauthorized")]
    Unauthorized,
    #[error("the request body is larger than the limit of {0} bytes")]
    TooLarge(usize),
    /// A watch from a resourceVersion older than the history kept.
    #[error("too old resource version: {requested} ({oldest})")]
    Gone { requested: u64, oldest: u64 },
    /// A list's continue token whose resourceVersion the change log no longer reaches.
    #[error(
        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list."
    )]
    ContinueExpired { token: String },
    #[error("{0}")]
    Internal(String),
}

/// The details of a 422 Invalid.
#[derive(Debug)]
pub struct Invalid {
    /// `HTTPRoute.gateway.networking.k8s.io`.
    pub qualified_kind: String,
    pub kind: String,
    pub group: String,
    pub name: String,
    /// The causes as one line, as the message carries them.
    pub summary: String,
    pub causes: Vec<Cause>,
}

/// The details of a server-side apply conflict.
#[derive(Debug)]
pub struct ApplyConflict {
    pub message: String,
    pub group: String,
    pub plural: String,
    pub name: String,
    /// `(message, field)` per conflicting field.
    pub causes: Vec<(String, String)>,
}

impl ApiError {
    pub fn not_found(resource: &Resource, name: &str) -> ApiError {
        ApiError::NotFound {
            resource: resource.qualified_plural(),
            group: resource.group().into(),
            plural: resource.plural.into(),
            name: name.into(),
        }
    }

    pub fn already_exists(resource: &Resource, name: &str) -> ApiError {
        ApiError::AlreadyExists {
            resource: resource.qualified_plural(),
            group: resource.group().into(),
            plural: resource.plural.into(),
            name: name.into(),
        }
    }

    pub fn conflict(resource: &Resource, name: &str) -> ApiError {
        ApiError::Conflict {
            resource: resource.qualified_plural(),
            group: resource.group().into(),
            plural: resource.plural.into(),
            name: name.into(),
        }
    }

    /// Admission's rejection as the API server reports it. Unknown fields alone are a strict
    /// decoding error (400), as for a custom resource; anything else is 422 Invalid.
    pub fn rejected(resource: &Resource, rejection: &Rejection) -> ApiError {
        let unknown: Vec<&Cause> = rejection
            .causes
            .iter()
            .filter(|c| is_unknown_field(c))
            .collect();
        if !unknown.is_empty() && unknown.len() == rejection.causes.len() {
            let kind = resource.kind.as_str();
            let fields: Vec<String> = unknown.iter().map(|c| c.detail.clone()).collect();
            return ApiError::BadRequest(format!(
                "{kind} in version \"v1\" cannot be handled as a {kind}: strict decoding error: {}",
                fields.join(", ")
            ));
        }
        let summary = match rejection.causes.as_slice() {
            [one] => one.to_string(),
            many => format!(
                "[{}]",
                many.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        ApiError::Invalid(Box::new(Invalid {
            qualified_kind: resource.kind.qualified(),
            kind: resource.kind.as_str().into(),
            group: resource.group().into(),
            name: rejection.name.clone(),
            summary,
            causes: rejection.causes.clone(),
        }))
    }

    pub fn code(&self) -> StatusCode {
        match self {
            ApiError::NotFound { .. } | ApiError::NoSuchPath => StatusCode::NOT_FOUND,
            ApiError::AlreadyExists { .. }
            | ApiError::Conflict { .. }
            | ApiError::ApplyConflict(_) => StatusCode::CONFLICT,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Gone { .. } | ApiError::ContinueExpired { .. } => StatusCode::GONE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn reason(&self) -> &'static str {
        match self {
            ApiError::NotFound { .. } | ApiError::NoSuchPath => "NotFound",
            ApiError::AlreadyExists { .. } => "AlreadyExists",
            ApiError::Conflict { .. } | ApiError::ApplyConflict(_) => "Conflict",
            ApiError::Invalid(_) => "Invalid",
            ApiError::BadRequest(_) => "BadRequest",
            ApiError::Forbidden { .. } => "Forbidden",
            ApiError::MethodNotAllowed => "MethodNotAllowed",
            ApiError::UnsupportedMediaType(_) => "UnsupportedMediaType",
            ApiError::NotAcceptable => "NotAcceptable",
            ApiError::Unauthorized => "Unauthorized",
            ApiError::TooLarge(_) => "RequestEntityTooLarge",
            ApiError::Gone { .. } | ApiError::ContinueExpired { .. } => "Expired",
            ApiError::Internal(_) => "InternalError",
        }
    }

    fn details(&self) -> Option<Value> {
        match self {
            ApiError::NotFound {
                group,
                plural,
                name,
                ..
            }
            | ApiError::AlreadyExists {
                group,
                plural,
                name,
                ..
            }
            | ApiError::Conflict {
                group,
                plural,
                name,
                ..
            }
            | ApiError::Forbidden {
                group,
                plural,
                name,
                ..
            } => Some(json!({"name": name, "group": group, "kind": plural})),
            ApiError::ApplyConflict(c) => {
                let ApplyConflict {
                    group,
                    plural,
                    name,
                    causes,
                    ..
                } = c.as_ref();
                let causes: Vec<Value> = causes
                    .iter()
                    .map(|(message, field)| {
                        json!({"reason": "FieldManagerConflict", "message": message, "field": field})
                    })
                    .collect();
                Some(json!({"name": name, "group": group, "kind": plural, "causes": causes}))
            }
            ApiError::Invalid(invalid) => {
                let Invalid {
                    kind,
                    group,
                    name,
                    causes,
                    ..
                } = invalid.as_ref();
                let causes: Vec<Value> = causes
                    .iter()
                    .map(|c| json!({"reason": cause_reason(c), "message": c.detail, "field": c.field}))
                    .collect();
                Some(json!({"name": name, "group": group, "kind": kind, "causes": causes}))
            }
            _ => None,
        }
    }

    /// The `Status` object.
    pub fn status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.to_string(),
            "reason": self.reason(),
            "code": self.code().as_u16(),
        });
        if let Some(details) = self.details() {
            status["details"] = details;
        }
        if let ApiError::ContinueExpired { token } = self {
            status["metadata"] = json!({"continue": token});
        }
        status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        crate::server::json_response(self.code(), &self.status())
    }
}

fn is_unknown_field(cause: &Cause) -> bool {
    cause.detail.starts_with("unknown field ")
}

/// The machine-readable reason (`metav1.CauseType`) of an admission cause, from the reason
/// admission gave it. The one place this mapping lives.
pub fn cause_reason(cause: &Cause) -> &'static str {
    use gwsim_engine::admission::CauseReason as R;
    match cause.reason {
        R::FieldValueInvalid => "FieldValueInvalid",
        R::FieldValueTypeInvalid => "FieldValueTypeInvalid",
        R::FieldValueRequired => "FieldValueRequired",
        R::FieldValueDuplicate => "FieldValueDuplicate",
        R::FieldValueNotSupported => "FieldValueNotSupported",
        R::FieldValueForbidden => "FieldValueForbidden",
        R::FieldValueTooLong => "FieldValueTooLong",
        R::FieldValueTooMany => "FieldValueTooMany",
        // The API server refuses unknown fields as a 400 strict-decoding error with no cause
        // type of its own; a cause that must carry one says the value is invalid.
        R::UnknownField => "FieldValueInvalid",
        R::InternalError => "InternalError",
    }
}
