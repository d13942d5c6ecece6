//! Live numbers pushed by the server as server-sent events.
//!
//! The browser's `EventSource` reconnects on its own after a dropped connection; the page only
//! has to say so while it is down. On the server this renders nothing live: the first numbers
//! come with the page, and the stream takes over once the wasm has loaded.

use leptos::prelude::*;
use serde::de::DeserializeOwned;

/// The latest value received from the event stream at `url`, and whether the stream is up.
pub fn use_live<T>(url: String) -> (ReadSignal<Option<T>>, ReadSignal<bool>)
where
    T: DeserializeOwned + Send + Sync + 'static,
{
    let (latest, set_latest) = signal(None::<T>);
    let (connected, set_connected) = signal(true);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| subscribe(&url, set_latest, set_connected));
    #[cfg(not(feature = "hydrate"))]
    let _ = (url, set_latest, set_connected);
    (latest, connected)
}

#[cfg(feature = "hydrate")]
fn subscribe<T>(url: &str, set_latest: WriteSignal<Option<T>>, set_connected: WriteSignal<bool>)
where
    T: DeserializeOwned + Send + Sync + 'static,
{
    use wasm_bindgen::{JsCast, closure::Closure};
    let Ok(source) = web_sys::EventSource::new(url) else {
        set_connected.set(false);
        return;
    };
    let on_message =
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
            let parsed = event
                .data()
                .as_string()
                .and_then(|text| serde_json::from_str::<T>(&text).ok());
            if let Some(value) = parsed {
                set_latest.set(Some(value));
                set_connected.set(true);
            }
        });
    let on_open = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| set_connected.set(true));
    let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| set_connected.set(false));
    source.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    // The handlers live as long as the source; the page closes the source when it goes away.
    on_message.forget();
    on_open.forget();
    on_error.forget();
    let source = StoredValue::new_local(source);
    on_cleanup(move || source.with_value(|source| source.close()));
}
