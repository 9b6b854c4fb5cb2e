//! A minimal Socket.IO v5 client over engine.io v4, WebSocket transport
//! only: just what the benchmark needs, with as little work per frame as
//! possible so that the generator is not the bottleneck.
//!
//! The wire format (text frames):
//!
//! * engine.io: `0{..}` open, `2` ping (answered with `3`), `1` close,
//!   `4…` message (the Socket.IO packet follows);
//! * Socket.IO (after the `4`): `0{auth}` connect, `0{"sid":..}` connected,
//!   `4{..}` connect error, `1` disconnect, `2[name,..]` event, `2N[name,..]`
//!   event that wants ack `N`, `3N[..]` the ack.

use std::time::Duration;

use std::net::{IpAddr, SocketAddr};

use anyhow::{Context, anyhow, bail};
use futures::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// How the access token travels on the upgrade request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenVia {
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// `Cookie: accessToken=<token>` (what a browser sends).
    Cookie,
}

/// One connected, authenticated Socket.IO client.
pub struct Conn {
    ws: WebSocketStream<TcpStream>,
}

/// A frame as the benchmark sees it.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// engine.io ping: answer with [`Conn::pong`].
    Ping,
    /// An event: its name and the raw JSON after the name (`,{..}]`).
    Event { name: &'a str, rest: &'a str },
    /// An ack: its id and the raw JSON array of arguments.
    Ack { id: u64, args: &'a str },
    /// The server disconnected this socket (Socket.IO `41` or engine.io `1`).
    Disconnect,
    /// Anything else (noop, upgrade probes, binary).
    Other,
}

/// Parses one text frame without allocating.
pub fn parse(text: &str) -> Frame<'_> {
    let bytes = text.as_bytes();
    match bytes.first() {
        Some(b'2') if bytes.len() == 1 => Frame::Ping,
        Some(b'1') => Frame::Disconnect,
        Some(b'4') => match bytes.get(1) {
            Some(b'2') => {
                // 42[ "name" , ...   or   42N["name",...] (server-to-client
                // events with acks are not used by the contract's flows here).
                let body = &text[2..];
                let start = match body.find('[') {
                    Some(i) => i,
                    None => return Frame::Other,
                };
                let after = &body[start + 1..];
                let Some(rest) = after.strip_prefix('"') else {
                    return Frame::Other;
                };
                match rest.find('"') {
                    Some(end) => Frame::Event {
                        name: &rest[..end],
                        rest: &rest[end + 1..],
                    },
                    None => Frame::Other,
                }
            }
            Some(b'3') => {
                let body = &text[2..];
                let digits = body.bytes().take_while(u8::is_ascii_digit).count();
                match body[..digits].parse() {
                    Ok(id) => Frame::Ack {
                        id,
                        args: &body[digits..],
                    },
                    Err(_) => Frame::Other,
                }
            }
            Some(b'1') => Frame::Disconnect,
            _ => Frame::Other,
        },
        _ => Frame::Other,
    }
}

/// The string value of `"key":"` in `json`, found by a plain substring
/// search (the benchmark's own markers never need unescaping).
pub fn find_str<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let at = json.find(key)? + key.len();
    let rest = &json[at..];
    let end = rest.find('"')?;
    Some(&rest[..end])
}

/// Where to connect and how to authenticate.
#[derive(Debug, Clone)]
pub struct Target {
    /// `host:port`.
    pub addr: String,
    pub token_via: TokenVia,
    /// Local addresses the clients connect from, in turn (`--source-addresses`):
    /// one loopback address has one ephemeral port range (about 28,000 ports)
    /// towards the server, so 100,000 sockets need several. Empty: the kernel
    /// picks, as for any client.
    pub sources: Vec<IpAddr>,
}

impl Target {
    /// The source address of client `index` (`None`: the kernel's choice).
    pub fn source(&self, index: usize) -> Option<IpAddr> {
        (!self.sources.is_empty()).then(|| self.sources[index % self.sources.len()])
    }
}

/// `IP_BIND_ADDRESS_NO_PORT` (linux/in.h): bind the address now, pick the port
/// at `connect`, so a port is shared by connections to different peers
/// instead of being reserved at `bind` from the whole ephemeral range.
const IP_BIND_ADDRESS_NO_PORT: libc::c_int = 24;

/// A TCP connection to `addr`, from `source` when given.
pub async fn tcp_connect(addr: &str, source: Option<IpAddr>) -> anyhow::Result<TcpStream> {
    let Some(source) = source else {
        return Ok(TcpStream::connect(addr).await?);
    };
    let peer: SocketAddr = tokio::net::lookup_host(addr)
        .await?
        .next()
        .with_context(|| format!("no address for {addr}"))?;
    let socket = if peer.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    {
        use std::os::fd::AsRawFd;
        let on: libc::c_int = 1;
        // SAFETY: setsockopt on a socket we own, with a c_int option value.
        unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::IPPROTO_IP,
                IP_BIND_ADDRESS_NO_PORT,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
    socket.bind(SocketAddr::new(source, 0))?;
    Ok(socket.connect(peer).await?)
}

impl Conn {
    /// Opens the WebSocket, completes the Socket.IO connect with the
    /// handshake `auth` object, and waits for the `authenticated` event.
    /// Events that arrive before it (presence of others, the offline queue)
    /// are skipped.
    pub async fn connect(target: &Target, token: &str, profileid: &str) -> anyhow::Result<Conn> {
        Self::connect_from(target, None, token, profileid).await
    }

    /// [`Conn::connect`] from a given local address.
    pub async fn connect_from(
        target: &Target,
        source: Option<IpAddr>,
        token: &str,
        profileid: &str,
    ) -> anyhow::Result<Conn> {
        let mut conn = Self::open_engineio(target, source, token).await?;
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        conn.send(format!(
            r#"40{{"profileid":"{profileid}","timestamp":{now_ms}}}"#
        ))
        .await?;
        loop {
            let text = conn
                .next_text()
                .await?
                .context("closed during the Socket.IO connect")?;
            if text.starts_with("44") {
                bail!("connect_error: {text:.200}");
            }
            match parse(&text) {
                Frame::Ping => conn.pong().await?,
                Frame::Event {
                    name: "authenticated",
                    ..
                } => return Ok(conn),
                Frame::Event {
                    name: "auth_error",
                    rest,
                } => bail!("auth_error{rest:.200}"),
                Frame::Disconnect => bail!("disconnected during the handshake: {text:.200}"),
                _ => {}
            }
        }
    }

    /// An engine.io session over WebSocket, up to its open packet, with no
    /// Socket.IO connect yet (the idle scenario's `--stage engineio`).
    pub async fn open_engineio(
        target: &Target,
        source: Option<IpAddr>,
        token: &str,
    ) -> anyhow::Result<Conn> {
        let tcp = tcp_connect(&target.addr, source)
            .await
            .with_context(|| format!("connecting to {}", target.addr))?;
        tcp.set_nodelay(true)?;
        let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", target.addr);
        let mut request = url.into_client_request()?;
        let (name, value) = match target.token_via {
            TokenVia::Bearer => ("authorization", format!("Bearer {token}")),
            TokenVia::Cookie => ("cookie", format!("accessToken={token}")),
        };
        request
            .headers_mut()
            .insert(name, HeaderValue::from_str(&value)?);
        // Small buffers: the generator holds thousands of these.
        let config = WebSocketConfig::default()
            .read_buffer_size(16 * 1024)
            .write_buffer_size(0)
            .max_write_buffer_size(16 * 1024 * 1024);
        let (ws, _) = tokio_tungstenite::client_async_with_config(request, tcp, Some(config))
            .await
            .context("WebSocket upgrade")?;
        let mut conn = Conn { ws };

        let open = conn.next_text().await?.context("closed before open")?;
        if !open.starts_with('0') {
            bail!("expected the engine.io open packet, got {open:.80}");
        }
        Ok(conn)
    }

    /// The next text frame, or `None` when the connection closed.
    pub async fn next_text(&mut self) -> anyhow::Result<Option<Utf8Bytes>> {
        loop {
            match self.ws.next().await {
                None => return Ok(None),
                Some(Err(error)) => return Err(anyhow!(error)),
                Some(Ok(Message::Text(text))) => return Ok(Some(text)),
                Some(Ok(Message::Close(_))) => return Ok(None),
                Some(Ok(_)) => {}
            }
        }
    }

    /// Sends one text frame.
    pub async fn send(&mut self, text: String) -> anyhow::Result<()> {
        self.ws.send(Message::text(text)).await?;
        Ok(())
    }

    /// Answers an engine.io ping.
    pub async fn pong(&mut self) -> anyhow::Result<()> {
        self.ws.send(Message::text("3")).await?;
        Ok(())
    }

    /// Closes politely (Socket.IO disconnect, then the WebSocket), without
    /// waiting long for the server.
    pub async fn close(mut self) {
        let _ = self.ws.send(Message::text("41")).await;
        let _ = tokio::time::timeout(Duration::from_secs(1), self.ws.close(None)).await;
    }
}

/// The `pong` answering the contract's application-level `ping` event
/// (`rest` is what follows the event name: `,<millis>]`).
pub fn pong(rest: &str) -> String {
    let millis = rest.trim_start_matches(',').trim_end_matches(']').trim();
    event("pong", millis, None)
}

/// `42["event",payload]`, or `42N["event",payload]` when `ack` is given.
pub fn event(name: &str, payload: &str, ack: Option<u64>) -> String {
    let mut out = String::with_capacity(payload.len() + name.len() + 16);
    out.push_str("42");
    if let Some(id) = ack {
        out.push_str(&id.to_string());
    }
    out.push_str("[\"");
    out.push_str(name);
    out.push_str("\",");
    out.push_str(payload);
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_parse() {
        assert_eq!(parse("2"), Frame::Ping);
        assert_eq!(
            parse(r#"42["new_message",{"a":1}]"#),
            Frame::Event {
                name: "new_message",
                rest: r#",{"a":1}]"#
            }
        );
        assert_eq!(
            parse(r#"4317[{"success":true}]"#),
            Frame::Ack {
                id: 17,
                args: r#"[{"success":true}]"#
            }
        );
        assert_eq!(parse("41"), Frame::Disconnect);
        assert_eq!(parse("40{\"sid\":\"x\"}"), Frame::Other);
        assert_eq!(
            find_str(
                r#"{"clientMessageId":"lsb.1.2","x":1}"#,
                r#""clientMessageId":""#
            ),
            Some("lsb.1.2")
        );
        assert_eq!(event("a", "{}", Some(3)), r#"423["a",{}]"#);
        assert_eq!(event("a", "{}", None), r#"42["a",{}]"#);
        assert_eq!(pong(",1764384000000]"), r#"42["pong",1764384000000]"#);
    }
}
