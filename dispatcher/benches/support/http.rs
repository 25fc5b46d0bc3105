//! A minimal keep-alive HTTP/1.1 client for the benchmarks (hyper, one connection per task).

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

pub type Sender = http1::SendRequest<Full<Bytes>>;

/// Opens one connection (TCP_NODELAY) and drives it in the background.
pub async fn connect(addr: SocketAddr) -> Sender {
    let stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (sender, conn) = http1::handshake(TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender
}

/// POSTs a JSON body; returns (status was 2xx, response body).
pub async fn post_json(sender: &mut Sender, path: &str, auth: Option<&str>, body: Bytes) -> (bool, Bytes) {
    let mut req = Request::post(path)
        .header(HOST, "127.0.0.1")
        .header(CONTENT_TYPE, "application/json");
    if let Some(a) = auth {
        req = req.header(AUTHORIZATION, a);
    }
    let req = req.body(Full::new(body)).expect("request");
    if sender.ready().await.is_err() {
        return (false, Bytes::from_static(b"connection closed"));
    }
    match sender.send_request(req).await {
        Ok(resp) => {
            let ok = resp.status().is_success();
            let body = resp
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            (ok, body)
        }
        Err(e) => (false, Bytes::from(e.to_string())),
    }
}
