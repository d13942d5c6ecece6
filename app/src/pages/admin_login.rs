//! `/admin/login`: the marketer's sign-in.

use crate::api::AdminSignIn;
use crate::components::admin_gate::reload_page;
use crate::use_lang;
use leptos::prelude::*;

/// The sign-in page.
#[component]
pub fn AdminLoginPage() -> impl IntoView {
    let t = use_lang().texts();
    view! {
        <section class="panel narrow">
            <h1>{t.admin_sign_in}</h1>
            <SignInForm reload=false/>
        </section>
    }
}

/// Email and password. After a successful sign-in the browser goes to the campaign list, or
/// (with `reload`) reloads the admin page it is on.
#[component]
pub fn SignInForm(reload: bool) -> impl IntoView {
    let t = use_lang().texts();
    let sign_in = ServerAction::<AdminSignIn>::new();
    let refused = move || matches!(sign_in.value().get(), Some(Ok(false)));
    Effect::new(move |_| {
        if let Some(Ok(true)) = sign_in.value().get() {
            #[cfg(feature = "hydrate")]
            let here = web_sys::window()
                .and_then(|w| w.location().pathname().ok())
                .unwrap_or_else(|| "/admin".into());
            #[cfg(not(feature = "hydrate"))]
            let here = String::from("/admin");
            reload_page(if reload { &here } else { "/admin" });
        }
    });
    view! {
        <ActionForm action=sign_in attr:class="form">
            <div class="field">
                <label for="email">{t.email}</label>
                <input id="email" name="email" type="email" autocomplete="username" required/>
            </div>
            <div class="field">
                <label for="password">{t.password}</label>
                <input id="password" name="password" type="password" autocomplete="current-password" required/>
            </div>
            <p class="error" role="alert">{move || refused().then_some(t.wrong_credentials)}</p>
            <button type="submit" class="primary" disabled=move || sign_in.pending().get()>{t.sign_in}</button>
        </ActionForm>
    }
}
