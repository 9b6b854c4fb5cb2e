//! Scenario 5: catch-up. A reader misses messages across many chats (one
//! sender per chat, so the senders' rate limits do not pace the setup),
//! then reconnects and calls `sync` from position 0 in every chat, paging
//! with `limit` while a chat has more. Each round is a fresh connection
//! that syncs everything again: time from the `sync` emit to the first
//! message (the first ack) and to the last (the last ack).

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::Common;
use crate::proto::{self, Conn, Frame};
use crate::stats::{Latency, Window, round3};

/// Pause between two rounds, outside the timed part: keeps one user's
/// `sync`s well under the contract's rate limit.
const ROUND_PAUSE: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, clap::Args)]
pub struct CatchupOpts {
    /// Chats the reader takes part in, each with its own sender.
    #[arg(long, default_value_t = 20)]
    pub chats: usize,
    /// Messages sent into each chat while the reader is away.
    #[arg(long, default_value_t = 50)]
    pub per_chat: usize,
    /// `sync`'s `limit` (messages per chat per call).
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// Reconnect-and-sync rounds measured.
    #[arg(long, default_value_t = 20)]
    pub rounds: usize,
}

/// One chat's answer in a sync ack: (chatid, last seq, messages, hasMore).
fn chats_of(args: &str) -> anyhow::Result<Vec<(String, i64, usize, bool)>> {
    let value: Value = serde_json::from_str(args).context("sync ack is not JSON")?;
    let ack = &value[0];
    if ack["success"] != json!(true) {
        bail!("sync refused: {ack}");
    }
    let mut chats = Vec::new();
    for chat in ack["chats"].as_array().into_iter().flatten() {
        let messages = chat["messages"].as_array().map(Vec::len).unwrap_or(0);
        let last = chat["messages"]
            .as_array()
            .and_then(|m| m.last())
            .and_then(|m| m["seq"].as_i64())
            .unwrap_or(0);
        chats.push((
            chat["chatid"].as_str().unwrap_or_default().to_owned(),
            last,
            messages,
            chat["hasMore"] == json!(true),
        ));
    }
    Ok(chats)
}

/// Sends `payload` as `event` with ack `id` and waits for that ack,
/// answering pings meanwhile; returns the ack's arguments.
async fn call(conn: &mut Conn, event: &str, payload: &str, id: u64) -> anyhow::Result<String> {
    conn.send(proto::event(event, payload, Some(id))).await?;
    loop {
        let Some(text) = tokio::time::timeout(Duration::from_secs(30), conn.next_text())
            .await
            .context("no ack within 30 s")??
        else {
            bail!("connection closed while waiting for an ack");
        };
        match proto::parse(&text) {
            Frame::Ping => conn.pong().await?,
            Frame::Ack { id: got, args } if got == id => return Ok(args.to_owned()),
            Frame::Disconnect => bail!("disconnected while waiting for an ack"),
            _ => {}
        }
    }
}

pub async fn catchup(common: &Common, opts: &CatchupOpts) -> anyhow::Result<Value> {
    let reader = common.user(0);
    let senders: Vec<String> = (1..=opts.chats).map(|i| common.user(i)).collect();
    let reader_token = common.minter.token(&reader);
    let sender_tokens: Vec<String> = senders.iter().map(|s| common.minter.token(s)).collect();
    let mut chatids = Vec::with_capacity(opts.chats);
    for (i, token) in sender_tokens.iter().enumerate() {
        chatids.push(
            crate::rest::create_chat(
                &common.target.addr,
                token,
                "group",
                &format!("catchup {i}"),
                std::slice::from_ref(&reader),
            )
            .await?,
        );
    }

    // The reader is away: every sender fills its chat (10 per second each,
    // the contract's rate limit; retried with the same clientMessageId).
    let setup = Instant::now();
    let conns = crate::connect_all(common, &senders, &sender_tokens).await?;
    let mut tasks = Vec::new();
    for ((mut conn, chatid), sender) in conns.into_iter().zip(chatids.clone()).zip(senders.clone())
    {
        let per_chat = opts.per_chat;
        tasks.push(tokio::spawn(async move {
            for n in 0..per_chat {
                let payload = json!({
                    "chatid": chatid,
                    "clientMessageId": format!("{sender}-{n}"),
                    "messageType": "text",
                    "content": format!("catch-up message {n}"),
                })
                .to_string();
                loop {
                    let args = call(&mut conn, "send_message", &payload, n as u64).await?;
                    if args.contains("\"success\":true") {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            conn.close().await;
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let missed = opts.chats * opts.per_chat;
    eprintln!(
        "  {missed} messages sent in {:.1}s",
        setup.elapsed().as_secs_f64()
    );

    let first = Latency::default();
    let last = Latency::default();
    let window = Window::start(common.server_pid);
    for round in 0..opts.rounds {
        let mut conn = Conn::connect(&common.target, &reader_token, &reader).await?;
        let started = Instant::now();
        let mut positions: Vec<(String, i64)> = Vec::new();
        let mut received = 0;
        let mut id = 0;
        loop {
            let payload = json!({
                "positions": positions
                    .iter()
                    .map(|(chatid, seq)| json!({ "chatid": chatid, "seq": seq }))
                    .collect::<Vec<_>>(),
                "limit": opts.limit,
            })
            .to_string();
            let args = call(&mut conn, "sync", &payload, id).await?;
            id += 1;
            let chats = chats_of(&args)?;
            if id == 1 {
                first.record(started.elapsed().as_micros() as u64);
            }
            let mut more = false;
            for (chatid, seq, count, has_more) in chats {
                received += count;
                more |= has_more;
                match positions.iter_mut().find(|(c, _)| *c == chatid) {
                    Some(position) => position.1 = seq,
                    None => positions.push((chatid, seq)),
                }
            }
            if !more {
                break;
            }
        }
        last.record(started.elapsed().as_micros() as u64);
        if received != missed {
            bail!("round {round}: sync returned {received} messages, {missed} were sent");
        }
        conn.close().await;
        // Every round is the same user, and `sync` is rate-limited per user
        // (10 a second in the contract): a fast round would be refused.
        tokio::time::sleep(ROUND_PAUSE).await;
    }
    Ok(json!({
        "scenario": "catchup",
        "chats": opts.chats,
        "missed": missed,
        "limit": opts.limit,
        "rounds": opts.rounds,
        "time_to_first_message_ms": first.summary(),
        "time_to_last_message_ms": last.summary(),
        "target_p95_ms": 1000,
        "window": window.finish(),
        "seconds": round3(setup.elapsed().as_secs_f64()),
    }))
}
