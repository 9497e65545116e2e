//! Where data comes from: the server's socket ([`socket`], reconnecting with
//! [`backoff`], its frames read by [`decode`]), a one-second [`clock`], the store over HTTP ([`http`]), and in
//! dev builds the [`mock`] as one more source of each. The live sources report
//! [`Event`]s; [`crate::state`] turns them into what the components show.

pub mod backoff;
pub mod clock;
pub mod decode;
pub mod http;
#[cfg(debug_assertions)]
pub mod mock;
pub mod socket;

use futures::channel::oneshot;
use futures::future::{join, select};
use shared::{PerfMetrics, ServerMsg};

/// Something a source saw.
// One event at a time, consumed at once: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Event {
    /// A socket is being opened.
    Connecting,
    /// A message arrived at the given time (ms since the epoch).
    Message(ServerMsg, f64),
    /// The socket closed or failed; a retry follows.
    Dropped,
    /// The server closed with a 4xxx code and this reason; no retry follows.
    Refused(String),
    /// The clock ticked (ms since the epoch).
    Tick(f64),
    /// A mock sample, shown only while no live data is there.
    Mock(PerfMetrics),
}

/// The running sources of one project; dropping it stops them all and closes
/// the socket.
#[derive(Debug)]
pub struct Sources {
    _cancel: oneshot::Sender<()>,
}

/// Starts every source for `project` on this page, reporting to `emit`.
pub fn start(project: &str, emit: impl Fn(Event) + Clone + 'static) -> Sources {
    let (cancel, cancelled) = oneshot::channel::<()>();
    let target = socket::page_target(project);
    let project = project.to_owned();
    yew::platform::spawn_local(async move {
        let from_socket = {
            let emit = emit.clone();
            async move {
                if let Some((url, token)) = target {
                    socket::run(url, token, emit).await;
                }
            }
        };
        let sources = Box::pin(join(from_socket, clock::run(project, emit)));
        let _ = select(sources, cancelled).await;
    });
    Sources { _cancel: cancel }
}
