//! Live numbers pushed by the server as server-sent events.
//!
//! The browser's `EventSource` reconnects on its own after a dropped connection, but gives up for
//! good on an HTTP error answer; then a new one is opened, with growing pauses. The page says
//! while the stream is down and when it is live again. On the server this renders nothing live:
//! the first numbers come with the page, and the stream takes over once the wasm has loaded.

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
    // Only the parsing is generic: the stream's own code is in the wasm bundle once.
    let on_text = Box::new(move |text: String| match serde_json::from_str::<T>(&text) {
        Ok(value) => {
            set_latest.set(Some(value));
            true
        }
        Err(_) => false,
    });
    let live = std::rc::Rc::new(reconnecting::Live {
        url: url.to_owned(),
        on_text,
        set_connected,
        current: Default::default(),
        failures: Default::default(),
        gone: Default::default(),
    });
    reconnecting::open(live.clone());
    let live = StoredValue::new_local(live);
    on_cleanup(move || live.with_value(|live| live.close()));
}

/// An `EventSource` that is opened again, with growing pauses, whenever the browser gives up on
/// it. The browser retries a dropped connection by itself, but not an HTTP error answer (a
/// 502 during a deploy, a 503 while PostgreSQL is down): that closes the source for good.
#[cfg(feature = "hydrate")]
mod reconnecting {
    use leptos::prelude::*;
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;
    use std::time::Duration;
    use wasm_bindgen::{JsCast, closure::Closure};
    use web_sys::{Event, EventSource, MessageEvent};

    /// The longest pause between two attempts.
    const MOST_PAUSE: Duration = Duration::from_secs(30);

    pub struct Live {
        pub url: String,
        /// Takes a message's text; whether it was a value.
        pub on_text: Box<dyn Fn(String) -> bool>,
        pub set_connected: WriteSignal<bool>,
        /// The open source and its handlers (dropped with it).
        pub current: RefCell<Option<Opened>>,
        /// Attempts that failed since the last success: the next pause doubles with each.
        pub failures: Cell<u32>,
        /// The page went away: open nothing more.
        pub gone: Cell<bool>,
    }

    /// A source's message, open and error handlers, kept as long as it is.
    type Handlers = (
        Closure<dyn FnMut(MessageEvent)>,
        Closure<dyn FnMut(Event)>,
        Closure<dyn FnMut(Event)>,
    );

    pub struct Opened {
        source: EventSource,
        _handlers: Handlers,
    }

    impl Live {
        pub fn close(&self) {
            self.gone.set(true);
            if let Some(opened) = self.current.borrow_mut().take() {
                opened.source.close();
            }
        }

        fn live_again(&self) {
            self.failures.set(0);
            self.set_connected.set(true);
        }
    }

    pub fn open(live: Rc<Live>) {
        if live.gone.get() {
            return;
        }
        let Ok(source) = EventSource::new(&live.url) else {
            retry_later(live);
            return;
        };
        let on_message = {
            let live = live.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                if event
                    .data()
                    .as_string()
                    .is_some_and(|text| (live.on_text)(text))
                {
                    live.live_again();
                }
            })
        };
        let on_open = {
            let live = live.clone();
            Closure::<dyn FnMut(Event)>::new(move |_| live.live_again())
        };
        let on_error = {
            let live = live.clone();
            let source = source.clone();
            Closure::<dyn FnMut(Event)>::new(move |_| {
                live.set_connected.set(false);
                if source.ready_state() == EventSource::CLOSED {
                    retry_later(live.clone());
                }
            })
        };
        source.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        let opened = Opened {
            source,
            _handlers: (on_message, on_open, on_error),
        };
        if let Some(previous) = live.current.borrow_mut().replace(opened) {
            previous.source.close();
        }
    }

    fn retry_later(live: Rc<Live>) {
        let failures = live.failures.get().saturating_add(1);
        live.failures.set(failures);
        let pause = Duration::from_secs(1u64 << failures.min(5).saturating_sub(1)).min(MOST_PAUSE);
        // Drops the handlers of the source that gave up only after this call returns: one of
        // them is running now.
        let closed = live.current.borrow_mut().take();
        set_timeout(
            move || {
                drop(closed);
                open(live);
            },
            pause,
        );
    }
}
