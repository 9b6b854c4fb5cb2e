//! `GET /demo`: a small browser client of the contract (sign in with a dev
//! token, chats, messages, a WebRTC video call), embedded in the binary so
//! that `lockstep serve` alone serves it.
//!
//! The page lives in `demo/` at the repository root: `index.html` by hand,
//! `dist/` built from the TypeScript in `demo/src` by `node demo/build.mjs`
//! (checked in; a JavaScript test fails when it is stale).

use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};
use socketioxide::adapter::Adapter;

use crate::app::App;

const INDEX_HTML: &str = include_str!("../../demo/index.html");
const MAIN_JS: &str = include_str!("../../demo/dist/main.js");
const SOCKET_IO_JS: &str = include_str!("../../demo/dist/socket.io.esm.min.js");

/// The demo's routes.
pub fn routes<A: Adapter>() -> Router<Arc<App<A>>> {
    Router::new()
        .route("/demo", get(index))
        .route("/demo/", get(index))
        .route("/demo/main.js", get(main_js))
        .route("/demo/socket.io.esm.min.js", get(socket_io_js))
}

/// The page's Content-Security-Policy: its own scripts, the inline import
/// map by hash, sockets and REST to this origin, the camera's streams.
static CSP: LazyLock<String> = LazyLock::new(|| {
    let hashes: String = inline_scripts(INDEX_HTML)
        .map(|script| {
            let digest = Sha256::digest(script.as_bytes());
            format!(" 'sha256-{}'", base64(&digest))
        })
        .collect();
    format!(
        "default-src 'self'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; media-src 'self' blob: mediastream:; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
});

async fn index() -> Response {
    let mut response = asset("text/html; charset=utf-8", INDEX_HTML);
    let headers = response.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&CSP) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    // `?token=` may be in the address: never send it elsewhere.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

async fn main_js() -> Response {
    asset("text/javascript; charset=utf-8", MAIN_JS)
}

async fn socket_io_js() -> Response {
    asset("text/javascript; charset=utf-8", SOCKET_IO_JS)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// The contents of the inline `<script>` elements of `html` (those without
/// `src`), exactly as the browser hashes them.
fn inline_scripts(html: &str) -> impl Iterator<Item = &str> {
    html.split("<script").skip(1).filter_map(|rest| {
        let (attributes, body) = rest.split_once('>')?;
        if attributes.contains("src=") {
            return None;
        }
        body.split_once("</script>").map(|(script, _)| script)
    })
}

/// Standard base64 with padding, as CSP hashes are written.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn the_import_map_is_allowed_by_hash() {
        let scripts: Vec<&str> = inline_scripts(INDEX_HTML).collect();
        assert_eq!(
            scripts.len(),
            1,
            "index.html has one inline script, the import map"
        );
        assert!(scripts[0].contains("socket.io-client"));
        assert!(CSP.contains("'sha256-"), "{}", *CSP);
    }

    #[test]
    fn the_page_loads_the_embedded_bundle() {
        assert!(INDEX_HTML.contains(r#"src="/demo/main.js""#));
        assert!(INDEX_HTML.contains("/demo/socket.io.esm.min.js"));
        assert!(MAIN_JS.contains("from 'socket.io-client'"));
        assert!(SOCKET_IO_JS.contains("Socket.IO v4"));
    }

    #[tokio::test]
    async fn assets_are_served_with_their_types() {
        let page = index().await;
        assert_eq!(
            page.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        assert!(page.headers().contains_key(header::CONTENT_SECURITY_POLICY));
        let script = main_js().await;
        assert_eq!(
            script.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
    }
}
