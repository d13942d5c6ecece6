//! Admin pages render their content only for a signed-in admin; anyone else gets the sign-in
//! form in its place. (The server functions behind the content check again on their own.)
//!
//! A page creates the resources its content reads *before* the gate, never inside it. While
//! rendering on the server, Leptos may build the gate's content more than once (it walks the
//! children again once the sign-in check resolves), so a resource created in there is registered
//! twice. Each registration takes the next number from the page's counter, and the browser, which
//! builds the content once, then reads the server's value of a *different* registration: the
//! first one, whose owner was already gone when it ran. The page failed to hydrate whenever that
//! stale value was not the one on screen.

use crate::api::current_admin;
use crate::pages::admin_login::SignInForm;
use crate::use_lang;
use leptos::prelude::*;

/// Shows `children` to a signed-in admin, and the sign-in form to anyone else.
#[component]
pub fn AdminGate(children: ChildrenFn) -> impl IntoView {
    let t = use_lang().texts();
    let admin = Resource::new(|| (), |_| current_admin());
    let children = StoredValue::new(children);
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match admin.await {
                    Ok(Some(email)) => view! {
                        <div class="admin-bar">
                            <span>{email}</span>
                            <SignOutButton/>
                        </div>
                        {children.read_value()()}
                    }
                        .into_any(),
                    _ => view! {
                        <section class="panel narrow">
                            <h1>{t.admin_sign_in}</h1>
                            <p class="notice" role="status">{t.sign_in_required}</p>
                            <SignInForm reload=true/>
                        </section>
                    }
                        .into_any(),
                }
            })}
        </Suspense>
    }
}

/// Ends the session and goes back to the sign-in page.
#[component]
fn SignOutButton() -> impl IntoView {
    let t = use_lang().texts();
    let sign_out = ServerAction::<crate::api::SignOut>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = sign_out.value().get() {
            reload_page("/admin/login");
        }
    });
    view! {
        <ActionForm action=sign_out>
            <button type="submit" class="link">{t.sign_out}</button>
        </ActionForm>
    }
}

/// Loads `path` afresh in the browser (so that every resource sees the new session).
pub fn reload_page(path: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        let _ = window.location().assign(path);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
}
