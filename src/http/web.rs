//! The web client: `web/` embedded in the binary (nothing to build or fetch at
//! run time). `/` and `/invite/<code>` serve the page; `/assets/<path>` its files;
//! `/api/docs` the page that renders the OpenAPI document.
//! `RTCHAT_WEB_DIR` serves a folder from disk instead, for working on the client
//! without rebuilding the server.

use std::borrow::Cow;
use std::path::{Component, Path, PathBuf};

use http::StatusCode;
use http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, HeaderValue, IF_NONE_MATCH};
use rust_embed::Embed;
use sha2::{Digest, Sha256};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::response;
use crate::error::Error;

#[derive(Embed)]
#[folder = "web/"]
struct Embedded;

/// Scripts, styles and connections only from this origin; no framing.
const POLICY: &str = "default-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; \
                      frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub fn routes() -> BoxedFilter<(Response,)> {
    let page = warp::path::end()
        .or(warp::path!("invite" / String).map(|_code: String| ()).untuple_one())
        .unify()
        .and(get_or_head())
        .and(if_none_match())
        .map(|etag: Option<String>| serve("index.html", etag.as_deref()));
    let assets = warp::path("assets").and(warp::path::tail()).and(get_or_head()).and(if_none_match()).map(
        |tail: warp::path::Tail, etag: Option<String>| serve(&format!("assets/{}", tail.as_str()), etag.as_deref()),
    );
    let docs = warp::path!("api" / "docs")
        .and(get_or_head())
        .and(if_none_match())
        .map(|etag: Option<String>| serve("api-docs.html", etag.as_deref()));
    page.or(docs).unify().or(assets).unify().boxed()
}

/// HEAD answers as GET without the body (hyper drops it): `curl -I`, link checkers.
fn get_or_head() -> impl Filter<Extract = (), Error = warp::Rejection> + Clone {
    warp::get().or(warp::head()).unify()
}

fn if_none_match() -> impl Filter<Extract = (Option<String>,), Error = std::convert::Infallible> + Clone {
    warp::header::optional::<String>(IF_NONE_MATCH.as_str()).or(warp::any().map(|| None)).unify()
}

/// The file's bytes with its type and an ETag; 304 when the client has them.
fn serve(path: &str, if_none_match: Option<&str>) -> Response {
    let Some((bytes, mime)) = load(path) else {
        return response::error(&Error::not_found("Route not found"));
    };
    let etag = format!("\"{}\"", hex::encode(&Sha256::digest(&bytes)[..16]));
    let mut response = if if_none_match.is_some_and(|given| given.split(',').any(|tag| tag.trim() == etag)) {
        let mut response = Response::new(Vec::new().into());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else {
        Response::new(bytes.into_owned().into())
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&mime) {
        headers.insert(CONTENT_TYPE, value);
    }
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(ETAG, value);
    }
    // Names carry no hash, so every use revalidates (a 304 when unchanged).
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    response
}

fn load(path: &str) -> Option<(Cow<'static, [u8]>, String)> {
    let mime = mime_for(path);
    match std::env::var_os("RTCHAT_WEB_DIR") {
        Some(dir) => {
            let file = inside(Path::new(&dir), path)?;
            std::fs::read(file).ok().map(|bytes| (Cow::Owned(bytes), mime))
        }
        None => Embedded::get(path).map(|file| (file.data, mime)),
    }
}

/// `path` under `dir`, refusing anything that would climb out of it.
fn inside(dir: &Path, path: &str) -> Option<PathBuf> {
    let relative = Path::new(path);
    relative.components().all(|c| matches!(c, Component::Normal(_))).then(|| dir.join(relative))
}

fn mime_for(path: &str) -> String {
    let guessed = mime_guess::from_path(path).first_or_octet_stream();
    match guessed.type_() {
        mime_guess::mime::TEXT | mime_guess::mime::APPLICATION
            if guessed.get_param("charset").is_none() && guessed.subtype() != "octet-stream" =>
        {
            format!("{guessed}; charset=utf-8")
        }
        _ => guessed.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_never_leave_the_folder() {
        let dir = Path::new("/srv/web");
        assert_eq!(inside(dir, "assets/app.js"), Some(PathBuf::from("/srv/web/assets/app.js")));
        assert_eq!(inside(dir, "assets/../../etc/passwd"), None);
        assert_eq!(inside(dir, "/etc/passwd"), None);
    }

    #[test]
    fn text_types_say_their_charset() {
        assert_eq!(mime_for("index.html"), "text/html; charset=utf-8");
        assert_eq!(mime_for("assets/app.js"), "text/javascript; charset=utf-8");
        assert_eq!(mime_for("assets/logo.png"), "image/png");
    }
}
