//! A websocket client for the live feed, as a unit app or a console would write it.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A connected feed client.
#[derive(Debug)]
pub struct FeedClient {
    pub socket: Socket,
}

impl FeedClient {
    /// Connects and says hello; returns the client and the server's first answer (welcome or error).
    pub async fn connect(base_url: &str, token: &str, topics: &[&str], last_seq: Option<i64>) -> (FeedClient, Value) {
        let url = format!("{}/ws", base_url.replacen("http://", "ws://", 1));
        let (socket, _) = tokio_tungstenite::connect_async(url).await.expect("websocket connects");
        let mut client = FeedClient { socket };
        client
            .send(json!({"type": "hello", "token": token, "topics": topics, "last_seq": last_seq}))
            .await;
        let first = client.next().await.expect("an answer to hello");
        (client, first)
    }

    pub async fn send(&mut self, v: Value) {
        self.socket
            .send(Message::Text(v.to_string().into()))
            .await
            .expect("send");
    }

    /// The next JSON message (answering pings), or `None` when closed or after 10 s.
    pub async fn next(&mut self) -> Option<Value> {
        self.next_within(Duration::from_secs(10)).await
    }

    pub async fn next_within(&mut self, limit: Duration) -> Option<Value> {
        loop {
            let msg = tokio::time::timeout(limit, self.socket.next()).await.ok()??.ok()?;
            match msg {
                Message::Text(t) => {
                    let v: Value = serde_json::from_str(&t).expect("server sends JSON");
                    if v["type"] == "ping" {
                        self.send(json!({"type": "pong"})).await;
                        continue;
                    }
                    return Some(v);
                }
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    /// Reads until an `event` message arrives (skipping snapshots and acks).
    pub async fn next_event(&mut self) -> Option<Value> {
        loop {
            let v = self.next().await?;
            if v["type"] == "event" {
                return Some(v);
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
    }
}
