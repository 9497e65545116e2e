//! `use_fetch`: an answer of the HTTP API for the current inputs, fetched
//! again whenever they change; an answer to inputs that changed meanwhile is
//! dropped, so a slow request never overwrites a newer one.

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;

use yew::prelude::*;

use crate::stream::http::FetchError;

/// Where a fetch is.
#[derive(Debug)]
pub enum Load<T> {
    /// Asked, not answered yet.
    Loading,
    /// The answer.
    Ready(Rc<T>),
    /// No answer to show, and why.
    Failed(FetchError),
}

// By hand: derived impls would ask `T` for `Clone` and `PartialEq`, which an
// answer held in an `Rc` needs neither of.
impl<T> Clone for Load<T> {
    fn clone(&self) -> Self {
        match self {
            Load::Loading => Load::Loading,
            Load::Ready(value) => Load::Ready(value.clone()),
            Load::Failed(err) => Load::Failed(err.clone()),
        }
    }
}

impl<T> PartialEq for Load<T> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Load::Loading, Load::Loading) => true,
            (Load::Ready(a), Load::Ready(b)) => Rc::ptr_eq(a, b),
            (Load::Failed(a), Load::Failed(b)) => a == b,
            _ => false,
        }
    }
}

/// Fetches `fetch(deps)` for every new `deps`.
#[hook]
pub fn use_fetch<D, T, F, Fut>(deps: D, fetch: F) -> Load<T>
where
    D: PartialEq + Clone + 'static,
    T: 'static,
    F: Fn(D) -> Fut + 'static,
    Fut: Future<Output = Result<T, FetchError>> + 'static,
{
    let state = use_state(|| Load::Loading);
    let generation = use_memo((), |_| Cell::new(0u64));
    {
        let state = state.clone();
        use_effect_with(deps, move |deps| {
            let this = generation.get() + 1;
            generation.set(this);
            let request = fetch(deps.clone());
            yew::platform::spawn_local(async move {
                let answer = request.await;
                if generation.get() == this {
                    state.set(match answer {
                        Ok(value) => Load::Ready(Rc::new(value)),
                        Err(err) => Load::Failed(err),
                    });
                }
            });
        });
    }
    (*state).clone()
}
