//! The seed's envelope: `{status:"success",data}` and `{status:"error",code,message}`.

use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use serde::Serialize;
use warp::reply::Response;

use crate::error::Error;

/// A successful answer, before rendering.
pub struct ApiReply {
    status: StatusCode,
    body: serde_json::Value,
}

impl ApiReply {
    pub fn ok(data: impl Serialize) -> Result<Self, Error> {
        Self::with_status(StatusCode::OK, data)
    }

    pub fn created(data: impl Serialize) -> Result<Self, Error> {
        Self::with_status(StatusCode::CREATED, data)
    }

    pub fn with_status(status: StatusCode, data: impl Serialize) -> Result<Self, Error> {
        let data = serde_json::to_value(data).map_err(Error::internal)?;
        Ok(Self { status, body: serde_json::json!({ "status": "success", "data": data }) })
    }

    pub fn into_response(self) -> Response {
        json_response(self.status, &self.body)
    }
}

pub fn error(error: &Error) -> Response {
    let mut response = json_response(error.status_code(), &error.to_body());
    if let Error::RateLimited { retry_after_secs } = error {
        response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(*retry_after_secs));
    }
    response
}

pub fn json_response(status: StatusCode, body: &impl Serialize) -> Response {
    // Serializing our own response types cannot fail; an empty object is the safe
    // answer if it ever did.
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = Response::new(bytes.into());
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    response
}
