//! `use_poll`: an answer of the HTTP API asked for at once and again every
//! so often, for what changes on the server while the page is open (alerts,
//! deliveries). A new answer renders only when it differs from the last; a
//! failed ask after a good one keeps the good one shown (the connection
//! banner says when the server is gone). New inputs start over.

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use yew::prelude::*;

use super::Load;
use crate::stream::http::FetchError;

/// Fetches `fetch(deps)` now and every `every`, for as long as the
/// component is mounted and `deps` stay the same.
#[hook]
pub fn use_poll<D, T, F, Fut>(deps: D, every: Duration, fetch: F) -> Load<T>
where
    D: PartialEq + Clone + 'static,
    T: PartialEq + 'static,
    F: Fn(D) -> Fut + 'static,
    Fut: Future<Output = Result<T, FetchError>> + 'static,
{
    let state = use_state(|| Load::Loading);
    // Moves on with every new `deps` and at unmount: a loop of older inputs
    // sees it moved and ends, without setting anything.
    let generation = use_memo((), |_| Cell::new(0u64));
    {
        let state = state.clone();
        let generation = Rc::clone(&generation);
        use_effect_with(deps, move |deps| {
            let this = generation.get() + 1;
            generation.set(this);
            if this > 1 {
                state.set(Load::Loading); // New inputs: the old answer is not theirs.
            }
            let (deps, current) = (deps.clone(), Rc::clone(&generation));
            yew::platform::spawn_local(async move {
                let mut last: Option<Rc<T>> = None;
                loop {
                    let answer = fetch(deps.clone()).await;
                    if current.get() != this {
                        return;
                    }
                    match answer {
                        Ok(value) if last.as_deref() != Some(&value) => {
                            let value = Rc::new(value);
                            last = Some(Rc::clone(&value));
                            state.set(Load::Ready(value));
                        }
                        Ok(_) => {}
                        Err(err) if last.is_none() => state.set(Load::Failed(err)),
                        Err(_) => {}
                    }
                    yew::platform::time::sleep(every).await;
                    if current.get() != this {
                        return;
                    }
                }
            });
            move || generation.set(generation.get() + 1)
        });
    }
    (*state).clone()
}
