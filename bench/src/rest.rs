//! Just enough HTTP/1.1 for `POST /api/chats`: one request per connection,
//! `Connection: close`, the body read to the end.

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends a JSON `POST` with a bearer token; returns the status and body.
pub async fn post_json(
    addr: &str,
    path: &str,
    token: &str,
    body: &str,
) -> anyhow::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let response = String::from_utf8(response).context("a non-UTF-8 response")?;
    let Some((head, body)) = response.split_once("\r\n\r\n") else {
        bail!("a malformed HTTP response");
    };
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no HTTP status")?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_owned()
    };
    Ok((status, body))
}

fn dechunk(mut body: &str) -> anyhow::Result<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").context("a malformed chunk")?;
        let size = usize::from_str_radix(size.trim(), 16).context("a malformed chunk size")?;
        if size == 0 {
            return Ok(out);
        }
        out.push_str(rest.get(..size).context("a short chunk")?);
        body = rest.get(size + 2..).context("a short chunk")?;
    }
}

/// Creates a chat as `token`'s user with `participants`; returns its id.
pub async fn create_chat(
    addr: &str,
    token: &str,
    chat_type: &str,
    name: &str,
    participants: &[String],
) -> anyhow::Result<String> {
    let body = serde_json::json!({
        "chatType": chat_type,
        "chatName": name,
        "participants": participants,
    })
    .to_string();
    let (status, response) = post_json(addr, "/api/chats", token, &body).await?;
    if status != 201 && status != 200 {
        bail!("POST /api/chats answered {status}: {response:.200}");
    }
    let value: serde_json::Value =
        serde_json::from_str(&response).context("POST /api/chats: not JSON")?;
    value["chatid"]
        .as_str()
        .map(str::to_owned)
        .context("POST /api/chats: no chatid in the answer")
}
