//! `GET /demo`: the showcase of `@lockstep/client` (chats with names,
//! typing, delivery and read ticks, presence, reactions, a WebRTC call),
//! embedded in the binary so that `lockstep serve` alone serves it.
//!
//! The page lives in `demo/` at the repository root: `index.html` by hand,
//! `dist/` built from the TypeScript in `demo/src` (and the client package
//! it runs on) by `node demo/build.mjs` (checked in; a JavaScript test fails
//! when it is stale). `dist/assets.rs`, written by the same build, lists
//! every file of `dist/` that is served.
//!
//! In development mode only, `/demo?as=alice` and `/demo?as=bob` sign in
//! without a token: the server mints one for that demo user, makes sure
//! the two demo users share a chat, and redirects to the page with the
//! token in the address's fragment (never sent to a server, never logged).
//! Outside development mode the shortcut does not exist: `?as=` is 404.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Duration;
use sha2::{Digest, Sha256};
use socketioxide::adapter::Adapter;

use crate::auth::Claims;
use crate::state::App;
use crate::store::{ChatType, NewChat, Profile};

const INDEX_HTML: &str = include_str!("../../demo/index.html");

/// `(file name under /demo/, contents)` of every built asset.
const ASSETS: &[(&str, &str)] = include!("../../demo/dist/assets.rs");

/// The demo's routes.
pub fn routes<A: Adapter>() -> Router<Arc<App<A>>> {
    Router::new()
        .route("/demo", get(index::<A>))
        .route("/demo/", get(index::<A>))
        .route("/demo/{*file}", get(asset_file))
}

/// The people the development-mode shortcut signs in as:
/// `(name in ?as=, display name)`. The name is also the profile id, so the
/// links read `/demo?as=alice`; the display name is also the username.
pub const DEMO_USERS: [(&str, &str); 2] = [("alice", "Alice"), ("bob", "Bob")];

/// How long a token minted by the shortcut lasts: a working day of demos.
const DEMO_TOKEN_TTL_HOURS: i64 = 12;

/// The development-mode links the start-up line prints, one per demo user.
pub fn dev_links(base: &str) -> Vec<String> {
    DEMO_USERS
        .iter()
        .map(|(name, _)| format!("{base}{}?as={name}", crate::about::DEMO_PATH))
        .collect()
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

async fn index<A: Adapter>(
    State(app): State<Arc<App<A>>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    match query.get("as") {
        None => page(),
        Some(_) if !app.config.dev_mode => (
            StatusCode::NOT_FOUND,
            "signing in with ?as= exists only in development mode\n",
        )
            .into_response(),
        Some(name) => sign_in_as(&app, name).await,
    }
}

/// The development-mode shortcut: signs in as the demo user `name`.
async fn sign_in_as<A: Adapter>(app: &App<A>, name: &str) -> Response {
    let Some(&(name, _)) = DEMO_USERS.iter().find(|(known, _)| *known == name) else {
        let known: Vec<&str> = DEMO_USERS.iter().map(|(name, _)| *name).collect();
        return (
            StatusCode::NOT_FOUND,
            format!(
                "no demo user by that name: use ?as={}\n",
                known.join(" or ?as=")
            ),
        )
            .into_response();
    };
    match prepare_demo(app, name).await {
        Ok(token) => {
            // The fragment stays in the browser: the page reads it, keeps
            // the token for this tab, and removes it from the address.
            let location = format!(
                "{}#as={name}&profileid={name}&token={token}",
                crate::about::DEMO_PATH
            );
            let mut response = StatusCode::SEE_OTHER.into_response();
            let headers = response.headers_mut();
            if let Ok(location) = HeaderValue::from_str(&location) {
                headers.insert(header::LOCATION, location);
            }
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            );
            response
        }
        Err(error) => {
            tracing::warn!(%error, "could not prepare the demo users");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the demo users could not be prepared; see the server log\n",
            )
                .into_response()
        }
    }
}

/// Stores both demo users' profiles (so each sees the other's name before
/// they ever connected), makes sure they share a direct chat (through the
/// store, as `POST /api/chats` does; a second call finds the same chat), and
/// mints an access token for `name`.
async fn prepare_demo<A: Adapter>(app: &App<A>, name: &str) -> anyhow::Result<String> {
    let now = crate::session::now();
    for (profileid, displayname) in DEMO_USERS {
        app.store
            .upsert_profile(&Profile {
                profileid: profileid.to_owned(),
                user_id: profileid.to_owned(),
                username: displayname.to_owned(),
                displayname: Some(displayname.to_owned()),
                avatar: None,
                email: None,
                updated_at: now,
            })
            .await?;
    }
    let [(first, _), (second, _)] = DEMO_USERS;
    app.store
        .create_chat(&NewChat {
            creator: first.to_owned(),
            chat_type: ChatType::Direct,
            chat_name: None,
            participants: vec![second.to_owned()],
            created_at: now,
        })
        .await?;
    let displayname = DEMO_USERS
        .iter()
        .find(|(known, _)| *known == name)
        .map_or(name, |(_, displayname)| *displayname)
        .to_owned();
    let issued_at = u64::try_from(now.timestamp())?;
    let expires_at = u64::try_from((now + Duration::hours(DEMO_TOKEN_TTL_HOURS)).timestamp())?;
    let claims = Claims {
        sub: name.to_owned(),
        profileid: name.to_owned(),
        // The display name: payloads that carry only the username
        // (`user_typing`, `user_joined_chat`) then read "Alice is typing".
        username: displayname.clone(),
        exp: expires_at,
        iat: Some(issued_at),
        nbf: None,
        email: None,
        displayname: Some(displayname),
        avatar: None,
        permissions: None,
        typ: None,
    };
    Ok(app.verifier.mint(&claims)?)
}

fn page() -> Response {
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

async fn asset_file(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _)| *name == file) {
        Some((name, body)) => asset(content_type(name), body),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn content_type(name: &str) -> &'static str {
    if name.ends_with(".js") {
        "text/javascript; charset=utf-8"
    } else if name.ends_with(".css") {
        "text/css; charset=utf-8"
    } else {
        "text/plain; charset=utf-8"
    }
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
        assert!(scripts[0].contains("@lockstep/client"));
        assert!(CSP.contains("'sha256-"), "{}", *CSP);
    }

    #[test]
    fn the_page_loads_the_embedded_bundle() {
        assert!(INDEX_HTML.contains(r#"src="/demo/main.js""#));
        let served = |name: &str| {
            ASSETS
                .iter()
                .find(|(file, _)| *file == name)
                .map(|(_, body)| *body)
        };
        assert!(served("main.js").is_some_and(|js| js.contains("lockstepDemo")));
        assert!(served("socket.io.esm.min.js").is_some_and(|js| js.contains("Socket.IO v4")));
        for (name, _) in ASSETS {
            assert!(!name.contains(".."), "{name}");
        }
    }

    #[test]
    fn every_demo_user_has_a_link() {
        assert_eq!(
            dev_links("http://127.0.0.1:3000"),
            [
                "http://127.0.0.1:3000/demo?as=alice",
                "http://127.0.0.1:3000/demo?as=bob"
            ]
        );
    }

    #[tokio::test]
    async fn assets_are_served_with_their_types() {
        let page = page();
        assert_eq!(
            page.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        assert!(page.headers().contains_key(header::CONTENT_SECURITY_POLICY));
        let script = asset_file(Path("main.js".to_owned())).await;
        assert_eq!(
            script.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        let missing = asset_file(Path("nothing.js".to_owned())).await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    }
}
