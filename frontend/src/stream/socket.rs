//! The project's stream over a WebSocket to the page's own host (`wss://` under
//! `https://`): every frame decoded as a [`shared::ServerMsg`] (tag first:
//! [`super::decode`]), reconnecting with backoff
//! when the socket drops — except after a 4xxx close, where the server said why
//! and retrying would not help.

use futures::StreamExt;
use gloo_net::websocket::futures::WebSocket;
use gloo_net::websocket::{Message, WebSocketError};

use super::Event;
use super::backoff::{FIRST_BACKOFF, next_backoff};

/// The WebSocket URL of `project` on the server that served the page at
/// `protocol` (`http:` or `https:`) and `host`.
pub fn stream_url(protocol: &str, host: &str, project: &str) -> String {
    let scheme = if protocol == "https:" { "wss" } else { "ws" };
    format!("{scheme}://{host}{}", shared::stream_path(&String::from(js_sys::encode_uri_component(project))))
}

/// The subprotocols a client offers: `perfmon`, and the token as
/// `perfmon.token.<TOKEN>` — browsers cannot set an Authorization header on a
/// WebSocket, and a subprotocol keeps the token out of URLs and server logs.
pub fn protocols(token: Option<&str>) -> Vec<String> {
    let mut offered = vec![shared::SUBPROTOCOL.to_owned()];
    if let Some(token) = token {
        offered.push(format!("{}{token}", shared::TOKEN_SUBPROTOCOL_PREFIX));
    }
    offered
}

/// Where to connect for `project` from this page, and the page URL's `?token=`.
pub fn page_target(project: &str) -> Option<(String, Option<String>)> {
    let location = web_sys::window()?.location();
    let url = stream_url(&location.protocol().ok()?, &location.host().ok()?, project);
    let search = location.search().ok()?;
    let token = web_sys::UrlSearchParams::new_with_str(&search).ok()?.get("token").filter(|t| !t.is_empty());
    Some((url, token))
}

/// Streams from `url` until refused, emitting what happens.
pub async fn run(url: String, token: Option<String>, emit: impl Fn(Event)) {
    let offered = protocols(token.as_deref());
    let mut backoff = FIRST_BACKOFF;
    loop {
        emit(Event::Connecting);
        if let Ok(socket) = WebSocket::open_with_protocols(&url, &offered) {
            let (_sink, mut frames) = socket.split();
            while let Some(frame) = frames.next().await {
                let text = match frame {
                    Ok(Message::Text(text)) => text,
                    Ok(Message::Bytes(_)) => continue,
                    Err(WebSocketError::ConnectionClose(close)) if shared::close::is_final(close.code) => {
                        let reason = if close.reason.is_empty() {
                            format!("the server refused the stream (code {})", close.code)
                        } else {
                            close.reason
                        };
                        emit(Event::Refused(reason));
                        return;
                    }
                    Err(_) => break,
                };
                match super::decode::decode(&text) {
                    Ok(msg) => {
                        backoff = FIRST_BACKOFF;
                        emit(Event::Message(msg, js_sys::Date::now()));
                    }
                    // A newer server may send messages this build does not know.
                    Err(err) => {
                        web_sys::console::warn_1(&format!("PerfMon: undecodable message: {err}").into())
                    }
                }
            }
        }
        emit(Event::Dropped);
        yew::platform::time::sleep(backoff).await;
        backoff = next_backoff(backoff);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_travels_as_a_subprotocol() {
        assert_eq!(protocols(None), ["perfmon"]);
        assert_eq!(protocols(Some("abc.def")), ["perfmon", "perfmon.token.abc.def"]);
    }
}
